"""The reliability page: what is written by hand below its marker outlives a rewrite."""

from __future__ import annotations

from tests.reliability.record import DOC, HAND, Scenario, hand_written, render


def test_a_rewrite_keeps_the_hand_written_tail_and_the_committed_page_has_one() -> None:
    doc = DOC.read_text(encoding="utf-8")
    tail = hand_written(doc)
    assert tail.startswith(HAND) and "## The server under a gateway fleet" in tail
    page = render([Scenario("Registry faults", "a scenario", 1, "fine")], tail)
    assert page.endswith(tail) and page.count(HAND) == 1
    assert hand_written("no marker here") == "" and not render([], "").count(HAND)
