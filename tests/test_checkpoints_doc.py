"""docs/checkpoints.md's file table is generated from the shipped files (make checkpoints-doc)."""

from __future__ import annotations

import subprocess
import sys

from sandwich.core.paths import PROJECT_ROOT


def test_the_checkpoint_table_matches_the_shipped_files():
    done = subprocess.run([sys.executable, "scripts/checkpoints_doc.py", "--check"], cwd=PROJECT_ROOT, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr

