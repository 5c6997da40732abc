"""Where the project's files are: the one place code locates the configs and the project root.

Run from a source checkout, the root is the checkout and the configs are its `conf/`. Installed as
a package (`pip install .`), the configs ship inside it (`sandwich/conf`) and the root is the
working directory, so results and logs are written there, never into site-packages.
`conf/paths/default.yaml` names every location from the root (data, checkpoints, results, logs;
SANDWICH_DATA and SANDWICH_CHECKPOINTS move the first two); the entry points export PROJECT_ROOT
so that config resolves it.
"""

from __future__ import annotations

import os
from importlib.resources import files
from pathlib import Path

_SOURCE = Path(__file__).resolve().parents[2]
_IN_CHECKOUT = (_SOURCE / "pyproject.toml").is_file() and (_SOURCE / "conf").is_dir()
CONF_DIR = _SOURCE / "conf" if _IN_CHECKOUT else Path(str(files("sandwich") / "conf"))
PROJECT_ROOT = Path(os.environ.get("PROJECT_ROOT") or (_SOURCE if _IN_CHECKOUT else Path.cwd()))
# conf/paths/default.yaml reads it, as lightning-hydra-template's configs read theirs
os.environ.setdefault("PROJECT_ROOT", str(PROJECT_ROOT))
