"""``SHA256SUMS``: the sha256 of every other file of a version, in coreutils' format.

Training writes it last into each version directory; the predictor reads no file of a version
before that file's hash matched its line here. Being the standard format, an artifact can also
be checked by hand: ``cd DEST/<version> && sha256sum -c SHA256SUMS``.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping

MANIFEST_FILENAME = "SHA256SUMS"
# "<64 hex digits><space><space or '*' (binary mode)><file name>", as sha256sum writes it.
LINE = re.compile(r"(?P<digest>[0-9a-f]{64}) [ *](?P<name>[^/\\]+)")


def sha256_hex(content: bytes) -> str:
    return hashlib.sha256(content).hexdigest()


def format_manifest(files: Mapping[str, bytes]) -> bytes:
    """One ``<sha256>  <name>`` line per file, sorted by name."""
    lines = (f"{sha256_hex(content)}  {name}\n" for name, content in sorted(files.items()))
    return "".join(lines).encode()


def parse_manifest(content: bytes) -> dict[str, str]:
    """File names to expected hex sha256.

    Raises:
        ValueError: A line that is not ``<64 lowercase hex digits>  <name>`` (names without
            slashes, not starting with a dot), a name listed twice, or no line at all.
    """
    try:
        text = content.decode("utf-8")
    except UnicodeDecodeError as error:
        raise ValueError(f"not UTF-8 text: {error}") from error
    expected: dict[str, str] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        match = LINE.fullmatch(line)
        if match is None or match["name"].startswith("."):
            raise ValueError(f"line {number} is not '<sha256>  <file name>': {line[:100]!r}")
        if match["name"] in expected:
            raise ValueError(f"line {number} lists {match['name']} a second time")
        expected[match["name"]] = match["digest"]
    if not expected:
        raise ValueError("it lists no file")
    return expected
