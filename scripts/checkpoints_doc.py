"""Regenerates the provenance table in docs/checkpoints.md (between its BEGIN/END markers) from the shipped
files' own metadata, i.e. the output of `python -m sandwich.export --table checkpoints`; the rest of the
page is written by hand. Usage: python scripts/checkpoints_doc.py [--check]   (--check: exit 1 if stale)"""

import subprocess
import sys

from sandwich.core.paths import PROJECT_ROOT

DOC = PROJECT_ROOT / "docs" / "checkpoints.md"
BEGIN, END = "<!-- BEGIN generated: make checkpoints-doc -->", "<!-- END generated -->"

table = subprocess.run(
    [sys.executable, "-m", "sandwich.export", "--table", "checkpoints"], cwd=PROJECT_ROOT, check=True, capture_output=True, text=True
).stdout.strip()
text = DOC.read_text()
head, rest = text.split(BEGIN, 1)
_, tail = rest.split(END, 1)
new = f"{head}{BEGIN}\n{table}\n{END}{tail}"
if "--check" in sys.argv[1:]:
    sys.exit(0 if new == text else f"{DOC.relative_to(PROJECT_ROOT)} is stale: run `make checkpoints-doc`")
DOC.write_text(new)
print(f"{DOC.relative_to(PROJECT_ROOT)}: {table.count(chr(10)) - 1} files")
