"""Benchmark 2: training throughput of ``vae_lib.fit`` on a GPU, by batch size, with and
without ``torch.compile``, and the fraction of the GPU's dense matrix-multiply peak it
reaches.

The model is benchmark 1's (784-400-20). Its training cost per example is counted from
its linear layers: 2 * in * out floating-point operations for the forward product, and
twice that backward (the gradients of the weights and of the layer's input), except that
the first layer's input needs no gradient. The peak is measured on the same GPU: a
8192 x 8192 bf16 matrix product, the precision fit's autocast uses. Without a CUDA GPU
the benchmark records that it could not run and is skipped.
"""

from __future__ import annotations

import math
import time

import pytest
import torch
from bench_records import fmt, markdown_table, placeholder, save
from test_training_speed import EXAMPLE_MODEL, SEED
from torch import nn

from vae_lib.data import load_dataset
from vae_lib.models import VAE
from vae_lib.train import SpeedSettings, fit, scaled_learning_rate

BATCH_SIZES = (128, 512, 2048, 8192, 32768)
# per measurement, so that the largest batches are not timed on two steps
MIN_TIMED_STEPS = 20
MATMUL_SIZE = 8192


def training_flops_per_example(model: nn.Module) -> int:
    """Floating-point operations per training example in the model's linear layers: 6
    per weight (forward, weight gradient, input gradient), less 2 per weight of the
    first layer (no input gradient)."""
    sizes = [
        m.in_features * m.out_features
        for m in model.modules()
        if isinstance(m, nn.Linear)
    ]
    return 6 * sum(sizes) - 2 * sizes[0]


def measured_matmul_peak(device: torch.device, repeats: int = 50) -> float:
    """Dense bf16 matrix-multiply throughput in FLOP/s, measured with square
    products."""
    a = torch.randn(MATMUL_SIZE, MATMUL_SIZE, device=device, dtype=torch.bfloat16)
    b = torch.randn_like(a)
    for _ in range(5):
        a @ b
    torch.cuda.synchronize(device)
    start = time.perf_counter()
    for _ in range(repeats):
        a @ b
    torch.cuda.synchronize(device)
    return 2 * MATMUL_SIZE**3 * repeats / (time.perf_counter() - start)


def test_gpu_training_throughput():
    title = "GPU training throughput, pytorch/examples' VAE (784-400-20)."
    if not torch.cuda.is_available():
        placeholder("gpu_throughput", title)
        pytest.skip("no CUDA GPU")
    device = torch.device("cuda")
    train_x = load_dataset("mnist", "train", device=device).images
    peak = measured_matmul_peak(device)
    rows, runs = [], []
    for batch_size in BATCH_SIZES:
        for compiled in (False, True):
            torch.manual_seed(SEED)
            model = VAE(EXAMPLE_MODEL)
            steps_per_epoch = math.ceil(len(train_x) / batch_size)
            # the first one warms up (and compiles)
            epochs = 1 + math.ceil(MIN_TIMED_STEPS / steps_per_epoch)
            history = fit(
                model,
                train_x,
                num_epochs=epochs,
                batch_size=batch_size,
                lr=scaled_learning_rate(batch_size, rule="sqrt"),
                seed=SEED,
                device=device,
                progress=False,
                speed=SpeedSettings(torch_compile=compiled),
            )
            samples_per_second = (
                len(train_x) * (epochs - 1) / sum(history.train_seconds[1:])
            )
            achieved = samples_per_second * training_flops_per_example(model)
            runs.append(
                {
                    "batch_size": batch_size,
                    "torch_compile": compiled,
                    "samples_per_second": samples_per_second,
                    "flops_per_second": achieved,
                    "fraction_of_matmul_peak": achieved / peak,
                }
            )
            rows.append(
                [
                    batch_size,
                    "yes" if compiled else "no",
                    fmt(samples_per_second, 0),
                    fmt(achieved / 1e12, 2),
                    f"{100 * achieved / peak:.1f} %",
                ]
            )
    save(
        "gpu_throughput",
        title,
        {"measured": True, "matmul_peak_flops": peak, "runs": runs},
        markdown_table(
            ["batch", "torch.compile", "samples / s", "TFLOP/s", "of matmul peak"], rows
        ),
        notes=f"Matmul peak measured here: {fmt(peak / 1e12, 0)} TFLOP/s "
        f"(bf16, {MATMUL_SIZE}x{MATMUL_SIZE}). "
        "Training runs under bf16 autocast with fused Adam; "
        "the learning rate follows the square-root rule.",
    )
    best = max(runs, key=lambda r: r["samples_per_second"])
    assert best["batch_size"] > BATCH_SIZES[0], (
        "larger batches should raise the GPU's throughput"
    )
