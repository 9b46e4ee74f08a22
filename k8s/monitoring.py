"""Traffic and Prometheus queries for the monitoring checks of k8s/e2e.sh (run with `uv run`).

    cases URL --rows N [--scale-areas F] [--feedback N] [--seed S]
        POST N WDBC-like cases to URL's :predict, in batches: rows of scikit-learn's bundled
        WDBC data drawn with replacement; --scale-areas multiplies the three area features
        (mean area, area error, worst area) by F. --feedback posts the confirmed diagnoses of
        the first N cases to :feedback. Prints a JSON summary; exit 1 if a request failed.
    dashboard PROMETHEUS_URL --namespace NS --isvc NAME [--rate-interval 1m]
        Every query of the chart's Grafana dashboard, its variables replaced, against
        Prometheus: one line per query with its series; exit 1 if one returned no series or
        only NaN.

URL is the model's V1 address through `kubectl port-forward`, e.g.
http://127.0.0.1:8080/v1/models/breast-cancer. Only loopback addresses are accepted.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import urllib.error
import urllib.parse
import urllib.request
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.datasets import load_breast_cancer

ROOT = Path(__file__).resolve().parents[1]
DASHBOARD = ROOT / "charts" / "breast-cancer" / "dashboards" / "breast-cancer.json"
AREA_FEATURES = ("mean area", "area error", "worst area")
BATCH = 100
LOOPBACK = {"127.0.0.1", "localhost", "::1"}


def loopback(url: str) -> str:
    host = urllib.parse.urlsplit(url).hostname
    if host not in LOOPBACK:
        raise SystemExit(f"{url}: only loopback addresses (kubectl port-forward) are accepted")
    return url.rstrip("/")


def post(url: str, body: dict[str, Any]) -> tuple[int, str]:
    request = urllib.request.Request(
        url, json.dumps(body).encode(), {"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()[:300]


def wdbc_cases(rows: int, scale_areas: float, seed: int) -> tuple[np.ndarray, list[str]]:
    """``rows`` bootstrap draws of the WDBC rows and their diagnoses (target 0 = malignant)."""
    data = load_breast_cancer()
    picked = np.random.default_rng(seed).integers(0, len(data.target), rows)
    features = data.data[picked].copy()
    names = [str(name) for name in data.feature_names]
    for name in AREA_FEATURES:
        features[:, names.index(name)] *= scale_areas
    outcomes = ["malignant" if data.target[i] == 0 else "benign" for i in picked]
    return features, outcomes


def cases(args: argparse.Namespace) -> int:
    base = loopback(args.url)
    features, outcomes = wdbc_cases(args.rows, args.scale_areas, args.seed)
    statuses: Counter[str] = Counter()
    labels: Counter[str] = Counter()
    problems = []
    for start in range(0, args.rows, BATCH):
        batch = {"instances": features[start : start + BATCH].tolist()}
        status, body = post(f"{base}:predict", batch)
        statuses[f"predict {status}"] += 1
        if status == 200:
            labels.update(p["label"] for p in json.loads(body)["predictions"])
        else:
            problems.append(f"predict {status}: {body[:200]}")
    for start in range(0, args.feedback, BATCH):
        end = min(start + BATCH, args.feedback)
        body = {"instances": features[start:end].tolist(), "outcomes": outcomes[start:end]}
        status, text = post(f"{base}:feedback", body)
        statuses[f"feedback {status}"] += 1
        if status != 200:
            problems.append(f"feedback {status}: {text[:200]}")
    summary = {
        "rows": args.rows,
        "scale_areas": args.scale_areas,
        "labels": dict(labels),
        "feedback": args.feedback,
        "statuses": dict(statuses),
        "problems": problems[:3],
    }
    print(json.dumps(summary))
    return 1 if problems else 0


def dashboard_queries(namespace: str, isvc: str, rate_interval: str) -> list[tuple[str, str]]:
    """(panel and refId, PromQL) of every panel target, Grafana's variables replaced."""
    variables = {"$__rate_interval": rate_interval, "$namespace": namespace, "$isvc": isvc}
    queries = []
    for panel in json.loads(DASHBOARD.read_text())["panels"]:
        for target in panel["targets"]:
            expr = target["expr"]
            for name, value in variables.items():
                expr = expr.replace(name, value)
            queries.append((f"{panel['title']} {target['refId']}", expr))
    return queries


def query(prometheus: str, expr: str) -> list[dict[str, Any]]:
    url = f"{prometheus}/api/v1/query?{urllib.parse.urlencode({'query': expr})}"
    with urllib.request.urlopen(url, timeout=30) as response:
        answer = json.load(response)
    if answer["status"] != "success" or answer["data"]["resultType"] != "vector":
        raise ValueError(f"{expr}: {answer}")
    return answer["data"]["result"]


def dashboard(args: argparse.Namespace) -> int:
    prometheus = loopback(args.prometheus)
    empty = []
    for where, expr in dashboard_queries(args.namespace, args.isvc, args.rate_interval):
        values = [float(series["value"][1]) for series in query(prometheus, expr)]
        shown = ", ".join(f"{v:.3g}" for v in values[:4]) + (" ..." if len(values) > 4 else "")
        print(f"{len(values):3d} series  {where}: {shown}")
        if not [v for v in values if not math.isnan(v)]:
            empty.append(where)
    if empty:
        print(f"no data: {'; '.join(empty)}", file=sys.stderr)
    return 1 if empty else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    sender = commands.add_parser("cases")
    sender.add_argument("url")
    sender.add_argument("--rows", type=int, required=True)
    sender.add_argument("--scale-areas", type=float, default=1.0)
    sender.add_argument("--feedback", type=int, default=0)
    sender.add_argument("--seed", type=int, default=0)
    board = commands.add_parser("dashboard")
    board.add_argument("prometheus")
    board.add_argument("--namespace", required=True)
    board.add_argument("--isvc", required=True)
    board.add_argument("--rate-interval", default="1m")
    args = parser.parse_args(argv)
    return cases(args) if args.command == "cases" else dashboard(args)


if __name__ == "__main__":
    sys.exit(main())
