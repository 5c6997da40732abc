"""The project header, and the RD tools (Pareto front, BD-rate / BD-PSNR on known answers)."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from sandwich.core.bitstream import Header, embed_in_jpeg, extract_from_jpeg, unpack
from sandwich.core.errors import DecodeError
from sandwich.evaluation import rd


def test_header_round_trip_and_errors():
    header = Header("truncation_jpeg", 513, 771, [b"side", b"", b"\x00" * 300])
    data = header.pack()
    assert unpack(data, "truncation_jpeg") == header
    with pytest.raises(DecodeError, match="bad magic"):
        unpack(b"JUNK" + data[4:], "truncation_jpeg")
    with pytest.raises(DecodeError, match="written by 'truncation_jpeg'"):
        unpack(data, "jpegxt_a")
    with pytest.raises(DecodeError, match="truncated"):
        unpack(data[:-5], "truncation_jpeg")
    with pytest.raises(DecodeError, match="format version"):
        unpack(data[:4] + b"\x63" + data[5:], "truncation_jpeg")


def test_header_inside_jpeg_keeps_a_valid_jpeg():
    buf = io.BytesIO()
    Image.fromarray(np.full((9, 11, 3), 90, np.uint8)).save(buf, format="JPEG")
    header = Header("m", 9, 11).pack()
    combined = embed_in_jpeg(buf.getvalue(), header)
    assert len(combined) == len(buf.getvalue()) + len(header) + 4
    with Image.open(io.BytesIO(combined)) as im:
        im.load()
        assert im.size == (11, 9) and "APP15" in [name for name, _ in im.applist]
    found, jpeg = extract_from_jpeg(combined, "m")
    assert found[:-4] == header[:-4] and unpack(found, "m") == unpack(header, "m") and jpeg == buf.getvalue()
    assert found[-4:] != bytes(4)  # the checksum, filled in once the file was whole
    with pytest.raises(DecodeError, match="checksum"):
        extract_from_jpeg(combined[:-3] + bytes([combined[-3] ^ 1]) + combined[-2:], "m")


def test_pareto_front_drops_dominated_points():
    rate = np.array([1.0, 2.0, 3.0, 2.5, 4.0])
    quality = np.array([30.0, 35.0, 34.0, 36.0, 36.0])
    r, q = rd.pareto_front(rate, quality)
    assert r.tolist() == [1.0, 2.0, 2.5] and q.tolist() == [30.0, 35.0, 36.0]
    # two settings at the same rate: only the better one (BD interpolation needs distinct rates)
    r, q = rd.pareto_front(np.array([1.0, 2.0, 2.0]), np.array([30.0, 33.0, 35.0]))
    assert r.tolist() == [1.0, 2.0] and q.tolist() == [30.0, 35.0]


def test_bd_known_answers():
    rate = np.array([0.5, 1.0, 2.0, 4.0, 8.0])
    psnr = 30 + 6 * np.log2(rate)  # 6 dB per doubling of rate
    # the same curve at 80% of the rate: BD-rate -20%; +1.5 dB everywhere: BD-PSNR +1.5
    cheaper = rd.bd((rate, psnr), (0.8 * rate, psnr))
    assert cheaper.bd_rate == pytest.approx(-20.0, abs=0.01)
    assert cheaper.bd_quality == pytest.approx(6 * -np.log2(0.8), abs=0.01)
    better = rd.bd((rate, psnr), (rate, psnr + 1.5))
    assert better.bd_quality == pytest.approx(1.5, abs=1e-6)
    assert better.bd_rate == pytest.approx((2 ** (-1.5 / 6) - 1) * 100, abs=0.01)
    assert better.rate_overlap == (0.5, 8.0)
    too_few = rd.bd((rate, psnr), (rate[:3], psnr[:3]))
    assert too_few.bd_rate is None and "fewer than" in too_few.note
    apart = rd.bd((rate, psnr), (rate * 100, psnr + 60))
    assert apart.bd_quality is None and apart.bd_rate is None


def test_bd_over_a_fixed_range_and_gain_at_a_rate():
    rate = np.array([0.5, 1.0, 2.0, 4.0, 8.0])
    psnr = 30 + 6 * np.log2(rate)
    # a gain that grows with rate: 0 dB at 0.5 bpp, +4 dB at 8 bpp (1 dB per doubling)
    test = (rate, psnr + np.log2(rate / 0.5))
    assert rd.bd_quality_over((rate, psnr), test, (0.5, 8.0)) == pytest.approx(rd.bd((rate, psnr), test).bd_quality)
    assert rd.bd_quality_over((rate, psnr), test, (1.0, 4.0)) == pytest.approx(2.0, abs=1e-6)  # the mean of 1..3 dB
    assert rd.front_quality_at(test, 2.0) - rd.front_quality_at((rate, psnr), 2.0) == pytest.approx(2.0, abs=1e-9)
    assert rd.front_quality_at(test, 9.0) is None  # beyond the front: no extrapolation
    with pytest.raises(ValueError, match="covers"):
        rd.bd_quality_over((rate, psnr), test, (0.4, 4.0))  # below both curves: no extrapolation


def test_header_longer_than_one_app_segment():
    buf = io.BytesIO()
    Image.fromarray(np.full((9, 11, 3), 90, np.uint8)).save(buf, format="JPEG")
    layer = np.random.default_rng(0).integers(0, 256, 200_000, dtype=np.uint8).tobytes()
    header = Header("m", 9, 11, [layer]).pack()
    combined = embed_in_jpeg(buf.getvalue(), header)
    with Image.open(io.BytesIO(combined)) as im:
        im.load()
        assert sum(name == "APP15" for name, _ in im.applist) == 4
    found, jpeg = extract_from_jpeg(combined, "m")
    assert unpack(found, "m") == unpack(header, "m") and jpeg == buf.getvalue()
    middle = len(combined) // 2  # inside a continuation segment: the checksum covers every one
    with pytest.raises(DecodeError, match="checksum"):
        extract_from_jpeg(combined[:middle] + bytes([combined[middle] ^ 1]) + combined[middle + 1 :], "m")


def test_near_lossless_noise_fits_the_encoder_buffer():
    from sandwich.codecs.jpeg import decode_jpeg8, encode_jpeg8

    noise = np.random.default_rng(0).integers(0, 256, (160, 160, 3), dtype=np.uint8)
    for kwargs in ({"quality": 98}, {"flat_step": 1}):
        assert decode_jpeg8(encode_jpeg8(noise, keep_rgb=True, **kwargs)).shape == noise.shape


def test_target_table_takes_the_better_baseline_and_says_by_how_much():
    rates = [0.25, 0.5, 1.0, 2.0]

    def results(offset):
        return {"curve": [{"bpp": r, "psnr": 30.0 + 3.0 * np.log2(r / 0.25) + offset} for r in rates]}

    loaded = {"ours": results(2.5), "weak": results(0.0), "strong": results(1.0)}
    table = rd.target_table(loaded, [
        {"method": "ours", "over": ["weak", "strong"], "min_db": 2.0},  # the better baseline leaves +1.5
        {"method": "ours", "over": ["weak"], "min_db": 2.0},
        {"method": "ours", "over": ["absent"], "min_db": 0.0},
    ])  # fmt: skip
    rows = table.splitlines()[2:]
    assert "+2.50 vs `weak`, +1.50 vs `strong`" in rows[0] and rows[0].endswith("**missed by 0.50 dB** |")
    assert rows[1].endswith("**met** (+0.50 dB to spare) |")
    assert rows[2].endswith("not measured |")
