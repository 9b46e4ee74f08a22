"""Closed-loop HTTP load for k8s/e2e.sh: POST one payload over and over, count every failure.

Runs inside the cluster (standard library only, in the predictor image) so requests reach the
predictor through its Service and kube-proxy, as other pods' requests do. Each request opens a
new connection, so every request is balanced anew and a pod that goes away cannot leave a
stale keep-alive connection behind. Counting starts once one request got a 200 (within
--ready-timeout): a new pod's address may take a moment to reach the network policy rules
that admit it. It stops when the stop file appears or after --max-seconds, then prints one
JSON line:

    {"requests": 1234, "failed": 0, "seconds": 61.2, "rps": 20.1, "errors": {}}

A failure is any answer other than 200 or any connection error or timeout.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import threading
import time
import urllib.parse
from collections import Counter

STOP_POLL_SECONDS = 0.2


def _one_request(url: urllib.parse.SplitResult, body: bytes, timeout: float) -> str | None:
    """Send one POST; return None on 200, else a short description of the failure."""
    connection = http.client.HTTPConnection(url.hostname, url.port or 80, timeout=timeout)
    try:
        connection.request("POST", url.path, body, {"Content-Type": "application/json"})
        response = connection.getresponse()
        response.read()
        return None if response.status == 200 else f"HTTP {response.status}"
    except (OSError, http.client.HTTPException) as error:
        errno = getattr(error, "errno", None)
        return type(error).__name__ + (f" errno {errno}" if errno else "")
    finally:
        connection.close()


def _worker(args: argparse.Namespace, body: bytes, stop: threading.Event, tally: Counter) -> None:
    url = urllib.parse.urlsplit(args.url)
    while not stop.is_set():
        failure = _one_request(url, body, args.timeout)
        tally["requests"] += 1
        if failure:
            tally["failed"] += 1
            tally[f"error:{failure}"] += 1
        if args.pause:
            time.sleep(args.pause)


def _wait_for_a_first_answer(args: argparse.Namespace, body: bytes) -> None:
    """Return once one request got a 200; exit 1 if none did within --ready-timeout."""
    url = urllib.parse.urlsplit(args.url)
    deadline = time.monotonic() + args.ready_timeout
    while (failure := _one_request(url, body, args.timeout)) is not None:
        if time.monotonic() > deadline:
            raise SystemExit(f"no 200 from {args.url} in {args.ready_timeout} s: {failure}")
        time.sleep(0.5)


def main() -> None:
    """Run the load until the stop file exists, then print the tally as JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", required=True, help="predict URL, e.g. http://svc/v1/...")
    parser.add_argument("--payload", required=True, help="JSON body file")
    parser.add_argument("--concurrency", type=int, default=4, help="parallel clients")
    parser.add_argument("--timeout", type=float, default=10.0, help="seconds per request")
    parser.add_argument("--pause", type=float, default=0.0, help="seconds between requests")
    parser.add_argument("--stop-file", default="/tmp/stop", help="stop when this file exists")
    parser.add_argument("--max-seconds", type=float, default=600.0, help="hard time limit")
    parser.add_argument(
        "--ready-timeout", type=float, default=30.0, help="seconds to wait for a first 200"
    )
    args = parser.parse_args()
    with open(args.payload, "rb") as handle:
        body = handle.read()
    _wait_for_a_first_answer(args, body)
    stop = threading.Event()
    tallies = [Counter() for _ in range(args.concurrency)]
    threads = [
        threading.Thread(target=_worker, args=(args, body, stop, tally), daemon=True)
        for tally in tallies
    ]
    start = time.monotonic()
    for thread in threads:
        thread.start()
    print("load started", flush=True)
    while not os.path.exists(args.stop_file) and time.monotonic() - start < args.max_seconds:
        time.sleep(STOP_POLL_SECONDS)
    stop.set()
    for thread in threads:
        thread.join()
    seconds = time.monotonic() - start
    total = sum(tallies, Counter())
    errors = {key.split(":", 1)[1]: n for key, n in total.items() if key.startswith("error:")}
    summary = {
        "requests": total["requests"],
        "failed": total["failed"],
        "seconds": round(seconds, 1),
        "rps": round(total["requests"] / seconds, 1),
        "errors": errors,
    }
    print(json.dumps(summary), flush=True)


if __name__ == "__main__":
    main()
