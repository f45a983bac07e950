{{/* Callbacks the library chart includes: what only the messaging-service has. */}}

{{/*
The JetStream names the service uses (src/messaging/jetstream.ts, from @signup-flow/events): not
values, since the code does not read them; test/k8s/nack.test.ts checks they agree.
*/}}
{{- define "messaging-service.consumerStream" -}}USERS{{- end }}
{{- define "messaging-service.consumerName" -}}messaging-service-welcome-email{{- end }}
{{- define "messaging-service.consumerSubject" -}}users.created{{- end }}

{{- define "messaging-service.config" -}}
MAIL_FROM: {{ .Values.mailFrom }}
{{- if not .Values.smtp.existingSecret }}
SMTP_URL: {{ .Values.smtp.url }}
{{- end }}
SEND_CONCURRENCY: {{ .Values.sendConcurrency }}
CONSUMER_MAX_ACK_PENDING: {{ .Values.consumer.maxAckPending }}
CONSUMER_ACK_WAIT_MS: {{ .Values.consumer.ackWaitMs }}
RETRY_BACKOFF_MS: {{ .Values.retryBackoffMs }}
DLQ_REPLICAS: {{ .Values.dlq.replicas }}
DLQ_MAX_AGE_DAYS: {{ .Values.dlq.maxAgeDays }}
SHUTDOWN_TIMEOUT_MS: {{ .Values.shutdownTimeoutMs }}
{{- end }}

{{- define "messaging-service.secretEnv" -}}
{{- if .Values.smtp.existingSecret }}
- name: SMTP_URL
  valueFrom:
    secretKeyRef:
      name: {{ .Values.smtp.existingSecret | quote }}
      key: {{ .Values.smtp.key | quote }}
{{- end }}
{{- end }}

{{- define "messaging-service.secretNames" -}}
{{- if .Values.smtp.existingSecret }}
- {{ .Values.smtp.existingSecret }}
{{- else }}
[]
{{- end }}
{{- end }}

{{/* SMTP: 25 (relay), 465 (implicit TLS), 587 (submission), 1025 (Mailpit in development). */}}
{{- define "messaging-service.egressPorts" -}}
[25, 465, 587, 1025]
{{- end }}

{{/* The consumer's redelivery schedule as Go durations, one per delivery attempt. */}}

{{- define "messaging-service.notes" -}}
JetStream stream DLQ and consumer {{ include "messaging-service.consumerName" . }} are provisioned {{ if .Values.nack.enabled }}by NACK (Stream and Consumer resources){{ else if .Values.nats.provision }}by the service at start{{ else }}by nobody: create it yourself{{ end }}.

Scaling: {{ if .Values.keda.enabled }}KEDA, on the consumer's lag (lagThreshold {{ .Values.keda.lagThreshold }}){{ else }}{{ .Values.replicaCount }} replicas{{ end }}.
Mail goes to {{ if .Values.smtp.existingSecret }}the SMTP server in Secret {{ .Values.smtp.existingSecret }}{{ else }}{{ .Values.smtp.url }}{{ end }}, from {{ .Values.mailFrom }}.
{{- end }}
