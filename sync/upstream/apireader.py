"""Reading upstream merges through the GitHub REST API (PyGithub).

Closed PRs into the default branch are listed by last update, newest first; a PR merged
after the position was necessarily updated after it too, so paging stops at the first PR
updated before the position. A moved repository is followed through GitHub's 301, and the
reader names it as the API does now (``upstream`` is the canonical name). Each merged PR's files come from its files list (renames
count for both names); version files are read from the merge commit: through the contents
API, or, for a file over 1 MB (whose content GitHub leaves out, ``encoding: "none"``), through
the git blob API.
"""

from __future__ import annotations

import base64

import github

from sync.errors import UsageError
from sync.github.client import GitHubError, github_errors
from sync.times import utc_iso
from sync.upstream.model import Merge, Position, SinceRef, pr_of_subject


class ApiReader:
    def __init__(self, gh: github.Github, upstream: str, branch: str | None = None) -> None:
        self.gh = gh
        with github_errors(f"reading repository {upstream}"):
            self.repo = gh.get_repo(upstream)  # a moved repository: GitHub's 301 is followed
            self.branch = branch or self.repo.default_branch
            self.upstream = self.repo.full_name  # the canonical name, after any redirect

    def canonical(self, name: str) -> str:
        """The name GitHub reports for ``name`` now (following a move)."""
        if name.lower() == self.upstream.lower():
            return self.upstream
        try:
            with github_errors(f"reading repository {name}"):
                return self.gh.get_repo(name).full_name
        except GitHubError as e:
            if e.status == 404:
                return name
            raise

    def resolve(self, ref: SinceRef) -> Position:
        if ref.kind == "time":
            return Position(ref.value)
        if ref.kind == "pr":
            number = int(ref.value)
            with github_errors(f"reading PR #{number} of {self.upstream}"):
                pr = self.repo.get_pull(number)
                merged_at, sha = pr.merged_at, pr.merge_commit_sha
            if merged_at is None:
                raise UsageError(f"--since #{number}: that PR of {self.upstream} is not merged")
            return Position(utc_iso(merged_at), number, sha)
        with github_errors(f"reading commit {ref.value} of {self.upstream}"):
            commit = self.repo.get_commit(ref.value)
            subject = (commit.commit.message or "").splitlines()[0] if commit.commit.message else ""
            return Position(utc_iso(commit.commit.committer.date), pr_of_subject(subject), commit.sha)

    def merges_after(self, position: Position | None) -> list[Merge]:
        merges = []
        with github_errors(f"listing merged PRs of {self.upstream}"):
            pulls = self.repo.get_pulls(state="closed", base=self.branch, sort="updated", direction="desc")
            for pr in pulls:
                if position is not None and pr.updated_at is not None and utc_iso(pr.updated_at) < position.merged:
                    break
                if pr.merged_at is None:
                    continue
                merged = utc_iso(pr.merged_at)
                if position is not None and not position.precedes(merged, pr.number, pr.merge_commit_sha):
                    continue
                paths: set[str] = set()
                for f in pr.get_files():
                    paths.add(f.filename)
                    if f.previous_filename:
                        paths.add(f.previous_filename)
                merges.append(Merge(pr.number, pr.title, pr.html_url, merged, pr.merge_commit_sha,
                                    tuple(sorted(paths))))
        return sorted(merges, key=lambda m: m.order)

    def read_file(self, sha: str, path: str) -> bytes | None:
        try:
            with github_errors(f"reading {path} at {sha[:12]} of {self.upstream}"):
                content = self.repo.get_contents(path, ref=sha)
                if isinstance(content, list) or content.type != "file":
                    return None
                if content.encoding == "base64":
                    return content.decoded_content
                # over 1 MB GitHub sends no content (encoding "none"): read the git blob
                blob = self.repo.get_git_blob(content.sha)
                if blob.encoding != "base64":
                    raise GitHubError(f"reading {path} at {sha[:12]} of {self.upstream}: blob {content.sha[:12]} "
                                      f"came in encoding {blob.encoding!r}")
                return base64.b64decode(blob.content)
        except GitHubError as e:
            if e.status == 404:
                return None
            raise
