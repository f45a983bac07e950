{{/* prometheus-operator resources; `labels` must match kube-prometheus-stack's selectors. */}}
{{- define "signup-flow-lib.servicemonitor" -}}
{{- if .Values.serviceMonitor.enabled -}}
apiVersion: monitoring.coreos.com/v1
kind: ServiceMonitor
metadata:
  name: {{ include "signup-flow-lib.fullname" . }}
  namespace: {{ .Release.Namespace }}
  labels:
    {{- include "signup-flow-lib.labels" . | nindent 4 }}
    {{- with .Values.serviceMonitor.labels }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
spec:
  selector:
    matchLabels:
      {{- include "signup-flow-lib.selectorLabels" . | nindent 6 }}
  namespaceSelector:
    matchNames:
      - {{ .Release.Namespace }}
  endpoints:
    - port: http
      path: /metrics
      interval: {{ .Values.serviceMonitor.interval }}
      scrapeTimeout: {{ .Values.serviceMonitor.scrapeTimeout }}
{{- end }}
{{- end }}

{{/*
The alert rules live in the service chart's files/prometheus-rules.yaml (one file, easy to update);
it is a template, so the selectors follow the release: `job` is the Service's name, which the
ServiceMonitor gives the scraped series.
*/}}
{{- define "signup-flow-lib.prometheusrule" -}}
{{- if .Values.prometheusRule.enabled -}}
apiVersion: monitoring.coreos.com/v1
kind: PrometheusRule
metadata:
  name: {{ include "signup-flow-lib.fullname" . }}
  namespace: {{ .Release.Namespace }}
  labels:
    {{- include "signup-flow-lib.labels" . | nindent 4 }}
    {{- with .Values.prometheusRule.labels }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
spec:
  {{- tpl (.Files.Get "files/prometheus-rules.yaml") . | nindent 2 }}
{{- end }}
{{- end }}

{{/* The selector every rule uses for this release's series. */}}
{{- define "signup-flow-lib.ruleSelector" -}}
{{- printf "namespace=%q, job=%q" .Release.Namespace (include "signup-flow-lib.fullname" .) }}
{{- end }}
