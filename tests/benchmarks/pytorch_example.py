"""The conventional training loop: a re-implementation of the VAE of pytorch/examples
(vae/main.py).

It is the yardstick of the training-speed benchmark, so it keeps what makes that example
typical:

* the data set is a ``torch.utils.data.Dataset`` that, like torchvision's ``MNIST`` with
  ``transforms.ToTensor()``, stores uint8 images and turns each one into a PIL image and
  then into a float tensor in [0, 1] when it is fetched; a ``DataLoader`` (batch 128,
  shuffled, no worker processes on the CPU) collates the batches;
* the model is 784-400-20 with ReLU, separate layers for mu and logvar, a sigmoid
  output;
* the loss is the summed binary cross-entropy on grey levels plus the closed-form KL
  (Kingma & Welling 2014, App. B), optimised by Adam at 1e-3;
* the step reads the loss with ``.item()`` (a host synchronisation on a GPU) every
  batch;
* the test loss is evaluated after every epoch the same way.

The later continuous-Bernoulli correction of the example is left out: the benchmark's
target, 106 nats, is the original example's grey-level BCE + KL. torchvision itself is
not used (there is no CPU build of it here); the dataset class does the same PIL round
trip.
"""

from __future__ import annotations

import time

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from torch import nn

BATCH_SIZE = 128
LEARNING_RATE = 1e-3
NUM_PIXELS = 28 * 28


class PILMNIST(torch.utils.data.Dataset):
    """uint8 images (N, 28, 28) served one at a time as (1, 28, 28) float tensors, via
    PIL."""

    def __init__(self, images: torch.Tensor) -> None:
        if images.dtype != torch.uint8 or images.dim() != 3:
            raise ValueError(
                "images must be uint8 (N, 28, 28), "
                f"got {images.dtype} {tuple(images.shape)}"
            )
        self.images = images

    def __len__(self) -> int:
        return self.images.shape[0]

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        picture = Image.fromarray(self.images[index].numpy(), mode="L")
        pixels = torch.from_numpy(np.array(picture, np.uint8, copy=True))  # (28, 28)
        return pixels.unsqueeze(0).contiguous().float().div(
            255
        ), 0  # (1, 28, 28), dummy label


def as_uint8(images: torch.Tensor) -> torch.Tensor:
    """Float images (N, 1, 28, 28) in [0, 1] back to the uint8 (N, 28, 28) of the IDX
    file."""
    return (images[:, 0] * 255).round().to(torch.uint8)


class ExampleVAE(nn.Module):
    """784-400-20 VAE with a sigmoid output, as in the example."""

    def __init__(self) -> None:
        super().__init__()
        self.fc1 = nn.Linear(NUM_PIXELS, 400)
        self.fc21 = nn.Linear(400, 20)
        self.fc22 = nn.Linear(400, 20)
        self.fc3 = nn.Linear(20, 400)
        self.fc4 = nn.Linear(400, NUM_PIXELS)

    def forward(
        self, x: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        h = F.relu(self.fc1(x.view(-1, NUM_PIXELS)))
        mu, logvar = self.fc21(h), self.fc22(h)
        z = mu + torch.randn_like(mu) * torch.exp(0.5 * logvar)
        return torch.sigmoid(self.fc4(F.relu(self.fc3(z)))), mu, logvar


def example_loss(
    recon: torch.Tensor, x: torch.Tensor, mu: torch.Tensor, logvar: torch.Tensor
) -> torch.Tensor:
    """Summed BCE + KL over the batch (a scalar), the example's ``loss_function``."""
    bce = F.binary_cross_entropy(recon, x.view(-1, NUM_PIXELS), reduction="sum")
    kl = -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())
    return bce + kl


def train_epoch(
    model: nn.Module, optimizer: torch.optim.Optimizer, loader, device: torch.device
) -> float:
    """One epoch of the example's ``train``; returns the mean loss per image."""
    model.train()
    train_loss = 0.0
    for data, _ in loader:
        data = data.to(device)
        optimizer.zero_grad()
        recon, mu, logvar = model(data)
        loss = example_loss(recon, data, mu, logvar)
        loss.backward()
        train_loss += loss.item()
        optimizer.step()
    return train_loss / len(loader.dataset)


@torch.no_grad()
def evaluate_epoch(model: nn.Module, loader, device: torch.device) -> float:
    """The example's ``test``: mean loss per test image, one z sample each."""
    model.eval()
    total = 0.0
    for data, _ in loader:
        data = data.to(device)
        recon, mu, logvar = model(data)
        total += example_loss(recon, data, mu, logvar).item()
    return total / len(loader.dataset)


def train_and_test(
    train_images: torch.Tensor,
    test_images: torch.Tensor,
    num_epochs: int,
    seed: int,
    device: torch.device,
    stop_below: float | None = None,
) -> list[dict[str, float]]:
    """The example's main loop (train, then test, every epoch) on float images
    (N, 1, 28, 28), stopped early once the test loss is at most ``stop_below`` (if
    given).

    Returns one dict per epoch: ``train_seconds`` (the training pass), ``seconds``
    (training and testing, cumulative from the start) and ``test_loss``.
    """
    torch.manual_seed(seed)
    loader_options = (
        {"num_workers": 1, "pin_memory": True} if device.type == "cuda" else {}
    )
    train_loader = torch.utils.data.DataLoader(
        PILMNIST(as_uint8(train_images)),
        batch_size=BATCH_SIZE,
        shuffle=True,
        **loader_options,
    )
    test_loader = torch.utils.data.DataLoader(
        PILMNIST(as_uint8(test_images)),
        batch_size=BATCH_SIZE,
        shuffle=True,
        **loader_options,
    )
    model = ExampleVAE().to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=LEARNING_RATE)
    epochs, elapsed = [], 0.0
    for _ in range(num_epochs):
        start = time.perf_counter()
        train_epoch(model, optimizer, train_loader, device)
        trained = time.perf_counter()
        loss = evaluate_epoch(model, test_loader, device)
        elapsed += time.perf_counter() - start
        epochs.append(
            {"train_seconds": trained - start, "seconds": elapsed, "test_loss": loss}
        )
        if stop_below is not None and loss <= stop_below:
            break
    return epochs
