"""`sandwich compress | decompress | info | methods`: every method as a command-line codec.

Exit codes: 0 done; 1 the input is at fault (missing or unreadable file, wrong domain, corrupted,
truncated or foreign bitstream, unknown checkpoint, an image over the pixel budget, a failed
write); 2 the command line is (unknown method, bad option, a rate point outside the method's
range, an output path that is the input or cannot be created). Every failure prints one line on
stderr naming the file and the reason, never a stack trace; library warnings and native
libraries' messages are dropped, the project's own warnings (alpha dropped, ...) are one line each.

Files are untrusted: every size a file declares (the project header's, the container's) is checked
against a pixel budget (`--max-pixels`, default `DEFAULT_MAX_PIXELS`) before anything is decoded,
and outputs are written atomically (a failed write leaves the old file).
"""

from __future__ import annotations

import argparse
import contextlib
import errno
import math
import os
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np

from sandwich.core.bitstream import (
    DEFAULT_MAX_PIXELS,
    MAGIC,
    check_declared_sizes,
    container,
    extract_from_jpeg,
    pixel_budget,
    unpack,
)
from sandwich.core.domains import DOMAINS
from sandwich.core.errors import DecodeError, NoHeader
from sandwich.core.files import write_atomic
from sandwich.evaluation.registry import (
    MissingCheckpoint,
    UnknownMethod,
    build_method,
    method_names,
    method_summary,
)

EXIT_OK, EXIT_INPUT, EXIT_USAGE = 0, 1, 2


class UserError(Exception):
    def __init__(self, message: str, code: int = EXIT_INPUT):
        super().__init__(message)
        self.code = code


def embedded_header(data: bytes) -> bytes | None:
    """The packed project header inside a JPEG or HEIF file, its checksum checked, or None when
    it carries none."""
    kind = container(data)
    try:
        if kind == "JPEG":
            return extract_from_jpeg(data, None)[0]
        if kind == "HEIF":
            from sandwich.codecs.heic import read_heic_header

            return read_heic_header(data)
    except NoHeader:
        return None
    except DecodeError as err:
        raise UserError(f"corrupted project header: {err.reason}") from err
    except Exception as err:  # a damaged container: say what the library said
        raise UserError(f"cannot read the {kind} container: {err}") from err
    return None


def standard_decoder_opens(data: bytes) -> tuple[bool, str]:
    """Whether a plain decoder (Pillow / pillow-heif, no project code) opens the file."""
    import io

    from PIL import Image

    try:
        check_declared_sizes(data, "standard decoder")  # a plain decoder would allocate it all
    except DecodeError as err:
        return False, f"not decoded: {err.reason}"
    try:
        if container(data) == "HEIF":
            import pillow_heif

            pillow_heif.register_heif_opener()
        with Image.open(io.BytesIO(data)) as image:
            image.load()
            return True, f"{image.format} {image.size[0]}x{image.size[1]} {image.mode}"
    except Exception as err:
        return False, f"{type(err).__name__}: {err}"


def _read_bytes(path: Path) -> bytes:
    if not path.is_file():
        raise UserError(f"{path}: no such file")
    try:
        data = path.read_bytes()
    except OSError as err:
        raise UserError(f"{path}: cannot read: {err.strerror or err}") from None
    if not data:
        raise UserError(f"{path}: empty file")
    return data


_COMMAND_LINE_ERRNOS = {errno.EACCES, errno.EPERM, errno.ENOENT, errno.ENOTDIR, errno.EISDIR, errno.EROFS}


def _check_output(source: Path, out: Path) -> None:
    """Refuse, before any work, an output that is the input or that cannot be created."""
    if out.exists() and out.is_dir():
        raise UserError(f"{out}: is a folder; give a file name", EXIT_USAGE)
    if out.resolve() == source.resolve() or (out.exists() and source.exists() and os.path.samefile(out, source)):
        raise UserError(f"{out}: is the input file; write somewhere else", EXIT_USAGE)
    folder = out.parent if str(out.parent) else Path(".")
    if not folder.is_dir():
        raise UserError(f"{out}: no such folder {folder}", EXIT_USAGE)
    if not os.access(folder, os.W_OK | os.X_OK):
        raise UserError(f"{out}: folder {folder} is not writable", EXIT_USAGE)


def _write(out: Path, write) -> None:
    """Run `write()` (an atomic writer); an OSError becomes one line (the old file stays)."""
    try:
        write()
    except OSError as err:
        code = EXIT_USAGE if err.errno in _COMMAND_LINE_ERRNOS else EXIT_INPUT
        raise UserError(f"{out}: cannot write ({err.strerror or err}); nothing was changed", code) from None


def _load_image(path: Path, domain: str) -> np.ndarray:
    from sandwich.core.images import ImageError, load_for_domain

    if not path.is_file():
        raise UserError(f"{path}: no such file")
    try:
        return load_for_domain(path, domain)
    except ImageError as err:
        raise UserError(f"{path}: cannot read as {DOMAINS[domain][2]}: {err.reason}") from None
    except (ValueError, OSError, MemoryError) as err:
        raise UserError(f"{path}: cannot read as {DOMAINS[domain][2]}: {_reason(err)}") from None


def _reason(err: BaseException) -> str:
    """One line for an exception from a library."""
    text = " ".join(str(err).split()) or type(err).__name__
    return text if len(text) <= 300 else text[:297] + "..."


def _parse_rate_point(method, text: str):
    """The rate point `text` names, checked against the method's legal range (usage error)."""
    value = next((point for point in method.rate_points if str(point) == text), None)
    if value is None:
        kind = type(method.rate_points[0]) if method.rate_points else str
        try:
            value = kind(text) if kind in (int, float) else text
        except ValueError:
            value = text
        if kind is int and isinstance(value, str):  # "90.0" is 90, "90.5" is refused below
            try:
                number = float(text)
                value = int(number) if number.is_integer() else number
            except (ValueError, OverflowError):
                pass
    try:
        return method.check_rate_point(value)
    except ValueError as err:
        raise UserError(f"--rate-point {text!r} refused: {err}", EXIT_USAGE) from None


def _build(name: str):
    try:
        return build_method(name)
    except UnknownMethod as err:
        raise UserError(f"{err.args[0]}; `sandwich methods` lists them", EXIT_USAGE) from err
    except MissingCheckpoint as err:
        raise UserError(str(err)) from None


def compress(args) -> int:
    if args.target_bpp is not None and not (math.isfinite(args.target_bpp) and args.target_bpp > 0):
        raise UserError(f"--target-bpp {args.target_bpp}: must be a finite number above 0", EXIT_USAGE)
    method = _build(args.method)
    source, out = Path(args.input), Path(args.output)
    _check_output(source, out)
    points = list(method.rate_points)
    rate_point = None
    if args.target_bpp is None:
        rate_point = _parse_rate_point(method, args.rate_point) if args.rate_point else points[len(points) // 2]
    image = _load_image(source, method.domain)
    start = time.perf_counter()
    try:
        if args.target_bpp is not None:
            from sandwich.evaluation.rate_search import best_within_target  # torch: only for this search

            rate_point, data = best_within_target(method, image, args.target_bpp)
        else:
            data = method.encode(image, rate_point)
    except (ValueError, KeyError, TypeError, RuntimeError, MemoryError) as err:  # e.g. too small for the codec
        raise UserError(f"{source}: {method.name} cannot encode it: {_reason(err)}") from None
    elapsed = time.perf_counter() - start
    _write(out, lambda: write_atomic(out, data))
    height, width = image.shape[:2]
    line = (f"{args.output}: {method.name} {method.rate_param}={rate_point}, {len(data)} bytes, "
            f"{8 * len(data) / (height * width):.4f} bpp ({width}x{height}), {elapsed:.2f} s")  # fmt: skip
    if args.metrics:
        decoded = method.decode(data)
        line += ", " + _metrics_text(image, decoded, method.domain)
    print(line)
    return EXIT_OK


METRIC_LABELS = {"psnr": ("PSNR", " dB"), "pu_psnr": ("PU21-PSNR", " dB"), "pu_ssim": ("PU21-SSIM", ""), "ms_ssim": ("MS-SSIM", "")}


def _metrics_text(image: np.ndarray, decoded: np.ndarray, domain: str) -> str:
    """Every metric the evaluator computes for the task (but ColorVideoVDP, seconds per image)."""
    from sandwich.evaluation.metrics import hdr_metrics, sr_metrics

    values = hdr_metrics(image, decoded) if domain == "hdr16" else sr_metrics(image, decoded)
    parts = []
    for key, value in values.items():
        label, unit = METRIC_LABELS[key]
        parts.append(f"{label} {'n/a (image too small)' if value is None else f'{value:.4g}{unit}'}")
    return ", ".join(parts)


def _method_of(data: bytes, hint: str | None) -> str:
    header = embedded_header(data)
    if header is not None:
        try:
            name = unpack(header, None).method
        except DecodeError as err:
            raise UserError(f"corrupted project header: {err.reason}") from err
        if name not in method_names():  # the file's fault (or another checkout's), not the command line's
            raise UserError(f"the file was written by method {name!r}, which this checkout does not have")
        return name
    if hint:
        return hint
    raise UserError(
        f"no project header in this {container(data)} file: it is not a sandwich bitstream, or it is a "
        "bare codec file (heic10, avif10, jxl, ultrahdr, ...): pass --method NAME"
    )


def decompress(args) -> int:
    from sandwich.core.images import write_exr, write_png
    from sandwich.core.transfer import pq16_to_nits

    source, out = Path(args.input), Path(args.output)
    suffix = out.suffix.lower()
    if suffix not in (".exr", ".png"):
        raise UserError(f"{out}: write .exr (linear HDR) or .png", EXIT_USAGE)
    _check_output(source, out)
    data = _read_bytes(source)
    name = _method_of(data, args.method)
    method = _build(name)
    if suffix == ".exr" and method.domain != "hdr16":
        raise UserError(f"{out}: {name} decodes 8-bit images; write a .png", EXIT_USAGE)
    start = time.perf_counter()
    try:
        image = method.decode(data)
    except DecodeError as err:
        raise UserError(f"{args.input}: {err}") from None
    elapsed = time.perf_counter() - start
    if suffix == ".exr":
        _write(out, lambda: write_exr(out, pq16_to_nits(image) / 203.0))  # 1.0 = SDR reference white (203 cd/m²)
    else:
        _write(out, lambda: write_png(out, image))
    height, width = image.shape[:2]
    print(f"{out}: {name}, {width}x{height} {image.dtype}, {elapsed:.2f} s")
    return EXIT_OK


def info(args) -> int:
    data = _read_bytes(Path(args.file))
    kind = container(data)
    print(f"file:      {args.file} ({len(data)} bytes, {kind})")
    opens, what = standard_decoder_opens(data)
    print(f"standard:  {'yes: a plain decoder shows ' + what if opens else 'no: ' + what}")
    header = embedded_header(data)
    if header is None:
        print("header:    none (a bare codec file or not one of ours)")
        return EXIT_OK if opens else EXIT_INPUT
    try:
        parsed = unpack(header, None)
    except DecodeError as err:
        raise UserError(f"corrupted project header: {err.reason}") from err
    print(f"method:    {parsed.method}")
    print(f"format:    {header[len(MAGIC)]} (sandwich bitstream version)")
    print(f"shape:     {parsed.width}x{parsed.height} (decoded image)")
    print(f"header:    {len(header)} bytes, {len(parsed.layers)} layers: {[len(x) for x in parsed.layers]} bytes")
    if parsed.method in method_names():
        for line in _build(parsed.method).describe_layers(parsed.layers):
            print(line)
    else:
        print("note:      this checkout has no such method")
    return EXIT_OK if opens else EXIT_INPUT


def methods(args) -> int:
    if not args.details:  # from the configs alone: no checkpoint is loaded
        for name in method_names():
            print(f"{name:<24} {method_summary(name)}")
        return EXIT_OK
    for name in method_names():
        try:
            method = build_method(name)
        except Exception as err:  # e.g. a checkpoint missing from this checkout
            print(f"{name:<22} unavailable: {err}")
            continue
        points = ", ".join(map(str, method.rate_points))
        print(f"{name:<22} {method.domain:<6} {method.rate_param}: {points}")
    return EXIT_OK


def _pixels(text: str) -> int:
    try:
        number = float(text)
    except ValueError:
        number = math.nan
    if not (math.isfinite(number) and number >= 1 and number.is_integer()):
        raise argparse.ArgumentTypeError(f"{text!r} is not a positive whole number of pixels")
    return int(number)


def _finite_float(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None


class _Parser(argparse.ArgumentParser):
    """argparse with command-line errors as one line (and exit 2), not usage + error."""

    def error(self, message: str):
        self.exit(EXIT_USAGE, f"{self.prog}: {' '.join(message.split())} (--help for usage)\n")


def parser() -> argparse.ArgumentParser:
    top = _Parser(prog="sandwich", description=__doc__.splitlines()[0])
    budget = argparse.ArgumentParser(add_help=False)
    budget.add_argument(
        "--max-pixels", type=_pixels, default=DEFAULT_MAX_PIXELS, metavar="N",
        help=f"refuse any image (input, or declared by a file) over N pixels (default {DEFAULT_MAX_PIXELS:,})",
    )  # fmt: skip
    commands = top.add_subparsers(dest="command", required=True)
    c = commands.add_parser("compress", help="image -> bitstream file", parents=[budget])
    c.add_argument("input")
    c.add_argument("output")
    c.add_argument("--method", required=True)
    rate = c.add_mutually_exclusive_group()
    rate.add_argument("--rate-point", help="one of the method's rate points (default: the middle one)")
    rate.add_argument("--target-bpp", type=_finite_float, help="the best point whose real rate is at most B bpp (else the smallest file)", metavar="B")
    c.add_argument("--metrics", action="store_true", help="also decode and print PSNR (and PU21-PSNR) against the input")
    c.set_defaults(run=compress)
    d = commands.add_parser("decompress", help="bitstream file -> .exr (linear) or .png", parents=[budget])
    d.add_argument("input")
    d.add_argument("output")
    d.add_argument("--method", help="only for bare codec files, which carry no project header")
    d.set_defaults(run=decompress)
    i = commands.add_parser("info", help="what a bitstream file holds", parents=[budget])
    i.add_argument("file")
    i.set_defaults(run=info)
    m = commands.add_parser("methods", help="every method and what it is (--details: domain and rate grid)")
    m.add_argument("--details", action="store_true", help="build each method (loads its checkpoints) for its domain and rate grid")
    m.set_defaults(run=methods)
    return top


@contextlib.contextmanager
def _native_stderr_dropped():
    """Send what native libraries (libpng, libjpeg, OpenCV, libheif) write to file descriptor 2
    to a scratch file while the command runs: the command's own messages are printed after."""
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError):
        yield
        return
    with tempfile.TemporaryFile() as scratch:
        os.dup2(scratch.fileno(), 2)
        try:
            yield
        finally:
            with contextlib.suppress(OSError, ValueError):
                sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)


def _subject(args) -> str | None:
    return getattr(args, "input", None) or getattr(args, "file", None)


def main(argv: list[str] | None = None) -> int:
    try:
        args = parser().parse_args(argv)
    except SystemExit as done:  # --help (0) or a command-line error, already printed in one line
        return done.code if isinstance(done.code, int) else EXIT_USAGE
    caught: list[warnings.WarningMessage] = []
    try:
        with warnings.catch_warnings(record=True) as caught, _native_stderr_dropped():
            warnings.simplefilter("always")
            with pixel_budget(getattr(args, "max_pixels", None)):
                code = args.run(args)
    except UserError as err:
        return _fail(args, str(err), err.code)
    except DecodeError as err:
        return _fail(args, str(err), EXIT_INPUT)
    except MemoryError:
        return _fail(args, "out of memory (lower --max-pixels?)", EXIT_INPUT)
    except KeyboardInterrupt:
        return _fail(args, "interrupted", 130)
    except Exception as err:  # a library failure on a file nobody checked for: still one line
        return _fail(args, f"{type(err).__name__}: {_reason(err)}", EXIT_INPUT)
    for line in dict.fromkeys(_own_warnings(caught)):
        print(f"sandwich {args.command}: warning: {line}", file=sys.stderr)
    return code


def _own_warnings(caught) -> list[str]:
    """The project's own warnings (alpha dropped, NaN replaced, ...); libraries' are dropped."""
    here = str(Path(__file__).resolve().parent)
    return [" ".join(str(w.message).split()) for w in caught if str(Path(w.filename).resolve()).startswith(here)]


def _fail(args, message: str, code: int) -> int:
    subject = _subject(args)
    paths = [p for p in (subject, getattr(args, "output", None)) if p]
    if subject and not any(p in message for p in paths):
        message = f"{subject}: {message}"
    print(f"sandwich {args.command}: {' '.join(message.split())}", file=sys.stderr)
    return code


if __name__ == "__main__":
    sys.exit(main())
