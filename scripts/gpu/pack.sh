#!/usr/bin/env bash
# Packs what a GPU stage of scripts/train_shipped.sh (sr_gpu) takes to a rented device machine into .dev/
# (git-ignored, carried): the SR train images as lossless WebP (pixel-identical, checked; the PNGs would not
# fit the 64 MiB that travels), the start checkpoints as committed at COMMIT, xz'd, and the pure-Python
# packages that machine lacks (hydra, omegaconf, antlr4) plus a stand-in for imagecodecs (12-bit JPEG only;
# training never calls it). The device has no git history: scripts/gpu/unpack.py puts the start files where
# train_shipped.sh would extract them (logs/init/COMMIT/sandwich_sr/), and the script then uses them as they are.
# Usage: bash scripts/gpu/pack.sh COMMIT LAMBDA...   (sr_gpu: 5e8dd17 400 150 50), then run, on the device,
# with carry=[".dev"]:
#   export PYTHONPATH=$PWD/.dev/site; python3 .dev/unpack.py /tmp/data && SANDWICH_DATA=/tmp/data PY=python3 \
#     OUT=$OUT bash scripts/train_shipped.sh sr_gpu
# (the working tree travels too: move the tracked checkpoints and results/ aside for the call if it would
# not fit in 64 MiB, and back after).
set -euo pipefail
cd "$(dirname "$0")/../.."
(( $# >= 2 )) || { echo "usage: $0 COMMIT LAMBDA..." >&2; exit 2; }
commit=$1
shift
grep -qx '/.dev/' .git/info/exclude 2>/dev/null || echo '/.dev/' >> .git/info/exclude
data=${SANDWICH_DATA:-../shared/data}/sr/train
rm -rf .dev/init
mkdir -p .dev/data/sr/train .dev/init/$commit/sandwich_sr .dev/site
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
for lmbda in "$@"; do
  git show "$commit:checkpoints/sandwich_sr/lambda_$lmbda.pt" | xz -9 -c > .dev/init/$commit/sandwich_sr/lambda_$lmbda.pt.xz
done
site=$(.venv/bin/python -c 'import hydra, os; print(os.path.dirname(os.path.dirname(hydra.__file__)))')
cp -r "$site"/{hydra,omegaconf,antlr4} .dev/site/ && rm -rf .dev/site/hydra/test_utils
find .dev/site -name __pycache__ -prune -exec rm -rf {} +
cp scripts/gpu/imagecodecs_stub.py .dev/site/imagecodecs.py
cp scripts/gpu/unpack.py .dev/unpack.py
du -sb .dev
