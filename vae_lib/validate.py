"""Input checks shared by every public function: each failure says what was expected and
what arrived."""

from __future__ import annotations

import contextlib
import math
import numbers
from collections.abc import Iterator, Mapping, Sequence
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
    """Fail unless ``x`` is a floating batch of images (B, C, H, W) of finite values,
    in [0, 1] unless ``unit_range`` is False.

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
    return check_unit_range(x, name) if unit_range else check_finite(x, name)


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


# Numbers: a Python or NumPy int (float) is accepted wherever an int (a number) is
# meant, and comes back as a Python int (float); a bool is never a number here, and
# nan or inf is never a finite number.


def _integer(value: object) -> int | None:
    """``value`` as a Python int if it is an integer (not a bool), else None."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        return None
    return int(value)


def _finite_real(value: object) -> float | None:
    """``value`` as a Python float if it is a finite real number (not a bool), else
    None."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        return None
    number = float(value)
    return number if math.isfinite(number) else None


def _not_finite(value: object) -> str:
    """The words " (not finite)" for a nan or an inf, to say why it was refused."""
    real = isinstance(value, numbers.Real) and not isinstance(value, bool)
    return " (not finite)" if real and not math.isfinite(float(value)) else ""  # type: ignore[arg-type]


def check_positive_int(value: object, name: str) -> int:
    """Fail unless ``value`` is an integer >= 1 (Python or NumPy, not a bool); return
    it as a Python int."""
    number = _integer(value)
    if number is None or number < 1:
        raise ValueError(f"{name} must be a positive int, got {value!r}")
    return number


def check_non_negative_int(value: object, name: str) -> int:
    """Fail unless ``value`` is an integer >= 0 (Python or NumPy, not a bool); return
    it as a Python int."""
    number = _integer(value)
    if number is None or number < 0:
        raise ValueError(f"{name} must be a non-negative int, got {value!r}")
    return number


def check_seed(value: object, name: str = "seed") -> int:
    """Fail unless ``value`` is an integer in [0, 2**63) (Python or NumPy, not a bool),
    the seeds torch's generators take; return it as a Python int."""
    number = _integer(value)
    if number is None or not 0 <= number < 2**63:
        raise ValueError(
            f"{name} must be a non-negative int below 2**63, got {value!r}"
        )
    return number


def check_finite_float(value: object, name: str) -> float:
    """Fail unless ``value`` is a finite real number (Python or NumPy, not a bool);
    return it as a Python float."""
    number = _finite_real(value)
    if number is None:
        raise ValueError(f"{name} must be a finite number, got {value!r}")
    return number


def check_positive_float(value: object, name: str) -> float:
    """Fail unless ``value`` is a finite real number > 0 (Python or NumPy, not a bool);
    return it as a Python float."""
    number = _finite_real(value)
    if number is None or not number > 0:
        raise ValueError(
            f"{name} must be a positive number, got {value!r}{_not_finite(value)}"
        )
    return number


def check_non_negative_float(value: object, name: str) -> float:
    """Fail unless ``value`` is a finite real number >= 0 (Python or NumPy, not a
    bool); return it as a Python float."""
    number = _finite_real(value)
    if number is None or not number >= 0:
        raise ValueError(
            f"{name} must be a non-negative number, got {value!r}{_not_finite(value)}"
        )
    return number


def check_bool(value: object, name: str, *, optional: bool = False) -> bool | None:
    """Fail unless ``value`` is a bool (or None, when ``optional``)."""
    if not (isinstance(value, bool) or (optional and value is None)):
        expected = "True, False or None" if optional else "True or False"
        raise TypeError(f"{name} must be {expected}, got {_describe(value)}")
    return value


def check_callable(value: object, name: str) -> None:
    """Fail unless ``value`` can be called (a function, a model, ...)."""
    if not callable(value):
        raise TypeError(f"{name} must be callable, got {_describe(value)}")


def check_instance(value: object, name: str, expected: type | tuple[type, ...]) -> None:
    """Fail unless ``value`` is an instance of ``expected`` (e.g. a model class)."""
    if not isinstance(value, expected):
        if isinstance(expected, tuple):
            wanted = "one of " + ", ".join(t.__name__ for t in expected)
        else:
            article = "an" if expected.__name__[0] in "AEIOU" else "a"
            wanted = f"{article} {expected.__name__}"
        raise TypeError(f"{name} must be {wanted}, got {type(value).__name__}")


def check_generator(value: object, name: str = "generator") -> torch.Generator | None:
    """Fail unless ``value`` is None or a ``torch.Generator``."""
    if value is not None and not isinstance(value, torch.Generator):
        raise TypeError(
            f"{name} must be a torch.Generator or None, got {_describe(value)}"
        )
    return value


def check_finite(x: torch.Tensor, name: str = "x") -> torch.Tensor:
    """Fail unless every value of the tensor ``x`` is finite (no nan, no inf; skipped
    inside ``value_checks(False)``)."""
    if _VALUE_CHECKS.get() and x.numel() and not torch.isfinite(x).all():
        bad = int((~torch.isfinite(x)).sum())
        raise ValueError(
            f"{name} must hold finite values, got {bad} nan or inf among them "
            f"({_describe(x)})"
        )
    return x


def check_float_tensor(x: object, name: str) -> torch.Tensor:
    """Fail unless ``x`` is a floating-point tensor of finite values (values checked
    as :func:`check_finite` says)."""
    x = check_tensor(x, name)
    if not x.is_floating_point():
        raise TypeError(f"{name} must be a floating-point tensor, got {_describe(x)}")
    return check_finite(x, name)


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


def check_image_shape(value: object, name: str = "image_shape") -> tuple[int, int, int]:
    """Fail unless ``value`` is (C, H, W), three positive ints; return it as a tuple of
    Python ints."""
    if (
        not isinstance(value, Sequence)
        or isinstance(value, str)
        or len(value) != 3
        or any(_integer(s) is None or s < 1 for s in value)
    ):
        raise ValueError(f"{name} must be (C, H, W) of positive ints, got {value!r}")
    c, h, w = (int(s) for s in value)
    return c, h, w


def check_in_interval(
    value: object,
    name: str,
    low: float,
    high: float,
    *,
    open_low: bool = False,
    open_high: bool = False,
) -> float:
    """Fail unless ``value`` is a finite real number (Python or NumPy, not a bool) from
    ``low`` to ``high``, each end included unless ``open_low`` / ``open_high``; return
    it as a Python float."""
    number = _finite_real(value)
    if (
        number is None
        or (number <= low if open_low else number < low)
        or (number >= high if open_high else number > high)
    ):
        interval = (
            f"{'(' if open_low else '['}{low:g}, {high:g}{')' if open_high else ']'}"
        )
        raise ValueError(
            f"{name} must be a number in {interval}, got {value!r}{_not_finite(value)}"
        )
    return number


def check_not_empty(x: torch.Tensor, name: str, what: str = "image") -> torch.Tensor:
    """Fail unless the tensor ``x`` holds at least one ``what`` along its first
    dimension (where a result over no item, e.g. a mean, would be undefined)."""
    if x.shape[0] == 0:
        raise ValueError(f"{name} must hold at least one {what}, got {_describe(x)}")
    return x


def check_int_tensor(x: object, name: str) -> torch.Tensor:
    """Fail unless ``x`` is a tensor of integers (any integer dtype, not bool)."""
    x = check_tensor(x, name)
    if x.is_floating_point() or x.is_complex() or x.dtype == torch.bool:
        raise TypeError(f"{name} must be a tensor of integers, got {_describe(x)}")
    return x


def check_model_images(
    x: object, model: torch.nn.Module, name: str = "x", *, unit_range: bool = True
) -> torch.Tensor:
    """:func:`check_images` for images a model takes: of the model's image shape
    (``model.config.image_shape``) and, by :func:`check_model_dtype`, of its weights'
    dtype."""
    image_shape = getattr(getattr(model, "config", None), "image_shape", None)
    x = check_images(x, name, image_shape=image_shape, unit_range=unit_range)
    return check_model_dtype(x, model, name)


def check_where(where: object, x: torch.Tensor, name: str = "where") -> torch.Tensor:
    """Fail unless ``where`` is a bool tensor with x's number of dimensions and batch
    size, broadcastable to x's shape (e.g. (B, 1, H, W) for images (B, C, H, W))."""
    where = check_tensor(where, name)
    if (
        where.dtype != torch.bool
        or where.dim() != x.dim()
        or where.shape[0] != x.shape[0]
        or any(w not in (1, s) for w, s in zip(where.shape, x.shape, strict=True))
    ):
        raise ValueError(
            f"{name} must be a bool tensor broadcastable to {tuple(x.shape)} with the "
            f"same batch size, got {where.dtype} {tuple(where.shape)}"
        )
    return where


def check_not_nan(x: torch.Tensor, name: str) -> torch.Tensor:
    """Fail if the tensor ``x`` holds a nan (inf allowed, e.g. a log weight of -inf;
    skipped inside ``value_checks(False)``)."""
    if _VALUE_CHECKS.get() and x.is_floating_point() and x.isnan().any():
        raise ValueError(
            f"{name} must hold no nan, got {int(x.isnan().sum())} ({_describe(x)})"
        )
    return x


def values_checked() -> bool:
    """Whether value checks are on here (off inside ``value_checks(False)``): a check
    that reads values (a min, a max) runs only when this is True."""
    return _VALUE_CHECKS.get()


def check_mapping(value: object, name: str, what: str) -> Mapping:
    """Fail unless ``value`` is a non-empty mapping (``what`` says of what, e.g.
    "labels to images")."""
    if not isinstance(value, Mapping):
        raise TypeError(
            f"{name} must be a mapping of {what}, got {type(value).__name__}"
        )
    if not value:
        raise ValueError(f"{name} must hold at least one entry ({what})")
    return value


def check_number_or_tensor(value: object, name: str) -> float | torch.Tensor:
    """Fail unless ``value`` is a finite real number (returned as a Python float) or a
    floating-point tensor of finite values (returned as is): a quantity such as a loss
    in nats, per example or averaged."""
    if isinstance(value, torch.Tensor):
        return check_float_tensor(value, name)
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a number or a tensor, got {_describe(value)}")
    return check_finite_float(value, name)
