{{- define "signup-flow-lib.containerSecurityContext" -}}
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
runAsNonRoot: true
runAsUser: {{ .Values.podSecurityContext.runAsUser }}
runAsGroup: {{ .Values.podSecurityContext.runAsGroup }}
capabilities:
  drop: ["ALL"]
seccompProfile:
  type: RuntimeDefault
{{- end }}

{{- define "signup-flow-lib.podSecurityContext" -}}
{{- toYaml .Values.podSecurityContext }}
{{- end }}

{{/* Restarts pods when the ConfigMap changes, and (on a live install) when a referenced Secret does. */}}
{{- define "signup-flow-lib.checksums" -}}
checksum/config: {{ include "signup-flow-lib.configData" . | sha256sum }}
{{- if .Values.rolloutOnSecretChange }}
{{- $data := dict }}
{{- range (include "signup-flow-lib.secretNames" . | fromYamlArray) }}
{{- $secret := lookup "v1" "Secret" $.Release.Namespace . }}
{{- $_ := set $data . (($secret).data | default dict) }}
{{- end }}
checksum/secrets: {{ toJson $data | sha256sum }}
{{- end }}
{{- end }}

{{- define "signup-flow-lib.deployment" -}}
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ include "signup-flow-lib.fullname" . }}
  namespace: {{ .Release.Namespace }}
  labels:
    {{- include "signup-flow-lib.labels" . | nindent 4 }}
spec:
  {{- if not (or (.Values.autoscaling).enabled (.Values.keda).enabled) }}
  replicas: {{ .Values.replicaCount }}
  {{- end }}
  revisionHistoryLimit: 5
  strategy:
    type: RollingUpdate
    rollingUpdate:
      maxSurge: 25%
      maxUnavailable: 0
  selector:
    matchLabels:
      {{- include "signup-flow-lib.selectorLabels" . | nindent 6 }}
  template:
    metadata:
      annotations:
        {{- include "signup-flow-lib.checksums" . | nindent 8 }}
        {{- with .Values.podAnnotations }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
      labels:
        {{- include "signup-flow-lib.labels" . | nindent 8 }}
        {{- with .Values.podLabels }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
    spec:
      serviceAccountName: {{ include "signup-flow-lib.serviceAccountName" . }}
      automountServiceAccountToken: false
      enableServiceLinks: false
      {{- with .Values.priorityClassName }}
      priorityClassName: {{ . }}
      {{- end }}
      terminationGracePeriodSeconds: {{ .Values.terminationGracePeriodSeconds }}
      securityContext:
        {{- include "signup-flow-lib.podSecurityContext" . | nindent 8 }}
      {{- with .Values.imagePullSecrets }}
      imagePullSecrets:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      {{- if .Values.devSync.enabled }}
      {{- /* Dev loop only: skaffold syncs compiled JavaScript into a writable copy of dist/, and
      node --watch restarts on it; the root filesystem stays read-only. */}}
      initContainers:
        - name: seed-dist
          image: {{ include "signup-flow-lib.image" . | quote }}
          imagePullPolicy: {{ .Values.image.pullPolicy }}
          command: ["cp", "-R", "dist/.", "/seed/"]
          resources:
            {{- toYaml .Values.migration.resources | nindent 12 }}
          securityContext:
            {{- include "signup-flow-lib.containerSecurityContext" . | nindent 12 }}
          volumeMounts:
            - name: dist
              mountPath: /seed
      {{- end }}
      containers:
        - name: {{ .Chart.Name }}
          image: {{ include "signup-flow-lib.image" . | quote }}
          imagePullPolicy: {{ .Values.image.pullPolicy }}
          {{- if .Values.devSync.enabled }}
          command: ["node", "--watch-path=dist", "--import", "@signup-flow/telemetry/register", "dist/main.js"]
          {{- end }}
          ports:
            - name: http
              containerPort: {{ .Values.containerPort }}
              protocol: TCP
          envFrom:
            - configMapRef:
                name: {{ include "signup-flow-lib.fullname" . }}
          env:
            {{- include "signup-flow-lib.otelEnv" . | nindent 12 }}
            {{- include "signup-flow-lib.secretEnv" . | nindent 12 }}
            {{- with .Values.extraEnv }}
            {{- toYaml . | nindent 12 }}
            {{- end }}
          startupProbe:
            httpGet:
              path: /healthz
              port: http
            {{- toYaml .Values.probes.startup | nindent 12 }}
          livenessProbe:
            httpGet:
              path: /healthz
              port: http
            {{- toYaml .Values.probes.liveness | nindent 12 }}
          readinessProbe:
            httpGet:
              path: /readyz
              port: http
            {{- toYaml .Values.probes.readiness | nindent 12 }}
          resources:
            {{- toYaml .Values.resources | nindent 12 }}
          securityContext:
            {{- include "signup-flow-lib.containerSecurityContext" . | nindent 12 }}
          volumeMounts:
            - name: tmp
              mountPath: /tmp
            {{- if .Values.devSync.enabled }}
            - name: dist
              mountPath: {{ printf "/app/services/%s/dist" .Chart.Name }}
            {{- end }}
            {{- if .Values.nats.auth.credsSecret }}
            - name: nats-creds
              mountPath: /etc/nats-creds
              readOnly: true
            {{- end }}
            {{- if .Values.nats.tls.existingSecret }}
            - name: nats-tls
              mountPath: /etc/nats-tls
              readOnly: true
            {{- end }}
      volumes:
        - name: tmp
          emptyDir:
            sizeLimit: 64Mi
        {{- if .Values.devSync.enabled }}
        - name: dist
          emptyDir:
            sizeLimit: 64Mi
        {{- end }}
        {{- if .Values.nats.auth.credsSecret }}
        - name: nats-creds
          secret:
            secretName: {{ .Values.nats.auth.credsSecret }}
            defaultMode: 0440
        {{- end }}
        {{- if .Values.nats.tls.existingSecret }}
        - name: nats-tls
          secret:
            secretName: {{ .Values.nats.tls.existingSecret }}
            defaultMode: 0440
        {{- end }}
      {{- if .Values.topologySpread.enabled }}
      topologySpreadConstraints:
        {{- range .Values.topologySpread.topologyKeys }}
        - topologyKey: {{ . }}
          maxSkew: {{ $.Values.topologySpread.maxSkew }}
          whenUnsatisfiable: {{ $.Values.topologySpread.whenUnsatisfiable }}
          labelSelector:
            matchLabels:
              {{- include "signup-flow-lib.selectorLabels" $ | nindent 14 }}
          matchLabelKeys:
            - pod-template-hash
        {{- end }}
      {{- end }}
      {{- with .Values.nodeSelector }}
      nodeSelector:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      {{- with .Values.affinity }}
      affinity:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      {{- with .Values.tolerations }}
      tolerations:
        {{- toYaml . | nindent 8 }}
      {{- end }}
{{- end }}
