"""``plugin-sync propose``: publish the working tree's change as one pull request.

    plugin-sync propose --repo OWNER/REPO [--base BRANCH] [--branch NAME] [--label L]...
                        [--changes changes.json] [--cursor FILE] [--checkout DIR] [--dry-run]

Publishes the lock, ``plugins.yaml``, the upstream cursor and hand-placed plugin files as
one commit (Git Data API) on a fixed branch, and opens or updates one PR. Prints
``created``, ``updated``, ``unchanged`` or ``skipped`` (also ``result=`` in
``$GITHUB_OUTPUT``). With ``--changes`` (the output of ``detect --json``) the cursor moves
past the detected merges, keeping plugins without a new artifact pending.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import sys
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING

from sync.cli.common import CURSOR_FILE, config_path, cursor_path, load_changes, lock_path, read_config, tree
from sync.errors import UsageError
from sync.github.actions import add_summary, set_outputs
from sync.propose.checkout import Checkout
from sync.propose.cursor import DEFAULT_PENDING_DAYS
from sync.propose.plan import DEFAULT_BRANCH

if TYPE_CHECKING:
    from sync.propose.run import ProposeResult

DESCRIPTION = """\
Publish the working tree's change as one pull request.

Publishes the lock, plugins.yaml, the upstream cursor and hand-placed plugin files as
one commit (Git Data API) on a fixed branch, and opens or updates one pull request.
Prints created, updated, unchanged or skipped (also result= in $GITHUB_OUTPUT). With
--changes (the output of 'detect --json') the cursor moves past the detected merges,
keeping plugins without a new artifact pending."""


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("propose", help="publish the change as one pull request",
                       description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--repo", metavar="OWNER/REPO", default=os.environ.get("GITHUB_REPOSITORY"),
                   help="the plugin-server repository (default: $GITHUB_REPOSITORY)")
    p.add_argument("--base", help="the branch to merge into (default: the repository's default branch)")
    p.add_argument("--branch", default=DEFAULT_BRANCH, help=f"the sync branch (default: {DEFAULT_BRANCH})")
    p.add_argument("--label", action="append", dest="labels", metavar="LABEL",
                   help="a label for the PR (repeatable; default: pullRequest.labels in plugins.yaml)")
    p.add_argument("--changes", metavar="FILE", type=Path,
                   help="the output of 'detect --json': links upstream PRs and moves the cursor")
    p.add_argument("--cursor", metavar="FILE", type=Path,
                   help=f"the cursor file (default: {CURSOR_FILE} beside the config)")
    p.add_argument("--checkout", metavar="DIR", type=Path, default=Path("."),
                   help="the local checkout of the repository (default: the current directory)")
    p.add_argument("--pending-days", type=int, default=DEFAULT_PENDING_DAYS, metavar="N",
                   help=f"stop waiting for an artifact after N days (default: {DEFAULT_PENDING_DAYS})")
    p.add_argument("--dry-run", action="store_true", help="print the files and PR text; change nothing")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from sync.github.client import github_errors

    with github_errors("request failed"):
        return _run(args)


def _run(args: argparse.Namespace) -> int:
    from sync.github.client import connect, parse_repo
    from sync.propose.run import propose

    if not args.repo:
        raise UsageError("give --repo OWNER/REPO (or set GITHUB_REPOSITORY)")
    repo = parse_repo(args.repo)
    if args.pending_days < 1:
        raise UsageError("--pending-days must be at least 1")
    config, _ = read_config(args)
    labels = tuple(args.labels) if args.labels is not None else config.labels
    checkout = Checkout(root=args.checkout, config=config_path(args), lock=lock_path(args),
                        cursor=cursor_path(args), tree=tree(args))
    changes = load_changes(args.changes) if args.changes else None
    say = (lambda m: print(f"plugin-sync: {m}", file=sys.stderr)) if args.verbose else (lambda m: None)
    outcome = propose(
        connect(),
        repo,
        checkout,
        base=args.base,
        branch=args.branch,
        labels=labels,
        changes=changes,
        now=datetime.now(timezone.utc),
        pending_days=args.pending_days,
        dry_run=args.dry_run,
        say=say,
        warn=lambda m: print(f"plugin-sync: warning: {m}", file=sys.stderr),
    )
    if args.dry_run:
        print(dry_run_report(outcome), end="")
        return 0
    where = f": {outcome.pull.url}" if outcome.pull else ""
    print(f"plugin-sync: {outcome.result}{where} ({outcome.decision.reason})", file=sys.stderr)
    print(outcome.result)
    values = {"result": outcome.result}
    if outcome.pull:
        values.update({"pull-request": str(outcome.pull.number), "pull-request-url": outcome.pull.url})
    set_outputs(values)
    add_summary(f"### plugin-sync propose\n\n**{outcome.result}**{where} — {outcome.decision.reason}\n")
    return 0


def _show(data: bytes) -> str:
    if b"\0" not in data:
        try:
            text = data.decode("utf-8")
            return text if text.endswith("\n") else text + "\n(no newline at end of file)\n"
        except UnicodeDecodeError:
            pass
    return f"(binary: {len(data)} bytes, sha256 {hashlib.sha256(data).hexdigest()})\n"


def dry_run_report(o: "ProposeResult") -> str:
    """Everything propose would publish, exactly."""
    verb = {"created": "open a pull request", "updated": f"update pull request #{o.pull.number if o.pull else '?'}",
            "unchanged": "change nothing", "skipped": "change nothing"}[o.result]
    out = [f"# dry run: would {verb} on {o.repo} ({o.branch} -> {o.base}): {o.decision.reason}\n"]
    if o.publication.empty:
        out.append(f"# result: {o.result}\n")
        return "".join(out)
    for f in o.publication.files:
        if f.data is None:
            out.append(f"=== delete {f.path}\n")
        else:
            out.append(f"=== file {f.path} ({len(f.data)} bytes, blob {f.sha})\n")
            out.append(_show(f.data))
    out.append("=== pull request title\n" + o.title + "\n")
    out.append("=== pull request labels\n" + (", ".join(o.labels) or "(none)") + "\n")
    out.append("=== pull request body\n" + o.body)
    out.append(f"# result: {o.result}\n")
    return "".join(out)
