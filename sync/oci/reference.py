"""Where an artifact comes from: a registry repository or an OCI image layout directory.

Text forms (as written in plugins.yaml and recorded in the lock)::

    oci://HOST[:PORT]/REPOSITORY[:TAG][@sha256:...]
    HOST/REPOSITORY:TAG                      (no scheme: like a Docker reference)
    REPOSITORY:TAG                           (default registry)
    oci-layout:PATH#REPOSITORY[:TAG][@sha256:...]
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Literal

from sync.errors import ConfigError
from sync.names import HOST, REPOSITORY

LAYOUT_PREFIX = "oci-layout:"


@dataclass(frozen=True)
class Source:
    """An artifact source. ``host`` is the registry (host[:port]) or, for a layout, its path."""

    kind: Literal["registry", "layout"]
    host: str
    repository: str
    tag: str | None = None
    digest: str | None = None
    range: str | None = None
    plain_http: bool = False

    def reference(self, default_registry: str | None = None) -> str:
        """The text form, as recorded in plugins.yaml and the lock."""
        ref = self.repository
        if self.tag:
            ref += f":{self.tag}"
        if self.digest:
            ref += f"@{self.digest}"
        if self.kind == "layout":
            return f"{LAYOUT_PREFIX}{self.host}#{ref}"
        return f"oci://{self.host}/{ref}"

    def __str__(self) -> str:
        return self.reference()

    def redirect(self, registry: str | None, plain_http: bool = False) -> "Source":
        """The same repository read from another registry or layout (``--registry``)."""
        if not registry:
            return replace(self, plain_http=plain_http or self.plain_http)
        if registry.startswith(LAYOUT_PREFIX):
            return replace(self, kind="layout", host=registry[len(LAYOUT_PREFIX):], plain_http=False)
        return replace(self, kind="registry", host=check_host(registry), plain_http=plain_http)

    def relative_to(self, base: Path) -> "Source":
        if self.kind != "layout" or Path(self.host).is_absolute():
            return self
        return replace(self, host=str(base / self.host))


def check_host(host: str) -> str:
    if not HOST.fullmatch(host):
        raise ConfigError(f"invalid registry host {host!r}")
    return host


def _split_ref(ref: str, need_tag: bool) -> tuple[str, str | None, str | None]:
    digest = None
    if "@" in ref:
        ref, digest = ref.split("@", 1)
    tag = None
    last = ref.rsplit("/", 1)[-1]
    if ":" in last:
        ref, tag = ref.rsplit(":", 1)
    if not REPOSITORY.fullmatch(ref):
        raise ConfigError(f"invalid repository {ref!r}")
    if need_tag and not tag and not digest:
        raise ConfigError(f"reference {ref!r} has no tag or digest")
    return ref, tag or None, digest


def parse_source(text: str, default_registry: str, need_tag: bool = True) -> Source:
    """Parse a source reference. Raises ConfigError on anything malformed."""
    text = text.strip()
    if not text or any(c.isspace() for c in text):
        raise ConfigError(f"invalid source {text!r}")
    if text.startswith(LAYOUT_PREFIX):
        body = text[len(LAYOUT_PREFIX):]
        path, sep, ref = body.partition("#")
        if not path or not sep:
            raise ConfigError(f"invalid layout source {text!r}: use oci-layout:PATH#REPOSITORY:TAG")
        repo, tag, digest = _split_ref(ref, need_tag)
        return Source("layout", path, repo, tag, digest)
    if text.startswith("oci://"):
        body = text[len("oci://"):]
        host, sep, ref = body.partition("/")
        if not sep:
            raise ConfigError(f"invalid source {text!r}: use oci://HOST/REPOSITORY:TAG")
    elif "://" in text:
        raise ConfigError(f"unsupported source scheme in {text!r}: use oci:// or oci-layout:")
    else:
        first, sep, rest = text.partition("/")
        if sep and ("." in first or ":" in first or first == "localhost"):
            host, ref = first, rest
        else:
            host, ref = default_registry, text
    repo, tag, digest = _split_ref(ref, need_tag)
    return Source("registry", check_host(host), repo, tag, digest)
