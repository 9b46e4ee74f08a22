#!/usr/bin/env bash
# End-to-end test on kind: cluster -> cert-manager, metrics-server, KServe (Standard mode)
# -> image build + kind load -> helm install (training hook + InferenceService) -> every
# examples/index.json payload against its documented status -> helm test -> HPA.
# Needs docker, kind, kubectl, helm (3.8+ or 4), jq and curl. Run from anywhere:
#   bash k8s/e2e-kind.sh                 # or: make e2e-kind
#   KEEP_CLUSTER=1 bash k8s/e2e-kind.sh  # leave the cluster running afterwards
# On failure it writes pod logs, events and descriptions to $LOG_DIR and prints the events.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

# Pinned versions; override from the environment to try others.
CLUSTER_NAME="${CLUSTER_NAME:-breast-cancer}"
CERT_MANAGER_VERSION="${CERT_MANAGER_VERSION:-v1.17.2}"
METRICS_SERVER_CHART_VERSION="${METRICS_SERVER_CHART_VERSION:-3.12.2}"
KSERVE_VERSION="${KSERVE_VERSION:-v0.20.0}"
NAMESPACE="${NAMESPACE:-breast-cancer}"
RELEASE="${RELEASE:-breast-cancer}"
IMAGE_REPOSITORY="${IMAGE_REPOSITORY:-breast-cancer-kserve}"
IMAGE_TAG="${IMAGE_TAG:-e2e}"
LOCAL_PORT="${LOCAL_PORT:-8080}"
KEEP_CLUSTER="${KEEP_CLUSTER:-0}"
LOG_DIR="${LOG_DIR:-/tmp/breast-cancer-e2e-logs}"
MODEL_NAME="${MODEL_NAME:-breast-cancer}"
PF_PID=""
CLUSTER_CREATED=0

on_exit() {
  local status=$?
  if [[ -n "$PF_PID" ]]; then
    kill "$PF_PID" 2>/dev/null || true
  fi
  if [[ $status -ne 0 ]]; then
    echo "e2e FAILED (exit $status); diagnostics in $LOG_DIR" >&2
    mkdir -p "$LOG_DIR"
    kubectl get nodes,all,inferenceservices,pvc,hpa,pdb,jobs -A -o wide >"$LOG_DIR/resources.txt" 2>&1 || true
    kubectl get events -A --sort-by=.lastTimestamp >"$LOG_DIR/events.txt" 2>&1 || true
    kubectl -n "$NAMESPACE" describe inferenceservices,deployments,pods,jobs,pvc >"$LOG_DIR/describe.txt" 2>&1 || true
    while read -r pod; do
      kubectl -n "$NAMESPACE" logs "$pod" --all-containers --prefix >"$LOG_DIR/${pod#pod/}.log" 2>&1 || true
    done < <(kubectl -n "$NAMESPACE" get pods -o name 2>/dev/null || true)
    kubectl -n kserve logs deployment/kserve-controller-manager --all-containers >"$LOG_DIR/kserve-controller.log" 2>&1 || true
    tail -n 40 "$LOG_DIR/events.txt" >&2 || true
  fi
  if [[ "$CLUSTER_CREATED" == "1" && "$KEEP_CLUSTER" != "1" ]]; then
    kind delete cluster --name "$CLUSTER_NAME" || true
  fi
  exit "$status"
}
trap on_exit EXIT

for tool in docker kind kubectl helm jq curl; do
  command -v "$tool" >/dev/null || { echo "missing required tool: $tool" >&2; exit 1; }
done
mkdir -p "$LOG_DIR"

echo "--- kind cluster $CLUSTER_NAME"
if kind get clusters 2>/dev/null | grep -qx "$CLUSTER_NAME"; then
  echo "a kind cluster named $CLUSTER_NAME exists: delete it or set CLUSTER_NAME" >&2
  exit 1
fi
kind create cluster --name "$CLUSTER_NAME" --config k8s/kind-config.yaml --wait 180s
CLUSTER_CREATED=1
kubectl cluster-info --context "kind-$CLUSTER_NAME"

echo "--- cert-manager $CERT_MANAGER_VERSION and metrics-server (for the HPA)"
helm upgrade --install cert-manager cert-manager --repo https://charts.jetstack.io \
  --version "$CERT_MANAGER_VERSION" --namespace cert-manager --create-namespace \
  --set crds.enabled=true --wait --timeout 5m
helm upgrade --install metrics-server metrics-server \
  --repo https://kubernetes-sigs.github.io/metrics-server/ \
  --version "$METRICS_SERVER_CHART_VERSION" --namespace kube-system \
  --set 'args={--kubelet-insecure-tls}' --wait --timeout 5m

echo "--- KServe $KSERVE_VERSION (Standard mode)"
helm upgrade --install kserve-crd oci://ghcr.io/kserve/charts/kserve-crd \
  --version "$KSERVE_VERSION" --namespace kserve --create-namespace --wait --timeout 5m
# The first install can race KServe's own webhook (kserve#5037): retry it.
for attempt in 1 2 3; do
  if helm upgrade --install kserve-resources oci://ghcr.io/kserve/charts/kserve-resources \
    --version "$KSERVE_VERSION" --namespace kserve \
    --set kserve.controller.deploymentMode=Standard \
    --set kserve.controller.gateway.disableIngressCreation=true \
    --wait --timeout 5m; then
    break
  fi
  if [[ $attempt -eq 3 ]]; then
    exit 1
  fi
  echo "kserve-resources install failed (attempt $attempt); retrying in 20s" >&2
  sleep 20
done
kubectl -n kserve rollout status deployment/kserve-controller-manager --timeout=300s

echo "--- image $IMAGE_REPOSITORY:$IMAGE_TAG"
docker build --tag "$IMAGE_REPOSITORY:$IMAGE_TAG" .
kind load docker-image "$IMAGE_REPOSITORY:$IMAGE_TAG" --name "$CLUSTER_NAME"

echo "--- helm install $RELEASE (training hook, then the InferenceService)"
helm upgrade --install "$RELEASE" charts/breast-cancer --namespace "$NAMESPACE" --create-namespace \
  --set image.repository="$IMAGE_REPOSITORY" --set image.tag="$IMAGE_TAG" \
  --set image.pullPolicy=Never --set model.name="$MODEL_NAME" --wait --timeout 10m
ISVC="$(kubectl -n "$NAMESPACE" get inferenceservices -l "app.kubernetes.io/instance=$RELEASE" \
  -o jsonpath='{.items[0].metadata.name}')"
kubectl -n "$NAMESPACE" logs "job/$ISVC-train"
kubectl -n "$NAMESPACE" wait --for=condition=Ready "inferenceservice/$ISVC" --timeout=300s
kubectl -n "$NAMESPACE" get inferenceservice "$ISVC"

echo "--- port-forward svc/$ISVC-predictor $LOCAL_PORT:80"
kubectl -n "$NAMESPACE" port-forward "svc/$ISVC-predictor" "$LOCAL_PORT:80" >"$LOG_DIR/port-forward.log" 2>&1 &
PF_PID=$!
BASE_URL="http://127.0.0.1:$LOCAL_PORT"
for _ in $(seq 1 30); do
  if curl -fsS "$BASE_URL/v1/models/$MODEL_NAME" >/dev/null 2>&1; then
    break
  fi
  sleep 1
done
curl -fsS "$BASE_URL/v1/models/$MODEL_NAME"
echo

echo "--- examples/index.json payloads"
expected_count="$(jq -e 'length' examples/index.json)"
checked=0
failures=0
while IFS=$'\t' read -r file protocol verb expected labels; do
  checked=$((checked + 1))
  if [[ "$protocol" == "v2" ]]; then
    path="/v2/models/$MODEL_NAME/infer"
  else
    path="/v1/models/$MODEL_NAME:$verb"
  fi
  body="$LOG_DIR/response-$file"
  status="$(curl -sS -o "$body" -w '%{http_code}' -H 'Content-Type: application/json' \
    --data-binary "@examples/$file" "$BASE_URL$path")"
  if [[ "$status" != "$expected" ]]; then
    echo "FAIL $file: POST $path -> $status, expected $expected: $(head -c 300 "$body")"
    failures=$((failures + 1))
  elif [[ "$status" == "200" && "$protocol" == "v1" && "$labels" != "[]" ]] &&
    ! jq -e --argjson want "$labels" '[.predictions[].label] == $want' "$body" >/dev/null; then
    echo "FAIL $file: labels are not $labels: $(head -c 300 "$body")"
    failures=$((failures + 1))
  else
    echo "ok   $file: POST $path -> $status"
  fi
done < <(jq -r '.[] | [.file, .protocol, (.verb // "predict"), (.status | tostring),
  (.labels // [] | tojson)] | @tsv' examples/index.json)
if [[ $failures -ne 0 || $checked -ne $expected_count ]]; then
  echo "$failures of $checked payload(s) failed; index lists $expected_count" >&2
  exit 1
fi

echo "--- helm test"
helm test "$RELEASE" --namespace "$NAMESPACE" --logs

echo "--- autoscaling: exactly one HPA for the predictor"
kubectl -n "$NAMESPACE" get hpa -o wide
hpa_count="$(kubectl -n "$NAMESPACE" get hpa -o name | wc -l)"
if [[ "$hpa_count" -ne 1 ]]; then
  echo "expected 1 HPA, found $hpa_count" >&2
  exit 1
fi

if command -v uv >/dev/null; then
  echo "--- pytest -m e2e (same checks through the kubernetes client)"
  KUBECONFIG="${KUBECONFIG:-$HOME/.kube/config}" E2E_NAMESPACE="$NAMESPACE" E2E_RELEASE="$RELEASE" \
    E2E_MODEL_NAME="$MODEL_NAME" uv run pytest -m e2e tests/chart -q
fi

echo "e2e passed"
