"""Evaluate one method: `python -m sandwich.eval method=NAME data.root=DIR output_dir=OUT`.

Thin Hydra entry point: composes the method, runs it over the images (sandwich.evaluation.runner),
writes OUT/NAME.json and logs the run.
"""

from __future__ import annotations

import hydra
from omegaconf import DictConfig

from sandwich.core.paths import CONF_DIR
from sandwich.evaluation.runner import run


@hydra.main(config_path=str(CONF_DIR), config_name="eval", version_base="1.3")
def main(cfg: DictConfig) -> None:
    print(f"wrote {run(cfg)}")


if __name__ == "__main__":
    main()
