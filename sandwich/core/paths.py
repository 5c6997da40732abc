"""Where the project's files are: the one place code locates the project root.

Shipped checkpoint paths in `conf/method/*.yaml` are relative to the root, and so is `conf/`.
`conf/paths/default.yaml` names every other location (data, results, logs) for the commands;
the entry points export PROJECT_ROOT so that config resolves it.
"""

from __future__ import annotations

import os
from pathlib import Path

PROJECT_ROOT = Path(os.environ.get("PROJECT_ROOT") or Path(__file__).resolve().parents[2])
CONF_DIR = PROJECT_ROOT / "conf"
# conf/paths/default.yaml reads it, as lightning-hydra-template's configs read theirs
os.environ.setdefault("PROJECT_ROOT", str(PROJECT_ROOT))
