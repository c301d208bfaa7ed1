"""One digest syntax everywhere: ``sha256:`` and 64 lowercase hex digits (``sync.names``)."""

from __future__ import annotations

import pytest

from sync.errors import ArtifactError
from sync.names import is_digest, is_sha256
from sync.oci.manifest import Descriptor

GOOD = "sha256:" + "ab" * 32


@pytest.mark.parametrize("bad", [
    "sha256:" + "../" * 21 + "x",   # the right length, but a path
    "sha256:" + "AB" * 32,          # upper case
    "sha512:" + "ab" * 32,
    "sha256:" + "ab" * 31,
    GOOD + "\n",
    None, 7,
])
def test_only_sha256_and_64_lowercase_hex_is_a_digest(bad: object) -> None:
    assert is_digest(GOOD) and not is_digest(bad)


def test_a_manifest_descriptor_with_a_path_for_a_digest_is_refused() -> None:
    """Its length is that of a digest; before, the length alone was checked."""
    with pytest.raises(ArtifactError, match="unsupported descriptor digest"):
        Descriptor.parse({"mediaType": "x", "digest": "sha256:" + "../" * 21 + "x", "size": 1})
    assert Descriptor.parse({"mediaType": "x", "digest": GOOD, "size": 1}).digest == GOOD


def test_a_bare_sha256_is_64_lowercase_hex() -> None:
    assert is_sha256("0f" * 32) and not is_sha256("0F" * 32) and not is_sha256("sha256:" + "0f" * 32)
