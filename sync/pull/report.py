"""What a pull reports: one result per plugin (or artifact), the run's totals, and both on
the terminal (a bar on a TTY, plain lines otherwise)."""

from __future__ import annotations

import sys
import threading
from dataclasses import dataclass, field
from typing import TextIO

from sync.errors import NotFound, error_text


@dataclass
class PluginResult:
    name: str
    status: str  # added | updated | unchanged | failed
    versions: list[str] = field(default_factory=list)
    source: str = ""
    digest: str | None = None
    sha256: str | None = None
    error: str | None = None
    missing: bool = False  # the tag or manifest does not exist (yet)
    downloaded: bool = False
    warning: str | None = None  # said beside a success (pull --locked: the tag moved since)

    @classmethod
    def failure(cls, name: str, e: BaseException, source: str = "") -> PluginResult:
        return cls(name, "failed", source=source, error=error_text(e), missing=isinstance(e, NotFound))


@dataclass
class PullReport:
    outcomes: list[PluginResult]
    requests: int = 0
    blob_bytes: int = 0
    seconds: float = 0.0
    gzipped: int = 0
    processes: int = 1  # worker processes the downloads were shared among (1: threads in this one)

    @property
    def failed(self) -> list[PluginResult]:
        return [o for o in self.outcomes if o.status == "failed"]

    def counts(self) -> dict[str, int]:
        """How many plugins were added, updated, unchanged and failed."""
        return {s: sum(o.status == s for o in self.outcomes) for s in ("added", "updated", "unchanged", "failed")}

    def to_json(self) -> dict[str, object]:
        return {
            "plugins": [o.__dict__ for o in sorted(self.outcomes, key=lambda o: o.name)],
            "summary": self.counts(),
            "registryRequests": self.requests,
            "blobBytes": self.blob_bytes,
            "seconds": round(self.seconds, 3),
            "gzipped": self.gzipped,
            "processes": self.processes,
        }


class Progress:
    def __init__(self, total: int, stream: TextIO | None = None, quiet: bool = False) -> None:
        self.total, self.quiet = total, quiet
        self.stream = stream if stream is not None else sys.stderr  # the current one, not import time's
        self.done = 0
        self.tty = self.stream.isatty()
        self.lock = threading.Lock()

    def __call__(self, o: PluginResult) -> None:
        with self.lock:
            self.done += 1
            lines = [] if self.quiet and o.status != "failed" else [result_line(o)]
            if o.warning:  # said even with --json: stdout holds the report, stderr the warning
                lines.append(warning_line(o))
            if not lines:
                return
            line = "\n".join(lines)
            if self.tty:
                width = 30
                filled = int(width * self.done / max(1, self.total))
                bar = "#" * filled + "-" * (width - filled)
                self.stream.write(f"\r\033[K{line}\n[{bar}] {self.done}/{self.total}")
                if self.done == self.total:
                    self.stream.write("\r\033[K")
            else:
                self.stream.write(line + "\n")
            self.stream.flush()


def result_line(o: PluginResult) -> str:
    if o.status == "failed":
        return f"failed    {o.name}: {o.error}"
    versions = ",".join(o.versions)
    digest = (o.digest or "")[:19]
    return f"{o.status:<9} {o.name} {versions} {digest}"


def warning_line(o: PluginResult) -> str:
    return f"warning   {o.name}: {o.warning}"


def summary(report: PullReport) -> str:
    parts = [f"{n} {s}" for s, n in report.counts().items() if n]
    mib = report.blob_bytes / (1 << 20)
    text = f"{', '.join(parts) or 'nothing to do'}; {mib:.1f} MiB downloaded in {report.seconds:.1f}s"
    if report.gzipped:
        text += f"; {report.gzipped} modules precompressed"
    return text
