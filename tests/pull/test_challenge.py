"""The parameters of a registry's Bearer challenge, parsed here (no oras-py)."""

from __future__ import annotations

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
