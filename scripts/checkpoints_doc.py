"""Regenerates the provenance table in docs/checkpoints.md (between its BEGIN/END markers) from the shipped
files' own metadata, i.e. the output of `python -m sandwich.export --table checkpoints`; the rest of the
page is written by hand. Usage: python scripts/checkpoints_doc.py [--check]   (--check: exit 1 if stale)"""

import sys

from sandwich.core.paths import PROJECT_ROOT
from sandwich.export import table as checkpoint_table

DOC = PROJECT_ROOT / "docs" / "checkpoints.md"
BEGIN, END = "<!-- BEGIN generated: make checkpoints-doc -->", "<!-- END generated -->"

table = checkpoint_table(PROJECT_ROOT / "checkpoints")
text = DOC.read_text()
head, rest = text.split(BEGIN, 1)
_, tail = rest.split(END, 1)
new = f"{head}{BEGIN}\n{table}\n{END}{tail}"
if "--check" in sys.argv[1:]:
    sys.exit(0 if new == text else f"{DOC.relative_to(PROJECT_ROOT)} is stale: run `make checkpoints-doc`")
DOC.write_text(new)
print(f"{DOC.relative_to(PROJECT_ROOT)}: {table.count(chr(10)) - 1} files")
