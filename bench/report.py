"""docs/BENCHMARKS.md, written by the benchmarks: the machine they ran on, and their sections.

`make bench` (bench/run.py) writes the header, above the ``<!-- notes -->`` marker, and keeps
everything below it; each other benchmark (engine, audit store, sweeps) writes its own section
between its two markers, after the notes marker the first time, in place afterwards, leaving the
rest of the file as it was.
"""

from __future__ import annotations

import os
import platform
import sys
from datetime import date
from pathlib import Path

REPORT = Path(__file__).resolve().parent.parent / "docs" / "BENCHMARKS.md"
NOTES = "<!-- notes -->"


def machine() -> str:
    """The CPU, cores, memory, kernel and Python of this machine, as one line."""
    cpuinfo, meminfo = Path("/proc/cpuinfo"), Path("/proc/meminfo")
    cpu = next((line.split(":", 1)[1].strip() for line in cpuinfo.read_text().splitlines()
                if line.startswith("model name")), platform.processor()) if cpuinfo.exists() else platform.processor()
    mem = next((int(line.split()[1]) // 1024 for line in meminfo.read_text().splitlines()
                if line.startswith("MemTotal")), 0) if meminfo.exists() else 0
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return f"{cpu}, {cores} cores, {mem:,} MB RAM, {platform.system()} {platform.release()}, Python {platform.python_version()}"


def ran(command: str, extra: str = "") -> str:
    """The line that says which command ran, when, and where (``extra``: appended to the machine)."""
    return f"`{command}` on {date.today().isoformat()}: {machine()}{extra}."


def write_header(text: str) -> None:
    """Replace what is above the notes marker (the file's title and `make bench`'s figures)."""
    current = REPORT.read_text() if REPORT.exists() else ""
    notes = current.split(NOTES, 1)[1] if NOTES in current else "\n"
    REPORT.parent.mkdir(exist_ok=True)
    REPORT.write_text(text.rstrip("\n") + "\n\n" + NOTES + notes)
    print(f"\nwritten: {REPORT}", file=sys.stderr)


def write_section(name: str, text: str) -> None:
    """Put ``text`` between the markers ``<!-- name -->`` and ``<!-- /name -->``."""
    start, end = f"<!-- {name} -->", f"<!-- /{name} -->"
    section = f"{start}\n{text.strip(chr(10))}\n{end}"
    current = REPORT.read_text() if REPORT.exists() else f"# Benchmarks\n\n{NOTES}\n"
    if start in current and end in current:
        head, rest = current.split(start, 1)
        current = head + section + rest.split(end, 1)[1]
    else:
        if NOTES not in current:
            current = current.rstrip("\n") + f"\n\n{NOTES}\n"
        current = current.rstrip("\n") + "\n\n" + section + "\n"
    REPORT.parent.mkdir(exist_ok=True)
    REPORT.write_text(current)
    print(f"\nwritten: {REPORT}", file=sys.stderr)
