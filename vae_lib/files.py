"""Files on disk: IDX parsing, SHA-256 verification, atomic writes and checked
downloads.

Used by :mod:`vae_lib.data` (Chapter 1) and :mod:`vae_lib.checkpoints`.

Nothing is written half: every file goes to a temporary name in the same folder and is
renamed into place only when complete (a rename within one folder is atomic on POSIX and
Windows).
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import http.client
import os
import re
import tempfile
import time
import urllib.request
import zlib
from collections.abc import Iterator
from pathlib import Path

import numpy as np

# IDX type codes (LeCun's format): only unsigned bytes are used by MNIST-like data sets.
_IDX_DTYPES: dict[int, str] = {
    0x08: "u1",
    0x09: "i1",
    0x0B: ">i2",
    0x0C: ">i4",
    0x0D: ">f4",
    0x0E: ">f8",
}


class DataFileError(RuntimeError):
    """A data file is missing, truncated or does not match its recorded checksum."""


def sha256_hex(data: bytes) -> str:
    """SHA-256 of ``data`` as 64 hexadecimal characters."""
    return hashlib.sha256(data).hexdigest()


def read_verified(path: Path, sha256: str) -> bytes:
    """Read ``path`` (gunzipped if it ends in .gz) and check the SHA-256 of its
    *content*.

    The checksum is of the uncompressed bytes, so a copy compressed differently (a
    Debian package, an upstream mirror) verifies against the same record.
    """
    path = Path(path)
    if not path.is_file():
        raise DataFileError(f"data file {path} does not exist")
    return _verified_content(
        path.read_bytes(),
        gzipped=path.suffix == ".gz",
        source=f"data file {path}",
        sha256=sha256,
    )


def _verified_content(raw: bytes, *, gzipped: bool, source: str, sha256: str) -> bytes:
    try:
        data = gzip.decompress(raw) if gzipped else raw
    except (EOFError, gzip.BadGzipFile, zlib.error) as exc:
        raise DataFileError(f"{source} is truncated or not valid gzip ({exc})") from exc
    digest = sha256_hex(data)
    if digest != sha256:
        raise DataFileError(
            f"{source} does not match its checksum: expected SHA-256 of the content "
            f"{sha256}, got {digest} ({len(data)} bytes); replace it with a fresh "
            "copy"
        )
    return data


def parse_idx(data: bytes, name: str = "IDX data") -> np.ndarray:
    """Parse LeCun's IDX format: magic (0, 0, type, ndim), ndim big-endian sizes, then
    the values."""
    if len(data) < 4 or data[0] != 0 or data[1] != 0 or data[2] not in _IDX_DTYPES:
        raise DataFileError(
            f"{name} is not an IDX file: its first bytes are {data[:4]!r}"
        )
    ndim = data[3]
    header = 4 + 4 * ndim
    shape = tuple(
        int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim)
    )
    dtype = np.dtype(_IDX_DTYPES[data[2]])
    expected = header + int(np.prod(shape)) * dtype.itemsize
    if len(data) != expected:
        raise DataFileError(
            f"{name}: header says shape {shape} ({expected} bytes) but the file has "
            f"{len(data)} bytes"
        )
    return np.frombuffer(data, dtype=dtype, offset=header).reshape(shape)


# A temporary file is named after its target and its writer's process ID:
# ".<target name>.<pid>.<random>.part", so a later writer can tell a temporary whose
# writer has died from one still being written.
_PART_SUFFIX = ".part"
_TEMPORARY_TAIL = re.compile(r"(?:(?P<pid>[0-9]+)\.)?[a-z0-9_]+\.part")
# A temporary whose writer cannot be checked (another machine on a shared disk, an
# older name without a PID) is stale once it is this old.
STALE_AFTER_SECONDS = 24 * 3600


def _writer_alive(pid: int) -> bool:
    if os.name != "posix":  # os.kill(pid, 0) would end the process on Windows
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, but another user's
        return True
    return True


def sweep_stale_temporaries(
    path: Path, *, max_age_seconds: float = STALE_AFTER_SECONDS
) -> list[Path]:
    """Remove the temporaries that writers of ``path`` left behind when they were
    killed; return them.

    A temporary is stale when its writer's process no longer exists on this machine,
    or when it is older than ``max_age_seconds`` (writers whose PID cannot be checked).
    Temporaries of live writers are kept.
    """
    path = Path(path)
    prefix = f".{path.name}."
    removed: list[Path] = []
    if not path.parent.is_dir():
        return removed
    now = time.time()
    for candidate in path.parent.iterdir():
        name = candidate.name
        if not (name.startswith(prefix) and name.endswith(_PART_SUFFIX)):
            continue
        # "<pid>.<random>.part", or "<random>.part" from writers before PIDs were kept
        # (anything else is another target's temporary)
        match = _TEMPORARY_TAIL.fullmatch(name[len(prefix) :])
        if match is None:
            continue
        try:
            age = now - candidate.stat().st_mtime
        except FileNotFoundError:  # its writer just renamed or removed it
            continue
        pid = match.group("pid")
        dead = pid is not None and not _writer_alive(int(pid))
        if dead or age > max_age_seconds:
            candidate.unlink(missing_ok=True)
            removed.append(candidate)
    return removed


def _fsync_folder(folder: Path) -> None:
    """Make a rename in ``folder`` durable (POSIX; a no-op where folders cannot be
    opened)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


@contextlib.contextmanager
def atomic_path(path: Path) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it to ``path`` only if the block
    succeeds.

    The temporary is flushed to disk before the one rename, so ``path`` always holds
    either its old content or the complete new one, even if the process is killed or
    the machine stops. A failed block removes its temporary; temporaries left by
    killed writers of the same ``path`` are swept first
    (:func:`sweep_stale_temporaries`).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    sweep_stale_temporaries(path)
    fd, tmp = tempfile.mkstemp(
        prefix=f".{path.name}.{os.getpid()}.", suffix=_PART_SUFFIX, dir=path.parent
    )
    os.close(fd)
    tmp_path = Path(tmp)
    umask = os.umask(0)
    os.umask(umask)
    try:
        yield tmp_path
        # mkstemp makes 0600, and writers may replace the file: give the result the
        # usual permissions.
        tmp_path.chmod(0o666 & ~umask)
        with open(tmp_path, "rb+") as written:
            os.fsync(written.fileno())
        os.replace(tmp_path, path)
        _fsync_folder(path.parent)
    finally:
        tmp_path.unlink(missing_ok=True)


def download_verified(url: str, path: Path, sha256: str, timeout: float = 60.0) -> Path:
    """Download ``url`` to ``path`` and keep it only if complete and its content matches
    ``sha256``.

    A checksum mismatch or a transfer cut off halfway raises :class:`DataFileError` and
    leaves no file behind.
    """
    path = Path(path)
    with atomic_path(path) as tmp:
        try:
            with (
                urllib.request.urlopen(url, timeout=timeout) as response,
                open(tmp, "wb") as out,
            ):
                expected_length = response.headers.get("Content-Length")
                written = 0
                while chunk := response.read(1 << 20):
                    out.write(chunk)
                    written += len(chunk)
        except (
            OSError,
            ValueError,
            http.client.HTTPException,
        ) as exc:  # refused, timed out, cut off
            raise DataFileError(f"download of {url} failed: {exc}") from exc
        if expected_length is not None and written != int(expected_length):
            raise DataFileError(
                f"download of {url} was cut off: got {written} of "
                f"{expected_length} bytes"
            )
        _verified_content(
            tmp.read_bytes(),
            gzipped=path.suffix == ".gz",
            source=f"download of {url}",
            sha256=sha256,
        )
    return path
