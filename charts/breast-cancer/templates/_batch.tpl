{{/*
Helpers of the batch scoring Job (templates/batch-job.yaml).
*/}}

{{/*
Where the batch pods mount batch.dataClaim, and the model claim's storage.pvc.path.
*/}}
{{- define "breast-cancer.batchDataPath" -}}
/mnt/data
{{- end }}

{{- define "breast-cancer.batchModelPath" -}}
/mnt/models
{{- end }}

{{/*
A batch.input or batch.output as the command line gets it: an s3:// URI as it is, a path
inside batch.dataClaim under its mount. Called with (list $root $value).
*/}}
{{- define "breast-cancer.batchLocation" -}}
{{- $root := index . 0 }}
{{- $value := index . 1 }}
{{- if hasPrefix "s3://" $value }}
{{- $value }}
{{- else }}
{{- printf "%s/%s" (include "breast-cancer.batchDataPath" $root) (trimAll "/" $value) }}
{{- end }}
{{- end }}

{{/*
The model the batch Job scores with: the version the InferenceService of this revision serves
(LATEST when there is none), read from the model claim or downloaded from storage.s3.uri.
*/}}
{{- define "breast-cancer.batchModelDir" -}}
{{- $version := include "breast-cancer.modelVersion" . }}
{{- if eq .Values.storage.type "s3" }}
{{- include "breast-cancer.servedUri" . }}
{{- else }}
{{- include "breast-cancer.batchModelPath" . }}{{ if $version }}/{{ $version }}{{ end }}
{{- end }}
{{- end }}

{{/*
"true" when a batch pod talks to S3: the model, the input or the output is there.
*/}}
{{- define "breast-cancer.batchUsesS3" -}}
{{- $batch := .Values.batch }}
{{- if or (eq .Values.storage.type "s3") (hasPrefix "s3://" $batch.input) (hasPrefix "s3://" $batch.output) }}true{{ end }}
{{- end }}

{{/*
"true" when batch.input or batch.output is a path on batch.dataClaim.
*/}}
{{- define "breast-cancer.batchUsesData" -}}
{{- $batch := .Values.batch }}
{{- if not (and (hasPrefix "s3://" $batch.input) (hasPrefix "s3://" $batch.output)) }}true{{ end }}
{{- end }}

{{/*
The Job's pod template. The Job is named after a hash of it (batchJobName), so an upgrade that
changes what the Job does creates a new Job instead of failing on the old one's immutable
template, and one that changes nothing leaves the finished Job alone.
*/}}
{{- define "breast-cancer.batchPodTemplate" -}}
{{- $batch := .Values.batch -}}
metadata:
  labels:
    # templates/networkpolicy.yaml selects the batch pods by these labels.
    {{- include "breast-cancer.selectorLabels" . | nindent 4 }}
    app.kubernetes.io/component: batch
spec:
  restartPolicy: Never
  # Needs no Kubernetes API: S3 credentials come from storage.s3.secretName.
  automountServiceAccountToken: false
  {{- with .Values.imagePullSecrets }}
  imagePullSecrets:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  securityContext:
    {{- toYaml .Values.podSecurityContext | nindent 4 }}
  {{- with .Values.nodeSelector }}
  nodeSelector:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with .Values.tolerations }}
  tolerations:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with .Values.affinity }}
  affinity:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  containers:
    - name: batch
      image: {{ include "breast-cancer.image" . | quote }}
      imagePullPolicy: {{ .Values.image.pullPolicy }}
      command: ["python", "-m", "predictor.batch"]
      # The shard comes from JOB_COMPLETION_INDEX, which the Indexed Job sets in each pod.
      args:
        - --model_dir
        - {{ include "breast-cancer.batchModelDir" . | quote }}
        - --input
        - {{ include "breast-cancer.batchLocation" (list . $batch.input) | quote }}
        - --output
        - {{ include "breast-cancer.batchLocation" (list . $batch.output) | quote }}
        - --shards
        - {{ $batch.shards | quote }}
        {{- range $batch.args }}
        - {{ . | quote }}
        {{- end }}
      {{- if or (include "breast-cancer.batchUsesS3" .) $batch.extraEnv }}
      env:
        {{- if include "breast-cancer.batchUsesS3" . }}
        {{- include "breast-cancer.s3Env" . | nindent 8 }}
        {{- end }}
        {{- with $batch.extraEnv }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
      {{- end }}
      resources:
        {{- toYaml $batch.resources | nindent 8 }}
      securityContext:
        {{- toYaml .Values.securityContext | nindent 8 }}
      volumeMounts:
        - name: tmp
          mountPath: /tmp
        {{- if eq .Values.storage.type "pvc" }}
        - name: models
          mountPath: {{ include "breast-cancer.batchModelPath" . }}
          subPath: {{ trimAll "/" .Values.storage.pvc.path }}
          readOnly: true
        {{- end }}
        {{- if include "breast-cancer.batchUsesData" . }}
        - name: data
          mountPath: {{ include "breast-cancer.batchDataPath" . }}
        {{- end }}
  volumes:
    {{- include "breast-cancer.tmpVolume" . | nindent 4 }}
    {{- if eq .Values.storage.type "pvc" }}
    - name: models
      persistentVolumeClaim:
        claimName: {{ include "breast-cancer.claimName" . }}
        readOnly: true
    {{- end }}
    {{- if include "breast-cancer.batchUsesData" . }}
    - name: data
      persistentVolumeClaim:
        claimName: {{ $batch.dataClaim }}
    {{- end }}
{{- end }}

{{/*
Checks of the batch values that values.schema.json cannot express.
*/}}
{{- define "breast-cancer.validateBatch" -}}
{{- $batch := .Values.batch }}
{{- if not (and $batch.input $batch.output) }}
{{- fail "batch.enabled needs batch.input (a CSV) and batch.output (a directory or s3:// prefix)" }}
{{- end }}
{{- if and (include "breast-cancer.batchUsesData" .) (not $batch.dataClaim) }}
{{- fail "batch.input or batch.output is a path: set batch.dataClaim to the existing claim that holds it (or use s3:// for both)" }}
{{- end }}
{{- range $key, $value := dict "batch.input" $batch.input "batch.output" $batch.output }}
{{- if and (not (hasPrefix "s3://" $value)) (has ".." (splitList "/" $value)) }}
{{- fail (printf "%s must stay inside batch.dataClaim: %q has a \"..\"" $key $value) }}
{{- end }}
{{- end }}
{{- end }}
