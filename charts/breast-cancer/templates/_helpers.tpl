{{/*
Chart name, truncated to 63 characters (a label value's limit).
*/}}
{{- define "breast-cancer.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Full name: the InferenceService name and the prefix of every resource. Truncated to 53
characters because KServe appends "-predictor" to it for the Deployment and Service, and
those names must stay within 63.
*/}}
{{- define "breast-cancer.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 53 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 53 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 53 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{/*
Name KServe gives the predictor Deployment and Service.
*/}}
{{- define "breast-cancer.predictorName" -}}
{{- printf "%s-predictor" (include "breast-cancer.fullname" .) }}
{{- end }}

{{/*
Chart name and version for the helm.sh/chart label.
*/}}
{{- define "breast-cancer.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Common labels.
*/}}
{{- define "breast-cancer.labels" -}}
helm.sh/chart: {{ include "breast-cancer.chart" . }}
{{ include "breast-cancer.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{/*
Selector labels.
*/}}
{{- define "breast-cancer.selectorLabels" -}}
app.kubernetes.io/name: {{ include "breast-cancer.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/*
Labels KServe puts on the predictor pods; the PodDisruptionBudget selects on them.
*/}}
{{- define "breast-cancer.predictorPodLabels" -}}
serving.kserve.io/inferenceservice: {{ include "breast-cancer.fullname" . }}
component: predictor
{{- end }}

{{/*
ServiceAccount of the predictor.
*/}}
{{- define "breast-cancer.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "breast-cancer.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/*
Image reference: repository@digest when image.digest is set (a pinned deploy: the tag is then
left out, so it cannot disagree with the digest), else repository:tag with the tag defaulting
to the chart's appVersion. Every pod of the chart (predictor, training Job, helm test) uses it.
*/}}
{{- define "breast-cancer.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}
{{- end }}

{{/*
PersistentVolumeClaim holding the model (storage.type=pvc).
*/}}
{{- define "breast-cancer.claimName" -}}
{{- default (printf "%s-models" (include "breast-cancer.fullname" .)) .Values.storage.pvc.existingClaim }}
{{- end }}

{{/*
Where the training Job mounts the claim's root.
*/}}
{{- define "breast-cancer.trainingMountPath" -}}
/mnt/pvc
{{- end }}

{{/*
Model location read by the predictor (the STORAGE_URI env var). KServe mounts
pvc://<claim>/<path> read-only at /mnt/models, or downloads an s3:// prefix there.
*/}}
{{- define "breast-cancer.storageUri" -}}
{{- if eq .Values.storage.type "pvc" }}
{{- printf "pvc://%s/%s" (include "breast-cancer.claimName" .) (trimAll "/" .Values.storage.pvc.path) }}
{{- else }}
{{- .Values.storage.s3.uri | trimSuffix "/" }}
{{- end }}
{{- end }}

{{/*
Annotation on the InferenceService naming the model version it serves; an upgrade with
training.skipIfPresent reads it back from the cluster.
*/}}
{{- define "breast-cancer.modelVersionAnnotation" -}}
breast-cancer/model-version
{{- end }}

{{/*
Version the release serves now, read from the live InferenceService, when this upgrade is to
keep it (training.skipIfPresent, model.version empty). Empty on a first install, in
`helm template` and client-side dry runs (lookup sees no cluster there).
*/}}
{{- define "breast-cancer.servedVersion" -}}
{{- if and .Values.training.enabled .Values.training.skipIfPresent (not .Values.model.version) }}
{{- $isvc := lookup "serving.kserve.io/v1beta1" "InferenceService" .Release.Namespace (include "breast-cancer.fullname" .) }}
{{- dig "metadata" "annotations" (include "breast-cancer.modelVersionAnnotation" .) "" $isvc }}
{{- end }}
{{- end }}

{{/*
Model version directory the predictor serves, pinned in its STORAGE_URI: model.version when
set; else the version the release serves now when the upgrade keeps it (servedVersion);
else, with training enabled, "rev-<revision>", which this revision's training Job writes. A
revision's rendered manifest keeps its version, so `helm rollback N` serves revision N's
model again. Empty (training disabled, no model.version): the predictor follows LATEST.
*/}}
{{- define "breast-cancer.modelVersion" -}}
{{- if .Values.model.version }}
{{- .Values.model.version }}
{{- else }}
{{- $served := include "breast-cancer.servedVersion" . }}
{{- if $served }}
{{- $served }}
{{- else if .Values.training.enabled }}
{{- printf "rev-%d" (int .Release.Revision) }}
{{- end }}
{{- end }}
{{- end }}

{{/*
Model location the predictor reads: the storage URI, down to the pinned version directory.
An s3:// one ends with "/": KServe's storage initializer downloads every key that starts with
the prefix, and "<prefix>/rev-1" would also match rev-10, rev-11...
*/}}
{{- define "breast-cancer.servedUri" -}}
{{- $version := include "breast-cancer.modelVersion" . }}
{{- if $version }}
{{- printf "%s/%s%s" (include "breast-cancer.storageUri" .) $version (ternary "/" "" (eq .Values.storage.type "s3")) }}
{{- else }}
{{- include "breast-cancer.storageUri" . }}
{{- end }}
{{- end }}

{{/*
Port of the object store the training Job reaches: the endpoint's own, else 443 or 80.
*/}}
{{- define "breast-cancer.s3Port" -}}
{{- $endpoint := .Values.storage.s3.endpoint }}
{{- if regexMatch ":[0-9]+$" $endpoint }}
{{- regexFind "[0-9]+$" $endpoint }}
{{- else }}
{{- ternary "443" "80" .Values.storage.s3.useHttps }}
{{- end }}
{{- end }}

{{/*
Destination the training Job writes to: the same claim and path, or the same s3 URI.
*/}}
{{- define "breast-cancer.trainingOutput" -}}
{{- if eq .Values.storage.type "pvc" }}
{{- printf "%s/%s" (include "breast-cancer.trainingMountPath" .) (trimAll "/" .Values.storage.pvc.path) }}
{{- else }}
{{- .Values.storage.s3.uri | trimSuffix "/" }}
{{- end }}
{{- end }}

{{/*
S3 endpoint URL with scheme, for clients that want one (boto3's AWS_ENDPOINT_URL).
*/}}
{{- define "breast-cancer.s3EndpointUrl" -}}
{{- printf "%s://%s" (ternary "https" "http" .Values.storage.s3.useHttps) .Values.storage.s3.endpoint }}
{{- end }}

{{/*
Environment of a pod that talks to storage.s3 (training, batch): the endpoint and region as
boto3 and KServe's storage initializer read them, and the credentials from the Secret.
*/}}
{{- define "breast-cancer.s3Env" -}}
{{- $s3 := .Values.storage.s3 }}
{{- if $s3.endpoint }}
- name: AWS_ENDPOINT_URL
  value: {{ include "breast-cancer.s3EndpointUrl" . | quote }}
- name: S3_ENDPOINT
  value: {{ $s3.endpoint | quote }}
{{- end }}
- name: AWS_DEFAULT_REGION
  value: {{ $s3.region | quote }}
- name: S3_USE_HTTPS
  value: {{ ternary "1" "0" $s3.useHttps | quote }}
- name: S3_VERIFY_SSL
  value: {{ ternary "1" "0" $s3.verifySSL | quote }}
{{- if $s3.secretName }}
- name: AWS_ACCESS_KEY_ID
  valueFrom:
    secretKeyRef:
      name: {{ $s3.secretName }}
      key: {{ $s3.accessKeyIdKey }}
- name: AWS_SECRET_ACCESS_KEY
  valueFrom:
    secretKeyRef:
      name: {{ $s3.secretName }}
      key: {{ $s3.secretAccessKeyKey }}
{{- end }}
{{- end }}

{{/*
Egress rules of a Job's pods (training, batch): DNS, and the object store when it uses S3.
Called with (list $root $peers $usesS3), $peers holding dnsTo and s3To.
*/}}
{{- define "breast-cancer.jobEgress" -}}
{{- $root := index . 0 -}}
{{- $peers := index . 1 -}}
- ports:
    - port: 53
      protocol: UDP
    - port: 53
      protocol: TCP
  {{- with $peers.dnsTo }}
  to:
    {{- toYaml . | nindent 4 }}
  {{- end }}
{{- if index . 2 }}
- ports:
    - port: {{ include "breast-cancer.s3Port" $root }}
      protocol: TCP
  {{- with $peers.s3To }}
  to:
    {{- toYaml . | nindent 4 }}
  {{- end }}
{{- end }}
{{- end }}

{{/*
KServe autoscaler class (Standard mode): hpa when KServe owns the HPA, external when
this chart renders it, none for a fixed replica count.
*/}}
{{- define "breast-cancer.autoscalerClass" -}}
{{- if not .Values.autoscaling.enabled }}none
{{- else if eq .Values.autoscaling.mode "external" }}external
{{- else }}hpa
{{- end }}
{{- end }}

{{/*
Largest number of predictor pods the values allow (drives the PodDisruptionBudget).
*/}}
{{- define "breast-cancer.maxPods" -}}
{{- if .Values.autoscaling.enabled }}{{ .Values.autoscaling.maxReplicas }}{{ else }}{{ .Values.replicaCount }}{{ end }}
{{- end }}

{{/*
Pod-level volume for the writable /tmp that readOnlyRootFilesystem requires.
*/}}
{{- define "breast-cancer.tmpVolume" -}}
- name: tmp
  emptyDir:
    sizeLimit: {{ .Values.tmpSizeLimit }}
{{- end }}

{{/*
Checks across values that values.schema.json cannot express.
*/}}
{{- define "breast-cancer.validate" -}}
{{- if and .Values.autoscaling.enabled (gt (int .Values.autoscaling.minReplicas) (int .Values.autoscaling.maxReplicas)) }}
{{- fail (printf "autoscaling.minReplicas (%d) must not exceed autoscaling.maxReplicas (%d)" (int .Values.autoscaling.minReplicas) (int .Values.autoscaling.maxReplicas)) }}
{{- end }}
{{- if and (eq .Values.storage.type "s3") (not (hasPrefix "s3://" .Values.storage.s3.uri)) }}
{{- fail "storage.type=s3 needs storage.s3.uri, e.g. s3://models/breast-cancer" }}
{{- end }}
{{- if and (eq .Values.deploymentMode "Knative") .Values.autoscaling.enabled (eq .Values.autoscaling.mode "external") }}
{{- fail "autoscaling.mode=external needs deploymentMode=Standard (Knative owns its pods' scaling)" }}
{{- end }}
{{- if and (not .Values.serviceAccount.create) .Values.serviceAccount.annotations }}
{{- fail "serviceAccount.annotations has no effect when serviceAccount.create is false" }}
{{- end }}
{{- end }}
