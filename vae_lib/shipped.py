"""Building and verifying the shipped checkpoints: ``python -m vae_lib.shipped`` (the
command behind ``make checkpoints`` and ``make verify-checkpoints``).

``build`` trains each recipe of :mod:`vae_lib.pretrained` from scratch (seeded) and
writes ``data/checkpoints/<name>.safetensors``, the metrics it measured in its header,
reporting any metric that moved from the checkpoint it replaced; ``verify`` re-evaluates
the shipped weights and compares them with their recorded metrics; ``list`` names the
recipes.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path

import torch

from . import pretrained
from .checkpoints import (
    Metrics,
    checkpoint_path,
    load_checkpoint,
    load_or_train,
    read_record,
)
from .models import Model
from .runtime import resolve_device

# nats: re-evaluating the same weights on another CPU may differ in rounding only
METRIC_TOLERANCE = 0.01
# for large metrics (a Gaussian decoder's -ELBO is thousands of nats), rounding scales
RELATIVE_TOLERANCE = 1e-5
# relative: retraining repeats the same seeded steps, so it should match closely
REBUILD_TOLERANCE = 0.01


def _recorded_metrics(path: Path) -> dict | None:
    return read_record(path).metrics if checkpoint_path(path).is_file() else None


def build(
    names: list[str], out_dir: Path | None = None, device: str | None = "cpu"
) -> list[str]:
    """Train each named recipe from scratch and write its checkpoint
    (``make checkpoints``).

    Where a checkpoint was already there, its recorded metrics are compared with the new
    ones; returns one line per metric that moved by more than ``REBUILD_TOLERANCE``
    (relative).
    """
    # reject a misspelt name before any training
    recipes = [pretrained.get_recipe(name) for name in names]
    out_dir = Path(out_dir or pretrained.checkpoint_dir())
    out_dir.mkdir(parents=True, exist_ok=True)
    problems = []
    for name, recipe in zip(names, recipes):
        before = _recorded_metrics(out_dir / name)
        start = time.perf_counter()

        def train(model: Model, recipe: pretrained.Recipe = recipe) -> Metrics:
            return pretrained.train_recipe(recipe, model)

        with pretrained.seeded_init(recipe):
            _, metrics = load_or_train(
                out_dir / name,
                recipe.config,
                train,
                retrain=True,
                save=True,
                device=resolve_device(device),
            )
        compared = {
            k: v
            for k, v in metrics.items()
            if isinstance(v, (int, float)) and k != "train_seconds"
        }
        line = (
            f"{name}: "
            + ", ".join(
                f"{k} {v:.2f}" if isinstance(v, float) else f"{k} {v}"
                for k, v in compared.items()
            )
            + f" ({time.perf_counter() - start:.0f} s)"
        )
        if before is not None:
            moved = [
                k
                for k, v in compared.items()
                if abs(v - before.get(k, math.inf)) > REBUILD_TOLERANCE * abs(v)
            ]
            line += "; previous checkpoint: " + (
                f"differs in {', '.join(moved)}" if moved else "same metrics"
            )
            problems += [
                f"{name}: {k} was {before.get(k)}, rebuilt {metrics[k]}" for k in moved
            ]
        print(line, flush=True)
    return problems


def verify(names: list[str], directory: Path | None = None) -> list[str]:
    """Re-evaluate each shipped checkpoint on the CPU; return one line per metric that
    does not match."""
    directory = Path(directory or pretrained.checkpoint_dir())
    test_sets: dict[str, torch.Tensor] = {}
    problems = []
    for name in names:
        recipe = pretrained.get_recipe(name)
        model, recorded = load_checkpoint(
            directory / name, expected_config=recipe.config, device="cpu"
        )
        if recipe.dataset not in test_sets:
            test_sets[recipe.dataset] = pretrained.load_dataset(
                recipe.dataset, "test"
            ).images
        measured = pretrained.evaluate_checkpoint(
            model,
            test_sets[recipe.dataset],
            denoising=recipe.denoising,
            noise_tests=recipe.noise.noise_tests(),
        )
        for key, value in measured.items():
            if key not in recorded or abs(recorded[key] - value) > max(
                METRIC_TOLERANCE, RELATIVE_TOLERANCE * abs(value)
            ):
                problems.append(
                    f"{name}: {key} recorded {recorded.get(key)} but re-evaluated "
                    f"{value:.4f}"
                )
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m vae_lib.shipped",
        # the module docstring's summary paragraph, joined into one line
        description=" ".join(__doc__.split("\n\n")[0].split()),
    )
    parser.add_argument("command", choices=("build", "verify", "list"))
    parser.add_argument("names", nargs="*", help="recipes (default: all)")
    parser.add_argument(
        "--out",
        type=Path,
        default=None,
        help="folder for build (default: data/checkpoints)",
    )
    parser.add_argument(
        "--device", default="cpu", help="device to train on for build (default: cpu)"
    )
    args = parser.parse_args(argv)
    names = args.names or list(pretrained.RECIPES)
    for name in names:
        pretrained.get_recipe(name)
    if args.command == "list":
        for r in (pretrained.RECIPES[n] for n in names):
            print(f"{r.name}: {r.summary} ({r.num_epochs} epochs, beta {r.beta})")
    elif args.command == "build":
        problems = build(names, args.out, args.device)
        print("\n".join(problems) or "build finished")
        return 1 if problems else 0
    else:
        problems = verify(names, args.out)
        print(
            "\n".join(problems)
            or f"{len(names)} checkpoints match their recorded metrics"
        )
        return 1 if problems else 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
