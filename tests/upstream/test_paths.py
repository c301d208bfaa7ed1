"""Upstream paths map to extension directories, version files to versions (pure)."""

from __future__ import annotations

import pytest

from sync.upstream.paths import (
    ExtensionDir,
    extension_dir,
    version_from_cargo,
    version_from_version_file,
    version_of,
)


@pytest.mark.parametrize(
    "path, expected",
    [
        ("plugins/wasm-go/extensions/basic-auth/main.go", ExtensionDir("go", "basic-auth")),
        ("plugins/wasm-go/extensions/ai-proxy/provider/openai.go", ExtensionDir("go", "ai-proxy")),
        ("plugins/wasm-cpp/extensions/key_auth/plugin.cc", ExtensionDir("cpp", "key_auth")),
        ("plugins/wasm-rust/extensions/say-hello/src/lib.rs", ExtensionDir("rust", "say-hello")),
        ("plugins/wasm-go/extensions/README.md", None),  # a file directly in extensions/
        ("plugins/wasm-go/pkg/wrapper/plugin_wrapper.go", None),  # the shared library
        ("plugins/wasm-go/extensions/.github/x", None),
        ("docs/README.md", None),
        ("plugins/wasm-assemblyscript/extensions/x/index.ts", None),
        ("plugins/wasm-go/extensionsx/a/b", None),
    ],
)
def test_extension_dir(path: str, expected: ExtensionDir | None) -> None:
    assert extension_dir(path) == expected


def test_version_files_per_language() -> None:
    assert ExtensionDir("go", "a").version_files() == ("plugins/wasm-go/extensions/a/VERSION",)
    assert ExtensionDir("rust", "r").version_files() == (
        "plugins/wasm-rust/extensions/r/VERSION",
        "plugins/wasm-rust/extensions/r/Cargo.toml",
    )


@pytest.mark.parametrize(
    "text, expected",
    [
        ("1.2.3\n", "1.2.3"),
        ("v2.0.0", "2.0.0"),
        ("\n\n  1.0.0-alpha.1  \n", "1.0.0-alpha.1"),
        ("# comment\n3.1.0\n", "3.1.0"),
        ("", None),
        ("latest\n", None),
        ("1.0.0/../../etc\n", None),
    ],
)
def test_version_file(text: str, expected: str | None) -> None:
    assert version_from_version_file(text) == expected


CARGO = """
[package]
name = "say-hello"
version = "0.4.2"   # bumped by hand
edition = "2021"

[dependencies]
version = "9.9.9"
"""


def test_cargo_version_reads_the_package_table_only() -> None:
    assert version_from_cargo(CARGO) == "0.4.2"
    assert version_from_cargo("[dependencies]\nversion = '1.0.0'\n") is None
    assert version_from_cargo("[package]\nname = 'x'\nversion.workspace = true\n") is None
    assert version_from_cargo("[package]\nversion = '0.1.0'\n") == "0.1.0"


def test_version_of_prefers_the_first_readable_file() -> None:
    files = {
        "plugins/wasm-rust/extensions/r/VERSION": None,
        "plugins/wasm-rust/extensions/r/Cargo.toml": CARGO.encode(),
    }
    assert version_of(files) == "0.4.2"
    files["plugins/wasm-rust/extensions/r/VERSION"] = b"1.0.0\n"
    assert version_of(files) == "1.0.0"
    assert version_of({"a/VERSION": b"\xff\xfe"}) is None
    assert version_of({}) is None
