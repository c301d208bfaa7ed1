"""The registry at WAN distance: a token service handing out anonymous bearer tokens scoped
per repository (as public registries do), the real registry trusting it over the data a
plain registry was seeded with, and a link (``tests.support.wanproxy``) in front of each."""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from bench.wan.floor import Link
from tests.support.registry import running_registry
from tests.support.tokenserver import TokenService
from tests.support.wanproxy import WanProxy

SERVICE = "wan-registry"


@dataclass
class Wan:
    registry: WanProxy  # the registry behind the link
    token: WanProxy  # the token service behind the link
    tokens: TokenService

    def set_link(self, link: Link) -> None:
        for proxy in (self.registry, self.token):
            proxy.rtt, proxy.handshake = link.rtt, link.handshake
            proxy.bucket.rate = link.bandwidth

    def reset(self) -> None:
        self.registry.reset()
        self.token.reset()
        self.tokens.seen.clear()

    def counts(self) -> "Counts":
        reg = list(self.registry.requests)
        return Counts(requests=len(reg), challenges=sum(r.status == 401 for r in reg),
                      connections=self.registry.connections, token_requests=len(self.token.requests),
                      scopes=sum(len(s.scope.split()) for s in self.tokens.seen))


@dataclass(frozen=True)
class Counts:
    """What one command asked over the link."""

    requests: int  # to the registry
    challenges: int  # of those, answered 401
    connections: int  # to the registry
    token_requests: int
    scopes: int  # repository scopes named in all token requests


@contextmanager
def wan_registry(data: Path, link: Link, multi_scope: bool = True) -> Iterator[Wan]:
    """The registry serving ``data`` (a registry's storage root) behind ``link``."""
    tokens = TokenService(SERVICE, anonymous=True, multi_scope=multi_scope)
    with tokens, WanProxy(f"127.0.0.1:{tokens.port}", link.rtt, link.bandwidth, link.handshake) as token_link:
        tokens.realm_url = f"{token_link.url}/token"
        with running_registry(root=data, token_service=tokens) as reg, \
                WanProxy(reg.host, link.rtt, link.bandwidth, link.handshake) as reg_link:
            yield Wan(reg_link, token_link, tokens)
