"""``plugin-sync release --gateway X.Y.Z --image REGISTRY/NAME``: the gateway track.

Reads ``snapshots/X.Y.Z.json`` (checked against ``snapshots/SHA256SUMS``), reads what
``NAME:X.Y.Z`` holds in the registry, and says what the release job does: ``build`` (with the
tags and build args printed), ``present`` (push nothing) or ``conflict`` (exit 1, one line).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

from sync.cli import common
from sync.config import DEFAULT_REGISTRY
from sync.errors import UsageError
from sync.github.actions import add_summary, set_outputs
from sync.oci.reference import parse_source
from sync.release.gateway import GatewayPlan, plan_gateway
from sync.release.snapshots import SNAPSHOTS_DIR, read_snapshot, released_versions
from sync.release.tags import GATEWAY, image_refs

_ROLLING_ONLY = ("release_version", "publish", "notes", "image_digest")


def register(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("gateway track (image X.Y.Z from snapshots/X.Y.Z.json)")
    g.add_argument("--gateway", metavar="X.Y.Z",
                   help="plan the gateway image of this version instead of the rolling release (needs --image)")
    g.add_argument("--snapshots", metavar="DIR", type=Path,
                   help=f"the committed snapshots (default: {SNAPSHOTS_DIR}/ beside the config)")
    g.add_argument("--revision", metavar="SHA", default=os.environ.get("GITHUB_SHA"),
                   help="this repository's commit the image is built from (default: $GITHUB_SHA)")
    g.add_argument("--plain-http", action="store_true", help="talk to the registry over plain HTTP")


def document(image: str, plan: GatewayPlan) -> dict[str, Any]:
    return {
        "track": GATEWAY,
        "version": plan.snapshot.version,
        "action": plan.action,
        "message": plan.decision.message,
        "snapshot": str(plan.snapshot.path),
        "sha256": plan.snapshot.sha256,
        "sourceCommit": plan.snapshot.source_commit,
        "existing": plan.existing,
        "tags": list(plan.tags),
        "images": list(image_refs(image, plan.tags)),
        "buildArgs": dict(plan.build_args),
    }


def run(args: argparse.Namespace) -> int:
    from sync.oci.image import read_image
    from sync.oci.registry import RegistryClient

    used = [f"--{a.replace('_', '-')}" for a in _ROLLING_ONLY if getattr(args, a, None)]
    if args.bump != "auto":
        used.append("--bump")
    if used:
        raise UsageError(f"--gateway plans a gateway image: {', '.join(used)} belong to the rolling release")
    if not args.image:
        raise UsageError("--gateway needs --image REGISTRY/NAME (the tag's current content decides)")
    if not args.revision:
        raise UsageError("--gateway needs --revision SHA (or $GITHUB_SHA): the commit the image is built from")
    directory = args.snapshots or common.config_path(args).resolve().parent / SNAPSHOTS_DIR
    snapshot = read_snapshot(Path(directory), args.gateway)
    src = parse_source(f"{args.image}:{snapshot.version}", DEFAULT_REGISTRY).redirect(None, args.plain_http)
    existing = read_image(RegistryClient(), src, snapshot.version)
    plan = plan_gateway(args.image, snapshot, existing, released_versions(Path(directory)), args.revision)
    doc = document(args.image, plan)
    set_outputs({
        "track": GATEWAY,
        "version": snapshot.version,
        "action": plan.action,
        "snapshot": str(snapshot.path),
        "sha256": snapshot.sha256,
        "source-commit": snapshot.source_commit,
        "tags": ",".join(plan.tags),
        "images": ",".join(doc["images"]),
        "build-args": "\n".join(f"{k}={v}" for k, v in plan.build_args),
    })
    add_summary(f"**plugin-sync release --gateway {snapshot.version}**: {plan.action}: {plan.decision.message}")
    if args.json:
        print(json.dumps(doc, indent=2))
    else:
        print(f"{plan.action}: {plan.decision.message}")
        if plan.action == "build":
            print("tags: " + " ".join(plan.tags))
    if plan.action == "conflict":
        print(f"plugin-sync: error: {plan.decision.message}", file=sys.stderr)
        return 1
    return 0
