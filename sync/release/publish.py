"""The GitHub edge of releases: the ``vX.Y.Z`` tag on the released commit and its GitHub
release, through the project's one PyGithub client (``sync.github.client``).

Idempotent: an existing tag on the same commit is kept, an existing release with the same
title, notes and pre-release flag is left alone, so publishing a version twice changes
nothing and says so. A tag that points at another commit is never moved: that is an error.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

import github
from github.GitRelease import GitRelease
from github.Repository import Repository

from sync.errors import SyncError
from sync.github.client import GitHubError, connect, github_errors
from sync.github.gitdata import create_ref
from sync.release.plan import Plan


class PublishStatus(str, enum.Enum):
    CREATED = "created"
    UPDATED = "updated"
    UNCHANGED = "unchanged"


@dataclass(frozen=True)
class Published:
    status: PublishStatus
    detail: str  # one line: what was done, or why nothing was

    @property
    def value(self) -> str:
        return self.status.value


def _tag_commit(repo: Repository, tag: str) -> str | None:
    """The commit the tag ref points at (annotated tags peeled), or None when it is absent."""
    try:
        with github_errors(f"read tag {tag}"):
            ref = repo.get_git_ref(f"tags/{tag}")
            obj_type, sha = ref.object.type, ref.object.sha
            if obj_type == "tag":
                sha = repo.get_git_tag(sha).object.sha
    except GitHubError as e:
        if e.status == 404:
            return None
        raise
    return sha


def _release(repo: Repository, tag: str) -> GitRelease | None:
    try:
        with github_errors(f"read the release of {tag}"):
            return repo.get_release(tag)
    except GitHubError as e:
        if e.status == 404:
            return None
        raise


def publish_release(repository: str, plan: Plan, head: str, title: str, notes: str,
                    client: github.Github | None = None) -> Published:
    """Make sure ``repository`` has the tag of ``plan`` on ``head`` and its release."""
    if plan.version is None or plan.tag is None:
        raise ValueError("nothing to publish")
    tag = plan.tag
    gh = client or connect()
    with github_errors(f"open {repository}"):
        repo = gh.get_repo(repository)

    done: list[str] = []
    created = False
    at = _tag_commit(repo, tag)
    if at is None:
        create_ref(repo, f"tags/{tag}", head, f"create tag {tag}")
        done.append(f"created tag {tag} at {head[:12]}")
        created = True
    elif at != head:
        raise SyncError(f"tag {tag} already exists on {repository} at commit {at[:12]}, not at {head[:12]}: "
                        "a release tag is never moved; choose another version with --release-version")

    latest = "true" if plan.latest else "false"
    release = _release(repo, tag)
    if release is None:
        with github_errors(f"create the release of {tag}"):
            repo.create_git_release(tag, name=title, message=notes, prerelease=plan.prerelease,
                                    target_commitish=head, make_latest=latest)
        done.append(f"created release {title!r}")
        created = True
    elif (release.name, release.body or "", release.prerelease) != (title, notes, plan.prerelease):
        with github_errors(f"update the release of {tag}"):
            release.update_release(name=title, message=notes, prerelease=plan.prerelease, make_latest=latest)
        done.append(f"updated release {title!r}")
    if not done:
        return Published(PublishStatus.UNCHANGED, f"tag {tag} and its release are already published; nothing changed")
    return Published(PublishStatus.CREATED if created else PublishStatus.UPDATED, "; ".join(done))
