{{/* Callbacks the library chart includes: what only the user-service has. */}}

{{- define "user-service.config" -}}
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
