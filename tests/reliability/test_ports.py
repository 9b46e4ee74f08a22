"""A port another process holds stops start-up with one line naming it (exit 2), HTTP and gRPC.

Without the check, gRPC binds with SO_REUSEPORT: a second predictor on a taken gRPC port
started silently and took a share of the first one's calls (seen: 20 calls split 14/6
between two models); a taken HTTP port ended in a traceback and exit 3.
"""

from __future__ import annotations

import asyncio
import subprocess

import pytest
from grpc import aio

from tests.support import free_port, predictor_command, running_predictor


@pytest.fixture(scope="module")
def first(trained_dir, tmp_path_factory):
    with running_predictor(trained_dir, tmp_path_factory.mktemp("ports")) as server:
        yield server


@pytest.mark.parametrize("taken", ["http", "grpc"])
def test_a_second_predictor_on_a_taken_port_exits_2_naming_it(first, trained_dir, taken) -> None:
    http_port = first.http_port if taken == "http" else free_port()
    grpc_port = first.grpc_port if taken == "grpc" else free_port()
    done = subprocess.run(
        predictor_command(trained_dir, http_port, grpc_port),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2
    port = http_port if taken == "http" else grpc_port
    [line] = [line for line in done.stdout.splitlines() if "ERROR" in line]
    assert f"port {port} (--{taken}_port) is already in use by another process" in line
    assert "Traceback" not in done.stdout + done.stderr


@pytest.mark.upstream
async def test_grpc_still_shares_a_port_unless_told_not_to() -> None:
    """Canary for ``grpc.so_reuseport`` 0 in predictor/serving/grpc.py (and the port check)."""
    port = free_port()
    servers = [aio.server(), aio.server()]
    try:
        bound = [server.add_insecure_port(f"127.0.0.1:{port}") for server in servers]
        assert bound == [port, port]  # both bound: calls would be split between them
        refusing = aio.server(options=[("grpc.so_reuseport", 0)])
        with pytest.raises(RuntimeError):
            refusing.add_insecure_port(f"127.0.0.1:{port}")
    finally:
        await asyncio.gather(*(server.stop(None) for server in servers))
