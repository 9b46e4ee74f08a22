#!/usr/bin/env bash
# End-to-end test on kind: cluster -> cert-manager, metrics-server, KServe (Standard mode),
# prometheus-operator with one Prometheus -> image build + kind load -> k8s/e2e.sh, the same checks `make e2e-local` runs on a
# cluster built on this machine (install, payloads, gRPC, helm test, readiness gating,
# upgrade and pod deletion under load, HPA, S3, uninstall).
# Needs docker, kind, kubectl, helm (3.8+ or 4), jq, curl and uv. Run from anywhere:
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
KUBE_PROMETHEUS_STACK_VERSION="${KUBE_PROMETHEUS_STACK_VERSION:-88.5.0}"
APP_VERSION="$(sed -n 's/^appVersion: *"\{0,1\}\([^"]*\)"\{0,1\}$/\1/p' charts/breast-cancer/Chart.yaml)"
IMAGE="breast-cancer-kserve:$APP_VERSION"
KEEP_CLUSTER="${KEEP_CLUSTER:-0}"
LOG_DIR="${LOG_DIR:-/tmp/breast-cancer-e2e-logs}"
CLUSTER_CREATED=0

on_exit() {
  local status=$?
  if [[ $status -ne 0 ]]; then
    echo "e2e FAILED (exit $status); diagnostics in $LOG_DIR" >&2
    mkdir -p "$LOG_DIR"
    kubectl -n kserve logs deployment/kserve-controller-manager --all-containers >"$LOG_DIR/kserve-controller.log" 2>&1 || true
  fi
  if [[ "$CLUSTER_CREATED" == "1" && "$KEEP_CLUSTER" != "1" ]]; then
    kind delete cluster --name "$CLUSTER_NAME" || true
  fi
  exit "$status"
}
trap on_exit EXIT

for tool in docker kind kubectl helm jq curl uv; do
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

echo "--- kube-prometheus-stack $KUBE_PROMETHEUS_STACK_VERSION: prometheus-operator and a Prometheus only"
# Its Prometheus selects every PodMonitor and PrometheusRule (not only its own release's), as
# k8s/e2e.sh's monitoring checks expect; it lives in namespace monitoring.
helm upgrade --install monitoring kube-prometheus-stack \
  --repo https://prometheus-community.github.io/helm-charts \
  --version "$KUBE_PROMETHEUS_STACK_VERSION" --namespace monitoring --create-namespace \
  --set alertmanager.enabled=false --set grafana.enabled=false \
  --set nodeExporter.enabled=false --set kubeStateMetrics.enabled=false \
  --set defaultRules.create=false \
  --set prometheus.prometheusSpec.podMonitorSelectorNilUsesHelmValues=false \
  --set prometheus.prometheusSpec.serviceMonitorSelectorNilUsesHelmValues=false \
  --set prometheus.prometheusSpec.ruleSelectorNilUsesHelmValues=false \
  --wait --timeout 10m
kubectl -n monitoring wait --for=condition=Available prometheus --all --timeout=300s

echo "--- image $IMAGE (the chart's default repository and tag)"
docker build --tag "$IMAGE" .
kind load docker-image "$IMAGE" --name "$CLUSTER_NAME"

echo "--- k8s/e2e.sh"
LOG_DIR="$LOG_DIR" bash k8s/e2e.sh
