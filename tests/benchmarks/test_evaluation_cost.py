"""Benchmark 4: the cost of the log-likelihood estimate, k = 5000 on the 10,000 MNIST
test images.

:func:`vae_lib.bounds.log_likelihood_estimate` with its default chunking (100 images,
500 samples at a time) on benchmark 3's architecture (784-200-200-50 tanh; the weights
do not change the cost, so a freshly initialised model is used). The CPU run happens in
a child process so that its peak resident memory is its own; on a GPU the peak allocated
memory is read from torch. Target (issue 8): peak GPU memory under 8 GB.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
import time

import torch
from bench_records import fmt, markdown_table, save
from test_nll_speedrun import BURDA_VAE

from vae_lib.bounds import log_likelihood_estimate
from vae_lib.data import binarize_static, load_dataset
from vae_lib.models import VAE

NUM_SAMPLES = 5000
GPU_MEMORY_LIMIT = 8e9

CPU_CHILD = """
import json, resource, time, torch
from test_evaluation_cost import estimate
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
seconds, mean = estimate(torch.device("cpu"))
after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
print(json.dumps({"seconds": seconds, "mean_log_likelihood": mean, "peak_bytes": after,
                  "peak_bytes_before": before}))
"""


def estimate(device: torch.device) -> tuple[float, float]:
    """Seconds taken and mean estimate for k = 5000 on all test images, on
    ``device``."""
    torch.manual_seed(0)
    model = VAE(BURDA_VAE).to(device)
    x = binarize_static(load_dataset("mnist", "test").images, seed=0).to(device)
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    start = time.perf_counter()
    log_px = log_likelihood_estimate(model, x, NUM_SAMPLES)
    mean = log_px.mean().item()  # waits for the device
    return time.perf_counter() - start, mean


def _cpu_run() -> dict:
    here = __file__.rsplit("/", 1)[0]
    out = subprocess.run(
        [sys.executable, "-c", CPU_CHILD],
        cwd=here,
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def _gpu_run() -> dict:
    device = torch.device("cuda")
    model = VAE(BURDA_VAE).to(device)
    # CUDA and cuBLAS start-up
    log_likelihood_estimate(model, torch.zeros(10, 1, 28, 28, device=device), 100)
    torch.cuda.synchronize(device)
    del model
    torch.cuda.reset_peak_memory_stats(device)
    seconds, mean = estimate(device)
    return {
        "seconds": seconds,
        "mean_log_likelihood": mean,
        "peak_bytes": torch.cuda.max_memory_allocated(device),
    }


def test_log_likelihood_estimate_cost():
    runs = {"CPU": _cpu_run()}
    if torch.cuda.is_available():
        runs["GPU " + torch.cuda.get_device_name(0)] = _gpu_run()
    rows = [
        [
            where,
            fmt(r["seconds"]),
            fmt(10_000 / r["seconds"], 1),
            fmt(r["peak_bytes"] / 1e9, 2),
        ]
        for where, r in runs.items()
    ]
    notes = (
        "CPU memory is the child process's peak resident set (torch included; "
        f"{fmt(runs['CPU']['peak_bytes_before'] / 1e9, 2)} GB before the estimate); "
        "GPU memory is the peak allocated by torch."
    )
    if len(runs) == 1:
        notes += " No CUDA GPU in this run: the GPU row is missing."
    save(
        "evaluation_cost",
        f"Log-likelihood estimate, k = {NUM_SAMPLES}, 10,000 MNIST test images, "
        "784-200-200-50 VAE.",
        {"num_samples": NUM_SAMPLES, "runs": runs},
        markdown_table(["where", "seconds", "images / s", "peak memory (GB)"], rows),
        notes=notes,
    )
    means = [r["mean_log_likelihood"] for r in runs.values()]
    assert all(not math.isnan(m) and m < 0 for m in means), (
        f"the estimates should be finite log-probabilities, got {means}"
    )
    for where, r in runs.items():
        if where.startswith("GPU"):
            assert r["peak_bytes"] < GPU_MEMORY_LIMIT, (
                f"peak GPU memory {r['peak_bytes'] / 1e9:.2f} GB, over 8 GB"
            )
