"""The two release tracks never produce the same image tag: the gateway track owns X.Y.Z, X.Y,
X and latest; the rolling track's every tag starts with rolling-. Proved for every version pair."""

from __future__ import annotations

import re

from hypothesis import given, settings
from hypothesis import strategies as st

from sync.release.tags import GATEWAY, ROLLING, image_tags, track_of
from sync.versions import Version

numbers = st.integers(min_value=0, max_value=30)
prerelease = st.one_of(st.none(), st.from_regex(r"(rc|alpha|beta)\.(0|[1-9][0-9]?)", fullmatch=True))
versions = st.builds(lambda a, b, c, p: Version.parse(f"{a}.{b}.{c}" + (f"-{p}" if p else "")),
                     numbers, numbers, numbers, prerelease)
histories = st.lists(versions, max_size=6)
GATEWAY_FORM = re.compile(r"latest|\d+|\d+\.\d+|\d+\.\d+\.\d+(-[0-9A-Za-z.-]+)?")


@settings(max_examples=2000, deadline=None)
@given(versions, histories, versions, histories)
def test_the_two_tracks_never_share_a_tag(g: Version, g_seen: list[Version],
                                          r: Version, r_seen: list[Version]) -> None:
    gateway = image_tags(g, g_seen, GATEWAY)
    rolling = image_tags(r, r_seen, ROLLING)
    assert set(gateway).isdisjoint(rolling)
    assert all(GATEWAY_FORM.fullmatch(t) and track_of(t) == GATEWAY for t in gateway)
    assert all(t.startswith("rolling-") and track_of(t) == ROLLING for t in rolling)
    assert str(g) in gateway and f"rolling-{r}" in rolling


@given(versions, histories)
def test_the_same_version_gets_the_same_shape_on_both_tracks(v: Version, seen: list[Version]) -> None:
    assert image_tags(v, seen, ROLLING) == tuple(f"rolling-{t}" for t in image_tags(v, seen, GATEWAY))


def test_examples() -> None:
    v = Version.parse
    assert image_tags(v("2.2.4"), [v("2.2.3"), v("2.1.9")], GATEWAY) == ("2.2.4", "2.2", "2", "latest")
    assert image_tags(v("2.1.10"), [v("2.2.4")], GATEWAY) == ("2.1.10", "2.1")
    assert image_tags(v("2.2.4"), [v("2.2.3")], ROLLING) == ("rolling-2.2.4", "rolling-2.2", "rolling-2",
                                                            "rolling-latest")
    assert image_tags(v("2.3.0-rc.1"), [], GATEWAY) == ("2.3.0-rc.1",)
