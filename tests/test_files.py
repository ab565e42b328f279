"""vae_lib.files: IDX parsing, SHA-256 verification, atomic writes and checked
downloads."""

from __future__ import annotations

import gzip
import hashlib
import struct

import numpy as np
import pytest

from vae_lib.files import (
    DataFileError,
    atomic_path,
    download_verified,
    parse_idx,
    read_verified,
    sha256_hex,
)

# 10 KiB, compressible enough to make gzip's job non-trivial
PAYLOAD = bytes(range(256)) * 40
PAYLOAD_SHA = hashlib.sha256(PAYLOAD).hexdigest()
WRONG_SHA = "0" * 64


def test_sha256_hex_matches_the_nist_test_vector():
    assert (
        sha256_hex(b"abc")
        == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    )


# --- parse_idx ------------------------------------------------------------------------


@pytest.mark.parametrize("shape", [(5,), (3, 4), (2, 3, 4)])
def test_parse_idx_reads_a_hand_built_uint8_file(make_idx, shape):
    array = np.arange(np.prod(shape), dtype=np.uint8).reshape(shape)
    parsed = parse_idx(make_idx(array))
    assert parsed.dtype == np.uint8
    assert parsed.shape == shape
    np.testing.assert_array_equal(parsed, array)


def test_parse_idx_reads_big_endian_floats():
    values = [1.5, -2.25, 3.0e6, 0.0]
    data = (
        bytes([0, 0, 0x0D, 2]) + struct.pack(">II", 2, 2) + struct.pack(">4f", *values)
    )
    np.testing.assert_array_equal(
        parse_idx(data), np.array(values, dtype=np.float32).reshape(2, 2)
    )


@pytest.mark.parametrize(
    "magic",
    [
        b"\x01\x00\x08\x01",
        b"\x00\x01\x08\x01",
        b"\x00\x00\x07\x01",
        b"\x1f\x8b\x08\x00",
        b"\x00\x00",
    ],
    ids=["byte0", "byte1", "unknown-type", "gzip-not-gunzipped", "too-short"],
)
def test_parse_idx_rejects_a_wrong_magic(magic):
    with pytest.raises(DataFileError, match="labels.idx is not an IDX file"):
        parse_idx(magic + (3).to_bytes(4, "big") + b"abc", name="labels.idx")


@pytest.mark.parametrize("delta", [-1, +1], ids=["one-byte-short", "one-byte-long"])
def test_parse_idx_rejects_a_length_that_disagrees_with_the_header(make_idx, delta):
    data = make_idx(np.zeros((2, 3), dtype=np.uint8))
    data = data[:-1] if delta < 0 else data + b"\x00"
    with pytest.raises(DataFileError, match=r"header says shape \(2, 3\)"):
        parse_idx(data)


# --- read_verified --------------------------------------------------------------------


@pytest.mark.parametrize("level", [1, 9])
def test_read_verified_checks_the_uncompressed_content(tmp_path, level):
    # Two copies compressed differently verify against the same content checksum.
    path = tmp_path / "payload.gz"
    path.write_bytes(gzip.compress(PAYLOAD, compresslevel=level))
    assert read_verified(path, PAYLOAD_SHA) == PAYLOAD


def test_read_verified_reads_an_uncompressed_file_as_is(tmp_path):
    path = tmp_path / "payload.bin"
    path.write_bytes(PAYLOAD)
    assert read_verified(path, PAYLOAD_SHA) == PAYLOAD


def test_read_verified_names_the_file_and_both_checksums_on_mismatch(tmp_path):
    path = tmp_path / "payload.gz"
    path.write_bytes(gzip.compress(PAYLOAD[:-1] + b"\x00"))
    with pytest.raises(DataFileError, match="does not match its checksum") as info:
        read_verified(path, PAYLOAD_SHA)
    message = str(info.value)
    assert str(path) in message and PAYLOAD_SHA in message
    assert hashlib.sha256(PAYLOAD[:-1] + b"\x00").hexdigest() in message


def test_read_verified_reports_a_missing_file(tmp_path):
    with pytest.raises(DataFileError, match="does not exist"):
        read_verified(tmp_path / "absent.gz", PAYLOAD_SHA)


def test_read_verified_reports_a_truncated_gzip(tmp_path):
    path = tmp_path / "payload.gz"
    compressed = gzip.compress(PAYLOAD)
    path.write_bytes(compressed[: len(compressed) // 2])
    with pytest.raises(DataFileError, match="truncated or not valid gzip") as info:
        read_verified(path, PAYLOAD_SHA)
    assert str(path) in str(info.value)


def test_read_verified_reports_any_corrupted_byte_as_a_data_file_error(tmp_path):
    """Flip, one at a time, every third byte of the deflate stream: each copy must fail
    as DataFileError.

    (A corrupted deflate block makes zlib raise ``zlib.error``, which must not leak
    out.)
    """
    compressed = gzip.compress(PAYLOAD)
    path = tmp_path / "payload.gz"
    escaped = []
    # after the 10-byte header, before the trailer
    for offset in range(10, len(compressed) - 8, 3):
        corrupted = bytearray(compressed)
        corrupted[offset] ^= 0xFF
        path.write_bytes(corrupted)
        try:
            read_verified(path, PAYLOAD_SHA)
        except DataFileError:
            continue
        except Exception as exc:  # noqa: BLE001 (the point of the test)
            escaped.append(
                (offset, f"{type(exc).__module__}.{type(exc).__name__}: {exc}")
            )
        else:
            escaped.append((offset, "no error"))
    assert not escaped, (
        f"{len(escaped)} corrupted copies did not raise DataFileError, "
        f"e.g. {escaped[:3]}"
    )


# --- atomic_path ----------------------------------------------------------------------


def test_atomic_path_renames_into_place_when_the_block_succeeds(tmp_path):
    target = tmp_path / "sub" / "folder" / "result.bin"
    with atomic_path(target) as tmp:
        assert tmp.parent == target.parent and tmp != target
        tmp.write_bytes(b"complete")
        assert not target.exists()  # nothing visible until the block ends
    assert target.read_bytes() == b"complete"
    assert list(target.parent.iterdir()) == [target]


@pytest.mark.parametrize("existing", [None, b"old content"], ids=["new", "overwrite"])
def test_atomic_path_leaves_the_target_untouched_when_the_block_raises(
    tmp_path, existing
):
    target = tmp_path / "result.bin"
    if existing is not None:
        target.write_bytes(existing)
    with pytest.raises(KeyError), atomic_path(target) as tmp:
        tmp.write_bytes(b"half")
        raise KeyError("failed halfway")
    if existing is None:
        assert not target.exists()
        assert list(tmp_path.iterdir()) == []
    else:
        assert target.read_bytes() == existing
        assert list(tmp_path.iterdir()) == [target]


# --- download_verified ----------------------------------------------------------------


@pytest.mark.parametrize("name", ["payload.gz", "payload.bin"])
def test_download_verified_keeps_a_good_file(tmp_path, http_server, name):
    body = gzip.compress(PAYLOAD) if name.endswith(".gz") else PAYLOAD
    url = http_server.serve(name, body)
    target = tmp_path / "downloads" / name
    assert download_verified(url, target, PAYLOAD_SHA, timeout=10) == target
    assert target.read_bytes() == body
    assert list(target.parent.iterdir()) == [target]


@pytest.mark.parametrize(
    ("body", "cut_off", "sha", "message"),
    [
        (gzip.compress(PAYLOAD), False, WRONG_SHA, "does not match its checksum"),
        (gzip.compress(PAYLOAD), True, PAYLOAD_SHA, "cut off|failed"),
        (b"<html>not gzip</html>", False, PAYLOAD_SHA, "not valid gzip"),
    ],
    ids=["checksum-mismatch", "cut-off-halfway", "not-gzip"],
)
def test_download_verified_fails_and_leaves_no_file(
    tmp_path, http_server, body, cut_off, sha, message
):
    url = http_server.serve("payload.gz", body, cut_off=cut_off)
    with pytest.raises(DataFileError, match=message) as info:
        download_verified(url, tmp_path / "payload.gz", sha, timeout=10)
    assert url in str(info.value)
    assert list(tmp_path.iterdir()) == []  # neither the file nor a .part left behind


def test_download_verified_reports_a_missing_url_and_leaves_no_file(
    tmp_path, http_server
):
    url = f"{http_server.base_url}/absent.gz"
    with pytest.raises(DataFileError, match="download of .*absent.gz failed"):
        download_verified(url, tmp_path / "absent.gz", PAYLOAD_SHA, timeout=10)
    assert list(tmp_path.iterdir()) == []
    assert http_server.requests == ["/absent.gz"]
