"""The PNG reader that checks the screenshot: every filter type decodes to the pixels written."""

from __future__ import annotations

import random
import struct
import zlib

import pytest

from tests.catalog.png import _paeth, read_png


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def _filter(kind: int, line: bytes, prev: bytes, bpp: int) -> bytes:
    """The encoder's side of PNG filtering, written from the specification."""
    out = bytearray()
    for i, x in enumerate(line):
        a = line[i - bpp] if i >= bpp else 0
        b = prev[i]
        c = prev[i - bpp] if i >= bpp else 0
        predictor = {0: 0, 1: a, 2: b, 3: (a + b) // 2, 4: _paeth(a, b, c)}[kind]
        out.append((x - predictor) & 0xFF)
    return bytes(out)


def encode(width: int, height: int, channels: int, rows: list[bytes]) -> bytes:
    raw = bytearray()
    prev = bytes(width * channels)
    for y, line in enumerate(rows):
        kind = y % 5  # every filter type, in turn
        raw += bytes([kind]) + _filter(kind, line, prev, channels)
        prev = line
    colour = {3: 2, 4: 6}[channels]
    ihdr = struct.pack(">IIBBBBB", width, height, 8, colour, 0, 0, 0)
    idat = zlib.compress(bytes(raw))
    return (b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", ihdr) + _chunk(b"IDAT", idat[:7])
            + _chunk(b"IDAT", idat[7:]) + _chunk(b"IEND", b""))


@pytest.mark.parametrize("channels", [3, 4])
def test_decodes_every_filter_type(channels: int) -> None:
    rng = random.Random(channels)
    width, height = 13, 11
    rows = [bytes(rng.randrange(256) for _ in range(width * channels)) for _ in range(height)]
    image = read_png(encode(width, height, channels, rows))
    assert (image.width, image.height, image.channels) == (width, height, channels)
    assert image.rows == rows
    assert image.pixel(2, 3) == tuple(rows[3][2 * channels : 3 * channels])
    assert len(image.colours()) == len({r[x : x + channels] for r in rows for x in range(0, len(r), channels)})


def test_a_blank_image_has_one_colour() -> None:
    rows = [bytes([250, 250, 250]) * 8 for _ in range(8)]
    assert read_png(encode(8, 8, 3, rows)).colours() == {bytes([250, 250, 250])}


def test_refuses_what_it_cannot_read() -> None:
    good = encode(2, 2, 3, [bytes(6), bytes(6)])
    with pytest.raises(ValueError, match="not a PNG"):
        read_png(b"GIF89a")
    corrupt = bytearray(good)
    corrupt[40] ^= 0xFF  # inside the first IDAT chunk
    with pytest.raises(ValueError, match="CRC"):
        read_png(bytes(corrupt))
