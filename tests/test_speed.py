"""`make speed`: both codecs timed on the same image, the reference at the rate nearest the method's."""

from __future__ import annotations

import cv2
import numpy as np
from hydra.utils import instantiate

from sandwich.core.images import linear_to_pq16, read_image
from sandwich.tools.speed import run


def test_speed_times_both_codecs_and_picks_the_reference_point_nearest_in_rate(compose_cfg, data_root, capsys):
    # conf/speed.yaml's defaults: sandwich_hdr_jpeg (shipped weights) against heic10
    cfg = compose_cfg("speed", [f"paths.data_root={data_root}", "size=64", "repeats=1", "threads=1"])
    timings = run(cfg)
    ours, ref = timings["sandwich_hdr_jpeg"], timings["heic10"]
    assert all(t["encode_s"] > 0 and t["decode_s"] > 0 for t in (ours, ref))
    assert "x the time" in capsys.readouterr().out
    # the first test image, as run() codes it
    image = linear_to_pq16(cv2.resize(read_image(data_root / "hdr" / "test" / "a.exr"), (64, 64), interpolation=cv2.INTER_AREA))
    reference = instantiate(cfg.reference, _convert_="all")
    rates = {p: 8 * len(reference.encode(image, p)) / 64**2 for p in reference.rate_points}
    assert ref["rate_point"] == min(rates, key=lambda p: abs(rates[p] - ours["bpp"]))
    assert np.isclose(ref["bpp"], rates[ref["rate_point"]])
