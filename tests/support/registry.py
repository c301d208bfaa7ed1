"""A real OCI registry (Debian's docker-registry, CNCF distribution v2) on loopback,
and a small push client to seed it, for tests and the benchmark."""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Iterator
from contextlib import contextmanager

import requests

from sync.oci.manifest import OCI_INDEX, OCI_MANIFEST
from sync.sample import Artifact, tar_gz

if TYPE_CHECKING:
    from tests.support.tokenserver import TokenService

BINARY = shutil.which("docker-registry") or "/usr/bin/docker-registry"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Registry:
    host: str  # 127.0.0.1:PORT
    root: Path
    auth: tuple[str, str] | None = None
    proc: subprocess.Popen[bytes] | None = None
    bearer: str | None = None  # a token for pushes to a registry behind a token service

    def _session(self) -> requests.Session:
        s = requests.Session()
        if self.auth:
            s.auth = self.auth
        if self.bearer:
            s.headers["Authorization"] = f"Bearer {self.bearer}"
        return s

    @property
    def url(self) -> str:
        return f"http://{self.host}"

    def push(self, repo: str, tag: str, art: Artifact) -> str:
        """Push ``art`` as ``repo:tag``; returns the manifest digest."""
        s = self._session()
        for digest, data in art.blobs.items():
            if s.head(f"{self.url}/v2/{repo}/blobs/{digest}").status_code == 200:
                continue
            r = s.post(f"{self.url}/v2/{repo}/blobs/uploads/")
            r.raise_for_status()
            loc = r.headers["Location"]
            if loc.startswith("/"):
                loc = self.url + loc
            sep = "&" if "?" in loc else "?"
            r = s.put(f"{loc}{sep}digest={digest}", data=data, headers={"Content-Type": "application/octet-stream"})
            r.raise_for_status()
        r = s.put(f"{self.url}/v2/{repo}/manifests/{tag}", data=art.manifest,
                  headers={"Content-Type": art.media_type})
        r.raise_for_status()
        return art.digest

    def push_image(self, repo: str, tag: str, labels: dict[str, dict[str, str]], attestations: bool = True) -> str:
        """Push a small multi-platform image index as ``repo:tag``: per platform (``os/arch``)
        a manifest whose config carries ``labels[platform]``; with ``attestations``, one
        BuildKit attestation manifest per platform. Returns the index digest."""

        def blob(data: bytes, media_type: str) -> tuple[dict[str, object], bytes]:
            return {"mediaType": media_type, "digest": "sha256:" + hashlib.sha256(data).hexdigest(),
                    "size": len(data)}, data

        entries = []
        for platform, platform_labels in labels.items():
            os_, arch = platform.split("/")
            cfg_desc, cfg = blob(json.dumps({"architecture": arch, "os": os_, "config": {"Labels": platform_labels},
                                             "rootfs": {"type": "layers", "diff_ids": []}}).encode(),
                                 "application/vnd.oci.image.config.v1+json")
            layer_desc, layer = blob(platform.encode(), "application/vnd.oci.image.layer.v1.tar")
            manifest = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                                   "config": cfg_desc, "layers": [layer_desc]}).encode()
            art = Artifact(manifest, {str(cfg_desc["digest"]): cfg, str(layer_desc["digest"]): layer})
            self.push(repo, art.digest, art)
            entries.append({"mediaType": art.media_type, "digest": art.digest, "size": len(manifest),
                            "platform": {"os": os_, "architecture": arch}})
            if attestations:
                a_desc, a_cfg = blob(b"{}", "application/vnd.oci.image.config.v1+json")
                att = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                                  "config": a_desc, "layers": []}).encode()
                a = Artifact(att, {str(a_desc["digest"]): a_cfg})
                self.push(repo, a.digest, a)
                entries.append({"mediaType": a.media_type, "digest": a.digest, "size": len(att),
                                "platform": {"os": "unknown", "architecture": "unknown"},
                                "annotations": {"vnd.docker.reference.type": "attestation-manifest",
                                                "vnd.docker.reference.digest": art.digest}})
        index = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
                            "manifests": entries}).encode()
        self.push_raw_manifest(repo, tag, index, "application/vnd.oci.image.index.v1+json")
        return "sha256:" + hashlib.sha256(index).hexdigest()

    def push_index(self, repo: str, tag: str, index: Artifact, manifests: list[Artifact]) -> str:
        """Push ``manifests`` by digest, then ``index`` (see ``buildx_index``) as ``repo:tag``."""
        for art in manifests:
            self.push(repo, art.digest, art)
        self.push_raw_manifest(repo, tag, index.manifest, index.media_type)
        return index.digest

    def push_raw_manifest(self, repo: str, tag: str, manifest: bytes, media_type: str) -> None:
        s = self._session()
        s.put(f"{self.url}/v2/{repo}/manifests/{tag}", data=manifest,
              headers={"Content-Type": media_type}).raise_for_status()

    def delete_manifest(self, repo: str, digest: str) -> None:
        """Delete the manifest ``digest`` (and so every tag naming it) from ``repo``."""
        self._session().delete(f"{self.url}/v2/{repo}/manifests/{digest}").raise_for_status()

    def delete_tag(self, repo: str, tag: str) -> None:
        s = self._session()
        r = s.head(f"{self.url}/v2/{repo}/manifests/{tag}",
                   headers={"Accept": "application/vnd.oci.image.manifest.v1+json"})
        r.raise_for_status()
        s.delete(f"{self.url}/v2/{repo}/manifests/{r.headers['Docker-Content-Digest']}").raise_for_status()


def _htpasswd(path: Path, user: str, password: str) -> None:
    import bcrypt

    hashed = bcrypt.hashpw(password.encode(), bcrypt.gensalt(rounds=4)).decode()
    path.write_text(f"{user}:{hashed}\n")


@contextmanager
def running_registry(auth: tuple[str, str] | None = None, root: Path | None = None,
                     token_service: "TokenService | None" = None) -> Iterator[Registry]:
    """Start docker-registry on a free loopback port; stop it and remove its data after.
    ``auth``: htpasswd Basic auth; ``token_service``: Bearer auth through that service."""
    tmp = Path(tempfile.mkdtemp(prefix="registry-"))
    data = root or tmp / "data"
    port = free_port()
    auth_cfg = ""
    if token_service:
        auth_cfg = token_service.registry_auth_config(tmp / "token-cert.pem")
    elif auth:
        _htpasswd(tmp / "htpasswd", *auth)
        auth_cfg = f"auth:\n  htpasswd:\n    realm: test-realm\n    path: {tmp / 'htpasswd'}\n"
    (tmp / "config.yml").write_text(
        "version: 0.1\n"
        "log:\n  level: error\n  accesslog:\n    disabled: true\n"
        f"storage:\n  filesystem:\n    rootdirectory: {data}\n  delete:\n    enabled: true\n"
        f"http:\n  addr: 127.0.0.1:{port}\n"
        + auth_cfg
    )
    log = open(tmp / "registry.log", "wb")
    proc = subprocess.Popen([BINARY, "serve", str(tmp / "config.yml")], stdout=log, stderr=subprocess.STDOUT,
                            env={**os.environ, "OTEL_TRACES_EXPORTER": "none"})
    reg = Registry(f"127.0.0.1:{port}", data, auth, proc)
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                r = requests.get(f"{reg.url}/v2/", timeout=1)
                if r.status_code in (200, 401):
                    break
            except requests.ConnectionError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"docker-registry did not start: {(tmp / 'registry.log').read_text()[-2000:]}")
            time.sleep(0.05)
        yield reg
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()
        shutil.rmtree(tmp, ignore_errors=True)


# --- what ``docker buildx build --push`` makes of ``FROM scratch`` + ``COPY plugin.wasm /`` -----------

OCI_IMAGE_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"


def _json_blob(doc: object) -> bytes:
    return json.dumps(doc, separators=(",", ":")).encode()


def _descriptor(media_type: str, data: bytes, **extra: object) -> dict[str, object]:
    return {"mediaType": media_type, "digest": "sha256:" + hashlib.sha256(data).hexdigest(), "size": len(data), **extra}


DOCKER_TYPES = {  # the Docker schema 2 names of the same things
    OCI_MANIFEST: "application/vnd.docker.distribution.manifest.v2+json",
    OCI_INDEX: "application/vnd.docker.distribution.manifest.list.v2+json",
    OCI_IMAGE_CONFIG: "application/vnd.docker.container.image.v1+json",
    OCI_LAYER: "application/vnd.docker.image.rootfs.diff.tar.gzip",
}


def _image(config: bytes, layers: list[tuple[str, bytes, dict[str, str]]], docker: bool = False) -> Artifact:
    t = (lambda mt: DOCKER_TYPES.get(mt, mt)) if docker else (lambda mt: mt)
    cdesc = _descriptor(t(OCI_IMAGE_CONFIG), config)
    ldescs = [_descriptor(t(mt), data, **({"annotations": ann} if ann else {})) for mt, data, ann in layers]
    manifest = _json_blob({"schemaVersion": 2, "mediaType": t(OCI_MANIFEST), "config": cdesc, "layers": ldescs})
    blobs = {str(cdesc["digest"]): config, **{str(d["digest"]): data for d, (_, data, _) in zip(ldescs, layers)}}
    return Artifact(manifest, blobs, t(OCI_MANIFEST))


def scratch_image(module: bytes, platform: str = "linux/amd64", docker: bool = False) -> Artifact:
    """The image of ``FROM scratch`` + ``COPY plugin.wasm /``: an image config and one
    tar+gzip layer holding ``plugin.wasm`` (``docker``: in Docker schema 2 media types)."""
    layer = tar_gz({"plugin.wasm": module})
    os_, arch = platform.split("/")
    config = _json_blob({"architecture": arch, "os": os_, "config": {"WorkingDir": "/"},
                         "created": "2025-01-01T00:00:00Z",
                         "history": [{"created": "2025-01-01T00:00:00Z", "created_by": "COPY plugin.wasm / # buildkit",
                                      "comment": "buildkit.dockerfile.v0"}],
                         "rootfs": {"type": "layers",
                                    "diff_ids": ["sha256:" + hashlib.sha256(gzip.decompress(layer)).hexdigest()]}})
    return _image(config, [(OCI_LAYER, layer, {})], docker)


def provenance(subject: Artifact) -> Artifact:
    """BuildKit's provenance attestation manifest for ``subject`` (an in-toto statement)."""
    statement = _json_blob({"_type": "https://in-toto.io/Statement/v0.1", "predicateType": "https://slsa.dev/provenance/v0.2",
                            "subject": [{"name": "_", "digest": {"sha256": subject.digest.split(":", 1)[1]}}],
                            "predicate": {"builder": {"id": ""}, "buildType": "https://mobyproject.org/buildkit@v1"}})
    config = _json_blob({"architecture": "unknown", "os": "unknown", "config": {},
                         "rootfs": {"type": "layers", "diff_ids": ["sha256:" + hashlib.sha256(statement).hexdigest()]}})
    return _image(config, [("application/vnd.in-toto+json", statement,
                            {"in-toto.io/predicate-type": "https://slsa.dev/provenance/v0.2"})])


def buildx_index(images: dict[str, Artifact], attestations: bool = True) -> tuple[Artifact, list[Artifact]]:
    """The image index buildx pushes for ``images`` (platform -> image): each image, and with
    ``attestations`` its provenance manifest (platform ``unknown/unknown``). Returns the index
    (a Docker manifest list when the images are Docker manifests), whose ``blobs`` hold every
    manifest and blob (for an OCI layout), and the manifests."""
    entries: list[dict[str, object]] = []
    manifests: list[Artifact] = []
    for platform, image in images.items():
        os_, arch = platform.split("/")
        entries.append(_descriptor(image.media_type, image.manifest, platform={"architecture": arch, "os": os_}))
        manifests.append(image)
    if attestations:
        for image in list(manifests):
            att = provenance(image)
            entries.append(_descriptor(OCI_MANIFEST, att.manifest, platform={"architecture": "unknown", "os": "unknown"},
                                       annotations={"vnd.docker.reference.digest": image.digest,
                                                    "vnd.docker.reference.type": "attestation-manifest"}))
            manifests.append(att)
    kind = DOCKER_TYPES[OCI_INDEX] if any(m.media_type == DOCKER_TYPES[OCI_MANIFEST] for m in manifests) else OCI_INDEX
    index = _json_blob({"schemaVersion": 2, "mediaType": kind, "manifests": entries})
    blobs: dict[str, bytes] = {}
    for m in manifests:
        blobs.update(m.blobs)
        blobs[m.digest] = m.manifest
    return Artifact(index, blobs, kind), manifests
