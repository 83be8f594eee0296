"""`advisor ask`'s first question on screen before the advisor is loaded.

Loading the advisor (pydantic, the catalogs, the rules, the engine) takes about half a second
here, and the first question needs only the models' names. So the first question as a session
last showed it (its field, text, help, choices and default) is kept in the user's cache
directory beside a digest of what it is made from (the advisor's version, the questions' source,
every catalog file); the next session shows it at once and loads the advisor in a background
thread while it waits for the answer. A cache that is missing, unreadable, malformed or made
from anything else is ignored (the session loads first, as without one); its text is data,
shown as the prompts show any text, and an answer the loaded catalog does not offer is asked
again.
What a user gives (--from, --save, --rules) is checked before the first question, so such a
session loads first too.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Optional

from .. import __version__, resources

CACHE_NAME = "first-question.json"
CACHE_FORMAT = 1
_MAX_BYTES = 1 << 20  # a cache file larger than this is not ours
_MAX_CHOICES = 1000


@dataclass(frozen=True)
class FirstQuestion:
    """The first question as shown: a select of ``choices`` ((value, label) pairs)."""

    name: str
    message: str
    help: str
    choices: tuple
    default: str

    def to_json(self) -> dict:
        return {"name": self.name, "message": self.message, "help": self.help, "choices": [list(c) for c in self.choices],
                "default": self.default}


def cache_file() -> Optional[Path]:
    """$XDG_CACHE_HOME/advisor/first-question.json (~/.cache when unset or not absolute, as XDG says)."""
    base = os.environ.get("XDG_CACHE_HOME", "")
    if not os.path.isabs(base):
        try:
            base = str(Path.home() / ".cache")
        except RuntimeError:  # no home directory
            return None
    return Path(base) / "advisor" / CACHE_NAME


#: Where the first question's text is written (its choices come from the catalogs).
_QUESTIONS_SOURCE = Path(__file__).resolve().parent.parent / "scenario" / "questions.py"


@functools.lru_cache(maxsize=1)
def catalog_digest() -> str:
    """SHA-256 of the advisor's version, of the questions' source and of every catalog file, by
    name and content: whatever the first question is made from."""
    digest = hashlib.sha256(f"advisor {__version__}\0".encode())
    digest.update(_QUESTIONS_SOURCE.read_bytes() + b"\0")
    root = resources.catalog_dir()
    for path in resources.catalog_files():
        digest.update(path.relative_to(root).as_posix().encode() + b"\0")
        digest.update(path.read_bytes() + b"\0")
    return digest.hexdigest()


def cached() -> Optional[FirstQuestion]:
    """The first question kept for these catalogs, or None."""
    path = cache_file()
    if path is None:
        return None
    try:
        with open(path, "rb") as stream:
            raw = stream.read(_MAX_BYTES + 1)
        if len(raw) > _MAX_BYTES:
            return None
        return parse(json.loads(raw), catalog_digest())
    except (OSError, ValueError, RecursionError):
        return None


def parse(data, digest: str) -> Optional[FirstQuestion]:
    """A FirstQuestion from a cache file's data when every field has its type and the digest
    matches, else None."""
    if not (isinstance(data, dict) and data.get("format") == CACHE_FORMAT and data.get("digest") == digest):
        return None
    question = data.get("question")
    if not isinstance(question, dict):
        return None
    texts = [question.get(key) for key in ("name", "message", "help", "default")]
    choices = question.get("choices")
    if not all(isinstance(t, str) for t in texts) or not isinstance(choices, list) or not 0 < len(choices) <= _MAX_CHOICES:
        return None
    if not all(isinstance(c, list) and len(c) == 2 and all(isinstance(part, str) for part in c) for c in choices):
        return None
    name, message, help_, default = texts
    if default not in [value for value, _ in choices]:
        return None
    return FirstQuestion(name, message, help_, tuple((value, label) for value, label in choices), default)


def remember(question: FirstQuestion) -> None:
    """Keep ``question`` for the next session (unless kept already); a cache that cannot be
    written is no error."""
    path = cache_file()
    if path is None or cached() == question:
        return
    try:
        text = json.dumps({"format": CACHE_FORMAT, "digest": catalog_digest(), "question": question.to_json()})
    except OSError:  # a catalog file went away since the advisor read it
        return
    temporary = path.with_name(f".{CACHE_NAME}.{os.getpid()}")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary.write_text(text, encoding="utf-8")
        os.replace(temporary, path)
    except OSError:
        try:
            temporary.unlink()
        except OSError:
            pass


class Loading:
    """``build()`` in a background thread, started by ``start``; ``result`` waits for it and
    returns its value, or raises what it raised, in the calling thread (and builds there if it
    was never started). It builds once."""

    def __init__(self, build: Callable[[], object]):
        self._build = build
        self._thread: Optional[threading.Thread] = None
        self._outcome: Optional[tuple[bool, object]] = None  # (built, the value or what it raised)

    def start(self) -> None:
        if self._thread is None and self._outcome is None:
            self._thread = threading.Thread(target=self._run, name="advisor-loading", daemon=True)
            self._thread.start()

    def _run(self) -> None:
        try:
            self._outcome = (True, self._build())
        except BaseException as exc:  # handed to the thread that waits for the result
            self._outcome = (False, exc)

    def result(self):
        if self._thread is not None:
            self._thread.join()
        elif self._outcome is None:
            self._outcome = (True, self._build())  # what it raises here propagates as it is
        built, value = self._outcome
        if not built:
            raise value
        return value
