"""Device-machine setup (checkpoints/gpu/pack.sh packs .dev/): the SR train images, carried as
lossless WebP (pixel-identical to the shared PNGs; the JPEGs as they are), back into
DATA/sr/train as PNG and JPEG under their own names (so the seeded validation carve is the same),
and the xz'd start checkpoints back into checkpoints/sandwich_sr/ (session 12's runs: the files
committed at 5e8dd17), printing each file's SHA-256."""

import hashlib
import lzma
import shutil
import sys
from pathlib import Path

from PIL import Image

dest = Path(sys.argv[1]) / "sr" / "train"
dest.mkdir(parents=True, exist_ok=True)
for f in sorted(Path(".dev/data/sr/train").iterdir()):
    if f.suffix == ".webp":
        with Image.open(f) as image:
            image.convert("RGB").save(dest / (f.stem + ".png"), compress_level=1)
    else:
        shutil.copy(f, dest / f.name)
print(len(list(dest.iterdir())), "train images in", dest)
ckpt = Path("checkpoints/sandwich_sr")
ckpt.mkdir(parents=True, exist_ok=True)
for f in sorted(Path(".dev/init").glob("*.xz")):
    data = lzma.decompress(f.read_bytes())
    (ckpt / f.stem).write_bytes(data)
    print(ckpt / f.stem, hashlib.sha256(data).hexdigest()[:16])
