"""Progress and results on the terminal: a bar on a TTY, plain lines otherwise."""

from __future__ import annotations

import sys
import threading
from typing import TextIO

from sync.pull import Outcome, PullReport


class Progress:
    def __init__(self, total: int, stream: TextIO | None = None, quiet: bool = False) -> None:
        self.total, self.quiet = total, quiet
        self.stream = stream if stream is not None else sys.stderr  # the current one, not import time's
        self.done = 0
        self.tty = self.stream.isatty()
        self.lock = threading.Lock()

    def __call__(self, o: Outcome) -> None:
        with self.lock:
            self.done += 1
            line = describe(o)
            if self.quiet and o.status != "failed":
                return
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


def describe(o: Outcome) -> str:
    if o.status == "failed":
        return f"failed    {o.name}: {o.error}"
    versions = ",".join(o.versions)
    digest = (o.digest or "")[:19]
    return f"{o.status:<9} {o.name} {versions} {digest}"


def summary(report: PullReport) -> str:
    counts = report.to_json()["summary"]
    parts = [f"{n} {s}" for s, n in counts.items() if n]  # type: ignore[union-attr]
    mib = report.blob_bytes / (1 << 20)
    text = f"{', '.join(parts) or 'nothing to do'}; {mib:.1f} MiB downloaded in {report.seconds:.1f}s"
    if report.gzipped:
        text += f"; {report.gzipped} modules precompressed"
    return text
