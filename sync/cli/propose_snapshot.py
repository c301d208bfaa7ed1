"""plugin-sync propose-snapshot"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from sync.cli.common import load_changes, read_config
from sync.errors import SyncError, UsageError
from sync.github.actions import add_summary, set_outputs

DESCRIPTION = """\
For each snapshot in the detect document (detect --json), commit upstream's file byte-exact
as snapshots/X.Y.Z.json with its snapshots/SHA256SUMS line on the branch
plugin-sync/snapshot-X.Y.Z, and open or update that pull request. Merging it releases the
gateway image X.Y.Z. Prints one line per snapshot; exit 1 if any failed (the others still go)."""


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("propose-snapshot", help="open one pull request per upstream gateway release snapshot",
                       description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--repo", metavar="OWNER/REPO", default=os.environ.get("GITHUB_REPOSITORY"),
                   help="the plugin-server repository (default: $GITHUB_REPOSITORY)")
    p.add_argument("--changes", metavar="FILE", type=Path, required=True, help="the output of 'detect --json'")
    p.add_argument("--base", help="the branch to merge into (default: the repository's default branch)")
    p.add_argument("--label", action="append", dest="labels", metavar="LABEL",
                   help="a label for the PR (repeatable; default: pullRequest.labels in plugins.yaml)")
    p.add_argument("--dry-run", action="store_true", help="print what would be proposed; change nothing")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from sync.github.client import connect, github_errors, parse_repo, server_url
    from sync.release.propose_snapshot import propose_snapshot

    if not args.repo:
        raise UsageError("give --repo OWNER/REPO (or set GITHUB_REPOSITORY)")
    repo = parse_repo(args.repo)
    changes = load_changes(args.changes)
    config, _ = read_config(args)
    labels = tuple(args.labels) if args.labels is not None else config.labels
    say = (lambda m: print(f"plugin-sync: {m}", file=sys.stderr)) if args.verbose else (lambda m: None)
    gh = connect()
    results: dict[str, dict[str, object]] = {}
    failed = 0
    for snap in changes.snapshots:
        try:
            with github_errors("request failed"):
                o = propose_snapshot(gh, repo, changes.upstream, snap, server_url(), base=args.base, labels=labels,
                                     dry_run=args.dry_run, say=say,
                                     warn=lambda m: print(f"plugin-sync: warning: {m}", file=sys.stderr))
        except SyncError as e:
            failed += 1
            results[snap.gateway_version] = {"result": "failed", "error": e.message}
            print(f"plugin-sync: error: gateway {snap.gateway_version}: {e.message}", file=sys.stderr)
            continue
        where = f" {o.pull.url}" if o.pull else ""
        print(f"{o.version}: {o.result}{where} ({o.reason})")
        if args.dry_run and not o.proposal.publication.empty:
            for f in o.proposal.publication.writes:
                print(f"  would write {f.path} ({len(f.data or b'')} bytes, blob {f.sha})")
        results[o.version] = {"result": o.result, "pull-request": o.pull.number if o.pull else None,
                              "branch": o.proposal.branch}
    if not changes.snapshots:
        print("no gateway release snapshot to propose")
    set_outputs({"results": json.dumps(results, separators=(",", ":"))})
    if results:
        add_summary("### plugin-sync propose-snapshot\n\n" + "\n".join(
            f"- gateway {v}: **{r['result']}**" + (f" #{r['pull-request']}" if r.get("pull-request") else "")
            for v, r in results.items()) + "\n")
    return 1 if failed else 0
