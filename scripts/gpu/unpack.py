"""Device-machine setup (scripts/gpu/pack.sh packs .dev/; run from the repository root): the SR train
images, carried as lossless WebP (pixel-identical to the shared PNGs; the JPEGs as they are), back into
DATA/sr/train as PNG and JPEG under their own names (so the seeded validation carve is the same), and the
xz'd start checkpoints back into logs/init/COMMIT/... (where scripts/train_shipped.sh looks for a committed
file before asking git, which the device lacks), printing each file's SHA-256.
Usage: python3 .dev/unpack.py DATA"""

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
packed = Path(".dev/init")
for f in sorted(packed.rglob("*.xz")):
    data = lzma.decompress(f.read_bytes())
    out = Path("logs/init") / f.relative_to(packed).with_suffix("")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(data)
    print(out, hashlib.sha256(data).hexdigest()[:16])
