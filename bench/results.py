"""What one benchmark run measured, as plain data (every figure kept, medians taken later)."""

from __future__ import annotations

from dataclasses import dataclass, field

from bench.profile import Profile
from bench.fleet import FleetSample
from bench.serving import Load
from bench.workspace import PullSample


@dataclass(frozen=True)
class Timing:
    seconds: float
    cpu: float
    max_rss: int


@dataclass(frozen=True)
class FullRound:
    """One round of the full-pull comparison: the four commands back to back."""

    pull: PullSample
    upstream: Timing
    network_floor: Timing
    work_floor: Timing


@dataclass(frozen=True)
class Changed:
    sample: PullSample
    expected_bytes: int  # the changed plugin's blobs


@dataclass(frozen=True)
class Precompress:
    """A no-op pull with ``--gzip`` over a tree without ``.gz`` files, and one without."""

    with_gzip: PullSample
    without: PullSample


@dataclass
class Growth:
    plugins: int
    module_bytes: int
    full: list[PullSample] = field(default_factory=list)
    noop: list[PullSample] = field(default_factory=list)
    versions: int = 1  # version directories served per plugin (the bytes are stored once)


@dataclass(frozen=True)
class Wire:
    config: str  # project | stock
    plain_bytes: int
    gzip_bytes: int  # with Accept-Encoding: gzip
    gzip_responses: int
    files: int


@dataclass
class Results:
    profile: Profile
    plugins: int
    module_bytes: int
    blob_bytes: int
    cores: int
    full: list[FullRound] = field(default_factory=list)
    noop: list[PullSample] = field(default_factory=list)
    changed: list[Changed] = field(default_factory=list)
    locked: list[PullSample] = field(default_factory=list)
    locked_gzip: list[PullSample] = field(default_factory=list)  # the image build's command
    precompress: list[Precompress] = field(default_factory=list)
    gz_after_plain_pull: int = -1  # served versions with a .gz after a pull without --gzip
    gz_after_gzip_pull: int = -1  # ... and after one with --gzip
    memory: dict[int, list[PullSample]] = field(default_factory=dict)  # module size -> samples
    growth: list[Growth] = field(default_factory=list)
    serving: dict[str, dict[int, list[Load]]] = field(default_factory=dict)  # config -> connections -> runs
    wire: list[Wire] = field(default_factory=list)
    fleet: dict[str, dict[int, list[FleetSample]]] = field(default_factory=dict)  # config -> gateways -> rounds
    fleet_bytes: int = 0  # what one gateway fetches: the fleet's plugins' module bytes
    fleet_paths: int = 0
