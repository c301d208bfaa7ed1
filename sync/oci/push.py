"""Writing to an OCI registry, as the distribution spec's push section says: whether a blob
or a tag is there (``HEAD``), cross-repository mounts, blob uploads (``POST`` then one
``PUT``, or ``PATCH`` chunks then the closing ``PUT`` for a blob larger than the chunk
size) and manifests.

Requests go through ``RegistryClient.request``: its session, timeouts, credentials per host
(a token with ``pull,push`` scope where the registry asks for one) and retry policy. A body
streamed from elsewhere cannot be sent twice, so those requests are tried once; the caller
retries the whole blob (``retryable``). Nothing here checks a blob's bytes: the caller hands
in a body that does, and the registry commits an upload only when its bytes hash to the
digest the closing ``PUT`` names.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import BinaryIO
from urllib.parse import urlencode, urljoin

from sync.errors import AuthError, NotFound, RegistryError
from sync.oci.manifest import ACCEPT, Descriptor
from sync.oci.reference import Source
from sync.oci.registry import RegistryClient

DEFAULT_CHUNK = 16 * 1024 * 1024  # blobs larger than this go in PATCH chunks of this size
OCTET = "application/octet-stream"


@dataclass
class PushStats:
    """What a run did at the target: blobs found present, mounted and uploaded, and bytes sent."""

    present: int = 0
    mounted: int = 0
    uploaded: int = 0
    bytes: int = 0
    manifests: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add(self, **counts: int) -> None:
        with self.lock:
            for k, v in counts.items():
                setattr(self, k, getattr(self, k) + v)

    def to_json(self) -> dict[str, int]:
        with self.lock:
            return {"present": self.present, "mounted": self.mounted, "uploaded": self.uploaded,
                    "bytes": self.bytes, "manifests": self.manifests}


class _Body:
    """``size`` bytes of ``body``, with a length (so the request says Content-Length) and a
    count of what was sent."""

    def __init__(self, body: BinaryIO, size: int, stats: PushStats) -> None:
        self.body, self.left, self.stats = body, size, stats
        self.size = size

    def __len__(self) -> int:
        return self.size

    def read(self, n: int = -1) -> bytes:
        if self.left <= 0:
            return b""
        want = self.left if n is None or n < 0 else min(n, self.left)
        data = self.body.read(want)
        if not data:
            raise RegistryError(f"the blob ended {self.left} bytes early")
        self.left -= len(data)
        self.stats.add(bytes=len(data))
        return data


def retryable(e: BaseException) -> bool:
    """A failed upload worth starting again: the connection or the registry failed, not the
    credentials, and nothing was missing."""
    return isinstance(e, RegistryError) and not isinstance(e, (AuthError, NotFound))


class Pusher:
    def __init__(self, client: RegistryClient, chunk_size: int = DEFAULT_CHUNK) -> None:
        self.client = client
        self.chunk_size = chunk_size
        self.stats = PushStats()

    def _location(self, dst: Source, loc: str | None) -> str:
        if not loc:
            raise RegistryError(f"{dst.host}/{dst.repository}: the registry gave no upload location")
        scheme = "http" if dst.plain_http else "https"
        return urljoin(f"{scheme}://{dst.host}/", loc)

    @staticmethod
    def _with(url: str, **params: str) -> str:
        return url + ("&" if "?" in url else "?") + urlencode(params)

    def has_blob(self, dst: Source, digest: str) -> bool:
        try:
            self.client.request(dst, "HEAD", f"/blobs/{digest}").close()
        except NotFound:
            return False
        return True

    def mount(self, dst: Source, digest: str, from_repository: str) -> str | None:
        """Ask the registry to mount ``digest`` from another of its repositories. None when it
        did (201); else the location of the upload session it opened instead (202)."""
        resp = self.client.request(dst, "POST", "/blobs/uploads/?" + urlencode({"mount": digest, "from": from_repository}))
        resp.close()
        if resp.status_code == 201:
            self.stats.add(mounted=1)
            return None
        return self._location(dst, resp.headers.get("Location"))

    def upload(self, dst: Source, desc: Descriptor, body: BinaryIO, location: str | None = None) -> None:
        """Upload one blob from ``body`` (read once, ``desc.size`` bytes): one ``PUT`` up to the
        chunk size, ``PATCH`` chunks above it. ``location``: an upload session already open."""
        if location is None:
            resp = self.client.request(dst, "POST", "/blobs/uploads/")
            resp.close()
            location = self._location(dst, resp.headers.get("Location"))
        try:
            if desc.size <= self.chunk_size:
                resp = self.client.request(
                    dst, "PUT", self._with(location, digest=desc.digest), data=_Body(body, desc.size, self.stats),
                    headers={"Content-Type": OCTET, "Content-Length": str(desc.size)}, retry=False)
                resp.close()
            else:
                offset = 0
                while offset < desc.size:
                    n = min(self.chunk_size, desc.size - offset)
                    resp = self.client.request(
                        dst, "PATCH", location, data=_Body(body, n, self.stats), retry=False,
                        headers={"Content-Type": OCTET, "Content-Length": str(n),
                                 "Content-Range": f"{offset}-{offset + n - 1}"})
                    resp.close()
                    location = self._location(dst, resp.headers.get("Location") or location)
                    offset += n
                if body.read(1):
                    raise RegistryError(f"blob {desc.digest[:19]} is longer than {desc.size} bytes")
                resp = self.client.request(dst, "PUT", self._with(location, digest=desc.digest), data=b"",
                                           headers={"Content-Length": "0"})
                resp.close()
        except BaseException:
            self._cancel(dst, location)
            raise
        said = resp.headers.get("Docker-Content-Digest")
        if said and said != desc.digest:
            raise RegistryError(f"{dst.host}/{dst.repository}: stored blob {desc.digest[:19]} as {said[:19]}")
        self.stats.add(uploaded=1)

    def _cancel(self, dst: Source, location: str) -> None:
        """Drop an unfinished upload session (it would expire anyway)."""
        try:
            self.client.request(dst, "DELETE", location, retry=False).close()
        except Exception:  # noqa: BLE001 - best effort: the registry expires it
            pass

    def manifest_digest(self, dst: Source, ref: str) -> str | None:
        """The digest the tag (or digest) ``ref`` points at, None when the registry has none."""
        try:
            resp = self.client.request(dst, "HEAD", f"/manifests/{ref}", headers={"Accept": ACCEPT})
        except NotFound:
            return None
        resp.close()
        return resp.headers.get("Docker-Content-Digest")

    def put_manifest(self, dst: Source, ref: str, raw: bytes, media_type: str, digest: str) -> None:
        """Store the manifest bytes as they are under ``ref`` (a tag or its digest)."""
        resp = self.client.request(dst, "PUT", f"/manifests/{ref}", data=raw,
                                   headers={"Content-Type": media_type})
        resp.close()
        said = resp.headers.get("Docker-Content-Digest")
        if said and said != digest:
            raise RegistryError(f"{dst.host}/{dst.repository}:{ref}: the registry stored the manifest as "
                                f"{said[:19]}, not {digest[:19]}")
        self.stats.add(manifests=1)
