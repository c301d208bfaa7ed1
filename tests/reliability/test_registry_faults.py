"""Network faults between pull and a real registry, injected by the fault proxy.

Each scenario updates a plugin that is already served. Transient faults must be retried
until the new module is served; lasting ones must fail that plugin with one clear line,
leave what was served byte for byte, and the next pull without the fault must succeed.
"""

from __future__ import annotations

import email.utils
import time
from pathlib import Path
from typing import Callable

import pytest

from tests.reliability.bench import Bench, slug
from tests.reliability.record import Collector
from tests.support.faultproxy import FaultProxy, Fault, Hit
from tests.support.registry import Registry, running_registry

AREA = "Registry faults"
ATTEMPTS = 5  # the retry policy's default bound


def gaps(hits: list[Hit]) -> list[float]:
    return [round(b.at - a.at, 2) for a, b in zip(hits, hits[1:])]


@pytest.mark.parametrize("status", [500, 502, 503])
def test_5xx_burst_on_the_manifest_is_retried(tmp_path: Path, registry: Registry, proxy: FaultProxy,
                                              reliability: Collector, status: int) -> None:
    b = Bench.start(tmp_path, registry, proxy, f"manifest-{status}")
    proxy.add(Fault.respond(status, match=b.manifest_path, times=3))
    b.assert_updated(b.pull())
    hits = proxy.requests_to(b.manifest_path)
    assert [h.status for h in hits] == [status] * 3 + [200]
    reliability.record(AREA, f"burst of 3 × HTTP {status} on the manifest", 1,
                       f"retried: {len(hits)} requests, the last got 200; new module served")


def test_mixed_5xx_burst_on_the_blob_is_retried(tmp_path: Path, registry: Registry, proxy: FaultProxy,
                                                reliability: Collector) -> None:
    b = Bench.start(tmp_path, registry, proxy, "blob-5xx")
    proxy.add(*(Fault.respond(s, match=b.blob_path) for s in (502, 503, 500)))
    b.assert_updated(b.pull())
    hits = proxy.requests_to(b.blob_path)
    assert [h.status for h in hits] == [502, 503, 500, 200]
    reliability.record(AREA, "burst of HTTP 502, 503, 500 on the module blob", 1,
                       f"retried: {len(hits)} requests, the last got 200; new module served")


def test_endless_503_stops_at_the_bound_with_backoff(tmp_path: Path, registry: Registry, proxy: FaultProxy,
                                                     reliability: Collector,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    base = 0.1
    monkeypatch.setenv("PLUGIN_SYNC_RETRY_BASE", str(base))
    b = Bench.start(tmp_path, registry, proxy, "endless-503")
    proxy.add(Fault.respond(503, match=b.manifest_path, times=None))
    line = b.assert_kept(b.pull(), "HTTP 503", f"gave up after {ATTEMPTS} tries")
    hits = proxy.requests_to(b.manifest_path)
    assert len(hits) == ATTEMPTS
    waits = gaps(hits)
    # full jitter under an exponential cap: retry n waits at most base * 2**(n-1)
    for n, w in enumerate(waits, 1):
        assert w <= base * 2 ** (n - 1) + 0.75, waits  # + the client's own time, on a busy machine
    b.assert_recovers()
    reliability.record(AREA, "HTTP 503 on every request", 1,
                       f"{len(hits)} requests (the bound), waits {waits} s under caps "
                       f"{[base * 2 ** n for n in range(ATTEMPTS - 1)]} s; plugin failed: "
                       f"`{line.split(': ', 1)[1]}`; old module kept; next pull succeeded")


def test_429_retry_after_seconds_is_honoured(tmp_path: Path, registry: Registry, proxy: FaultProxy,
                                             reliability: Collector) -> None:
    b = Bench.start(tmp_path, registry, proxy, "retry-after")
    proxy.add(Fault.respond(429, match=b.manifest_path, times=2, headers={"Retry-After": "1"}))
    b.assert_updated(b.pull())
    hits = proxy.requests_to(b.manifest_path)
    assert [h.status for h in hits] == [429, 429, 200]
    waits = gaps(hits)
    assert all(w >= 0.95 for w in waits), waits
    reliability.record(AREA, "HTTP 429 with `Retry-After: 1`, twice", 1,
                       f"waited {waits} s as asked, then got 200; new module served")


def test_429_retry_after_date_is_honoured(tmp_path: Path, registry: Registry, proxy: FaultProxy,
                                          reliability: Collector) -> None:
    b = Bench.start(tmp_path, registry, proxy, "retry-after-date")
    target = int(time.time()) + 3  # HTTP dates name whole seconds
    proxy.add(Fault.respond(429, match=b.manifest_path,
                            headers={"Retry-After": email.utils.formatdate(target, usegmt=True)}))
    b.assert_updated(b.pull())
    hits = proxy.requests_to(b.manifest_path)
    assert [h.status for h in hits] == [429, 200]
    assert target - 0.05 <= hits[1].wall <= target + 3, (target, hits)
    reliability.record(AREA, "HTTP 429 with `Retry-After` as an HTTP date", 1,
                       f"waited {gaps(hits)[0]} s, until the second named, then got 200")


def test_429_asking_too_long_fails_at_once(tmp_path: Path, registry: Registry, proxy: FaultProxy,
                                           reliability: Collector, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PLUGIN_SYNC_RETRY_MAX_WAIT", "5")
    b = Bench.start(tmp_path, registry, proxy, "retry-after-long")
    proxy.add(Fault.respond(429, match=b.manifest_path, times=None, headers={"Retry-After": "3600"}))
    start = time.monotonic()
    line = b.assert_kept(b.pull(), "HTTP 429", "asks to wait 3600 s, more than the limit of 5 s")
    took = time.monotonic() - start
    assert len(proxy.requests_to(b.manifest_path)) == 1
    assert took < 10
    b.assert_recovers()
    reliability.record(AREA, "HTTP 429 with `Retry-After: 3600` (limit 5 s)", 1,
                       f"no wait, 1 request; plugin failed: `{line.split(': ', 1)[1]}`; old module kept")


# where a flipped bit lands in a tar+gzip layer: the gzip magic, the gzip header, the
# deflate stream (start, middle) and the gzip trailer (CRC, length)
FLIPS = {"gzip magic": 0, "gzip header": 9, "deflate start": 12, "deflate middle": 10_000, "gzip trailer": -3}

# fault on the module blob, once: (fault, format, what the record says)
ONCE: dict[str, tuple[Callable[[str, int], Fault], str]] = {
    "connection reset after 5000 bytes of the module blob, once (tar+gzip)":
        (lambda path, size: Fault.reset(at=5000, match=path), "tar+gzip"),
    "connection reset after 5000 bytes of the module blob, once (raw wasm layer)":
        (lambda path, size: Fault.reset(at=5000, match=path), "wasm-layer"),
    "truncated blob (3000 bytes, announced as the whole body), once":
        (lambda path, size: Fault.truncate(at=3000, match=path), "tar+gzip"),
    **{f"one flipped bit in the module blob, once ({where})":
       (lambda path, size, at=at: Fault.flip(at=at if at >= 0 else size + at, match=path), "tar+gzip")
       for where, at in FLIPS.items()},
}

# the same faults on every try: (fault, format, words the failure line must hold)
LASTING: dict[str, tuple[Callable[[str], Fault], str, tuple[str, ...]]] = {
    "connection reset mid-blob on every try":
        (lambda path: Fault.reset(at=5000, match=path, times=None), "tar+gzip", ("connection broken",)),
    "truncated blob on every try":
        (lambda path: Fault.truncate(at=3000, match=path, times=None), "tar+gzip", ("truncated", "3000 of")),
    "one flipped bit in the module blob on every try":
        (lambda path: Fault.flip(at=20_000, match=path, times=None), "wasm-layer", ("digest mismatch",)),
}



@pytest.mark.parametrize("case", list(ONCE))
def test_blob_fault_once_is_retried(tmp_path: Path, registry: Registry, proxy: FaultProxy,
                                    reliability: Collector, case: str) -> None:
    make, fmt = ONCE[case]
    b = Bench.start(tmp_path, registry, proxy, slug(case), fmt=fmt)
    assert b.new_art is not None
    size = len(b.new_art.blobs[b.blob_path.rsplit("/", 1)[1]])
    fault = make(b.blob_path, size)
    proxy.add(fault)
    b.assert_updated(b.pull())
    assert [h.fault for h in proxy.requests_to(b.blob_path)] == [fault.kind, ""]
    reliability.record(AREA, case, 1, "the blob was fetched again (2 requests); new module served")


@pytest.mark.parametrize("case", list(LASTING))
def test_lasting_blob_fault_fails_clearly(tmp_path: Path, registry: Registry, proxy: FaultProxy,
                                          reliability: Collector, case: str) -> None:
    make, fmt, words = LASTING[case]
    b = Bench.start(tmp_path, registry, proxy, slug(case), fmt=fmt)
    proxy.add(make(b.blob_path))
    line = b.assert_kept(b.pull(), *words)
    assert len(proxy.requests_to(b.blob_path)) == ATTEMPTS
    b.assert_recovers()
    reliability.record(AREA, case, 1, f"{ATTEMPTS} tries (the bound); plugin failed: `{line.split(': ', 1)[1]}`; "
                                      "old module kept; next pull succeeded")


def test_slow_manifest_and_stalled_blob_are_retried(tmp_path: Path, registry: Registry, proxy: FaultProxy,
                                                    reliability: Collector) -> None:
    b = Bench.start(tmp_path, registry, proxy, "slow")
    proxy.add(Fault.delay(1.6, match=b.manifest_path), Fault.stall(at=2000, seconds=1.6, match=b.blob_path))
    start = time.monotonic()
    b.assert_updated(b.pull("--timeout", "1"))
    took = time.monotonic() - start
    assert [h.fault for h in proxy.requests_to(b.manifest_path)][:2] == ["delay", ""]
    assert [h.fault for h in proxy.requests_to(b.blob_path)][:2] == ["stall", ""]
    assert took >= 2.0
    reliability.record(AREA, "manifest answered 1.6 s late, blob stalled 1.6 s mid-body (`--timeout 1`)", 1,
                       f"each timed out after 1 s and was retried; new module served in {took:.1f} s")


@pytest.mark.parametrize("what", ["manifest", "blob"])
def test_endless_slowness_fails_clearly(tmp_path: Path, registry: Registry, proxy: FaultProxy,
                                        reliability: Collector, monkeypatch: pytest.MonkeyPatch, what: str) -> None:
    monkeypatch.setenv("PLUGIN_SYNC_RETRY_ATTEMPTS", "2")
    b = Bench.start(tmp_path, registry, proxy, f"slow-always-{what}")
    if what == "manifest":
        proxy.add(Fault.delay(1.5, match=b.manifest_path, times=None))
    else:
        proxy.add(Fault.stall(at=2000, seconds=1.5, match=b.blob_path, times=None))
    start = time.monotonic()
    line = b.assert_kept(b.pull("--timeout", "1"), "timed out")
    took = time.monotonic() - start
    assert took < 8
    b.assert_recovers()
    reliability.record(AREA, f"{what} slower than `--timeout 1` on every try (2 tries allowed)", 1,
                       f"gave up after {took:.1f} s; plugin failed: `{line.split(': ', 1)[1]}`; old module kept")


def test_connection_closed_without_answer_is_retried(tmp_path: Path, registry: Registry, proxy: FaultProxy,
                                                     reliability: Collector) -> None:
    b = Bench.start(tmp_path, registry, proxy, "closed")
    proxy.add(Fault.close(match=b.manifest_path), Fault.close(match=b.blob_path))
    b.assert_updated(b.pull())
    reliability.record(AREA, "connection closed without an answer (manifest, then blob)", 1,
                       "retried; new module served")


def test_missing_tag_and_missing_blob(tmp_path: Path, registry: Registry, proxy: FaultProxy,
                                      reliability: Collector) -> None:
    b = Bench.start(tmp_path, registry, proxy, "missing")
    b.ws.write_config({b.name: {"tag": "9.9.9", "versions": ["1.0.0"]}})
    line = b.assert_kept(b.pull(), "9.9.9", "not found")
    assert len(proxy.requests_to(b.manifest_path)) == 1  # a 404 is not retried
    reliability.record(AREA, "a tag that is missing", 1,
                       f"1 request, no retry; plugin failed: `{line.split(': ', 1)[1]}`; old module kept")

    b.ws.write_config({b.name: {"tag": "1.0.0"}})
    proxy.clear()
    proxy.add(Fault.respond(404, match=b.blob_path, times=None))
    line = b.assert_kept(b.pull(), "not found")
    assert len(proxy.requests_to(b.blob_path)) == 1
    b.assert_recovers()
    reliability.record(AREA, "a blob the registry lost (404)", 1,
                       f"no retry; plugin failed: `{line.split(': ', 1)[1]}`; old module kept")


def test_wrong_credentials(tmp_path: Path, reliability: Collector, monkeypatch: pytest.MonkeyPatch) -> None:
    user, password, wrong = "alice", "s3cret-pw", "wrong-pw-4711"
    with running_registry(auth=(user, password)) as reg, FaultProxy(reg.host) as proxy:
        monkeypatch.setenv("PLUGIN_SYNC_REGISTRY_USERNAME", user)
        monkeypatch.setenv("PLUGIN_SYNC_REGISTRY_PASSWORD", password)
        b = Bench.start(tmp_path, reg, proxy, "auth")
        monkeypatch.setenv("PLUGIN_SYNC_REGISTRY_PASSWORD", wrong)
        r = b.pull()
        line = b.assert_kept(r, "credentials refused", "401")
        assert wrong not in r.err + r.out and password not in r.err + r.out
        # the challenge, at the API root; then one try with the credentials
        statuses = [h.status for h in proxy.requests_to(r"GET /v2/$")] + [
            h.status for h in proxy.requests_to(b.manifest_path)]
        assert statuses == [401, 401], statuses
        monkeypatch.setenv("PLUGIN_SYNC_REGISTRY_PASSWORD", password)
        b.assert_recovers()
    reliability.record(AREA, "auth challenge answered with wrong credentials", 1,
                       f"{len(statuses)} requests (challenge, one try), no retry loop; plugin failed: "
                       f"`{line.split(': ', 1)[1]}`; password never printed; old module kept")
