"""`sandwich compress | decompress | info | methods`: every method as a command-line codec.

Exit codes: 0 done; 1 the input is at fault (missing or unreadable file, wrong domain, corrupted,
truncated or foreign bitstream, unknown checkpoint); 2 the command line is (unknown method,
bad option). User mistakes print one line on stderr, never a stack trace.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

from sandwich.core.bitstream import MAGIC, container, extract_from_jpeg, unpack
from sandwich.core.domains import DOMAINS
from sandwich.core.errors import DecodeError
from sandwich.evaluation.rate_search import best_within_target
from sandwich.evaluation.registry import UnknownMethod, build_method, method_names

EXIT_OK, EXIT_INPUT, EXIT_USAGE = 0, 1, 2


class UserError(Exception):
    def __init__(self, message: str, code: int = EXIT_INPUT):
        super().__init__(message)
        self.code = code


def embedded_header(data: bytes) -> bytes | None:
    """The packed project header inside a JPEG or HEIF file, or None when it carries none."""
    kind = container(data)
    try:
        if kind == "JPEG":
            return extract_from_jpeg(data, None)[0]
        if kind == "HEIF":
            from sandwich.codecs.heic import read_heic_header

            return read_heic_header(data)
    except DecodeError:
        return None
    except Exception as err:  # a damaged container: say what the library said
        raise UserError(f"cannot read the {kind} container: {err}") from err
    return None


def standard_decoder_opens(data: bytes) -> tuple[bool, str]:
    """Whether a plain decoder (Pillow / pillow-heif, no project code) opens the file."""
    import io

    from PIL import Image

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
    data = path.read_bytes()
    if not data:
        raise UserError(f"{path}: empty file")
    return data


def _load_image(path: Path, domain: str) -> np.ndarray:
    from sandwich.core.images import ImageError, load_for_domain

    if not path.is_file():
        raise UserError(f"{path}: no such file")
    try:
        return load_for_domain(path, domain)
    except (ImageError, ValueError, OSError) as err:
        raise UserError(f"{path}: cannot read as {DOMAINS[domain][2]}: {err}") from err


def _parse_rate_point(method, text: str):
    for point in method.rate_points:
        if str(point) == text:
            return point
    try:
        value = type(method.rate_points[0])(text)
    except (ValueError, IndexError, TypeError):
        value = text
    return value


def _build(name: str):
    try:
        return build_method(name)
    except UnknownMethod as err:
        raise UserError(f"{err.args[0]}; `sandwich methods` lists them", EXIT_USAGE) from err


def compress(args) -> int:
    method = _build(args.method)
    image = _load_image(Path(args.input), method.domain)
    start = time.perf_counter()
    if args.target_bpp is not None:
        rate_point, data = best_within_target(method, image, args.target_bpp)
    else:
        points = list(method.rate_points)
        rate_point = _parse_rate_point(method, args.rate_point) if args.rate_point else points[len(points) // 2]
        try:
            data = method.encode(image, rate_point)
        except (ValueError, KeyError, TypeError) as err:
            raise UserError(f"{method.name}: rate point {args.rate_point!r} rejected: {err}", EXIT_USAGE) from err
    elapsed = time.perf_counter() - start
    Path(args.output).write_bytes(data)
    height, width = image.shape[:2]
    line = (f"{args.output}: {method.name} {method.rate_param}={rate_point}, {len(data)} bytes, "
            f"{8 * len(data) / (height * width):.4f} bpp ({width}x{height}), {elapsed:.2f} s")  # fmt: skip
    if args.metrics:
        decoded = method.decode(data)
        line += ", " + _metrics_text(image, decoded, method.domain)
    print(line)
    return EXIT_OK


def _metrics_text(image: np.ndarray, decoded: np.ndarray, domain: str) -> str:
    from sandwich.evaluation.metrics import psnr

    peak = DOMAINS[domain][1]
    text = f"PSNR {psnr(image, decoded, peak):.2f} dB"
    if domain == "hdr16":
        from sandwich.evaluation.metrics import pu_psnr

        text += f", PU21-PSNR {pu_psnr(image, decoded):.2f} dB"
    return text


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

    data = _read_bytes(Path(args.input))
    name = _method_of(data, args.method)
    method = _build(name)
    out = Path(args.output)
    suffix = out.suffix.lower()
    if suffix not in (".exr", ".png"):
        raise UserError(f"{out}: write .exr (linear HDR) or .png", EXIT_USAGE)
    if suffix == ".exr" and method.domain != "hdr16":
        raise UserError(f"{out}: {name} decodes 8-bit images; write a .png", EXIT_USAGE)
    start = time.perf_counter()
    try:
        image = method.decode(data)
    except DecodeError as err:
        raise UserError(f"{args.input}: {err}") from err
    elapsed = time.perf_counter() - start
    if suffix == ".exr":
        write_exr(out, pq16_to_nits(image) / 203.0)  # 1.0 = SDR reference white (203 cd/m²)
    else:
        write_png(out, image)
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
        for line in build_method(parsed.method).describe_layers(parsed.layers):
            print(line)
    else:
        print("note:      this checkout has no such method")
    return EXIT_OK if opens else EXIT_INPUT


def methods(args) -> int:
    for name in method_names():
        try:
            method = build_method(name)
        except Exception as err:  # e.g. a checkpoint missing from this checkout
            print(f"{name:<22} unavailable: {err}")
            continue
        points = ", ".join(map(str, method.rate_points))
        print(f"{name:<22} {method.domain:<6} {method.rate_param}: {points}")
    return EXIT_OK


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="sandwich", description=__doc__.splitlines()[0])
    commands = top.add_subparsers(dest="command", required=True)
    c = commands.add_parser("compress", help="image -> bitstream file")
    c.add_argument("input")
    c.add_argument("output")
    c.add_argument("--method", required=True)
    rate = c.add_mutually_exclusive_group()
    rate.add_argument("--rate-point", help="one of the method's rate points (default: the middle one)")
    rate.add_argument("--target-bpp", type=float, help="the best point whose real rate is at most B bpp (else the smallest file)", metavar="B")
    c.add_argument("--metrics", action="store_true", help="also decode and print PSNR (and PU21-PSNR) against the input")
    c.set_defaults(run=compress)
    d = commands.add_parser("decompress", help="bitstream file -> .exr (linear) or .png")
    d.add_argument("input")
    d.add_argument("output")
    d.add_argument("--method", help="only for bare codec files, which carry no project header")
    d.set_defaults(run=decompress)
    i = commands.add_parser("info", help="what a bitstream file holds")
    i.add_argument("file")
    i.set_defaults(run=info)
    m = commands.add_parser("methods", help="every method with its domain and rate grid")
    m.set_defaults(run=methods)
    return top


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        return args.run(args)
    except UserError as err:
        print(f"sandwich {args.command}: {err}", file=sys.stderr)
        return err.code


if __name__ == "__main__":
    sys.exit(main())
