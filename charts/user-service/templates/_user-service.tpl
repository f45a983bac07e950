{{/* Callbacks the library chart includes: what only the user-service has. */}}

{{/*
The CPUs of the container's limit, rounded up ("1500m" is 2); empty without a CPU limit.
*/}}
{{- define "user-service.limitCpus" -}}
{{- with (dig "limits" "cpu" "" .Values.resources) | toString }}
{{- if hasSuffix "m" . }}{{ max 1 (div (add (trimSuffix "m" . | int) 999) 1000) }}
{{- else }}{{ max 1 (ceil (float64 .)) | int }}
{{- end }}
{{- end }}
{{- end }}

{{- define "user-service.config" -}}
{{- with include "user-service.limitCpus" . }}
PASSWORD_HASH_CONCURRENCY: {{ add1 . }}
UV_THREADPOOL_SIZE: {{ . }}
{{- end }}
DB_POOL_MAX: {{ .Values.database.poolMax }}
USERS_STREAM_REPLICAS: {{ .Values.stream.replicas }}
USERS_STREAM_MAX_AGE_SECONDS: {{ .Values.stream.maxAgeSeconds }}
USERS_STREAM_DUPLICATE_WINDOW_SECONDS: {{ .Values.stream.duplicateWindowSeconds }}
OUTBOX_BATCH_SIZE: {{ .Values.outbox.batchSize }}
OUTBOX_POLL_INTERVAL_MS: {{ .Values.outbox.pollIntervalMs }}
OUTBOX_RETENTION_SECONDS: {{ .Values.outbox.retentionSeconds }}
JWT_KEY_ID: {{ .Values.jwt.keyId }}
JWT_TTL_SECONDS: {{ .Values.jwt.ttlSeconds }}
LOGIN_MAX_FAILURES_PER_ACCOUNT: {{ .Values.loginThrottle.maxFailuresPerAccount }}
LOGIN_MAX_FAILURES_PER_CLIENT: {{ .Values.loginThrottle.maxFailuresPerClient }}
LOGIN_FAILURE_WINDOW_SECONDS: {{ .Values.loginThrottle.windowSeconds }}
TRUST_PROXY: {{ .Values.loginThrottle.trustProxy | quote }}
SHUTDOWN_TIMEOUT_MS: {{ .Values.shutdownTimeoutMs }}
{{- end }}

{{- define "user-service.secretEnv" -}}
- name: JWT_SECRET
  valueFrom:
    secretKeyRef:
      name: {{ .Values.jwt.existingSecret | quote }}
      key: {{ .Values.jwt.key | quote }}
{{- with .Values.jwt.previousKey }}
- name: JWT_SECRET_PREVIOUS
  valueFrom:
    secretKeyRef:
      name: {{ $.Values.jwt.existingSecret | quote }}
      key: {{ . | quote }}
{{- end }}
{{- end }}

{{- define "user-service.secretNames" -}}
- {{ .Values.jwt.existingSecret }}
{{- end }}

{{- define "user-service.egressPorts" -}}
[]
{{- end }}

{{- define "user-service.notes" -}}
JetStream stream USERS is provisioned {{ if .Values.nack.enabled }}by NACK (Stream resource){{ else if .Values.nats.provision }}by the service at start{{ else }}by nobody: create it yourself{{ end }}.

Try it:
  kubectl -n {{ .Release.Namespace }} port-forward svc/{{ include "signup-flow-lib.fullname" . }} 8080:{{ .Values.service.port }}
  curl -s -XPOST localhost:8080/v1/users -H 'content-type: application/json' \
    -d '{"email":"ada@example.com","password":"correct horse battery staple","name":"Ada"}'
{{- if and .Values.tests.enabled .Values.tests.flow.enabled }}

`helm test` also signs a test user up and waits for its welcome email{{ if .Values.tests.flow.jaegerQueryUrl }} and trace{{ end }}, then deletes both.
{{- end }}
{{- end }}
