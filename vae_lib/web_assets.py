"""The scripts and fonts the HTML book loads, served from its own static files.

A page of the book must read without a network: its maths typeset, nothing requested
from a CDN. MathJax 3 is therefore fetched from the npm registry at build time (``make
book`` runs ``python -m vae_lib.web_assets fetch``), pinned to one version and checked
against the registry's SHA-512 integrity before a single file is unpacked, and copied
with its licence into ``book/_static/vendor/`` (ignored by git), from where Sphinx
serves it (``mathjax_path`` in ``_config.yml``). The download is cached in
``.cache/npm/``, so later builds need no network at all.

The book loads no ipywidgets manager: a static page has no kernel, so a widget there
could draw its controls but never change its picture. Each explorer of
:mod:`vae_lib.widgets` carries a static version instead (frames computed when the
notebook runs, swapped by a few lines of script), which the HTML book shows.

Book tooling, not part of what the chapters import.
"""

from __future__ import annotations

import argparse
import base64
import fnmatch
import hashlib
import io
import os
import shutil
import sys
import tarfile
import tempfile
import urllib.request
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VENDOR = ROOT / "book" / "_static" / "vendor"
CACHE = ROOT / ".cache" / "npm"
REGISTRY = "https://registry.npmjs.org"


@dataclass(frozen=True)
class NpmPackage:
    """One pinned npm package and the files of it the book serves."""

    name: str
    version: str
    integrity: str  # the registry's "sha512-<base64>" of the tarball
    files: tuple[str, ...]  # glob patterns inside the package folder
    licence: str

    @property
    def tarball_url(self) -> str:
        return f"{REGISTRY}/{self.name}/-/{self.name}-{self.version}.tgz"

    @property
    def folder(self) -> Path:
        return VENDOR / self.name


MATHJAX = NpmPackage(
    name="mathjax",
    version="3.2.2",
    integrity=(
        "sha512-Bt+SSVU8eBG27zChVewOicYs7Xsdt40qm4+UpHyX7k0/O9NliPc+x77k1/"
        "FEsPsjKPZGJvtRZM1vO+geW0OhGw=="
    ),
    # the full TeX build holds every TeX extension, so a page never loads another
    # script; the fonts are the only files it requests.
    files=("LICENSE", "es5/tex-chtml-full.js", "es5/output/chtml/fonts/woff-v2/*.woff"),
    licence="Apache-2.0",
)
PACKAGES = (MATHJAX,)


def integrity_of(data: bytes) -> str:
    """npm's integrity string of ``data``: ``sha512-`` and the base64 digest."""
    return "sha512-" + base64.b64encode(hashlib.sha512(data).digest()).decode()


def tarball(package: NpmPackage, *, cache: Path = CACHE) -> bytes:
    """The package's tarball, from the cache or the registry, verified."""
    cached = cache / f"{package.name}-{package.version}.tgz"
    if cached.exists():
        data = cached.read_bytes()
    else:
        with urllib.request.urlopen(package.tarball_url, timeout=60) as response:
            data = response.read()
    if integrity_of(data) != package.integrity:
        raise RuntimeError(
            f"{package.name} {package.version}: the tarball "
            f"({f'cached at {cached}' if cached.exists() else package.tarball_url}) "
            f"does not match the pinned integrity {package.integrity[:24]}...; "
            "delete the cached file and fetch again"
        )
    if not cached.exists():
        cache.mkdir(parents=True, exist_ok=True)
        partial = cached.with_suffix(".part")
        partial.write_bytes(data)
        os.replace(partial, cached)
    return data


def unpack(package: NpmPackage, data: bytes, folder: Path) -> list[str]:
    """Write the package's chosen files into ``folder`` (replaced whole, atomically);
    returns their paths relative to it."""
    written: list[str] = []
    folder.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{package.name}-", dir=folder.parent))
    try:
        with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as archive:
            for member in archive.getmembers():
                relative = member.name.removeprefix("package/")
                if not member.isfile() or not any(
                    fnmatch.fnmatchcase(relative, pattern) for pattern in package.files
                ):
                    continue
                target = staging / relative
                target.parent.mkdir(parents=True, exist_ok=True)
                source = archive.extractfile(member)
                assert source is not None  # a regular file
                target.write_bytes(source.read())
                written.append(relative)
        missing = [
            pattern
            for pattern in package.files
            if not any(fnmatch.fnmatchcase(path, pattern) for path in written)
        ]
        if missing:
            raise RuntimeError(
                f"{package.name}: no file in the tarball matches {missing}"
            )
        (staging / "VERSION").write_text(
            f"{package.name} {package.version} ({package.licence}), "
            f"{package.integrity}\n",
            encoding="utf-8",
        )
        if folder.exists():
            shutil.rmtree(folder)
        os.replace(staging, folder)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return sorted(written)


def is_current(package: NpmPackage) -> bool:
    stamp = package.folder / "VERSION"
    return stamp.exists() and package.integrity in stamp.read_text(encoding="utf-8")


def fetch(packages: tuple[NpmPackage, ...] = PACKAGES) -> None:
    """Make ``book/_static/vendor/`` hold each package's files at its pinned version."""
    for package in packages:
        if is_current(package):
            continue
        files = unpack(package, tarball(package), package.folder)
        print(
            f"{package.name} {package.version}: {len(files)} files in {package.folder}"
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("command", choices=["fetch"])
    parser.parse_args(argv)
    fetch()
    return 0


if __name__ == "__main__":
    sys.exit(main())
