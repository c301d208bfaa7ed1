"""``plugin-sync release``: the next image version, its tags and notes; ``--publish`` tags it.

    plugin-sync release [--bump auto|major|minor|patch] [--release-version X.Y.Z] [--json] [--publish]
                        [--repo OWNER/REPO] [--image REGISTRY/NAME] [--image-digest sha256:...]
                        [--notes FILE] [--chart DIR]
    plugin-sync release --gateway X.Y.Z --image REGISTRY/NAME [--snapshots DIR] [--revision SHA]
                        [--plain-http] [--json]

Without ``--gateway`` it computes the rolling track (tags ``rolling-*``, from the lock); with it,
the gateway track (``sync.cli.gateway``).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sync.cli import common, gateway
from sync.config import DEFAULT_REGISTRY
from sync.errors import UsageError
from sync.fsutil import write_atomic
from sync.github.actions import add_summary, set_outputs
from sync.lock import Lock, diff_locks
from sync.names import is_digest
from sync.oci.reference import parse_source
from sync.release import gitrepo
from sync.release.chart import released_chart
from sync.release.notes import ImageInfo, release_title, render_notes
from sync.release.plan import BUMPS, Plan, base_release, plan_release
from sync.release.shipping import ShipRules
from sync.release.tags import ROLLING, image_refs

if TYPE_CHECKING:
    from sync.release.publish import Published



def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser(
        "release",
        help="compute the next image version, tags and notes; --publish tags the release",
        description="Compare the lock at the last vX.Y.Z tag with HEAD and compute the next "
        "semver version of the plugin-server image: a plugin version added is minor, an "
        "artifact changed is patch, a version removed is major, other shipped files are "
        "patch, nothing shipped is no release.",
    )
    p.add_argument("--bump", choices=BUMPS, default="auto",
                   help="auto (default: from the changes), or force major, minor or patch")
    p.add_argument("--release-version", dest="release_version", metavar="X.Y.Z",
                   help="release this version (e.g. aligned with a Higress version); must increase")
    p.add_argument("--version", action=common.Renamed, new="--release-version")
    p.add_argument("--json", action="store_true", help="print one JSON document")
    p.add_argument("--publish", action="store_true",
                   help="create the git tag and the GitHub release (idempotent)")
    p.add_argument("--repo", metavar="OWNER/REPO", default=os.environ.get("GITHUB_REPOSITORY"),
                   help="the GitHub repository to publish to (default: $GITHUB_REPOSITORY)")
    p.add_argument("--image", metavar="REGISTRY/NAME",
                   help="the image name, to print full references and name it in the notes")
    p.add_argument("--image-digest", metavar="sha256:HEX", help="the pushed image digest, for the notes")
    p.add_argument("--notes", metavar="FILE", help="also write the release notes to FILE")
    p.add_argument("--chart", metavar="DIR",
                   help="set the Helm chart's version and appVersion to the release (and its revision "
                        "annotation to HEAD) in DIR/Chart.yaml, for helm package")
    gateway.register(p)
    p.set_defaults(run=run)


def _image_name(text: str | None) -> str | None:
    if not text:
        return None
    src = parse_source(text, DEFAULT_REGISTRY, need_tag=False)
    if src.tag or src.digest or text.startswith(("oci://", "oci-layout:")):
        raise UsageError(f"--image {text!r}: give REGISTRY/NAME without a tag, digest or scheme")
    return f"{src.host}/{src.repository}"


def _check_args(args: argparse.Namespace) -> None:
    if args.image_digest and not is_digest(args.image_digest):
        raise UsageError(f"--image-digest {args.image_digest!r}: expected sha256: and 64 hex digits")
    if args.publish and not args.repo:
        raise UsageError("--publish needs --repo OWNER/REPO (or $GITHUB_REPOSITORY)")
    if args.repo:
        from sync.github.client import parse_repo  # PyGithub is loaded by the commands that use it

        args.repo = parse_repo(args.repo)


def compute(args: argparse.Namespace) -> tuple[Plan, str]:
    """The plan for HEAD of the checkout holding the config, and its repository-relative lock path."""
    config = common.config_path(args)
    repo = gitrepo.repo_root(config.resolve().parent)
    rules = ShipRules(
        lock=gitrepo.relative(repo, common.lock_path(args)),
        config=gitrepo.relative(repo, config),
        root=gitrepo.relative(repo, Path(args.root)),
    )
    history = gitrepo.release_history(repo)
    base, override = base_release(history, args.release_version)
    old = gitrepo.lock_at(repo, base.commit, rules.lock, base.tag) if base else Lock()
    new = gitrepo.lock_at(repo, history.head, rules.lock, "HEAD")
    paths = gitrepo.changed_paths(repo, base.commit if base else None, history.head)
    plan = plan_release(history, base, diff_locks(old, new), paths, rules, args.bump, override)
    return plan, history.head


def _document(plan: Plan, images: tuple[str, ...], notes: str | None, result: Published | None) -> dict[str, Any]:
    return {
        "track": ROLLING,
        "release": plan.release,
        "version": str(plan.version) if plan.version else None,
        "tag": plan.tag,
        "previous": plan.base.tag if plan.base else None,
        "level": plan.level.label,
        "bump": plan.bump,
        "prerelease": plan.prerelease,
        "latest": plan.latest,
        "tags": list(plan.tags),
        "images": list(images),
        "reasons": [{"level": r.level.label, "text": r.text} for r in plan.reasons],
        "message": plan.message,
        "warnings": list(plan.warnings),
        "notes": notes,
        "published": result.value if result else None,
        "publish_detail": result.detail if result else None,
    }


def _outputs(plan: Plan, images: tuple[str, ...], published: str | None) -> dict[str, str]:
    return {
        "track": ROLLING,
        "release": "true" if plan.release else "false",
        "version": str(plan.version) if plan.version else "",
        "tag": plan.tag or "",
        "previous": plan.base.tag if plan.base else "",
        "level": plan.level.label,
        "prerelease": "true" if plan.prerelease else "false",
        "latest": "true" if plan.latest else "false",
        "tags": ",".join(plan.tags),
        "images": ",".join(images),
        "published": published or "",
    }


def _chart_file(args: argparse.Namespace) -> Path | None:
    if not args.chart:
        return None
    path = Path(args.chart) / "Chart.yaml"
    if not path.is_file():
        raise UsageError(f"--chart {args.chart!r}: no Chart.yaml there")
    return path


def run(args: argparse.Namespace) -> int:
    if args.gateway:
        args.image = _image_name(args.image)
        return gateway.run(args)
    _check_args(args)
    image = _image_name(args.image)
    chart = _chart_file(args)
    plan, head = compute(args)
    if chart is not None and plan.version is not None:
        write_atomic(chart, released_chart(chart.read_text(encoding="utf-8"), str(plan.version), head))
        print(f"chart: {chart} is version {plan.version}", file=sys.stderr)
    for w in plan.warnings:
        print(f"plugin-sync: warning: {w}", file=sys.stderr)
    images = image_refs(image, plan.tags) if image else ()
    notes = None
    if plan.release:
        info = ImageInfo(name=image, digest=args.image_digest, repository=args.repo)
        if image and args.image_digest and args.repo:  # the notes name the signing workflow
            from sync.github.client import server_url

            info = replace(info, server_url=server_url())
        notes = render_notes(plan, info)
        if args.notes:
            write_atomic(Path(args.notes), notes)
    result = None
    if args.publish and plan.release and notes is not None:
        from sync.release.publish import publish_release

        result = publish_release(args.repo, plan, head, release_title(plan), notes)
    published = result.value if result else None
    set_outputs(_outputs(plan, images, published))
    if result is not None:
        add_summary(f"**plugin-sync release**: {plan.message}; {result.value}: {result.detail}")
    elif args.publish or notes is None:
        add_summary(f"**plugin-sync release**: {plan.message}")
    else:
        add_summary(f"## {release_title(plan)}\n\n{notes}")

    if args.json:
        print(json.dumps(_document(plan, images, notes, result), indent=2))
        return 0
    print(plan.message)
    for r in plan.reasons:
        print(f"  {r.level.label:<5}  {r.text}")
    if plan.release:
        print(f"tags: {' '.join(plan.tags)}")
        for ref in images:
            print(f"  {ref}")
    if args.publish:
        print(f"publish: {result.value}: {result.detail}" if result else "publish: nothing to publish")
    return 0
