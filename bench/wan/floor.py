"""The round-trip floor of a pull over a link (pure): the least time any client needs, from
the round trips it must wait for one after another and the bytes it must receive.

A client that starts knowing only the registry's host needs, in sequence:

1. a connection to the registry and one request, whose answer is the challenge naming the
   token service (where the registry asks for a token; a registry without one answers the
   manifests here already);
2. a connection to the token service and one request (every repository's scope at once, or
   one request per repository in parallel: one turn either way);
3. the manifests, all at once on connections opened during step 1;
4. for a full pull, the blobs, all at once: one turn, then the bytes at the link's bandwidth.

A connection costs ``handshake`` round trips before its first request (TCP, plus TLS).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Link:
    rtt: float  # seconds
    bandwidth: float  # bytes per second, shared by every connection (0: unlimited)
    handshake: int = 2  # round trips a new connection costs: TCP and TLS 1.3


def turns(link: Link, *, token: bool, noop: bool) -> int:
    """The round trips a pull waits for one after another (see the module's text)."""
    registry = link.handshake + 1  # connect, then the challenge (or, without a token service, the manifests)
    if not token:
        return registry + (0 if noop else 1)
    return registry + (link.handshake + 1) + 1 + (0 if noop else 1)


def floor_seconds(link: Link, blob_bytes: int, *, token: bool, noop: bool) -> float:
    """The floor: ``turns`` round trips, plus the blob bytes at the link's bandwidth."""
    transfer = 0.0 if noop or link.bandwidth <= 0 else blob_bytes / link.bandwidth
    return turns(link, token=token, noop=noop) * link.rtt + transfer
