"""Progress output: a bar on a terminal, plain lines otherwise."""

from __future__ import annotations

import io

from sync.pull.report import PluginResult as Outcome
from sync.pull.report import Progress


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_plain_lines_when_not_a_terminal() -> None:
    out = io.StringIO()
    p = Progress(2, out)
    p(Outcome("a", "added", ["1.0.0"], digest="sha256:" + "1" * 64))
    p(Outcome("b", "failed", error="127.0.0.1:5000/plugins/b:1.0.0: not found"))
    assert out.getvalue().splitlines() == [
        "added     a 1.0.0 sha256:111111111111",
        "failed    b: 127.0.0.1:5000/plugins/b:1.0.0: not found",
    ]
    assert "\r" not in out.getvalue()


def test_bar_on_a_terminal_and_quiet_keeps_failures() -> None:
    tty = Terminal()
    p = Progress(2, tty)
    p(Outcome("a", "unchanged", ["1.0.0"]))
    assert "[###############---------------] 1/2" in tty.getvalue()
    p(Outcome("b", "updated", ["2.0.0"]))
    assert tty.getvalue().endswith("\r\033[K")  # the bar is wiped when done
    quiet = io.StringIO()
    q = Progress(2, quiet, quiet=True)
    q(Outcome("a", "added", ["1"]))
    q(Outcome("b", "failed", error="boom"))
    assert quiet.getvalue() == "failed    b: boom\n"
