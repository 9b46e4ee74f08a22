#!/usr/bin/env bash
# End-to-end checks of the chart on the cluster KUBECONFIG points at. The cluster must have
# KServe (Standard mode), metrics-server, a default StorageClass, prometheus-operator with a
# Prometheus in $MONITORING_NAMESPACE that selects every PodMonitor and PrometheusRule, and
# the project image loaded under the chart's default tag: k8s/local-cluster.sh up
# (make e2e-local) or k8s/e2e-kind.sh (make e2e-kind) prepare one.
#
#   bash k8s/e2e.sh
#
# One line per check, then `e2e: N/N checks passed`; exit 1 if any check failed. Every
# request to the predictor goes through kubectl port-forward (loopback) or comes from a pod
# inside the cluster; the S3 check binds moto's server to this machine's address on the
# route to the node. Logs and diagnostics go to $LOG_DIR.
set -euo pipefail
shopt -s inherit_errexit

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

NAMESPACE="${NAMESPACE:-breast-cancer-e2e}"
RELEASE="${RELEASE:-breast-cancer}"
MODEL_NAME="breast-cancer"
CHART="charts/breast-cancer"
LOG_DIR="${LOG_DIR:-$ROOT/.cluster/e2e-logs}"
HELM_TIMEOUT="${HELM_TIMEOUT:-10m}"
# With the release named like the chart, the InferenceService is named like the release.
ISVC="$RELEASE"
PREDICTOR="$ISVC-predictor"
PREDICT_URL="http://$PREDICTOR.$NAMESPACE.svc.cluster.local/v1/models/$MODEL_NAME:predict"
APP_VERSION="$(sed -n 's/^appVersion: *"\{0,1\}\([^"]*\)"\{0,1\}$/\1/p' "$CHART/Chart.yaml")"
IMAGE="breast-cancer-kserve:$APP_VERSION"
# Labels of the pods the checks start (clients of the predictor, like any pod of the namespace).
E2E_LABELS='{"app.kubernetes.io/component": "e2e"}'
# The cluster's Prometheus (prometheus-operator's Service prometheus-operated, port 9090).
MONITORING_NAMESPACE="${MONITORING_NAMESPACE:-monitoring}"
# The releases the monitoring checks watch get the chart's PodMonitor and PrometheusRule,
# scraped and evaluated every 5 s with alert delays of seconds (the defaults are minutes), and
# a NetworkPolicy that admits Prometheus's namespace.
MONITORING_VALUES=(--set metrics.podMonitor.enabled=true --set metrics.podMonitor.interval=5s
  --set metrics.podMonitor.scrapeTimeout=4s --set metrics.prometheusRule.enabled=true
  --set metrics.prometheusRule.interval=5s --set metrics.prometheusRule.notReadyFor=15s
  --set metrics.prometheusRule.driftFor=10s
  --set "networkPolicy.ingress.namespaces={$MONITORING_NAMESPACE}")
PROMETHEUS_URL=""
CHECKS_RUN=0
CHECKS_PASSED=0
BACKGROUND_PIDS=()

log() { printf '  %s\n' "$*" >&2; }

# reach_py: Python defining reach(url_or_host, port): wait up to 30 s for a TCP connection
# to open. A new pod's address takes a moment to reach the network policy rules that admit it
# (kube-router rejects it until then: ConnectionRefusedError), so every in-cluster client
# pod calls it before its first request; the request itself is then tried once.
reach_py() {
  cat <<'PYTHON'
import socket, time, urllib.parse
def reach(host, port=None, seconds=30):
    if port is None:
        parts = urllib.parse.urlsplit(host)
        host, port = parts.hostname, parts.port or 80
    deadline = time.monotonic() + seconds
    while True:
        try:
            socket.create_connection((host, port), timeout=5).close()
            return True
        except OSError:
            if time.monotonic() > deadline:
                return False
            time.sleep(1)
PYTHON
}

# post_py URL MODE: Python for a pod that POSTs examples/valid_request.json to URL once and
# prints the status and body, or the error and how long the attempt took. MODE allowed: first
# reach the URL (see reach_py); denied: first wait 5 s for the policy rules to cover the new
# pod, then try with a 5 s timeout.
post_py() {
  reach_py
  cat <<PYTHON
import time, urllib.error, urllib.request
body = open('/app/examples/valid_request.json', 'rb').read()
request = urllib.request.Request('$1', body, {'Content-Type': 'application/json'})
if '$2' == 'allowed':
    reach('$1')
else:
    time.sleep(5)
start = time.monotonic()
try:
    with urllib.request.urlopen(request, timeout=5) as response:
        print(response.status, response.read().decode())
except urllib.error.HTTPError as error:
    print(error.code, error.read().decode()[:200])
except OSError as error:
    reason = getattr(error, 'reason', error)
    print(type(reason).__name__, f'after {time.monotonic() - start:.1f} s')
PYTHON
}

# What a check reports on its result line (its last call wins).
detail() { echo "$*" >"$LOG_DIR/.detail"; }

# port_taken PORT: something listens on 127.0.0.1:PORT.
port_taken() {
  python3 -c 'import socket, sys; sys.exit(socket.socket().connect_ex(("127.0.0.1", int(sys.argv[1]))) != 0)' "$1"
}

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# port_forward TARGET LOCAL:REMOTE: start kubectl port-forward and wait until it listens.
port_forward() {
  kubectl -n "$NAMESPACE" port-forward "$1" "$2" >>"$LOG_DIR/port-forward.log" 2>&1 &
  BACKGROUND_PIDS+=($!)
  for _ in $(seq 1 30); do
    if (echo >"/dev/tcp/127.0.0.1/${2%%:*}") 2>/dev/null; then
      return 0
    fi
    sleep 1
  done
  echo "port-forward $1 $2 did not start" >&2
  return 1
}

stop_background() {
  local pid
  for pid in "${BACKGROUND_PIDS[@]}"; do
    kill "$pid" 2>/dev/null || true
  done
  BACKGROUND_PIDS=()
}

# pod_spec NAME COMMAND_JSON [LABELS_JSON]: a pod running the project image with the chart's
# security context, a writable /tmp and the load generator mounted at /loadgen. The load
# generator opens a connection per request (each may reach another pod): at 500+ req/s the
# default 28,000 local ports run out inside the 60 s a closed connection waits in TIME_WAIT
# (EADDRNOTAVAIL), so the pods get the whole unprivileged range (a safe, namespaced sysctl).
pod_spec() {
  jq -n --arg name "$1" --arg image "$IMAGE" --argjson command "$2" \
    --argjson labels "${3:-$E2E_LABELS}" '{
    apiVersion: "v1", kind: "Pod",
    metadata: {name: $name, labels: $labels},
    spec: {
      restartPolicy: "Never", automountServiceAccountToken: false,
      securityContext: {runAsNonRoot: true, runAsUser: 1000, runAsGroup: 1000,
        seccompProfile: {type: "RuntimeDefault"},
        sysctls: [{name: "net.ipv4.ip_local_port_range", value: "1024 65535"}]},
      containers: [{name: "main", image: $image, imagePullPolicy: "IfNotPresent",
        command: $command,
        resources: {requests: {cpu: "100m", memory: "64Mi"}, limits: {memory: "256Mi"}},
        securityContext: {allowPrivilegeEscalation: false, readOnlyRootFilesystem: true,
          capabilities: {drop: ["ALL"]}},
        volumeMounts: [{name: "tmp", mountPath: "/tmp"}, {name: "loadgen", mountPath: "/loadgen"}]}],
      volumes: [{name: "tmp", emptyDir: {}}, {name: "loadgen", configMap: {name: "e2e-loadgen"}}]}}'
}

# run_pod NAME PYTHON_CODE [LABELS_JSON] [CLAIM]: run the code in a pod inside the cluster
# (with the PersistentVolumeClaim CLAIM mounted at /data, if given), print its output.
run_pod() {
  kubectl -n "$NAMESPACE" delete pod "$1" --ignore-not-found --wait >/dev/null
  pod_spec "$1" "$(jq -nc --arg code "$2" '["python", "-c", $code]')" "${3:-}" |
    jq --arg claim "${4:-}" 'if $claim == "" then . else
      .spec.volumes += [{name: "data", persistentVolumeClaim: {claimName: $claim}}]
      | .spec.containers[0].volumeMounts += [{name: "data", mountPath: "/data"}] end' |
    kubectl -n "$NAMESPACE" apply -f - >/dev/null
  kubectl -n "$NAMESPACE" wait "pod/$1" --timeout=180s \
    --for=jsonpath='{.status.phase}'=Succeeded >/dev/null || {
    kubectl -n "$NAMESPACE" logs "$1" >&2 || true
    return 1
  }
  kubectl -n "$NAMESPACE" logs "$1"
  kubectl -n "$NAMESPACE" delete pod "$1" --wait=false >/dev/null
}

# start_load NAME PAYLOAD CONCURRENCY: a load-generator pod POSTing to the predictor Service.
start_load() {
  kubectl -n "$NAMESPACE" delete pod "$1" --ignore-not-found --wait >/dev/null
  pod_spec "$1" "$(jq -nc --arg url "$PREDICT_URL" --arg payload "/app/examples/$2" \
    --arg concurrency "$3" '["python", "/loadgen/loadgen.py", "--url", $url,
      "--payload", $payload, "--concurrency", $concurrency, "--max-seconds", "900"]')" |
    kubectl -n "$NAMESPACE" apply -f - >/dev/null
  kubectl -n "$NAMESPACE" wait "pod/$1" --for=condition=Ready --timeout=120s >/dev/null
  for _ in $(seq 1 30); do
    kubectl -n "$NAMESPACE" logs "$1" 2>/dev/null | grep -q "load started" && return 0
    sleep 1
  done
  echo "load generator $1 did not start" >&2
  return 1
}

# stop_load NAME: stop the load generator and print its JSON summary.
stop_load() {
  kubectl -n "$NAMESPACE" exec "$1" -- touch /tmp/stop
  kubectl -n "$NAMESPACE" wait "pod/$1" --timeout=60s \
    --for=jsonpath='{.status.phase}'=Succeeded >/dev/null
  kubectl -n "$NAMESPACE" logs "$1" | tail -n 1
}

ready_replicas() {
  kubectl -n "$NAMESPACE" get deployment "$PREDICTOR" -o jsonpath='{.status.readyReplicas}'
}

release_revision() { helm -n "$NAMESPACE" status "$RELEASE" -o json | jq -r .version; }

# The model version the InferenceService names (the chart's breast-cancer/model-version).
served_version() {
  kubectl -n "$NAMESPACE" get inferenceservice "$ISVC" -o json |
    jq -r '.metadata.annotations["breast-cancer/model-version"] // ""'
}

# wait_served VERSION: until the predictor Deployment's STORAGE_URI names the model version,
# the Deployment has rolled out completely and no old pod is still terminating (a
# port-forward to the Service could pick one).
wait_served() {
  for _ in $(seq 1 120); do
    if kubectl -n "$NAMESPACE" get deployment "$PREDICTOR" -o json | jq -e --arg v "$1" '
      .spec.template.spec.containers[] | select(.name == "kserve-container") | .env[]
      | select(.name == "STORAGE_URI") | .value | endswith("/" + $v)' >/dev/null; then
      kubectl -n "$NAMESPACE" rollout status "deployment/$PREDICTOR" --timeout=300s >&2
      for _ in $(seq 1 120); do
        kubectl -n "$NAMESPACE" get pods -l "serving.kserve.io/inferenceservice=$ISVC" -o json |
          jq -e '[.items[] | select(.metadata.deletionTimestamp)] | length == 0' >/dev/null &&
          return 0
        sleep 1
      done
      echo "old predictor pods still terminating after 120 s" >&2
      return 1
    fi
    sleep 1
  done
  echo "the predictor Deployment never got model version $1" >&2
  return 1
}

# answer: "<model_version> <probability_malignant>" of the predictor's answer to
# examples/valid_request.json, through a fresh port-forward (to a pod of the current rollout).
answer() {
  local port
  port="$(free_port)"
  port_forward "svc/$PREDICTOR" "$port:80"
  curl -fsS --data-binary @examples/valid_request.json \
    "http://127.0.0.1:$port/v1/models/$MODEL_NAME:predict" |
    jq -r '"\(.model_version) \(.predictions[0].probability_malignant)"'
  stop_background
}

# prometheus_forward: port-forward to the cluster's Prometheus; sets PROMETHEUS_URL.
prometheus_forward() {
  local port
  port="$(free_port)"
  NAMESPACE="$MONITORING_NAMESPACE" port_forward svc/prometheus-operated "$port:9090"
  PROMETHEUS_URL="http://127.0.0.1:$port"
}

# prom_query EXPR: the result vector of an instant query, as compact JSON.
prom_query() {
  curl -fsS -G --data-urlencode "query=$1" "$PROMETHEUS_URL/api/v1/query" | jq -c '.data.result'
}

# wait_series SECONDS EXPR: retry the query until it returns a series; print the vector.
wait_series() {
  local deadline=$((SECONDS + $1)) result
  while ((SECONDS < deadline)); do
    result="$(prom_query "$2")"
    if [[ "$result" != "[]" ]]; then
      echo "$result"
      return 0
    fi
    sleep 3
  done
  echo "no series for $2 after $1 s" >&2
  return 1
}

# The release's predictor pods, as a PromQL selector.
release_selector() { echo "namespace=\"$NAMESPACE\", pod=~\"$PREDICTOR-.+\""; }

# --- checks --------------------------------------------------------------------------------

check_install() {
  helm upgrade --install "$RELEASE" "$CHART" --namespace "$NAMESPACE" "${MONITORING_VALUES[@]}" \
    --wait --timeout "$HELM_TIMEOUT" >&2
  local job="$ISVC-train" pod version claim class
  kubectl -n "$NAMESPACE" get job "$job" -o json | jq -e '.status.succeeded == 1' >/dev/null
  pod="$(kubectl -n "$NAMESPACE" get pods -l "job-name=$job" -o jsonpath='{.items[0].metadata.name}')"
  [[ "$(kubectl -n "$NAMESPACE" get pod "$pod" -o jsonpath='{.status.phase}')" == Succeeded ]]
  kubectl -n "$NAMESPACE" logs "job/$job" >"$LOG_DIR/train.log"
  version="$(sed -n 's/.*wrote version \([^ ]*\) to .*/\1/p' "$LOG_DIR/train.log" | tail -n 1)"
  [[ -n "$version" ]]
  echo "$version" >"$LOG_DIR/.model-version"
  claim="$ISVC-models"
  kubectl -n "$NAMESPACE" get pvc "$claim" -o json | jq -e '.status.phase == "Bound"' >/dev/null
  class="$(kubectl -n "$NAMESPACE" get pvc "$claim" -o jsonpath='{.spec.storageClassName}')"
  detail "training pod $pod wrote model $version to PVC $claim (Bound, class $class)"
}

check_isvc_ready() {
  local start=$SECONDS
  kubectl -n "$NAMESPACE" wait --for=condition=Ready "inferenceservice/$ISVC" --timeout=300s >&2
  detail "InferenceService $ISVC Ready (waited $((SECONDS - start)) s after install)"
}

check_deployment_spec() {
  local spec pod
  spec="$(kubectl -n "$NAMESPACE" get deployment "$PREDICTOR" -o json)"
  jq -e --arg model "$MODEL_NAME" --arg image "$IMAGE" '
    .spec.template.spec as $pod
    | ($pod.containers[] | select(.name == "kserve-container")) as $c
    | $c.image == $image
    and $c.readinessProbe.httpGet.path == "/v1/models/\($model)"
    and $c.startupProbe.httpGet.path == "/v2/health/live"
    and $c.livenessProbe.httpGet.path == "/v2/health/live"
    and $c.lifecycle.preStop.exec.command[0] == "sleep"
    and $c.securityContext.readOnlyRootFilesystem == true
    and $c.securityContext.runAsNonRoot == true
    and $c.securityContext.allowPrivilegeEscalation == false
    and $c.securityContext.capabilities.drop == ["ALL"]
    and $pod.securityContext.runAsUser == 1000' <<<"$spec" >/dev/null || {
    echo "Deployment $PREDICTOR lacks the chart's image, probes or security context" >&2
    return 1
  }
  # KServe's pod webhook mounts the model claim into each pod (not into the Deployment).
  pod="$(kubectl -n "$NAMESPACE" get pods -l "serving.kserve.io/inferenceservice=$ISVC" -o json)"
  jq -e --arg claim "$ISVC-models" '
    .items[0].spec as $pod
    | ($pod.containers[] | select(.name == "kserve-container")) as $c
    | ($c.volumeMounts[] | select(.mountPath == "/mnt/models")) as $m
    | ($pod.volumes[] | select(.name == $m.name)) as $v
    | $m.readOnly == true and $v.persistentVolumeClaim.claimName == $claim' <<<"$pod" >/dev/null || {
    echo "the predictor pod does not mount PVC $ISVC-models read-only at /mnt/models" >&2
    return 1
  }
  # And in the running container: UID 1000, the model volume refuses writes.
  local probe
  probe="$(kubectl -n "$NAMESPACE" exec "deployment/$PREDICTOR" -c kserve-container -- python -c '
import os
try:
    open("/mnt/models/probe", "w")
    print(os.getuid(), "writable")
except OSError as error:
    print(os.getuid(), error.strerror)')"
  [[ "$probe" == "1000 Read-only file system" ]]
  detail "image $IMAGE; readiness GET /v1/models/$MODEL_NAME, startup+liveness /v2/health/live," \
    "preStop; non-root read-only root fs, no capabilities; /mnt/models from PVC read-only" \
    "(exec: uid $probe)"
}

# The image's own quick start, outside the cluster: `docker run IMAGE` with no volume and no
# arguments serves the reference model trained into the image at build time, on 8080. Host
# networking, because the local cluster's dockerd builds images only (--bridge none): the
# container listens on this machine's 8080 exactly as `-p 8080:8080` would publish it.
check_docker_quick_start() {
  local container status log
  if port_taken 8080 || port_taken 8081; then
    detail "skipped: 127.0.0.1:8080 or :8081 is taken on this machine"
    return 0
  fi
  container="$(docker run --detach --network host "$IMAGE")"
  # shellcheck disable=SC2064 # the container id is known now
  trap "docker rm --force $container >/dev/null 2>&1 || true" EXIT
  for _ in $(seq 1 120); do
    curl -sf "http://127.0.0.1:8080/v1/models/$MODEL_NAME" >/dev/null && break
    sleep 1
  done
  status="$(curl -s -o "$LOG_DIR/docker-quick-start.json" -w '%{http_code}' \
    "http://127.0.0.1:8080/v1/models/$MODEL_NAME:predict" -d @examples/valid_request.json || true)"
  log="$(docker logs "$container" 2>&1)"
  [[ "$status" == 200 ]] || { log "status $status; log: $log"; return 1; }
  grep -q "serving the reference model bundled in this image" <<<"$log"
  detail "docker run $IMAGE (no volume, no arguments): POST :predict on 8080 -> 200; the log names the bundled reference model"
}

check_payloads() {
  local port expected_count checked=0 failures=0 version
  port="$(free_port)"
  port_forward "svc/$PREDICTOR" "$port:80"
  expected_count="$(jq 'length' examples/index.json)"
  version="$(cat "$LOG_DIR/.model-version")"
  while IFS=$'\t' read -r file protocol verb expected labels sets; do
    checked=$((checked + 1))
    local path="/v1/models/$MODEL_NAME:$verb" body="$LOG_DIR/response-$file" status
    [[ "$protocol" == v2 ]] && path="/v2/models/$MODEL_NAME/infer"
    status="$(curl -sS -o "$body" -w '%{http_code}' --data-binary "@examples/$file" \
      "http://127.0.0.1:$port$path")"
    if [[ "$status" != "$expected" ]]; then
      echo "$file: POST $path -> $status, expected $expected: $(head -c 300 "$body")" >&2
      failures=$((failures + 1))
    elif [[ "$status" == 200 && "$protocol" == v1 && "$verb" == predict ]] &&
      ! jq -e --argjson want "$labels" --argjson sets "$sets" --arg version "$version" \
        '([.predictions[].label] == $want or $want == []) and .model_version == $version
        and ($sets == null or [.predictions[].prediction_set] == $sets)' \
        "$body" >/dev/null; then
      echo "$file: labels, prediction sets or model version differ: $(head -c 300 "$body")" >&2
      failures=$((failures + 1))
    elif [[ "$status" == 200 && "$protocol" == v2 ]] &&
      ! jq -e --argjson want "$labels" '.outputs[] | select(.name == "label") | .data == $want' \
        "$body" >/dev/null; then
      echo "$file: V2 labels are not $labels: $(head -c 300 "$body")" >&2
      failures=$((failures + 1))
    else
      echo "$file: POST $path -> $status" >&2
    fi
  done < <(jq -r '.[] | [.file, .protocol, (.verb // "predict"), (.status | tostring),
    (.labels // [] | tojson), (.prediction_sets // null | tojson)] | @tsv' examples/index.json)
  stop_background
  [[ $failures -eq 0 && $checked -eq $expected_count ]]
  detail "$checked/$expected_count examples/ payloads got their documented status through" \
    "port-forward svc/$PREDICTOR; model_version $version"
}

check_grpc() {
  local ports output
  ports="$(kubectl -n "$NAMESPACE" get service "$PREDICTOR" -o json |
    jq -c '[.spec.ports[] | "\(.name):\(.port)->\(.targetPort)"]')"
  jq -e 'index("grpc:8081->8081") != null' <<<"$ports" >/dev/null || {
    echo "service $PREDICTOR ports $ports lack grpc:8081" >&2
    return 1
  }
  output="$(run_pod e2e-grpc "$(reach_py)
import asyncio, json
import numpy as np
from kserve import InferenceGRPCClient
from kserve.protocol.infer_type import InferInput, InferRequest

async def main():
    tensor = json.load(open('/app/examples/v2_infer_request.json'))['inputs'][0]
    data = np.array(tensor['data'], dtype=np.float64).reshape(tensor['shape'])
    infer_input = InferInput('features', list(data.shape), 'FP64')
    infer_input.set_data_from_numpy(data, binary_data=False)
    reach('$PREDICTOR.$NAMESPACE.svc.cluster.local', 8081)
    client = InferenceGRPCClient('$PREDICTOR.$NAMESPACE.svc.cluster.local:8081')
    response = await client.infer(InferRequest(model_name='$MODEL_NAME', infer_inputs=[infer_input]))
    outputs = {o.name: o.as_numpy().tolist() for o in response.outputs}
    print(json.dumps([label.decode() for label in outputs['label']], separators=(',', ':')))
    await client.close()

asyncio.run(main())")"
  [[ "$(tail -n 1 <<<"$output")" == "$(jq -c '.[] | select(.protocol == "v2") | .labels' examples/index.json)" ]]
  detail "Service ports $ports; a pod's V2 gRPC ModelInfer via the Service answered $(tail -n 1 <<<"$output")"
}

check_helm_test() {
  helm test "$RELEASE" --namespace "$NAMESPACE" --logs >"$LOG_DIR/helm-test.log" 2>&1
  detail "helm test: the test pod's POST $(grep -m 1 -o 'http://[^ ]*svc.cluster.local[^ ]* [0-9]*' \
    "$LOG_DIR/helm-test.log")"
}

check_readiness_gating() {
  local release=gating isvc=gating-breast-cancer pod restarts ready message alert
  helm upgrade --install "$release" "$CHART" --namespace "$NAMESPACE" "${MONITORING_VALUES[@]}" \
    --set training.enabled=false --set autoscaling.enabled=false >&2
  for _ in $(seq 1 120); do
    pod="$(kubectl -n "$NAMESPACE" get pods -l "serving.kserve.io/inferenceservice=$isvc" \
      -o jsonpath='{.items[0].metadata.name}' 2>/dev/null || true)"
    restarts="$(kubectl -n "$NAMESPACE" get pod "$pod" \
      -o jsonpath='{.status.containerStatuses[0].restartCount}' 2>/dev/null || true)"
    [[ "${restarts:-0}" -ge 1 ]] && break
    sleep 1
  done
  [[ "${restarts:-0}" -ge 1 ]] || {
    echo "the predictor without a model never exited" >&2
    return 1
  }
  # The exited container's log can lag its restart count by a moment ("previous terminated
  # container not found"); the container running now says the same when it exits in turn.
  message=""
  for _ in $(seq 1 30); do
    message="$( { kubectl -n "$NAMESPACE" logs "$pod" -c kserve-container --previous 2>/dev/null \
      || kubectl -n "$NAMESPACE" logs "$pod" -c kserve-container 2>/dev/null || true; } |
      grep -m 1 'no trained model' || true)"
    [[ -n "$message" ]] && break
    sleep 1
  done
  [[ -n "$message" ]] || {
    echo "the predictor's log never said why it has no model" >&2
    return 1
  }
  ready="$(kubectl -n "$NAMESPACE" get inferenceservice "$isvc" \
    -o jsonpath='{.status.conditions[?(@.type=="Ready")].status}')"
  [[ "$ready" != True ]]
  kubectl -n "$NAMESPACE" get endpointslices -l "kubernetes.io/service-name=$isvc-predictor" -o json |
    jq -e '[.items[].endpoints[]? | select(.conditions.ready == true)] | length == 0' >/dev/null
  # The release's PrometheusRule, through the operator: its pod never answers a scrape.
  prometheus_forward
  alert="$(wait_series 300 "ALERTS{alertname=\"BreastCancerPredictorNotReady\",
    alertstate=\"firing\", namespace=\"$NAMESPACE\", pod=~\"$isvc-predictor-.+\"}")"
  helm uninstall "$release" --namespace "$NAMESPACE" --wait >&2
  kubectl -n "$NAMESPACE" delete pvc "$isvc-models" --wait=false >&2
  detail "without a model: Ready=${ready:-none}, 0 ready endpoints, $restarts restart(s); log:" \
    "${message:0:120}; Prometheus: BreastCancerPredictorNotReady firing for" \
    "$(jq -r '.[0].metric.pod' <<<"$alert")"
}

check_upgrade_under_load() {
  local revision summary version
  helm upgrade "$RELEASE" "$CHART" --namespace "$NAMESPACE" --reuse-values \
    --set autoscaling.enabled=false --set replicaCount=2 --wait --timeout "$HELM_TIMEOUT" >&2
  wait_served "rev-$(release_revision)"
  [[ "$(ready_replicas)" == 2 ]]
  start_load e2e-load-upgrade valid_request.json 2
  sleep 5
  helm upgrade "$RELEASE" "$CHART" --namespace "$NAMESPACE" --reuse-values \
    --wait --timeout "$HELM_TIMEOUT" >&2
  revision="$(release_revision)"
  wait_served "rev-$revision"
  sleep 5
  summary="$(stop_load e2e-load-upgrade)"
  echo "$summary" >&2
  version="$(kubectl -n "$NAMESPACE" logs "job/$ISVC-train" | sed -n 's/.*wrote version \([^ ]*\) to .*/\1/p')"
  jq -e '.failed == 0 and .requests > 0' <<<"$summary" >/dev/null
  detail "helm upgrade (retrain to $version, roll 2 pods, revision $revision) under load:" \
    "$(jq -r '"\(.requests) requests in \(.seconds) s, \(.failed) failed"' <<<"$summary")"
}

check_pod_deletion_under_load() {
  local pod summary
  start_load e2e-load-delete valid_request.json 2
  sleep 5
  pod="$(kubectl -n "$NAMESPACE" get pods -l "serving.kserve.io/inferenceservice=$ISVC" \
    -o jsonpath='{.items[0].metadata.name}')"
  kubectl -n "$NAMESPACE" delete pod "$pod" --wait=false >&2
  kubectl -n "$NAMESPACE" wait --for=delete "pod/$pod" --timeout=120s >&2
  for _ in $(seq 1 120); do
    [[ "$(ready_replicas)" == 2 ]] && break
    sleep 1
  done
  [[ "$(ready_replicas)" == 2 ]]
  sleep 5
  summary="$(stop_load e2e-load-delete)"
  echo "$summary" >&2
  jq -e '.failed == 0 and .requests > 0' <<<"$summary" >/dev/null
  detail "deleted $pod under load, replacement Ready:" \
    "$(jq -r '"\(.requests) requests in \(.seconds) s, \(.failed) failed"' <<<"$summary")"
}

# The cluster's Prometheus, configured by prometheus-operator from the chart's PodMonitor and
# PrometheusRule, scrapes the predictor and has loaded the chart's rule groups.
check_prometheus_scrape() {
  local version up groups count
  prometheus_forward
  version="$(curl -fsS "$PROMETHEUS_URL/api/v1/status/buildinfo" | jq -r .data.version)"
  up="$(wait_series 300 "up{$(release_selector)} == 1")"
  for _ in $(seq 1 100); do
    groups="$(curl -fsS "$PROMETHEUS_URL/api/v1/rules" | jq -c --arg isvc "$ISVC" '[.data.groups[]
      | select(.name == "\($isvc).predictor" or .name == "\($isvc).model")
      | {name, interval, rules: [.rules[].name]}]')"
    count="$(jq '[.[].rules[]] | length' <<<"$groups")"
    [[ "$count" -eq 7 ]] && break
    sleep 3
  done
  [[ "$count" -eq 7 ]] || {
    echo "Prometheus has loaded $count of the chart's 7 rules: $groups" >&2
    return 1
  }
  detail "Prometheus $version (run by prometheus-operator) scrapes" \
    "$(jq -r '[.[].metric | "\(.pod) (job \(.job))"] | join(", ")' <<<"$up"): up 1; rule groups" \
    "$(jq -r '[.[] | "\(.name) (\(.rules | length) rules, every \(.interval) s)"] | join(", ")' <<<"$groups")"
}

# dashboard_traffic BASE_URL SEED: requests of every kind a panel shows (predictions with a
# refused and an out-of-range one, an explanation, a V2 inference, confirmed outcomes).
dashboard_traffic() {
  local model="$1/v1/models/$MODEL_NAME"
  uv run --frozen python k8s/monitoring.py cases "$model" --rows 200 --feedback 100 --seed "$2" >&2
  [[ "$(curl -sS -o /dev/null -w '%{http_code}' --data-binary @examples/out_of_range_request.json \
    "$model:predict")" == 200 ]]
  [[ "$(curl -sS -o /dev/null -w '%{http_code}' --data-binary @examples/invalid_type.json \
    "$model:predict")" == 400 ]]
  [[ "$(curl -sS -o /dev/null -w '%{http_code}' --data-binary @examples/valid_request.json \
    "$model:explain")" == 200 ]]
  [[ "$(curl -sS -o /dev/null -w '%{http_code}' --data-binary @examples/v2_infer_request.json \
    "$1/v2/models/$MODEL_NAME/infer")" == 200 ]]
}

# Every query of the chart's Grafana dashboard returns data from the cluster's Prometheus.
check_prometheus_dashboard() {
  local port output
  port="$(free_port)"
  port_forward "svc/$PREDICTOR" "$port:80"
  prometheus_forward
  # Two rounds 20 s apart (4 scrapes): every counter has a sample before an increase inside
  # the 5-minute rate window the panels get here (a slow machine needs minutes for the rounds).
  dashboard_traffic "http://127.0.0.1:$port" 1
  sleep 20
  dashboard_traffic "http://127.0.0.1:$port" 2
  sleep 20
  output="$(uv run --frozen python k8s/monitoring.py dashboard "$PROMETHEUS_URL" \
    --namespace "$NAMESPACE" --isvc "$ISVC" --rate-interval 5m)" || {
    echo "$output" >&2
    return 1
  }
  echo "$output" >&2
  detail "all $(wc -l <<<"$output") dashboard queries return data after two rounds of" \
    "predictions, refusals, explanations, V2 inferences and confirmed outcomes"
}

# Input drift as Prometheus sees it: 1,500 WDBC cases keep every PSI low and fire nothing; the
# same kind of cases with the three area features x1.6 fire BreastCancerFeatureDrift.
check_prometheus_drift() {
  local port model sent psi window alerts firing areas others
  port="$(free_port)"
  port_forward "svc/$PREDICTOR" "$port:80"
  prometheus_forward
  model="http://127.0.0.1:$port/v1/models/$MODEL_NAME"
  sent="$(uv run --frozen python k8s/monitoring.py cases "$model" --rows 1500 --seed 11)"
  echo "$sent" >&2
  # Longer than a drift needs to fire here: a scrape (5 s), driftFor (10 s), evaluations (5 s).
  sleep 40
  psi="$(prom_query "max(breast_cancer_feature_psi{$(release_selector)})" | jq -r '.[0].value[1]')"
  window="$(prom_query "min(breast_cancer_drift_window_instances{$(release_selector)})" |
    jq -r '.[0].value[1]')"
  alerts="$(prom_query "ALERTS{alertname=\"BreastCancerFeatureDrift\", namespace=\"$NAMESPACE\"}")"
  [[ "$alerts" == "[]" ]] || {
    echo "in-distribution cases raised a drift alert: $alerts" >&2
    return 1
  }
  awk -v p="$psi" 'BEGIN { exit !(p + 0 < 0.1 && p != "null") }' || {
    echo "in-distribution cases: highest PSI $psi (window $window), expected < 0.1" >&2
    return 1
  }
  sent="$(uv run --frozen python k8s/monitoring.py cases "$model" --rows 1500 --scale-areas 1.6 \
    --seed 12)"
  echo "$sent" >&2
  firing="$(wait_series 180 "ALERTS{alertname=\"BreastCancerFeatureDrift\", alertstate=\"firing\",
    namespace=\"$NAMESPACE\", feature=\"mean area\"}")"
  firing="$(prom_query "ALERTS{alertname=\"BreastCancerFeatureDrift\", alertstate=\"firing\",
    namespace=\"$NAMESPACE\"}" | jq -r '[.[].metric.feature] | sort | join(", ")')"
  areas="$(prom_query "breast_cancer_feature_psi{$(release_selector),
    feature=~\"mean area|area error|worst area\"}" |
    jq -r '[.[] | "\(.metric.feature) \(.value[1] | tonumber * 100 | round / 100)"] | join(", ")')"
  others="$(prom_query "quantile(0.5, breast_cancer_feature_psi{$(release_selector),
    feature!~\"mean area|area error|worst area\"})" | jq -r '.[0].value[1]')"
  awk -v p="$others" 'BEGIN { exit !(p + 0 < 0.1) }' || {
    echo "with the areas x1.6 the median PSI of the other features is $others, expected < 0.1" >&2
    return 1
  }
  detail "1,500 WDBC cases: highest PSI $(printf '%.3f' "$psi") (window $window), no drift alert;" \
    "1,500 with the areas x1.6: BreastCancerFeatureDrift firing for $firing (PSI $areas;" \
    "median of the other features $(printf '%.3f' "$others"))"
}

# A second release with --workers 2 on the first release's model claim (no training): every
# scrape of one pod's /metrics must report all N predictions, whichever worker answered each,
# and KServe's webhook must have left the chart's prometheus.io/port alone.
check_metrics_two_workers() {
  local release=workers isvc=workers-breast-cancer requests=100 port pod scrape count counts
  helm upgrade --install "$release" "$CHART" --namespace "$NAMESPACE" \
    --set training.enabled=false --set "storage.pvc.existingClaim=$ISVC-models" \
    --set autoscaling.enabled=false --set predictor.workers=2 --wait --timeout "$HELM_TIMEOUT" >&2
  kubectl -n "$NAMESPACE" wait --for=condition=Ready "inferenceservice/$isvc" --timeout=300s >&2
  kubectl -n "$NAMESPACE" rollout status "deployment/$isvc-predictor" --timeout=300s >&2
  pod="$(kubectl -n "$NAMESPACE" get pods -l "serving.kserve.io/inferenceservice=$isvc" \
    --field-selector=status.phase=Running -o jsonpath='{.items[0].metadata.name}')"
  kubectl -n "$NAMESPACE" get pod "$pod" -o json | jq -e '
    .metadata.annotations as $a
    | $a["prometheus.io/scrape"] == "true" and $a["prometheus.io/port"] == "8080"
    and $a["prometheus.io/path"] == "/metrics"
    and ((.spec.containers[] | select(.name == "kserve-container")).env
      | any(.name == "PROMETHEUS_MULTIPROC_DIR"))' >/dev/null || {
    echo "pod $pod lacks the chart's scrape annotations or PROMETHEUS_MULTIPROC_DIR" >&2
    return 1
  }
  port="$(free_port)"
  port_forward "pod/$pod" "$port:8080"
  for _ in $(seq 1 "$requests"); do
    # curl opens a new connection each time, which either worker may accept.
    [[ "$(curl -sS -o /dev/null -w '%{http_code}' --data-binary @examples/valid_request.json \
      "http://127.0.0.1:$port/v1/models/$MODEL_NAME:predict")" == 200 ]]
  done
  counts=""
  for _ in 1 2 3 4 5; do
    scrape="$(curl -sS "http://127.0.0.1:$port/metrics")"
    count="$(sed -n 's/^breast_cancer_http_requests_total{endpoint="predict",status_class="2xx"} //p' \
      <<<"$scrape")"
    counts="$counts ${count%.0}"
    [[ "${count%.0}" == "$requests" ]] || {
      echo "a scrape reported ${count:-no} predictions, $requests were answered" >&2
      return 1
    }
  done
  stop_background
  # Which worker answered how many, from each process's own metrics file.
  local per_process
  per_process="$(kubectl -n "$NAMESPACE" exec "$pod" -c kserve-container -- python -c '
import glob, json, os
from prometheus_client.mmap_dict import MmapedDict
found = []
for path in glob.glob(os.path.join(os.environ["PROMETHEUS_MULTIPROC_DIR"], "counter_*.db")):
    for key, value, _, _ in MmapedDict.read_all_values_from_file(path):
        _, name, labels, _ = json.loads(key)
        if name == "breast_cancer_http_requests_total" and labels == {"endpoint": "predict", "status_class": "2xx"} and value:
            found.append(int(value))
print(" ".join(map(str, sorted(found))))')"
  [[ "$(wc -w <<<"$per_process")" -eq 2 ]] || {
    echo "predictions per worker process: '$per_process' (expected two workers)" >&2
    return 1
  }
  helm uninstall "$release" --namespace "$NAMESPACE" --wait >&2
  detail "--workers 2: $requests predictions, per worker process: $per_process;" \
    "5 scrapes reported:$counts; pod annotated prometheus.io/port 8080 after KServe's webhook"
}

# auth_post URL [TOKEN]: POST examples/valid_request.json with the bearer token (if any) and a
# request id; print the status, then the WWW-Authenticate header (if any) and the body.
auth_post() {
  local headers credentials=()
  headers="$(mktemp)"
  if [[ -n "${2:-}" ]]; then
    credentials=(-H "Authorization: Bearer $2")
  fi
  curl -sS -D "$headers" -o "$LOG_DIR/auth-body.json" -w '%{http_code}\n' \
    --data-binary @examples/valid_request.json -H "x-request-id: e2e-auth-$RANDOM" \
    "${credentials[@]}" "$1"
  tr -d '\r' <"$headers" | sed -n 's/^[Ww][Ww][Ww]-[Aa]uthenticate: //p'
  cat "$LOG_DIR/auth-body.json"
  echo
  rm -f "$headers"
}

# A second release with auth.enabled on the first release's model claim (no training), the
# cluster's own ServiceAccount tokens as identities; a release of its own, so the checks
# after it call the first release without tokens as before. Its pod is Ready (the readiness
# probe needs no token) only after it read the API server's keys; helm test passes with the
# test pod's projected token; from outside through port-forward: no token 401, a token of
# the chart's test ServiceAccount for the audience 200, the same for another audience 401, the
# namespace's default ServiceAccount (not allowed) 403; the audit line names the caller.
check_auth() {
  local release=auth isvc=auth-breast-cancer issuer pod log port url subject caller
  local none allowed other denied audit=""
  issuer="$(kubectl get --raw /.well-known/openid-configuration | jq -r .issuer)"
  helm upgrade --install "$release" "$CHART" --namespace "$NAMESPACE" \
    --set training.enabled=false --set "storage.pvc.existingClaim=$ISVC-models" \
    --set autoscaling.enabled=false --set auth.enabled=true --set "auth.issuer=$issuer" \
    --wait --timeout "$HELM_TIMEOUT" >&2
  kubectl -n "$NAMESPACE" wait --for=condition=Ready "inferenceservice/$isvc" --timeout=300s >&2
  kubectl -n "$NAMESPACE" rollout status "deployment/$isvc-predictor" --timeout=300s >&2
  pod="$(kubectl -n "$NAMESPACE" get pods -l "serving.kserve.io/inferenceservice=$isvc" \
    --field-selector=status.phase=Running -o jsonpath='{.items[0].metadata.name}')"
  kubectl -n "$NAMESPACE" get pod "$pod" -o json | jq -e --arg model "$MODEL_NAME" '
    (.status.conditions[] | select(.type == "Ready") | .status == "True")
    and ((.spec.containers[] | select(.name == "kserve-container")).readinessProbe.httpGet.path
      == "/v1/models/\($model)")' >/dev/null || {
    echo "pod $pod is not Ready, or its readiness probe is not the model's route" >&2
    return 1
  }
  # The keys were read before the server listened: the probe could not pass before.
  log="$(kubectl -n "$NAMESPACE" logs "$pod" -c kserve-container)"
  grep -q 'signing keys of .* from https://kubernetes.default.svc/openid/v1/jwks' <<<"$log" &&
    [[ "$(grep -n 'signing keys of' <<<"$log" | head -n 1 | cut -d: -f1)" -lt \
      "$(grep -n 'Uvicorn running' <<<"$log" | head -n 1 | cut -d: -f1)" ]] || {
    echo "the predictor did not read the API server's keys before listening:" >&2
    head -n 20 <<<"$log" >&2
    return 1
  }
  helm test "$release" --namespace "$NAMESPACE" --logs >"$LOG_DIR/auth-helm-test.log" 2>&1
  port="$(free_port)"
  port_forward "svc/$isvc-predictor" "$port:80"
  url="http://127.0.0.1:$port/v1/models/$MODEL_NAME:predict"
  [[ "$(curl -sS -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/v1/models/$MODEL_NAME")" == 200 ]]
  subject="system:serviceaccount:$NAMESPACE:$isvc-test"
  none="$(auth_post "$url")"
  allowed="$(auth_post "$url" "$(kubectl -n "$NAMESPACE" create token "$isvc-test" --audience breast-cancer)")"
  other="$(auth_post "$url" "$(kubectl -n "$NAMESPACE" create token "$isvc-test" --audience another)")"
  denied="$(auth_post "$url" "$(kubectl -n "$NAMESPACE" create token default --audience breast-cancer)")"
  stop_background
  printf '%s\n---\n' "$none" "$allowed" "$other" "$denied" >&2
  [[ "$(head -n 1 <<<"$none")" == 401 && "$(sed -n 2p <<<"$none")" == Bearer ]]
  [[ "$(head -n 1 <<<"$allowed")" == 200 && "$allowed" == *'"label"'* ]]
  [[ "$(head -n 1 <<<"$other")" == 401 && "$other" == *"audience is not breast-cancer"* ]]
  [[ "$(head -n 1 <<<"$denied")" == 403 &&
    "$denied" == *"system:serviceaccount:$NAMESPACE:default is not allowed"* ]]
  # Audit lines are written every 50 ms; the log reaches kubectl a moment later.
  for _ in $(seq 1 20); do
    audit="$(kubectl -n "$NAMESPACE" logs "$pod" -c kserve-container | { grep '^{"time"' || true; } |
      jq -c --arg subject "$subject" 'select(.event == "answered" and .subject == $subject
        and (.request_id | startswith("e2e-auth-")))' | tail -n 1)"
    [[ -n "$audit" ]] && break
    sleep 0.5
  done
  jq -e '.status == 200 and .instances == 1 and .labels == {"malignant": 1}' <<<"${audit:-null}" \
    >/dev/null || {
    echo "no audit line names $subject: '$audit'" >&2
    return 1
  }
  caller="$(kubectl -n "$NAMESPACE" logs "$pod" -c kserve-container | { grep '^{"time"' || true; } |
    jq -r 'select(.event == "refused" and .status == 403) | .subject' | tail -n 1)"
  [[ "$caller" == "system:serviceaccount:$NAMESPACE:default" ]] || {
    echo "no refusal line names the default ServiceAccount: '$caller'" >&2
    return 1
  }
  helm uninstall "$release" --namespace "$NAMESPACE" >&2
  detail "auth release Ready after reading the API server's keys; helm test passed with its" \
    "projected token; no token 401, $isvc-test for the audience 200, for another audience 401," \
    "default SA 403; audit: $(jq -c '{subject, route, status, labels}' <<<"$audit")"
}

hpa_field() {
  kubectl -n "$NAMESPACE" get hpa "$PREDICTOR" -o json 2>/dev/null | jq -r "$1" 2>/dev/null || true
}

# Revision A serves model A; an upgrade trains model B (another seed) into its own version;
# `helm rollback` to A serves model A again; an upgrade with training.skipIfPresent keeps it
# without training or rolling the pods. Requests flow through the Service the whole time.
check_rollback_under_load() {
  local revision_a version_a prob_a version_b seen_b prob_b seen prob generation summary
  revision_a="$(release_revision)"
  version_a="$(served_version)"
  [[ "$version_a" == "rev-$revision_a" ]] || {
    echo "revision $revision_a serves version '$version_a', not rev-$revision_a" >&2
    return 1
  }
  read -r seen prob_a <<<"$(answer)"
  [[ "$seen" == "$version_a" ]]
  start_load e2e-load-rollback valid_request.json 2
  sleep 3
  helm upgrade "$RELEASE" "$CHART" --namespace "$NAMESPACE" --reuse-values \
    --set-json 'training.args=["--seed","7"]' --wait --timeout "$HELM_TIMEOUT" >&2
  version_b="rev-$(release_revision)"
  wait_served "$version_b"
  read -r seen_b prob_b <<<"$(answer)"
  [[ "$seen_b" == "$version_b" && "$prob_b" != "$prob_a" ]] || {
    echo "after the upgrade: $seen_b $prob_b, expected $version_b and not $prob_a" >&2
    return 1
  }
  helm rollback "$RELEASE" "$revision_a" --namespace "$NAMESPACE" --wait \
    --timeout "$HELM_TIMEOUT" >&2
  wait_served "$version_a"
  read -r seen prob <<<"$(answer)"
  [[ "$seen" == "$version_a" && "$prob" == "$prob_a" ]] || {
    echo "after the rollback: $seen $prob, expected $version_a $prob_a" >&2
    return 1
  }
  generation="$(kubectl -n "$NAMESPACE" get deployment "$PREDICTOR" -o jsonpath='{.metadata.generation}')"
  helm upgrade "$RELEASE" "$CHART" --namespace "$NAMESPACE" --reuse-values \
    --set training.skipIfPresent=true --wait --timeout "$HELM_TIMEOUT" >&2
  kubectl -n "$NAMESPACE" logs "job/$ISVC-train" | grep "skipping training" >&2
  kubectl -n "$NAMESPACE" logs "job/$ISVC-train" | grep -q "version $version_a in .* is valid"
  [[ "$(served_version)" == "$version_a" ]]
  [[ "$(kubectl -n "$NAMESPACE" get deployment "$PREDICTOR" -o jsonpath='{.metadata.generation}')" == "$generation" ]]
  read -r seen prob <<<"$(answer)"
  [[ "$seen" == "$version_a" && "$prob" == "$prob_a" ]]
  sleep 3
  summary="$(stop_load e2e-load-rollback)"
  echo "$summary" >&2
  jq -e '.failed == 0 and .requests > 0' <<<"$summary" >/dev/null
  detail "model_version $version_a (p=$prob_a) -> upgrade, seed 7: $version_b (p=$prob_b) ->" \
    "rollback to revision $revision_a: $version_a (p=$prob_a) -> upgrade with skipIfPresent:" \
    "$seen, not retrained, Deployment generation $generation unchanged; under load:" \
    "$(jq -r '"\(.requests) requests in \(.seconds) s, \(.failed) failed"' <<<"$summary")"
}

# claim_state: "LATEST=<version> versions=<names>" of the release's model claim, read by a
# pod that mounts it read-only (the predictor pods mount one version directory each).
claim_state() {
  local code
  code='import os
root = "/mnt/pvc/breast-cancer"
latest = open(os.path.join(root, "LATEST")).read().strip()
names = sorted(n for n in os.listdir(root) if not n.startswith(".") and n != "LATEST")
print("LATEST=" + latest, "versions=" + ",".join(names))'
  kubectl -n "$NAMESPACE" delete pod e2e-claim --ignore-not-found --wait >/dev/null
  pod_spec e2e-claim "$(jq -nc --arg code "$code" '["python", "-c", $code]')" |
    jq --arg claim "$ISVC-models" '
      .spec.volumes += [{name: "models", persistentVolumeClaim: {claimName: $claim, readOnly: true}}]
      | .spec.containers[0].volumeMounts += [{name: "models", mountPath: "/mnt/pvc", readOnly: true}]' |
    kubectl -n "$NAMESPACE" apply -f - >/dev/null
  kubectl -n "$NAMESPACE" wait pod/e2e-claim --timeout=180s \
    --for=jsonpath='{.status.phase}'=Succeeded >/dev/null || {
    kubectl -n "$NAMESPACE" logs e2e-claim >&2 || true
    return 1
  }
  kubectl -n "$NAMESPACE" logs e2e-claim | tail -n 1
  kubectl -n "$NAMESPACE" delete pod e2e-claim --wait=false >/dev/null
}

# An upgrade whose model the promotion gate refuses (a ROC-AUC floor of 1, which no model of
# the bundled data reaches) fails: the training Job exits 4 in its one pod (podFailurePolicy:
# no retry) and writes nothing, so LATEST and the claim's versions stay as they were; the
# InferenceService and its Deployment are not touched and the running model answers as
# before, under load, 0 failed. A rollback to the last good revision leaves the release
# deployed again, with the values it had, for the checks after this one.
check_promotion_gate() {
  local revision version generation claim_before claim_after seen prob_before prob status
  local uid exit_code refusal summary
  revision="$(release_revision)"
  version="$(served_version)"
  generation="$(kubectl -n "$NAMESPACE" get deployment "$PREDICTOR" -o jsonpath='{.metadata.generation}')"
  claim_before="$(claim_state)"
  read -r seen prob_before <<<"$(answer)"
  [[ "$seen" == "$version" ]]
  start_load e2e-load-gate valid_request.json 2
  sleep 3
  status=0
  # skipIfPresent=false: the values reused from the rollback check would skip training.
  helm upgrade "$RELEASE" "$CHART" --namespace "$NAMESPACE" --reuse-values \
    --set training.skipIfPresent=false --set training.promotionGate.minRocAuc=1 \
    --wait --timeout "$HELM_TIMEOUT" >&2 || status=$?
  [[ $status -ne 0 ]] || {
    echo "helm upgrade succeeded although the promotion gate had to refuse the model" >&2
    return 1
  }
  kubectl -n "$NAMESPACE" logs "job/$ISVC-train" >"$LOG_DIR/train-refused.log"
  refusal="$(grep -m 1 'promotion refused: roc_auc .* is below the floor 1.0000' \
    "$LOG_DIR/train-refused.log" || true)"
  [[ -n "$refusal" && "$refusal" == *"LATEST still names"* ]] || {
    echo "the training log does not say why the model was refused:" >&2
    tail -n 5 "$LOG_DIR/train-refused.log" >&2
    return 1
  }
  kubectl -n "$NAMESPACE" get job "$ISVC-train" -o json | jq -e '.status.failed == 1
    and any(.status.conditions[]?; .type == "Failed" and .reason == "PodFailurePolicy")' \
    >/dev/null || {
    echo "the training Job did not fail at once through its podFailurePolicy" >&2
    return 1
  }
  uid="$(kubectl -n "$NAMESPACE" get job "$ISVC-train" -o jsonpath='{.metadata.uid}')"
  exit_code="$(kubectl -n "$NAMESPACE" get pods -l "batch.kubernetes.io/controller-uid=$uid" \
    -o jsonpath='{.items[*].status.containerStatuses[0].state.terminated.exitCode}')"
  [[ "$exit_code" == 4 ]] || {
    echo "training pod exit code(s): '$exit_code', expected one 4" >&2
    return 1
  }
  [[ "$(served_version)" == "$version" ]]
  [[ "$(kubectl -n "$NAMESPACE" get deployment "$PREDICTOR" -o jsonpath='{.metadata.generation}')" == "$generation" ]]
  claim_after="$(claim_state)"
  [[ "$claim_after" == "$claim_before" ]] || {
    echo "the claim changed: '$claim_before' -> '$claim_after'" >&2
    return 1
  }
  read -r seen prob <<<"$(answer)"
  [[ "$seen" == "$version" && "$prob" == "$prob_before" ]] || {
    echo "after the refused upgrade: $seen $prob, expected $version $prob_before" >&2
    return 1
  }
  sleep 3
  summary="$(stop_load e2e-load-gate)"
  echo "$summary" >&2
  jq -e '.failed == 0 and .requests > 0' <<<"$summary" >/dev/null
  helm rollback "$RELEASE" "$revision" --namespace "$NAMESPACE" --wait \
    --timeout "$HELM_TIMEOUT" >&2
  [[ "$(served_version)" == "$version" ]]
  detail "upgrade refused by the promotion gate (Job exit 4 in one pod; $claim_after unchanged);" \
    "$version (p=$prob) kept serving, Deployment generation $generation unchanged; under load:" \
    "$(jq -r '"\(.requests) requests in \(.seconds) s, \(.failed) failed"' <<<"$summary");" \
    "rolled back to revision $revision"
}

# The chart's NetworkPolicies, enforced by the cluster's network plugin: a pod of the
# release's namespace gets 200; a pod of another namespace does not get through until the
# values name its namespace; a pod under the training Job's policy resolves names but cannot
# reach the predictor.
check_network_policy() {
  local outside="$NAMESPACE-outside" url allowed denied training admitted labels
  url="http://$PREDICTOR.$NAMESPACE.svc.cluster.local/v1/models/$MODEL_NAME:predict"
  kubectl -n "$NAMESPACE" get networkpolicy "$PREDICTOR" >/dev/null
  kubectl delete namespace "$outside" --ignore-not-found --wait --timeout=300s >&2
  kubectl create namespace "$outside" >&2
  kubectl -n "$outside" create configmap e2e-loadgen --from-file=k8s/loadgen.py >&2
  allowed="$(run_pod e2e-np-allowed "$(post_py "$url" allowed)" | tail -n 1)"
  [[ "$allowed" == 200* ]] || {
    echo "a pod of $NAMESPACE got: $allowed" >&2
    return 1
  }
  denied="$(NAMESPACE="$outside" run_pod e2e-np-denied "$(post_py "$url" denied)" | tail -n 1)"
  [[ "$denied" =~ ^(ConnectionRefusedError|TimeoutError) ]] || {
    echo "a pod of $outside got: $denied" >&2
    return 1
  }
  # The training policy is a hook that exists only while the Job runs: apply it as rendered.
  helm template "$RELEASE" "$CHART" --namespace "$NAMESPACE" --kube-version \
    "$(kubectl version -o json | jq -r .serverVersion.gitVersion)" \
    --show-only templates/networkpolicy.yaml |
    kubectl -n "$NAMESPACE" apply -l app.kubernetes.io/component=training -f - >&2
  labels="$(jq -nc --arg instance "$RELEASE" '{"app.kubernetes.io/name": "breast-cancer",
    "app.kubernetes.io/instance": $instance, "app.kubernetes.io/component": "training"}')"
  training="$(run_pod e2e-np-training "import socket
print('dns', socket.gethostbyname('$PREDICTOR.$NAMESPACE.svc.cluster.local'))
$(post_py "$url" denied)" "$labels")"
  kubectl -n "$NAMESPACE" delete networkpolicy "$ISVC-train" >&2
  [[ "$(head -n 1 <<<"$training")" == "dns "* &&
    "$(tail -n 1 <<<"$training")" =~ ^(ConnectionRefusedError|TimeoutError) ]] || {
    echo "a pod with the training labels got: $training" >&2
    return 1
  }
  helm upgrade "$RELEASE" "$CHART" --namespace "$NAMESPACE" --reuse-values \
    --set training.skipIfPresent=true --set "networkPolicy.ingress.namespaces={$outside}" \
    --wait --timeout "$HELM_TIMEOUT" >&2
  admitted="$(NAMESPACE="$outside" run_pod e2e-np-admitted "$(post_py "$url" allowed)" | tail -n 1)"
  [[ "$admitted" == 200* ]] || {
    echo "a pod of $outside, named in networkPolicy.ingress.namespaces, got: $admitted" >&2
    return 1
  }
  kubectl delete namespace "$outside" --wait=false >&2
  detail "POST from a pod in $NAMESPACE: ${allowed:0:3}; from a pod in $outside: $denied;" \
    "from a pod under the training policy: $(head -n 1 <<<"$training") resolved, POST" \
    "$(tail -n 1 <<<"$training"); with networkPolicy.ingress.namespaces={$outside}: ${admitted:0:3}"
}

# With the default values (autoscaling.enabled, 1 to 3 replicas, 80% of the CPU request),
# KServe owns an HPA for the predictor.
check_hpa() {
  local idle cpu peak=0 replicas=1 start summary
  [[ "$(ready_replicas)" == 1 ]]
  for _ in $(seq 1 180); do
    idle="$(hpa_field '.status.currentMetrics[0].resource.current.averageUtilization // empty')"
    [[ -n "$idle" ]] && break
    sleep 1
  done
  [[ -n "$idle" ]] || {
    echo "the HPA never read a CPU figure: $(hpa_field .status)" >&2
    return 1
  }
  start_load e2e-load-hpa valid_batch_request.json 6
  start=$SECONDS
  while ((SECONDS - start < 300)); do
    cpu="$(hpa_field '.status.currentMetrics[0].resource.current.averageUtilization // 0')"
    ((cpu > peak)) && peak=$cpu
    replicas="$(hpa_field '.status.desiredReplicas // 1')"
    ((replicas > 1)) && [[ "$(ready_replicas)" -gt 1 ]] && break
    sleep 5
  done
  summary="$(stop_load e2e-load-hpa)"
  echo "$summary" >&2
  ((replicas > 1))
  detail "HPA $PREDICTOR read ${idle}% CPU idle, peak ${peak}% of requests under load" \
    "(target $(hpa_field '.spec.metrics[0].resource.target.averageUtilization')%);" \
    "scaled 1 -> $replicas in $((SECONDS - start)) s"
}

check_s3() {
  local node_ip host_ip port release=s3 isvc=s3-breast-cancer objects init output
  node_ip="$(kubectl get nodes -o jsonpath='{.items[0].status.addresses[?(@.type=="InternalIP")].address}')"
  host_ip="$(ip -4 route get "$node_ip" | sed -n 's/.* src \([0-9.]*\).*/\1/p')"
  # moto listens on an address of this machine on the pods' side, never beyond it.
  ip -4 route get "$host_ip" | grep -q '^local ' || {
    echo "$host_ip is not an address of this machine" >&2
    return 1
  }
  port="$(free_port)"
  # The venv's Python itself (not `uv run`), so the PID stopped at the end is moto's own.
  "$(uv run --frozen python -c 'import sys; print(sys.executable)')" -m moto.server \
    -H "$host_ip" -p "$port" >"$LOG_DIR/moto.log" 2>&1 &
  BACKGROUND_PIDS+=($!)
  for _ in $(seq 1 60); do
    curl -fsS -o /dev/null "http://$host_ip:$port/" 2>/dev/null && break
    sleep 1
  done
  uv run --frozen python -c "
import boto3
boto3.client('s3', endpoint_url='http://$host_ip:$port', region_name='us-east-1',
             aws_access_key_id='testing', aws_secret_access_key='testing').create_bucket(Bucket='models')"
  kubectl -n "$NAMESPACE" create secret generic s3-credentials \
    --from-literal=AWS_ACCESS_KEY_ID=testing --from-literal=AWS_SECRET_ACCESS_KEY=testing >&2
  kubectl -n "$NAMESPACE" annotate secret s3-credentials \
    "serving.kserve.io/s3-endpoint=$host_ip:$port" serving.kserve.io/s3-usehttps=0 \
    serving.kserve.io/s3-region=us-east-1 >&2
  helm upgrade --install "$release" "$CHART" --namespace "$NAMESPACE" \
    --set storage.type=s3 --set storage.s3.uri=s3://models/breast-cancer \
    --set "storage.s3.endpoint=$host_ip:$port" --set storage.s3.useHttps=false \
    --set storage.s3.secretName=s3-credentials --set autoscaling.enabled=false \
    --wait --timeout "$HELM_TIMEOUT" >&2
  kubectl -n "$NAMESPACE" wait --for=condition=Ready "inferenceservice/$isvc" --timeout=300s >&2
  objects="$(uv run --frozen python -c "
import boto3
s3 = boto3.client('s3', endpoint_url='http://$host_ip:$port', region_name='us-east-1',
                  aws_access_key_id='testing', aws_secret_access_key='testing')
print(s3.list_objects_v2(Bucket='models', Prefix='breast-cancer/')['KeyCount'])")"
  init="$(kubectl -n "$NAMESPACE" get pods -l "serving.kserve.io/inferenceservice=$isvc" -o json |
    jq -r '.items[0].status.initContainerStatuses[]? |
      select(.name == "storage-initializer") | "\(.image) exit \(.state.terminated.exitCode)"')"
  [[ "$init" == *"exit 0" ]]
  output="$(run_pod e2e-s3-predict "$(post_py \
    "http://$isvc-predictor.$NAMESPACE.svc.cluster.local/v1/models/$MODEL_NAME:predict" allowed)")"
  [[ "$(tail -n 1 <<<"$output")" == 200* ]]
  helm uninstall "$release" --namespace "$NAMESPACE" --wait >&2
  stop_background
  detail "training uploaded $objects objects to s3://models/breast-cancer (moto on" \
    "$host_ip:$port); storage-initializer $init; Ready; POST -> $(cut -c 1-3 <<<"$(tail -n 1 <<<"$output")")"
}

# Python for a pod with the batch claim at /data: the CSV check_batch scores, 3,000 rows of the
# bundled data (an id, the features in reverse order, a note), then a string and a short row.
batch_input_py() {
  cat <<'PYTHON'
import csv, os, random
from sklearn.datasets import load_breast_cancer
data = load_breast_cancer()
names = [str(n) for n in data.feature_names][::-1]
rng = random.Random(7)
os.makedirs('/data/in', exist_ok=True)
with open('/data/in/cases.csv', 'w', newline='') as handle:
    out = csv.writer(handle)
    out.writerow(['case_id', *names, 'note'])
    for i in range(3000):
        values = [repr(float(v) * rng.uniform(0.98, 1.02)) for v in data.data[i % 569][::-1]]
        out.writerow([f'{i:06d}', *values, 'first, quoted' if i == 0 else ''])
    first = [repr(float(v)) for v in data.data[0][::-1]]
    out.writerow(['bad-string', 'large', *first[1:], ''])
    out.writerow(['bad-short', *first])
print('wrote 3,002 rows to /data/in/cases.csv')
PYTHON
}

# Python for a pod with the batch claim at /data: the parts hold every row of the input once,
# in order, the two bad rows are refused with the API's message, and a sample of 50 rows
# scores as the online API at URL ($1) answers. Prints a JSON summary.
batch_check_py() {
  reach_py
  cat <<PYTHON
import csv, glob, json, urllib.error, urllib.request
URL = '$1'
def post(instances):
    body = json.dumps({'instances': instances}).encode()
    request = urllib.request.Request(URL, body, {'Content-Type': 'application/json'})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.load(response)
    except urllib.error.HTTPError as error:
        return error.code, json.load(error)
reach(URL)
rows = list(csv.DictReader(open('/data/in/cases.csv')))
names = [key for key in rows[0] if key not in ('case_id', 'note')]
scores = sorted(glob.glob('/data/scores/part-*[0-9].csv'))
errors = sorted(glob.glob('/data/scores/part-*.errors.csv'))
assert len(scores) == len(errors) == 3, (scores, errors)
parts = [list(csv.DictReader(open(path))) for path in scores]
assert all(parts), 'a shard scored no row'
scored = [row for part in parts for row in part]
refused = [row for path in errors for row in csv.DictReader(open(path))]
assert [row['case_id'] for row in scored] == [row['case_id'] for row in rows[:3000]]
assert [int(row['row']) for row in refused] == [3001, 3002], refused
assert scored[0]['note'] == 'first, quoted'
sample = rows[:3000:60]
status, answer = post([{name: float(row[name]) for name in names} for row in sample])
assert status == 200, answer
worst = 0.0
for row, prediction in zip(sample, answer['predictions']):
    mine = scored[int(row['case_id'])]
    worst = max(worst, abs(float(mine['probability_malignant']) - prediction['probability_malignant']))
    assert mine['label'] == prediction['label'], (mine, prediction)
    assert mine['out_of_range'] == ';'.join(w['feature'] for w in prediction['warnings'])
    assert mine['model_version'] == answer['model_version']
assert worst <= 1e-9, worst
bad = rows[3000]
status, refusal = post([{name: bad[name] if name == names[0] else float(bad[name]) for name in names}])
assert status == 400 and refused[0]['message'] == refusal['error'].replace('instance 0', 'row 3001'), (refused[0], refusal)
assert refused[1]['message'] == 'row 3002: expected 32 fields, one per header column, got 31'
print(json.dumps({'scored': len(scored), 'per_shard': [len(part) for part in parts],
                  'refused': len(refused), 'sample': len(sample), 'max_diff': worst,
                  'version': answer['model_version']}))
PYTHON
}

# The batch Job: a CSV on a claim of its own, scored by a 3-shard Indexed Job on the model
# claim (read-only) with the served model; the union of the parts checked row by row and a
# sample against the online API, from a pod in the cluster.
check_batch() {
  local claim=e2e-batch-data job spec wrote summary selector
  selector="app.kubernetes.io/instance=$RELEASE,app.kubernetes.io/component=batch"
  kubectl -n "$NAMESPACE" apply -f - >&2 <<YAML
apiVersion: v1
kind: PersistentVolumeClaim
metadata:
  name: $claim
spec:
  accessModes: [ReadWriteOnce]
  resources:
    requests:
      storage: 256Mi
YAML
  wrote="$(run_pod e2e-batch-input "$(batch_input_py)" "" "$claim" | tail -n 1)"
  helm upgrade "$RELEASE" "$CHART" --namespace "$NAMESPACE" --reuse-values \
    --set training.skipIfPresent=true --set batch.enabled=true --set "batch.dataClaim=$claim" \
    --set batch.input=in/cases.csv --set batch.output=scores --set batch.shards=3 \
    --set batch.parallelism=3 --wait --timeout "$HELM_TIMEOUT" >&2
  job="$(kubectl -n "$NAMESPACE" get jobs -l "$selector" -o jsonpath='{.items[0].metadata.name}')"
  kubectl -n "$NAMESPACE" wait --for=condition=complete "job/$job" --timeout=600s >&2 || {
    kubectl -n "$NAMESPACE" logs -l "job-name=$job" --prefix --tail=20 >&2 || true
    return 1
  }
  kubectl -n "$NAMESPACE" logs -l "job-name=$job" --prefix >"$LOG_DIR/batch.log"
  [[ "$(grep -c 'done: ' "$LOG_DIR/batch.log")" == 3 ]]
  spec="$(kubectl -n "$NAMESPACE" get job "$job" -o json)"
  jq -e --arg image "$IMAGE" --arg version "$(served_version)" '
    .spec.template.spec as $pod | $pod.containers[0] as $c
    | .spec.completionMode == "Indexed" and .spec.completions == 3 and .status.succeeded == 3
    and $c.image == $image and $c.securityContext.readOnlyRootFilesystem == true
    and $c.securityContext.runAsNonRoot == true
    and ($c.args | index("--model_dir")) as $i | $c.args[$i + 1] == "/mnt/models/\($version)"
    and ($c.volumeMounts[] | select(.mountPath == "/mnt/models") | .readOnly) == true' \
    <<<"$spec" >/dev/null || {
    echo "job $job is not the chart's 3-shard Indexed Job on the served model" >&2
    return 1
  }
  summary="$(run_pod e2e-batch-check "$(batch_check_py "$PREDICT_URL")" "" "$claim" | tail -n 1)"
  echo "$summary" >&2
  helm upgrade "$RELEASE" "$CHART" --namespace "$NAMESPACE" --reuse-values \
    --set batch.enabled=false --wait --timeout "$HELM_TIMEOUT" >&2
  kubectl -n "$NAMESPACE" delete pvc "$claim" --wait=false >&2
  detail "$wrote; Indexed Job $job: 3/3 shards on the model claim read-only, model" \
    "$(jq -r .version <<<"$summary"); parts: $(jq -c .per_shard <<<"$summary") scored +" \
    "$(jq -r .refused <<<"$summary") refused = every row once, in order; the refused one's" \
    "message is the API's; $(jq -r .sample <<<"$summary") sampled rows as the online API" \
    "answers (max |dp| $(jq -r .max_diff <<<"$summary"))"
}

check_uninstall() {
  helm uninstall "$RELEASE" --namespace "$NAMESPACE" --wait >&2
  kubectl -n "$NAMESPACE" wait --for=delete "deployment/$PREDICTOR" --timeout=120s >&2 || true
  local kind
  for kind in inferenceservice serviceaccount; do
    if kubectl -n "$NAMESPACE" get "$kind" "$ISVC" >/dev/null 2>&1; then
      echo "$kind $ISVC is still there" >&2
      return 1
    fi
  done
  kubectl -n "$NAMESPACE" get pvc "$ISVC-models" -o json | jq -e '.status.phase == "Bound"' >/dev/null
  detail "release, InferenceService and ServiceAccount gone; PVC $ISVC-models kept (Bound)"
}

# The plain manifests, applied as k8s/README.md says: training, wait, serving.
check_plain_manifests() {
  local namespace="$NAMESPACE-manifests" output
  kubectl delete namespace "$namespace" --ignore-not-found --wait --timeout=300s >&2
  kubectl create namespace "$namespace" >&2
  kubectl -n "$namespace" create configmap e2e-loadgen --from-file=k8s/loadgen.py >&2
  kubectl -n "$namespace" apply -k k8s/manifests/train >&2
  kubectl -n "$namespace" wait --for=condition=complete job/breast-cancer-train --timeout=600s >&2
  kubectl -n "$namespace" apply -k k8s/manifests/serve >&2
  kubectl -n "$namespace" wait --for=condition=Ready inferenceservice/breast-cancer --timeout=300s >&2
  output="$(NAMESPACE="$namespace" run_pod e2e-manifests-predict "$(post_py \
    "http://breast-cancer-predictor.$namespace.svc.cluster.local/v1/models/$MODEL_NAME:predict" allowed)")"
  [[ "$(tail -n 1 <<<"$output")" == 200* ]]
  kubectl delete namespace "$namespace" --wait=false >&2
  detail "apply -k k8s/manifests/train, wait for the Job, apply -k k8s/manifests/serve: Ready, POST -> 200"
}

# --- runner --------------------------------------------------------------------------------

# check NAME FUNCTION: run the check in its own bash process (so errexit holds inside it
# whatever the caller does with its status), print one result line.
check() {
  local name="$1" status=0
  CHECKS_RUN=$((CHECKS_RUN + 1))
  : >"$LOG_DIR/.detail"
  LOG_DIR="$LOG_DIR" bash "$ROOT/k8s/e2e.sh" --check "$2" >"$LOG_DIR/check-$name.log" 2>&1 ||
    status=$?
  { echo "--- $name (exit $status)"; cat "$LOG_DIR/check-$name.log"; } >>"$LOG_DIR/e2e.log"
  if [[ $status -eq 0 ]]; then
    CHECKS_PASSED=$((CHECKS_PASSED + 1))
    echo "ok   $name: $(cat "$LOG_DIR/.detail")"
  else
    echo "FAIL $name: $(grep -v '^ *$' "$LOG_DIR/check-$name.log" | tail -n 2 | tr '\n' ' ')" \
      "(log: $LOG_DIR/check-$name.log)"
  fi
  return $status
}

diagnostics() {
  kubectl get nodes,pods,svc,endpointslices,inferenceservices,pvc,pv,hpa,jobs -A -o wide \
    >"$LOG_DIR/resources.txt" 2>&1 || true
  kubectl get events -A --sort-by=.lastTimestamp >"$LOG_DIR/events.txt" 2>&1 || true
  kubectl -n "$NAMESPACE" describe inferenceservices,deployments,pods,jobs,pvc \
    >"$LOG_DIR/describe.txt" 2>&1 || true
  local pod
  for pod in $(kubectl -n "$NAMESPACE" get pods -o name 2>/dev/null); do
    kubectl -n "$NAMESPACE" logs "$pod" --all-containers --prefix \
      >"$LOG_DIR/${pod#pod/}.log" 2>&1 || true
  done
}

on_exit() {
  stop_background
  if [[ $CHECKS_PASSED -ne $CHECKS_RUN || $CHECKS_RUN -eq 0 ]]; then
    diagnostics
    echo "diagnostics in $LOG_DIR" >&2
  fi
}

main() {
  local tool
  for tool in kubectl helm jq curl uv python3; do
    command -v "$tool" >/dev/null || {
      echo "missing required tool: $tool" >&2
      exit 1
    }
  done
  rm -rf "$LOG_DIR"
  mkdir -p "$LOG_DIR"
  trap on_exit EXIT
  if kubectl get namespace "$NAMESPACE" >/dev/null 2>&1; then
    echo "deleting namespace $NAMESPACE left from an earlier run" >&2
    kubectl delete namespace "$NAMESPACE" --wait --timeout=300s >&2
  fi
  kubectl create namespace "$NAMESPACE" >&2
  kubectl -n "$NAMESPACE" create configmap e2e-loadgen --from-file=k8s/loadgen.py >&2
  echo "e2e on $(kubectl config current-context 2>/dev/null || echo cluster), namespace" \
    "$NAMESPACE, image $IMAGE; log: $LOG_DIR/e2e.log" >&2
  # The first check installs the release: without it the others cannot run.
  if ! check install check_install; then
    echo "e2e: 0/$CHECKS_RUN checks passed (install failed; other checks not run)"
    exit 1
  fi
  check isvc-ready check_isvc_ready || true
  check deployment-spec check_deployment_spec || true
  check payloads check_payloads || true
  check docker-quick-start check_docker_quick_start || true
  check grpc check_grpc || true
  check helm-test check_helm_test || true
  check prometheus-scrape check_prometheus_scrape || true
  check prometheus-dashboard check_prometheus_dashboard || true
  check prometheus-drift check_prometheus_drift || true
  check readiness-gating check_readiness_gating || true
  check hpa check_hpa || true
  check upgrade-under-load check_upgrade_under_load || true
  check pod-deletion-under-load check_pod_deletion_under_load || true
  check rollback-under-load check_rollback_under_load || true
  check promotion-gate check_promotion_gate || true
  check network-policy check_network_policy || true
  check metrics-two-workers check_metrics_two_workers || true
  check auth check_auth || true
  check s3 check_s3 || true
  check batch check_batch || true
  check uninstall-keeps-pvc check_uninstall || true
  check plain-manifests check_plain_manifests || true
  if [[ $CHECKS_PASSED -eq $CHECKS_RUN ]]; then
    kubectl delete namespace "$NAMESPACE" --wait=false >&2
  fi
  echo "e2e: $CHECKS_PASSED/$CHECKS_RUN checks passed"
  [[ $CHECKS_PASSED -eq $CHECKS_RUN ]]
}

if [[ "${1:-}" == --check ]]; then
  trap stop_background EXIT
  "$2"
  exit 0
fi
main "$@"
