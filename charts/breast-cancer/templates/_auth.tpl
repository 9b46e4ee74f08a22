{{/*
Bearer-token authentication (values auth.*): the predictor's flags, the volume holding what
it reads the API server's keys with, and the helm test's identity.
*/}}

{{/* The helm test pod's ServiceAccount: always among the allowed subjects. */}}
{{- define "breast-cancer.testServiceAccountName" -}}
{{- printf "%s-test" (include "breast-cancer.fullname" .) | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Where the predictor finds the API server's CA and its own token (a projected volume). */}}
{{- define "breast-cancer.apiCredentialsDir" -}}
/var/run/secrets/breast-cancer/api
{{- end }}

{{/* The API server's JWKS, through the cluster's kubernetes Service. */}}
{{- define "breast-cancer.apiServerJwks" -}}
https://kubernetes.default.svc/openid/v1/jwks
{{- end }}

{{- define "breast-cancer.authArgs" -}}
{{- $auth := .Values.auth }}
{{- $test := printf "system:serviceaccount:%s:%s" .Release.Namespace (include "breast-cancer.testServiceAccountName" .) }}
- --auth_issuer
- {{ $auth.issuer | quote }}
- --auth_audience
- {{ $auth.audience | quote }}
- --auth_allow
- {{ join "," (concat $auth.allowedSubjects (list $test)) | quote }}
- --auth_jwks_url
{{- if $auth.jwksUrl }}
- {{ $auth.jwksUrl | quote }}
{{- else }}
- {{ include "breast-cancer.apiServerJwks" . | quote }}
- --auth_jwks_ca_file
- {{ include "breast-cancer.apiCredentialsDir" . }}/ca.crt
- --auth_jwks_token_file
- {{ include "breast-cancer.apiCredentialsDir" . }}/token
{{- end }}
{{- end }}

{{/* The predictor's token for the API server (its default audience) and the cluster CA:
mounted explicitly, since the ServiceAccount does not automount its token. */}}
{{- define "breast-cancer.apiCredentialsVolume" -}}
- name: api-credentials
  projected:
    sources:
      - serviceAccountToken:
          path: token
          expirationSeconds: 3600
      - configMap:
          name: kube-root-ca.crt
          items:
            - key: ca.crt
              path: ca.crt
{{- end }}
