"""``range:`` resolves as npm resolves it: node-semver (PyPI ``node-semver``) is the oracle.

The PyPI package is a port of an older node-semver. Where it and npm's current node-semver
(7.8.5, whose own test fixtures are vendored in ``npm_semver_fixtures.py``) disagree, npm wins and
the exception is written down here:

- node-semver 7.8.5 rejects a number after an ``x`` (``1.x.5``, ``x.1``, ``x.x.1``: its fixture
  ``range-parse.js`` expects null, "fix: reject numeric segments after x-ranges"); the port still
  reads ``1.x.5`` as ``1.x``. Such ranges are config errors here, as in npm.
"""

from __future__ import annotations

import random
import re
from pathlib import Path

import nodesemver
import pytest

from sync.errors import ConfigError
from sync.config import parse_config
from sync.oci.versions import best_tag, parse_range, parse_version
from tests.support.workspace import Workspace, assert_no_traceback
from tests.pull.npm_semver_fixtures import EXCLUDE, INCLUDE, PARSE

TAGS = "0.0.3 0.0.5 0.1.0 1.0.0 1.2.0 1.2.5 1.9.9 2.0.0 2.1.0 2.1.3-rc.1 2.1.3 2.2.0-beta.1 3.0.0-beta.1 latest".split()

# an x followed by a number: invalid in npm 7.8, read loosely by the port (see the module docstring)
X_THEN_NUMBER = re.compile(r"(?:^|[\s.v=<>~^])[xX*]\.(?:[xX*]\.)?[0-9]")


def oracle(tags: list[str], rng: str) -> str | None:
    """node-semver's maxSatisfying (loose=false). The port raises on a tag that is not a version
    where npm skips it, so the tags are filtered with the port's own parser first."""
    def valid(tag: str) -> bool:
        try:
            nodesemver.make_semver(tag, loose=False)
            return True
        except ValueError:
            return False
    return nodesemver.max_satisfying([t for t in tags if valid(t)], rng, loose=False)


def oracle_valid(rng: str) -> bool:
    try:
        nodesemver.make_range(rng, loose=False)
        return True
    except ValueError:
        return False


@pytest.mark.parametrize("rng, npm", [
    ("~1", "1.9.9"),
    ("2", "2.1.3"),
    ("1.2", "1.2.5"),
    ("^0.0", "0.0.5"),
    ("^2.1.3-rc.0", "2.1.3"),
    ("1.x", "1.9.9"),
    ("*", "2.1.3"),
    ("1.0.0 - 1.2.0", "1.2.0"),
    (">=1 <2 || >=3.0.0-beta.0", "3.0.0-beta.1"),
    # more of the grammar
    ("^2.1.3-rc.0 <2.1.3", "2.1.3-rc.1"),   # a pre-release of the named major.minor.patch
    (">=2.1.0 <2.2.0-beta.2", "2.2.0-beta.1"),  # the upper bound names 2.2.0's pre-releases
    (">=2.1.0 <2.2.0", "2.1.3"),                # 2.2.0-beta.1 is below 2.2.0, but no comparator names 2.2.0-*
    (">=2.1.3-rc.0 <3.0.0-beta.2", "3.0.0-beta.1"),
    (">=2.1.3-rc.0 <3.0.0", "2.1.3"),
    ("~> 1.2", "1.2.5"),
    ("^ 0.1", "0.1.0"),
    (">= 1.2.0 < 1.3", "1.2.5"),
    ("1.2.x || 0.0.X", "1.2.5"),
    ("0.0.*", "0.0.5"),
    (">1.x", "2.1.3"),
    ("<=1.2", "1.2.5"),
    ("<1.2", "1.0.0"),
    ("1.0 - 2", "2.1.3"),
    ("=1.2.5", "1.2.5"),
    ("v1.2.5", "1.2.5"),
    ("1.2.5+build.7", "1.2.5"),
    ("", "2.1.3"),
    ("1.2.3 ||", "2.1.3"),  # an empty set is '*'
    ("<0.0.1-0 || >9", None),
    ("^4", None),
])
def test_issue_table_and_grammar(rng: str, npm: str | None) -> None:
    assert oracle(TAGS, rng) == npm  # the table itself is checked against the oracle
    assert best_tag(TAGS, rng) == npm


def test_prerelease_needs_a_comparator_of_the_same_version() -> None:
    # 3.0.0-beta.1 is above ^2.1.3-rc.0's lower bound and below nothing, yet npm refuses it
    assert best_tag(["3.0.0-beta.1"], ">=2.1.3-rc.0") is None
    assert best_tag(["2.1.3-rc.9", "3.0.0-beta.1"], ">=2.1.3-rc.0") == "2.1.3-rc.9"
    assert best_tag(["3.0.0-beta.1"], ">=2.1.3-rc.0 || >=3.0.0-alpha") == "3.0.0-beta.1"
    # the comparator must be in the same set as the match
    assert best_tag(["3.0.0-beta.1"], "<3.0.0-beta.0 || >=2") is None


def test_leading_v_and_non_semver_tags() -> None:
    # one leading v is a version (node-semver's strict FULL pattern allows it); the rest are skipped
    assert best_tag(["latest", "v2.0.9", "2.0", "2.0.3", "V2.1.0", "=2.1.1", "vv2.2.0", "2.0.03"], "^2") == "v2.0.9"
    # equal versions: the first listed wins, as in maxSatisfying
    assert best_tag(["v1.0.0", "1.0.0"], "1") == "v1.0.0"
    assert best_tag(["1.0.0", "v1.0.0"], "1") == "1.0.0"
    assert parse_version("1.2.3-rc.01") is None and parse_version(f"{2**53}.0.0") is None


@pytest.mark.parametrize("rng, version", INCLUDE)
def test_npm_fixture_includes(rng: str, version: str) -> None:
    v = parse_version(version)
    assert v is not None and parse_range(rng).test(v)


@pytest.mark.parametrize("rng, version", EXCLUDE)
def test_npm_fixture_excludes(rng: str, version: str) -> None:
    v = parse_version(version)
    try:
        r = parse_range(rng)
    except ValueError:
        return  # npm's satisfies() is false for an invalid range
    assert v is None or not r.test(v)


@pytest.mark.parametrize("rng, desugared", PARSE)
def test_npm_fixture_parses(rng: str, desugared: str | None) -> None:
    if desugared is None:
        with pytest.raises(ValueError):
            parse_range(rng)
    else:
        assert (str(parse_range(rng)) or "*") == desugared


# --- generated cases ---------------------------------------------------------------------------

PRE = ["alpha", "alpha.1", "beta", "beta.2", "rc.1", "rc.0", "0", "1", "2", "1a", "x-y"]


def _version(rng: random.Random, partial: bool) -> str:
    n = rng.choice([1, 2, 3, 3, 3]) if partial else 3
    parts = [str(rng.choice([0, 0, 1, 1, 2, 3, 10])) for _ in range(n)]
    if partial and rng.random() < 0.3:
        k = rng.randrange(n)
        parts[k:] = [rng.choice(["x", "X", "*"]) for _ in parts[k:]]
    if partial and rng.random() < 0.02:  # the rare x before a number
        parts = [rng.choice(["x", "*"])] + parts[1:] + ["1"] * (n == 1)
    text = ".".join(parts)
    if n == 3 and rng.random() < 0.25:
        text += "-" + rng.choice(PRE)
    if rng.random() < 0.05:
        text = "v" + text
    if partial and n == 3 and rng.random() < 0.05:
        text += "+b.1"
    return text


def _comparator(rng: random.Random) -> str:
    k = rng.random()
    space = " " if rng.random() < 0.1 else ""
    if k < 0.25:
        return rng.choice(["^", "~", "~>"]) + space + _version(rng, True)
    if k < 0.35:
        return _version(rng, True) + " - " + _version(rng, True)
    if k < 0.45:
        return _version(rng, True)
    return rng.choice([">", ">=", "<", "<=", "="]) + space + _version(rng, True)


def generated_cases(seed: int, n: int) -> list[tuple[str, list[str]]]:
    rng = random.Random(seed)
    cases = []
    for _ in range(n):
        sets = [" ".join(_comparator(rng) for _ in range(rng.choice([1, 1, 2, 2, 3])))
                for _ in range(rng.choice([1, 1, 1, 2, 3]))]
        tags = [_version(rng, False) for _ in range(rng.randint(0, 14))]
        tags += rng.sample(["latest", "1.2", "v1.0.0", "01.0.0", "1.0.0-01"], rng.randint(0, 2))
        cases.append((" || ".join(sets), tags))
    return cases


def test_generated_ranges_resolve_as_node_semver() -> None:
    cases = generated_cases(seed=13, n=2000)
    compared = invalid = npm_only_invalid = 0
    for rng, tags in cases:
        try:
            mine: str | None = best_tag(tags, rng)
        except ValueError:
            if oracle_valid(rng):
                # the documented exception, and no other: npm 7.8 rejects an x before a number
                assert X_THEN_NUMBER.search(rng), rng
                npm_only_invalid += 1
            else:
                invalid += 1
            continue
        assert mine == oracle(tags, rng), (rng, tags)
        compared += 1
    assert compared >= 1000 and invalid >= 50 and npm_only_invalid >= 5, (compared, invalid, npm_only_invalid)


# --- a bad range is a config error -------------------------------------------------------------

@pytest.mark.parametrize("rng", ["1.x.5", "x.1", ">01.02.03", "~1.2.3beta", ">=banana", "1.2.3 - ", "<=>1", "^1 - 2"])
def test_invalid_ranges_are_config_errors(rng: str) -> None:
    with pytest.raises(ConfigError, match="bad range"):
        parse_config({"plugins": {"a": {"range": rng}}})


@pytest.mark.parametrize("rng", ["1.x", "*", "1.0.0 - 1.2.0", ">=1 <2 || >=3.0.0-beta.0", "~1", "^0.0"])
def test_npm_ranges_are_valid_config(rng: str) -> None:
    assert parse_config({"plugins": {"a": {"range": rng}}}).plugins["a"].source.range == rng


def test_invalid_range_exits_2(tmp_path: Path) -> None:
    ws = Workspace(tmp_path, None)
    ws.config.write_text("plugins:\n  a:\n    range: '1.x.5'\n")
    r = ws.cli("pull")
    assert r.code == 2 and "plugin 'a': bad range '1.x.5'" in r.err
    assert_no_traceback(r)
