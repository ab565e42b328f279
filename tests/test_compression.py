"""vae_lib.compression: the latent codec against SciPy's normal distribution in float64,
and JPEG.

The code lengths are compared with -log2 of the prior's mass on each cell, computed by
SciPy on the side of the distribution where it keeps its precision (cdf below 0, sf
above), so far-tail integers, where Phi(b) - Phi(a) rounds to 0 in float64, are checked
too.
"""

from __future__ import annotations

import io
import math

import numpy as np
import pytest
import torch
from PIL import Image
from scipy.stats import norm

from vae_lib.compression import (
    ARITHMETIC_CODER_OVERHEAD_BITS,
    JPEGTable,
    LatentCodec,
    jpeg_roundtrip,
    jpeg_table,
)
from vae_lib.data import load_dataset
from vae_lib.metrics import psnr


def ideal_bits(k: int, step: float) -> float:
    """-log2 P(k) under N(0, 1), P(k) the mass on [(k - 1/2) step, (k + 1/2) step], in
    float64."""
    lo, hi = (k - 0.5) * step, (k + 0.5) * step
    if k > 0:
        log_mass = norm.logsf(lo) + math.log1p(
            -math.exp(norm.logsf(hi) - norm.logsf(lo))
        )
    else:
        log_mass = norm.logcdf(hi) + math.log1p(
            -math.exp(norm.logcdf(lo) - norm.logcdf(hi))
        )
    return -log_mass / math.log(2)


def codec(steps, sent=None) -> LatentCodec:
    steps = torch.as_tensor(steps, dtype=torch.float32)
    return LatentCodec(
        steps,
        torch.ones_like(steps, dtype=torch.bool)
        if sent is None
        else torch.tensor(sent),
    )


# --- quantisation ---------------------------------------------------------------------


def test_quantize_then_dequantize_returns_codes_on_the_grid():
    c = codec([0.5, 0.25, 2.0])
    k = torch.tensor([[0, 3, -2], [-7, 1, 4], [12, -40, 0]])
    on_grid = k.float() * c.steps
    assert torch.equal(c.quantize(on_grid), k)
    torch.testing.assert_close(c.dequantize(c.quantize(on_grid)), on_grid)


def test_quantize_rounds_to_the_nearest_grid_point():
    c = codec([0.5, 2.0])
    mu = torch.tensor([[0.74, 2.9], [-0.26, -1.1], [0.1, 0.9]])
    assert c.quantize(mu).tolist() == [[1, 1], [-1, -1], [0, 0]]
    assert c.quantize(mu).dtype == torch.int64


def test_dimensions_not_sent_are_zero_on_both_sides():
    c = codec([0.5, 0.5, 0.5], sent=[True, False, True])
    mu = torch.tensor([[1.0, 1.0, -1.0], [2.0, -3.0, 0.5]])
    k = c.quantize(mu)
    assert k[:, 1].tolist() == [0, 0]
    assert k[:, [0, 2]].tolist() == [[2, -2], [4, 1]]
    assert c.dequantize(torch.tensor([[2, 9, -2]]))[0].tolist() == [1.0, 0.0, -1.0]


def test_quantize_needs_codes_of_the_codecs_width():
    with pytest.raises(ValueError, match=r"codes must be \(N, 3\), got \(2, 4\)"):
        codec([1.0, 1.0, 1.0]).quantize(torch.zeros(2, 4))
    with pytest.raises(ValueError, match=r"codes must be \(N, 3\), got \(3,\)"):
        codec([1.0, 1.0, 1.0]).quantize(torch.zeros(3))
    with pytest.raises(TypeError, match="mu must be a torch.Tensor"):
        codec([1.0]).quantize([[0.0]])


# --- code lengths ---------------------------------------------------------------------


@pytest.mark.parametrize("step", [0.05, 0.25, 1.0, 3.0])
def test_code_bits_match_scipy_for_each_integer(step):
    ks = [-40, -12, -5, -2, -1, 0, 1, 2, 5, 12, 40]
    c = codec([step])
    got = c.code_bits(torch.tensor(ks)[:, None])
    expected = [ideal_bits(k, step) + ARITHMETIC_CODER_OVERHEAD_BITS for k in ks]
    assert torch.isfinite(got).all()
    np.testing.assert_allclose(got.double().numpy(), expected, rtol=1e-6)


def test_code_bits_in_the_far_tail_where_the_naive_difference_underflows():
    # the cell [9.875, 10.125]: mass about 4e-24, but Phi(b) - Phi(a) == 0 in float64
    step, k = (
        0.25,
        40,
    )
    assert norm.cdf((k + 0.5) * step) - norm.cdf((k - 0.5) * step) == 0.0
    reference = -math.log2(norm.sf((k - 0.5) * step) - norm.sf((k + 0.5) * step))
    got = codec([step]).code_bits(torch.tensor([[k], [-k]]))
    np.testing.assert_allclose(
        got.double().numpy(),
        [reference + ARITHMETIC_CODER_OVERHEAD_BITS] * 2,
        rtol=1e-6,
    )


def test_code_bits_sum_over_dimensions_and_add_the_coder_overhead_once():
    steps = [0.3, 1.2, 0.05]
    k = torch.tensor([[3, -1, 17], [0, 0, 0], [-2, 4, -60]])
    expected = [
        sum(ideal_bits(int(kj), s) for kj, s in zip(row, steps))
        + ARITHMETIC_CODER_OVERHEAD_BITS
        for row in k
    ]
    got = codec(steps).code_bits(k)
    assert got.shape == (3,) and got.dtype == torch.float32
    np.testing.assert_allclose(got.double().numpy(), expected, rtol=1e-6)


def test_dimensions_not_sent_cost_nothing():
    c = codec([0.3, 1.2, 0.05], sent=[True, False, True])
    k = torch.tensor([[3, 0, 17]])
    np.testing.assert_allclose(
        c.code_bits(k).numpy(),
        [ideal_bits(3, 0.3) + ideal_bits(17, 0.05) + ARITHMETIC_CODER_OVERHEAD_BITS],
        rtol=1e-6,
    )
    assert (
        codec([0.5, 0.5], sent=[False, False])
        .code_bits(torch.zeros(4, 2, dtype=torch.long))
        .tolist()
        == [ARITHMETIC_CODER_OVERHEAD_BITS] * 4
    )


@pytest.mark.parametrize("step", [0.1, 0.7, 2.5])
def test_code_bits_are_an_ideal_code_for_the_prior(step):
    """Kraft with equality: the probabilities 2^-(bits - overhead) over all integers sum
    to 1."""
    ks = torch.arange(-int(12 / step) - 2, int(12 / step) + 3)[:, None]
    bits = codec([step]).code_bits(ks).double() - ARITHMETIC_CODER_OVERHEAD_BITS
    assert torch.exp2(-bits).sum().item() == pytest.approx(1.0, abs=1e-5)


def test_a_finer_grid_costs_more_bits():
    mu = torch.tensor([[0.3, -1.1]])
    coarse, fine = codec([1.0, 1.0]), codec([0.1, 0.1])
    assert fine.code_bits(fine.quantize(mu)) > coarse.code_bits(coarse.quantize(mu))


# --- from_posterior -------------------------------------------------------------------


def test_from_posterior_steps_are_scale_times_the_mean_posterior_std():
    gen = torch.Generator().manual_seed(0)
    mu, logvar = (
        torch.randn(20, 4, generator=gen),
        torch.randn(20, 4, generator=gen) - 2,
    )
    sent = torch.tensor([True, False, True, True])
    c = LatentCodec.from_posterior(mu, logvar, 0.5, sent)
    expected = 0.5 * np.exp(0.5 * logvar.double().numpy()).mean(axis=0)
    np.testing.assert_allclose(c.steps.double().numpy(), expected, rtol=1e-5)
    assert torch.equal(c.sent, sent)
    assert c.steps.device.type == "cpu"


@pytest.mark.parametrize("scale", [0, -1.0, math.nan, math.inf, "1"])
def test_from_posterior_rejects_a_bad_scale(scale):
    with pytest.raises(
        ValueError, match=f"scale must be a positive number, got {scale!r}"
    ):
        LatentCodec.from_posterior(
            torch.zeros(3, 2), torch.zeros(3, 2), scale, torch.ones(2, dtype=torch.bool)
        )


@pytest.mark.parametrize(
    ("mu", "logvar", "sent", "got"),
    [
        (
            torch.zeros(2),
            torch.zeros(2),
            torch.ones(2, dtype=torch.bool),
            r"\(2,\), \(2,\), \(2,\) torch.bool",
        ),
        (
            torch.zeros(3, 2),
            torch.zeros(3, 3),
            torch.ones(2, dtype=torch.bool),
            r"\(3, 2\), \(3, 3\), \(2,\)",
        ),
        (
            torch.zeros(3, 2),
            torch.zeros(3, 2),
            torch.ones(3, dtype=torch.bool),
            r"\(3, 2\), \(3, 2\), \(3,\)",
        ),
        (
            torch.zeros(3, 2),
            torch.zeros(3, 2),
            torch.ones(2),
            r"\(3, 2\), \(3, 2\), \(2,\) torch.float32",
        ),
    ],
    ids=["one-code", "logvar-shape", "sent-length", "sent-not-bool"],
)
def test_from_posterior_rejects_bad_shapes(mu, logvar, sent, got):
    with pytest.raises(
        ValueError,
        match=r"mu and logvar must be \(N, latent_dim\) and "
        r"sent a bool \(latent_dim,\), got " + got,
    ):
        LatentCodec.from_posterior(mu, logvar, 1.0, sent)


# --- JPEG -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def digits():
    return load_dataset("mnist", "test").images[:6]


def test_jpeg_roundtrip_returns_decoded_images_and_two_sizes(digits):
    decoded, file_bytes, scan_bytes = jpeg_roundtrip(digits, 50)
    assert decoded.shape == digits.shape and decoded.dtype == torch.float32
    assert decoded.min() >= 0 and decoded.max() <= 1
    assert file_bytes.shape == scan_bytes.shape == (6,)
    assert (scan_bytes > 0).all() and (scan_bytes < file_bytes).all()
    assert psnr(decoded, digits).min() > 20  # a picture of the digit, not noise


def test_higher_jpeg_quality_gives_higher_psnr_and_larger_files(digits):
    rows = [jpeg_roundtrip(digits, q) for q in (5, 30, 90)]
    mean_psnr = [psnr(r[0], digits).mean().item() for r in rows]
    mean_scan = [r[2].float().mean().item() for r in rows]
    assert mean_psnr[0] < mean_psnr[1] < mean_psnr[2]
    assert mean_scan[0] < mean_scan[1] < mean_scan[2]


def test_jpeg_of_a_blank_image_is_nearly_exact():
    decoded, _, _ = jpeg_roundtrip(torch.zeros(1, 1, 16, 16), 75)
    assert decoded.abs().max() <= 1 / 255


def entropy_coded_bytes(data: bytes) -> int:
    """The scan's size found by walking a baseline JPEG's segments from the start:
    SOI, then marker + length segments up to SOS, then the scan, then EOI."""
    assert data[:2] == b"\xff\xd8" and data[-2:] == b"\xff\xd9"
    i = 2
    while True:
        assert data[i] == 0xFF, f"no marker at byte {i}"
        marker, length = data[i + 1], int.from_bytes(data[i + 2 : i + 4], "big")
        i += 2 + length  # the length counts itself, not the marker
        if marker == 0xDA:  # start of scan: the entropy-coded data follows
            return len(data) - 2 - i


@pytest.mark.parametrize("quality", [5, 50, 95])
def test_jpeg_sizes_are_the_file_and_its_entropy_coded_scan(digits, quality):
    _, file_bytes, scan_bytes = jpeg_roundtrip(digits, quality)
    for image, file_size, scan_size in zip(digits, file_bytes, scan_bytes):
        # the documented encoder: Pillow, optimised Huffman tables
        buffer = io.BytesIO()
        pixels = (image[0].numpy() * 255).round().astype(np.uint8)
        Image.fromarray(pixels, mode="L").save(
            buffer, format="JPEG", quality=quality, optimize=True
        )
        data = buffer.getvalue()
        assert file_size.item() == len(data)
        assert scan_size.item() == entropy_coded_bytes(data)


@pytest.mark.parametrize(
    ("x", "quality", "message"),
    [
        (
            torch.zeros(1, 3, 8, 8),
            50,
            r"x must be grey images \(N, 1, H, W\) for JPEG, got \(1, 3, 8, 8\)",
        ),
        (torch.zeros(1, 1, 8, 8), 0, "quality must be an int from 1 to 95, got 0"),
        (torch.zeros(1, 1, 8, 8), 96, "quality must be an int from 1 to 95, got 96"),
        (
            torch.zeros(1, 1, 8, 8),
            50.0,
            "quality must be an int from 1 to 95, got 50.0",
        ),
        (
            torch.zeros(1, 1, 8, 8),
            True,
            "quality must be an int from 1 to 95, got True",
        ),
        (
            torch.zeros(1, 8, 8),
            50,
            r"x must be a batch of images shaped \(B, C, H, W\)",
        ),
        (torch.full((1, 1, 8, 8), 1.5), 50, r"x must hold pixel values in \[0, 1\]"),
    ],
    ids=[
        "colour",
        "quality-0",
        "quality-96",
        "float-quality",
        "bool-quality",
        "not-a-batch",
        "out-of-range",
    ],
)
def test_jpeg_roundtrip_rejects_bad_inputs(x, quality, message):
    with pytest.raises(ValueError, match=message):
        jpeg_roundtrip(x, quality)


def test_jpeg_table_holds_one_row_per_quality(digits):
    qualities = (10, 40, 80)
    table = jpeg_table(digits[:3], qualities)
    assert table.qualities == qualities
    assert (
        table.file_bytes.shape == table.scan_bytes.shape == table.psnr.shape == (3, 3)
    )
    for row, q in enumerate(qualities):
        decoded, file_bytes, scan_bytes = jpeg_roundtrip(digits[:3], q)
        assert torch.equal(table.file_bytes[row], file_bytes) and torch.equal(
            table.scan_bytes[row], scan_bytes
        )
        torch.testing.assert_close(table.psnr[row], psnr(decoded, digits[:3]))


@pytest.fixture
def table():
    """Three qualities, two images: sizes and PSNR by hand."""
    return JPEGTable(
        qualities=(10, 50, 90),
        file_bytes=torch.tensor([[100, 120], [200, 220], [300, 320]]),
        scan_bytes=torch.tensor([[10, 20], [50, 60], [90, 100]]),
        psnr=torch.tensor([[20.0, 21.0], [30.0, 31.0], [40.0, 41.0]]),
    )


@pytest.mark.parametrize(
    ("budget", "count", "expected"),
    [
        ([250, 230], "file", [30.0, 31.0]),
        ([300, 320], "file", [40.0, 41.0]),  # a file exactly the budget's size fits
        ([1000, 120], "file", [40.0, 21.0]),
        ([99, 319], "file", [math.nan, 31.0]),
        ([50, 19], "scan", [30.0, math.nan]),
        ([9, 10], "scan", [math.nan, math.nan]),
    ],
)
def test_best_within_picks_the_best_quality_that_fits_each_budget(
    table, budget, count, expected
):
    got = table.best_within(torch.tensor(budget), count=count)
    np.testing.assert_array_equal(got.numpy(), np.array(expected, dtype=np.float32))


def test_best_within_counts_whole_files_by_default(table):
    np.testing.assert_array_equal(
        table.best_within(torch.tensor([150, 150])).numpy(), [20.0, 21.0]
    )


@pytest.mark.parametrize("count", ["bytes", "FILE", None])
def test_best_within_rejects_an_unknown_count(table, count):
    with pytest.raises(
        ValueError, match=f"count must be 'file' or 'scan', got {count!r}"
    ):
        table.best_within(torch.tensor([100, 100]), count=count)
