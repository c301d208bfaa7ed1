"""Semver tag ranges, resolved against a registry's tag list as npm resolves them. Pure functions.

``range:`` in ``plugins.yaml`` means what it means in a ``package.json``: this module follows
node-semver (the library npm uses) with its defaults, ``loose: false`` and
``includePrerelease: false``. A range is one or more comparator sets joined by ``||``; a set is
comparators joined by spaces, each ``<``, ``<=``, ``>``, ``>=``, ``=`` or none, before a full or
partial version (``1``, ``1.2``, ``1.2.x``, ``*``), or a caret (``^1.2``), tilde (``~1.2``,
``~>1.2``) or hyphen range (``1.0.0 - 1.2``). Build metadata in a range is ignored.

A tag is a candidate when it parses as a strict semver version; as in node-semver one leading
``v`` is allowed (``v1.2.3`` is 1.2.3), while tags such as ``latest``, ``1.2`` or ``=1.2.3`` are
not versions and are never chosen. A pre-release tag is chosen only when some comparator of the
same set names a pre-release of the same ``major.minor.patch`` (npm's rule: ``^2.1.3-rc.0``
admits ``2.1.3-rc.1`` but not ``3.0.0-beta.1``). Of the satisfying tags the highest wins
(semver precedence); when two tags are the same version (``1.2.3`` and ``v1.2.3``) the first
listed wins, as with node-semver's ``maxSatisfying``.

A version is parsed and ordered by ``sync.versions``, the one home of both; this module adds
npm's reading of a tag (whitespace, one ``v``, JavaScript's safe integers). The range parsing
is a port of node-semver's own pipeline (its regular expressions and desugaring
steps), so corner cases such as ``1.2.3 ||`` (matches everything) or ``>1.x`` (``>=2.0.0``)
come out as npm's do.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Callable, Iterable, cast

from sync.versions import Version, compare, parse

MAX_LENGTH = 256
MAX_SAFE_INTEGER = 2**53 - 1

# JavaScript's \s, trim() and \d, which node-semver's regular expressions use
_WS = "\t\n\v\f\r \u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000\ufeff"
_S = f"[{_WS}]"


def _js_trim(text: str) -> str:
    return re.sub(f"^{_S}+|{_S}+$", "", text)


def _safe(src: str) -> str:
    """node-semver's ``makeSafeRegex``: bound the repetitions (its ``safeRe`` table)."""
    for token, most in ((_S, 1), ("[0-9]", MAX_LENGTH), ("[a-zA-Z0-9-]", MAX_LENGTH - 6)):
        src = src.replace(f"{token}*", f"{token}{{0,{most}}}").replace(f"{token}+", f"{token}{{1,{most}}}")
    return src


# the sources of node-semver's internal/re.js, strict variants only
_NUM = "0|[1-9][0-9]*"
_NONNUM = "[0-9]*[a-zA-Z-][a-zA-Z0-9-]*"
_MAIN = f"({_NUM})\\.({_NUM})\\.({_NUM})"
_PREID = f"(?:{_NONNUM}|{_NUM})"
_PRE = f"(?:-({_PREID}(?:\\.{_PREID})*))"
_BUILD = "(?:\\+([a-zA-Z0-9-]+(?:\\.[a-zA-Z0-9-]+)*))"
_FULLPLAIN = f"v?{_MAIN}{_PRE}?{_BUILD}?"
_LOOSEPLAIN = f"[v={_WS}]*([0-9]+)\\.([0-9]+)\\.([0-9]+)(?:-?((?:{_NONNUM}|[0-9]+)(?:\\.(?:{_NONNUM}|[0-9]+))*))?{_BUILD}?"
_GTLT = "((?:<|>)?=?)"
_XID = f"{_NUM}|x|X|\\*"
_XPLAIN = f"[v={_WS}]*({_XID})(?:\\.({_XID})(?:\\.({_XID})(?:{_PRE})?{_BUILD}?)?)?"


class _Lazy:
    """A pattern compiled when first used: the range patterns are long (compiling them all
    took a tenth of a pull's start), and a config that names no range never uses them."""

    __slots__ = ("_src", "_pattern")

    def __init__(self, src: str) -> None:
        self._src = src
        self._pattern: re.Pattern[str] | None = None

    def __getattr__(self, name: str) -> Any:
        if self._pattern is None:  # two threads may both compile it: the same pattern either way
            self._pattern = re.compile(_safe(self._src))
        return getattr(self._pattern, name)


def _rx(src: str) -> re.Pattern[str]:
    return cast("re.Pattern[str]", _Lazy(src))


_XRANGE = _rx(f"^{_GTLT}{_S}*{_XPLAIN}$")
_TILDETRIM = _rx(f"({_S}*)(?:~>?){_S}+")
_TILDE = _rx(f"^(?:~>?){_XPLAIN}$")
_CARETTRIM = _rx(f"({_S}*)(?:\\^){_S}+")
_CARET = _rx(f"^(?:\\^){_XPLAIN}$")
_COMPARATOR = _rx(f"^{_GTLT}{_S}*({_FULLPLAIN})$|^$")
_COMPARATORTRIM = _rx(f"({_S}*){_GTLT}{_S}*({_LOOSEPLAIN}|{_XPLAIN})")
_HYPHENRANGE = _rx(f"^{_S}*({_XPLAIN}){_S}+-{_S}+({_XPLAIN}){_S}*$")
_STAR = _rx(f"(<|>)?=?{_S}*\\*")
_GTE0 = _rx(f"^{_S}*>={_S}*0\\.0\\.0{_S}*$")
_BUILD_ONE = _rx(_BUILD)
_BUILD_ALL = re.compile(_BUILD)  # node-semver strips build metadata with the unbounded expression
_SPACES = re.compile(f"{_S}+")

SemVer = Version  # npm's versions are semver's: one parser and one order (sync/versions.py)


def parse_version(text: str) -> SemVer | None:
    """A strict semver version as node-semver's ``new SemVer`` reads it: surrounding whitespace
    and one leading ``v`` allowed, numbers up to JavaScript's safe integers; build metadata dropped."""
    if len(text) > MAX_LENGTH:
        return None
    text = _js_trim(text)
    v = parse(text[1:] if text[:1] == "v" else text)
    if v is None or max(v.major, v.minor, v.patch) > MAX_SAFE_INTEGER:
        return None
    return v.without_build()


_OPS: dict[str, Callable[[int], bool]] = {
    "": lambda c: c == 0, "<": lambda c: c < 0, "<=": lambda c: c <= 0, ">": lambda c: c > 0, ">=": lambda c: c >= 0,
}


@dataclass(frozen=True)
class Comparator:
    op: str  # "", "<", "<=", ">", ">="
    version: SemVer | None  # None: any version

    def test(self, v: SemVer) -> bool:
        return self.version is None or _OPS[self.op](compare(v, self.version))

    @property
    def value(self) -> str:
        return "" if self.version is None else f"{self.op}{self.version}"


@dataclass(frozen=True)
class Range:
    """Comparator sets, any of which may match (``||``); every comparator of a set must hold."""

    sets: tuple[tuple[Comparator, ...], ...]

    def test(self, v: SemVer) -> bool:
        return any(_test_set(s, v) for s in self.sets)

    def __str__(self) -> str:
        """The desugared form, written as node-semver writes it (``>=1.2.0 <2.0.0-0||...``)."""
        return "||".join(" ".join(c.value for c in s) for s in self.sets)


def _test_set(comparators: tuple[Comparator, ...], v: SemVer) -> bool:
    if not all(c.test(v) for c in comparators):
        return False
    if not v.prerelease:
        return True
    # a pre-release only where the range names a pre-release of the same major.minor.patch
    return any(c.version is not None and c.version.prerelease and c.version.base == v.base for c in comparators)


def _is_x(part: str | None) -> bool:
    return not part or part.lower() == "x" or part == "*"


def _caret_or_tilde(caret: bool) -> Callable[[re.Match[str]], str]:
    """``^`` (up to the next change of the first non-zero part) or ``~`` (patch updates when a
    minor is given, else minor updates), as node-semver's ``replaceCaret``/``replaceTilde``."""
    def repl(m: re.Match[str]) -> str:
        M, mi, p, pr = m[1], m[2], m[3], m[4]
        if _is_x(M):
            return ""
        if _is_x(mi):
            return f">={M}.0.0 <{int(M) + 1}.0.0-0"
        low = f">={M}.{mi}.0" if _is_x(p) else f">={M}.{mi}.{p}" + (f"-{pr}" if pr else "")
        if caret and M != "0":
            return f"{low} <{int(M) + 1}.0.0-0"
        if caret and mi == "0" and not _is_x(p):
            return f"{low} <{M}.{mi}.{int(p) + 1}-0"
        return f"{low} <{M}.{int(mi) + 1}.0-0"
    return repl


_caret, _tilde = _caret_or_tilde(True), _caret_or_tilde(False)


def _xrange(comp: str) -> Callable[[re.Match[str]], str]:
    def repl(m: re.Match[str]) -> str:
        gtlt, M, mi, p = m[1], m[2], m[3], m[4]
        if (_is_x(M) and not _is_x(mi)) or (_is_x(mi) and p and not _is_x(p)):
            return comp  # 1.x.2 or x.1: left as is, so it fails as a comparator
        xM = _is_x(M)
        xm = xM or _is_x(mi)
        xp = xm or _is_x(p)
        if gtlt == "=" and xp:
            gtlt = ""
        if xM:
            return "<0.0.0-0" if gtlt in (">", "<") else "*"
        if gtlt and xp:
            major, minor, patch = int(M), 0 if xm else int(mi), 0
            if gtlt == ">":
                gtlt = ">="
                if xm:
                    major, minor = major + 1, 0
                else:
                    minor += 1
            elif gtlt == "<=":
                gtlt = "<"
                if xm:
                    major += 1
                else:
                    minor += 1
            return f"{gtlt}{major}.{minor}.{patch}" + ("-0" if gtlt == "<" else "")
        if xm:
            return f">={M}.0.0 <{int(M) + 1}.0.0-0"
        if xp:
            return f">={M}.{mi}.0 <{M}.{int(mi) + 1}.0-0"
        return m[0]
    return repl


def _hyphen(m: re.Match[str]) -> str:
    frm, fM, fm, fp = m[1], m[2], m[3], m[4]
    to, tM, tm, tp, tpr = m[7], m[8], m[9], m[10], m[11]
    if _is_x(fM):
        low = ""
    elif _is_x(fm):
        low = f">={fM}.0.0"
    elif _is_x(fp):
        low = f">={fM}.{fm}.0"
    else:
        low = f">={frm}"
    if _is_x(tM):
        high = ""
    elif _is_x(tm):
        high = f"<{int(tM) + 1}.0.0-0"
    elif _is_x(tp):
        high = f"<{tM}.{int(tm) + 1}.0-0"
    elif tpr:
        high = f"<={tM}.{tm}.{tp}-{tpr}"
    else:
        high = f"<={to}"
    return _js_trim(f"{low} {high}")


def _each_word(comp: str, step: Callable[[str], str]) -> str:
    return " ".join(step(c) for c in _SPACES.split(_js_trim(comp)))


def _desugar(comp: str) -> str:
    """One space-free piece of a set to plain comparators (node-semver's ``parseComparator``)."""
    comp = _BUILD_ONE.sub("", comp, count=1)
    comp = _each_word(comp, lambda c: _CARET.sub(_caret, c, count=1))
    comp = _each_word(comp, lambda c: _TILDE.sub(_tilde, c, count=1))
    comp = " ".join(_XRANGE.sub(_xrange(_js_trim(c)), _js_trim(c), count=1) for c in _SPACES.split(comp))
    return _STAR.sub("", _js_trim(comp), count=1)


def _comparator(text: str) -> Comparator:
    text = " ".join(_SPACES.split(_js_trim(text)))
    m = _COMPARATOR.match(text)
    if not m:
        raise ValueError(f"invalid comparator {text!r}")
    op = m[1] or ""
    if not m[2]:
        return Comparator("" if op == "=" else op, None)
    version = parse_version(m[2])
    if version is None:
        raise ValueError(f"invalid version {m[2]!r}")
    return Comparator("" if op == "=" else op, version)


def _parse_set(text: str) -> tuple[Comparator, ...]:
    text = _BUILD_ALL.sub("", text)
    text = _HYPHENRANGE.sub(_hyphen, text, count=1)
    text = _COMPARATORTRIM.sub(r"\1\2\3", text)
    text = _TILDETRIM.sub(r"\1~", text)
    text = _CARETTRIM.sub(r"\1^", text)
    pieces = _SPACES.split(" ".join(_desugar(c) for c in text.split(" ")))
    parsed = [_comparator(_GTE0.sub("", _js_trim(piece), count=1)) for piece in pieces]  # all must parse
    comparators: dict[str, Comparator] = {}
    for c in parsed:
        if c.value == "<0.0.0-0":
            return (c,)
        comparators[c.value] = c
    if len(comparators) > 1:
        comparators.pop("", None)
    return tuple(comparators.values())


def parse_range(text: str) -> Range:
    """npm's ``new Range(text)``; a ValueError when npm would call the range invalid."""
    raw = _SPACES.sub(" ", _js_trim(text))
    sets = [_parse_set(_js_trim(part)) for part in raw.split("||")]
    sets = [s for s in sets if s]
    if not sets:
        raise ValueError("empty range")
    if len(sets) > 1:
        real = [s for s in sets if s[0].value != "<0.0.0-0"]
        if not real:
            sets = sets[:1]
        else:
            sets = real
            anything: list[tuple[Comparator, ...]] = [s for s in sets if len(s) == 1 and s[0].version is None]
            if len(sets) > 1 and anything:
                sets = anything[:1]
    return Range(tuple(sets))


def best_tag(tags: Iterable[str], range_text: str) -> str | None:
    """The highest tag that satisfies the range (npm's ``maxSatisfying``); tags that are not
    semver versions are skipped, and of equal versions the first listed is kept."""
    rng = parse_range(range_text)
    best: tuple[SemVer, str] | None = None
    for tag in tags:
        v = parse_version(tag) if tag else None
        if v is not None and rng.test(v) and (best is None or compare(best[0], v) < 0):
            best = (v, tag)
    return best[1] if best else None
