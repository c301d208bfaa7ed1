"""The parameters of a registry's Bearer challenge, parsed here (no oras-py)."""

from __future__ import annotations

import pytest

from sync.oci.registry import challenge_params


def test_realm_service_and_scope_are_read() -> None:
    got = challenge_params('Bearer realm="https://auth.example/token",service="registry.example",'
                           'scope="repository:plugins/a:pull",error="insufficient_scope"')
    assert got == {"realm": "https://auth.example/token", "service": "registry.example",
                   "scope": "repository:plugins/a:pull", "error": "insufficient_scope"}


def test_an_empty_value_does_not_swallow_the_next_parameter() -> None:
    assert challenge_params('Bearer realm="https://a/token",scope="",service="s"') == {
        "realm": "https://a/token", "scope": "", "service": "s"}


def test_keys_are_case_insensitive_and_only_letters_digits_dash_underscore() -> None:
    assert challenge_params('Bearer Realm="https://a/token", [x]="y"') == {"realm": "https://a/token"}


def test_no_parameters() -> None:
    assert challenge_params("Bearer") == {} and challenge_params("") == {}


@pytest.mark.parametrize(("challenge", "want"), [
    # RFC 7235: a value is a token or a quoted-string
    ("Bearer realm=https://auth.example/token,service=registry.example,scope=repository:plugins/a:pull",
     {"realm": "https://auth.example/token", "service": "registry.example", "scope": "repository:plugins/a:pull"}),
    ('Bearer realm=https://auth.example/token,service="registry.example"',
     {"realm": "https://auth.example/token", "service": "registry.example"}),
    ("Bearer realm = https://a/token , service = s",  # BWS around "=" and after ","
     {"realm": "https://a/token", "service": "s"}),
    ("Bearer realm=https://a/token?x=1&y=2,service=s",  # "=" inside an unquoted value
     {"realm": "https://a/token?x=1&y=2", "service": "s"}),
    # commas and "key=" text inside a quoted string belong to the value
    ('Bearer realm="https://a/token",scope="repository:a:pull,push repository:b:pull",service="s"',
     {"realm": "https://a/token", "scope": "repository:a:pull,push repository:b:pull", "service": "s"}),
    ('Bearer realm="https://a/token,service=wrong",service="right"',
     {"realm": "https://a/token,service=wrong", "service": "right"}),
    # a quoted-pair: the backslash escapes the next character
    (r'Bearer realm="https://a/token",error_description="say \"no\", \\ twice"',
     {"realm": "https://a/token", "error_description": 'say "no", \\ twice'}),
    ('Bearer realm=,service="s"', {"realm": "", "service": "s"}),
])
def test_quoted_and_unquoted_values(challenge: str, want: dict[str, str]) -> None:
    assert challenge_params(challenge) == want
