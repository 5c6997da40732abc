"""Files nobody checked: decompression bombs, failed writes, bad options and mutated bitstreams end
in one line on stderr (exit 1: the file, 2: the command line), quickly and in little memory.

`python tests/test_untrusted.py N SEED` runs the mutation fuzzer alone (`make fuzz`: thousands)."""

from __future__ import annotations

import contextlib
import functools
import io
import json
import os
import resource
import struct
import subprocess
import sys
import time
import zlib
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from conftest import synthetic_linear, synthetic_sr  # noqa: E402

from sandwich import cli  # noqa: E402
from sandwich.cli import EXIT_INPUT, EXIT_OK, EXIT_USAGE, main  # noqa: E402
from sandwich.core.bitstream import (  # noqa: E402
    MAGIC,
    _jpeg_segments,
    embed_in_jpeg,
    extract_from_jpeg,
    heif_properties,
    inflate,
    jxl_size,
    pixel_budget,
    seal,
    unpack,
)
from sandwich.core.errors import DecodeError  # noqa: E402
from sandwich.core.files import write_atomic  # noqa: E402
from sandwich.core.images import (  # noqa: E402
    ImageError,
    linear_to_pq16,
    read_image,
    write_exr,
    write_png,
)
from sandwich.core.paths import PROJECT_ROOT  # noqa: E402
from sandwich.evaluation.registry import build_method  # noqa: E402
from sandwich.methods.han import layers  # noqa: E402

REPO = PROJECT_ROOT


# --- crafting ------------------------------------------------------------------------------------


def hdr(height=40, width=48, seed=0):
    return linear_to_pq16(synthetic_linear(height, width, seed))


def resealed(data: bytes) -> bytes:
    """A crafted file's project header checksum made to match again, as a deliberate forger would
    (a header in one piece: these files are small)."""
    start = data.find(MAGIC)
    if start < 0:
        return data
    pos = start + 6 + data[start + 5] + 8
    n_layers, pos = data[pos], pos + 1
    for _ in range(n_layers):
        pos += 4 + struct.unpack_from(">I", data, pos)[0]
    return seal(data, pos)


def patch_sof(jpeg: bytes, height: int, width: int) -> bytes:
    """The JPEG with its (first) frame header claiming height×width."""
    for marker, start, _ in _jpeg_segments(jpeg):
        if marker in (0xC0, 0xC1, 0xC2):
            return resealed(jpeg[: start + 5] + struct.pack(">HH", height, width) + jpeg[start + 9 :])
    raise ValueError("no SOF")


def patch_ispe(heif: bytes, height: int, width: int) -> bytes:
    at = heif.index(b"ispe") + 8  # box type, version and flags
    return resealed(heif[:at] + struct.pack(">II", width, height) + heif[at + 8 :])


def with_layer(jpeg: bytes, index: int, layer: bytes) -> bytes:
    packed, base = extract_from_jpeg(jpeg, None)
    header = unpack(packed, None)
    header.layers[index] = layer
    return embed_in_jpeg(base, header.pack())


def png_header_only(height: int, width: int) -> bytes:
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    chunk = struct.pack(">I", 13) + b"IHDR" + ihdr + struct.pack(">I", zlib.crc32(b"IHDR" + ihdr))
    data = zlib.compress(b"\0" * 1000)
    idat = struct.pack(">I", len(data)) + b"IDAT" + data + struct.pack(">I", zlib.crc32(b"IDAT" + data))
    return b"\x89PNG\r\n\x1a\n" + chunk + idat + b"\0\0\0\0IEND\xaeB`\x82"


@functools.lru_cache(maxsize=None)
def method(name):
    return build_method(name)


@functools.lru_cache(maxsize=None)
def made(name: str, point=None) -> bytes:
    """A small file of method `name` (HDR 40×48 or SR 64×64)."""
    m = method(name)
    image = synthetic_sr(64, 64) if m.domain == "sr8" else hdr()
    return m.encode(image, point if point is not None else m.rate_points[len(m.rate_points) // 2])


def one_line_error(capsys, code, expected=EXIT_INPUT, command="decompress"):
    err = capsys.readouterr().err
    assert code == expected, err
    assert err.startswith(f"sandwich {command}:") and err.count("\n") == 1 and "Traceback" not in err, err
    return err


# --- 1. the pixel budget, checked before decoding -------------------------------------------------


def bombs(folder: Path) -> dict[str, tuple[str, str | None]]:
    """name -> (file, --method for bare codec files): crafted files of a few KB that claim a huge
    image or inflate to gigabytes."""
    files = {
        "sandwich_sr_jpeg SOF 8000x8000": (patch_sof(made("sandwich_sr_jpeg"), 8000, 8000), None),
        "truncation_jpeg SOF 13000x13000": (patch_sof(made("truncation_jpeg"), 13000, 13000), None),
        "jpeg_full SOF 13000x13000": (patch_sof(made("jpeg_full"), 13000, 13000), "jpeg_full"),
        "jpeg12 SOF 20000x20000": (patch_sof(made("jpeg12"), 20000, 20000), None),
        "jpegxt_c zlib bomb": (with_layer(made("jpegxt_c"), 0, b"\0\1" + zlib.compress(bytes(64 << 20), 9)), None),
        "jpegxt_b extension SOF": (None, None),
        "truncation_heic ispe 60000x60000": (patch_ispe(made("truncation_heic"), 60000, 60000), None),
        "avif10 ispe 30000x30000": (patch_ispe(made("avif10"), 30000, 30000), "avif10"),
        "truncation_jpeg header 60000x60000": (_header_shape(made("truncation_jpeg"), 60000, 60000), None),
    }
    packed, base = extract_from_jpeg(made("jpegxt_b"), None)
    header = unpack(packed, None)
    header.layers[1] = patch_sof(header.layers[1], 12000, 12000)
    files["jpegxt_b extension SOF"] = (embed_in_jpeg(base, header.pack()), None)
    out = {}
    for i, (name, (data, hint)) in enumerate(files.items()):
        path = folder / f"bomb{i}.bin"
        path.write_bytes(data)
        out[name] = (str(path), hint)
    return out


def _header_shape(data: bytes, height: int, width: int) -> bytes:
    start = data.index(b"SWCH") + 6
    at = start + data[start - 1]
    return resealed(data[:at] + struct.pack(">II", height, width) + data[at + 8 :])


_MEASURE = r"""
import json, resource, sys, time
from sandwich.core.errors import DecodeError
from sandwich.core.images import ImageError, load_for_domain
from sandwich.evaluation.registry import build_method
cases = json.loads(sys.argv[1])
methods = {}
for name, (path, hint, method) in cases.items():
    methods[method] = build_method(method)
results = {}
for name, (path, hint, method) in cases.items():
    m = methods[method]
    data = open(path, "rb").read()
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    start = time.perf_counter()
    try:
        if path.endswith(".png"):
            load_for_domain(path, m.domain)
        else:
            m.decode(data)
        outcome = "decoded"
    except (DecodeError, ImageError) as err:
        outcome = str(err)
    seconds = time.perf_counter() - start
    grown = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
    results[name] = {"seconds": seconds, "mb": grown, "outcome": outcome}
print(json.dumps(results))
"""


def _method_of(path: str, hint: str | None) -> str:
    if hint:
        return hint
    data = Path(path).read_bytes()
    return cli._method_of(data, None)


def test_crafted_bombs_are_refused_in_a_fraction_of_a_second_and_little_memory(tmp_path, capsys):
    cases = bombs(tmp_path)
    png = tmp_path / "huge.png"
    png.write_bytes(png_header_only(40000, 40000))  # > 1 Gpx: OpenCV used to raise cv2.error
    cases["PNG IHDR 40000x40000"] = (str(png), "truncation_jpeg")
    measured = {name: (path, hint, _method_of(path, hint)) for name, (path, hint) in cases.items()}
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    run = subprocess.run([sys.executable, "-c", _MEASURE, json.dumps(measured)], capture_output=True, text=True, env=env, timeout=300)
    assert run.returncode == 0, run.stderr[-3000:]
    results = json.loads(run.stdout.strip().splitlines()[-1])
    print(json.dumps(results, indent=1))  # pytest -s shows the measurements
    for name, result in results.items():
        assert result["outcome"] != "decoded", name
        assert result["seconds"] < 1.0 and result["mb"] < 100, (name, result)
    for name, (path, hint) in cases.items():  # and the CLI says so in one line
        if path.endswith(".png"):
            code = main(["compress", path, str(tmp_path / "o.jpg"), "--method", hint])
            err = one_line_error(capsys, code, command="compress")
        else:
            code = main(["decompress", path, str(tmp_path / "o.png")] + (["--method", hint] if hint else []))
            err = one_line_error(capsys, code)
        assert path in err, err
        assert not (tmp_path / "o.png").exists() and not (tmp_path / "o.jpg").exists()


def test_the_budget_is_an_option_and_a_core_constant(tmp_path, capsys):
    path = tmp_path / "t.jpg"
    path.write_bytes(made("truncation_jpeg"))
    assert main(["decompress", str(path), str(tmp_path / "a.png"), "--max-pixels", "1000"]) == EXIT_INPUT
    assert "budget" in capsys.readouterr().err
    assert main(["decompress", str(path), str(tmp_path / "a.png"), "--max-pixels", "1920"]) == EXIT_OK  # 40×48
    assert main(["decompress", str(path), str(tmp_path / "a.png"), "--max-pixels", "-3"]) == EXIT_USAGE
    one_line_error(capsys, EXIT_USAGE, EXIT_USAGE)
    for name in ("jxl", "ultrahdr", "heic10", "avif12", "jpeg12"):  # bare codec files too
        with pixel_budget(1000), pytest.raises(DecodeError, match="budget"):
            method(name).decode(made(name))


def test_declared_sizes_are_read_from_every_container():
    assert jxl_size(made("jxl")) == (40, 48)
    assert heif_properties(made("avif10")) == ([(40, 48)], [10, 10, 10, 10])
    (height, width), *_ = heif_properties(made("heic10"))[0]  # HEVC's coded size: 64×64 cropped by `clap`
    assert 40 <= height < 40 + 64 and 48 <= width < 48 + 64


def test_zlib_side_information_is_inflated_with_a_bound():
    assert inflate(zlib.compress(bytes(512)), 512, "x") == bytes(512)
    for bad in (zlib.compress(bytes(513)), zlib.compress(bytes(10**7)), zlib.compress(bytes(512))[:-3], b"junk"):
        with pytest.raises(DecodeError):
            inflate(bad, 512, "x")


def test_han_side_information_is_inflated_with_a_bound():
    data = made("han_cnn")
    packed, _ = extract_from_jpeg(data, None)
    side = unpack(packed, None).layers[1]
    bomb = side[: layers._RANGES.size] + zlib.compress(bytes(64 << 20), 9) + side[-4:]
    with pytest.raises(DecodeError, match="inflates beyond"):
        method("han_cnn").decode(with_layer(data, 1, bomb))


# --- 2. atomic writes ------------------------------------------------------------------------------


def test_write_atomic_replaces_or_leaves_the_old_file(tmp_path, monkeypatch):
    path = tmp_path / "r.json"
    write_atomic(path, "old")
    write_atomic(path, b"new")
    assert path.read_bytes() == b"new"
    import sandwich.core.files as files

    def full_disk(fd):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(files.os, "fsync", full_disk)
    with pytest.raises(OSError):
        write_atomic(path, "newer")
    assert path.read_bytes() == b"new" and os.listdir(tmp_path) == ["r.json"]


@pytest.fixture
def file_size_limit():
    """Set RLIMIT_FSIZE (Python ignores SIGXFSZ: writes past it fail with EFBIG)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)

    def limit(size):
        resource.setrlimit(resource.RLIMIT_FSIZE, (size, hard))

    yield limit
    resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))


def test_a_failed_write_keeps_the_old_output(tmp_path, capsys, file_size_limit):
    source = tmp_path / "a.exr"
    write_exr(source, synthetic_linear(64, 80, 3))
    jpg = tmp_path / "old.jpg"
    jpg.write_bytes(made("truncation_jpeg"))
    png, exr = tmp_path / "old.png", tmp_path / "old.exr"
    png.write_bytes(b"an old png")
    exr.write_bytes(b"an old exr")
    before = {p.name: p.read_bytes() for p in (jpg, png, exr)}
    file_size_limit(600)
    try:
        codes = [
            main(["compress", str(source), str(jpg), "--method", "truncation_jpeg", "--rate-point", "100"]),
            main(["decompress", str(tmp_path / "old.jpg"), str(png)]),
            main(["decompress", str(tmp_path / "old.jpg"), str(exr)]),
        ]
    finally:
        file_size_limit(resource.RLIM_INFINITY)
    err = capsys.readouterr().err
    assert codes == [EXIT_INPUT] * 3 and err.count("\n") == 3 and "Traceback" not in err, err
    assert {p.name: p.read_bytes() for p in (jpg, png, exr)} == before
    assert sorted(os.listdir(tmp_path)) == ["a.exr", "old.exr", "old.jpg", "old.png"]  # no temporaries left


def test_the_output_may_not_be_the_input(tmp_path, capsys):
    source = tmp_path / "a.exr"
    write_exr(source, synthetic_linear(32, 40, 3))
    before = source.read_bytes()
    assert main(["compress", str(source), str(source), "--method", "truncation_jpeg"]) == EXIT_USAGE
    os.link(source, tmp_path / "same.exr")
    assert main(["compress", str(source), str(tmp_path / "same.exr"), "--method", "truncation_jpeg"]) == EXIT_USAGE
    jpg = tmp_path / "x.png"
    jpg.write_bytes(made("truncation_jpeg"))
    assert main(["decompress", str(jpg), str(tmp_path / "." / "x.png")]) == EXIT_USAGE
    assert source.read_bytes() == before and "is the input" in capsys.readouterr().err


def test_unwritable_outputs_are_one_line(tmp_path, capsys):
    source = tmp_path / "a.exr"
    write_exr(source, synthetic_linear(32, 40, 3))
    bitstream = tmp_path / "b.jpg"
    bitstream.write_bytes(made("truncation_jpeg"))
    for out in (tmp_path / "missing" / "x.jpg", tmp_path):
        one_line_error(capsys, main(["compress", str(source), str(out), "--method", "truncation_jpeg"]), EXIT_USAGE, "compress")
    for out in (tmp_path / "missing" / "x.png", tmp_path / "missing" / "x.exr", Path("/proc/x.png")):
        one_line_error(capsys, main(["decompress", str(bitstream), str(out)]), EXIT_USAGE)


# --- 3 and 4. one line, never a traceback; validation at the edges -------------------------------


@pytest.mark.parametrize(
    "name, point",
    [("jpeg_full", "-5"), ("jpeg_full", "101"), ("jpeg_full", "0"), ("jpeg_full", "50.5"), ("jpeg_full", "x"),
     ("truncation_jpeg_flat", "0"), ("truncation_jpeg_flat", "1000"), ("heic_full", "-1"), ("heic_full", "101"),
     ("jxl", "nan"), ("jxl", "inf"), ("jxl", "-1"), ("jxl", "26"), ("avif10", "101"), ("jpeg12", "0"),
     ("jpegxt_c", "101"), ("ultrahdr", "0"), ("sandwich_hdr_jpeg", "lambda_2e5/0"), ("sandwich_hdr_jpeg", "lambda_2e5/256"),
     ("sandwich_hdr_jpeg", "lambda_2e5/-3")],
)  # fmt: skip
def test_rate_points_outside_the_methods_range_are_refused(name, point, data_root, tmp_path, capsys):
    m = method(name)
    source = next((data_root / ("hdr" if m.domain == "hdr16" else "sr") / "test").iterdir())
    out = tmp_path / "o.bin"
    err = one_line_error(capsys, main(["compress", str(source), str(out), "--method", name, "--rate-point", point]), EXIT_USAGE, "compress")
    assert "must be" in err and not out.exists(), err
    if point.lstrip("-").isdigit():  # the library call refuses it too, not only the command line
        with pytest.raises(ValueError, match="must be"):
            m.encode(hdr() if m.domain == "hdr16" else synthetic_sr(16, 16), int(point))


@pytest.mark.parametrize("target", ["nan", "inf", "0", "-1", "x"])
def test_target_bpp_must_be_finite_and_positive(target, data_root, tmp_path, capsys):
    code = main(["compress", str(data_root / "hdr" / "test" / "a.exr"), str(tmp_path / "o.jpg"), "--method", "truncation_jpeg", "--target-bpp", target])
    one_line_error(capsys, code, EXIT_USAGE, "compress")


def test_image_files_are_read_by_their_content(tmp_path, capsys):
    png = tmp_path / "renamed.exr"
    write_png(tmp_path / "p.png", synthetic_sr(16, 20))
    os.replace(tmp_path / "p.png", png)
    with pytest.warns(UserWarning, match="holds a PNG"):
        assert read_image(png).dtype == np.uint8  # not taken as linear HDR
    code = main(["compress", str(png), str(tmp_path / "o.jpg"), "--method", "truncation_jpeg"])
    assert "8-bit" in one_line_error(capsys, code, command="compress")
    junk = tmp_path / "junk.exr"
    junk.write_bytes(b"not an image at all" * 10)
    with pytest.raises(ImageError, match="accepted image format"):
        read_image(junk)


def test_a_10_bit_avif_is_refused_by_the_12_bit_method(tmp_path, capsys):
    path = tmp_path / "ten.avif"
    path.write_bytes(made("avif10"))
    assert "10-bit" in one_line_error(capsys, main(["decompress", str(path), str(tmp_path / "o.png"), "--method", "avif12"]))
    from sandwich.codecs.jpeg import decode_jpeg12

    with pytest.raises(ValueError, match="8-bit JPEG, expected 12-bit"):
        decode_jpeg12(made("jpeg_full"))


def test_ultrahdr_on_a_tiny_image_is_one_line(tmp_path, capsys):
    source = tmp_path / "tiny.exr"
    write_exr(source, synthetic_linear(4, 5, 1))
    one_line_error(capsys, main(["compress", str(source), str(tmp_path / "o.jpg"), "--method", "ultrahdr"]), command="compress")


def test_sr_header_shape_must_imply_the_coded_size_exactly(tmp_path, capsys):
    data = made("bicubic_jpeg")  # 64×64 coded as 32×32
    for height, width in ((62, 64), (66, 64), (64, 61), (130, 64)):
        path = tmp_path / "t.jpg"
        path.write_bytes(_header_shape(data, height, width))
        assert "header implies" in one_line_error(capsys, main(["decompress", str(path), str(tmp_path / "o.png")]))


@pytest.mark.parametrize("name", ["truncation_jpeg", "truncation_heic", "jpegxt_c", "han_pp"])
def test_the_checksum_refuses_any_change_to_a_project_file(name, tmp_path, capsys):
    """One flipped bit anywhere (base image, method id, shape, side information, layers) is
    refused: byte flips used to decode to another image with exit 0."""
    data = made(name)
    path = tmp_path / "t.bin"
    for at in np.linspace(0, len(data) - 1, 12).astype(int).tolist() + [data.index(MAGIC) + 6]:
        path.write_bytes(data[:at] + bytes([data[at] ^ 0x08]) + data[at + 1 :])
        one_line_error(capsys, main(["decompress", str(path), str(tmp_path / "o.png")]))
    assert not (tmp_path / "o.png").exists()


def test_a_method_id_renamed_to_a_sibling_is_refused(tmp_path, capsys):
    """han_pp and han_rc share weights and layers: only the checksum tells the rename."""
    data = made("han_pp")
    at = data.index(MAGIC) + 6
    path = tmp_path / "t.jpg"
    path.write_bytes(data[:at] + b"han_rc" + data[at + 6 :])
    assert "checksum" in one_line_error(capsys, main(["decompress", str(path), str(tmp_path / "o.png")]))
    assert "checksum" in one_line_error(capsys, main(["info", str(path)]), command="info")


def test_format_1_files_without_a_checksum_still_decode():
    """The stored files of tests/data are format 1."""
    for path in sorted((REPO / "tests" / "data").glob("*.jpg")):
        data = path.read_bytes()
        assert unpack(extract_from_jpeg(data, None)[0], None).method
        assert data[data.index(MAGIC) + 4] == 1


def test_argparse_errors_are_one_line(capsys):
    assert main(["compress", "a.exr"]) == EXIT_USAGE
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("sandwich compress:")


# --- 5. the fuzzer ---------------------------------------------------------------------------------

FUZZ_METHODS = {  # name: --method for bare files (None: the project header names it)
    "truncation_jpeg": None,
    "jpegxt_c": None,
    "bicubic_jpeg": None,
    "truncation_heic": None,
    "jpeg12": "jpeg12",
    "avif10": "avif10",
    "jxl": "jxl",
}


def header_tampers(data: bytes) -> list[tuple[str, bytes]]:
    """Every field of the embedded project header changed in a way the decoder must notice."""
    start = data.index(b"SWCH")
    name_length = data[start + 5]
    shape = start + 6 + name_length
    out = [("magic", data[:start] + b"SWCX" + data[start + 4 :]),
           ("version", data[: start + 4] + b"\x07" + data[start + 5 :]),
           ("name", data[: start + 6] + bytes([data[start + 6] ^ 0x20]) + data[start + 7 :]),
           ("name length", data[: start + 5] + bytes([name_length + 1]) + data[start + 6 :])]  # fmt: skip
    for field, at in (("height", shape), ("width", shape + 4)):
        (value,) = struct.unpack_from(">I", data, at)
        for new in (value + 1, value - 1, 0, 1 << 20, 60000):
            out.append((f"{field} {new}", data[:at] + struct.pack(">I", new) + data[at + 4 :]))
    n_layers = data[shape + 8]
    out.append(("layers +1", data[: shape + 8] + bytes([n_layers + 1]) + data[shape + 9 :]))
    if n_layers:
        out.append(("layers -1", data[: shape + 8] + bytes([n_layers - 1]) + data[shape + 9 :]))
        (size,) = struct.unpack_from(">I", data, shape + 9)
        for new in (size + 1, size - 1, 1 << 30):
            out.append((f"layer 0 length {new}", data[: shape + 9] + struct.pack(">I", new) + data[shape + 13 :]))
    return out


def mutants(rng: np.random.Generator, count: int):
    """(method hint, label, bytes, must be refused) from files of several method families: any
    change to a file with the project header must be refused (its checksum)."""
    names = list(FUZZ_METHODS)
    for name in names:
        data = made(name)
        if FUZZ_METHODS[name] is None:
            for label, tampered in header_tampers(data):
                yield None, f"{name} header {label}", tampered, True
    for i in range(count):
        name = names[i % len(names)]
        original = made(name)
        data = bytearray(original)
        kind = rng.integers(3)
        if kind == 0:  # byte flips
            for _ in range(int(rng.integers(1, 5))):
                data[int(rng.integers(len(data)))] ^= int(rng.integers(1, 256))
            label = "flips"
        elif kind == 1:  # truncation
            data = data[: int(rng.integers(1, len(data)))]
            label = "truncated"
        else:  # a run of random bytes
            at, n = int(rng.integers(len(data))), int(rng.integers(1, 33))
            data[at : at + n] = rng.integers(0, 256, n, dtype=np.uint8).tobytes()
            label = "overwritten"
        changed = bytes(data) != original
        yield FUZZ_METHODS[name], f"{name} {label} #{i}", bytes(data), changed and FUZZ_METHODS[name] is None


def fuzz(count: int, seed: int, folder: Path) -> dict:
    """Run the mutants through `cli.main` in-process; return counts and the slowest case."""
    cli._build = functools.lru_cache(maxsize=None)(cli._build)  # hydra composes once per method
    rng = np.random.default_rng(seed)
    stats = {"mutants": 0, "decoded": 0, "refused": 0, "slowest": (0.0, ""), "problems": []}
    for name in FUZZ_METHODS:
        made(name)
    baseline = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    for hint, label, data, must_refuse in mutants(rng, count):
        path = folder / "m.bin"
        path.write_bytes(data)
        err = io.StringIO()
        start = time.perf_counter()
        with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
            try:
                code = main(["decompress", str(path), str(folder / "m.png")] + (["--method", hint] if hint else []))
            except BaseException as error:  # noqa: BLE001 - what the fuzzer looks for
                code = f"raised {type(error).__name__}: {error}"
        seconds = time.perf_counter() - start
        text = err.getvalue()
        stats["mutants"] += 1
        stats["decoded" if code == EXIT_OK else "refused"] += 1
        stats["slowest"] = max(stats["slowest"], (seconds, label))
        ok = code in (EXIT_OK, EXIT_INPUT) and "Traceback" not in text
        ok &= (text.count("\n") == 1 and text.startswith("sandwich decompress:")) if code == EXIT_INPUT else True
        if not ok or (must_refuse and code != EXIT_INPUT) or seconds > 5:
            stats["problems"].append(f"{label}: exit {code}, {seconds:.2f} s, {text.strip()[:300]}")
    stats["grown_mb"] = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - baseline) / 1024
    return stats


def _fuzz_in_subprocess(count: int, seed: int, tmp_path: Path, timeout: float) -> dict:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    run = subprocess.run([sys.executable, __file__, str(count), str(seed), str(tmp_path)],
                         capture_output=True, text=True, env=env, timeout=timeout)  # fmt: skip
    assert run.returncode == 0, run.stderr[-3000:]
    return json.loads(run.stdout.strip().splitlines()[-1])


def test_fuzzed_bitstreams_end_in_one_line_quickly_and_in_bounded_memory(tmp_path):
    """A few hundred seeded mutants (and every header-field tamper) in a fresh process."""
    count = int(os.environ.get("SANDWICH_FUZZ_MUTANTS", 300))
    stats = _fuzz_in_subprocess(count, int(os.environ.get("SANDWICH_FUZZ_SEED", 0)), tmp_path, timeout=120 + count)
    assert not stats["problems"], "\n".join(stats["problems"][:20])
    assert stats["refused"] > count // 4 and stats["grown_mb"] < 300, stats


def test_a_mutant_through_the_real_command_prints_one_line(tmp_path):
    """The installed entry point: no native library's message or traceback reaches stderr."""
    path = tmp_path / "m.jpg"
    data = bytearray(made("truncation_jpeg"))
    data[len(data) // 2 : len(data) // 2 + 40] = bytes(40)
    path.write_bytes(bytes(data[:-200]))
    run = subprocess.run([sys.executable, "-m", "sandwich", "decompress", str(path), str(tmp_path / "o.png")],
                         capture_output=True, text=True, timeout=120, env={**os.environ, "PYTHONPATH": str(REPO)})  # fmt: skip
    assert run.returncode == EXIT_INPUT and run.stderr.count("\n") == 1, run.stderr
    assert run.stderr.startswith("sandwich decompress:") and str(path) in run.stderr


if __name__ == "__main__":
    count, seed = int(sys.argv[1]), int(sys.argv[2])
    folder = Path(sys.argv[3]) if len(sys.argv) > 3 else Path(os.environ.get("TMPDIR", "/tmp"))
    result = fuzz(count, seed, folder)
    print(json.dumps(result))
