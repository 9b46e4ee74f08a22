{{/*
Pod annotations for annotation-based Prometheus discovery (metrics.podAnnotations).

Standard mode: the server's own /metrics on the HTTP port. KServe's pod webhook rewrites
prometheus.io/port to 9091 (Knative's queue-proxy port, absent in Standard mode) whenever
serving.kserve.io/enable-prometheus-scraping is "true", which inferenceservice-config can make
the default; "false" keeps the port this chart sets.

Knative mode: KServe's metric aggregation. The webhook points prometheus.io/port at the
queue-proxy's aggregate port (9088), where queue-proxy serves its own metrics merged with the
predictor's from prometheus.kserve.io/port and path. That needs KServe's queue-proxy extension
image in Knative's config-deployment.

Neither webhook path sets prometheus.io/scrape, so the chart does in both modes.
*/}}
{{- define "breast-cancer.scrapeAnnotations" -}}
{{- if .Values.metrics.podAnnotations }}
prometheus.io/scrape: "true"
{{- if eq .Values.deploymentMode "Standard" }}
prometheus.io/port: {{ include "breast-cancer.httpPort" . | quote }}
prometheus.io/path: {{ include "breast-cancer.metricsPath" . }}
serving.kserve.io/enable-prometheus-scraping: "false"
{{- else }}
serving.kserve.io/enable-prometheus-scraping: "true"
serving.kserve.io/enable-metric-aggregation: "true"
prometheus.kserve.io/port: {{ include "breast-cancer.httpPort" . | quote }}
prometheus.kserve.io/path: {{ include "breast-cancer.metricsPath" . }}
{{- end }}
{{- end }}
{{- end }}

{{/*
Port and path of the predictor's Prometheus metrics (the REST port serves /metrics).
*/}}
{{- define "breast-cancer.httpPort" -}}8080{{- end }}
{{- define "breast-cancer.metricsPath" -}}/metrics{{- end }}

{{/*
Name of the predictor's HTTP container port; KServe gives its Service port the same name.
*/}}
{{- define "breast-cancer.httpPortName" -}}http1{{- end }}

{{/*
PromQL label matchers for this release's predictor pods. namespace and pod are the labels both
common setups attach: prometheus-operator's ServiceMonitor/PodMonitor and the prometheus.io
annotation job of the Prometheus community chart. KServe names the pods
<fullname>-predictor-<replicaset hash>-<suffix>.
*/}}
{{- define "breast-cancer.promSelector" -}}
namespace="{{ .Release.Namespace }}", pod=~"{{ include "breast-cancer.predictorName" . }}-.+"
{{- end }}

{{/*
Scrape settings shared by the ServiceMonitor's endpoint and the PodMonitor's.
*/}}
{{- define "breast-cancer.scrapeEndpoint" -}}
port: {{ include "breast-cancer.httpPortName" . }}
path: {{ include "breast-cancer.metricsPath" . }}
scheme: http
interval: {{ .interval }}
scrapeTimeout: {{ .scrapeTimeout }}
{{- end }}

{{/*
The monitors scrape the predictor's own container port, which only Standard mode keeps
(Knative renames it and puts queue-proxy in front): there, use metrics.podAnnotations.
*/}}
{{- define "breast-cancer.validateMonitor" -}}
{{- if ne .root.Values.deploymentMode "Standard" }}
{{- fail (printf "metrics.%s.enabled=true needs deploymentMode=Standard, got %s (Knative renames the predictor's port): use metrics.podAnnotations there" .which .root.Values.deploymentMode) }}
{{- end }}
{{- end }}

{{/*
With more than one worker process per pod, each writes its metric values to files in this
directory and /metrics sums them (prometheus_client's multi-process mode; the predictor empties
it at start, as an emptyDir outlives a container restart). Under /tmp, the pod's writable
emptyDir: the root filesystem is read-only.
*/}}
{{- define "breast-cancer.multiprocessEnv" -}}
{{- if gt (int .Values.predictor.workers) 1 }}
- name: PROMETHEUS_MULTIPROC_DIR
  value: /tmp/prometheus-multiproc
{{- end }}
{{- end }}
