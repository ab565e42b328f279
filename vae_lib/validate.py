"""Input checks shared by every public function: each failure says what was expected and
what arrived."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from contextvars import ContextVar

import torch

# Checking pixel *values* reads a tensor's min and max, which on a GPU makes the host
# wait for the device. Training loops check their first batch fully and then switch
# value checks off.
_VALUE_CHECKS: ContextVar[bool] = ContextVar("vae_lib_value_checks", default=True)


@contextlib.contextmanager
def value_checks(enabled: bool) -> Iterator[None]:
    """Turn value-range checks on or off inside the block (shape and dtype are always
    checked)."""
    token = _VALUE_CHECKS.set(enabled)
    try:
        yield
    finally:
        _VALUE_CHECKS.reset(token)


def _describe(x: object) -> str:
    if isinstance(x, torch.Tensor):
        return f"a tensor of shape {tuple(x.shape)}, dtype {x.dtype} on {x.device}"
    return f"{type(x).__name__} {x!r}"[:200]


def check_tensor(x: object, name: str) -> torch.Tensor:
    """Fail unless ``x`` is a tensor."""
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {_describe(x)}")
    return x


def check_images(
    x: object,
    name: str = "x",
    *,
    image_shape: Sequence[int] | None = None,
    unit_range: bool = True,
) -> torch.Tensor:
    """Fail unless ``x`` is a floating batch of images (B, C, H, W), optionally
    in [0, 1].

    ``image_shape`` pins (C, H, W) when given.
    """
    x = check_tensor(x, name)
    if x.dim() != 4:
        raise ValueError(
            f"{name} must be a batch of images shaped (B, C, H, W), got {_describe(x)}"
        )
    if image_shape is not None and tuple(x.shape[1:]) != tuple(image_shape):
        raise ValueError(
            f"{name} must have images of shape (C, H, W) = {tuple(image_shape)}, got "
            f"{_describe(x)}"
        )
    if not x.is_floating_point():
        raise TypeError(f"{name} must be a floating-point tensor, got {_describe(x)}")
    if unit_range:
        check_unit_range(x, name)
    return x


def check_unit_range(
    x: torch.Tensor, name: str = "x", requirement: str = "hold pixel values in [0, 1]"
) -> torch.Tensor:
    """Fail unless every value of ``x`` is finite and in [0, 1] (skipped inside
    ``value_checks(False)``)."""
    if (
        _VALUE_CHECKS.get()
        and x.numel()
        and (not torch.isfinite(x).all() or x.min() < 0 or x.max() > 1)
    ):
        raise ValueError(
            f"{name} must {requirement}, got values from "
            f"{x.min().item():.4g} to {x.max().item():.4g} ({_describe(x)})"
        )
    return x


def check_same_shape(a: torch.Tensor, b: torch.Tensor, names: tuple[str, str]) -> None:
    """Fail unless two tensors have the same shape."""
    if a.shape != b.shape:
        raise ValueError(
            f"{names[0]} and {names[1]} must have the same shape, got "
            f"{tuple(a.shape)} and {tuple(b.shape)}"
        )


def check_same_device(a: torch.Tensor, b: torch.Tensor, names: tuple[str, str]) -> None:
    """Fail unless two tensors live on the same device."""
    if a.device != b.device:
        raise ValueError(
            f"{names[0]} is on {a.device} but {names[1]} is on {b.device}: "
            "move them together"
        )


def check_positive_int(value: object, name: str) -> int:
    """Fail unless ``value`` is an int >= 1."""
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ValueError(f"{name} must be a positive int, got {value!r}")
    return value


def check_non_negative_int(value: object, name: str) -> int:
    """Fail unless ``value`` is an int >= 0."""
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise ValueError(f"{name} must be a non-negative int, got {value!r}")
    return value


def check_positive_float(value: object, name: str) -> float:
    """Fail unless ``value`` is a real number > 0."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
        raise ValueError(f"{name} must be a positive number, got {value!r}")
    return float(value)


def check_choice(value: object, name: str, choices: Sequence[str]) -> str:
    """Fail unless ``value`` is one of ``choices``."""
    if value not in choices:
        raise ValueError(f"{name} must be one of {tuple(choices)}, got {value!r}")
    return value  # type: ignore[return-value]


def check_model_dtype(
    t: torch.Tensor, model: torch.nn.Module, name: str
) -> torch.Tensor:
    """Fail unless ``t`` has the dtype of the model's weights: float64 data is never
    silently rounded to float32 (nor the other way)."""
    weights = next(model.parameters()).dtype
    if t.dtype != weights:
        raise TypeError(
            f"{name} is {t.dtype} but the model's weights are {weights}: convert one "
            f"to match, e.g. {name}.to({weights}) or model.to({t.dtype})"
        )
    return t
