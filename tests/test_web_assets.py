"""vae_lib.web_assets: MathJax from the npm registry, pinned, verified, unpacked whole
(offline: a tarball made here stands in for the registry's)."""

from __future__ import annotations

import io
import tarfile
from dataclasses import replace

import pytest

from vae_lib import web_assets


def npm_tarball(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for name, data in files.items():
            info = tarfile.TarInfo(f"package/{name}")
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


FILES = {
    "LICENSE": b"Apache",
    "es5/tex-chtml-full.js": b"mathjax()",
    "es5/output/chtml/fonts/woff-v2/MathJax_Zero.woff": b"font",
    "es5/sre/huge.js": b"not served",
}


@pytest.fixture
def package(tmp_path):
    data = npm_tarball(FILES)
    pinned = replace(web_assets.MATHJAX, integrity=web_assets.integrity_of(data))
    cache = tmp_path / "cache"
    cache.mkdir()
    (cache / f"mathjax-{pinned.version}.tgz").write_bytes(data)
    return pinned, data, cache


def test_the_pinned_mathjax_is_a_fixed_version_with_its_licence():
    assert web_assets.MATHJAX.version == "3.2.2"
    assert web_assets.MATHJAX.integrity.startswith("sha512-")
    assert "LICENSE" in web_assets.MATHJAX.files
    assert web_assets.MATHJAX.tarball_url == (
        "https://registry.npmjs.org/mathjax/-/mathjax-3.2.2.tgz"
    )


def test_only_the_chosen_files_are_unpacked_with_a_version_stamp(package, tmp_path):
    pinned, data, cache = package
    folder = tmp_path / "vendor" / "mathjax"
    written = web_assets.unpack(pinned, web_assets.tarball(pinned, cache=cache), folder)
    assert written == sorted(f for f in FILES if f != "es5/sre/huge.js")
    assert (folder / "es5" / "tex-chtml-full.js").read_bytes() == b"mathjax()"
    assert not (folder / "es5" / "sre").exists()
    assert pinned.integrity in (folder / "VERSION").read_text()
    # a second unpack replaces the folder whole
    (folder / "stale.js").write_text("old")
    web_assets.unpack(pinned, data, folder)
    assert not (folder / "stale.js").exists()
    assert [p.name for p in folder.parent.iterdir()] == ["mathjax"]  # no staging left


def test_a_tarball_that_does_not_match_the_pin_is_refused(package, tmp_path):
    pinned, _, cache = package
    (cache / f"mathjax-{pinned.version}.tgz").write_bytes(
        npm_tarball({"LICENSE": b"x"})
    )
    with pytest.raises(RuntimeError, match="does not match the pinned integrity"):
        web_assets.tarball(pinned, cache=cache)


def test_a_tarball_missing_a_chosen_file_leaves_the_old_folder(package, tmp_path):
    pinned, _, _ = package
    folder = tmp_path / "vendor" / "mathjax"
    folder.mkdir(parents=True)
    (folder / "VERSION").write_text("old")
    with pytest.raises(RuntimeError, match="no file in the tarball matches"):
        web_assets.unpack(pinned, npm_tarball({"LICENSE": b"x"}), folder)
    assert (folder / "VERSION").read_text() == "old"
    assert [p.name for p in folder.parent.iterdir()] == ["mathjax"]
