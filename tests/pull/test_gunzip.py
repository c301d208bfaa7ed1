"""The module layer's gzip stream, inflated by ``sync.artifact`` itself: what gzip(1)
accepts is accepted, damage (a cut stream, a bad CRC, trailing bytes) is refused, and
every read stays bounded, with ISA-L's inflate (the default) and zlib's alike. Blobs are
served from memory: only the unpacking is under test."""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import io
import tarfile
from pathlib import Path
from typing import Iterator

import pytest

from sync import artifact
from sync.errors import ArtifactError
from sync.fsutil import CHUNK
from sync.oci.manifest import Descriptor
from sync.sample import wasm_module


@pytest.fixture(autouse=True, params=sorted(artifact.INFLATERS))
def inflater(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> artifact.Inflater:
    """Every test with each inflate implementation installed (ISA-L's and zlib's)."""
    chosen = artifact.INFLATERS[request.param]
    monkeypatch.setattr(artifact, "INFLATE", chosen)
    return chosen


def test_isal_is_installed_and_first_the_default() -> None:
    assert list(artifact.INFLATERS) == ["isal", "zlib"]


def _tar(module: bytes) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tf:
        info = tarfile.TarInfo("plugin.wasm")
        info.size = len(module)
        tf.addfile(info, io.BytesIO(module))
    return buf.getvalue()


def _fetch(layer: bytes, dest: Path) -> artifact.Fetched:
    desc = Descriptor(artifact.TAR_GZIP[0], "sha256:" + hashlib.sha256(layer).hexdigest(), len(layer))

    @contextlib.contextmanager
    def open_blob(d: Descriptor) -> Iterator[io.BytesIO]:
        yield io.BytesIO(layer)

    return artifact.fetch(artifact.Plan("tar+gzip", desc, {}), open_blob, dest)


def test_a_module_of_several_chunks_comes_out_whole(tmp_path: Path) -> None:
    module = wasm_module(5 * CHUNK + 123, 3)
    got = _fetch(gzip.compress(_tar(module)), tmp_path)
    assert (tmp_path / "plugin.wasm").read_bytes() == module
    assert (got.sha256, got.md5, got.size) == (hashlib.sha256(module).hexdigest(), hashlib.md5(module).hexdigest(),
                                               len(module))


def test_concatenated_gzip_members_are_one_stream_as_gzip_reads_them(tmp_path: Path) -> None:
    module = wasm_module(3 * CHUNK, 4)
    tar = _tar(module)
    half = len(tar) // 2
    layer = gzip.compress(tar[:half]) + gzip.compress(tar[half:])
    assert gzip.decompress(layer) == tar
    _fetch(layer, tmp_path)
    assert (tmp_path / "plugin.wasm").read_bytes() == module


def test_a_gzip_stream_cut_short_is_refused(tmp_path: Path) -> None:
    layer = gzip.compress(_tar(wasm_module(4 * CHUNK, 5)), compresslevel=1)
    with pytest.raises(ArtifactError, match="not a valid tar\\+gzip"):
        _fetch(layer[: len(layer) // 2], tmp_path)


def test_bytes_after_the_gzip_stream_are_refused(tmp_path: Path) -> None:
    # the tar ends without its end-of-archive blocks, so the reader goes on past the gzip trailer
    module = wasm_module(2 * CHUNK, 6)
    tar = _tar(module)[: 512 + len(module) + (-len(module)) % 512]
    with pytest.raises(ArtifactError, match="bytes after the end of its gzip stream"):
        _fetch(gzip.compress(tar) + b"trailing junk", tmp_path)


def test_a_layer_that_is_not_gzip_says_so(tmp_path: Path) -> None:
    with pytest.raises(ArtifactError, match=r"plugin.tar.gz is not gzip \(it starts with b'PK\\x03\\x04'\)"):
        _fetch(b"PK\x03\x04 a zip file" * 100, tmp_path)


def test_damage_inside_the_stream_is_named_the_same_by_either_inflater(tmp_path: Path) -> None:
    layer = bytearray(gzip.compress(_tar(wasm_module(4 * CHUNK, 8))))
    layer[40:48] = b"\xff" * 8  # deflate blocks that do not decode
    with pytest.raises(ArtifactError, match=r"not a valid tar\+gzip \(gzip: "):
        _fetch(bytes(layer), tmp_path)


def test_a_damaged_crc_is_refused(tmp_path: Path) -> None:
    # the same tar without its end blocks: the reader reaches the gzip trailer and checks it
    module = wasm_module(2 * CHUNK, 7)
    tar = _tar(module)[: 512 + len(module) + (-len(module)) % 512]
    layer = bytearray(gzip.compress(tar))
    layer[-8] ^= 0xFF  # the CRC-32 of the inflated bytes
    with pytest.raises(ArtifactError, match="not a valid tar\\+gzip"):
        _fetch(bytes(layer), tmp_path)


def test_no_read_inflates_more_than_one_chunk(inflater: artifact.Inflater) -> None:
    zeros = gzip.compress(bytes(64 * CHUNK))  # a small blob that inflates 64-fold
    desc = Descriptor(artifact.TAR_GZIP[0], "sha256:" + hashlib.sha256(zeros).hexdigest(), len(zeros))
    reader = artifact._Gunzip(artifact._Verified(io.BytesIO(zeros), desc), inflater)
    sizes = []
    while data := reader.read(-1):
        sizes.append(len(data))
    assert sum(sizes) == 64 * CHUNK and max(sizes) <= CHUNK
