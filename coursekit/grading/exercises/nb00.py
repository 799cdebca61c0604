"""Graded exercises of notebook 00 (tensors, devices and the course toolkit)."""

from __future__ import annotations

import numpy as np
import torch

from coursekit.checks import nb00
from coursekit.grading.spec import Call, Exercise

# --------------------------------------------------------------------------- to_nchw
_NCHW_DTYPES = (np.uint8, np.int16, np.int32, np.float32, np.float64)


def _images(rng: np.random.Generator, shape: tuple[int, ...], dtype: type) -> np.ndarray:
    """Random images of ``shape``: integers over the dtype's range, or real-valued floats."""
    if np.dtype(dtype).kind in "iu":
        info = np.iinfo(dtype)
        return rng.integers(info.min, int(info.max) + 1, size=shape).astype(dtype)
    return (rng.normal(size=shape) * rng.uniform(0.5, 300.0)).astype(dtype)


def _nchw_calls(rng: np.random.Generator) -> list[Call]:
    def shape(c: int | None = None) -> tuple[int, int, int, int]:
        n, h, w = (int(s) for s in rng.integers(1, 6, size=3))
        return n, h, w, c if c is not None else int(rng.integers(2, 5))

    calls = []
    for dtype, label in (
        (np.float32, "float32 images"),
        (np.float64, "float64 images"),
        (np.int16, "signed integer images"),
        (_NCHW_DTYPES[rng.integers(len(_NCHW_DTYPES))], "images of a random dtype"),
    ):
        calls.append(Call((_images(rng, shape(), dtype),), label=label))
    calls.append(Call((_images(rng, shape(1), np.uint8),), label="one channel"))
    h, w = (int(s) for s in rng.choice(np.arange(2, 9), size=2, replace=False))
    c = int(rng.integers(2, 5))
    calls.append(Call((_images(rng, (1, h, w, c), np.float64),), label="one non-square image"))
    return calls


def _nchw_reference(images: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(images)).permute(0, 3, 1, 2).to(torch.float32)


# --------------------------------------------------------------------------- memory_mib
_MEMORY_DTYPES = (
    torch.float32,
    torch.float64,
    torch.float16,
    torch.bfloat16,
    torch.uint8,
    torch.int8,
    torch.int16,
    torch.int32,
    torch.int64,
    torch.bool,
    torch.complex64,
)


def _random_shape(rng: np.random.Generator, ndim: int, high: int) -> tuple[int, ...]:
    return tuple(int(s) for s in rng.integers(1, high + 1, size=ndim))


def _memory_calls(rng: np.random.Generator) -> list[Call]:
    def dtype() -> torch.dtype:
        return _MEMORY_DTYPES[rng.integers(len(_MEMORY_DTYPES))]

    calls = [
        Call((_random_shape(rng, 4, 300), torch.float32), label="float32 batch"),
        Call((_random_shape(rng, 2, 5000), torch.int64), label="64-bit integers"),
        Call((_random_shape(rng, 2, 40), torch.bfloat16), label="bfloat16"),
        Call((_random_shape(rng, 3, 100), torch.float16), label="float16"),
        Call((_random_shape(rng, 1, 10**7), dtype()), label="one dimension"),
        Call((_random_shape(rng, int(rng.integers(1, 6)), 60), dtype()), label="random dtype"),
        Call((_random_shape(rng, 2, 64), torch.bool), label="booleans"),
    ]
    return calls


def _memory_reference(shape: tuple[int, ...], dtype: torch.dtype) -> float:
    # An independent count: the bytes torch would allocate, without allocating them.
    return torch.empty(shape, dtype=dtype, device="meta").nbytes / 2**20


# --------------------------------------------------------------------------- standardize
def _standardize_calls(rng: np.random.Generator) -> list[Call]:
    def batch(n: int, c: int, label: str) -> Call:
        h, w = (int(s) for s in rng.integers(2, 6, size=2))
        scales = 10.0 ** rng.uniform(-2, 2.5, size=c)  # channels on very different scales
        offsets = scales * rng.uniform(-5, 5, size=c)
        x = rng.normal(size=(n, c, h, w)) * scales[None, :, None, None]
        x += offsets[None, :, None, None]
        return Call((x,), label=label)

    return [
        batch(int(rng.integers(2, 8)), int(rng.integers(2, 5)), "channels on different scales"),
        batch(1, int(rng.integers(2, 5)), "a single image"),
        batch(int(rng.integers(2, 8)), 1, "one channel"),
        batch(int(rng.integers(2, 5)), int(rng.integers(4, 9)), "many channels"),
    ]


def _standardize_reference(x: np.ndarray) -> np.ndarray:
    t = torch.from_numpy(x)
    mean = t.mean(dim=(0, 2, 3), keepdim=True)
    std = t.std(dim=(0, 2, 3), keepdim=True, correction=0)  # population std, as np.std
    return ((t - mean) / std).numpy()


EXERCISES = [
    Exercise(
        grade_id="nb00-to-nchw-tests",
        target="to_nchw",
        check=nb00.check_to_nchw,
        hidden=_nchw_calls,
        reference=_nchw_reference,
        exact=True,
    ),
    Exercise(
        grade_id="nb00-memory-tests",
        target="memory_mib",
        check=nb00.check_memory_mib,
        hidden=_memory_calls,
        reference=_memory_reference,
        rtol=1e-12,
        atol=0.0,
    ),
    Exercise(
        grade_id="nb00-standardize-tests",
        target="standardize_channels",
        check=nb00.check_standardize_channels,
        hidden=_standardize_calls,
        reference=_standardize_reference,
        rtol=1e-10,
        atol=1e-12,
    ),
]
