"""The GitHub client: one retry policy for 5xx and rate limits, bounded waits, no token leaks."""

from __future__ import annotations

import logging
import socket
import time

import pytest

from sync.errors import UsageError
from sync.github.client import GitHubError, api_url, connect, github_errors
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
