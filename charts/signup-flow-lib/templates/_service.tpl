{{- define "signup-flow-lib.service" -}}
apiVersion: v1
kind: Service
metadata:
  name: {{ include "signup-flow-lib.fullname" . }}
  namespace: {{ .Release.Namespace }}
  labels:
    {{- include "signup-flow-lib.labels" . | nindent 4 }}
  {{- with .Values.service.annotations }}
  annotations:
    {{- toYaml . | nindent 4 }}
  {{- end }}
spec:
  type: {{ .Values.service.type }}
  selector:
    {{- include "signup-flow-lib.selectorLabels" . | nindent 4 }}
  ports:
    - name: http
      port: {{ .Values.service.port }}
      targetPort: http
      protocol: TCP
{{- end }}
