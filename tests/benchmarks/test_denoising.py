"""Benchmark: Chapter 5's denoising target on the MNIST test set, in the mode of
``$VAE_BOOK_MODE``.

Full mode scores all 10,000 test images under Gaussian noise with sigma = 0.5 (seeded):
the median filter, the naive VAE, the denoising VAE and MAP inference under the
clipped-Gaussian noise model. Target (issue 5): the best VAE method reaches at least
20.0 dB mean PSNR. Quick mode scores the first 500 images and only reports. Results go
to ``book/benchmarks/denoising_<mode>_<cpu|gpu>.json`` and ``.md``.
"""

from __future__ import annotations

import time

import torch
from bench_records import fmt, markdown_table, save

from vae_lib import pretrained
from vae_lib.baselines import median_filter
from vae_lib.corrupt import ClippedGaussianNoise, gaussian_noise
from vae_lib.data import load_dataset
from vae_lib.inference import map_latent, naive_vae
from vae_lib.metrics import psnr
from vae_lib.runtime import book_mode, default_device

SIGMA = 0.5
TARGET_DB = 20.0
GENERATIVE = "ch5_conv_vae"
BATCH = 1000


def test_denoising_target():
    mode = book_mode()
    device = default_device()
    clean = load_dataset("mnist", "test").images[: 10000 if mode == "full" else 500]
    noisy = gaussian_noise(clean, SIGMA, torch.Generator().manual_seed(0))
    generative, _ = pretrained.load(GENERATIVE, device=device, retrain=False)
    dvae, _ = pretrained.load("ch5_denoising_vae", device=device, retrain=False)
    methods = {
        "median 3x3": median_filter,
        "naive VAE": lambda y: naive_vae(generative, y),
        "denoising VAE": lambda y: pretrained.denoise(dvae, y),
        "MAP, clipped-Gaussian likelihood": lambda y: (
            map_latent(
                generative, y, ClippedGaussianNoise(SIGMA), num_steps=100, lr=0.1
            ).images
        ),
    }
    scores, seconds = {}, {}
    for name, method in methods.items():
        start = time.perf_counter()
        restored = torch.cat(
            [method(noisy[i : i + BATCH]).cpu() for i in range(0, len(noisy), BATCH)]
        )
        seconds[name] = time.perf_counter() - start
        scores[name] = psnr(restored, clean).mean().item()
    best_vae = max(v for k, v in scores.items() if k != "median 3x3")
    rows = [[k, fmt(scores[k], 2), fmt(seconds[k])] for k in methods]
    save(
        f"denoising_{mode}",
        f"Denoising, Gaussian sigma = {SIGMA}, {len(clean)} MNIST test images.",
        {
            "mode": mode,
            "images": len(clean),
            "sigma": SIGMA,
            "psnr_db": scores,
            "seconds": seconds,
            "best_vae_db": best_vae,
            "target_db": TARGET_DB,
        },
        markdown_table(["method", "mean PSNR (dB)", "seconds"], rows),
        gpu_placeholder=False,
    )
    if mode == "full":
        assert best_vae >= TARGET_DB, (
            f"best VAE method {best_vae:.2f} dB, below the {TARGET_DB} dB target"
        )
