"""The one server starter (bench/process.py): failures say why, and leave nothing running."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from bench.process import start_server, stop_server

# Accepts the port flags the starter appends, then never serves anything.
SILENT = "import sys, time; print('listening nowhere', flush=True); time.sleep(60)"


def test_a_server_that_exits_early_is_reported_with_its_log(tmp_path: Path) -> None:
    crash = [sys.executable, "-c", "print('no model here'); raise SystemExit(3)"]
    with pytest.raises(RuntimeError, match=r"(?s)crash exited with 3.*no model here"):
        start_server(crash, tmp_path, name="crash")


def test_a_server_never_ready_is_killed_after_the_timeout(tmp_path: Path) -> None:
    with pytest.raises(TimeoutError, match=r"(?s)silent not ready after 0.5 s.*listening nowhere"):
        start_server([sys.executable, "-c", SILENT], tmp_path, name="silent", timeout=0.5)
    # the log file names the port; no process of that start is left
    assert len(list(tmp_path.glob("silent-*.log"))) == 1


def test_stop_kills_a_server_that_ignores_sigterm(tmp_path: Path) -> None:
    stubborn = (
        "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
        "from http.server import HTTPServer, BaseHTTPRequestHandler as B\n"
        "class H(B):\n"
        "    def do_GET(self): self.send_response(200); self.end_headers()\n"
        "import sys; HTTPServer(('127.0.0.1', int(sys.argv[2])), H).serve_forever()"
    )
    server = start_server([sys.executable, "-c", stubborn], tmp_path, name="stubborn")
    assert server.ready_seconds > 0
    stop_server(server, grace=0.2)
    assert server.process.returncode == -9
