"""A big V1 body parsed a slice of instances at a time, yielding the event loop in between.

``orjson.loads`` of a 10,000-instance body (2 MB) is one call of about 10 ms, and the JSON
depth check of :mod:`.limits` another 2 ms, during which the loop serves nobody. A plain
body, ``{"instances": [[numbers...], ...]}`` (compact, or with a space after the colon as
Python's ``json.dumps`` writes it), is cut between instances (at ``],``) into pieces of
about ``size`` instances; each piece has its depth checked and is parsed on its own. The
instances are counted (by their closing brackets) before any is parsed, so that a request
can be refused at once (:mod:`.admission`).

Exactness: the instances part holds no quote and no brace (checked), so it is only arrays,
numbers and literals, and a cut at ``],`` inside an instance leaves a piece with an
unclosed bracket, which does not parse; an empty piece (a stray comma) is refused too. Any
piece that does not parse, or is nested too deep, sends the whole body to the depth check
and ``orjson.loads``, which answer it as before (a 400 for the depth, KServe's answer for a
body with ``NaN``...). Pieces that all parse are the whole's instances, each number parsed
as the whole parse would (orjson parses each number on its own). Any other body is checked
and parsed whole. (One difference: under overload a body too deep can be refused with 503
before its depth is found.)
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import orjson

from predictor.serving.limits import json_depth
from predictor.validation import INSTANCES_KEY

# How the plain bodies begin and end; anything else is parsed whole.
PLAIN_OPENINGS = (b'{"instances":[', b'{"instances": [')
PLAIN_CLOSING = b"]}"
BETWEEN_INSTANCES = b"],"
NOT_PLAIN = (b'"', b"{", b"}")
# No instance takes fewer bytes than ``[0],``.
SHORTEST_INSTANCE_BYTES = 4


@dataclass(frozen=True, slots=True)
class SlicedBody:
    """A plain body's instances, cut into pieces of about ``size`` instances."""

    pieces: list[bytes]
    count: int  # instances, counted before parsing (exact when the instances are flat)

    async def instances(self, max_depth: int) -> dict | None:
        """The payload, parsed a piece at a time with a yield after each; None when a piece
        is nested deeper than ``max_depth`` allows or does not parse (the whole body then
        decides: its depth check, then its parse)."""
        # The body's depth is a piece's plus two: the object and the instances array.
        instances = await parsed(self.pieces, max_depth - 2)
        return None if instances is None else {INSTANCES_KEY: instances}


async def parsed(pieces: list[bytes], max_depth: int) -> list | None:
    """The items of ``pieces`` (each a JSON array's items), parsed a piece at a time with a
    yield after each; None when a piece is empty, nested deeper than ``max_depth`` or does
    not parse."""
    items: list = []
    for piece in pieces:
        if not piece.strip():  # "[]" would parse; the whole (",," or ",]") does not
            return None
        if json_depth(piece, max_depth) > max_depth:
            return None
        try:
            items += orjson.loads(b"[" + piece + b"]")
        except orjson.JSONDecodeError:
            return None
        await asyncio.sleep(0)
    return items


def sliced(body: bytes, size: int, verb: str | None = "predict") -> SlicedBody | None:
    """The body cut into pieces of about ``size`` instances, or None: not a V1 prediction
    (``verb``), not a plain body, or not more than ``size`` instances (or ``size`` 0:
    slicing is off)."""
    if size <= 0 or verb != "predict" or len(body) < size * SHORTEST_INSTANCE_BYTES:
        return None  # the usual request, too short to hold more than ``size`` instances
    opening = next((head for head in PLAIN_OPENINGS if body.startswith(head)), None)
    if opening is None:
        return None
    body = body.rstrip()
    if not body.endswith(PLAIN_CLOSING):
        return None
    start, end = len(opening), len(body) - len(PLAIN_CLOSING)
    if any(body.find(mark, start, end) >= 0 for mark in NOT_PLAIN):
        return None
    count = body.count(b"]", start, end)  # one per instance, when instances are flat
    if count <= size:
        return None
    # Cut after about ``size`` instances' worth of bytes, at the next boundary.
    step = (end - start) * size // count
    pieces = []
    while True:
        cut = body.find(BETWEEN_INSTANCES, start + step, end)
        if cut < 0:
            pieces.append(body[start:end])
            return SlicedBody(pieces, count)
        pieces.append(body[start : cut + 1])
        start = cut + len(BETWEEN_INSTANCES)
