"""Compressed request bodies: decoded transparently, and bounded by the body-size limit."""

from __future__ import annotations

import gzip
import json
import struct
import zlib

import httpx
import pytest

from predictor.settings import Settings
from tests.support import MODEL_NAME, RunningServer, load_example

DEFAULT_MAX_BODY_BYTES = Settings.model_fields["max_body_bytes"].default
DEFAULT_MAX_JSON_DEPTH = Settings.model_fields["max_json_depth"].default

V1 = f"/v1/models/{MODEL_NAME}:predict"
V2 = f"/v2/models/{MODEL_NAME}/infer"
BODY = json.dumps(load_example("valid_request.json")).encode()


def raw_deflate(data: bytes) -> bytes:
    compressor = zlib.compressobj(wbits=-zlib.MAX_WBITS)
    return compressor.compress(data) + compressor.flush()


ENCODED = {
    "gzip": gzip.compress(BODY),
    "deflate": zlib.compress(BODY),
    "deflate (raw)": raw_deflate(BODY),
    "GZip (any case)": gzip.compress(BODY),
    "identity": BODY,
}


@pytest.mark.parametrize("name", sorted(ENCODED))
def test_a_compressed_body_is_answered_like_the_plain_one(
    name: str, guarded_server: RunningServer
) -> None:
    encoding = name.split()[0]
    url = guarded_server.base_url + V1
    plain = httpx.post(url, content=BODY)
    compressed = httpx.post(url, content=ENCODED[name], headers={"content-encoding": encoding})
    assert compressed.status_code == 200
    assert compressed.json()["predictions"] == plain.json()["predictions"]


def test_a_compressed_v2_binary_request_counts_its_header_in_decoded_bytes(
    guarded_server: RunningServer,
) -> None:
    tensor = {"name": "f", "shape": [1, 30], "datatype": "FP64",
              "parameters": {"binary_data_size": 240}}  # fmt: skip
    header = json.dumps({"inputs": [tensor]}).encode()
    values = load_example("valid_request.json")["instances"][0]
    body = header + struct.pack("<30d", *values)
    response = httpx.post(
        guarded_server.base_url + V2,
        content=gzip.compress(body),
        headers={"content-encoding": "gzip", "inference-header-content-length": str(len(header))},
    )
    assert response.status_code == 200, response.text


def gzip_bomb(decoded_bytes: int) -> bytes:
    """A gzip stream of ``decoded_bytes`` spaces, built without holding them."""
    compressor = zlib.compressobj(wbits=16 + zlib.MAX_WBITS)
    chunk = b" " * (1 << 20)
    parts = [compressor.compress(chunk) for _ in range(decoded_bytes >> 20)]
    return b"".join(parts) + compressor.flush()


def server_rss_kib(server: RunningServer) -> int:
    for line in open(f"/proc/{server.process.pid}/status"):  # noqa: SIM115
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    raise AssertionError("no VmHWM")


def test_a_small_body_inflating_past_the_limit_is_a_413_without_inflating_it_all(
    guarded_server: RunningServer,
) -> None:
    bomb = gzip_bomb(1 << 30)  # 1 GiB of spaces in about 1 MB
    assert len(bomb) < DEFAULT_MAX_BODY_BYTES
    peak_before = server_rss_kib(guarded_server)
    response = httpx.post(guarded_server.base_url + V1, content=bomb,
                          headers={"content-encoding": "gzip"}, timeout=30)  # fmt: skip
    assert response.status_code == 413
    assert "inflates to more than 16777216 bytes" in response.json()["error"]
    assert "--max_body_bytes" in response.json()["error"]
    grown_mib = (server_rss_kib(guarded_server) - peak_before) / 1024
    assert grown_mib < 3 * DEFAULT_MAX_BODY_BYTES / (1 << 20), f"peak RSS grew {grown_mib} MiB"


@pytest.mark.parametrize(
    ("body", "encoding", "status", "message"),
    [
        (gzip.compress(BODY)[:-12], "gzip", 400, "the stream ends early"),
        (b"not compressed at all", "gzip", 400, "is not valid gzip data"),
        (b"not compressed at all", "deflate", 400, "is not valid deflate data"),
        (gzip.compress(BODY) + b"junk", "gzip", 400, "data follows the end of the stream"),
        (BODY, "br", 415, "Content-Encoding 'br' is not supported; send one of gzip"),
        (BODY, "gzip, br", 415, "is not supported"),
    ],
)
def test_a_body_that_is_not_what_its_encoding_says_is_refused(
    body: bytes, encoding: str, status: int, message: str, guarded_server: RunningServer
) -> None:
    response = httpx.post(guarded_server.base_url + V1, content=body,
                          headers={"content-encoding": encoding})  # fmt: skip
    assert response.status_code == status
    assert message in response.json()["error"]


def test_the_depth_limit_applies_to_the_decoded_body(guarded_server: RunningServer) -> None:
    deep = b"[" * 40 + b"]" * 40
    response = httpx.post(guarded_server.base_url + V1, content=gzip.compress(deep),
                          headers={"content-encoding": "gzip"})  # fmt: skip
    assert response.status_code == 400
    assert "nested 40 levels deep" in response.json()["error"]
