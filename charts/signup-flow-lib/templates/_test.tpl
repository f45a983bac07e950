{{/*
`helm test <release>`: a Pod that asks the Service's /readyz and /healthz. It runs the service's own
image (Node's fetch), so no other image has to be pulled or trusted.
*/}}
{{- define "signup-flow-lib.test" -}}
{{- if .Values.tests.enabled -}}
{{- $url := printf "http://%s.%s.svc:%v" (include "signup-flow-lib.fullname" .) .Release.Namespace .Values.service.port }}
apiVersion: v1
kind: Pod
metadata:
  name: {{ include "signup-flow-lib.suffixedName" (list . "test") }}
  namespace: {{ .Release.Namespace }}
  labels:
    {{- include "signup-flow-lib.auxLabels" (list . "test") | nindent 4 }}
  annotations:
    helm.sh/hook: test
    helm.sh/hook-delete-policy: before-hook-creation,hook-succeeded
spec:
  restartPolicy: Never
  automountServiceAccountToken: false
  enableServiceLinks: false
  securityContext:
    {{- include "signup-flow-lib.podSecurityContext" . | nindent 4 }}
  {{- with .Values.imagePullSecrets }}
  imagePullSecrets:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  containers:
    - name: answers
      image: {{ include "signup-flow-lib.image" . | quote }}
      imagePullPolicy: {{ .Values.image.pullPolicy }}
      command:
        - node
        - --input-type=module
        - -e
        - |
          for (const path of ['/healthz', '/readyz']) {
            const response = await fetch('{{ $url }}' + path, { signal: AbortSignal.timeout(5000) });
            console.log(path, response.status);
            if (response.status !== 200) process.exit(1);
          }
      resources:
        requests:
          cpu: 10m
          memory: 32Mi
        limits:
          cpu: 200m
          memory: 64Mi
      securityContext:
        {{- include "signup-flow-lib.containerSecurityContext" . | nindent 8 }}
{{- end }}
{{- end }}
