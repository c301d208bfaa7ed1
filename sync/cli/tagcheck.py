"""``plugin-sync tag-check``: may a release push this tag? Release tags are immutable.

    plugin-sync tag-check REGISTRY/NAME:TAG (--label KEY=VALUE ... | --digest sha256:...) [--plain-http]

Prints and outputs (GitHub Actions step outputs ``action`` and ``digest``) ``push`` when the
tag does not exist, ``skip`` when it holds the same content (then ``digest`` is the one it
holds); exits 1 when it holds other content, which a release never overwrites.
"""

from __future__ import annotations

import argparse

from sync.config import DEFAULT_REGISTRY
from sync.errors import SyncError, UsageError
from sync.github.actions import add_summary, set_outputs
from sync.names import is_digest
from sync.oci.reference import parse_source
from sync.oci.registry import RegistryClient
from sync.release.immutable import Action, Wanted, decide
from sync.release.published import read_tag



class TagMoved(SyncError):
    """The tag holds other content: exit 1."""


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser(
        "tag-check",
        help="may a release push REGISTRY/NAME:TAG? push (absent), skip (same content), or fail (other content)",
        description="Release tags are immutable. Compare what REGISTRY/NAME:TAG holds with the content a "
        "release would push (its digest, or labels/annotations such as org.opencontainers.image.revision): "
        "absent is push, the same is skip, other content fails with exit 1.",
    )
    p.add_argument("reference", metavar="REGISTRY/NAME:TAG")
    p.add_argument("--label", action="append", default=[], metavar="KEY=VALUE",
                   help="a label or annotation the wanted content has (repeatable)")
    p.add_argument("--digest", metavar="sha256:HEX", help="the digest the wanted content has")
    p.add_argument("--plain-http", action="store_true", help="talk to the registry without TLS")
    p.set_defaults(run=run)


def _wanted(args: argparse.Namespace) -> Wanted:
    labels: dict[str, str] = {}
    for item in args.label:
        key, sep, value = item.partition("=")
        if not sep or not key or not value:
            raise UsageError(f"--label {item!r}: expected KEY=VALUE")
        labels[key] = value
    if args.digest is not None and not is_digest(args.digest):
        raise UsageError(f"--digest {args.digest!r}: expected sha256: and 64 hex digits")
    if args.digest is None and not labels:
        raise UsageError("give --label KEY=VALUE or --digest: what identifies the content to push")
    return Wanted(args.digest, labels)


def run(args: argparse.Namespace) -> int:
    wanted = _wanted(args)
    src = parse_source(args.reference, DEFAULT_REGISTRY, need_tag=True)
    if src.kind != "registry" or src.digest or not src.tag:
        raise UsageError(f"{args.reference!r}: give REGISTRY/NAME:TAG")
    src = src.redirect(None, plain_http=args.plain_http)
    assert src.tag is not None  # checked above; a redirect keeps the tag
    ref = f"{src.host}/{src.repository}:{src.tag}"
    decision = decide(ref, read_tag(RegistryClient(), src, src.tag), wanted)
    set_outputs({"action": decision.action.value, "digest": decision.digest or ""})
    add_summary(f"**plugin-sync tag-check**: {decision.action.value}: {decision.reason}")
    if decision.action is Action.REFUSE:
        raise TagMoved(decision.reason)
    print(f"{decision.action.value}: {decision.reason}")
    return 0
