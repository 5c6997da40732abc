"""The command-line codec: round trips equal the evaluator's decode, files are standard, errors are clear."""

from __future__ import annotations

import io
import shutil
import subprocess
import sys

import numpy as np
import pytest
from conftest import METHODS
from PIL import Image

from sandwich.cli import EXIT_INPUT, EXIT_OK, EXIT_USAGE, main
from sandwich.core.images import load_for_domain, read_image
from sandwich.evaluation.rate_search import best_within_target
from sandwich.evaluation.registry import build_method

# files that `info` cannot show with a plain decoder (Pillow): 12-bit JPEG, and JPEG XL (no
# Pillow plugin); every other method's file must open as a standard JPEG/HEIC/AVIF image
NOT_OPENED_BY_PILLOW = {"jpeg12", "jxl"}
BARE = {"heic10", "heic12", "avif10", "avif12", "jxl", "ultrahdr", "jpeg_full", "heic_full"}  # the codec's own file, no project header


def _input_for(method, data_root):
    task = "hdr" if method.domain == "hdr16" else "sr"
    return next((data_root / task / "test").iterdir())


@pytest.mark.parametrize("name", ["truncation_jpeg", "sandwich_hdr_jpeg", "bicubic_jpeg"])
def test_round_trip_equals_the_evaluators_decode(name, data_root, tmp_path, capsys):
    method = build_method(name)
    source = _input_for(method, data_root)
    point = method.rate_points[len(method.rate_points) // 2]
    out = tmp_path / "x.bin"
    assert main(["compress", str(source), str(out), "--method", name, "--rate-point", str(point), "--metrics"]) == EXIT_OK
    printed = capsys.readouterr().out
    assert "bpp" in printed and "PSNR" in printed
    assert ("PU21-SSIM" if method.domain == "hdr16" else "MS-SSIM") in printed
    assert main(["decompress", str(out), str(tmp_path / "y.png")]) == EXIT_OK
    expected = method.decode(method.encode(load_for_domain(source, method.domain), point))
    assert np.array_equal(read_image(tmp_path / "y.png"), expected)


def test_hdr_decompress_to_exr_is_linear(data_root, tmp_path):
    source = data_root / "hdr" / "test" / "a.exr"
    assert main(["compress", str(source), str(tmp_path / "a.jpg"), "--method", "truncation_jpeg_flat"]) == EXIT_OK
    assert main(["decompress", str(tmp_path / "a.jpg"), str(tmp_path / "a.exr")]) == EXIT_OK
    linear = read_image(tmp_path / "a.exr")
    assert linear.dtype == np.float32 and linear.shape == read_image(source).shape and linear.min() >= 0


def test_a_sandwich_file_is_a_standard_jpeg(data_root, tmp_path, capsys):
    out = tmp_path / "s.jpg"
    assert main(["compress", str(data_root / "hdr" / "test" / "a.exr"), str(out), "--method", "sandwich_hdr_jpeg"]) == 0
    with Image.open(io.BytesIO(out.read_bytes())) as viewer:
        viewer.load()
        assert viewer.format == "JPEG" and viewer.mode == "RGB"
    if shutil.which("djpeg"):
        assert subprocess.run(["djpeg", str(out)], capture_output=True).returncode == 0
    capsys.readouterr()
    assert main(["info", str(out)]) == EXIT_OK
    text = capsys.readouterr().out
    assert "sandwich_hdr_jpeg" in text and "checkpoint" in text and "standard:  yes" in text


@pytest.mark.parametrize("name", METHODS)
def test_info_on_every_methods_file(name, data_root, tmp_path, capsys):
    method = build_method(name)
    out = tmp_path / "f.bin"
    assert main(["compress", str(_input_for(method, data_root)), str(out), "--method", name]) == EXIT_OK
    capsys.readouterr()
    code = main(["info", str(out)])
    text = capsys.readouterr().out
    opens = name not in NOT_OPENED_BY_PILLOW
    assert ("standard:  yes" in text) == opens and code == (EXIT_OK if opens else EXIT_INPUT)
    assert (f"method:    {name}" in text) != (name in BARE)
    if name in BARE:  # decompress needs to be told the method
        assert main(["decompress", str(out), str(tmp_path / "g.png")]) == EXIT_INPUT
        assert "--method" in capsys.readouterr().err
        assert main(["decompress", str(out), str(tmp_path / "g.png"), "--method", name]) == EXIT_OK


def test_target_bpp_keeps_the_largest_point_that_fits(data_root, tmp_path, capsys):
    """Every step between the bench's (1, 2, 3, 4, 6, ...) is a candidate: 5 here."""
    source = data_root / "hdr" / "test" / "a.exr"
    method = build_method("truncation_jpeg_flat")
    image = load_for_domain(source, "hdr16")
    assert method.rate_search_grids() == [list(range(1, 17))]
    rates = sorted(8 * len(method.encode(image, step)) / image[..., 0].size for step in range(1, 17))
    target = (rates[11] + rates[12]) / 2  # between steps 5 and 4
    assert main(["compress", str(source), str(tmp_path / "t.jpg"), "--method", "truncation_jpeg_flat", "--target-bpp", str(target)]) == 0
    written = 8 * (tmp_path / "t.jpg").stat().st_size / image[..., 0].size
    assert written == pytest.approx(rates[11])
    # a budget below every point: the smallest file
    assert main(["compress", str(source), str(tmp_path / "s.jpg"), "--method", "truncation_jpeg_flat", "--target-bpp", "0.001"]) == 0
    assert 8 * (tmp_path / "s.jpg").stat().st_size / image[..., 0].size == pytest.approx(rates[0])


def test_target_bpp_tries_each_point_of_a_non_integer_grid(data_root):
    """JPEG XL's distances are not integers: every point is tried, and the best within the budget wins."""
    from sandwich.evaluation.metrics import psnr

    method = build_method("jxl")
    image = load_for_domain(data_root / "hdr" / "test" / "a.exr", "hdr16")
    assert method.rate_search_grids() == [[point] for point in method.rate_points]
    files = {point: method.encode(image, point) for point in method.rate_points}
    rates = sorted(8 * len(data) / image[..., 0].size for data in files.values())
    target = (rates[1] + rates[2]) / 2
    fitting = [p for p, data in files.items() if 8 * len(data) / image[..., 0].size <= target]
    best = max(fitting, key=lambda p: psnr(image, method.decode(files[p]), 65535))
    assert best_within_target(method, image, target) == (best, files[best])


class _Grids:
    """A sandwich-like method: points run model by model, so the rates rise and fall along the
    list; each file's first byte names its point, and its decode is the source plus an error
    that sets the point's PSNR."""

    domain = "hdr16"
    bpp = {"a/3": 0.5, "a/2": 1.0, "a/1": 2.0, "b/3": 0.7, "b/2": 1.4, "b/1": 3.45, "c/3": 1.9, "c/2": 3.6, "c/1": 7.0}
    error = {"a/1": 40, "b/1": 400, "c/3": 80}  # at 3.5 bpp model a's point beats b's closer one
    rate_points = tuple(bpp)

    def rate_search_grids(self):
        return [[p for p in self.rate_points if p.startswith(model)] for model in "abc"]

    def encode(self, image, point):
        return bytes([self.rate_points.index(point)]) + bytes(int(self.bpp[point] * image[..., 0].size / 8) - 1)

    def decode(self, data):
        point = self.rate_points[data[0]]
        return np.full((64, 64, 3), 1000 + self.error.get(point, 1000), np.uint16)


def test_target_bpp_searches_each_models_grid_for_the_best_quality():
    """Each model's grid is searched for its largest point within the budget (b/1: one bisection
    of the whole list never tries it), and the best decode of those wins, not the closest rate."""

    source = np.full((64, 64, 3), 1000, np.uint16)
    point, data = best_within_target(_Grids(), source, 3.5)
    assert point == "a/1" and len(data) == int(2.0 * 4096 / 8)
    sharper = _Grids()
    sharper.error = {**_Grids.error, "b/1": 10}
    assert best_within_target(sharper, source, 3.5)[0] == "b/1"
    assert best_within_target(_Grids(), source, 0.1)[0] == "a/3"  # nothing fits: the smallest file


def test_bad_inputs_exit_1_with_one_clear_line(data_root, tmp_path, capsys):
    good = tmp_path / "good.jpg"
    assert main(["compress", str(data_root / "hdr" / "test" / "a.exr"), str(good), "--method", "sandwich_hdr_jpeg"]) == 0
    data = good.read_bytes()
    cases = {
        "missing.jpg": None,
        "truncated.jpg": data[: len(data) // 3],
        "foreign.png": (data_root / "sr" / "test" / "a.png").read_bytes(),
        "noise.jpg": bytes(np.random.default_rng(0).integers(0, 256, 500, dtype=np.uint8)),
        "header_magic_broken.jpg": data.replace(b"SWCH", b"SWCX", 1),
        "unknown_method.jpg": data.replace(b"sandwich_hdr_jpeg", b"sandwich_hdr_jpex", 1),
        "shape_broken.jpg": _with_header_shape(data, 0),
    }
    for file, content in cases.items():
        if content is not None:
            (tmp_path / file).write_bytes(content)
        capsys.readouterr()
        code = main(["decompress", str(tmp_path / file), str(tmp_path / "out.png")])
        err = capsys.readouterr().err
        assert code == EXIT_INPUT, file
        assert err.startswith("sandwich decompress:") and "Traceback" not in err and err.count("\n") == 1, err
    capsys.readouterr()
    assert main(["compress", str(tmp_path / "foreign.png"), str(tmp_path / "o.jpg"), "--method", "truncation_jpeg"]) == EXIT_INPUT
    assert main(["compress", str(good), str(tmp_path / "o.jpg"), "--method", "no_such_method"]) == EXIT_USAGE


def _with_header_shape(data: bytes, height: int) -> bytes:
    """The file with the header's image height overwritten (a corrupted header)."""
    start = data.index(b"SWCH") + 6
    name_length = data[start - 1]
    at = start + name_length
    return data[:at] + height.to_bytes(4, "big") + data[at + 4 :]


def test_unknown_checkpoint_hash_is_refused(data_root, tmp_path, capsys):
    out = tmp_path / "s.jpg"
    assert main(["compress", str(data_root / "hdr" / "test" / "a.exr"), str(out), "--method", "sandwich_hdr_jpeg"]) == 0
    method = build_method("sandwich_hdr_jpeg")
    digests = [meta["digest"] for meta in method.meta.values()]
    data = out.read_bytes()
    digest = next(d for d in digests if d in data)
    out.write_bytes(data.replace(digest, bytes(b ^ 0xFF for b in digest)))
    capsys.readouterr()
    assert main(["decompress", str(out), str(tmp_path / "x.png")]) == EXIT_INPUT
    assert "checkpoint" in capsys.readouterr().err


def test_methods_lists_every_method(capsys):
    assert main(["methods", "--details"]) == EXIT_OK
    text = capsys.readouterr().out
    assert all(name in text for name in METHODS) and "unavailable" not in text


def test_methods_describes_every_method_without_loading_one(capsys, monkeypatch):
    import sandwich.cli

    def refuse(name):
        raise AssertionError(f"built {name}")

    monkeypatch.setattr(sandwich.cli, "build_method", refuse)
    assert main(["methods"]) == EXIT_OK
    lines = capsys.readouterr().out.splitlines()
    assert [line.split()[0] for line in lines] == sorted(METHODS)
    assert all(len(line.split()) > 2 for line in lines)  # each with its description


def test_python_dash_m_sandwich_is_the_same_command(tmp_path):
    result = subprocess.run([sys.executable, "-m", "sandwich", "info", str(tmp_path)], capture_output=True, text=True)
    assert result.returncode == EXIT_INPUT and result.stderr.startswith("sandwich info:")


def test_listing_methods_imports_no_torch_and_loads_no_checkpoint():
    """`sandwich methods` answers from the configs alone (about a second): torch is imported only
    by the commands that run a codec."""
    code = ("import sys, contextlib, io\nfrom sandwich.cli import main\n"
            "with contextlib.redirect_stdout(io.StringIO()) as out:\n    assert main(['methods']) == 0\n"
            "assert 'torch' not in sys.modules, 'torch imported'\nassert 'sandwich_hdr_jpeg_light' in out.getvalue()")  # fmt: skip
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr[-2000:]
