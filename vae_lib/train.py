"""Training and evaluation loops for data held in memory (Chapter 1 onwards).

The whole data set lives on the device; each epoch draws a random permutation there and
slices batches by index, so no DataLoader, no per-batch copies and no host
synchronisation inside the step loop (losses are summed on the device and read once per
epoch; inputs' values are checked on the first batch only, since reading a min or max
would make the host wait). On CUDA the step runs under bf16 autocast with fused Adam.
Options measured in the Performance appendix: fused Adam on the CPU, a warm-up + cosine
learning-rate schedule, ``torch.compile`` (off by default: on the CPU its compile time
outweighs its faster epochs in a short run) and :func:`scaled_learning_rate` for larger
batches.
"""

from __future__ import annotations

import contextlib
import inspect
import math
import numbers
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Protocol

import torch
from torch import nn
from tqdm.auto import trange

from .models import evaluating, keeping_mode
from .runtime import resolve_device
from .validate import (
    check_bool,
    check_callable,
    check_choice,
    check_images,
    check_instance,
    check_model_dtype,
    check_positive_float,
    check_positive_int,
    check_seed,
    value_checks,
)

# (model, x (B, ...)[, y (B, ...)]) -> per-example loss (B,)
LossFn = Callable[..., torch.Tensor]
# e.g. dynamic binarisation
BatchTransform = Callable[[torch.Tensor, torch.Generator], torch.Tensor]
LR_SCHEDULES = ("constant", "cosine")
WARMUP_FRACTION = 0.05  # of all steps, for the cosine schedule


def scheduled_lr(
    step: int, total_steps: int, lr: float, schedule: str = "constant"
) -> float:
    """The learning rate of step ``step`` (0-based) out of ``total_steps``.

    ``"constant"``: always ``lr``. ``"cosine"``: a linear warm-up to ``lr`` over the
    first 5 % of the steps, then a half cosine that would reach zero one step after the
    last (Loshchilov & Hutter 2017; Goyal et al. 2017 for the warm-up).
    """
    check_choice(schedule, "schedule", LR_SCHEDULES)
    total_steps = check_positive_int(total_steps, "total_steps")
    lr = check_positive_float(lr, "lr")
    if (
        isinstance(step, bool)
        or not isinstance(step, numbers.Integral)
        or not 0 <= step < total_steps
    ):
        raise ValueError(f"step must be an int in [0, {total_steps}), got {step!r}")
    step = int(step)
    if schedule == "constant":
        return lr
    warmup = max(1, round(WARMUP_FRACTION * total_steps))
    if step < warmup:
        return lr * (step + 1) / warmup
    progress = (step - warmup) / max(1, total_steps - warmup)
    return lr * 0.5 * (1.0 + math.cos(math.pi * progress))


LR_RULES = ("sqrt", "linear")


def scaled_learning_rate(
    batch_size: int,
    base_lr: float = 1e-3,
    base_batch_size: int = 128,
    rule: str = "linear",
) -> float:
    """Adam's learning rate for ``batch_size``, from one that works at
    ``base_batch_size``.

    ``rule="sqrt"``: lr = base_lr * sqrt(batch_size / base_batch_size), the rule derived
    for Adam by Malladi et al. (2022); ``"linear"``:
    lr = base_lr * batch_size / base_batch_size, the rule of Goyal et al. (2017) for
    SGD, the default because it kept more of the final quality in the Performance
    appendix's measurement (within 0.2 nats at 4x the batch, 3.4 nats short at 16x).
    """
    check_positive_int(batch_size, "batch_size")
    check_positive_int(base_batch_size, "base_batch_size")
    check_positive_float(base_lr, "base_lr")
    check_choice(rule, "rule", LR_RULES)
    ratio = batch_size / base_batch_size
    return base_lr * (math.sqrt(ratio) if rule == "sqrt" else ratio)


def _check_betas(betas: object) -> None:
    def in_unit_interval(b: object) -> bool:
        return (
            isinstance(b, numbers.Real)
            and not isinstance(b, bool)
            and 0 <= float(b) < 1
        )

    if not (
        isinstance(betas, tuple)
        and len(betas) == 2
        and all(in_unit_interval(b) for b in betas)
    ):
        raise ValueError(f"betas must be a pair of numbers in [0, 1), got {betas!r}")


@dataclass(frozen=True)
class SpeedSettings:
    """How :func:`fit` trains fast, each measured in the Performance appendix.

    ``mixed_precision``: None (default) runs the step under bf16 autocast on CUDA only;
    False keeps float32 (for exact comparisons, as in Chapter 1's PCA check).
    ``lr_schedule``: ``"constant"`` or ``"cosine"`` (see :func:`scheduled_lr`).
    ``betas``: Adam's. ``fused_adam``: None (default) fuses Adam's update on CUDA only,
    True also on the CPU (faster there, but it rounds differently, so the shipped
    checkpoints are trained without it). ``torch_compile``: compile the loss computation
    with ``torch.compile`` (off by default: on the CPU its compile time outweighs its
    faster epochs in a short run).
    """

    mixed_precision: bool | None = None
    lr_schedule: str = "constant"
    betas: tuple[float, float] = (0.9, 0.999)
    fused_adam: bool | None = None
    torch_compile: bool = False

    def __post_init__(self) -> None:
        check_choice(self.lr_schedule, "lr_schedule", LR_SCHEDULES)
        _check_betas(self.betas)
        check_bool(self.mixed_precision, "mixed_precision", optional=True)
        check_bool(self.fused_adam, "fused_adam", optional=True)
        check_bool(self.torch_compile, "torch_compile")


class HasLoss(Protocol):
    """A model that scores a batch itself: ``loss(x)`` or ``loss(x, y)`` -> (B,)."""

    def loss(self, *batch: torch.Tensor) -> torch.Tensor: ...


def _loss_inputs(model: object) -> tuple[int, float]:
    """How many tensors ``model.loss`` takes by position: (required, at most); fails
    unless the model has a ``loss`` method."""
    loss = getattr(model, "loss", None)
    if not callable(loss):
        raise TypeError(
            f"model must have a loss method when no loss_fn is given, got "
            f"{type(model).__name__}"
        )
    positional = [
        p
        for p in inspect.signature(loss).parameters.values()
        if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD, p.VAR_POSITIONAL)
    ]
    if any(p.kind == p.VAR_POSITIONAL for p in positional):
        return 0, math.inf
    required = sum(p.default is p.empty for p in positional)
    return required, len(positional)


def model_loss(model: HasLoss, *batch: torch.Tensor) -> torch.Tensor:
    """The default loss: the model's own ``loss(x)`` or ``loss(x, y)``, per example
    (B,). Targets given to a model whose ``loss`` takes none (an autoencoder, a VAE)
    are refused: they would otherwise land in a keyword such as ``beta``."""
    required, at_most = _loss_inputs(model)
    if not required <= len(batch) <= at_most:
        raise TypeError(
            f"batch holds {len(batch)} tensor(s) (the images"
            f"{' and targets' if len(batch) > 1 else ''}) but "
            f"{type(model).__name__}.loss takes {_count(required, at_most)}: "
            + (
                "give targets only to a model whose loss uses them, or a loss_fn that "
                "does"
                if len(batch) > at_most
                else "this model's loss needs targets"
            )
        )
    return model.loss(*batch)


def _count(required: int, at_most: float) -> str:
    return str(required) if required == at_most else f"{required} to {at_most}"


def _check_loss_inputs(
    model: nn.Module, loss_fn: LossFn, y: torch.Tensor | None, name: str
) -> None:
    """With the default ``loss_fn``, targets ``y`` (called ``name``) must be given
    exactly when the model's ``loss`` takes them."""
    if loss_fn is not model_loss:
        return
    required, at_most = _loss_inputs(model)
    given = 1 if y is None else 2
    if not required <= given <= at_most:
        raise ValueError(
            f"{name} was given, but {type(model).__name__}.loss takes no targets "
            "(pass a loss_fn that uses them)"
            if y is not None
            else f"{name} must be given: {type(model).__name__}.loss needs targets"
        )


def _check_data(
    x: object, name: str, image_shape: tuple[int, ...] | None = None
) -> torch.Tensor:
    """Images (N, C, H, W) (of ``image_shape``, if given), finite, at least one."""
    x = check_images(x, name, image_shape=image_shape, unit_range=False)
    if x.shape[0] == 0:
        raise ValueError(f"{name} must hold at least one image, got an empty batch")
    return x


@contextlib.contextmanager
def _naming(names: str) -> Iterator[None]:
    """A ValueError or TypeError raised inside the block (by the model or the loss,
    which call their inputs x and y) says which of the caller's arguments it came
    from."""
    try:
        yield
    except (ValueError, TypeError) as error:
        try:
            renamed = type(error)(f"{error} (in a batch of {names})")
        except Exception:  # noqa: BLE001 - an exception class with other arguments
            raise error from None
        raise renamed from error


def _check_targets(y: torch.Tensor | None, x: torch.Tensor, name: str) -> None:
    if y is not None and (
        not isinstance(y, torch.Tensor) or y.shape[:1] != x.shape[:1]
    ):
        got = tuple(y.shape) if isinstance(y, torch.Tensor) else type(y).__name__
        raise ValueError(
            f"{name} must be a tensor with one row per image ({x.shape[0]}), got {got}"
        )


@dataclass
class History:
    """Mean per-example loss after each epoch (train and, if given, validation), seconds
    per epoch (validation included) and seconds spent in the training steps alone."""

    train_loss: list[float] = field(default_factory=list)
    val_loss: list[float] = field(default_factory=list)
    epoch_seconds: list[float] = field(default_factory=list)
    train_seconds: list[float] = field(default_factory=list)
    device: str = "cpu"

    @property
    def total_seconds(self) -> float:
        return sum(self.epoch_seconds)


@contextlib.contextmanager
def _seeded_global_rng(seed: int, device: torch.device):
    """Seed torch's global generators for the block (models such as the VAE draw noise
    from them) and restore the caller's generator state afterwards."""
    devices = [device.index or 0] if device.type == "cuda" else []
    with torch.random.fork_rng(devices=devices):
        torch.manual_seed(seed)
        yield


def _autocast(device: torch.device, mixed_precision: bool | None):
    """bf16 autocast: on by default on CUDA only; ``mixed_precision=False`` keeps
    float32 everywhere."""
    enabled = (
        device.type == "cuda"
        if mixed_precision is None
        else mixed_precision and device.type == "cuda"
    )
    return torch.autocast(
        device_type=device.type, dtype=torch.bfloat16, enabled=enabled
    )


@torch.no_grad()
def evaluate(
    model: nn.Module,
    x: torch.Tensor,
    *,
    y: torch.Tensor | None = None,
    loss_fn: LossFn = model_loss,
    batch_size: int = 1000,
    transform: BatchTransform | None = None,
    seed: int = 0,
    mixed_precision: bool | None = None,
) -> float:
    """Mean per-example loss over ``x`` (N, C, H, W) [and targets ``y`` (N, ...)] in
    eval mode.

    ``mixed_precision`` as in :func:`fit`. Every argument after ``x`` is
    keyword-only.
    """
    check_instance(model, "model", nn.Module)
    x = _check_data(x, "x")
    _check_targets(y, x, "y")
    batch_size = check_positive_int(batch_size, "batch_size")
    seed = check_seed(seed)
    check_callable(loss_fn, "loss_fn")
    if transform is not None:
        check_callable(transform, "transform")
    check_bool(mixed_precision, "mixed_precision", optional=True)
    _check_loss_inputs(model, loss_fn, y, "y")
    _check_model_dtype(x, model, "x")
    return _evaluate(
        model,
        x,
        y,
        loss_fn=loss_fn,
        batch_size=batch_size,
        transform=transform,
        seed=seed,
        mixed_precision=mixed_precision,
        names=("x", "y"),
    )


def _check_model_dtype(x: torch.Tensor, model: nn.Module, name: str) -> None:
    """Data in the dtype of the model's weights (:func:`check_model_dtype`'s rule), for
    a model that has floating-point weights."""
    if any(p.is_floating_point() for p in model.parameters()):
        check_model_dtype(x, model, name)


def _evaluate(
    model: nn.Module,
    x: torch.Tensor,
    y: torch.Tensor | None,
    *,
    loss_fn: LossFn,
    batch_size: int,
    transform: BatchTransform | None,
    seed: int,
    mixed_precision: bool | None,
    names: tuple[str, str],
) -> float:
    """:func:`evaluate` on checked arguments; errors from the model name its data
    ``names`` (images, targets)."""
    device = next(model.parameters()).device
    x = x.to(device)
    y = y.to(device) if y is not None else None
    generator = torch.Generator(device=device).manual_seed(seed)
    total = torch.zeros((), device=device)
    with evaluating(model), _seeded_global_rng(seed, device):
        for start in range(0, x.shape[0], batch_size):
            batch = x[start : start + batch_size]
            if transform is not None:
                batch = transform(batch, generator)
            targets = () if y is None else (y[start : start + batch_size],)
            with (
                _autocast(device, mixed_precision),
                value_checks(start == 0),
                _naming(names[0] if y is None else " and ".join(names)),
            ):
                loss = _check_per_example(loss_fn(model, batch, *targets), batch)
            total += loss.float().sum()
    return total.item() / x.shape[0]


class NonFiniteTrainingError(FloatingPointError):
    """Training produced nan or inf; :func:`fit` put back the last finite weights."""


def _check_per_example(loss: torch.Tensor, batch: torch.Tensor) -> torch.Tensor:
    """``loss_fn``'s result must be one loss per example, (B,): a batch mean would be
    minimised just the same but reported as if it were one image's loss."""
    if not isinstance(loss, torch.Tensor) or loss.shape != (batch.shape[0],):
        got = (
            tuple(loss.shape) if isinstance(loss, torch.Tensor) else type(loss).__name__
        )
        raise ValueError(
            f"loss_fn must return one loss per example, shaped ({batch.shape[0]},) "
            f"for this batch, got {got}"
        )
    return loss


def _snapshot(model: nn.Module, optimizer: torch.optim.Optimizer) -> tuple[dict, dict]:
    """Copies of the weights and of Adam's state, on their devices (no host sync)."""
    weights = {k: v.detach().clone() for k, v in model.state_dict().items()}
    state = {
        param: {
            k: v.clone() if isinstance(v, torch.Tensor) else v for k, v in s.items()
        }
        for param, s in optimizer.state.items()
    }
    return weights, state


def _restore(
    model: nn.Module, optimizer: torch.optim.Optimizer, snapshot: tuple[dict, dict]
) -> None:
    weights, state = snapshot
    model.load_state_dict(weights)
    optimizer.state.clear()
    optimizer.state.update(state)


def _all_finite(model: nn.Module) -> torch.Tensor:
    """Whether every weight is finite: a bool tensor on the model's device (no sync)."""
    flags = [p.detach().isfinite().all() for p in model.parameters()]
    return torch.stack(flags).all() if flags else torch.tensor(True)


def _non_finite(
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    last_finite: tuple[dict, dict],
    epoch: int,
    num_epochs: int,
    lr: float,
) -> NonFiniteTrainingError:
    """Put back the epoch's starting state; the error that says so."""
    _restore(model, optimizer, last_finite)
    kept = (
        "the weights it came with"
        if epoch == 0
        else f"its weights from the end of epoch {epoch}"
    )
    return NonFiniteTrainingError(
        f"fit: the loss or the weights became nan or inf during epoch {epoch + 1} of "
        f"{num_epochs}; the model holds {kept}. A smaller learning rate than "
        f"lr={lr:g} usually helps."
    )


def fit(
    model: nn.Module,
    train_x: torch.Tensor,
    *,
    train_y: torch.Tensor | None = None,
    num_epochs: int,
    batch_size: int = 128,
    lr: float = 1e-3,
    seed: int = 0,
    val_x: torch.Tensor | None = None,
    val_y: torch.Tensor | None = None,
    loss_fn: LossFn = model_loss,
    transform: BatchTransform | None = None,
    device: str | torch.device | None = None,
    progress: bool = True,
    speed: SpeedSettings = SpeedSettings(),
) -> History:
    """Train ``model`` with Adam on images ``train_x`` (N, C, H, W); return a
    :class:`History`.

    ``loss_fn(model, x)`` -- or ``loss_fn(model, x, y)`` when targets ``train_y``
    (N, ...) are given -- returns a per-example loss (B,) whose mean is minimised
    (default: the model's ``loss``). ``transform(batch, generator)`` is applied to each
    batch (e.g. :func:`vae_lib.data.binarize_dynamic`). The device defaults to the
    fastest one present; ``seed`` fixes the batch order and any randomness drawn from
    the generator. ``speed``: see :class:`SpeedSettings`; validation is always float32.
    The model ends in the train/eval mode it came in.

    If the loss or the weights become nan or inf during an epoch, ``fit`` puts back the
    weights and Adam's state from the start of that epoch and raises
    :class:`NonFiniteTrainingError` naming it (checked once per epoch, with the epoch's
    one host synchronisation). ``loss_fn`` must return shape (B,) (a ValueError says
    so).

    Every argument after ``train_x`` is keyword-only (``train_y=`` too, so that labels
    are never taken for something else). With the default ``loss_fn``, targets are
    refused for a model whose ``loss`` takes none.
    """
    check_instance(model, "model", nn.Module)
    train_x = _check_data(train_x, "train_x")
    num_epochs = check_positive_int(num_epochs, "num_epochs")
    batch_size = check_positive_int(batch_size, "batch_size")
    lr = check_positive_float(lr, "lr")
    seed = check_seed(seed)
    check_callable(loss_fn, "loss_fn")
    if transform is not None:
        check_callable(transform, "transform")
    check_bool(progress, "progress")
    if not isinstance(speed, SpeedSettings):
        raise TypeError(f"speed must be a SpeedSettings, got {type(speed).__name__}")
    _check_targets(train_y, train_x, "train_y")
    _check_loss_inputs(model, loss_fn, train_y, "train_y")
    _check_model_dtype(train_x, model, "train_x")
    if val_x is not None:
        val_x = _check_data(val_x, "val_x", tuple(train_x.shape[1:]))
        _check_targets(val_y, val_x, "val_y")
        _check_model_dtype(val_x, model, "val_x")
        if (val_y is None) != (train_y is None):
            raise ValueError(
                "val_y must be given with val_x exactly when train_y is, got "
                f"train_y {'None' if train_y is None else 'given'} and val_y "
                f"{'None' if val_y is None else 'given'}"
            )
    elif val_y is not None:
        raise ValueError("val_y was given without val_x")
    device = resolve_device(device)
    model.to(device)
    train_x = train_x.to(device)  # no copy when already there
    train_y = train_y.to(device) if train_y is not None else None
    generator = torch.Generator(device=device).manual_seed(seed)
    fused = device.type == "cuda" if speed.fused_adam is None else speed.fused_adam
    optimizer = torch.optim.Adam(
        model.parameters(), lr=lr, betas=speed.betas, fused=fused
    )
    # two batch shapes at most
    step_loss = (
        torch.compile(loss_fn, dynamic=False) if speed.torch_compile else loss_fn
    )
    history = History(device=str(device))
    epochs = trange(num_epochs, desc="epochs", disable=not progress, leave=True)
    n = train_x.shape[0]
    total_steps, step = num_epochs * math.ceil(n / batch_size), 0
    # noise drawn inside the model (a VAE's) follows the seed; the caller's train/eval
    # modes come back afterwards
    with _seeded_global_rng(seed, device), keeping_mode(model):
        for epoch in epochs:
            start = time.perf_counter()
            model.train()
            last_finite = _snapshot(model, optimizer)
            total = torch.zeros((), device=device)
            order = torch.randperm(n, generator=generator, device=device)
            try:
                for first in range(0, n, batch_size):
                    index = order[first : first + batch_size]
                    batch = train_x[index]
                    if transform is not None:
                        batch = transform(batch, generator)
                    targets = () if train_y is None else (train_y[index],)
                    # The first batch is validated fully; later ones skip value checks
                    # (no host sync).
                    with (
                        _autocast(device, speed.mixed_precision),
                        value_checks(not history.train_loss and first == 0),
                        _naming(
                            "train_x" if train_y is None else "train_x and train_y"
                        ),
                    ):
                        per_example = _check_per_example(
                            step_loss(model, batch, *targets), batch
                        )
                    optimizer.zero_grad(set_to_none=True)
                    per_example.mean().backward()
                    # a constant rate stays as Adam was built with it
                    if speed.lr_schedule != "constant":
                        for group in optimizer.param_groups:
                            group["lr"] = scheduled_lr(
                                step, total_steps, lr, speed.lr_schedule
                            )
                    optimizer.step()
                    step += 1
                    total += per_example.detach().float().sum()
            except Exception as error:
                # one host sync, only on failure: a model gone non-finite mid-epoch
                # fails in many ways (a distribution refusing a nan mean, ...)
                if bool(_all_finite(model)):
                    raise
                raise _non_finite(
                    model, optimizer, last_finite, epoch, num_epochs, lr
                ) from error
            # the one host sync of the epoch: the summed loss, and whether every
            # weight is still finite
            summed, weights_ok = torch.stack(
                [total, _all_finite(model).float()]
            ).tolist()
            if not (math.isfinite(summed) and weights_ok):
                raise _non_finite(model, optimizer, last_finite, epoch, num_epochs, lr)
            history.train_loss.append(summed / n)
            history.train_seconds.append(time.perf_counter() - start)
            if val_x is not None:
                # Validation in float32: the numbers reported do not depend on bf16
                # rounding.
                history.val_loss.append(
                    _evaluate(
                        model,
                        val_x,
                        val_y,
                        loss_fn=loss_fn,
                        batch_size=1000,
                        transform=transform,
                        seed=seed,
                        mixed_precision=False,
                        names=("val_x", "val_y"),
                    )
                )
            history.epoch_seconds.append(time.perf_counter() - start)
            shown = {"train": f"{history.train_loss[-1]:.2f}"}
            if history.val_loss:
                shown["val"] = f"{history.val_loss[-1]:.2f}"
            epochs.set_postfix(shown)
    return history
