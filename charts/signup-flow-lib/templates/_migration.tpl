{{/*
Database migrations as a pre-install/pre-upgrade hook: the same image runs migration.command
before any pod of the new release starts (the pods run with DB_MIGRATE=false). Hooks run before the
release's ordinary resources exist, so the Job brings its own ServiceAccount (a hook too, weighted
earlier) and reads only the database Secret, which must exist before install.
*/}}
{{- define "signup-flow-lib.migration" -}}
{{- if .Values.migration.enabled -}}
{{- $name := include "signup-flow-lib.suffixedName" (list . "migrate") }}
apiVersion: v1
kind: ServiceAccount
metadata:
  name: {{ $name }}
  namespace: {{ .Release.Namespace }}
  labels:
    {{- include "signup-flow-lib.auxLabels" (list . "migrate") | nindent 4 }}
  annotations:
    helm.sh/hook: pre-install,pre-upgrade
    helm.sh/hook-weight: "-10"
    helm.sh/hook-delete-policy: before-hook-creation,hook-succeeded
automountServiceAccountToken: false
---
apiVersion: batch/v1
kind: Job
metadata:
  name: {{ $name }}
  namespace: {{ .Release.Namespace }}
  labels:
    {{- include "signup-flow-lib.auxLabels" (list . "migrate") | nindent 4 }}
  annotations:
    helm.sh/hook: pre-install,pre-upgrade
    helm.sh/hook-weight: "-5"
    helm.sh/hook-delete-policy: before-hook-creation,hook-succeeded
spec:
  backoffLimit: {{ .Values.migration.backoffLimit }}
  activeDeadlineSeconds: {{ .Values.migration.activeDeadlineSeconds }}
  ttlSecondsAfterFinished: 3600
  template:
    metadata:
      labels:
        {{- include "signup-flow-lib.auxLabels" (list . "migrate") | nindent 8 }}
    spec:
      restartPolicy: Never
      serviceAccountName: {{ $name }}
      automountServiceAccountToken: false
      enableServiceLinks: false
      securityContext:
        {{- include "signup-flow-lib.podSecurityContext" . | nindent 8 }}
      {{- with .Values.imagePullSecrets }}
      imagePullSecrets:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      containers:
        - name: migrate
          image: {{ include "signup-flow-lib.image" . | quote }}
          imagePullPolicy: {{ .Values.image.pullPolicy }}
          command: {{ toJson .Values.migration.command }}
          env:
            - name: LOG_LEVEL
              value: {{ .Values.logLevel | quote }}
            {{- include "signup-flow-lib.databaseEnv" . | nindent 12 }}
          resources:
            {{- toYaml .Values.migration.resources | nindent 12 }}
          securityContext:
            {{- include "signup-flow-lib.containerSecurityContext" . | nindent 12 }}
          volumeMounts:
            - name: tmp
              mountPath: /tmp
      volumes:
        - name: tmp
          emptyDir:
            sizeLimit: 16Mi
{{- end }}
{{- end }}
