"""vae_lib.train: fit and evaluate on tiny models and tiny random data."""

from __future__ import annotations

import itertools
import math
import time
from typing import ClassVar

import pytest
import torch

import vae_lib.train as train_module
from vae_lib.data import binarize_dynamic
from vae_lib.models import VAE, Autoencoder, AutoencoderConfig, VAEConfig
from vae_lib.train import (
    History,
    SpeedSettings,
    evaluate,
    fit,
    model_loss,
    scaled_learning_rate,
    scheduled_lr,
)

SMALL = {"image_shape": (1, 6, 6), "latent_dim": 2, "hidden_dims": (8,)}
QUIET = {"progress": False, "device": "cpu"}


def make_model(kind: str, seed: int = 0):
    torch.manual_seed(seed)
    return (
        Autoencoder(AutoencoderConfig(**SMALL))
        if kind == "ae"
        else VAE(VAEConfig(**SMALL))
    )


@pytest.fixture
def data(gen):
    """40 images with structure to learn (two prototypes plus noise) and 10 for
    validation."""
    g = gen()
    prototypes = torch.rand(2, 1, 6, 6, generator=g)
    pick = torch.randint(0, 2, (50,), generator=g)
    x = (prototypes[pick] + 0.05 * torch.randn(50, 1, 6, 6, generator=g)).clamp(0, 1)
    return x[:40], x[40:]


def state(model) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def assert_same_state(a: dict, b: dict) -> None:
    assert a.keys() == b.keys()
    assert all(torch.equal(a[k], b[k]) for k in a)


@pytest.mark.parametrize("kind", ["ae", "vae"])
def test_one_epoch_changes_every_parameter(data, kind):
    model = make_model(kind)
    before = state(model)
    fit(model, data[0], num_epochs=1, batch_size=16, **QUIET)
    after = state(model)
    assert before.keys() == after.keys()
    assert all(not torch.equal(before[k], after[k]) for k in before)


@pytest.mark.parametrize("kind", ["ae", "vae"])
@pytest.mark.parametrize("training", [True, False])
def test_evaluate_changes_nothing_and_restores_the_mode(data, kind, training):
    model = make_model(kind)
    model.train(training)
    before = state(model)
    loss = evaluate(model, data[1], batch_size=3)
    assert isinstance(loss, float) and loss > 0
    assert model.training is training
    assert_same_state(before, state(model))


def test_evaluate_is_the_mean_loss_over_all_examples(data):
    model = make_model("ae")
    x = data[0][:10]
    expected = model.loss(x).mean().item()
    # 10 examples in batches of 3: the last batch is short and must weigh by its size.
    assert evaluate(model, x, batch_size=3) == pytest.approx(expected, rel=1e-5)


def test_evaluate_applies_the_transform_with_its_seed(data):
    model = make_model("ae")
    x = data[1]
    expected = (
        model.loss(binarize_dynamic(x, torch.Generator().manual_seed(4))).mean().item()
    )
    assert evaluate(model, x, transform=binarize_dynamic, seed=4) == pytest.approx(
        expected, rel=1e-5
    )


def test_evaluate_restores_the_mode_when_the_loss_fails(data):
    model = make_model("ae")
    model.train()

    def failing(model, x):
        raise ArithmeticError("boom")

    with pytest.raises(ArithmeticError):
        evaluate(model, data[1], loss_fn=failing)
    assert model.training


@pytest.mark.parametrize("kind", ["ae", "vae"])
def test_fit_lowers_the_loss(data, kind):
    # A Bernoulli VAE gets binary data: on grey levels its loss has an entropy floor.
    x = data[0] if kind == "ae" else (data[0] > 0.5).float()
    model = make_model(kind)
    before = evaluate(model, x)
    history = fit(model, x, num_epochs=8, batch_size=8, lr=1e-2, **QUIET)
    assert history.train_loss[-1] < 0.7 * history.train_loss[0]
    assert evaluate(model, x) < 0.7 * before


def test_fit_reports_one_entry_per_epoch(data):
    model = make_model("ae")
    history = fit(model, data[0], num_epochs=3, batch_size=16, val_x=data[1], **QUIET)
    assert isinstance(history, History) and history.device == "cpu"
    assert (
        len(history.train_loss)
        == len(history.val_loss)
        == len(history.epoch_seconds)
        == 3
    )
    assert all(s >= 0 for s in history.epoch_seconds)
    assert history.total_seconds == pytest.approx(sum(history.epoch_seconds))
    # The last validation loss is that of the trained model.
    assert history.val_loss[-1] == pytest.approx(evaluate(model, data[1]), rel=1e-5)
    assert model.training  # as it came in


@pytest.mark.parametrize("kind", ["ae", "vae"])
@pytest.mark.parametrize("training", [True, False], ids=["train", "eval"])
@pytest.mark.parametrize("with_validation", [False, True], ids=["train-only", "val"])
def test_fit_trains_in_train_mode_and_restores_the_callers_mode(
    data, kind, training, with_validation
):
    seen = []

    def recording(model, batch):
        seen.append(model.training)
        return model.loss(batch)

    model = make_model(kind).train(training)
    val_x = data[1] if with_validation else None
    fit(
        model,
        data[0],
        num_epochs=2,
        batch_size=16,
        val_x=val_x,
        loss_fn=recording,
        **QUIET,
    )
    # three training steps an epoch, then (if asked) one validation batch in eval mode
    epoch = [True] * 3 + ([False] if with_validation else [])
    assert seen == epoch * 2
    assert all(m.training is training for m in model.modules())


def test_fit_without_validation_leaves_val_loss_empty(data):
    history = fit(make_model("ae"), data[0], num_epochs=2, **QUIET)
    assert len(history.train_loss) == 2 and history.val_loss == []


def test_fit_sees_every_example_once_per_epoch(data):
    """With a loss that does not depend on the model, the epoch mean is the data's
    mean."""
    model = make_model("ae")
    x = data[0][:37]  # not a multiple of the batch size

    def pixel_sum(model, batch):
        # something to back-propagate through
        anchor = sum(p.sum() for p in model.parameters()) * 0
        return batch.flatten(1).sum(1) + anchor

    history = fit(model, x, num_epochs=2, batch_size=8, loss_fn=pixel_sum, **QUIET)
    expected = x.flatten(1).sum(1).mean().item()
    assert history.train_loss == pytest.approx([expected, expected], rel=1e-5)


@pytest.mark.parametrize("kind", ["ae", "vae"])
def test_same_seed_same_history_and_weights(data, kind):
    runs = []
    for _ in range(2):
        # also reseeds the global generator the VAE samples from
        model = make_model(kind, seed=0)
        history = fit(
            model, data[0], num_epochs=2, batch_size=16, seed=3, val_x=data[1], **QUIET
        )
        runs.append((history, state(model)))
    assert runs[0][0].train_loss == runs[1][0].train_loss
    assert runs[0][0].val_loss == runs[1][0].val_loss
    assert_same_state(runs[0][1], runs[1][1])


def test_different_seeds_differ(data):
    results = []
    for seed in (1, 2):
        model = make_model("ae", seed=0)
        history = fit(model, data[0], num_epochs=2, batch_size=8, seed=seed, **QUIET)
        results.append((history.train_loss, state(model)))
    assert results[0][0] != results[1][0]
    assert any(
        not torch.equal(results[0][1][k], results[1][1][k]) for k in results[0][1]
    )


def test_vae_fit_is_reproducible_from_its_seed_alone(data):
    """fit(seed=...) should fix all the randomness of training, the VAE's noise
    included.

    Two copies of the same VAE trained with the same seed must end identical, whatever
    the global generator did in between (e.g. another cell of the notebook drew a random
    number).
    """
    model_a, model_b = make_model("vae"), make_model("vae")
    model_b.load_state_dict(model_a.state_dict())
    history_a = fit(
        model_a, data[0], num_epochs=1, batch_size=16, seed=3, val_x=data[1], **QUIET
    )
    torch.rand(1)  # any unrelated use of torch's global generator
    history_b = fit(
        model_b, data[0], num_epochs=1, batch_size=16, seed=3, val_x=data[1], **QUIET
    )
    assert history_a.train_loss == history_b.train_loss
    assert history_a.val_loss == history_b.val_loss


def test_evaluate_of_a_vae_is_deterministic_for_a_given_seed(data):
    """evaluate(..., seed=s) takes a seed, so two calls on the same model and data must
    agree."""
    model = make_model("vae")
    assert evaluate(model, data[1], seed=0) == evaluate(model, data[1], seed=0)


def test_fit_applies_the_transform_to_every_batch(data):
    seen = []

    def binary_only(model, batch):
        assert ((batch == 0) | (batch == 1)).all(), "the transform was not applied"
        seen.append(batch.shape[0])
        return model.loss(batch)

    model = make_model("vae")
    fit(
        model,
        data[0],
        num_epochs=2,
        batch_size=16,
        val_x=data[1],
        loss_fn=binary_only,
        transform=binarize_dynamic,
        **QUIET,
    )
    # Train batches 16 + 16 + 8 each epoch, then the validation set in one batch.
    assert seen == [16, 16, 8, 10] * 2


def test_targets_travel_with_their_images():
    """With targets, each batch's y rows belong to its x rows, in training and in
    validation."""
    n = 23
    # image i is all i/n
    x = (torch.arange(n) / n).reshape(n, 1, 1, 1).expand(n, 1, 6, 6).contiguous()
    y = torch.arange(n)
    calls = []

    def matched(model, batch, targets):
        assert torch.equal((batch[:, 0, 0, 0] * n).round().long(), targets), (
            "targets out of step with images"
        )
        calls.append(len(targets))
        return model.loss(batch)

    model = make_model("ae")
    fit(
        model,
        x,
        train_y=y,
        num_epochs=2,
        batch_size=5,
        val_x=x[:7],
        val_y=y[:7],
        loss_fn=matched,
        **QUIET,
    )
    assert calls == ([5, 5, 5, 5, 3] + [7]) * 2
    evaluate(model, x, y=y, loss_fn=matched, batch_size=4)
    assert sum(calls[12:]) == n


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        (
            {"train_y": torch.zeros(39)},
            r"train_y must be a tensor with one row per image \(40\), got \(39,\)",
        ),
        (
            {"train_y": [0] * 40},
            r"train_y must be a tensor with one row per image \(40\), got list",
        ),
        (
            {"val_x": torch.rand(10, 1, 6, 6), "val_y": torch.zeros(9)},
            r"val_y must be a tensor with one row per image \(10\)",
        ),
    ],
)
def test_fit_rejects_targets_that_do_not_match_the_images(data, changes, message):
    with pytest.raises(ValueError, match=message):
        fit(make_model("ae"), data[0], num_epochs=1, **QUIET, **changes)


def test_evaluate_rejects_targets_that_do_not_match_the_images(data):
    with pytest.raises(
        ValueError,
        match=r"y must be a tensor with one row per image \(10\), got \(3,\)",
    ):
        evaluate(make_model("ae"), data[1], y=torch.zeros(3))


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"num_epochs": 0}, "num_epochs must be a positive int"),
        ({"num_epochs": 1.5}, "num_epochs must be a positive int"),
        ({"lr": -1}, "lr must be a positive number"),
        ({"lr": 0.0}, "lr must be a positive number"),
        ({"batch_size": 0}, "batch_size must be a positive int"),
        (
            {"train_x": torch.rand(40, 6, 6)},
            r"train_x must be a batch of images shaped \(B, C, H, W\)",
        ),
        (
            {"val_x": torch.rand(5, 1, 6, 7)},
            r"val_x must have images of shape \(C, H, W\) = \(1, 6, 6\)",
        ),
        ({"device": "nonsense"}, "device must be None"),
    ],
)
def test_fit_rejects_bad_arguments(data, changes, message):
    model = make_model("ae")
    before = state(model)
    arguments = {"train_x": data[0], "num_epochs": 1, **QUIET, **changes}
    with pytest.raises(ValueError, match=message):
        fit(model, **arguments)
    assert_same_state(before, state(model))


@pytest.mark.parametrize(
    ("x", "batch_size", "error", "message"),
    [
        (torch.rand(10, 36), 4, ValueError, r"x must be a batch of images"),
        (torch.rand(10, 1, 6, 6), 0, ValueError, "batch_size must be a positive int"),
        (torch.zeros(10, 1, 6, 6, dtype=torch.int64), 4, TypeError, "floating-point"),
    ],
)
def test_evaluate_rejects_bad_arguments(x, batch_size, error, message):
    with pytest.raises(error, match=message):
        evaluate(make_model("ae"), x, batch_size=batch_size)


@pytest.mark.parametrize("mixed_precision", [None, False, True])
def test_mixed_precision_is_a_no_op_on_the_cpu(data, mixed_precision):
    # bf16 autocast is only ever enabled on CUDA; on the CPU every setting trains
    # identically.
    reference, model = make_model("ae"), make_model("ae")
    fit(reference, data[0], num_epochs=1, **QUIET)
    speed = SpeedSettings(mixed_precision=mixed_precision)
    fit(model, data[0], num_epochs=1, speed=speed, **QUIET)
    assert_same_state(state(reference), state(model))
    assert evaluate(model, data[1], mixed_precision=mixed_precision) == evaluate(
        reference, data[1]
    )


def spoiled(batches: set[int]):
    """A batch transform that pushes the pixels of the chosen calls (0 = the first
    batch of the run) out of [0, 1]."""
    calls = []

    def transform(batch, generator):
        calls.append(batch.shape[0])
        return batch + 0.5 if len(calls) - 1 in batches else batch

    return transform, calls


def test_fit_checks_the_values_of_the_first_batch_only(data):
    # Reading a min/max makes a GPU host wait, so only the first batch's values are
    # checked: every later batch, in every epoch, is trusted.
    transform, calls = spoiled(set(range(1, 10)))
    history = fit(
        make_model("vae"),
        data[0],
        num_epochs=2,
        batch_size=8,
        transform=transform,
        **QUIET,
    )
    assert len(calls) == 10 and len(history.train_loss) == 2
    transform, calls = spoiled({0})
    with pytest.raises(ValueError, match=r"must hold pixel values in \[0, 1\]"):
        fit(
            make_model("vae"),
            data[0],
            num_epochs=2,
            batch_size=8,
            transform=transform,
            **QUIET,
        )
    assert calls == [8]


def test_fit_rejects_a_vae_batch_outside_the_unit_interval(data):
    bad = data[0].clone()
    bad[:, :, 0, 0] = 1.5  # every image, so the first batch is bad whatever the order
    with pytest.raises(ValueError, match=r"must hold pixel values in \[0, 1\]"):
        fit(make_model("vae"), bad, num_epochs=1, batch_size=8, **QUIET)


# --- Learning-rate schedules, Adam's settings, timing and torch.compile ---------------


class RecordingAdam(torch.optim.Adam):
    """Adam that records the arguments it was built with and the learning rate of every
    step."""

    instances: ClassVar[list[RecordingAdam]] = []

    def __init__(self, params, **kwargs):
        super().__init__(params, **kwargs)
        self.kwargs = kwargs
        self.step_lrs: list[float] = []
        RecordingAdam.instances.append(self)

    def step(self, closure=None):
        self.step_lrs.append(self.param_groups[0]["lr"])
        return super().step(closure)


@pytest.fixture
def recording_adam(monkeypatch):
    """Replace torch.optim.Adam (as fit looks it up) by RecordingAdam; yield the list of
    instances."""
    RecordingAdam.instances = []
    monkeypatch.setattr(train_module.torch.optim, "Adam", RecordingAdam)
    return RecordingAdam.instances


@pytest.mark.parametrize("total_steps", [1, 2, 7, 100])
def test_constant_schedule_is_always_the_learning_rate(total_steps):
    assert [
        scheduled_lr(s, total_steps, 0.3, "constant") for s in range(total_steps)
    ] == [0.3] * total_steps
    assert scheduled_lr(0, 5, 0.3) == 0.3  # "constant" is the default


def test_cosine_schedule_matches_the_hand_formula():
    lr, total, warmup = 0.01, 100, 5  # 5 % of 100 steps of warm-up

    def decay(step):
        return lr * 0.5 * (1 + math.cos(math.pi * (step - warmup) / (total - warmup)))

    expected = {
        0: lr / 5,
        1: 2 * lr / 5,
        2: 3 * lr / 5,
        4: lr,
        5: lr,
        30: decay(30),
        52: decay(52),
        99: decay(99),
    }
    got = {step: scheduled_lr(step, total, lr, "cosine") for step in expected}
    assert got == pytest.approx(expected, rel=1e-12, abs=1e-15)
    # about half-way down at the middle of the decay
    assert got[52] == pytest.approx(lr / 2, rel=0.02)
    assert 0 < got[99] < 1e-3 * lr  # close to zero at the last step


@pytest.mark.parametrize(
    ("total_steps", "warmup"), [(1, 1), (2, 1), (10, 1), (30, 2), (100, 5), (1000, 50)]
)
def test_cosine_schedule_warms_up_then_decreases(total_steps, warmup):
    lr = 2e-3
    lrs = [scheduled_lr(s, total_steps, lr, "cosine") for s in range(total_steps)]
    assert all(v > 0 for v in lrs)
    assert max(lrs) == pytest.approx(lr, rel=1e-12)
    # Warm-up: strictly increasing, reaching lr at its last step; afterwards strictly
    # decreasing.
    assert lrs[warmup - 1] == pytest.approx(lr, rel=1e-12)
    assert all(a < b for a, b in itertools.pairwise(lrs[:warmup]))
    assert all(a > b for a, b in itertools.pairwise(lrs[warmup:]))
    if warmup > 1:
        assert lrs[0] == pytest.approx(lr / warmup, rel=1e-12)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            (0, 10, 1e-3, "linear"),
            r"schedule must be one of \('constant', 'cosine'\), got 'linear'",
        ),
        ((0, 10, 1e-3, None), "schedule must be one of"),
        ((-1, 10, 1e-3, "cosine"), r"step must be an int in \[0, 10\), got -1"),
        ((10, 10, 1e-3, "cosine"), r"step must be an int in \[0, 10\), got 10"),
        ((10, 10, 1e-3, "constant"), r"step must be an int in \[0, 10\)"),
        ((1.0, 10, 1e-3, "cosine"), r"step must be an int in \[0, 10\), got 1.0"),
        ((True, 10, 1e-3, "cosine"), r"step must be an int in \[0, 10\), got True"),
        ((0, 0, 1e-3, "cosine"), "total_steps must be a positive int, got 0"),
        ((0, 10.0, 1e-3, "cosine"), "total_steps must be a positive int, got 10.0"),
    ],
)
def test_scheduled_lr_rejects_bad_arguments(args, message):
    with pytest.raises(ValueError, match=message):
        scheduled_lr(*args)


def test_scaled_learning_rate_follows_the_square_root_rule():
    assert scaled_learning_rate(128, rule="sqrt") == pytest.approx(1e-3, rel=1e-12)
    assert scaled_learning_rate(512, rule="sqrt") == pytest.approx(2e-3, rel=1e-12)
    assert scaled_learning_rate(32, rule="sqrt") == pytest.approx(5e-4, rel=1e-12)
    assert scaled_learning_rate(
        200, base_lr=0.01, base_batch_size=50, rule="sqrt"
    ) == pytest.approx(0.02, rel=1e-12)


def test_scaled_learning_rate_linear_rule_is_proportional_to_the_batch():
    assert scaled_learning_rate(512, rule="linear") == pytest.approx(4e-3, rel=1e-12)
    assert scaled_learning_rate(64, rule="linear") == pytest.approx(5e-4, rel=1e-12)
    assert scaled_learning_rate(128, rule="linear") == pytest.approx(1e-3, rel=1e-12)
    # the default
    assert scaled_learning_rate(512) == scaled_learning_rate(512, rule="linear")


@pytest.mark.parametrize(
    ("args", "kwargs", "message"),
    [
        ((0,), {}, "batch_size must be a positive int, got 0"),
        ((-1,), {}, "batch_size must be a positive int, got -1"),
        ((256.0,), {}, "batch_size must be a positive int, got 256.0"),
        ((True,), {}, "batch_size must be a positive int"),
        ((256,), {"base_batch_size": 0}, "base_batch_size must be a positive int"),
        ((256,), {"base_lr": 0.0}, "base_lr must be a positive number"),
        ((256,), {"base_lr": -1e-3}, "base_lr must be a positive number"),
        (
            (256,),
            {"rule": "cubic"},
            "rule must be one of \\('sqrt', 'linear'\\), got 'cubic'",
        ),
    ],
)
def test_scaled_learning_rate_rejects_bad_arguments(args, kwargs, message):
    with pytest.raises(ValueError, match=message):
        scaled_learning_rate(*args, **kwargs)


def test_fit_calls_the_schedule_once_per_step(data, monkeypatch):
    calls = []

    def spy(step, total_steps, lr, schedule):
        calls.append((step, total_steps, lr, schedule))
        return scheduled_lr(step, total_steps, lr, schedule)

    monkeypatch.setattr(train_module, "scheduled_lr", spy)
    # 40 images in batches of 16: ceil(40 / 16) = 3 steps an epoch, 2 epochs.
    fit(
        make_model("ae"),
        data[0],
        num_epochs=2,
        batch_size=16,
        lr=0.02,
        speed=SpeedSettings(lr_schedule="cosine"),
        **QUIET,
    )
    assert calls == [(s, 6, 0.02, "cosine") for s in range(6)]


@pytest.mark.parametrize("schedule", ["constant", "cosine"])
def test_fit_steps_with_the_scheduled_learning_rate(data, recording_adam, schedule):
    fit(
        make_model("ae"),
        data[0],
        num_epochs=2,
        batch_size=16,
        lr=0.02,
        speed=SpeedSettings(lr_schedule=schedule),
        **QUIET,
    )
    (optimizer,) = recording_adam
    assert optimizer.step_lrs == pytest.approx(
        [scheduled_lr(s, 6, 0.02, schedule) for s in range(6)], rel=1e-12
    )
    if schedule == "cosine":
        assert optimizer.step_lrs[-1] < 0.5 * 0.02  # it really decays


def test_cosine_schedule_trains_differently_from_constant(data):
    models = {schedule: make_model("ae") for schedule in ("constant", "cosine")}
    for schedule, model in models.items():
        fit(
            model,
            data[0],
            num_epochs=2,
            batch_size=16,
            lr=0.02,
            speed=SpeedSettings(lr_schedule=schedule),
            **QUIET,
        )
    a, b = state(models["constant"]), state(models["cosine"])
    assert any(not torch.equal(a[k], b[k]) for k in a)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        (
            {"lr_schedule": "nope"},
            r"lr_schedule must be one of \('constant', 'cosine'\), got 'nope'",
        ),
        (
            {"betas": (0.9,)},
            r"betas must be a pair of numbers in \[0, 1\), got \(0.9,\)",
        ),
        (
            {"betas": (1.0, 0.9)},
            r"betas must be a pair of numbers in \[0, 1\), got \(1.0, 0.9\)",
        ),
        (
            {"betas": [0.9, 0.99]},
            r"betas must be a pair of numbers in \[0, 1\), got \[0.9, 0.99\]",
        ),
        ({"betas": (0.9, -0.1)}, "betas must be a pair of numbers"),
        ({"betas": (0.9, 0.99, 0.9)}, "betas must be a pair of numbers"),
        ({"betas": (0.9, float("nan"))}, "betas must be a pair of numbers"),
        ({"betas": (0.9, "0.99")}, "betas must be a pair of numbers"),
    ],
)
def test_speed_settings_reject_bad_schedule_and_betas(changes, message):
    with pytest.raises(ValueError, match=message):
        SpeedSettings(**changes)


@pytest.mark.parametrize(
    "speed", [{"lr_schedule": "cosine"}, None, "cosine"], ids=["dict", "none", "str"]
)
def test_fit_needs_its_speed_settings_as_a_speed_settings(data, speed):
    model = make_model("ae")
    before = state(model)
    with pytest.raises(TypeError, match="speed must be a SpeedSettings, got"):
        fit(model, data[0], num_epochs=1, speed=speed, **QUIET)
    assert_same_state(before, state(model))


def test_speed_settings_are_frozen():
    speed = SpeedSettings()
    with pytest.raises(AttributeError):
        speed.lr_schedule = "cosine"  # type: ignore[misc]


def test_fit_passes_betas_to_adam(data, recording_adam):
    default, explicit, other = make_model("ae"), make_model("ae"), make_model("ae")
    fit(default, data[0], num_epochs=1, batch_size=16, seed=1, **QUIET)
    fit(
        explicit,
        data[0],
        num_epochs=1,
        batch_size=16,
        seed=1,
        speed=SpeedSettings(betas=(0.9, 0.999)),
        **QUIET,
    )
    fit(
        other,
        data[0],
        num_epochs=1,
        batch_size=16,
        seed=1,
        speed=SpeedSettings(betas=(0.5, 0.99)),
        **QUIET,
    )
    assert [opt.param_groups[0]["betas"] for opt in recording_adam] == [
        (0.9, 0.999),
        (0.9, 0.999),
        (0.5, 0.99),
    ]
    assert_same_state(state(default), state(explicit))
    a, b = state(default), state(other)
    assert any(not torch.equal(a[k], b[k]) for k in a)


def test_fused_adam_is_off_by_default_on_the_cpu_and_on_when_asked(
    data, recording_adam
):
    reference, fused = make_model("ae"), make_model("ae")
    before = state(fused)
    history_ref = fit(reference, data[0], num_epochs=2, batch_size=8, lr=1e-2, **QUIET)
    history = fit(
        fused,
        data[0],
        num_epochs=2,
        batch_size=8,
        lr=1e-2,
        speed=SpeedSettings(fused_adam=True),
        **QUIET,
    )
    assert [opt.kwargs["fused"] for opt in recording_adam] == [False, True]
    assert [opt.defaults["fused"] for opt in recording_adam] == [False, True]
    after, expected = state(fused), state(reference)
    assert all(not torch.equal(before[k], after[k]) for k in before)  # it trained
    assert history.train_loss[-1] < history.train_loss[0]
    # Fused Adam rounds differently but follows the same updates.
    assert all(torch.allclose(after[k], expected[k], rtol=0, atol=1e-4) for k in after)
    assert history.train_loss == pytest.approx(history_ref.train_loss, rel=1e-4)


def test_fit_fused_adam_false_matches_the_default_on_the_cpu(data, recording_adam):
    reference, model = make_model("ae"), make_model("ae")
    fit(reference, data[0], num_epochs=1, batch_size=16, **QUIET)
    speed = SpeedSettings(fused_adam=False)
    fit(model, data[0], num_epochs=1, batch_size=16, speed=speed, **QUIET)
    assert [opt.kwargs["fused"] for opt in recording_adam] == [False, False]
    assert_same_state(state(reference), state(model))


def test_train_seconds_exclude_validation(data):
    train_sleep, val_sleep = 0.004, 0.02

    def slow(model, batch):
        time.sleep(train_sleep if model.training else val_sleep)
        return model.loss(batch)

    history = fit(
        make_model("ae"),
        data[0],
        num_epochs=2,
        batch_size=16,
        val_x=data[1],
        loss_fn=slow,
        **QUIET,
    )
    assert len(history.train_seconds) == len(history.epoch_seconds) == 2
    for train_s, epoch_s in zip(history.train_seconds, history.epoch_seconds):
        assert 0 <= train_s <= epoch_s
        assert train_s >= 3 * train_sleep  # three training steps an epoch
        # the validation pass (one batch of 10) is excluded
        assert epoch_s - train_s >= val_sleep


def test_train_seconds_without_validation(data):
    history = fit(make_model("ae"), data[0], num_epochs=2, batch_size=16, **QUIET)
    assert len(history.train_seconds) == 2
    assert all(
        0 <= t <= e for t, e in zip(history.train_seconds, history.epoch_seconds)
    )


@pytest.mark.parametrize("loss_fn", [None, "custom"])
def test_torch_compile_wraps_the_training_loss(data, monkeypatch, loss_fn):
    compiled, step_calls = [], []

    def custom(model, batch):
        return model.loss(batch)

    # no real compilation: far too slow for a unit test
    def fake_compile(fn, *args, **kwargs):
        compiled.append(fn)

        def wrapper(*a, **k):
            step_calls.append(a[1].shape[0])
            return fn(*a, **k)

        return wrapper

    monkeypatch.setattr(train_module.torch, "compile", fake_compile)
    chosen = {} if loss_fn is None else {"loss_fn": custom}
    model, reference = make_model("ae"), make_model("ae")
    before = state(model)
    fit(reference, data[0], num_epochs=2, batch_size=16, **chosen, **QUIET)
    assert compiled == []  # off by default
    history = fit(
        model,
        data[0],
        num_epochs=2,
        batch_size=16,
        val_x=data[1],
        speed=SpeedSettings(torch_compile=True),
        **chosen,
        **QUIET,
    )
    # compiled once, not per epoch
    assert compiled == [model_loss if loss_fn is None else custom]
    # every training step goes through the compiled loss
    assert step_calls == [16, 16, 8] * 2
    assert len(history.train_loss) == len(history.val_loss) == 2
    after = state(model)
    assert all(not torch.equal(before[k], after[k]) for k in before)
    assert_same_state(after, state(reference))  # an identity "compile" changes nothing


def test_fit_validates_in_float32_whatever_the_training_precision(data, monkeypatch):
    calls = []
    real_evaluate = train_module._evaluate

    def recording_evaluate(*args, **kwargs):
        calls.append(kwargs.get("mixed_precision"))
        return real_evaluate(*args, **kwargs)

    monkeypatch.setattr(train_module, "_evaluate", recording_evaluate)
    model = Autoencoder(AutoencoderConfig(**SMALL))
    speed = SpeedSettings(mixed_precision=True)
    fit(model, data[0], val_x=data[1], num_epochs=2, speed=speed, **QUIET)
    assert calls == [False, False]


# --- training that goes non-finite, and loss functions of the wrong shape -------------


def poisoned_loss(after_calls: int, poison: float):
    """The model's loss, multiplied by ``poison`` (nan or inf) from call
    ``after_calls`` on."""
    calls = []

    def loss_fn(model, x):
        calls.append(1)
        loss = model.loss(x)
        return loss * poison if len(calls) > after_calls else loss

    return loss_fn


@pytest.mark.parametrize("poison", [math.nan, math.inf], ids=["nan", "inf"])
@pytest.mark.parametrize("kind", ["ae", "vae"])
def test_fit_stops_on_a_non_finite_loss_naming_the_epoch(data, kind, poison):
    # 40 images in batches of 16: three steps per epoch; the poison starts in epoch 2
    reference = make_model(kind, seed=0)
    fit(reference, data[0], num_epochs=1, batch_size=16, seed=3, **QUIET)
    model = make_model(kind, seed=0)
    with pytest.raises(
        train_module.NonFiniteTrainingError,
        match=r"the loss or the weights became nan or inf during epoch 2 of 3; the "
        r"model holds its weights from the end of epoch 1\.",
    ):
        fit(
            model,
            data[0],
            num_epochs=3,
            batch_size=16,
            seed=3,
            loss_fn=poisoned_loss(4, poison),
            **QUIET,
        )
    assert_same_state(state(model), state(reference))  # the last finite weights


def test_fit_stops_when_the_weights_go_non_finite(data):
    def loss_fn(model, x):
        loss = model.loss(x)
        with torch.no_grad():  # a weight broken behind the loss's back
            next(model.parameters()).view(-1)[0] = math.nan
        return loss

    model = make_model("ae")
    before = state(model)
    with pytest.raises(
        train_module.NonFiniteTrainingError,
        match="became nan or inf during epoch 1 of 2; the model holds the weights it "
        "came with",
    ):
        fit(model, data[0], num_epochs=2, batch_size=16, loss_fn=loss_fn, **QUIET)
    assert_same_state(state(model), before)


@pytest.mark.parametrize(
    ("loss_fn", "got"),
    [
        (lambda m, x: m.loss(x).mean(), r"\(\)"),
        (lambda m, x: m.loss(x)[:, None], r"\(16, 1\)"),
        (lambda m, x: m.loss(x).tolist(), "list"),
    ],
    ids=["batch-mean", "column", "list"],
)
def test_fit_wants_one_loss_per_example(data, loss_fn, got):
    with pytest.raises(
        ValueError,
        match=r"loss_fn must return one loss per example, shaped \(16,\) for this "
        rf"batch, got {got}",
    ):
        fit(
            make_model("vae"),
            data[0],
            num_epochs=1,
            batch_size=16,
            loss_fn=loss_fn,
            **QUIET,
        )
