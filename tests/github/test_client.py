"""The GitHub client: one retry policy for 5xx and rate limits, bounded waits, no token leaks."""

from __future__ import annotations

import logging
import socket
import time

import pytest
import semver

from sync.errors import UsageError
from sync.github.client import GitHubError, api_url, connect, github_errors
from sync.github.gitdata import create_ref, point_branch
from sync.lock import LockDiff
from sync.release.plan import Level, Plan
from sync.release.publish import PublishStatus, publish_release
from sync.retry import RetryPolicy
from tests.support.fakegithub import TOKEN
from tests.support.fakegithub import FakeGitHub, client_env

POLICY = RetryPolicy(attempts=4, base=0.01, cap=0.05, max_wait=5)


class Sleeps(list):  # type: ignore[type-arg]
    def __call__(self, seconds: float) -> None:
        self.append(seconds)


def client(fake: FakeGitHub, sleeps: Sleeps | None = None, policy: RetryPolicy = POLICY):  # type: ignore[no-untyped-def]
    return connect(client_env(fake), policy=policy, sleep=sleeps if sleeps is not None else Sleeps())


def read_repo(fake: FakeGitHub, sleeps: Sleeps | None = None, policy: RetryPolicy = POLICY) -> str:
    with github_errors("reading acme/srv"):
        return client(fake, sleeps, policy).get_repo("acme/srv").default_branch


def test_a_502_burst_is_retried(fake: FakeGitHub) -> None:
    fake.state.create_repo("acme/srv")
    fake.fail("GET", r"^/repos/acme/srv$", 502, times=3)
    sleeps = Sleeps()
    assert read_repo(fake, sleeps) == "main"
    assert fake.count("GET", r"^/repos/acme/srv$") == 4
    assert len(sleeps) == 3 and all(0 <= s <= 0.05 for s in sleeps)


def test_too_many_5xx_fail_in_one_line(fake: FakeGitHub) -> None:
    fake.state.create_repo("acme/srv")
    fake.fail("GET", r"^/repos/acme/srv$", 503, times=10)
    with pytest.raises(GitHubError) as e:
        read_repo(fake)
    assert fake.count("GET", r"^/repos/acme/srv$") == POLICY.attempts
    assert e.value.status == 503 and "\n" not in e.value.message
    assert e.value.message.startswith("GitHub: reading acme/srv: 503")


@pytest.mark.parametrize(
    "kind, status, expected",
    [
        ({"retry_after": 3}, 429, 3.0),
        ({"retry_after": 2, "secondary": True}, 403, 2.0),
        ({"reset_in": 3}, 403, 4.0),  # until the reset, plus a second
    ],
)
def test_rate_limits_wait_what_the_server_asks(fake: FakeGitHub, kind: dict, status: int, expected: float) -> None:
    fake.state.create_repo("acme/srv")
    fake.rate_limit("GET", r"^/repos/acme/srv$", status=status, **kind)
    sleeps = Sleeps()
    assert read_repo(fake, sleeps) == "main"
    assert len(sleeps) == 1 and expected - 1.0 <= sleeps[0] <= expected
    assert fake.count("GET", r"^/repos/acme/srv$") == 2


def test_a_rate_limit_is_really_waited_out(fake: FakeGitHub) -> None:
    fake.state.create_repo("acme/srv")
    fake.rate_limit("GET", r"^/repos/acme/srv$", status=429, retry_after=1)
    started = time.monotonic()
    with github_errors("reading"):
        assert connect(client_env(fake), policy=POLICY).get_repo("acme/srv").name == "srv"
    assert time.monotonic() - started >= 1.0


def test_a_wait_beyond_the_bound_fails_at_once(fake: FakeGitHub) -> None:
    fake.state.create_repo("acme/srv")
    fake.rate_limit("GET", r"^/repos/acme/srv$", retry_after=3600, times=5)
    sleeps = Sleeps()
    with pytest.raises(GitHubError) as e:
        read_repo(fake, sleeps)
    assert sleeps == [] and fake.count() == 1
    assert "403" in e.value.message and "asks to wait 3600 s" in e.value.message


def test_a_plain_403_is_not_retried(fake: FakeGitHub) -> None:
    fake.state.create_repo("acme/srv")
    fake.fail("GET", r"^/repos/acme/srv$", 403, body={"message": "Resource not accessible by integration"})
    with pytest.raises(GitHubError, match="403 Resource not accessible by integration"):
        read_repo(fake)
    assert fake.count() == 1


def test_writes_are_retried_too(fake: FakeGitHub) -> None:
    repo = fake.state.create_repo("acme/srv")
    fake.fail("POST", r"/git/blobs$", 502, times=2)
    with github_errors("blob"):
        blob = client(fake).get_repo("acme/srv").create_git_blob("aGVsbG8=", "base64")
    assert repo.objects[blob.sha].data == b"hello"  # type: ignore[union-attr]
    assert fake.count("POST", r"/git/blobs$") == 3


def test_unreachable_server() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {"GITHUB_API_URL": f"http://127.0.0.1:{port}", "GITHUB_TOKEN": TOKEN}
    sleeps = Sleeps()
    with pytest.raises(GitHubError, match="cannot connect"):
        with github_errors("reading"):
            connect(env, policy=POLICY, sleep=sleeps).get_repo("acme/srv")
    assert len(sleeps) == POLICY.attempts - 1


def test_the_token_never_shows_not_even_in_debug_logs(fake: FakeGitHub, caplog: pytest.LogCaptureFixture) -> None:
    fake.state.create_repo("acme/srv")
    fake.fail("GET", r"^/repos/acme/srv$", 401, echo_auth=True)  # a server that echoes the header
    caplog.set_level(logging.DEBUG)
    with pytest.raises(GitHubError) as e:
        read_repo(fake)
    assert "401" in e.value.message and "***" in e.value.message
    assert TOKEN not in e.value.message and TOKEN not in str(e.value)
    assert TOKEN not in caplog.text
    assert fake.log[0].authorized  # it was sent, to the server only


def test_a_wrong_token_is_a_clear_error(fake: FakeGitHub) -> None:
    fake.state.create_repo("acme/srv")
    with pytest.raises(GitHubError, match="401 Bad credentials"):
        with github_errors("reading acme/srv"):
            connect(client_env(fake, token="ghp_wrong_token_value"), policy=POLICY).get_repo("acme/srv")


def test_api_url_must_be_http() -> None:
    assert api_url({}) == "https://api.github.com"
    assert api_url({"GITHUB_API_URL": "https://ghe.example/api/v3/"}) == "https://ghe.example/api/v3"
    with pytest.raises(UsageError, match="not an http"):
        api_url({"GITHUB_API_URL": "ftp://x"})


def test_a_secondary_limit_told_only_in_the_body_is_waited_out(fake: FakeGitHub) -> None:
    # a bare 403: no Retry-After, no X-RateLimit-*; only the message says "secondary rate limit"
    fake.state.create_repo("acme/srv")
    fake.rate_limit("GET", r"^/repos/acme/srv$", status=403, secondary=True, times=2)
    sleeps = Sleeps()
    assert read_repo(fake, sleeps) == "main"
    assert fake.count("GET", r"^/repos/acme/srv$") == 3
    assert sleeps == [60.0, 120.0]  # at least a minute, then exponentially longer


def test_a_secondary_limit_that_lasts_fails_with_githubs_message(fake: FakeGitHub) -> None:
    fake.state.create_repo("acme/srv")
    fake.rate_limit("GET", r"^/repos/acme/srv$", status=403, secondary=True, times=10)
    sleeps = Sleeps()
    with pytest.raises(GitHubError) as e:
        read_repo(fake, sleeps)
    assert fake.count("GET", r"^/repos/acme/srv$") == POLICY.attempts
    assert sleeps == [60.0, 120.0, 240.0]
    assert e.value.status == 403 and "403 You have exceeded a secondary rate limit" in e.value.message


def test_a_plain_403_keeps_its_message_and_a_write_is_not_repeated(fake: FakeGitHub) -> None:
    fake.state.create_repo("acme/srv")
    fake.fail("POST", r"/git/blobs$", 403, body={"message": "Must have admin rights to Repository."})
    sleeps = Sleeps()
    with pytest.raises(GitHubError, match="403 Must have admin rights to Repository.") as e:
        with github_errors("writing a blob"):
            client(fake, sleeps).get_repo("acme/srv").create_git_blob("x", "utf-8")
    assert e.value.status == 403 and sleeps == [] and fake.count("POST", r"/git/blobs$") == 1


# --- a write is sent again only when that cannot do it twice -------------------------------------

def _repo_with_a_commit(fake: FakeGitHub) -> str:
    repo = fake.state.create_repo("acme/srv")
    return repo.commit_files({"a": "1"}, "init", date="2025-01-01T00:00:00Z")


def test_a_post_whose_answer_was_lost_is_not_sent_again(fake: FakeGitHub) -> None:
    """GitHub created the ref, then the answer was lost: sending the POST again would only get
    422 "Reference already exists". The error says what happened, and the ref is there."""
    sha = _repo_with_a_commit(fake)
    fake.drop_answer("POST", r"/git/refs$")
    with pytest.raises(GitHubError, match="closed before an answer") as e:
        with github_errors("creating a tag"):
            client(fake).get_repo("acme/srv").create_git_ref("refs/tags/v1.0.0", sha)
    assert e.value.status is None
    assert fake.count("POST", r"/git/refs$") == 1
    assert fake.state.repos["acme/srv"].ref("refs/tags/v1.0.0") == sha


def test_ref_creation_is_safe_to_repeat(fake: FakeGitHub) -> None:
    sha = _repo_with_a_commit(fake)
    repo = client(fake).get_repo("acme/srv")
    fake.drop_answer("POST", r"/git/refs$")
    create_ref(repo, "tags/v1.0.0", sha, "creating tag v1.0.0")  # executed, answer lost: read back
    create_ref(repo, "tags/v1.0.0", sha, "creating tag v1.0.0")  # 422 "already exists", at sha: done
    point_branch(repo, "plugin-sync/update", sha)
    fake.drop_answer("POST", r"/git/refs$")
    point_branch(repo, "other", sha)
    assert fake.state.repos["acme/srv"].ref("refs/heads/other") == sha
    assert fake.count("POST", r"/git/refs$") == 4
    other = fake.state.repos["acme/srv"].commit_files({"a": "2"}, "next", date="2025-01-02T00:00:00Z")
    with pytest.raises(GitHubError, match="422 Reference already exists"):
        create_ref(repo, "tags/v1.0.0", other, "creating tag v1.0.0")  # elsewhere: never moved
    assert fake.state.repos["acme/srv"].ref("refs/tags/v1.0.0") == sha


def test_a_release_whose_tag_answer_was_lost_is_published(fake: FakeGitHub) -> None:
    sha = _repo_with_a_commit(fake)
    fake.drop_answer("POST", r"/git/refs$")
    plan = Plan(None, semver.Version.parse("1.2.0"), Level.MINOR, "auto", (), LockDiff([], [], [], []), ())
    assert plan.tag == "v1.2.0"
    done = publish_release("acme/srv", plan, sha, "v1.2.0", "notes", client=client(fake))
    assert done.status == PublishStatus.CREATED, done.detail
    assert fake.state.repos["acme/srv"].ref("refs/tags/v1.2.0") == sha
    assert fake.count("POST", r"/git/refs$") == 1 and fake.count("POST", r"/releases$") == 1


@pytest.mark.parametrize("status, sent", [
    (503, 2),  # turned away: not executed, sent again
    (429, 2),
    (502, 1),  # a gateway error: GitHub may have executed it
    (500, 1),
])
def test_a_post_is_repeated_only_after_an_answer_that_says_it_was_not_done(
        fake: FakeGitHub, status: int, sent: int) -> None:
    sha = _repo_with_a_commit(fake)
    fake.fail("POST", r"/releases$", status, headers={"Retry-After": "0"} if status == 429 else None)
    gh = client(fake).get_repo("acme/srv")
    try:
        with github_errors("creating a release"):
            gh.create_git_release("v1.0.0", name="v1.0.0", message="notes", target_commitish=sha)
    except GitHubError as e:
        assert sent == 1 and e.status == status
    assert fake.count("POST", r"/releases$") == sent


def test_reads_and_content_addressed_writes_are_repeated_after_a_lost_answer(fake: FakeGitHub) -> None:
    repo = fake.state.create_repo("acme/srv")
    fake.drop_answer("GET", r"^/repos/acme/srv$")
    fake.drop_answer("POST", r"/git/blobs$")
    with github_errors("blob"):
        gh = client(fake).get_repo("acme/srv")
        blob = gh.create_git_blob("aGVsbG8=", "base64")
    assert repo.objects[blob.sha].data == b"hello"  # type: ignore[union-attr]
    assert fake.count("GET", r"^/repos/acme/srv$") == 2 and fake.count("POST", r"/git/blobs$") == 2


def test_a_patch_is_repeated_after_a_lost_answer(fake: FakeGitHub) -> None:
    """Moving a ref sets it to the commit sent: sent twice, the same state."""
    sha = _repo_with_a_commit(fake)
    fake.state.repos["acme/srv"].set_ref("refs/heads/feature", sha)
    other = fake.state.repos["acme/srv"].commit_files({"a": "2"}, "next", date="2025-01-02T00:00:00Z")
    fake.drop_answer("PATCH", r"/git/refs/heads/feature$")
    with github_errors("moving feature"):
        client(fake).get_repo("acme/srv").get_git_ref("heads/feature").edit(other, force=True)
    assert fake.state.repos["acme/srv"].ref("refs/heads/feature") == other
    assert fake.count("PATCH", r"/git/refs/heads/feature$") == 2
