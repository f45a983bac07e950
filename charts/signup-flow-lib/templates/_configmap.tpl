{{/*
Non-secret settings as a ConfigMap read with envFrom. Its checksum is a pod annotation, so a change
rolls the Deployment. Service-specific keys come from the service chart's "<chart>.config".
*/}}
{{- define "signup-flow-lib.configData" -}}
PORT: {{ .Values.containerPort | quote }}
LOG_LEVEL: {{ .Values.logLevel | quote }}
NATS_URL: {{ .Values.nats.url | quote }}
NATS_PROVISION: {{ and .Values.nats.provision (not (.Values.nack).enabled) | quote }}
DB_MIGRATE: {{ not .Values.migration.enabled | quote }}
OTEL_SDK_DISABLED: {{ not .Values.otel.enabled | quote }}
OTEL_EXPORTER_OTLP_ENDPOINT: {{ .Values.otel.endpoint | quote }}
OTEL_EXPORTER_OTLP_PROTOCOL: {{ .Values.otel.protocol | quote }}
OTEL_TRACES_SAMPLER: {{ .Values.otel.tracesSampler | quote }}
OTEL_TRACES_SAMPLER_ARG: {{ .Values.otel.tracesSamplerArg | quote }}
OTEL_METRICS_EXPORTER: "none"
OTEL_LOGS_EXPORTER: "none"
{{- with .Values.nodeOptions }}
NODE_OPTIONS: {{ . | quote }}
{{- end }}
{{- range $key, $value := (include (printf "%s.config" .Chart.Name) . | fromYaml) }}
{{ $key }}: {{ $value | toString | quote }}
{{- end }}
{{- range $key, $value := .Values.extraConfig }}
{{ $key }}: {{ $value | toString | quote }}
{{- end }}
{{- end }}

{{- define "signup-flow-lib.configmap" -}}
apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ include "signup-flow-lib.fullname" . }}
  namespace: {{ .Release.Namespace }}
  labels:
    {{- include "signup-flow-lib.labels" . | nindent 4 }}
data:
  {{- include "signup-flow-lib.configData" . | nindent 2 }}
{{- end }}
