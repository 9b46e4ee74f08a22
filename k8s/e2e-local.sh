#!/usr/bin/env bash
# `make e2e-local`: the local cluster (k8s/local-cluster.sh up), the end-to-end checks
# (k8s/e2e.sh) on it, then `down` (KEEP_CLUSTER=1 keeps the cluster; then
# `eval "$(k8s/local-cluster.sh env)"` reaches it and `k8s/local-cluster.sh down` ends it).
#
# Exit 3 after printing `e2e-local SKIPPED: <reason>` when the cluster could not be brought
# up for a reason outside the project (a registry not answering, an upstream build failing);
# any other failure, of the cluster or of a check, exits non-zero.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
KEEP_CLUSTER="${KEEP_CLUSTER:-0}"
UP_LOG="$(mktemp)"

finish() {
  local status=$?
  rm -f "$UP_LOG"
  if [[ "$KEEP_CLUSTER" != 1 ]]; then
    bash k8s/local-cluster.sh down || status=1
  else
    echo "cluster kept: eval \"\$(k8s/local-cluster.sh env)\"; k8s/local-cluster.sh down ends it" >&2
  fi
  exit "$status"
}
trap finish EXIT

start=$SECONDS
status=0
exports="$(bash k8s/local-cluster.sh up 2> >(tee "$UP_LOG" >&2))" || status=$?
if [[ $status -eq 3 ]]; then
  reason="$(sed -n 's/.*UPSTREAM FAILURE: //p' "$UP_LOG" | tail -n 1)"
  echo "e2e-local SKIPPED: ${reason:-an upstream component could not be built}"
  exit 3
elif [[ $status -ne 0 ]]; then
  echo "e2e-local: the cluster did not come up (exit $status)" >&2
  exit "$status"
fi
eval "$exports"
up_seconds=$((SECONDS - start))
bash k8s/e2e.sh
echo "e2e-local: cluster up in ${up_seconds} s, whole run $((SECONDS - start)) s"
