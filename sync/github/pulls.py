"""The sync pull request: find it, create or update it, label it."""

from __future__ import annotations

from typing import Iterable

from github.PullRequest import PullRequest
from github.Repository import Repository

from sync.github.client import GitHubError, github_errors
from sync.github.model import PullInfo
from sync.times import utc_iso


def _info(pr: PullRequest) -> PullInfo:
    return PullInfo(
        number=pr.number,
        state=pr.state,
        merged=bool(pr.merged_at) or bool(pr.raw_data.get("merged")),
        body=pr.body,
        url=pr.html_url,
        created=utc_iso(pr.created_at) if pr.created_at else "",
    )


def sync_pulls(repo: Repository, branch: str, base: str) -> list[PullInfo]:
    """Every PR (open or closed) from ``branch`` into ``base``."""
    owner = repo.full_name.split("/")[0]
    with github_errors(f"listing pull requests of {repo.full_name}"):
        return [_info(p) for p in repo.get_pulls(state="all", head=f"{owner}:{branch}", base=base)]


def create_pull(repo: Repository, branch: str, base: str, title: str, body: str) -> tuple[PullInfo, bool]:
    """Open the PR. If GitHub says one already exists (a concurrent run), update that one.

    Returns the PR and whether it was created (True) or updated (False).
    """
    try:
        with github_errors(f"opening a pull request on {repo.full_name}"):
            return _info(repo.create_pull(base=base, head=branch, title=title, body=body)), True
    except GitHubError as e:
        if e.status != 422 or "already exists" not in e.message:
            raise
    existing = [p for p in sync_pulls(repo, branch, base) if p.state == "open"]
    if not existing:
        raise GitHubError(f"GitHub: {repo.full_name} says a pull request from {branch} exists, but none is open")
    return update_pull(repo, existing[0].number, title, body), False


def update_pull(repo: Repository, number: int, title: str, body: str) -> PullInfo:
    with github_errors(f"updating pull request #{number} of {repo.full_name}"):
        pr = repo.get_pull(number)
        pr.edit(title=title, body=body)
        return _info(pr)


def add_labels(repo: Repository, number: int, labels: Iterable[str]) -> None:
    labels = [x for x in labels if x]
    if not labels:
        return
    with github_errors(f"labelling pull request #{number} of {repo.full_name}"):
        repo.get_issue(number).add_to_labels(*labels)
