"""The library installs anywhere: a wheel of vae_lib, installed into a fresh virtual
environment with only its declared dependencies (and PyTorch, installed first as the
README says), imports every module, and the README's quick start runs there as written.

Marked ``install`` (``make install-test``): building the environment takes about a
minute, longer than the whole unit suite.
"""

from __future__ import annotations

import os
import pkgutil
import re
import shutil
import subprocess
import sys
import venv
from pathlib import Path

import pytest
import torch

import vae_lib

pytestmark = pytest.mark.install

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
MODULES = sorted(module.name for module in pkgutil.iter_modules(vae_lib.__path__))
# What a wheel is built from: the package, its metadata and the files they name.
SOURCES = ("vae_lib", "pyproject.toml", "README.md", "LICENSE")


def _run(command: list[str], cwd: Path, **env: str) -> str:
    done = subprocess.run(
        command,
        cwd=cwd,
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "PIP_DISABLE_PIP_VERSION_CHECK": "1", **env},
    )
    assert done.returncode == 0, (
        f"{' '.join(command)} failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    )
    return done.stdout


@pytest.fixture(scope="module")
def fresh_python(tmp_path_factory) -> Path:
    """The Python of a new virtual environment holding PyTorch and the vae_lib wheel."""
    work = tmp_path_factory.mktemp("wheel")
    source = work / "source"  # a copy, so that building leaves the repository clean
    source.mkdir()
    for name in SOURCES:
        copy = shutil.copytree if (ROOT / name).is_dir() else shutil.copy2
        copy(ROOT / name, source / name)
    pip = [sys.executable, "-m", "pip"]
    _run([*pip, "wheel", "--quiet", "--no-deps", "-w", str(work / "dist"), "."], source)
    (wheel,) = (work / "dist").glob("vae_lib-*.whl")
    venv.create(work / "env", with_pip=True)
    python = work / "env" / "bin" / "python"
    torch_release = torch.__version__.split("+")[0]
    _run(
        [str(python), "-m", "pip", "install", "--quiet", f"torch=={torch_release}"],
        work,
    )
    _run([str(python), "-m", "pip", "install", "--quiet", str(wheel)], work)
    return python


def test_wheel_installs_and_imports_every_module(fresh_python, tmp_path):
    check = (
        "import importlib, sys, vae_lib\n"
        f"for name in {MODULES!r}:\n"
        "    importlib.import_module('vae_lib.' + name)\n"
        "    assert getattr(vae_lib, name).__name__ == 'vae_lib.' + name\n"
        "print(vae_lib.__file__)\n"
        "print(vae_lib.metrics.psnr.__module__)\n"
    )
    # -I: no current folder, no PYTHONPATH, so only the installed wheel can answer.
    printed = _run([str(fresh_python), "-I", "-c", check], tmp_path).split()
    assert "site-packages" in printed[0] and ROOT.as_posix() not in printed[0]
    assert printed[1] == "vae_lib.metrics"


def quick_start() -> str:
    """The first Python code block of the README's section "Quick start"."""
    text = README.read_text(encoding="utf-8")
    section = text.split("\n## Quick start", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"^```python\n(.*?)^```", section, re.DOTALL | re.MULTILINE)
    assert blocks, "the README's Quick start has no ```python block"
    return blocks[0]


def test_quick_start_runs_as_written_from_the_wheel(fresh_python, tmp_path):
    script = tmp_path / "quick_start.py"
    script.write_text(quick_start(), encoding="utf-8")
    # Installed from a wheel, the library finds the repository's data through the
    # variable the README names.
    printed = _run(
        [str(fresh_python), "-I", str(script)],
        tmp_path,
        VAE_BOOK_DATA=str(ROOT / "data"),
    )
    noisy, denoised = map(
        float, re.findall(r"noisy ([\d.]+) dB, denoised ([\d.]+) dB", printed)[0]
    )
    hole, mean_fill = map(
        float, re.findall(r"hole ([\d.]+) dB, mean fill ([\d.]+) dB", printed)[0]
    )
    assert denoised > noisy and hole > mean_fill, printed  # what the quick start shows
    assert "-ELBO" in printed and "log p(x)" in printed, printed
    # the checkpoint went to a temporary folder
    assert list(tmp_path.iterdir()) == [script]
