"""Which of the console's URLs a tree or a server serves, and the fix of each one it does
not. Pure: over the console's list, what the target answered for each URL, and what this
repository knows (``Known``: plugins.yaml, the lock, a snapshot, the unmanaged lock)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping

from sync.config import Config
from sync.errors import ConfigError
from sync.lock import Lock
from sync.oci.reference import Source, parse_source
from sync.snapshot.model import Snapshot, UnmanagedEntry
from sync.console.model import ConsolePlugin

SERVED, MISSING, MISMATCH, UNVERIFIED = "served", "missing", "mismatch", "unverified"


@dataclass(frozen=True)
class Known:
    """What this repository knows: the configuration the fixes are written against, every
    artifact pinned by digest (``digests``: (repository, tag) -> manifest digest), and the
    module sha256 a served file must have (``expected``: (name, version) -> sha256)."""

    config: Config | None = None
    snapshot: Snapshot | None = None
    digests: Mapping[tuple[str, str], str] = field(default_factory=dict)
    expected: Mapping[tuple[str, str], str] = field(default_factory=dict)
    unmanaged: frozenset[str] = frozenset()  # the digests the unmanaged lock pins


def known(config: Config | None = None, lock: Lock | None = None, snapshot: Snapshot | None = None,
          unmanaged: tuple[UnmanagedEntry, ...] = (),
          inventory: Mapping[str, Mapping[str, str]] | None = None) -> Known:
    """``Known`` from the files: digests from the snapshot (mapped or not), the unmanaged
    lock, the lock and digest-pinned plugins.yaml entries; sha256s from the lock, the
    unmanaged lock and a ``snapshot-inventory.json``, spread to every version plugins.yaml
    serves one artifact under."""
    digests: dict[tuple[str, str], str] = {}
    expected: dict[tuple[str, str], str] = {}
    for e in snapshot.entries if snapshot else ():
        digests[(e.image.repository, e.tag)] = e.digest
    for u in unmanaged:
        digests[(u.image.repository, u.tag)] = u.digest
        expected[(u.served_path, u.served_version)] = u.wasm_sha256
    for spec in config.plugins.values() if config else ():
        for src in (spec.source, *(s for _, s in spec.sources)):
            if src.digest and src.tag:
                digests[(src.repository, src.tag)] = src.digest
    for le in lock.sorted() if lock else ():
        expected[(le.name, le.version)] = le.sha256
        parsed = None if le.is_local else _source(le.source)
        if parsed is not None and parsed.tag and le.digest:
            digests.setdefault((parsed.repository, parsed.tag), le.digest)
    for key, entry in (inventory or {}).items():
        if entry.get("version") and entry.get("wasmSha256"):
            expected.setdefault((key, entry["version"]), entry["wasmSha256"])
    for spec in config.plugins.values() if config else ():
        shas = {expected[(spec.name, v)] for v in spec.versions if (spec.name, v) in expected}
        if len(shas) == 1:
            for v in spec.versions:
                expected.setdefault((spec.name, v), next(iter(shas)))
    return Known(config, snapshot, digests, expected, frozenset(u.digest for u in unmanaged))


def _source(text: str) -> Source | None:
    try:
        return parse_source(text, "")
    except ConfigError:
        return None


@dataclass(frozen=True)
class Answer:
    """What the target answered for one URL: ``status`` 200 with the file's sha256, another
    HTTP status (a tree: 404), or ``None`` with the error when nothing answered."""

    status: int | None
    sha256: str | None = None
    error: str | None = None


@dataclass(frozen=True)
class Finding:
    plugin: ConsolePlugin
    url: str
    state: str  # served | missing | mismatch | unverified
    answer: Answer
    expected: str | None = None
    fix: str | None = None
    pinned: bool = True  # False: no digest for the console's artifact anywhere

    def to_json(self) -> dict[str, Any]:
        p = self.plugin
        out: dict[str, Any] = {"key": p.key, "name": p.name, "version": p.version, "url": self.url,
                               "state": self.state, "source": p.source.reference(), "status": self.answer.status}
        for k, v in (("sha256", self.answer.sha256), ("expected", self.expected), ("error", self.answer.error),
                     ("fix", self.fix)):
            if v is not None:
                out[k] = v
        if self.state == MISSING:
            out["pinned"] = self.pinned
        return out


@dataclass(frozen=True)
class Report:
    pattern: str
    target: str
    findings: tuple[Finding, ...]

    def of(self, state: str) -> list[Finding]:
        return [f for f in self.findings if f.state == state]

    @property
    def ok(self) -> bool:
        return not (self.of(MISSING) or self.of(MISMATCH))

    def to_json(self) -> dict[str, Any]:
        return {"pattern": self.pattern, "target": self.target, "plugins": len(self.findings),
                "served": len(self.of(SERVED)) + len(self.of(UNVERIFIED)),
                "missing": len(self.of(MISSING)), "mismatch": len(self.of(MISMATCH)),
                "unpinned": sum(1 for f in self.of(MISSING) if not f.pinned),
                "results": [f.to_json() for f in self.findings]}


def digest_of(p: ConsolePlugin, k: Known) -> str | None:
    """The manifest digest of the artifact the console means, wherever one is recorded."""
    if p.digest:
        return p.digest
    return k.digests.get((p.source.repository, p.source.tag or ""))


def _flow(items: list[str]) -> str:
    return "[" + ", ".join(items) + "]"


def fix(p: ConsolePlugin, k: Known) -> tuple[str, bool]:
    """How to serve ``p``'s URL, as the plugins.yaml lines to add, and whether the artifact
    is pinned anywhere (console lock, snapshot, unmanaged lock, lock, plugins.yaml)."""
    tag = p.source.tag or ""
    digest = digest_of(p, k)
    ref = f"oci://{p.source.host}/{p.source.repository}:{tag}"
    spec = k.config.plugins.get(p.name) if k.config else None
    if spec is not None and p.version in dict(spec.sources) and k.snapshot is not None:
        return (f"plugins.yaml serves {p.name}/{p.version} from its own artifact ('sources'), which only the "
                f"rolling image serves, not a build of snapshot {k.snapshot.gateway_version}"), True
    if spec is not None and (p.version in (spec.versions or (spec.source.tag,)) or p.version in dict(spec.sources)):
        return (f"plugins.yaml already serves {p.name}/{p.version}: pull it and deploy "
                "(the target was built before that)"), True
    if digest is None:
        where = f"snapshot {k.snapshot.gateway_version}, " if k.snapshot else ""
        return (f"artifact not pinned anywhere: no digest for {p.source.repository}:{tag} in the console's lock, "
                f"{where}the unmanaged lock or plugins.lock.json; add {p.name} to plugins.yaml by tag, then "
                f"'plugin-sync pull {p.name}' and 'plugin-sync unmanaged-lock' pin it"), False
    note = ""
    if k.snapshot is not None and digest not in k.unmanaged:
        entry = next((e for e in k.snapshot.entries if e.digest == digest), None)
        if entry is None:
            note = f" (not in snapshot {k.snapshot.gateway_version})"
        elif entry.served is None:
            note = f" (in snapshot {k.snapshot.gateway_version} without a plugin-server mapping)"
    if spec is not None:
        served = spec.versions or ((spec.source.tag,) if spec.source.tag else ())
        if tag in served and spec.source.tag == tag:
            return f"plugins.yaml {p.name}: versions: {_flow([*served, p.version])}{note}", True
        return f"plugins.yaml {p.name}: sources: {{{p.version}: {ref}@{digest}}}{note}", True
    lines = f"source: {ref}, digest: {digest}"
    if p.version != tag:
        lines += f", versions: {_flow([tag, p.version])}"
    return f"plugins.yaml add {p.name}: {{{lines}}}{note}", True


def check(plugins: tuple[ConsolePlugin, ...], pattern: str, target: str, answers: Mapping[str, Answer],
          k: Known) -> Report:
    """Every console URL: served (sha256 as expected), unverified (served, nothing to
    compare with), mismatch (served, another sha256) or missing (with its fix)."""
    out: list[Finding] = []
    for p in plugins:
        url = p.url(pattern)
        a = answers[url]
        want = k.expected.get((p.name, p.version))
        if a.status != 200:
            text, pinned = fix(p, k)
            out.append(Finding(p, url, MISSING, a, want, text, pinned))
        elif want is None:
            out.append(Finding(p, url, UNVERIFIED, a))
        elif a.sha256 != want:
            out.append(Finding(p, url, MISMATCH, a, want))
        else:
            out.append(Finding(p, url, SERVED, a, want))
    return Report(pattern, target, tuple(out))
