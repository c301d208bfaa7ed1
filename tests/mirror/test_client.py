"""The registry client under the mirror's concurrency."""

from __future__ import annotations

import threading

import pytest

from sync.oci.reference import Source
from sync.oci.registry import RegistryClient
from tests.support.registry import running_registry
from tests.support.workspace import artifact


def test_threads_meeting_basic_auth_at_once_all_get_in(monkeypatch: pytest.MonkeyPatch) -> None:
    """Many threads of a new client ask a Basic-auth registry at the same moment: each
    unauthenticated request is answered 401, and every one of them is sent again with the
    credentials, not only the first to learn that the host wants them."""
    with running_registry(auth=("alice", "pw")) as reg:
        reg.push("plugins/a", "1.0.0", artifact(300, 1))
        monkeypatch.setenv("PLUGIN_SYNC_REGISTRY_USERNAME", "alice")
        monkeypatch.setenv("PLUGIN_SYNC_REGISTRY_PASSWORD", "pw")
        for _ in range(3):
            client = RegistryClient(default_host=reg.host)
            src = Source("registry", reg.host, "plugins/a", plain_http=True)
            start = threading.Barrier(12)
            errors: list[BaseException] = []

            def one() -> None:
                start.wait()
                try:
                    client.manifest(src, "1.0.0")
                except BaseException as e:  # noqa: BLE001 - collected for the assertion
                    errors.append(e)

            threads = [threading.Thread(target=one) for _ in range(12)]
            for t in threads:
                t.start()
            for t in threads:
                t.join(30)
            assert errors == []
