"""``plugin-sync mirror``, the I/O: copy each artifact ``sync.mirror.plan`` names from the
source (a registry or an OCI layout) into a registry or an OCI layout.

Per artifact: the manifest is read by its digest and checked against it; an artifact a
gateway cannot load is refused; every blob the target lacks is mounted from another target
repository that has it, or streamed from the source through a check of its size and digest
(its last bytes are not handed on before the check passed) into an upload; the manifest,
byte for byte as the source has it, is stored last, once every blob is there. A tag that
already points at the digest is left alone, so a run after a complete one only asks.
"""

from __future__ import annotations

import tarfile
import threading
import time
import zlib
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO, Callable, Mapping, cast

from sync.artifact import Verified, max_module
from sync.errors import ArtifactError, IntegrityError
from sync.fsutil import CHUNK
from sync.mirror.plan import (
    PLUGIN_WASM, Copy, blob_steps, blobs_of, compat_layer, gateway_layout, is_plugin_wasm, tags_to_push,
)
from sync.oci.layout import LayoutSource, LayoutWriter
from sync.oci.manifest import ArtifactSource, Descriptor, Manifest
from sync.oci.push import Pusher, PushStats, retryable
from sync.oci.reference import Source
from sync.oci.registry import BlobReadError, RegistryClient
from sync.pull.report import PluginResult
from sync.retry import RetryPolicy


class _Checked:
    """A source blob read through the artifact check: its digest is compared once its last
    byte is read and before that byte is handed on, so nothing unchecked leaves."""

    def __init__(self, body: BinaryIO, desc: Descriptor) -> None:
        self.verified = Verified(body, desc)
        self.size = desc.size

    def read(self, n: int = -1) -> bytes:
        data = self.verified.read(n)
        if self.verified.size >= self.size:
            self.verified.finish()
        return data


def check_compat_tar(body: BinaryIO, desc: Descriptor) -> None:
    """Read a compat layer (through the digest check) far enough to find ``plugin.wasm``,
    then to its end. Raises ArtifactError when the tar does not hold it. Skipping other
    members inflates them: at most ``artifact.max_module()`` bytes of them."""
    checked = _Checked(body, desc)
    found, skipped, bad, limit = False, 0, None, max_module()
    try:
        with tarfile.open(fileobj=checked, mode="r|gz") as tf:  # type: ignore[call-overload]
            for m in tf:
                if is_plugin_wasm(m.name):
                    found = m.isfile()
                    break
                skipped += m.size
                if skipped > limit:
                    break
    except (tarfile.TarError, zlib.error, EOFError, OSError) as e:
        bad = f"layer {desc.digest[:19]} is not a valid tar+gzip ({type(e).__name__}: {e})"
    while checked.read(CHUNK):  # the rest, so that its digest is checked too: damaged bytes
        pass  # on the way are an IntegrityError (tried again), not a bad artifact
    if bad:
        raise ArtifactError(bad)
    if not found:
        raise ArtifactError(f"its last layer {desc.digest[:19]} holds no regular file named {PLUGIN_WASM}, "
                            "the one file a gateway takes from it")


class RegistryTarget:
    """``HOST[:PORT]/NAMESPACE``: every copy's repository on that registry."""

    def __init__(self, pusher: Pusher, host: str, plain_http: bool) -> None:
        self.pusher, self.host, self.plain_http = pusher, host, plain_http

    def where(self, repository: str) -> Source:
        return Source("registry", self.host, repository, plain_http=self.plain_http)

    def label(self, repository: str) -> str:
        return f"oci://{self.host}/{repository}"

    def has_blob(self, repository: str, desc: Descriptor) -> bool:
        return self.pusher.has_blob(self.where(repository), desc.digest)

    def mount(self, repository: str, desc: Descriptor, from_repository: str) -> str | None:
        return self.pusher.mount(self.where(repository), desc.digest, from_repository)

    def put_blob(self, repository: str, desc: Descriptor, body: BinaryIO, location: str | None) -> None:
        self.pusher.upload(self.where(repository), desc, body, location)

    def manifest_digest(self, repository: str, tag: str) -> str | None:
        return self.pusher.manifest_digest(self.where(repository), tag)

    def put_manifest(self, repository: str, tags: list[str], m: Manifest) -> None:
        for tag in tags:
            self.pusher.put_manifest(self.where(repository), tag, m.raw, m.media_type, m.digest)


class LayoutTarget:
    """``oci-layout:DIR``: one blob store for every repository (nothing to mount)."""

    def __init__(self, root: Path, stats: PushStats) -> None:
        self.writer = LayoutWriter(root)
        self.stats = stats
        self.root = root

    def label(self, repository: str) -> str:
        return f"oci-layout:{self.root}#{repository}"

    def has_blob(self, repository: str, desc: Descriptor) -> bool:
        return self.writer.has_blob(desc)

    def mount(self, repository: str, desc: Descriptor, from_repository: str) -> str | None:
        return None  # has_blob already found it

    def put_blob(self, repository: str, desc: Descriptor, body: BinaryIO, location: str | None) -> None:
        self.writer.write_blob(desc, body)
        self.stats.add(uploaded=1, bytes=desc.size)

    def manifest_digest(self, repository: str, tag: str) -> str | None:
        return self.writer.manifest_digest(repository, tag)

    def put_manifest(self, repository: str, tags: list[str], m: Manifest) -> None:
        self.writer.put_manifest(repository, tags, m.raw, m.media_type, m.digest)
        self.stats.add(manifests=len(tags))


Target = RegistryTarget | LayoutTarget


@dataclass
class MirrorReport:
    target: str
    outcomes: list[PluginResult]
    blobs: dict[str, int] = field(default_factory=dict)
    requests: int = 0
    seconds: float = 0.0

    @property
    def failed(self) -> list[PluginResult]:
        return [o for o in self.outcomes if o.status == "failed"]

    def counts(self) -> dict[str, int]:
        return {s: sum(o.status == s for o in self.outcomes) for s in ("copied", "present", "failed")}

    def to_json(self) -> dict[str, object]:
        return {"target": self.target,
                "plugins": [{"name": o.name, "status": o.status, "target": o.source, "tags": o.versions,
                             "digest": o.digest, "error": o.error}
                            for o in sorted(self.outcomes, key=lambda o: (o.name, o.source))],
                "summary": self.counts(), "blobs": self.blobs, "registryRequests": self.requests,
                "seconds": round(self.seconds, 3)}

    def summary(self) -> str:
        parts = [f"{n} {s}" for s, n in self.counts().items() if n]
        b = self.blobs
        return (f"{', '.join(parts) or 'nothing to do'}; blobs: {b.get('uploaded', 0)} uploaded, "
                f"{b.get('mounted', 0)} mounted, {b.get('present', 0)} present; "
                f"{b.get('bytes', 0) / (1 << 20):.1f} MiB sent in {self.seconds:.1f}s")


class Mirror:
    def __init__(self, client: RegistryClient, target: Target, stats: PushStats,
                 policy: RetryPolicy | None = None) -> None:
        self.client, self.target, self.stats = client, target, stats
        self.layouts = LayoutSource()
        self.policy = policy or client.policy
        self._where: dict[str, str] = {}  # blob digest -> a target repository that has it
        self._locks: dict[str, threading.Lock] = {}
        self._guard = threading.Lock()

    def source(self, src: Source) -> ArtifactSource:
        return self.layouts if src.kind == "layout" else self.client

    def _blob_lock(self, digest: str) -> threading.Lock:
        with self._guard:
            return self._locks.setdefault(digest, threading.Lock())

    def copy_blob(self, c: Copy, desc: Descriptor) -> None:
        """Make the blob present in the copy's repository: found, mounted or uploaded. One
        thread at a time per blob, so a blob several repositories share is uploaded once and
        mounted into the others."""
        source = self.source(c.source)
        with self._blob_lock(desc.digest):
            present = {desc.digest} if self.target.has_blob(c.repository, desc) else set()
            with self._guard:
                other = self._where.get(desc.digest)
            elsewhere = {desc.digest: other} if other and other != c.repository else {}
            step = blob_steps([desc], present, elsewhere)[0]
            if step.kind == "present":
                self.stats.add(present=1)
            else:
                location = self.target.mount(c.repository, desc, step.mount_from) if step.mount_from else None
                if step.kind == "upload" or location is not None:  # not mounted: upload it
                    def attempt() -> None:
                        nonlocal location
                        session, location = location, None  # a retry opens a new session
                        with source.blob(c.source, desc) as body:
                            self.target.put_blob(c.repository, desc, cast(BinaryIO, _Checked(body, desc)), session)

                    def again(e: BaseException) -> tuple[bool, Mapping[str, str] | None, int | None]:
                        return retryable(e) or isinstance(e, IntegrityError), None, None

                    self.policy.run(attempt, again)
            with self._guard:
                self._where.setdefault(desc.digest, c.repository)

    def copy(self, c: Copy) -> PluginResult:
        label = self.target.label(c.repository)
        manifest = self.source(c.source).manifest(c.source, c.digest)
        if manifest.digest != c.digest:
            raise ArtifactError(f"{c.source}: the source answered {manifest.digest[:19]} for {c.digest[:19]}")
        why = gateway_layout(manifest)
        if why is not None:
            raise _refused(c, why)
        current = {t: self.target.manifest_digest(c.repository, t) for t in c.tags}
        todo = tags_to_push(c.tags, current, c.digest)
        if todo:
            tar = compat_layer(manifest)
            if tar is not None:
                def check() -> None:
                    with self.source(c.source).blob(c.source, tar) as body:
                        check_compat_tar(body, tar)

                try:
                    self.policy.run(check, lambda e: (isinstance(e, (BlobReadError, IntegrityError)), None, None))
                except ArtifactError as e:
                    if isinstance(e, IntegrityError):
                        raise
                    raise _refused(c, e.message) from None
            for desc in blobs_of(manifest):
                self.copy_blob(c, desc)
            self.target.put_manifest(c.repository, todo, manifest)  # last: its blobs are all there
        else:
            with self._guard:
                for desc in blobs_of(manifest):
                    self._where.setdefault(desc.digest, c.repository)
        return PluginResult(c.name, "copied" if todo else "present", list(c.tags), label, c.digest)


def _refused(c: Copy, why: str) -> ArtifactError:
    return ArtifactError(f"{c.source.repository}@{c.digest[:19]}: refused, a gateway cannot load it from a "
                         f"registry: {why}")


def run_mirror(mirror: Mirror, copies: list[Copy], label: str, jobs: int,
               on_outcome: Callable[[PluginResult], None] | None = None) -> MirrorReport:
    """Every copy on ``jobs`` threads; one copy's failure is its result, the others go on."""
    start = time.monotonic()
    mirror.client.stats.reset()
    outcomes: list[PluginResult] = []

    def one(c: Copy) -> PluginResult:
        try:
            return mirror.copy(c)
        except Exception as e:  # noqa: BLE001 - reported per artifact
            return PluginResult.failure(c.name, e, mirror.target.label(c.repository))

    with ThreadPoolExecutor(max_workers=jobs) as pool:
        for fut in as_completed([pool.submit(one, c) for c in copies]):
            o = fut.result()
            outcomes.append(o)
            if on_outcome:
                on_outcome(o)
    requests, _ = mirror.client.stats.counts()
    return MirrorReport(label, outcomes, mirror.stats.to_json(), requests, time.monotonic() - start)
