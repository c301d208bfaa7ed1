"""``plugin-sync detect``: which plugins did PRs merged upstream change since REF.

    plugin-sync detect [--upstream OWNER/REPO] [--since REF] [--git PATH] [--branch NAME]
                       [--cursor FILE] [--json]

Each merge is mapped to plugins by upstream's catalog (``plugins/release/catalog.json``) in
that merge's tree, or by plugin directory before the catalog existed; gateway release
snapshots (``plugins/release/snapshots/X.Y.Z.json``) the merges added are reported too.
Without ``--since`` it starts where the cursor (``upstream-cursor.json`` beside the config)
stopped, and it reports the cursor's pending plugins again. Reads the GitHub API
(``GITHUB_API_URL``, ``GITHUB_TOKEN``) or, with ``--git``, a local clone.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from sync.cli.common import CURSOR_FILE, cursor_path, lock_path, read_config
from sync.errors import UsageError
from sync.github.actions import add_summary, set_outputs
from sync.lock import load_lock
from sync.propose.cursor import Cursor, load_cursor
from sync.upstream.detect import Reader, detect
from sync.upstream.model import Changes, Position, parse_since

DESCRIPTION = """\
List the plugins that pull requests merged upstream changed since REF.

Without --since it starts where the cursor (upstream-cursor.json beside the config)
stopped, and it reports the cursor's pending plugins again. Reads the GitHub API
(GITHUB_API_URL, GITHUB_TOKEN) or, with --git, a local clone."""

SNAPSHOT_OUTPUT = ("gatewayVersion", "path", "sha256", "commit")


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("detect", help="list the plugins changed by upstream merges since a point",
                       description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--upstream", metavar="OWNER/REPO",
                   help="the upstream repository (default: upstream.repository in plugins.yaml, else higress-group/higress)")
    p.add_argument("--since", metavar="REF",
                   help="a PR number (#123), a commit sha or an ISO 8601 time (default: the cursor)")
    p.add_argument("--git", metavar="PATH", type=Path, help="read a local clone with git instead of the API")
    p.add_argument("--branch", help="the upstream branch (default: the default branch; HEAD with --git)")
    p.add_argument("--cursor", metavar="FILE", type=Path,
                   help=f"the cursor file (default: {CURSOR_FILE} beside the config)")
    p.add_argument("--json", action="store_true", help="print one JSON document")
    p.set_defaults(run=run)


def make_reader(args: argparse.Namespace, upstream: str) -> Reader:
    from sync.github.client import connect, server_url  # PyGithub is loaded by the commands that use it

    if args.git:
        from sync.upstream.gitreader import GitReader

        return GitReader(args.git, upstream, args.branch or "HEAD", server_url())
    from sync.upstream.apireader import ApiReader

    return ApiReader(connect(), upstream, args.branch)


def starting_point(args: argparse.Namespace, reader: Reader, cursor: Cursor | None, upstream: str,
                   where: Path) -> Position:
    if args.since:
        return reader.resolve(parse_since(args.since))
    if cursor is None:
        raise UsageError(f"no --since given and no cursor at {where}: say where to start, e.g. --since 2025-01-01")
    if not follows(reader, cursor):
        raise UsageError(f"{where} follows {cursor.upstream}, not {reader.upstream}: give --since")
    if cursor.last is None:
        raise UsageError(f"{where} has no last merge yet: give --since")
    return cursor.last


def follows(reader: Reader, cursor: Cursor) -> bool:
    """The cursor names the repository the reader reads (under its old name, too)."""
    return reader.canonical(cursor.upstream).lower() == reader.upstream.lower()


def run(args: argparse.Namespace) -> int:
    from sync.github.client import github_errors

    with github_errors("request failed"):
        return _run(args)


def _run(args: argparse.Namespace) -> int:
    from sync.github.client import parse_repo

    config, have_config = read_config(args)
    upstream = parse_repo(args.upstream or config.upstream_repository, "--upstream")
    where = cursor_path(args)
    cursor = load_cursor(where)
    reader = make_reader(args, upstream)
    since = starting_point(args, reader, cursor, upstream, where)
    carried = cursor.carried() if cursor and follows(reader, cursor) else []
    changes = detect(
        reader,
        since,
        config,
        have_config=have_config,
        served_names=load_lock(lock_path(args)).names(),
        carried=carried,
    )
    for w in changes.warnings:
        print(f"plugin-sync: warning: {w}", file=sys.stderr)
    if args.json:
        print(json.dumps(changes.to_json(), indent=2, sort_keys=True))
    else:
        print(human(changes))
    set_outputs(outputs(changes))
    add_summary(summary(changes))
    return 0


def outputs(changes: Changes) -> dict[str, str]:
    """The step outputs: changed plugins, and the gateway release snapshots added upstream."""
    return {
        "changed": "true" if changes.changed else "false",
        "plugins": json.dumps([p.name for p in changes.plugins]),
        "snapshots": json.dumps([{k: v for k, v in x.to_json().items() if k in SNAPSHOT_OUTPUT}
                                 for x in changes.snapshots], separators=(",", ":")),
        "gateway-versions": " ".join(x.gateway_version for x in changes.snapshots),
    }


def _since_text(changes: Changes) -> str:
    s = changes.since
    if s is None:
        return "the beginning"
    return f"#{s.pr} ({s.merged})" if s.pr else s.merged


def human(changes: Changes) -> str:
    lines = [f"{changes.upstream}: {len(changes.merges)} merge(s) since {_since_text(changes)}"]
    if not changes.plugins:
        lines.append("no plugin changed")
    for p in changes.plugins:
        prs = " ".join(f"#{x.number}" for x in p.prs)
        notes = []
        if p.pending:
            notes.append("pending")
        if p.served is False:
            notes.append("not served")
        note = f" [{', '.join(notes)}]" if notes else ""
        lines.append(f"  {p.name} {p.version or '(version unknown)'} {prs}{note}")
    if changes.other:
        lines.append(f"{len(changes.other)} other path(s) changed (not plugins), e.g. "
                     + ", ".join(o.path for o in changes.other[:3]))
    for x in changes.snapshots:
        lines.append(f"gateway release {x.gateway_version}: {x.path} (sha256 {x.sha256}) added by #{x.pr} {x.commit}")
    return "\n".join(lines)


def summary(changes: Changes) -> str:
    lines = [f"### Upstream changes in {changes.upstream}", "",
             f"{len(changes.merges)} merged PR(s) since {_since_text(changes)}.", ""]
    if changes.plugins:
        lines += ["| Plugin | Version | PRs | Note |", "|---|---|---|---|"]
        for p in changes.plugins:
            prs = ", ".join(f"[#{x.number}]({x.url})" for x in p.prs)
            note = "pending" if p.pending else ("not served" if p.served is False else "")
            lines.append(f"| {p.name} | {p.version or '?'} | {prs} | {note} |")
        lines.append("")
    else:
        lines += ["No plugin changed.", ""]
    if changes.other:
        lines.append(f"{len(changes.other)} other path(s) changed outside plugin directories.")
    if changes.snapshots:
        lines += ["", "| Gateway release | Snapshot | sha256 | Added by |", "|---|---|---|---|"]
        lines += [f"| {x.gateway_version} | `{x.path}` | `{x.sha256}` | #{x.pr} `{x.commit[:12]}` |"
                  for x in changes.snapshots]
    return "\n".join(lines) + "\n"

