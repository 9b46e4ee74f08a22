#!/usr/bin/env bash
# End-to-end checks of the chart on the cluster KUBECONFIG points at. The cluster must have
# KServe (Standard mode), metrics-server, a default StorageClass, and the project image
# loaded under the chart's default tag: k8s/local-cluster.sh up (make e2e-local) or
# k8s/e2e-kind.sh (make e2e-kind) prepare one.
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
CHECKS_RUN=0
CHECKS_PASSED=0
BACKGROUND_PIDS=()

log() { printf '  %s\n' "$*" >&2; }

# post_py URL MODE: Python for a pod that POSTs examples/valid_request.json to URL and prints
# the status and body, or the error and how long the attempt took. MODE allowed: retry
# connection errors for 30 s (a new pod's address takes a moment to reach the network policy
# rules that admit it); denied: first wait 5 s for those rules to cover the new pod, then try
# once with a 5 s timeout.
post_py() {
  cat <<PYTHON
import time, urllib.error, urllib.request
body = open('/app/examples/valid_request.json', 'rb').read()
request = urllib.request.Request('$1', body, {'Content-Type': 'application/json'})
if '$2' == 'denied':
    time.sleep(5)
deadline = time.monotonic() + (30 if '$2' == 'allowed' else 0)
while True:
    start = time.monotonic()
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            print(response.status, response.read().decode())
        break
    except urllib.error.HTTPError as error:
        print(error.code, error.read().decode()[:200])
        break
    except OSError as error:
        reason = getattr(error, 'reason', error)
        if time.monotonic() > deadline:
            print(type(reason).__name__, f'after {time.monotonic() - start:.1f} s')
            break
        time.sleep(1)
PYTHON
}

# What a check reports on its result line (its last call wins).
detail() { echo "$*" >"$LOG_DIR/.detail"; }

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
# security context, a writable /tmp and the load generator mounted at /loadgen.
pod_spec() {
  jq -n --arg name "$1" --arg image "$IMAGE" --argjson command "$2" \
    --argjson labels "${3:-$E2E_LABELS}" '{
    apiVersion: "v1", kind: "Pod",
    metadata: {name: $name, labels: $labels},
    spec: {
      restartPolicy: "Never", automountServiceAccountToken: false,
      securityContext: {runAsNonRoot: true, runAsUser: 1000, runAsGroup: 1000,
        seccompProfile: {type: "RuntimeDefault"}},
      containers: [{name: "main", image: $image, imagePullPolicy: "IfNotPresent",
        command: $command,
        resources: {requests: {cpu: "100m", memory: "64Mi"}, limits: {memory: "256Mi"}},
        securityContext: {allowPrivilegeEscalation: false, readOnlyRootFilesystem: true,
          capabilities: {drop: ["ALL"]}},
        volumeMounts: [{name: "tmp", mountPath: "/tmp"}, {name: "loadgen", mountPath: "/loadgen"}]}],
      volumes: [{name: "tmp", emptyDir: {}}, {name: "loadgen", configMap: {name: "e2e-loadgen"}}]}}'
}

# run_pod NAME PYTHON_CODE [LABELS_JSON]: run the code in a pod inside the cluster, print its
# output.
run_pod() {
  kubectl -n "$NAMESPACE" delete pod "$1" --ignore-not-found --wait >/dev/null
  pod_spec "$1" "$(jq -nc --arg code "$2" '["python", "-c", $code]')" "${3:-}" |
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

# --- checks --------------------------------------------------------------------------------

check_install() {
  helm upgrade --install "$RELEASE" "$CHART" --namespace "$NAMESPACE" \
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

check_payloads() {
  local port expected_count checked=0 failures=0 version
  port="$(free_port)"
  port_forward "svc/$PREDICTOR" "$port:80"
  expected_count="$(jq 'length' examples/index.json)"
  version="$(cat "$LOG_DIR/.model-version")"
  while IFS=$'\t' read -r file protocol verb expected labels; do
    checked=$((checked + 1))
    local path="/v1/models/$MODEL_NAME:$verb" body="$LOG_DIR/response-$file" status
    [[ "$protocol" == v2 ]] && path="/v2/models/$MODEL_NAME/infer"
    status="$(curl -sS -o "$body" -w '%{http_code}' --data-binary "@examples/$file" \
      "http://127.0.0.1:$port$path")"
    if [[ "$status" != "$expected" ]]; then
      echo "$file: POST $path -> $status, expected $expected: $(head -c 300 "$body")" >&2
      failures=$((failures + 1))
    elif [[ "$status" == 200 && "$protocol" == v1 && "$verb" == predict ]] &&
      ! jq -e --argjson want "$labels" --arg version "$version" \
        '([.predictions[].label] == $want or $want == []) and .model_version == $version' \
        "$body" >/dev/null; then
      echo "$file: labels or model version differ: $(head -c 300 "$body")" >&2
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
    (.labels // [] | tojson)] | @tsv' examples/index.json)
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
  output="$(run_pod e2e-grpc "
import asyncio, json
import numpy as np
from kserve import InferenceGRPCClient
from kserve.protocol.infer_type import InferInput, InferRequest

async def main():
    tensor = json.load(open('/app/examples/v2_infer_request.json'))['inputs'][0]
    data = np.array(tensor['data'], dtype=np.float64).reshape(tensor['shape'])
    infer_input = InferInput('features', list(data.shape), 'FP64')
    infer_input.set_data_from_numpy(data, binary_data=False)
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
  local release=gating isvc=gating-breast-cancer pod restarts ready message
  helm upgrade --install "$release" "$CHART" --namespace "$NAMESPACE" \
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
  helm uninstall "$release" --namespace "$NAMESPACE" --wait >&2
  kubectl -n "$NAMESPACE" delete pvc "$isvc-models" --wait=false >&2
  detail "without a model: Ready=${ready:-none}, 0 ready endpoints, $restarts restart(s); log: ${message:0:120}"
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
  check grpc check_grpc || true
  check helm-test check_helm_test || true
  check readiness-gating check_readiness_gating || true
  check hpa check_hpa || true
  check upgrade-under-load check_upgrade_under_load || true
  check pod-deletion-under-load check_pod_deletion_under_load || true
  check rollback-under-load check_rollback_under_load || true
  check network-policy check_network_policy || true
  check metrics-two-workers check_metrics_two_workers || true
  check s3 check_s3 || true
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
