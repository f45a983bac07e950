{{/*
Ingress: the HTTP port, from the peers listed in networkPolicy.ingressFrom (same namespace and the
monitoring namespace by default). Egress: DNS, NATS, PostgreSQL, OTLP and the chart's own ports
("<chart>.egressPorts"), to any address, since those servers live in other namespaces or outside.
*/}}
{{- define "signup-flow-lib.networkpolicy" -}}
{{- if .Values.networkPolicy.enabled -}}
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: {{ include "signup-flow-lib.fullname" . }}
  namespace: {{ .Release.Namespace }}
  labels:
    {{- include "signup-flow-lib.labels" . | nindent 4 }}
spec:
  podSelector:
    matchLabels:
      {{- include "signup-flow-lib.selectorLabels" . | nindent 6 }}
  policyTypes: [Ingress, Egress]
  ingress:
    - ports:
        - port: http
          protocol: TCP
      {{- with .Values.networkPolicy.ingressFrom }}
      from:
        {{- toYaml . | nindent 8 }}
      {{- end }}
  egress:
    - ports:
        - port: 53
          protocol: UDP
        - port: 53
          protocol: TCP
    - ports:
        {{- $ports := concat (list .Values.networkPolicy.ports.nats .Values.networkPolicy.ports.postgres) .Values.networkPolicy.ports.otlp }}
        {{- range (include (printf "%s.egressPorts" .Chart.Name) . | fromYamlArray) }}
        {{- $ports = append $ports . }}
        {{- end }}
        {{- range ($ports | uniq) }}
        - port: {{ . }}
          protocol: TCP
        {{- end }}
    {{- with .Values.networkPolicy.extraEgress }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
{{- end }}
{{- end }}
