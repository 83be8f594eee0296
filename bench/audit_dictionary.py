"""Write advisor/audit/dictionary.py: the zlib preset dictionary of the audit store.

Run it from the repository with the installed advisor (`.venv/bin/python bench/audit_dictionary.py`)
when the shape of a decision changes a lot. The dictionary is the shipped scenarios' decisions as
the store keeps them (without their input), ids blanked, the last 32 KB (all deflate can use).
Every store keeps its own copy of each dictionary it used, so changing it never makes an old
record unreadable; it only makes new records smaller or larger.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
ADVISOR = str(Path(sys.executable).with_name("advisor"))
WINDOW = 32 * 1024


def main() -> int:
    sys.path.insert(0, str(REPO))
    from advisor.audit.codec import decision_body, json_text

    out = subprocess.run([ADVISOR, "run", "scenarios", "--format", "json", "--no-audit"],  # sources as relative paths
                         capture_output=True, text=True, check=True, cwd=REPO).stdout
    bodies = []
    for decision in json.loads(out)["decisions"]:
        text = json_text(decision)
        body, _ = decision_body(text, json_text(decision["input"]), json_text(decision["facts"]))
        bodies.append(re.sub(rb'"decision_id": "[0-9a-f-]{36}"', b'"decision_id": ""', body))
    data = b"".join(bodies)[-WINDOW:].decode("utf-8", "ignore")
    lines = [data[i:i + 96] for i in range(0, len(data), 96)]
    module = REPO / "advisor" / "audit" / "dictionary.py"
    module.write_text(
        '"""The preset dictionary the audit store compresses decisions with (zlib), made by\n'
        "bench/audit_dictionary.py from the shipped scenarios' decisions. Generated: do not edit by hand.\n\n"
        "A store keeps a copy of every dictionary its records use (table ``dictionaries``), so this may\n"
        'change between versions without making any stored record unreadable.\n"""\n\n'
        "DICTIONARY = (\n" + "".join(f"    {json.dumps(line, ensure_ascii=False)}\n" for line in lines) + ').encode("utf-8")\n')
    print(f"written: {module} ({len(data.encode())} bytes)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
