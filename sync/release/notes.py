"""Release notes: markdown, the same bytes for the same inputs. Pure.

A summary line, a table of the plugin changes since the last release (plugin, served version,
change, manifest digest, sha256 of ``plugin.wasm``), the other shipped paths that changed, and
the image with its tags, digest and how to verify its signature.
"""

from __future__ import annotations

from dataclasses import dataclass

from sync.lock import LockEntry
from sync.release.plan import Plan

MAX_PATHS = 20
OIDC_ISSUER = "https://token.actions.githubusercontent.com"
RELEASE_WORKFLOW = ".github/workflows/release.yml"
RELEASE_REF = "refs/heads/main"  # releases run from main only
ATTESTATIONS = ("spdxjson", "slsaprovenance")  # the SBOM and the provenance, as cosign names them


@dataclass(frozen=True)
class ImageInfo:
    """Where the release's image went; every field optional."""

    name: str | None = None  # registry/repository, no tag
    digest: str | None = None  # sha256:... of the pushed manifest list
    repository: str | None = None  # OWNER/REPO that built and signed it
    server_url: str = "https://github.com"


def signer_identity(server_url: str, repository: str) -> str:
    """The exact certificate identity of a release signature: the workflow file, run on main."""
    return f"{server_url.rstrip('/')}/{repository}/{RELEASE_WORKFLOW}@{RELEASE_REF}"


def verify_commands(ref: str, identity: str) -> list[str]:
    """The cosign commands (shell lines) that check a release's signature and attestations."""
    who = [f"  --certificate-identity {identity} \\", f"  --certificate-oidc-issuer {OIDC_ISSUER}"]
    lines = [f"cosign verify {ref} \\", *who]
    for kind in ATTESTATIONS:
        lines += [f"cosign verify-attestation --type {kind} {ref} \\", *who]
    return lines


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def _code(text: str) -> str:
    return f"`{_cell(text)}`"


def _digest(e: LockEntry) -> str:
    return "hand-placed" if e.is_local or not e.digest else _code(e.digest)


def _pair(old: str, new: str) -> str:
    return new if old == new else f"{old} → {new}"


def _row(o: LockEntry | None, n: LockEntry | None) -> str:
    if o is None and n is not None:
        return f"| {_code(n.name)} | {_code(n.version)} | added | {_digest(n)} | {_code(n.sha256)} |"
    if n is None and o is not None:
        return f"| {_code(o.name)} | {_code(o.version)} | removed | {_digest(o)} | {_code(o.sha256)} |"
    assert o is not None and n is not None
    return (f"| {_code(n.name)} | {_code(n.version)} | content changed | "
            f"{_pair(_digest(o), _digest(n))} | {_pair(_code(o.sha256), _code(n.sha256))} |")


def _summary(plan: Plan) -> str:
    d = plan.diff
    counts = [f"{len(d.added)} added", f"{len(d.changed)} changed", f"{len(d.removed)} removed"]
    since = f"since {plan.base.tag}" if plan.base else "in this first release"
    return f"Plugin versions {since}: {', '.join(counts)}; {len(d.unchanged)} unchanged."


def _headline(plan: Plan) -> str:
    """What the release is, from the changes alone: the same whether the version was computed
    or given with --release-version, so publishing either way writes the same notes."""
    if plan.base is None:
        return f"First release: {plan.version}."
    what = f"{plan.level.label} changes" if plan.level else "nothing that ships changed"
    return f"Release {plan.version} follows {plan.base.tag} ({what})."


def render_notes(plan: Plan, image: ImageInfo = ImageInfo()) -> str:
    """The release notes of ``plan`` (which must be a release)."""
    if plan.version is None:
        raise ValueError("no release, no notes")
    out: list[str] = [_headline(plan)]
    if plan.prerelease:
        out.append("")
        out.append("This is a pre-release: only its own image tag is pushed, `rolling-latest` does not move.")
    out += ["", "## Plugins", "", _summary(plan)]
    rows = [_row(o, n) for o, n in plan.diff.rows()]
    if rows:
        out += ["", "| Plugin | Version | Change | Digest | sha256 |", "| --- | --- | --- | --- | --- |"]
        out += rows
    if plan.paths:
        out += ["", "## Other shipped changes", ""]
        out += [f"- {_code(p)}" for p in plan.paths[:MAX_PATHS]]
        if len(plan.paths) > MAX_PATHS:
            out.append(f"- and {len(plan.paths) - MAX_PATHS} more")
    if plan.tags:
        out += ["", "## Image", ""]
        tags = ", ".join(_code(t) for t in plan.tags)
        out.append(f"{_code(image.name)} with tags {tags}." if image.name else f"Tags: {tags}.")
        if image.digest:
            out += ["", f"Digest: {_code(image.digest)}"]
        if image.name and image.digest and image.repository:
            out += ["", "Verify its keyless signature and its signed SBOM and SLSA provenance:", "", "```sh"]
            out += verify_commands(f"{image.name}@{image.digest}", signer_identity(image.server_url, image.repository))
            out.append("```")
    return "\n".join(out) + "\n"


def release_title(plan: Plan) -> str:
    return f"plugin-server {plan.version}"
