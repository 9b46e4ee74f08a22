#!/usr/bin/env bash
# A single-node Kubernetes cluster with KServe on this machine, from upstream components,
# in the manner of Kubernetes' own hack/local-up-cluster.sh: every daemon is a host process
# with a PID file and a log file, and `down` removes what `up` made.
#
#   eval "$(k8s/local-cluster.sh up)"   # build what is missing, start, print the exports
#   k8s/local-cluster.sh env            # print the exports of the running cluster
#   k8s/local-cluster.sh down           # stop everything it started, remove its network state
#
# Components: etcd, kube-apiserver, kube-controller-manager, kube-scheduler, kubelet
# (Debian's containerd + runc + CNI bridge/host-local/portmap/firewall), kube-proxy
# (iptables), CoreDNS, metrics-server, local-path-provisioner (default StorageClass),
# KServe's controller with its webhooks (Standard mode), and prometheus-operator with the
# Prometheus it runs in namespace monitoring. The Go components are built from
# the Go module proxy (modules and build cache stay in Go's default locations, binaries go
# to .cluster/bin); docker and containerd come from Debian. No image is pulled: the pause,
# helper, storage-initializer and project images are built here and imported into the node.
#
# Pod and service addresses live only on the bridge $BRIDGE of this machine. Progress goes
# to stderr; stdout carries only the `export` lines. Exit code 3 means an upstream
# component or registry failed (download, build), not the project.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

# Versions. Kubernetes 1.34 is the last line that supports cgroup v1 and containerd 1.6
# without extra settings; the add-ons are the releases built against its client libraries.
KUBE_VERSION="${KUBE_VERSION:-v1.34.4}"
COREDNS_VERSION="${COREDNS_VERSION:-v1.12.4}"
METRICS_SERVER_VERSION="${METRICS_SERVER_VERSION:-v0.8.0}"
HELM_VERSION="${HELM_VERSION:-v3.19.5}"
CRI_TOOLS_VERSION="${CRI_TOOLS_VERSION:-v1.34.0}"
LOCAL_PATH_VERSION="${LOCAL_PATH_VERSION:-v0.0.30}"
# v0.21 is not served by the Go module proxy; v0.20.0 is the newest release that is.
KSERVE_VERSION="${KSERVE_VERSION:-v0.20.0}"
KUBE_ROUTER_VERSION="${KUBE_ROUTER_VERSION:-v2.1.0}"
# Prometheus 3.x is versioned v0.3xx.y as a Go module (v0.316.0 is Prometheus 3.16.0);
# tests/chart/promtool.py builds promtool from the same version. The proxy serves
# prometheus-operator v0.85.0 only (its CRDs are the ones tests/chart/crds.py checks against).
PROMETHEUS_VERSION="${PROMETHEUS_VERSION:-v0.316.0}"
PROMETHEUS_OPERATOR_VERSION="${PROMETHEUS_OPERATOR_VERSION:-v0.85.0}"
KSERVE_STORAGE_VERSION="${KSERVE_STORAGE_VERSION:-${KSERVE_VERSION#v}}"
PAUSE_IMAGE="registry.k8s.io/pause:3.10"
HELPER_IMAGE="local/busybox:1.35"
STORAGE_INITIALIZER_IMAGE="kserve/storage-initializer:${KSERVE_VERSION}"
PYTHON_IMAGE="python:3.11-slim-bookworm"
# The names the operator defaults to, so its StatefulSet needs no image settings.
CONFIG_RELOADER_IMAGE="quay.io/prometheus-operator/prometheus-config-reloader:$PROMETHEUS_OPERATOR_VERSION"
MONITORING_NAMESPACE="monitoring"

# Layout: everything under .cluster/ (git-ignored).
CLUSTER_DIR="${CLUSTER_DIR:-$ROOT/.cluster}"
BIN_DIR="$CLUSTER_DIR/bin"           # built binaries
PATH_DIR="$CLUSTER_DIR/path"         # kubectl, helm, crictl: what the exports put on PATH
BUILD_DIR="$CLUSTER_DIR/build"       # generated Go modules and image build contexts
DOCKER_ROOT="$CLUSTER_DIR/docker"    # dockerd's data (build cache), kept across up/down
CONTAINERD_ROOT="$CLUSTER_DIR/containerd"  # the node's image store, kept across up/down
RUN_DIR="$CLUSTER_DIR/run"           # state of the running cluster; removed by down
LOG_DIR="$CLUSTER_DIR/logs"          # one log per daemon; kept after down, reset by up
PID_DIR="$RUN_DIR/pids"
CERT_DIR="$RUN_DIR/pki"
KUBECONFIG_ADMIN="$RUN_DIR/admin.kubeconfig"
CONTAINERD_SOCK="$RUN_DIR/containerd/containerd.sock"
DOCKER_SOCK="$RUN_DIR/docker/docker.sock"

# Network: one bridge carries the pod range; the service range is routed onto it.
BRIDGE="${BRIDGE:-bccni0}"
POD_CIDR="${POD_CIDR:-10.244.0.0/24}"
NODE_IP="${NODE_IP:-10.244.0.1}"
SERVICE_CIDR="${SERVICE_CIDR:-10.96.0.0/16}"
API_SERVICE_IP="${API_SERVICE_IP:-10.96.0.1}"
DNS_SERVICE_IP="${DNS_SERVICE_IP:-10.96.0.10}"
NODE_NAME="${NODE_NAME:-local-node}"
API_PORT=6443
# Kernel settings the cluster needs or that the kubelet changes; saved by up, restored by down.
SYSCTLS=(net.ipv4.ip_forward net.bridge.bridge-nf-call-iptables
  net.bridge.bridge-nf-call-ip6tables vm.overcommit_memory vm.panic_on_oom kernel.panic
  kernel.panic_on_oops kernel.keys.root_maxkeys kernel.keys.root_maxbytes
  net.netfilter.nf_conntrack_max net.netfilter.nf_conntrack_tcp_timeout_established
  net.netfilter.nf_conntrack_tcp_timeout_close_wait)
# Directories outside .cluster/ that the daemons create when missing; down removes them
# again when they are empty and did not exist before up.
OUTSIDE_DIRS=(/run/containerd/s /run/containerd /run/netns /var/lib/cni /var/log/containers
  /var/log/pods)

log() { printf '[local-cluster %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
# v0.316.0 -> 3.16.0
prometheus_release() {
  local minor="${PROMETHEUS_VERSION#v0.}"
  echo "$((${minor%%.*} / 100)).$((${minor%%.*} % 100)).${minor#*.}"
}
prometheus_image() { echo "quay.io/prometheus/prometheus:v$(prometheus_release)"; }
die() { log "ERROR: $*"; exit 1; }
upstream_failure() { log "UPSTREAM FAILURE: $*"; exit 3; }
kubectl() { "$BIN_DIR/kubectl" --kubeconfig "$KUBECONFIG_ADMIN" "$@"; }

print_exports() {
  printf 'export KUBECONFIG=%q\n' "$KUBECONFIG_ADMIN"
  # The daemon that built the images (e2e.sh runs the project image as docker would).
  printf 'export DOCKER_HOST=%q\n' "unix://$DOCKER_SOCK"
  # shellcheck disable=SC2016 # $PATH is for the shell that evaluates the line
  printf 'export PATH=%q:"$PATH"\n' "$PATH_DIR"
}

# --- processes ---------------------------------------------------------------------------

pid_of() { cat "$PID_DIR/$1.pid" 2>/dev/null || true; }

# True when the process recorded in the PID file runs the binary it was started with.
is_running() {
  local pid exe
  pid="$(pid_of "$1")"
  [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null || return 1
  exe="$(readlink "/proc/$pid/exe" 2>/dev/null || true)"
  [[ "$exe" == "$(cat "$PID_DIR/$1.exe" 2>/dev/null)" ]]
}

# start_daemon NAME COMMAND...: run in the background with its own log and PID file.
start_daemon() {
  local name="$1"
  shift
  if is_running "$name"; then
    return 0
  fi
  mkdir -p "$PID_DIR" "$LOG_DIR"
  log "starting $name (log: ${LOG_DIR#"$ROOT"/}/$name.log)"
  setsid "$@" </dev/null >>"$LOG_DIR/$name.log" 2>&1 &
  echo $! >"$PID_DIR/$name.pid"
  readlink -f "$(command -v "$1")" >"$PID_DIR/$name.exe"
}

stop_daemon() {
  local name="$1" pid
  pid="$(pid_of "$name")"
  if is_running "$name"; then
    log "stopping $name (pid $pid)"
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 1 100); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.1
    done
    kill -9 "$pid" 2>/dev/null || true
  fi
  rm -f "$PID_DIR/$name.pid" "$PID_DIR/$name.exe"
}

# wait_for WHAT SECONDS COMMAND...: retry COMMAND once a second.
wait_for() {
  local what="$1" seconds="$2"
  shift 2
  for _ in $(seq 1 "$seconds"); do
    if "$@" >/dev/null 2>&1; then
      return 0
    fi
    sleep 1
  done
  die "timed out after ${seconds}s waiting for $what (logs in $LOG_DIR)"
}

# --- host prerequisites ------------------------------------------------------------------

ensure_packages() {
  local missing=()
  local -A needs=(
    [/usr/sbin/dockerd]=docker.io [/usr/bin/containerd]=containerd [/usr/sbin/runc]=runc
    [/usr/lib/cni/bridge]=containernetworking-plugins [/usr/bin/catatonit]=catatonit
    [/usr/sbin/debootstrap]=debootstrap [/bin/busybox]=busybox-static
    [/usr/sbin/conntrack]=conntrack [/usr/sbin/iptables]=iptables [/usr/bin/jq]=jq
    [/usr/bin/openssl]=openssl [/usr/bin/curl]=curl [/usr/sbin/nft]=nftables
    [/usr/sbin/ipset]=ipset
  )
  for path in "${!needs[@]}"; do
    [[ -x "$path" ]] || missing+=("${needs[$path]}")
  done
  if [[ ${#missing[@]} -gt 0 ]]; then
    log "installing Debian packages: ${missing[*]}"
    apt-get update -qq >&2 || upstream_failure "apt-get update failed"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
      "${missing[@]}" >&2 || upstream_failure "apt-get install ${missing[*]} failed"
  fi
  command -v go >/dev/null || die "Go is needed to build the cluster's components"
}

# --- building the components ---------------------------------------------------------------

versions_stamp() {
  echo "kubernetes=$KUBE_VERSION coredns=$COREDNS_VERSION metrics-server=$METRICS_SERVER_VERSION" \
    "helm=$HELM_VERSION cri-tools=$CRI_TOOLS_VERSION local-path=$LOCAL_PATH_VERSION" \
    "kserve=$KSERVE_VERSION"
}

# Kubernetes' own module cannot be built with `go install` (its go.mod points the staging
# modules at local paths), so a generated module requires it, pins every staging module to
# the matching v0.x.y and lists all Go components as tools: one `go build` compiles the
# shared packages once.
build_kubernetes() {
  local mod="$BUILD_DIR/kube" kube_mod staging_version path ld
  log "building Kubernetes $KUBE_VERSION, etcd, CoreDNS $COREDNS_VERSION, metrics-server" \
    "$METRICS_SERVER_VERSION, helm $HELM_VERSION, crictl $CRI_TOOLS_VERSION (log: build-kube.log)"
  rm -rf "$mod"
  mkdir -p "$mod/etcd" "$mod/coredns"
  cat >"$mod/etcd/main.go" <<'EOF'
// etcd's server, as its own release binary runs it.
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() { etcdmain.Main(os.Args) }
EOF
  cat >"$mod/coredns/main.go" <<'EOF'
// CoreDNS with the plugins the cluster's Corefile uses.
package main

import (
	_ "github.com/coredns/coredns/core/dnsserver"
	"github.com/coredns/coredns/coremain"
	_ "github.com/coredns/coredns/plugin/bind"
	_ "github.com/coredns/coredns/plugin/cache"
	_ "github.com/coredns/coredns/plugin/errors"
	_ "github.com/coredns/coredns/plugin/forward"
	_ "github.com/coredns/coredns/plugin/health"
	_ "github.com/coredns/coredns/plugin/kubernetes"
	_ "github.com/coredns/coredns/plugin/loadbalance"
	_ "github.com/coredns/coredns/plugin/ready"
)

func main() { coremain.Run() }
EOF
  (
    cd "$mod"
    go mod init local.test/cluster
    go mod edit -go=1.25.0 \
      -require="k8s.io/kubernetes@$KUBE_VERSION" \
      -require="github.com/coredns/coredns@$COREDNS_VERSION" \
      -require="sigs.k8s.io/metrics-server@$METRICS_SERVER_VERSION" \
      -require="helm.sh/helm/v3@$HELM_VERSION" \
      -require="sigs.k8s.io/cri-tools@$CRI_TOOLS_VERSION"
    kube_mod="$(go mod download -json "k8s.io/kubernetes@$KUBE_VERSION" | jq -r .GoMod)"
    staging_version="v0.${KUBE_VERSION#v1.}"
    for path in $(go mod edit -json "$kube_mod" |
      jq -r '.Replace[] | select(.New.Path | startswith("./staging/")) | .Old.Path'); do
      go mod edit -replace="$path=$path@$staging_version"
    done
    for path in kube-apiserver kube-controller-manager kube-scheduler kubelet kube-proxy kubectl; do
      go mod edit -tool="k8s.io/kubernetes/cmd/$path"
    done
    go mod edit -tool=sigs.k8s.io/metrics-server/cmd/metrics-server \
      -tool=helm.sh/helm/v3/cmd/helm -tool=sigs.k8s.io/cri-tools/cmd/crictl
    go mod tidy
  ) >"$LOG_DIR/build-kube.log" 2>&1 || upstream_failure "resolving the Kubernetes modules failed (see $LOG_DIR/build-kube.log)"
  ld="-s -w"
  for path in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    ld+=" -X $path.gitVersion=$KUBE_VERSION -X $path.gitTreeState=clean"
    ld+=" -X $path.gitMajor=1 -X $path.gitMinor=$(cut -d. -f2 <<<"$KUBE_VERSION")"
    ld+=" -X $path.buildDate=1970-01-01T00:00:00Z"
  done
  ld+=" -X helm.sh/helm/v3/internal/version.version=$HELM_VERSION"
  (
    cd "$mod"
    CGO_ENABLED=0 go build -trimpath -ldflags="$ld" -o "$BIN_DIR/" \
      k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kube-controller-manager \
      k8s.io/kubernetes/cmd/kube-scheduler k8s.io/kubernetes/cmd/kubelet \
      k8s.io/kubernetes/cmd/kube-proxy k8s.io/kubernetes/cmd/kubectl ./etcd ./coredns \
      sigs.k8s.io/metrics-server/cmd/metrics-server helm.sh/helm/v3/cmd/helm \
      sigs.k8s.io/cri-tools/cmd/crictl
  ) >>"$LOG_DIR/build-kube.log" 2>&1 || upstream_failure "building Kubernetes failed (see $LOG_DIR/build-kube.log)"
}

# local-path-provisioner (what kind uses for its default StorageClass) imports
# github.com/Sirupsen/logrus, which collides with sirupsen/logrus in the module above, so
# it is built on its own. The controller-manager's hostPath provisioner is not used: it
# makes each volume root-owned with mode 0750, which the chart's non-root Job cannot write.
build_local_path_provisioner() {
  local mod="$BUILD_DIR/local-path"
  log "building local-path-provisioner $LOCAL_PATH_VERSION (log: build-local-path.log)"
  rm -rf "$mod"
  mkdir -p "$mod"
  (
    cd "$mod"
    go mod init local.test/localpath
    go mod edit -require="github.com/rancher/local-path-provisioner@$LOCAL_PATH_VERSION" \
      -tool=github.com/rancher/local-path-provisioner
    go mod tidy
    CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o "$BIN_DIR/local-path-provisioner" \
      github.com/rancher/local-path-provisioner
  ) >"$LOG_DIR/build-local-path.log" 2>&1 ||
    upstream_failure "building local-path-provisioner failed (see $LOG_DIR/build-local-path.log)"
}

# KServe's go.mod pins some modules with `replace`, which only applies to its own module,
# so a generated module copies those replace lines and builds its controller.
build_kserve() {
  local mod="$BUILD_DIR/kserve" kserve_mod
  log "building the KServe $KSERVE_VERSION controller (log: build-kserve.log)"
  rm -rf "$mod"
  mkdir -p "$mod"
  (
    cd "$mod"
    go mod init local.test/kserve
    kserve_mod="$(go mod download -json "github.com/kserve/kserve@$KSERVE_VERSION" | jq -r .GoMod)"
    go mod edit -go="$(go mod edit -json "$kserve_mod" | jq -r .Go)" \
      -require="github.com/kserve/kserve@$KSERVE_VERSION" -tool=github.com/kserve/kserve/cmd/manager
    go mod edit -json "$kserve_mod" | jq -r '.Replace[]? |
      "-replace=\(.Old.Path)=\(.New.Path)@\(.New.Version)"' | xargs -r go mod edit
    go mod edit -json "$kserve_mod" | jq -r '.Exclude[]? | "-exclude=\(.Path)@\(.Version)"' |
      xargs -r go mod edit
    go mod tidy
    CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o "$BIN_DIR/kserve-manager" \
      github.com/kserve/kserve/cmd/manager
  ) >"$LOG_DIR/build-kserve.log" 2>&1 ||
    upstream_failure "building KServe failed (see $LOG_DIR/build-kserve.log)"
}

# NetworkPolicy enforcement: kube-router, of which only the network policy controller runs
# (iptables chains and ipsets). SIG Network's kube-network-policies would be the first choice,
# but it judges connections through nftables' queue expression, which this kernel lacks
# (CONFIG_NFT_QUEUE). A module of its own: it pins older Kubernetes libraries than the above.
build_kube_router() {
  local mod="$BUILD_DIR/kube-router"
  log "building kube-router $KUBE_ROUTER_VERSION (log: build-kube-router.log)"
  rm -rf "$mod"
  mkdir -p "$mod"
  (
    cd "$mod"
    go mod init local.test/kuberouter
    go mod edit -require="github.com/cloudnativelabs/kube-router/v2@$KUBE_ROUTER_VERSION" \
      -tool=github.com/cloudnativelabs/kube-router/v2/cmd/kube-router
    go mod tidy
    CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o "$BIN_DIR/kube-router" \
      github.com/cloudnativelabs/kube-router/v2/cmd/kube-router
  ) >"$LOG_DIR/build-kube-router.log" 2>&1 ||
    upstream_failure "building kube-router failed (see $LOG_DIR/build-kube-router.log)"
}

# Prometheus with Kubernetes service discovery only: its build tags leave the other discovery
# plugins and their cloud SDKs out. Its go.mod has no replace directives, so `go install
# module@version` builds it with exactly the versions it pins; promtool for `make test-alerts`
# is built the same way (tests/chart/promtool.py), so the Go build cache already holds most of
# these packages when the tests ran first.
build_prometheus() {
  log "building Prometheus $(prometheus_release), Kubernetes discovery only (log: build-prometheus.log)"
  GOBIN="$BIN_DIR" CGO_ENABLED=0 go install -trimpath -tags remove_all_sd,enable_kubernetes_sd \
    -ldflags="-s -w -X github.com/prometheus/common/version.Version=$(prometheus_release)" \
    "github.com/prometheus/prometheus/cmd/prometheus@$PROMETHEUS_VERSION" \
    >"$LOG_DIR/build-prometheus.log" 2>&1 ||
    upstream_failure "building Prometheus failed (see $LOG_DIR/build-prometheus.log)"
}

# prometheus-operator and the config reloader its Prometheus pods run. The module replaces
# two of its own submodules with local paths, which `go install module@version` refuses, so
# a generated module requires the three at the same version; one build compiles both.
build_prometheus_operator() {
  local mod="$BUILD_DIR/prometheus-operator" base="github.com/prometheus-operator/prometheus-operator"
  log "building prometheus-operator $PROMETHEUS_OPERATOR_VERSION and its config reloader (log: build-prometheus-operator.log)"
  rm -rf "$mod"
  mkdir -p "$mod/out"
  (
    cd "$mod"
    go mod init local.test/prometheusoperator
    go mod edit -require="$base@$PROMETHEUS_OPERATOR_VERSION" \
      -require="$base/pkg/apis/monitoring@$PROMETHEUS_OPERATOR_VERSION" \
      -require="$base/pkg/client@$PROMETHEUS_OPERATOR_VERSION" \
      -tool="$base/cmd/operator" -tool="$base/cmd/prometheus-config-reloader"
    go mod tidy
    CGO_ENABLED=0 go build -trimpath -o out/ \
      -ldflags="-s -w -X github.com/prometheus/common/version.Version=${PROMETHEUS_OPERATOR_VERSION#v}" \
      "$base/cmd/operator" "$base/cmd/prometheus-config-reloader"
    mv out/operator "$BIN_DIR/prometheus-operator"
    mv out/prometheus-config-reloader "$BIN_DIR/prometheus-config-reloader"
  ) >"$LOG_DIR/build-prometheus-operator.log" 2>&1 ||
    upstream_failure "building prometheus-operator failed (see $LOG_DIR/build-prometheus-operator.log)"
}

build_components() {
  local stamp="$BIN_DIR/.versions" binary
  mkdir -p "$BIN_DIR" "$LOG_DIR" "$PATH_DIR"
  if [[ "$(cat "$stamp" 2>/dev/null)" != "$(versions_stamp)" ]]; then
    rm -f "$stamp"
    local start=$SECONDS
    build_kubernetes
    build_local_path_provisioner
    build_kserve
    versions_stamp >"$stamp"
    log "built the components in $((SECONDS - start)) s"
  fi
  # A stamp of its own, so that adding or bumping it rebuilds nothing else.
  if [[ "$(cat "$BIN_DIR/.kube-router-version" 2>/dev/null)" != "$KUBE_ROUTER_VERSION" ]]; then
    rm -f "$BIN_DIR/.kube-router-version"
    build_kube_router
    echo "$KUBE_ROUTER_VERSION" >"$BIN_DIR/.kube-router-version"
  fi
  local monitoring="prometheus=$PROMETHEUS_VERSION operator=$PROMETHEUS_OPERATOR_VERSION"
  if [[ "$(cat "$BIN_DIR/.prometheus-versions" 2>/dev/null)" != "$monitoring" ]]; then
    rm -f "$BIN_DIR/.prometheus-versions"
    local start=$SECONDS
    build_prometheus
    log "built Prometheus in $((SECONDS - start)) s"
    start=$SECONDS
    build_prometheus_operator
    log "built prometheus-operator in $((SECONDS - start)) s"
    echo "$monitoring" >"$BIN_DIR/.prometheus-versions"
  fi
  for binary in kubectl helm crictl; do
    ln -sf "$BIN_DIR/$binary" "$PATH_DIR/$binary"
  done
}

kserve_source() { go mod download -json "github.com/kserve/kserve@$KSERVE_VERSION" | jq -r .Dir; }

# --- certificates ------------------------------------------------------------------------

# issue_cert NAME CN ORG SANS: a key and a certificate signed by the cluster CA.
issue_cert() {
  local name="$1" cn="$2" org="$3" sans="$4" ca="${5:-ca}" ext
  [[ -f "$CERT_DIR/$name.crt" ]] && return 0
  ext="$CERT_DIR/$name.ext"
  {
    echo "basicConstraints=CA:FALSE"
    echo "keyUsage=critical,digitalSignature,keyEncipherment"
    if [[ -n "$sans" ]]; then
      echo "extendedKeyUsage=serverAuth,clientAuth"
      echo "subjectAltName=$sans"
    else
      echo "extendedKeyUsage=clientAuth"
    fi
  } >"$ext"
  openssl genrsa -out "$CERT_DIR/$name.key" 2048 2>/dev/null
  openssl req -new -key "$CERT_DIR/$name.key" -subj "/CN=$cn${org:+/O=$org}" \
    -out "$CERT_DIR/$name.csr" 2>/dev/null
  openssl x509 -req -in "$CERT_DIR/$name.csr" -CA "$CERT_DIR/$ca.crt" -CAkey "$CERT_DIR/$ca.key" \
    -CAcreateserial -days 30 -extfile "$ext" -out "$CERT_DIR/$name.crt" 2>/dev/null
  rm -f "$CERT_DIR/$name.csr" "$ext"
}

# write_kubeconfig NAME: a kubeconfig for the client certificate NAME.
write_kubeconfig() {
  local name="$1"
  cat >"$RUN_DIR/$name.kubeconfig" <<EOF
apiVersion: v1
kind: Config
clusters:
  - name: local
    cluster:
      server: https://$NODE_IP:$API_PORT
      certificate-authority: $CERT_DIR/ca.crt
users:
  - name: $name
    user:
      client-certificate: $CERT_DIR/$name.crt
      client-key: $CERT_DIR/$name.key
contexts:
  - name: local
    context: {cluster: local, user: $name}
current-context: local
EOF
}

generate_certs() {
  mkdir -p "$CERT_DIR"
  if [[ ! -f "$CERT_DIR/ca.crt" ]]; then
    log "generating the cluster CA, front-proxy CA and certificates"
    for ca in ca front-proxy-ca; do
      openssl req -x509 -newkey rsa:2048 -nodes -days 30 -subj "/CN=local-cluster-$ca" \
        -keyout "$CERT_DIR/$ca.key" -out "$CERT_DIR/$ca.crt" 2>/dev/null
    done
    openssl genrsa -out "$CERT_DIR/sa.key" 2048 2>/dev/null
    openssl rsa -in "$CERT_DIR/sa.key" -pubout -out "$CERT_DIR/sa.pub" 2>/dev/null
  fi
  local api_sans="IP:$NODE_IP,IP:127.0.0.1,IP:$API_SERVICE_IP,DNS:localhost,DNS:kubernetes"
  api_sans+=",DNS:kubernetes.default,DNS:kubernetes.default.svc"
  api_sans+=",DNS:kubernetes.default.svc.cluster.local"
  issue_cert apiserver kube-apiserver "" "$api_sans"
  issue_cert apiserver-kubelet-client kube-apiserver-kubelet-client system:masters ""
  issue_cert front-proxy-client front-proxy-client "" "" front-proxy-ca
  issue_cert admin admin system:masters ""
  issue_cert controller-manager system:kube-controller-manager "" ""
  issue_cert scheduler system:kube-scheduler "" ""
  issue_cert kubelet "system:node:$NODE_NAME" system:nodes ""
  issue_cert kube-proxy system:kube-proxy "" ""
  issue_cert kubelet-serving "$NODE_NAME" "" "IP:$NODE_IP,DNS:$NODE_NAME"
  issue_cert metrics-server metrics-server "" \
    "DNS:metrics-server.kube-system.svc,IP:$NODE_IP"
  issue_cert kserve-webhook kserve-webhook-server "" \
    "DNS:kserve-webhook-server-service.kserve.svc,IP:$NODE_IP"
  for name in admin controller-manager scheduler kubelet kube-proxy; do
    write_kubeconfig "$name"
  done
}

# --- network -------------------------------------------------------------------------------

save_host_state() {
  [[ -f "$RUN_DIR/host-state.saved" ]] && return 0
  mkdir -p "$RUN_DIR"
  {
    for key in "${SYSCTLS[@]}"; do
      echo "sysctl $key=$(sysctl -n "$key" 2>/dev/null || echo -)"
    done
    for dir in "${OUTSIDE_DIRS[@]}"; do
      [[ -e "$dir" ]] && echo "existed $dir"
    done
    nft list tables 2>/dev/null | sed 's/^/nft-table /'
  } >"$RUN_DIR/host-state.saved"
}

setup_network() {
  if ! ip link show "$BRIDGE" >/dev/null 2>&1; then
    for cidr in "$POD_CIDR" "$SERVICE_CIDR"; do
      if ip route show to match "${cidr%/*}" | grep -qv '^default'; then
        die "$cidr is already routed on this machine: $(ip route show to match "${cidr%/*}" | head -n 1)"
      fi
    done
    log "creating bridge $BRIDGE ($NODE_IP, pods $POD_CIDR, services $SERVICE_CIDR)"
    ip link add "$BRIDGE" type bridge
    ip addr add "$NODE_IP/${POD_CIDR#*/}" dev "$BRIDGE"
    ip link set "$BRIDGE" up
  fi
  # Host traffic to ClusterIPs is routed onto the bridge before kube-proxy's DNAT, so it
  # never leaves through the default interface even when no rule matches.
  ip route replace "$SERVICE_CIDR" dev "$BRIDGE" src "$NODE_IP"
  check_routes
  sysctl -qw net.ipv4.ip_forward=1 net.bridge.bridge-nf-call-iptables=1
}

# Refuse to go on unless pod and service addresses are routed onto the bridge.
check_routes() {
  local ip
  for ip in "${POD_CIDR%.*}.2" "$API_SERVICE_IP" "$DNS_SERVICE_IP"; do
    ip -4 route get "$ip" | grep -q " dev $BRIDGE " ||
      die "$ip is not routed onto $BRIDGE: $(ip -4 route get "$ip" | head -n 1)"
  done
}

# The chains the cluster's daemons create: kube-proxy and kubelet (KUBE-*), CNI (CNI-*).
OWNED_CHAINS='(KUBE|CNI)-[A-Za-z0-9_-]*'

remove_owned_iptables() {
  local tool table dump
  for tool in iptables ip6tables; do
    for table in filter nat mangle raw; do
      # Saved once into a variable: `save | grep -q` under pipefail fails when grep exits
      # early and save gets SIGPIPE, which skipped big tables.
      dump="$("$tool-save" -t "$table" 2>/dev/null)" || continue
      grep -qE "$OWNED_CHAINS" <<<"$dump" || continue
      grep -vE -- "^:$OWNED_CHAINS |-j $OWNED_CHAINS|^-A $OWNED_CHAINS " <<<"$dump" |
        "$tool-restore" -T "$table" || log "could not clean $tool table $table"
    done
  done
}

# nftables tables that iptables-nft created during the run and that are empty again.
remove_new_empty_nft_tables() {
  local family name
  while read -r _ family name; do
    grep -qx "nft-table table $family $name" "$RUN_DIR/host-state.saved" && continue
    if ! nft list table "$family" "$name" 2>/dev/null | grep -qvE '^\s*(table|chain|type|policy|\}|$)'; then
      nft delete table "$family" "$name" || true
    fi
  done < <(nft list tables 2>/dev/null)
}

owned_ipsets() { ipset list -n 2>/dev/null | grep -E '^(inet6:)?KUBE-' || true; }

# kube-router's ipsets, once no iptables rule refers to them any more (after the owned chains
# and the emptied tables are gone); a set still referenced cannot be destroyed, so retry.
remove_owned_ipsets() {
  command -v ipset >/dev/null || return 0
  local set
  for _ in $(seq 1 20); do
    for set in $(owned_ipsets); do
      ipset destroy "$set" 2>/dev/null || true
    done
    [[ -z "$(owned_ipsets)" ]] && return 0
    sleep 0.5
  done
  log "could not destroy ipsets: $(owned_ipsets | tr '\n' ' ')"
}

teardown_network() {
  # Without the saved host state this directory never set up the network (an `up` that
  # refused because another cluster holds the bridge): that cluster's bridge stays.
  [[ -f "$RUN_DIR/host-state.saved" ]] || return 0
  remove_owned_iptables
  remove_new_empty_nft_tables
  remove_owned_ipsets
  ip route del "$SERVICE_CIDR" dev "$BRIDGE" 2>/dev/null || true
  if ip link show "$BRIDGE" >/dev/null 2>&1; then
    log "removing bridge $BRIDGE"
    ip link del "$BRIDGE"
  fi
}

restore_host_state() {
  local saved="$RUN_DIR/host-state.saved" key value dir
  [[ -f "$saved" ]] || return 0
  while IFS='=' read -r key value; do
    [[ "$value" == "-" ]] || sysctl -qw "$key=$value" 2>/dev/null || true
  done < <(sed -n 's/^sysctl //p' "$saved")
  for dir in "${OUTSIDE_DIRS[@]}"; do
    if ! grep -qx "existed $dir" "$saved" && [[ -d "$dir" ]]; then
      if [[ "$dir" == /var/log/containers ]]; then
        find "$dir" -maxdepth 1 -type l -lname "$RUN_DIR/*" -delete
      fi
      find "$dir" -depth -type d -empty -delete 2>/dev/null || true
      if [[ -e "$dir" ]]; then
        log "left $dir in place: not empty"
      fi
    fi
  done
}

# --- docker and images ---------------------------------------------------------------------

docker_cli() { DOCKER_HOST="unix://$DOCKER_SOCK" docker "$@"; }

# dockerd only builds images here: no bridge, no iptables rules, no ip_forward change;
# builds use the host network.
start_docker() {
  mkdir -p "$DOCKER_ROOT" "$RUN_DIR/docker"
  start_daemon dockerd /usr/sbin/dockerd --host "unix://$DOCKER_SOCK" \
    --data-root "$DOCKER_ROOT" --exec-root "$RUN_DIR/docker/exec" \
    --pidfile "$RUN_DIR/docker/dockerd.pid" --bridge none --iptables=false \
    --ip-forward=false --ip-masq=false
  wait_for dockerd 60 docker_cli info
}

image_exists() { docker_cli image inspect "$1" >/dev/null 2>&1; }

# A stand-in for python:3.11-slim-bookworm from Debian's own packages, used only when the
# real image cannot be pulled. It carries the host's extra CA certificates: HTTPS from a
# build may go through a TLS-intercepting proxy.
build_python_base() {
  image_exists "$PYTHON_IMAGE" && return 0
  if timeout 120 env DOCKER_HOST="unix://$DOCKER_SOCK" docker pull "$PYTHON_IMAGE" >&2 2>&1; then
    return 0
  fi
  log "$PYTHON_IMAGE cannot be pulled: building a stand-in from Debian bookworm"
  local ctx="$BUILD_DIR/python-base"
  if ! image_exists local/debian:bookworm; then
    rm -rf "$BUILD_DIR/rootfs"
    debootstrap --variant=minbase bookworm "$BUILD_DIR/rootfs" >"$LOG_DIR/debootstrap.log" 2>&1 ||
      upstream_failure "debootstrap bookworm failed (see $LOG_DIR/debootstrap.log)"
    # As Debian's own container images: no package cache, lists or documentation.
    rm -rf "$BUILD_DIR"/rootfs/var/cache/apt/archives/*.deb "$BUILD_DIR"/rootfs/var/cache/apt/*.bin \
      "$BUILD_DIR"/rootfs/var/lib/apt/lists/* "$BUILD_DIR"/rootfs/usr/share/doc/* \
      "$BUILD_DIR"/rootfs/usr/share/man/* "$BUILD_DIR"/rootfs/usr/share/locale/*
    printf '%s\n' 'path-exclude /usr/share/doc/*' 'path-exclude /usr/share/man/*' \
      'path-exclude /usr/share/locale/*' 'path-exclude /usr/share/info/*' \
      >"$BUILD_DIR/rootfs/etc/dpkg/dpkg.cfg.d/excludes"
    tar -C "$BUILD_DIR/rootfs" -c . | docker_cli import - local/debian:bookworm >/dev/null
    rm -rf "$BUILD_DIR/rootfs"
  fi
  rm -rf "$ctx"
  mkdir -p "$ctx/ca"
  cp /usr/local/share/ca-certificates/*.crt "$ctx/ca/" 2>/dev/null || true
  cat >"$ctx/Dockerfile" <<'EOF'
FROM local/debian:bookworm
COPY ca/ /usr/local/share/ca-certificates/
RUN apt-get update \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
       python3.11 python3.11-venv python3-pip ca-certificates \
    && update-ca-certificates \
    && apt-get clean \
    && rm -rf /var/lib/apt/lists/* /usr/lib/python3.11/EXTERNALLY-MANAGED \
    && ln -s /usr/bin/python3.11 /usr/local/bin/python3.11 \
    && ln -s /usr/bin/python3.11 /usr/local/bin/python3 \
    && ln -s /usr/bin/python3.11 /usr/local/bin/python \
    && python3.11 -m pip install --no-cache-dir --ignore-installed pip setuptools wheel
ENV SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt
CMD ["python3"]
EOF
  docker_cli build --network host --tag "$PYTHON_IMAGE" "$ctx" >"$LOG_DIR/image-python-base.log" 2>&1 ||
    upstream_failure "building the $PYTHON_IMAGE stand-in failed (see $LOG_DIR/image-python-base.log)"
}

# The pod sandbox ("pause") image: Debian's catatonit, a static init that reaps zombies.
build_pause_image() {
  image_exists "$PAUSE_IMAGE" && return 0
  local ctx="$BUILD_DIR/pause"
  mkdir -p "$ctx"
  cp /usr/bin/catatonit "$ctx/catatonit"
  printf 'FROM scratch\nCOPY catatonit /pause\nUSER 65535:65535\nENTRYPOINT ["/pause", "-P"]\n' \
    >"$ctx/Dockerfile"
  docker_cli build --quiet --network host --tag "$PAUSE_IMAGE" "$ctx" >/dev/null
}

# The helper image local-path-provisioner runs to create and delete volume directories.
build_helper_image() {
  image_exists "$HELPER_IMAGE" && return 0
  local ctx="$BUILD_DIR/helper"
  mkdir -p "$ctx"
  cp /bin/busybox "$ctx/busybox"
  printf 'FROM scratch\nCOPY busybox /bin/busybox\nRUN ["/bin/busybox", "--install", "-s", "/bin"]\n' \
    >"$ctx/Dockerfile"
  docker_cli build --quiet --network host --tag "$HELPER_IMAGE" "$ctx" >/dev/null
}

# KServe's storage initializer (the init container that downloads s3:// models), built
# from PyPI's kserve-storage with the same entry point as KServe's own image.
build_storage_initializer_image() {
  image_exists "$STORAGE_INITIALIZER_IMAGE" && return 0
  local ctx="$BUILD_DIR/storage-initializer"
  log "building $STORAGE_INITIALIZER_IMAGE from PyPI's kserve-storage==$KSERVE_STORAGE_VERSION"
  mkdir -p "$ctx"
  cat >"$ctx/initializer-entrypoint" <<'EOF'
#!/usr/bin/env python3
"""Download each src_uri to its dest_path: initializer-entrypoint SRC DEST [SRC DEST...]."""
import os
import sys

from kserve_storage import Storage
from kserve_storage.logging import configure_logging

configure_logging()
if len(sys.argv) < 3 or len(sys.argv) % 2 != 1:
    sys.exit("usage: initializer-entrypoint src_uri dest_path [src_uri dest_path ...]")
for dest in sys.argv[2::2]:
    os.makedirs(dest, exist_ok=True)
Storage.download_files(sys.argv[1::2], sys.argv[2::2])
EOF
  chmod 0755 "$ctx/initializer-entrypoint"
  cat >"$ctx/Dockerfile" <<EOF
FROM $PYTHON_IMAGE
RUN python -m venv /opt/venv \\
    && /opt/venv/bin/pip install --no-cache-dir kserve-storage==$KSERVE_STORAGE_VERSION \\
    && useradd --uid 1000 --create-home kserve && chown 1000 /mnt
ENV PATH=/opt/venv/bin:\$PATH
COPY initializer-entrypoint /storage-initializer/scripts/initializer-entrypoint
USER 1000
ENTRYPOINT ["/storage-initializer/scripts/initializer-entrypoint"]
EOF
  docker_cli build --network host --tag "$STORAGE_INITIALIZER_IMAGE" "$ctx" \
    >"$LOG_DIR/image-storage-initializer.log" 2>&1 ||
    upstream_failure "building $STORAGE_INITIALIZER_IMAGE failed (see $LOG_DIR/image-storage-initializer.log)"
}

# An image holding one static binary of .cluster/bin, FROM scratch, as nobody; the operator's
# pods run them under their own UID.
build_binary_image() {
  local image="$1" binary="$2" ctx="$BUILD_DIR/image-$2"
  image_exists "$image" && return 0
  rm -rf "$ctx"
  mkdir -p "$ctx"
  cp "$BIN_DIR/$binary" "$ctx/$binary"
  printf 'FROM scratch\nCOPY %s /bin/%s\nUSER 65534:65534\nENTRYPOINT ["/bin/%s"]\n' \
    "$binary" "$binary" "$binary" >"$ctx/Dockerfile"
  docker_cli build --quiet --network host --tag "$image" "$ctx" >/dev/null
}

# The project's image, from the repository's Dockerfile, tagged as the chart expects.
build_project_image() {
  local image="$1"
  log "building $image from the repository's Dockerfile (log: image-project.log)"
  docker_cli build --network host --tag "$image" "$ROOT" >"$LOG_DIR/image-project.log" 2>&1 ||
    die "building $image failed (see $LOG_DIR/image-project.log)"
}

chart_image() {
  local app_version
  app_version="$(sed -n 's/^appVersion: *"\{0,1\}\([^"]*\)"\{0,1\}$/\1/p' "$ROOT/charts/breast-cancer/Chart.yaml")"
  echo "breast-cancer-kserve:$app_version"
}

ctr_k8s() { ctr --address "$CONTAINERD_SOCK" --namespace k8s.io "$@"; }

# Copy an image from docker into the node's containerd unless the same image is there.
load_image() {
  local image="$1" id
  id="$(docker_cli image inspect --format '{{.Id}}' "$image")"
  if ctr_k8s images ls -q | grep -qE "(^|/)${image//./\\.}\$" &&
    [[ "$(cat "$CONTAINERD_ROOT/.loaded-${image//[\/:]/_}" 2>/dev/null)" == "$id" ]]; then
    return 0
  fi
  log "loading $image into the node"
  docker_cli save "$image" | ctr_k8s images import --no-unpack=false - >/dev/null
  echo "$id" >"$CONTAINERD_ROOT/.loaded-${image//[\/:]/_}"
}

build_images() {
  build_python_base
  build_pause_image
  build_helper_image
  build_storage_initializer_image
  build_project_image "$(chart_image)"
  build_binary_image "$(prometheus_image)" prometheus
  build_binary_image "$CONFIG_RELOADER_IMAGE" prometheus-config-reloader
  for image in "$PAUSE_IMAGE" "$HELPER_IMAGE" "$STORAGE_INITIALIZER_IMAGE" "$(chart_image)" \
    "$(prometheus_image)" "$CONFIG_RELOADER_IMAGE"; do
    load_image "$image"
  done
}

# --- the node's container runtime ---------------------------------------------------------

start_containerd() {
  is_running containerd && return 0 # its configuration stays as it started with
  mkdir -p "$RUN_DIR/containerd" "$CONTAINERD_ROOT" "$RUN_DIR/cni/net.d" "$RUN_DIR/cni/ipam"
  # restrict_oom_score_adj: this VM lacks CAP_SYS_RESOURCE, so negative scores would fail.
  cat >"$RUN_DIR/containerd/config.toml" <<EOF
version = 2
root = "$CONTAINERD_ROOT"
state = "$RUN_DIR/containerd/state"
disabled_plugins = ["io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.btrfs",
  "io.containerd.snapshotter.v1.devmapper", "io.containerd.snapshotter.v1.zfs",
  "io.containerd.tracing.processor.v1.otlp", "io.containerd.internal.v1.tracing"]
[grpc]
  address = "$CONTAINERD_SOCK"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "$PAUSE_IMAGE"
  restrict_oom_score_adj = true
  enable_cdi = false
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "$RUN_DIR/cni/net.d"
  [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
    runtime_type = "io.containerd.runc.v2"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
      SystemdCgroup = false
      Root = "$RUN_DIR/containerd/runc"
EOF
  # The pods' network: the bridge above, addresses from host-local, hostPort mapping, and
  # firewall rules that let pod traffic through a FORWARD policy of DROP.
  cat >"$RUN_DIR/cni/net.d/10-local-cluster.conflist" <<EOF
{
  "cniVersion": "1.0.0",
  "name": "local-cluster",
  "plugins": [
    {
      "type": "bridge",
      "bridge": "$BRIDGE",
      "isGateway": true,
      "ipMasq": false,
      "hairpinMode": true,
      "ipam": {
        "type": "host-local",
        "ranges": [[{"subnet": "$POD_CIDR", "gateway": "$NODE_IP"}]],
        "routes": [{"dst": "0.0.0.0/0"}],
        "dataDir": "$RUN_DIR/cni/ipam"
      }
    },
    {"type": "portmap", "capabilities": {"portMappings": true}},
    {"type": "firewall"}
  ]
}
EOF
  start_daemon containerd /usr/bin/containerd --config "$RUN_DIR/containerd/config.toml"
  wait_for containerd 30 ctr --address "$CONTAINERD_SOCK" version
}

# --- control plane -------------------------------------------------------------------------

start_etcd() {
  start_daemon etcd "$BIN_DIR/etcd" --name local --data-dir "$RUN_DIR/etcd" \
    --listen-client-urls http://127.0.0.1:2379 --advertise-client-urls http://127.0.0.1:2379 \
    --listen-peer-urls http://127.0.0.1:2380 --initial-advertise-peer-urls http://127.0.0.1:2380 \
    --initial-cluster local=http://127.0.0.1:2380 --listen-metrics-urls http://127.0.0.1:2381 \
    --unsafe-no-fsync --log-level warn
  wait_for etcd 30 curl -fsS http://127.0.0.1:2381/health
}

start_apiserver() {
  start_daemon kube-apiserver "$BIN_DIR/kube-apiserver" \
    --etcd-servers=http://127.0.0.1:2379 \
    --bind-address="$NODE_IP" --advertise-address="$NODE_IP" --secure-port="$API_PORT" \
    --cert-dir="$RUN_DIR/apiserver" \
    --tls-cert-file="$CERT_DIR/apiserver.crt" --tls-private-key-file="$CERT_DIR/apiserver.key" \
    --client-ca-file="$CERT_DIR/ca.crt" \
    --kubelet-client-certificate="$CERT_DIR/apiserver-kubelet-client.crt" \
    --kubelet-client-key="$CERT_DIR/apiserver-kubelet-client.key" \
    --kubelet-certificate-authority="$CERT_DIR/ca.crt" --kubelet-preferred-address-types=InternalIP \
    --service-account-issuer=https://kubernetes.default.svc.cluster.local \
    --service-account-key-file="$CERT_DIR/sa.pub" \
    --service-account-signing-key-file="$CERT_DIR/sa.key" \
    --service-cluster-ip-range="$SERVICE_CIDR" \
    --authorization-mode=Node,RBAC --enable-admission-plugins=NodeRestriction \
    --allow-privileged=true \
    --requestheader-client-ca-file="$CERT_DIR/front-proxy-ca.crt" \
    --requestheader-allowed-names=front-proxy-client \
    --requestheader-username-headers=X-Remote-User \
    --requestheader-group-headers=X-Remote-Group \
    --requestheader-extra-headers-prefix=X-Remote-Extra- \
    --proxy-client-cert-file="$CERT_DIR/front-proxy-client.crt" \
    --proxy-client-key-file="$CERT_DIR/front-proxy-client.key" \
    --enable-aggregator-routing=true --profiling=false
  wait_for kube-apiserver 120 kubectl get --raw /readyz
}

start_controller_manager() {
  start_daemon kube-controller-manager "$BIN_DIR/kube-controller-manager" \
    --kubeconfig="$RUN_DIR/controller-manager.kubeconfig" \
    --authentication-kubeconfig="$RUN_DIR/controller-manager.kubeconfig" \
    --authorization-kubeconfig="$RUN_DIR/controller-manager.kubeconfig" \
    --bind-address=127.0.0.1 --cert-dir="$RUN_DIR/controller-manager" \
    --service-account-private-key-file="$CERT_DIR/sa.key" --root-ca-file="$CERT_DIR/ca.crt" \
    --use-service-account-credentials=true \
    --cluster-signing-cert-file="$CERT_DIR/ca.crt" --cluster-signing-key-file="$CERT_DIR/ca.key" \
    --service-cluster-ip-range="$SERVICE_CIDR" --cluster-cidr="$POD_CIDR" \
    --leader-elect=false --profiling=false
}

start_scheduler() {
  start_daemon kube-scheduler "$BIN_DIR/kube-scheduler" \
    --kubeconfig="$RUN_DIR/scheduler.kubeconfig" \
    --authentication-kubeconfig="$RUN_DIR/scheduler.kubeconfig" \
    --authorization-kubeconfig="$RUN_DIR/scheduler.kubeconfig" \
    --bind-address=127.0.0.1 --leader-elect=false --profiling=false
}

# --- node ----------------------------------------------------------------------------------

start_kubelet() {
  is_running kubelet && return 0 # its configuration stays as it started with
  mkdir -p "$RUN_DIR/kubelet" "$RUN_DIR/pod-logs"
  # Image garbage collection is off: the node's images are imported, not pullable.
  cat >"$RUN_DIR/kubelet.yaml" <<EOF
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
address: $NODE_IP
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
authentication:
  anonymous: {enabled: false}
  webhook: {enabled: true}
  x509: {clientCAFile: $CERT_DIR/ca.crt}
authorization: {mode: Webhook}
tlsCertFile: $CERT_DIR/kubelet-serving.crt
tlsPrivateKeyFile: $CERT_DIR/kubelet-serving.key
containerRuntimeEndpoint: unix://$CONTAINERD_SOCK
cgroupDriver: cgroupfs
failSwapOn: false
clusterDNS: [$DNS_SERVICE_IP]
clusterDomain: cluster.local
resolvConf: /etc/resolv.conf
podLogsDir: $RUN_DIR/pod-logs
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
evictionHard: {memory.available: 100Mi, nodefs.available: 1Gi, imagefs.available: 1Gi}
serializeImagePulls: false
EOF
  start_daemon kubelet "$BIN_DIR/kubelet" --config="$RUN_DIR/kubelet.yaml" \
    --kubeconfig="$RUN_DIR/kubelet.kubeconfig" --root-dir="$RUN_DIR/kubelet" \
    --hostname-override="$NODE_NAME" --node-ip="$NODE_IP"
}

start_kube_proxy() {
  is_running kube-proxy && return 0 # its configuration stays as it started with
  cat >"$RUN_DIR/kube-proxy.yaml" <<EOF
apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
clientConnection: {kubeconfig: $RUN_DIR/kube-proxy.kubeconfig}
hostnameOverride: $NODE_NAME
mode: iptables
clusterCIDR: $POD_CIDR
healthzBindAddress: 127.0.0.1:10256
metricsBindAddress: 127.0.0.1:10249
nodePortAddresses: [$NODE_IP/32]
iptables: {localhostNodePorts: false, minSyncPeriod: 1s}
conntrack: {maxPerCore: 0, min: 0, tcpEstablishedTimeout: 0s, tcpCloseWaitTimeout: 0s}
EOF
  start_daemon kube-proxy "$BIN_DIR/kube-proxy" --config="$RUN_DIR/kube-proxy.yaml"
}

# kube-router's network policy controller alone (no routing, no service proxy, no CNI
# config), as a host process. Its chains (KUBE-ROUTER-*, KUBE-POD-FW-*, KUBE-NWPLCY-*) hook
# INPUT, FORWARD and OUTPUT; pods' addresses go into ipsets (KUBE-SRC-*, KUBE-DST-*). A
# connection a policy denies is rejected (ICMP port unreachable), not silently dropped.
start_kube_router() {
  start_daemon kube-router "$BIN_DIR/kube-router" --kubeconfig="$KUBECONFIG_ADMIN" \
    --hostname-override="$NODE_NAME" --run-firewall=true --run-router=false \
    --run-service-proxy=false --enable-cni=false --service-cluster-ip-range="$SERVICE_CIDR" \
    --health-port=0 --metrics-port=0
  wait_for "kube-router's network policy chains" 60 iptables -w -n -L KUBE-ROUTER-FORWARD
}

wait_node_ready() {
  wait_for "node $NODE_NAME to be Ready" 180 \
    kubectl wait --for=condition=Ready "node/$NODE_NAME" --timeout=1s
  wait_for "the default service account" 60 kubectl -n default get serviceaccount default
}

# --- add-ons -------------------------------------------------------------------------------

# A Service without selector whose only endpoint is a host process on the bridge address.
host_service() {
  local namespace="$1" name="$2" cluster_ip="$3" ports_json="$4"
  kubectl apply -f - >/dev/null <<EOF
{"apiVersion": "v1", "kind": "Service",
 "metadata": {"name": "$name", "namespace": "$namespace", "labels": {"k8s-app": "$name"}},
 "spec": {$cluster_ip "ports": $(jq -c '[.[] | {name, port, targetPort, protocol}]' <<<"$ports_json")}}
EOF
  kubectl apply -f - >/dev/null <<EOF
{"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
 "metadata": {"name": "$name-host", "namespace": "$namespace",
   "labels": {"kubernetes.io/service-name": "$name",
              "endpointslice.kubernetes.io/managed-by": "local-cluster.sh"}},
 "addressType": "IPv4",
 "endpoints": [{"addresses": ["$NODE_IP"], "conditions": {"ready": true}}],
 "ports": $(jq -c '[.[] | {name, port: .targetPort, protocol}]' <<<"$ports_json")}
EOF
}

start_coredns() {
  is_running coredns && return 0 # its configuration stays as it started with
  cat >"$RUN_DIR/Corefile" <<EOF
.:53 {
    bind $NODE_IP
    errors
    health 127.0.0.1:18180
    ready 127.0.0.1:18181
    kubernetes cluster.local in-addr.arpa ip6.arpa {
        kubeconfig $KUBECONFIG_ADMIN
        pods insecure
        fallthrough in-addr.arpa ip6.arpa
    }
    forward . /etc/resolv.conf
    cache 30
    loadbalance
}
EOF
  start_daemon coredns "$BIN_DIR/coredns" -conf "$RUN_DIR/Corefile"
  host_service kube-system kube-dns "\"clusterIP\": \"$DNS_SERVICE_IP\"," \
    '[{"name": "dns", "port": 53, "targetPort": 53, "protocol": "UDP"},
      {"name": "dns-tcp", "port": 53, "targetPort": 53, "protocol": "TCP"}]'
  wait_for coredns 60 curl -fsS http://127.0.0.1:18181/ready
}

start_metrics_server() {
  start_daemon metrics-server "$BIN_DIR/metrics-server" \
    --bind-address="$NODE_IP" --secure-port=4443 \
    --tls-cert-file="$CERT_DIR/metrics-server.crt" \
    --tls-private-key-file="$CERT_DIR/metrics-server.key" \
    --kubeconfig="$KUBECONFIG_ADMIN" --authentication-kubeconfig="$KUBECONFIG_ADMIN" \
    --authorization-kubeconfig="$KUBECONFIG_ADMIN" \
    --kubelet-certificate-authority="$CERT_DIR/ca.crt" \
    --kubelet-preferred-address-types=InternalIP --metric-resolution=15s
  host_service kube-system metrics-server "" \
    '[{"name": "https", "port": 443, "targetPort": 4443, "protocol": "TCP"}]'
  kubectl apply -f - >/dev/null <<EOF
{"apiVersion": "apiregistration.k8s.io/v1", "kind": "APIService",
 "metadata": {"name": "v1beta1.metrics.k8s.io"},
 "spec": {"group": "metrics.k8s.io", "version": "v1beta1",
   "service": {"name": "metrics-server", "namespace": "kube-system", "port": 443},
   "caBundle": "$(base64 -w0 "$CERT_DIR/ca.crt")",
   "groupPriorityMinimum": 100, "versionPriority": 100}}
EOF
}

# Default StorageClass: local-path-provisioner, volumes under .cluster/run/local-path.
start_local_path_provisioner() {
  is_running local-path-provisioner && return 0 # its configuration stays as it started with
  local dir="$RUN_DIR/local-path-config"
  mkdir -p "$dir" "$RUN_DIR/local-path"
  jq -n --arg path "$RUN_DIR/local-path" \
    '{nodePathMap: [{node: "DEFAULT_PATH_FOR_NON_LISTED_NODES", paths: [$path]}]}' >"$dir/config.json"
  # shellcheck disable=SC2016 # $VOL_DIR is set by the provisioner in the helper pod
  printf '#!/bin/sh\nset -eu\nmkdir -m 0777 -p "$VOL_DIR"\n' >"$dir/setup"
  # shellcheck disable=SC2016
  printf '#!/bin/sh\nset -eu\nrm -rf "$VOL_DIR"\n' >"$dir/teardown"
  cat >"$dir/helperPod.yaml" <<EOF
apiVersion: v1
kind: Pod
metadata:
  name: helper-pod
spec:
  priorityClassName: system-node-critical
  containers:
    - name: helper-pod
      image: $HELPER_IMAGE
      imagePullPolicy: IfNotPresent
EOF
  kubectl create namespace local-path-storage --dry-run=client -o yaml | kubectl apply -f - >/dev/null
  kubectl -n local-path-storage create serviceaccount local-path-provisioner \
    --dry-run=client -o yaml | kubectl apply -f - >/dev/null
  kubectl -n local-path-storage create configmap local-path-config --from-file="$dir" \
    --dry-run=client -o yaml | kubectl apply -f - >/dev/null
  kubectl apply -f - >/dev/null <<'EOF'
{"apiVersion": "storage.k8s.io/v1", "kind": "StorageClass",
 "metadata": {"name": "local-path",
   "annotations": {"storageclass.kubernetes.io/is-default-class": "true"}},
 "provisioner": "rancher.io/local-path", "volumeBindingMode": "WaitForFirstConsumer",
 "reclaimPolicy": "Delete"}
EOF
  start_daemon local-path-provisioner "$BIN_DIR/local-path-provisioner" start \
    --kubeconfig "$KUBECONFIG_ADMIN" --namespace local-path-storage \
    --service-account-name local-path-provisioner --config "$dir/config.json" \
    --helper-pod-file "$dir/helperPod.yaml" --configmap-name local-path-config \
    --helper-image "$HELPER_IMAGE" --provisioner-name rancher.io/local-path
}

# KServe: CRDs, inferenceservice-config (Standard mode, no Ingress), the default storage
# container, and the controller as a host process whose webhooks the API server calls at
# https://$NODE_IP:9443 with a certificate from the cluster CA.
start_kserve() {
  local src cert_dir="$RUN_DIR/kserve/k8s-webhook-server/serving-certs" ca_bundle
  src="$(kserve_source)"
  kubectl create namespace kserve --dry-run=client -o yaml | kubectl apply -f - >/dev/null
  local crd crd_args=()
  for crd in "$src"/config/crd/full/serving.kserve.io_*.yaml \
    "$src"/config/crd/full/clusterstoragecontainer/serving.kserve.io_*.yaml; do
    crd_args+=(-f "$crd")
  done
  kubectl apply --server-side --force-conflicts "${crd_args[@]}" >/dev/null
  wait_for "KServe CRDs" 60 kubectl wait --for=condition=Established --timeout=1s \
    crd/inferenceservices.serving.kserve.io crd/clusterstoragecontainers.serving.kserve.io
  kubectl create --dry-run=client -o json -f "$src/config/configmap/inferenceservice.yaml" |
    jq --arg image "$STORAGE_INITIALIZER_IMAGE" '
      .data.deploy = ({defaultDeploymentMode: "Standard"} | tojson)
      | .data.ingress = (.data.ingress | fromjson | .disableIngressCreation = true | tojson)
      | .data.storageInitializer = (.data.storageInitializer | fromjson | .image = $image | tojson)' |
    kubectl apply -f - >/dev/null
  mkdir -p "$cert_dir"
  cp "$CERT_DIR/kserve-webhook.crt" "$cert_dir/tls.crt"
  cp "$CERT_DIR/kserve-webhook.key" "$cert_dir/tls.key"
  # controller-runtime reads its serving certificate from $TMPDIR/k8s-webhook-server.
  TMPDIR="$RUN_DIR/kserve" POD_NAMESPACE=kserve KUBECONFIG="$KUBECONFIG_ADMIN" \
    start_daemon kserve-controller "$BIN_DIR/kserve-manager" \
    --metrics-addr=127.0.0.1:18082 --health-probe-addr=127.0.0.1:18083 --webhook-port=9443
  ca_bundle="$(base64 -w0 "$CERT_DIR/ca.crt")"
  kubectl create --dry-run=client -o json -f "$src/config/webhook/manifests.yaml" |
    jq --arg url "https://$NODE_IP:9443" --arg ca "$ca_bundle" '
      (if .kind == "List" then .items[] else . end)
      | .webhooks[] |= (.clientConfig = {url: ($url + .clientConfig.service.path), caBundle: $ca})' |
    kubectl apply -f - >/dev/null
  kubectl create --dry-run=client -o json -f "$src/config/storagecontainers/default.yaml" |
    jq --arg image "$STORAGE_INITIALIZER_IMAGE" '.spec.container.image = $image' \
      >"$RUN_DIR/kserve/storage-container.json"
  # A server-side dry run of an InferenceService passes through the defaulting and
  # validating webhooks: once it succeeds, KServe is ready.
  cat >"$RUN_DIR/kserve/webhook-probe.json" <<'EOF'
{"apiVersion": "serving.kserve.io/v1beta1", "kind": "InferenceService",
 "metadata": {"name": "webhook-probe", "namespace": "default"},
 "spec": {"predictor": {"containers": [{"name": "kserve-container", "image": "probe"}]}}}
EOF
  wait_for "KServe's webhooks" 120 \
    kubectl create --dry-run=server -f "$RUN_DIR/kserve/webhook-probe.json"
  wait_for "KServe's default storage container" 60 \
    kubectl apply -f "$RUN_DIR/kserve/storage-container.json"
}

# --- monitoring ----------------------------------------------------------------------------

# prometheus-operator as a host process (like KServe's controller) with its CRDs, and one
# Prometheus that it runs as a StatefulSet in $MONITORING_NAMESPACE from the images built
# above. The Prometheus selects every ServiceMonitor, PodMonitor and PrometheusRule of every
# namespace (as kube-prometheus-stack does with its *SelectorNilUsesHelmValues=false) and
# keeps a day of data. The operator's admission webhook is not run: Prometheus refuses a rule
# file it cannot load, and the e2e checks look for the chart's rule groups in its API.
start_prometheus() {
  local src crd crd_args=() release
  src="$(go mod download -json \
    "github.com/prometheus-operator/prometheus-operator@$PROMETHEUS_OPERATOR_VERSION" | jq -r .Dir)"
  for crd in "$src"/example/prometheus-operator-crd/monitoring.coreos.com_*.yaml; do
    crd_args+=(-f "$crd")
  done
  kubectl apply --server-side --force-conflicts "${crd_args[@]}" >/dev/null
  wait_for "prometheus-operator CRDs" 60 kubectl wait --for=condition=Established --timeout=1s \
    crd/prometheuses.monitoring.coreos.com crd/podmonitors.monitoring.coreos.com \
    crd/servicemonitors.monitoring.coreos.com crd/prometheusrules.monitoring.coreos.com
  KUBECONFIG="$KUBECONFIG_ADMIN" start_daemon prometheus-operator "$BIN_DIR/prometheus-operator" \
    --web.listen-address=127.0.0.1:18084 --prometheus-config-reloader="$CONFIG_RELOADER_IMAGE"
  release="$(prometheus_release)"
  kubectl create namespace "$MONITORING_NAMESPACE" --dry-run=client -o yaml | kubectl apply -f - >/dev/null
  kubectl apply -f - >/dev/null <<EOF
{"apiVersion": "v1", "kind": "List", "items": [
 {"apiVersion": "v1", "kind": "ServiceAccount",
  "metadata": {"name": "prometheus", "namespace": "$MONITORING_NAMESPACE"}},
 {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
  "metadata": {"name": "local-cluster-prometheus"},
  "rules": [{"apiGroups": [""], "resources": ["pods", "services", "endpoints"],
             "verbs": ["get", "list", "watch"]},
            {"apiGroups": ["discovery.k8s.io"], "resources": ["endpointslices"],
             "verbs": ["get", "list", "watch"]}]},
 {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
  "metadata": {"name": "local-cluster-prometheus"},
  "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole",
              "name": "local-cluster-prometheus"},
  "subjects": [{"kind": "ServiceAccount", "name": "prometheus",
                "namespace": "$MONITORING_NAMESPACE"}]},
 {"apiVersion": "monitoring.coreos.com/v1", "kind": "Prometheus",
  "metadata": {"name": "local", "namespace": "$MONITORING_NAMESPACE"},
  "spec": {"version": "v$release", "image": "$(prometheus_image)", "replicas": 1,
           "serviceAccountName": "prometheus", "retention": "1d",
           "serviceMonitorSelector": {}, "serviceMonitorNamespaceSelector": {},
           "podMonitorSelector": {}, "podMonitorNamespaceSelector": {},
           "ruleSelector": {}, "ruleNamespaceSelector": {},
           "resources": {"requests": {"cpu": "100m", "memory": "256Mi"},
                         "limits": {"memory": "1Gi"}}}}
]}
EOF
  wait_for "Prometheus $release (StatefulSet prometheus-local in $MONITORING_NAMESPACE)" 240 \
    kubectl -n "$MONITORING_NAMESPACE" wait --for=condition=Available --timeout=1s prometheus/local
}

# --- commands ------------------------------------------------------------------------------

cluster_running() { is_running kube-apiserver && kubectl get --raw /readyz >/dev/null 2>&1; }

cmd_up() {
  [[ $EUID -eq 0 ]] || die "run as root: the node needs network and cgroup control"
  local start=$SECONDS daemon all_running=1
  for daemon in etcd kube-apiserver kube-controller-manager kube-scheduler containerd kubelet \
    kube-proxy kube-router coredns metrics-server local-path-provisioner kserve-controller \
    prometheus-operator; do
    is_running "$daemon" || all_running=0
  done
  if [[ $all_running == 1 && -f "$RUN_DIR/ready" ]] && cluster_running; then
    log "the cluster is already running"
    print_exports
    return 0
  fi
  if ip link show "$BRIDGE" >/dev/null 2>&1 && [[ ! -f "$RUN_DIR/host-state.saved" ]]; then
    die "bridge $BRIDGE exists but was not made by $CLUSTER_DIR: another cluster? (BRIDGE=... to choose another)"
  fi
  if [[ ! -d "$RUN_DIR" ]]; then
    rm -rf "$LOG_DIR" # a new cluster: the previous one's logs go
  fi
  mkdir -p "$LOG_DIR"
  ensure_packages
  build_components
  save_host_state
  setup_network
  start_docker
  generate_certs
  start_containerd
  build_images
  start_etcd
  start_apiserver
  start_controller_manager
  start_scheduler
  start_kubelet
  start_kube_proxy
  wait_node_ready
  start_kube_router
  start_coredns
  start_metrics_server
  start_local_path_provisioner
  start_kserve
  start_prometheus
  touch "$RUN_DIR/ready"
  log "cluster ready in $((SECONDS - start)) s: node $NODE_NAME, KServe $KSERVE_VERSION," \
    "Prometheus $(prometheus_release) in $MONITORING_NAMESPACE, image $(chart_image)"
  print_exports
}

cmd_env() {
  cluster_running || die "no cluster is running (k8s/local-cluster.sh up)"
  print_exports
}

# Remove every pod sandbox through the CRI (stopping its containers and releasing its
# network namespace, veth and CNI rules), then kill any shim left behind.
remove_pods() {
  if is_running containerd; then
    "$BIN_DIR/crictl" --runtime-endpoint "unix://$CONTAINERD_SOCK" --timeout 60s rmp --all --force \
      >/dev/null 2>&1 || log "crictl rmp failed; killing shims"
  fi
  local pid
  for pid in $(pgrep -f "containerd-shim-runc-v2 -namespace k8s.io .*-address $CONTAINERD_SOCK" || true); do
    kill -9 "$pid" 2>/dev/null || true
  done
}

unmount_under() {
  local target
  while read -r target; do
    umount -l "$target" 2>/dev/null || true
  done < <(findmnt -rn -o TARGET | grep -F "$1/" | sort -r)
}

remove_cgroups() {
  local dir
  for dir in /sys/fs/cgroup/*/kubepods /sys/fs/cgroup/*/kubepods.slice; do
    [[ -d "$dir" ]] && find "$dir" -depth -type d -exec rmdir {} + 2>/dev/null || true
  done
}

cmd_down() {
  [[ $EUID -eq 0 ]] || die "run as root"
  stop_daemon prometheus-operator
  stop_daemon kserve-controller
  stop_daemon local-path-provisioner
  stop_daemon metrics-server
  stop_daemon coredns
  stop_daemon kube-router
  stop_daemon kubelet
  remove_pods
  stop_daemon kube-proxy
  stop_daemon containerd
  stop_daemon kube-scheduler
  stop_daemon kube-controller-manager
  stop_daemon kube-apiserver
  stop_daemon etcd
  stop_daemon dockerd
  unmount_under "$RUN_DIR"
  unmount_under "$CONTAINERD_ROOT"
  unmount_under "$DOCKER_ROOT"
  remove_cgroups
  teardown_network
  restore_host_state
  rm -rf "$RUN_DIR"
  log "down: no cluster process left; built binaries and images stay in ${CLUSTER_DIR#"$ROOT"/}"
}

case "${1:-}" in
  up) cmd_up ;;
  env) cmd_env ;;
  down) cmd_down ;;
  *)
    echo "usage: $0 up|env|down" >&2
    exit 2
    ;;
esac
