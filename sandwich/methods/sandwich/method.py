"""A trained sandwich (or post-only network) as a Method: pre-process -> real codec -> post-process.

The bitstream is the codec's standard file (JPEG with step tables, flat or shaped as the models
were trained, or HEIC) of the 8-bit bottleneck, with the project header inside it; the header's
two layers name the model (its λ key) and carry the first bytes of the checkpoint's SHA-256, so a
decoder holding other weights refuses the file. One method holds several λ models: a rate point
is "<model>/<codec setting>", and the evaluator's Pareto frontier across them is the method's RD
curve, as in the paper.

A step-table JPEG codes each model's points with the tables that model trained through (flat, or
shaped by its `tilt` and `chroma`; they travel in its checkpoint); the codec's own are left flat.
JPEG settings sweep the (base) step Δ′ around each model's learned Δ (`step_factors`, Δ′ =
max(1, round(Δ·f))) or over an explicit list (`settings`, e.g. the post-only ablation's grid);
HEIC settings are qualities.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np

from sandwich.core.bitstream import Header
from sandwich.core.contract import Method
from sandwich.core.domains import DOMAINS, TASKS
from sandwich.core.errors import DecodeError
from sandwich.core.paths import PROJECT_ROOT
from sandwich.methods import checkpoint
from sandwich.methods.sandwich.model import Sandwich, load_sandwich
from sandwich.methods.wrapped import require_8bit_with_header


def swept_steps(learned_step: float, factors: Sequence[float]) -> list[int]:
    """The (base) steps Δ′ = max(1, round(Δ·f)) swept around a learned Δ, coarsest first."""
    return sorted({max(1, round(learned_step * f)) for f in factors}, reverse=True)


RUNTIMES = ("torch", "onnxruntime")


class SandwichMethod(Method):
    def __init__(
        self,
        name: str,
        codec: Method,
        checkpoints: Mapping[str, str],
        step_factors: Sequence[float] | None = None,
        settings: Sequence[int] | None = None,
        root: str | Path = PROJECT_ROOT,
        tables: tuple[float, float] | None = None,
        runtime: str = "torch",
    ):
        """`tables` = (tilt, chroma) codes every model with these step tables instead of the ones
        it trained through: a what-if (`sandwich.tools.validate --tables`), never the bench's.
        `runtime`: what runs the processors' U-Net layers, "torch" or "onnxruntime"
        (sandwich.methods.sandwich.onnx_runtime); part of the method, since decodes differ by float rounding."""
        require_8bit_with_header(codec, name)
        if (step_factors is None) == (settings is None):
            raise ValueError(f"{name}: give exactly one of step_factors (step-table JPEG) and settings")
        if step_factors is not None and codec.rate_param != "step":
            raise ValueError(f"{name}: step_factors sweep a step-table JPEG, not {codec.name}")
        if runtime not in RUNTIMES:
            raise ValueError(f"{name}: runtime must be one of {RUNTIMES}, got {runtime!r}")
        self.name, self.codec, self.settings, self.runtime = name, codec, settings, runtime
        self.rate_param = f"model/{codec.rate_param}"
        self.models, self.meta, self.paths = {}, {}, {}
        for key, path in checkpoints.items():
            if "/" in key:
                raise ValueError(f"{name}: model key {key!r} may not contain '/'")
            self.paths[key] = Path(root) / path
            self.models[key], self.meta[key] = load_sandwich(self.paths[key])
            if runtime == "onnxruntime":
                self.models[key].use_onnxruntime()
        tasks = {model.task for model in self.models.values()}
        if len(tasks) != 1:
            raise ValueError(f"{name}: checkpoints mix tasks {sorted(tasks)}")
        self.task = tasks.pop()
        self.domain = TASKS[self.task].domain
        self.dtype = DOMAINS[self.domain][0]
        if codec.rate_param == "step" and (codec.tilt, codec.chroma) != (0.0, 1.0):
            raise ValueError(
                f"{name}: the step tables are each model's own (the tilt and chroma it trained with); "
                f"leave the codec's at the flat default, not {(codec.tilt, codec.chroma)}"
            )
        if tables and codec.rate_param != "step":
            raise ValueError(f"{name}: tables shape a step-table JPEG's, and {codec.name} has none")
        # each model codes with the tables its proxy trained through: like Δ, they are part of the model
        self.codecs = {
            key: codec.with_tables(*(tables or (model.proxy.tilt, model.proxy.chroma)))
            if codec.rate_param == "step"
            else codec
            for key, model in self.models.items()
        }
        points = []
        for key in self.models:
            if settings is not None:
                grid = list(settings)
            else:
                grid = swept_steps(self.meta[key]["learned_step"], step_factors)
            points += [f"{key}/{s}" for s in grid]
        self.rate_points = tuple(points)
        self._cache: tuple[bytes, np.ndarray] | None = None

    @property
    def description(self) -> str:
        models = ", ".join(
            f"{k}: {self.paths[k].name} (λ={m.get('lmbda')}, learned Δ={m['learned_step']:.2f}, "
            f"{m.get('global_step')} steps, sha256 {m['digest'].hex()})"
            for k, m in self.meta.items()
        )
        kind = "post-only" if next(iter(self.models.values())).pre is None else "pre+post"
        codecs = " | ".join(dict.fromkeys(codec.description for codec in self.codecs.values()))
        runtime = ", U-Nets in ONNX Runtime" if self.runtime == "onnxruntime" else ""
        return f"{self.task.upper()} sandwich ({kind}{runtime}); models {models}; codec: {codecs}"

    def _split(self, rate_point) -> tuple[str, int]:
        key, _, setting = str(rate_point).partition("/")
        if key not in self.models or not setting.isdigit():
            raise ValueError(f"{self.name}: rate point {rate_point!r} is not '<model>/<setting>' of {list(self.models)}")
        return key, int(setting)

    def model_at(self, rate_point) -> Sandwich:
        """The model that codes `rate_point`."""
        return self.models[self._split(rate_point)[0]]

    def check_rate_point(self, rate_point):
        """'<model>/<codec setting>', the setting within the codec's legal range."""
        low, high = self.codec.rate_range or ("?", "?")
        legal = f"{self.rate_param} must be '<model>/<setting>', model one of {list(self.models)}, setting in {low}..{high}"
        try:
            key, setting = self._split(rate_point)
            self.codecs[key].check_rate_point(setting)
        except ValueError:
            raise ValueError(f"{self.name}: rate point {rate_point!r}: {legal}") from None
        return rate_point

    def bottleneck(self, image: np.ndarray, key: str) -> np.ndarray:
        """The pre-processor's uint8 bottleneck; the last one is cached (a sweep re-uses it)."""
        tag = hashlib.blake2b(f"{key}|{image.shape}|{image.dtype}".encode() + image.tobytes(), digest_size=16).digest()
        if self._cache is None or self._cache[0] != tag:
            self._cache = (tag, self.models[key].encode_image(image))
        return self._cache[1]

    def describe_layers(self, layers: list[bytes]) -> list[str]:
        if len(layers) != 2:
            return ["checkpoint: missing from the header"]
        key, digest = layers[0].decode(errors="replace"), layers[1]
        status = checkpoint.holding(digest, self.meta.get(key, {"digest": None}))
        return [f"checkpoint: model {key!r} ({self.paths[key] if key in self.paths else 'unknown key'}), "
                f"sha256 {digest.hex()}...: {status}"]  # fmt: skip

    def clear_cache(self) -> None:
        self._cache = None

    def rate_search_grids(self) -> list[list[str]]:
        """Per model, every JPEG step Δ′ = 255…1 (a target rate often falls between the bench's
        Δ′ points, or beyond a model's sweep); for HEIC, every quality within the settings' range."""
        if self.codec.rate_param == "step":
            settings = range(255, 0, -1)
        else:
            settings = range(min(self.settings), max(self.settings) + 1)
        return [[f"{key}/{setting}" for setting in settings] for key in self.models]

    def _encode(self, image, rate_point):
        key, setting = self._split(rate_point)
        header = Header(self.name, *image.shape[:2], [key.encode(), self.meta[key]["digest"]]).pack()
        return self.codecs[key].encode_with_header(self.bottleneck(image, key), setting, header)

    def _decode(self, data):
        decoded, header = self.codec.decode_checked(data, self.name, TASKS[self.task].scale, layers=2)
        key, digest = header.layers[0].decode(errors="replace"), header.layers[1]
        if key not in self.models:
            raise DecodeError(self.name, f"made by model {key!r}, which this method does not hold")
        checkpoint.require(self.name, digest, self.meta[key])
        return self.models[key].decode_image(decoded, header.height, header.width, self.dtype)
