"""Plugin artifacts: which layers hold what (pure), and unpacking with every check.

Two shapes are accepted (see the README):
  a. ``plugin.tar.gz`` as a tar+gzip layer holding one ``.wasm``, plus optional
     ``spec.yaml``, ``README.md`` and ``README_EN.md`` layers;
  b. one ``application/vnd.module.wasm.content.layer.v1+wasm`` layer with the raw module.

Every blob is hashed while it streams and checked against its descriptor's digest and
size; the module's Wasm header is checked; tar members may not be links or leave the
target, and sizes are bounded against decompression bombs.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import tarfile
import threading
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, Callable, ContextManager, Iterable

from sync import settings
from sync.errors import ArtifactError, IntegrityError
from sync.filenames import README, README_EN, SPEC, WASM
from sync.fsutil import CHUNK, write_synced
from sync.oci.manifest import Descriptor, Manifest

TAR_GZIP = ("application/vnd.oci.image.layer.v1.tar+gzip", "application/vnd.docker.image.rootfs.diff.tar.gzip")
WASM_LAYER = "application/vnd.module.wasm.content.layer.v1+wasm"
EXTRA_TYPES = {
    "application/vnd.module.wasm.spec.v1+yaml": SPEC,
    "application/vnd.module.wasm.doc.v1+markdown": README,
    "application/vnd.module.wasm.doc.v1.en+markdown": README_EN,
}
WASM_HEADER = b"\0asm\x01\0\0\0"

_GZIP_WBITS = 31  # a gzip header and trailer: the CRC-32 and length are checked when the reader gets there


@dataclass(frozen=True)
class Inflater:
    """An implementation of zlib's ``decompressobj`` and the error it raises."""

    name: str
    decompressobj: Callable[[int], Any]
    error: type[Exception]


def _inflaters() -> dict[str, Inflater]:
    found = {"zlib": Inflater("zlib", zlib.decompressobj, zlib.error)}
    try:  # ISA-L: the same inflate (and the same checks) for a third of zlib's CPU
        from isal import isal_zlib
    except ImportError:  # a platform without its wheels
        return found
    return {"isal": Inflater("isal", isal_zlib.decompressobj, isal_zlib.error), **found}  # type: ignore[arg-type]


INFLATERS = _inflaters()
INFLATE = next(iter(INFLATERS.values()))  # ISA-L's where it is installed, else zlib's



def max_module() -> int:
    """The largest module unpacked, in bytes: ``PLUGIN_SYNC_MAX_MODULE_BYTES``, read when used."""
    return settings.whole(settings.MAX_MODULE_BYTES)


MAX_EXTRA = 4 * 1024 * 1024


class Format:
    """One artifact format: its name in the lock, the media types of the layer holding the
    module, and how the module comes out of that layer (``extract``)."""

    name: str
    media_types: tuple[str, ...]

    def extract(self, blob: _Verified, out: _ModuleWriter) -> None:
        raise NotImplementedError


class TarGzip(Format):
    """``plugin.tar.gz``: a tar+gzip layer holding one ``.wasm`` (``oras push`` of the file)."""

    name = "tar+gzip"
    media_types = TAR_GZIP

    def extract(self, blob: _Verified, out: _ModuleWriter) -> None:
        _untar_module(blob, out)


class WasmLayer(Format):
    """One layer holding the raw module."""

    name = "wasm-layer"
    media_types = (WASM_LAYER,)

    def extract(self, blob: _Verified, out: _ModuleWriter) -> None:
        while chunk := blob.read(CHUNK):
            out.write(chunk)


# every accepted format, in the order a manifest's layers are reported
FORMATS: tuple[Format, ...] = (TarGzip(), WasmLayer())
_BY_NAME = {f.name: f for f in FORMATS}


@dataclass(frozen=True)
class Plan:
    """What to fetch from one manifest."""

    format: str  # a Format's name: "tar+gzip" or "wasm-layer"
    module: Descriptor
    extras: dict[str, Descriptor]  # file name -> layer


@dataclass(frozen=True)
class Fetched:
    sha256: str
    md5: str
    size: int
    files: dict[str, str]  # extra file name -> sha256


def _module_layers(manifest: Manifest) -> list[tuple[Format, Descriptor]]:
    return [(f, d) for f in FORMATS for d in manifest.layers if d.media_type in f.media_types]


def is_plugin(manifest: Manifest) -> bool:
    """Whether a manifest has a layer of a plugin format (to choose it from an image index)."""
    return bool(_module_layers(manifest))


def plan(manifest: Manifest) -> Plan:
    """Classify a manifest's layers. Raises ArtifactError naming what was found."""
    found = _module_layers(manifest)
    extras: dict[str, Descriptor] = {}
    for d in manifest.layers:
        name = EXTRA_TYPES.get(d.media_type)
        if name:
            if name in extras:
                raise ArtifactError(f"two {name} layers in manifest {manifest.digest}")
            if d.size > MAX_EXTRA:
                raise ArtifactError(f"{name} layer is {d.size} bytes, more than {MAX_EXTRA}")
            extras[name] = d
    if len(found) > 1:
        listed = ", ".join(f"{d.media_type} ({d.title or d.digest[:19]})" for _, d in found)
        raise ArtifactError(f"more than one wasm layer: {listed}")
    if not found:
        listed = ", ".join(sorted({d.media_type for d in manifest.layers})) or "no layers"
        raise ArtifactError(f"no plugin layer (expected plugin.tar.gz or a wasm layer); found: {listed}")
    fmt, module = found[0]
    limit = max_module()
    if module.size > limit:
        raise ArtifactError(f"plugin layer is {module.size} bytes, more than the limit {limit}")
    return Plan(fmt.name, module, extras)


class _Verified:
    """Reads a blob, hashing and counting; refuses to read past the descriptor's size."""

    def __init__(self, body: BinaryIO, desc: Descriptor) -> None:
        self.body, self.desc = body, desc
        self.hash = hashlib.sha256()
        self.size = 0

    def read(self, n: int = -1) -> bytes:
        want = CHUNK if n is None or n < 0 else n
        want = min(want, self.desc.size - self.size + 1)
        data = self.body.read(want) if want > 0 else b""
        if not data and self.size < self.desc.size:
            raise IntegrityError(f"blob {self.desc.digest[:19]} truncated: {self.size} of {self.desc.size} bytes")
        self.size += len(data)
        if self.size > self.desc.size:
            raise IntegrityError(f"blob {self.desc.digest[:19]} is larger than its descriptor says ({self.desc.size} bytes)")
        self.hash.update(data)
        return data

    def finish(self) -> None:
        """Read to the end and check size and digest."""
        while self.read(CHUNK):
            pass
        if self.size != self.desc.size:
            raise IntegrityError(f"blob {self.desc.digest[:19]} truncated: {self.size} of {self.desc.size} bytes")
        got = "sha256:" + self.hash.hexdigest()
        if got != self.desc.digest:
            raise IntegrityError(f"blob digest mismatch: expected {self.desc.digest[:19]}, got {got[:19]}")


Verified = _Verified  # the check other layers stream a blob through (mirror's uploads)


class _ModuleWriter:
    """Writes the module to ``path``, hashing it and checking its header and size bound."""

    def __init__(self, path: Path) -> None:
        self.f = open(path, "wb")
        self.sha, self.md5, self.size = hashlib.sha256(), hashlib.md5(), 0
        self.head = b""
        self.limit = max_module()

    def write(self, data: bytes) -> None:
        self.size += len(data)
        if self.size > self.limit:
            raise ArtifactError(f"module larger than the limit {self.limit} bytes (decompression bomb?)")
        if len(self.head) < 8:
            self.head += data[: 8 - len(self.head)]
        self.sha.update(data)
        self.md5.update(data)
        self.f.write(data)

    def close(self) -> Fetched:
        self.f.flush()
        os.fsync(self.f.fileno())
        self.f.close()
        if self.head[:4] != WASM_HEADER[:4]:
            raise ArtifactError(f"module is not WebAssembly (starts with {self.head[:8]!r})")
        if self.head != WASM_HEADER:
            raise ArtifactError(f"unsupported WebAssembly version {self.head[4:8]!r}")
        return Fetched(self.sha.hexdigest(), self.md5.hexdigest(), self.size, {})


class _Gunzip:
    """The inflated bytes of a gzip stream read from ``src``, at most ``CHUNK`` per read, so
    that no read inflates more than that before the size limit is checked. Concatenated
    gzip members are read as one stream, as gzip(1) does; bytes after the last member are
    an error."""

    def __init__(self, src: _Verified, inflater: Inflater) -> None:
        self.src, self.inflater = src, inflater
        self.d = inflater.decompressobj(_GZIP_WBITS)
        self.pending = b""  # compressed bytes not yet given to the inflater
        self.started = False  # the first bytes were checked for gzip's magic number

    def read(self, n: int = -1) -> bytes:
        want = CHUNK if n is None or n < 0 else min(n, CHUNK)
        while True:
            if self.d.eof:  # a member ended: another one, or the end of the stream
                rest = self.d.unused_data
                while len(rest) < 2 and (more := self.src.read(CHUNK)):
                    rest += more
                if not rest:
                    return b""
                if rest[:2] != b"\x1f\x8b":
                    raise ArtifactError("plugin.tar.gz has bytes after the end of its gzip stream")
                self.d = self.inflater.decompressobj(_GZIP_WBITS)
                self.pending = rest
            data = self.pending or self.d.unconsumed_tail or self.src.read(CHUNK)
            self.pending = b""
            if not self.started and data:
                self.started = True
                if data[:2] != b"\x1f\x8b"[: len(data)]:
                    raise ArtifactError(f"plugin.tar.gz is not gzip (it starts with {data[:4]!r})")
            if not data:
                raise EOFError("the gzip stream ends early")
            try:
                out: bytes = self.d.decompress(data, want)
            except self.inflater.error as e:  # named alike whichever inflater ran
                raise ArtifactError(f"plugin.tar.gz is not a valid tar+gzip (gzip: {e})") from None
            if out:
                return out


def _untar_module(blob: _Verified, out: _ModuleWriter) -> None:
    found = 0
    try:
        # the gzip layer is inflated here (its CRC and length checked), the tar read as a stream
        with tarfile.open(fileobj=_Gunzip(blob, INFLATE), mode="r|", bufsize=CHUNK) as tf:  # type: ignore[call-overload]
            for m in tf:
                name = m.name
                parts = Path(name).parts
                if name.startswith("/") or ".." in parts:
                    raise ArtifactError(f"tar member {name!r} would leave the target directory")
                if m.issym() or m.islnk():
                    raise ArtifactError(f"tar member {name!r} is a link")
                if m.isdir():
                    continue
                if not m.isfile():
                    raise ArtifactError(f"tar member {name!r} is not a regular file")
                if not name.endswith(".wasm"):
                    continue
                found += 1
                if found > 1:
                    raise ArtifactError("tar holds more than one .wasm module")
                if m.size > out.limit:
                    raise ArtifactError(f"tar member {name!r} is {m.size} bytes, more than the limit {out.limit} (decompression bomb?)")
                src = tf.extractfile(m)
                assert src is not None
                while chunk := src.read(CHUNK):
                    out.write(chunk)
    except (tarfile.TarError, EOFError, OSError) as e:
        if isinstance(e, FileNotFoundError):
            raise
        raise ArtifactError(f"plugin.tar.gz is not a valid tar+gzip ({type(e).__name__}: {e})") from None
    if not found:
        raise ArtifactError("plugin.tar.gz holds no .wasm module")


BlobOpener = Callable[[Descriptor], ContextManager[BinaryIO]]


def _read_extra(open_blob: BlobOpener, desc: Descriptor) -> bytes:
    """A small layer (spec.yaml, a README) whole, checked against its digest and size."""
    with open_blob(desc) as body:
        blob = _Verified(body, desc)
        data = b"".join(iter(lambda: blob.read(CHUNK), b""))
        blob.finish()
    return data


class _Extra(threading.Thread):
    """``_read_extra`` on a thread of its own. Not a ThreadPoolExecutor: every executor's
    ``submit`` holds one lock shared by all executors while it starts a thread, and with
    dozens of artifacts fetched at once that lock held their requests back by up to a
    second (docs/performance.md, "The pull at WAN distance")."""

    def __init__(self, open_blob: BlobOpener, desc: Descriptor) -> None:
        super().__init__(daemon=True)
        self.open_blob, self.desc = open_blob, desc
        self.data: bytes | None = None
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            self.data = _read_extra(self.open_blob, self.desc)
        except BaseException as e:  # noqa: BLE001 - given to the fetch, which raises it
            self.error = e

    def result(self) -> bytes:
        self.join()
        if self.error is not None:
            raise self.error
        assert self.data is not None
        return self.data


def fetch(p: Plan, open_blob: BlobOpener, dest: Path,
          slot: ContextManager[object] = contextlib.nullcontext()) -> Fetched:
    """Download and check everything ``p`` names into directory ``dest``. The module is asked
    for first, alone, so that it takes the connection its manifest came on: at a distance a
    new connection costs two round trips before the first byte, and the module's bytes are
    what the pull waits for. Once it is answered the small layers are asked for all at once,
    each on its own thread (one round trip for them, not one a layer), while the module
    streams in. ``slot`` is held while the module is read and written (the caller's limit on
    downloads at once), taken once its request is answered, so that waiting holds none."""
    extras = {name: _Extra(open_blob, desc) for name, desc in sorted(p.extras.items())}
    try:
        result = _fetch_module(p, open_blob, dest, slot, extras.values())
        files: dict[str, str] = {}
        for name, extra in extras.items():
            data = extra.result()
            write_synced(dest / name, data)
            files[name] = hashlib.sha256(data).hexdigest()
    finally:
        for extra in extras.values():  # none outlives the fetch, failed or not
            if extra.ident is not None:
                extra.join()
    return Fetched(result.sha256, result.md5, result.size, files)


def _fetch_module(p: Plan, open_blob: BlobOpener, dest: Path, slot: ContextManager[object],
                  extras: Iterable[_Extra] = ()) -> Fetched:
    """The module layer, unpacked into ``dest`` with every check: its sha256, md5 and size.
    ``extras`` are started once the module's request is answered."""
    out = _ModuleWriter(dest / WASM)
    try:
        with open_blob(p.module) as body:
            for extra in extras:
                extra.start()
            with slot:
                blob = _Verified(body, p.module)
                try:
                    _BY_NAME[p.format].extract(blob, out)
                except IntegrityError:
                    raise
                except ArtifactError:
                    # bytes damaged on the way make a bad tar or module too: the digest says
                    # which it is, and a damaged blob is worth another download
                    blob.finish()
                    raise
                blob.finish()
        return out.close()
    finally:
        if not out.f.closed:
            out.f.close()
