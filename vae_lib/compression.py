"""Lossy compression with a VAE's latent code, and JPEG as the yardstick (Chapter 4).

A VAE compresses an image x to its posterior mean mu(x), rounded to a grid: dimension j
is quantised with step ``steps[j]`` to an integer k_j, and the decoder turns the grid
point z_j = k_j * steps[j] back into a picture. Sender and receiver share the prior
N(0, 1), so the integers can be entropy-coded: an ideal coder spends -log2 P(k_j) bits
on k_j, where P(k) = Phi((k + 1/2) step) - Phi((k - 1/2) step) is the prior's mass on
k's cell, and an arithmetic coder needs at most 2 bits more per message
(MacKay 2003, Ch. 6). Inactive dimensions (Chapter 4's "active units") are not sent: the
receiver sets them to 0, where their means sit.

A transform codec without learning beyond a linear map, :class:`PCACodec`, gets the
same treatment: an image's coefficients on the principal components of the training
images are rounded to a grid with one step for every component (the squared pixel error
is the sum of the coefficients' squared errors; one step for all is the classical
choice), and the integers are coded ideally under a Gaussian with each component's
training variance, the coefficients' prior, with the same 2-bit allowance.

For JPEG the file is encoded with Pillow; its size is counted two ways: the whole file,
and only the entropy-coded scan, which leaves out the headers and tables
(most of a small file).
"""

from __future__ import annotations

import io
import math
from typing import NamedTuple

import numpy as np
import torch
from PIL import Image

from .metrics import psnr
from .validate import (
    check_finite,
    check_float_tensor,
    check_images,
    check_int_tensor,
    check_positive_float,
    check_tensor,
)

ARITHMETIC_CODER_OVERHEAD_BITS = 2.0


class LatentCodec(NamedTuple):
    """Quantisation steps (latent_dim,) and which dimensions are sent
    (bool, latent_dim). Its results come back on the device of the codes or integers
    passed in."""

    steps: torch.Tensor
    sent: torch.Tensor

    @classmethod
    def from_posterior(
        cls, mu: torch.Tensor, logvar: torch.Tensor, scale: float, sent: torch.Tensor
    ) -> LatentCodec:
        """Steps proportional to each dimension's typical posterior std:
        ``scale`` * mean_n sigma_j(x_n).

        mu, logvar: (N, latent_dim) posterior parameters of training images; a coarser
        ``scale`` spends fewer bits; ``sent`` (latent_dim,) marks the dimensions to
        transmit.
        """
        mu, logvar = check_float_tensor(mu, "mu"), check_float_tensor(logvar, "logvar")
        scale = check_positive_float(scale, "scale")
        sent = check_tensor(sent, "sent")
        if (
            mu.dim() != 2
            or logvar.shape != mu.shape
            or sent.shape != mu.shape[1:]
            or sent.dtype != torch.bool
        ):
            raise ValueError(
                "mu and logvar must be (N, latent_dim) and sent a bool (latent_dim,), "
                f"got {tuple(mu.shape)}, {tuple(logvar.shape)}, {tuple(sent.shape)} "
                f"{sent.dtype}"
            )
        steps = scale * torch.exp(0.5 * logvar).mean(dim=0)
        return cls(steps, sent.to(steps.device))

    def _on(self, t: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The steps (in the dtype of ``t`` if floating) and the sent mask on t's
        device."""
        dtype = t.dtype if t.is_floating_point() else self.steps.dtype
        return self.steps.to(t.device, dtype), self.sent.to(t.device)

    def quantize(self, mu: torch.Tensor) -> torch.Tensor:
        """Posterior means (N, latent_dim) -> integers (N, latent_dim), 0 where a
        dimension is not sent."""
        mu = check_float_tensor(mu, "mu")
        if mu.dim() != 2 or mu.shape[1] != self.steps.shape[0]:
            raise ValueError(
                f"mu: codes must be (N, {self.steps.shape[0]}), got {tuple(mu.shape)}"
            )
        steps, sent = self._on(mu)
        k = torch.round(mu.detach() / steps)
        return torch.where(sent, k, torch.zeros_like(k)).long()

    def _check_integers(self, k: object) -> torch.Tensor:
        """Fail unless ``k`` holds integers (N, latent_dim), as :meth:`quantize`
        gives."""
        k = check_int_tensor(k, "k")
        if k.dim() != 2 or k.shape[1] != self.steps.shape[0]:
            raise ValueError(
                f"k must be (N, {self.steps.shape[0]}) integers, got {tuple(k.shape)}"
            )
        return k

    def dequantize(self, k: torch.Tensor) -> torch.Tensor:
        """Integers (N, latent_dim) -> the grid points the decoder receives,
        (N, latent_dim), in the steps' dtype."""
        k = self._check_integers(k)
        steps, sent = self._on(k)
        return k.to(steps.dtype) * steps * sent

    def code_bits(self, k: torch.Tensor) -> torch.Tensor:
        """Bits to send each row of integers k (N, latent_dim) under the prior, coder
        overhead included: (N,)."""
        k = self._check_integers(k)
        step, sent = self._on(k)
        k, step = k.double(), step.double()
        # log P(k) = log(Phi(b) - Phi(a)) for the cell [a, b], mirrored to the negative
        # side (where log_ndtr keeps its precision far into the tail) and without
        # subtracting two numbers near 1.
        a = torch.where(k > 0, -(k + 0.5) * step, (k - 0.5) * step)
        b = torch.where(k > 0, -(k - 0.5) * step, (k + 0.5) * step)
        log_b = torch.special.log_ndtr(b)
        log_mass = log_b + torch.log1p(-torch.exp(torch.special.log_ndtr(a) - log_b))
        bits = -log_mass / math.log(2)
        return (bits * sent).sum(dim=1).float() + ARITHMETIC_CODER_OVERHEAD_BITS


class PCACodec(NamedTuple):
    """A transform codec on the principal components of training images (Chapter 4).

    ``mean`` (D,) and ``components`` (K, D), orthonormal rows, are fitted to training
    images of shape ``image_shape`` (C, H, W), D = C * H * W; ``scales`` (K,) is each
    component's standard deviation over them and ``step`` the grid step of every
    coefficient, in pixel units. Results come back on the device of the images or
    integers passed in.
    """

    mean: torch.Tensor
    components: torch.Tensor
    scales: torch.Tensor
    step: float
    image_shape: tuple[int, int, int]

    @classmethod
    def fit(cls, x: torch.Tensor, num_components: int, step: float) -> PCACodec:
        """Principal components of training images x (N, C, H, W): the
        ``num_components`` of largest variance, with grid step ``step``."""
        x = check_images(x)
        flat = x.detach().flatten(1).double()  # (N, D)
        if isinstance(num_components, bool) or not (
            isinstance(num_components, int) and 1 <= num_components <= min(flat.shape)
        ):
            raise ValueError(
                "num_components must be an int from 1 to min(N, D) = "
                f"{min(flat.shape)}, got {num_components!r}"
            )
        mean = flat.mean(dim=0)
        centred = flat - mean
        variances, vectors = torch.linalg.eigh(centred.T @ centred / flat.shape[0])
        order = variances.argsort(descending=True)[:num_components]
        scales = variances[order].clamp(min=0).sqrt()
        # rounding leaves variances of about 1e-16 of the largest in missing directions
        if not (scales > 1e-6 * scales[0]).all():
            raise ValueError(
                f"the images span fewer than num_components = {num_components} "
                "directions: a component with zero variance cannot be coded"
            )
        codec = cls(
            mean.to(x.dtype),
            vectors[:, order].T.contiguous().to(x.dtype),  # (K, D)
            scales.to(x.dtype),
            1.0,
            (x.shape[1], x.shape[2], x.shape[3]),
        )
        return codec.with_step(step)

    def with_step(self, step: float) -> PCACodec:
        """The same components with grid step ``step`` (pixel units)."""
        if isinstance(step, bool) or not (
            isinstance(step, (int, float)) and step > 0 and math.isfinite(step)
        ):
            raise ValueError(f"step must be a positive number, got {step!r}")
        return self._replace(step=float(step))

    @property
    def latent_codec(self) -> LatentCodec:
        """The coefficients divided by their scales are codes with prior N(0, 1): the
        :class:`LatentCodec` that rounds and counts them, every component sent."""
        return LatentCodec(
            self.step / self.scales, torch.ones_like(self.scales, dtype=torch.bool)
        )

    def coefficients(self, x: torch.Tensor) -> torch.Tensor:
        """Images x (N, C, H, W) -> their coefficients (N, K), on x's device."""
        x = check_images(x, image_shape=self.image_shape)
        mean = self.mean.to(x.device, x.dtype)
        return (x.detach().flatten(1) - mean) @ self.components.to(x.device, x.dtype).T

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """Images x (N, C, H, W) -> integers (N, K): each coefficient rounded to the
        grid."""
        return self.latent_codec.quantize(self.coefficients(x) / self.scales.to(x))

    def decode(self, k: torch.Tensor) -> torch.Tensor:
        """Integers (N, K) -> images (N, C, H, W), clipped to [0, 1], on k's device."""
        k = check_int_tensor(k, "k")
        if k.dim() != 2 or k.shape[1] != self.scales.shape[0]:
            raise ValueError(
                f"k must be (N, {self.scales.shape[0]}) integers, got {tuple(k.shape)}"
            )
        scales = self.scales.to(k.device)
        coefficients = self.latent_codec.dequantize(k) * scales  # (N, K)
        flat = coefficients @ self.components.to(k.device) + self.mean.to(k.device)
        return flat.clamp(0, 1).reshape(-1, *self.image_shape)

    def code_bits(self, k: torch.Tensor) -> torch.Tensor:
        """Bits to send each row of integers k (N, K), coder overhead included: (N,)."""
        return self.latent_codec.code_bits(k)


class Bracket(NamedTuple):
    """Per item (N,), the best score among the settings whose size fits a budget, and
    the score of the cheapest setting whose size reaches it; NaN where there is none."""

    within: torch.Tensor
    beyond: torch.Tensor


def bracket(sizes: torch.Tensor, scores: torch.Tensor, budget: torch.Tensor) -> Bracket:
    """Bracket a budget (N,) with a codec's settings: ``sizes`` and ``scores`` (Q, N)
    give each setting's size and score (higher better) on each item. ``within``: the
    best score of a size <= budget; ``beyond``: the score of the smallest size >=
    budget (the better score among equal sizes). On the sizes' device."""
    sizes = check_finite(check_tensor(sizes, "sizes"), "sizes")
    scores = check_finite(check_tensor(scores, "scores"), "scores")
    budget = check_finite(check_tensor(budget, "budget"), "budget")
    if (
        sizes.dim() != 2
        or scores.shape != sizes.shape
        or budget.shape != sizes.shape[1:]
    ):
        raise ValueError(
            "sizes and scores must be (Q, N) and budget (N,), got "
            f"{tuple(sizes.shape)}, {tuple(scores.shape)} and {tuple(budget.shape)}"
        )
    sizes = sizes.double()
    scores = scores.double().to(sizes.device)
    budget = budget.double().to(sizes.device)[None, :]
    nan = torch.tensor(float("nan"), dtype=torch.float64, device=sizes.device)
    fits = sizes <= budget
    within = torch.where(fits, scores, -math.inf).amax(dim=0)
    within = torch.where(fits.any(dim=0), within, nan)
    over = torch.where(sizes >= budget, sizes, math.inf)  # (Q, N)
    cheapest = over.amin(dim=0, keepdim=True)
    chosen = (over == cheapest) & torch.isfinite(over)
    beyond = torch.where(chosen, scores, -math.inf).amax(dim=0)
    beyond = torch.where(chosen.any(dim=0), beyond, nan)
    return Bracket(within.float(), beyond.float())


class JPEGTable(NamedTuple):
    """JPEG at each quality (Q,) for each image (N): file bytes, scan bytes and PSNR,
    each (Q, N)."""

    qualities: tuple[int, ...]
    file_bytes: torch.Tensor
    scan_bytes: torch.Tensor
    psnr: torch.Tensor

    def best_within(
        self, budget_bytes: torch.Tensor, count: str = "file"
    ) -> torch.Tensor:
        """Per image, the PSNR of the best quality whose size fits ``budget_bytes``
        (N,); NaN where even the lowest quality is too large. ``count``: ``"file"`` or
        ``"scan"``."""
        sizes = self._sizes(count)
        budget = self._per_image(budget_bytes, "budget_bytes")
        return bracket(sizes, self.psnr, budget).within.to(self.psnr)

    def smallest_reaching(
        self, target_psnr: torch.Tensor, count: str = "file"
    ) -> torch.Tensor:
        """Per image, the fewest bytes of any quality whose PSNR reaches ``target_psnr``
        (N,) dB; NaN where even the best quality falls short. ``count``: ``"file"`` or
        ``"scan"``."""
        sizes = self._sizes(count).float()
        target = self._per_image(target_psnr, "target_psnr").to(self.psnr)
        reaches = self.psnr >= target[None, :]
        return (
            torch.where(reaches, sizes, torch.tensor(math.inf))
            .amin(dim=0)
            .nan_to_num(posinf=float("nan"))
        )

    def _per_image(self, values: object, name: str) -> torch.Tensor:
        """Fail unless ``values`` are finite numbers, one per image: (N,)."""
        try:
            tensor = torch.as_tensor(values)
        except (TypeError, ValueError, RuntimeError) as error:
            raise TypeError(
                f"{name} must be a tensor of numbers, one per image, got "
                f"{type(values).__name__}"
            ) from error
        n = self.psnr.shape[1]
        if tensor.shape != (n,) or tensor.dtype == torch.bool:
            raise ValueError(
                f"{name} must hold one number per image, shape ({n},), got "
                f"{tuple(tensor.shape)} {tensor.dtype}"
            )
        return check_finite(tensor, name)

    def _sizes(self, count: str) -> torch.Tensor:
        if count not in ("file", "scan"):
            raise ValueError(f"count must be 'file' or 'scan', got {count!r}")
        return self.file_bytes if count == "file" else self.scan_bytes


def _scan_bytes(data: bytes) -> int:
    """Size of a baseline JPEG's entropy-coded scan: after the SOS header, before the
    EOI marker."""
    sos = data.find(b"\xff\xda")
    if sos < 0 or not data.endswith(b"\xff\xd9"):
        raise ValueError("not a complete single-scan JPEG file")
    header_length = int.from_bytes(data[sos + 2 : sos + 4], "big")
    return len(data) - (sos + 2 + header_length) - 2


def jpeg_roundtrip(
    x: torch.Tensor, quality: int
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Encode grey images x (N, 1, H, W) in [0, 1] as JPEG (Pillow, optimised Huffman
    tables) and decode.

    Returns the decoded images (N, 1, H, W) and each file's total and scan sizes in
    bytes, (N,) each.
    """
    x = check_images(x)
    if x.shape[1] != 1:
        raise ValueError(
            f"x must be grey images (N, 1, H, W) for JPEG, got {tuple(x.shape)}"
        )
    if (
        isinstance(quality, bool)
        or not isinstance(quality, int)
        or not 1 <= quality <= 95
    ):
        raise ValueError(f"quality must be an int from 1 to 95, got {quality!r}")
    pixels = (x[:, 0].detach().cpu().numpy() * 255).round().astype(np.uint8)
    decoded, file_bytes, scan_bytes = [], [], []
    for image in pixels:
        buffer = io.BytesIO()
        Image.fromarray(image, mode="L").save(
            buffer, format="JPEG", quality=quality, optimize=True
        )
        data = buffer.getvalue()
        file_bytes.append(len(data))
        scan_bytes.append(_scan_bytes(data))
        decoded.append(np.asarray(Image.open(io.BytesIO(data)), dtype=np.float32) / 255)
    return (
        torch.from_numpy(np.stack(decoded))[:, None],
        torch.tensor(file_bytes),
        torch.tensor(scan_bytes),
    )


def jpeg_table(
    x: torch.Tensor,
    qualities: tuple[int, ...] = (1, 2, 3, 5, 8, 12, 20, 30, 50, 75, 95),
) -> JPEGTable:
    """JPEG sizes and PSNR of grey images x (N, 1, H, W) at each quality."""
    if (
        not isinstance(qualities, (tuple, list))
        or not qualities
        or any(
            isinstance(q, bool) or not isinstance(q, int) or not 1 <= q <= 95
            for q in qualities
        )
    ):
        raise ValueError(
            "qualities must be a non-empty tuple of ints from 1 to 95, got "
            f"{qualities!r}"
        )
    rows = [jpeg_roundtrip(x, q) for q in qualities]
    return JPEGTable(
        tuple(qualities),
        torch.stack([r[1] for r in rows]),
        torch.stack([r[2] for r in rows]),
        torch.stack([psnr(r[0], x) for r in rows]),
    )
