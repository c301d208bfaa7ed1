"""What the pull is compared with, run by the shell scripts in ``bench/scripts``:

- the upstream way: skopeo copies each plugin in turn into an OCI layout, then tar extracts;
- the network floor: every blob the pull needs, fetched in parallel by curl, nothing else;
- the work floor: the network floor keeping the blobs, then unpacking, hashing (sha256sum,
  md5sum) and placing every module with native tools on all cores.

The input lists are made by pure functions from what was pushed.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

from bench.dataset import Pushed
from bench.measure import Measured, run

SCRIPTS = Path(__file__).resolve().parent / "scripts"
TOOLS = ("skopeo", "jq", "curl", "tar", "gzip", "sha256sum", "md5sum", "xargs")


def blob_url(registry: str, repository: str, digest: str) -> str:
    return f"http://{registry}/v2/{repository}/blobs/{digest}"


def upstream_list(pushed: list[Pushed]) -> str:
    return "".join(f"{p.plugin.name} {p.plugin.repository} {p.plugin.tag}\n" for p in pushed)


def floor_urls(registry: str, pushed: list[Pushed]) -> str:
    return "".join(f"{blob_url(registry, p.plugin.repository, b.digest)}\n" for p in pushed for b in p.blobs)


def work_fetch_list(registry: str, pushed: list[Pushed]) -> str:
    return "".join(f"{blob_url(registry, p.plugin.repository, b.digest)} {p.plugin.name}/{b.title}\n"
                   for p in pushed for b in p.blobs)


def work_place_list(pushed: list[Pushed]) -> str:
    return "".join(f"{p.plugin.name} {p.plugin.tag} {p.plugin.fmt}\n" for p in pushed)


def missing_tools() -> list[str]:
    return [t for t in TOOLS if shutil.which(t) is None]


@dataclass
class Baselines:
    """The three comparison commands over one pushed set, with their inputs in ``dir``."""

    dir: Path
    registry: str
    pushed: list[Pushed]
    parallel: int
    env: dict[str, str]

    def __post_init__(self) -> None:
        self.dir.mkdir(parents=True, exist_ok=True)
        (self.dir / "upstream.list").write_text(upstream_list(self.pushed))
        (self.dir / "floor.urls").write_text(floor_urls(self.registry, self.pushed))
        (self.dir / "work.fetch").write_text(work_fetch_list(self.registry, self.pushed))
        (self.dir / "work.place").write_text(work_place_list(self.pushed))

    @property
    def out(self) -> Path:
        return self.dir / "out"

    def fresh_out(self) -> Path:
        shutil.rmtree(self.out, ignore_errors=True)
        return self.out

    def upstream(self) -> Measured:
        out = self.fresh_out()
        return run(["bash", str(SCRIPTS / "upstream.sh"), self.registry, str(self.dir / "upstream.list"), str(out)],
                   env=self.env)

    def network_floor(self) -> Measured:
        return run(["bash", str(SCRIPTS / "netfloor.sh"), str(self.dir / "floor.urls"), str(self.parallel)],
                   env=self.env)

    def work_floor(self) -> Measured:
        out = self.fresh_out()
        return run(["bash", str(SCRIPTS / "workfloor.sh"), str(self.dir / "work.fetch"), str(self.dir / "work.place"),
                    str(out), str(self.parallel)], env=self.env)
