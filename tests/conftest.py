"""Shared fixtures for the unit tests of vae_lib: hand-built IDX files and a local HTTP
server.

Everything here is offline: the only server is on 127.0.0.1, started per test and shut
down in the fixture's finalizer.
"""

from __future__ import annotations

import gzip
import hashlib
import http.server
import threading
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # before anything imports pyplot

import numpy as np
import pytest
import torch

from vae_lib.corrupt import random_mask, square_mask
from vae_lib.models import VAE, VAEConfig

# The models here are tiny: one thread each is fastest, and with `-n 2` two workers
# would otherwise fight over the cores.
torch.set_num_threads(1)

# The four file stems of an MNIST-like data set, as LeCun named them.
TRAIN_IMAGES, TRAIN_LABELS = "train-images-idx3-ubyte", "train-labels-idx1-ubyte"
TEST_IMAGES, TEST_LABELS = "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"


def idx_bytes(array: np.ndarray) -> bytes:
    """Encode a uint8 array in LeCun's IDX format by hand: 0, 0, type 0x08, ndim, sizes,
    payload."""
    array = np.ascontiguousarray(array, dtype=np.uint8)
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(
        int(n).to_bytes(4, "big") for n in array.shape
    )
    return header + array.tobytes()


@pytest.fixture
def make_idx():
    return idx_bytes


@pytest.fixture
def synthetic_dataset():
    """A tiny MNIST-shaped data set: stem -> (uint8 array, uncompressed IDX bytes,
    gzipped bytes)."""
    rng = np.random.default_rng(1234)
    arrays = {
        TRAIN_IMAGES: rng.integers(0, 256, size=(6, 28, 28), dtype=np.uint8),
        TRAIN_LABELS: rng.integers(0, 10, size=6, dtype=np.uint8),
        TEST_IMAGES: rng.integers(0, 256, size=(4, 28, 28), dtype=np.uint8),
        TEST_LABELS: rng.integers(0, 10, size=4, dtype=np.uint8),
    }
    files = {}
    for stem, array in arrays.items():
        raw = idx_bytes(array)
        files[stem] = (array, raw, gzip.compress(raw))
    return files


@pytest.fixture
def synthetic_sha256(synthetic_dataset):
    """The checksum record of :func:`synthetic_dataset`, as a DatasetSpec holds it."""
    return {
        stem: hashlib.sha256(raw).hexdigest()
        for stem, (_, raw, _) in synthetic_dataset.items()
    }


@pytest.fixture
def write_dataset(synthetic_dataset):
    """Write the synthetic data set's four .gz files into a folder; return the
    folder."""

    def write(folder: Path) -> Path:
        folder.mkdir(parents=True, exist_ok=True)
        for stem, (_, _, gz) in synthetic_dataset.items():
            (folder / f"{stem}.gz").write_bytes(gz)
        return folder

    return write


class LocalServer:
    """Serves registered byte strings over HTTP; a route can be cut off halfway on
    purpose."""

    def __init__(self) -> None:
        self.routes: dict[str, tuple[bytes, bool]] = {}
        self.requests: list[str] = []
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            timeout = 10  # a stuck client cannot hold a handler thread for ever

            def do_GET(self) -> None:
                outer.requests.append(self.path)
                if self.path not in outer.routes:
                    self.send_error(404)
                    return
                body, cut_off = outer.routes[self.path]
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                # Cut off: promise len(body) bytes, send half, close the connection.
                self.wfile.write(body[: len(body) // 2] if cut_off else body)
                self.wfile.flush()
                self.close_connection = True

            def log_message(self, *args) -> None:
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        host, port = self.httpd.server_address[:2]
        self.base_url = f"http://{host}:{port}"
        self.thread = threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self.thread.start()

    def serve(self, name: str, body: bytes, *, cut_off: bool = False) -> str:
        """Serve ``body`` at ``/<name>``; return its URL."""
        self.routes[f"/{name}"] = (body, cut_off)
        return f"{self.base_url}/{name}"

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(timeout=5)


@pytest.fixture
def http_server():
    server = LocalServer()
    yield server
    server.close()


# --- helpers shared by the tests of models, inference and latent spaces ---------------


def seeded_generator(seed: int = 0) -> torch.Generator:
    """A CPU generator with a fixed seed."""
    return torch.Generator().manual_seed(seed)


def small_vae(seed: int = 0, **changes) -> VAE:
    """A tiny MLP VAE on 8x8 grey images (latent_dim 3, one hidden layer of 16), its
    weights seeded; ``changes`` override any config field."""
    torch.manual_seed(seed)
    fields = {"image_shape": (1, 8, 8), "latent_dim": 3, "hidden_dims": (16,)}
    return VAE(VAEConfig(**{**fields, **changes}))


@pytest.fixture
def gen():
    """``gen(seed=0)``: a seeded CPU generator."""
    return seeded_generator


@pytest.fixture
def make_vae():
    """``make_vae(seed=0, **config_changes)``: a tiny seeded VAE (see ``small_vae``)."""
    return small_vae


# --- a batch and its masks, for the restoration, inference and metrics tests ---------


@pytest.fixture
def y(gen):
    """A batch (3, 1, 8, 8) of seeded random grey images."""
    return torch.rand(3, 1, 8, 8, generator=gen(1))


# Two masks for y: a square hole and scattered pixels; each takes y and ``gen``.
MASKS = {
    "square": lambda y, gen: square_mask(y, 4, top=1, left=3),
    "random": lambda y, gen: random_mask(y, 0.4, gen(2)),
}


@pytest.fixture(params=MASKS.values(), ids=MASKS.keys())
def mask(request, y, gen):
    """Each mask of ``MASKS`` for ``y``, in turn."""
    return request.param(y, gen)
