#!/usr/bin/env bash
# Packs what a session-12 GPU run (train.sh sr_gpu, sr_gpu2) took to the device machine into .dev/ (git-ignored,
# carried): the SR train images as lossless WebP (pixel-identical, checked; the PNGs would not fit the 64 MiB
# that travels), the start checkpoints xz'd, and the pure-Python packages that machine lacks (hydra, omegaconf,
# antlr4) plus a stand-in for imagecodecs (12-bit JPEG only; training never calls it).
# Usage: bash checkpoints/gpu/pack.sh LAMBDA...   (e.g. 400 150), then run, on the device, with carry=[".dev"]:
#   export PYTHONPATH=$PWD/.dev/site; python3 .dev/unpack.py /tmp/data && SANDWICH_DATA=/tmp/data PY=python3 \
#     SR_GPU_INIT_DIR=checkpoints/sandwich_sr SR_GPU_OUT=$OUT bash checkpoints/train.sh sr_gpu
# (the other tracked checkpoints and results/ were moved aside for the call, to fit the working tree in 64 MiB).
set -euo pipefail
cd "$(dirname "$0")/../.."
grep -qx '/.dev/' .git/info/exclude 2>/dev/null || echo '/.dev/' >> .git/info/exclude
data=${SANDWICH_DATA:-../shared/data}/sr/train
mkdir -p .dev/data/sr/train .dev/init .dev/site
.venv/bin/python - "$data" <<'PY'
import sys
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
import numpy as np
from PIL import Image

def pack(source: Path) -> None:
    out = Path(".dev/data/sr/train") / (source.stem + ".webp")
    with Image.open(source) as image:
        image.save(out, lossless=True, quality=100, method=6)
        assert np.array_equal(np.asarray(Image.open(out).convert("RGB")), np.asarray(image.convert("RGB"))), source

with ProcessPoolExecutor() as pool:
    list(pool.map(pack, sorted(Path(sys.argv[1]).glob("*.png"))))
PY
cp "$data"/*.jpg .dev/data/sr/train/
rm -f .dev/init/*.xz
for lmbda in "$@"; do xz -9 -c checkpoints/sandwich_sr/lambda_$lmbda.pt > .dev/init/lambda_$lmbda.pt.xz; done
site=$(.venv/bin/python -c 'import hydra, os; print(os.path.dirname(os.path.dirname(hydra.__file__)))')
cp -r "$site"/{hydra,omegaconf,antlr4} .dev/site/ && rm -rf .dev/site/hydra/test_utils
find .dev/site -name __pycache__ -prune -exec rm -rf {} +
cp checkpoints/gpu/imagecodecs_stub.py .dev/site/imagecodecs.py
cp checkpoints/gpu/unpack.py .dev/unpack.py
du -sb .dev
