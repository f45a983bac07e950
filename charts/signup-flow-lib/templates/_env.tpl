{{/*
Environment variables set per container: the downward API ones (OTEL_SERVICE_NAME from the
component label, Kubernetes resource attributes) and the credentials, each from an existing Secret.
*/}}
{{- define "signup-flow-lib.otelEnv" -}}
- name: OTEL_SERVICE_NAME
  valueFrom:
    fieldRef:
      fieldPath: metadata.labels['app.kubernetes.io/component']
- name: K8S_POD_NAME
  valueFrom:
    fieldRef:
      fieldPath: metadata.name
- name: K8S_NAMESPACE_NAME
  valueFrom:
    fieldRef:
      fieldPath: metadata.namespace
- name: K8S_NODE_NAME
  valueFrom:
    fieldRef:
      fieldPath: spec.nodeName
- name: OTEL_RESOURCE_ATTRIBUTES
  value: {{ printf "service.version=%s,service.namespace=signup-flow,deployment.environment.name=%s,k8s.pod.name=$(K8S_POD_NAME),k8s.namespace.name=$(K8S_NAMESPACE_NAME),k8s.node.name=$(K8S_NODE_NAME)" .Chart.AppVersion .Values.otel.environment | quote }}
{{- end }}

{{- define "signup-flow-lib.databaseEnv" -}}
- name: DATABASE_URL
  valueFrom:
    secretKeyRef:
      name: {{ .Values.database.existingSecret | quote }}
      key: {{ .Values.database.key | quote }}
{{- end }}

{{- define "signup-flow-lib.secretEnv" -}}
{{ include "signup-flow-lib.databaseEnv" . }}
{{- with .Values.nats.auth }}
{{- if .existingSecret }}
- name: NATS_USER
  valueFrom:
    secretKeyRef:
      name: {{ .existingSecret | quote }}
      key: {{ .userKey | quote }}
- name: NATS_PASSWORD
  valueFrom:
    secretKeyRef:
      name: {{ .existingSecret | quote }}
      key: {{ .passwordKey | quote }}
{{- end }}
{{- if .credsSecret }}
- name: NATS_CREDS
  value: {{ printf "/etc/nats-creds/%s" .credsKey | quote }}
{{- end }}
{{- end }}
{{- with .Values.nats.tls }}
{{- if .existingSecret }}
- name: NATS_TLS_CA
  value: /etc/nats-tls/ca.crt
{{- if .clientCertificate }}
- name: NATS_TLS_CERT
  value: /etc/nats-tls/tls.crt
- name: NATS_TLS_KEY
  value: /etc/nats-tls/tls.key
{{- end }}
{{- end }}
{{- end }}
{{- with (include (printf "%s.secretEnv" .Chart.Name) .) }}
{{ . }}
{{- end }}
{{- end }}
