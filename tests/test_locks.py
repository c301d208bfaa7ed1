"""The hash locks under requirements/ agree with pyproject.toml: every requirement (the build
backend's included) is pinned, with hashes, at a version that satisfies it, on every supported
Python; the locks' top-level sets are pyproject's; the test lock pins the runtime set alike.
A change to pyproject.toml without ./scripts/lock fails here."""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
from packaging.markers import Marker
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

if sys.version_info >= (3, 11):
    import tomllib
else:  # Python 3.10
    import tomli as tomllib

ROOT = Path(__file__).resolve().parents[1]
PYTHONS = ("3.10", "3.11", "3.12", "3.13")
TOP_LEVEL = ("higress-plugin-sync (pyproject.toml)", "build-system.requires (pyproject.toml)")


@dataclass(frozen=True)
class Pin:
    name: str
    version: str
    marker: Marker | None
    hashes: tuple[str, ...]
    via: tuple[str, ...]

    def applies(self, python: str) -> bool:
        return self.marker is None or self.marker.evaluate(_env(python))


def _env(python: str) -> dict[str, str]:
    return {"python_version": python, "python_full_version": f"{python}.0", "sys_platform": "linux",
            "os_name": "posix", "platform_system": "Linux", "platform_machine": "x86_64",
            "implementation_name": "cpython", "platform_python_implementation": "CPython", "extra": ""}


def parse_lock(text: str) -> list[Pin]:
    """The pins of a lock written by ``uv pip compile --generate-hashes`` (``# via`` annotations)."""
    pins: list[Pin] = []
    for block in re.split(r"\n(?=\S)", text):
        head = block.split("\\", 1)[0].split("\n", 1)[0].strip()
        if not head or head.startswith("#"):
            continue
        spec, _, marker = head.partition(";")
        m = re.fullmatch(r"([A-Za-z0-9._-]+)==(\S+)", spec.strip())
        if not m:
            raise ValueError(f"not an exact pin: {head!r}")
        via = re.findall(r"# via (.+)", block)
        pins.append(Pin(canonicalize_name(m.group(1)), m.group(2), Marker(marker.strip()) if marker.strip() else None,
                        tuple(re.findall(r"--hash=(sha256:[0-9a-f]{64})", block)),
                        tuple(v.strip() for v in via[0].split(",")) if via else ()))
    return pins


def requirements(pyproject: dict, extras: tuple[str, ...] = ()) -> list[Requirement]:  # type: ignore[type-arg]
    out = [Requirement(r) for r in pyproject["build-system"]["requires"]]
    out += [Requirement(r) for r in pyproject["project"]["dependencies"]]
    for extra in extras:
        out += [Requirement(r) for r in pyproject["project"]["optional-dependencies"][extra]]
    return out


def disagreements(pyproject: dict, lock: list[Pin], extras: tuple[str, ...] = ()) -> list[str]:  # type: ignore[type-arg]
    """Why the lock does not install pyproject's requirements; empty when it does."""
    problems = [f"{p.name}=={p.version} has no hash" for p in lock if not p.hashes]
    wanted = requirements(pyproject, extras)
    for python in PYTHONS:
        for req in wanted:
            if req.marker is not None and not req.marker.evaluate(_env(python)):
                continue
            name = canonicalize_name(req.name)
            pins = [p for p in lock if p.name == name and p.applies(python)]
            if len(pins) != 1:
                problems.append(f"{req}: {len(pins)} pins apply on Python {python}")
            elif not req.specifier.contains(pins[0].version, prereleases=True):
                problems.append(f"{req}: the lock pins {pins[0].version} on Python {python}")
    top = {p.name for p in lock if set(p.via) & set(TOP_LEVEL)}
    want_names = {canonicalize_name(r.name) for r in wanted}
    if top != want_names:
        problems.append(f"top-level set differs: lock only {sorted(top - want_names)}, "
                        f"pyproject only {sorted(want_names - top)}")
    return problems


def _pyproject() -> dict:  # type: ignore[type-arg]
    with open(ROOT / "pyproject.toml", "rb") as f:
        return tomllib.load(f)


def _lock(name: str) -> list[Pin]:
    return parse_lock((ROOT / "requirements" / name).read_text(encoding="utf-8"))


@pytest.mark.parametrize("name, extras", [("runtime.txt", ()), ("test.txt", ("test", "lint"))])
def test_the_lock_installs_exactly_pyproject(name: str, extras: tuple[str, ...]) -> None:
    assert disagreements(_pyproject(), _lock(name), extras) == []


def test_the_test_lock_pins_the_runtime_set_alike() -> None:
    test = {(p.name, p.version, str(p.marker)) for p in _lock("test.txt")}
    runtime = {(p.name, p.version, str(p.marker)) for p in _lock("runtime.txt")}
    # markers may narrow in the larger set (a pin split by Python version); names and versions may not move
    assert {(n, v) for n, v, _ in runtime} <= {(n, v) for n, v, _ in test}


def test_a_requirement_the_lock_misses_is_reported() -> None:
    pyproject = _pyproject()
    pyproject["project"]["dependencies"] = [*pyproject["project"]["dependencies"], "left-pad>=1"]
    assert disagreements(pyproject, _lock("runtime.txt")) == [
        *(f"left-pad>=1: 0 pins apply on Python {py}" for py in PYTHONS),
        "top-level set differs: lock only [], pyproject only ['left-pad']",
    ]


def test_a_raised_minimum_the_lock_does_not_meet_is_reported() -> None:
    pyproject = _pyproject()
    lock = _lock("runtime.txt")
    requests_pin = next(p for p in lock if p.name == "requests")
    pyproject["project"]["dependencies"] = [
        d if not d.startswith("requests") else f"requests>{requests_pin.version}"
        for d in pyproject["project"]["dependencies"]]
    problems = disagreements(pyproject, lock)
    assert problems and all(f"the lock pins {requests_pin.version}" in p for p in problems)


def test_a_dropped_requirement_is_reported() -> None:
    pyproject = _pyproject()
    pyproject["project"]["dependencies"] = [d for d in pyproject["project"]["dependencies"] if not d.startswith("isal")]
    assert disagreements(pyproject, _lock("runtime.txt")) == [
        "top-level set differs: lock only ['isal'], pyproject only []"]


def test_the_build_backend_is_locked_and_speaks_spdx() -> None:
    """setuptools >= 77 reads ``license = "Apache-2.0"`` (PEP 639); the lock pins one that does."""
    pyproject = _pyproject()
    assert pyproject["project"]["license"] == "Apache-2.0"
    [setuptools] = [p for p in _lock("runtime.txt") if p.name == "setuptools"]
    assert int(setuptools.version.split(".")[0]) >= 77
    assert (ROOT / "LICENSE").read_text(encoding="utf-8").split()[:3] == ["Apache", "License", "Version"]


def test_unhashed_or_loose_lines_are_refused() -> None:
    with pytest.raises(ValueError, match="not an exact pin"):
        parse_lock("requests>=2\n")
    [pin] = parse_lock("requests==2.0\n    # via x\n")
    assert disagreements({"build-system": {"requires": []}, "project": {"dependencies": ["requests"]}},
                         [pin]) == ["requests==2.0 has no hash", "top-level set differs: lock only [], "
                                    "pyproject only ['requests']"]


def test_every_script_installs_from_a_lock_that_exists() -> None:
    """Each ``install_project X`` in a script names ``requirements/X.txt``, which exists
    (``scripts/install`` passes on its checked argument)."""
    scripts = [p for d in ("scripts", "bench", ".ci") for p in (ROOT / d).iterdir() if p.is_file()]
    calls = [(p.name, m.group(1)) for p in scripts
             for m in re.finditer(r"^\s*[^#\n]*\binstall_project\s+(\S+)", p.read_text(errors="replace"), re.M)]
    assert {name for name, _ in calls} >= {"run", "test", "demo"}, calls
    for name, lock in calls:
        lock = lock.strip("\"'")
        if lock.startswith("$"):
            continue
        assert lock.isidentifier() and (ROOT / "requirements" / f"{lock}.txt").is_file(), (name, lock)
