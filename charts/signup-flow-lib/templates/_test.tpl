{{/*
A `helm test` Pod running `command` in the service's own image, so no other image has to be pulled
or trusted. Called with (list $ <name suffix> <command list> <env list>).
*/}}
{{- define "signup-flow-lib.testPod" -}}
{{- $root := index . 0 -}}
{{- $suffix := index . 1 -}}
{{- $command := index . 2 -}}
{{- $env := index . 3 -}}
apiVersion: v1
kind: Pod
metadata:
  name: {{ include "signup-flow-lib.suffixedName" (list $root $suffix) }}
  namespace: {{ $root.Release.Namespace }}
  labels:
    {{- include "signup-flow-lib.auxLabels" (list $root $suffix) | nindent 4 }}
  annotations:
    helm.sh/hook: test
    helm.sh/hook-delete-policy: before-hook-creation,hook-succeeded
spec:
  restartPolicy: Never
  automountServiceAccountToken: false
  enableServiceLinks: false
  securityContext:
    {{- include "signup-flow-lib.podSecurityContext" $root | nindent 4 }}
  {{- with $root.Values.imagePullSecrets }}
  imagePullSecrets:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  containers:
    - name: {{ $suffix }}
      image: {{ include "signup-flow-lib.image" $root | quote }}
      imagePullPolicy: {{ $root.Values.image.pullPolicy }}
      command:
        {{- toYaml $command | nindent 8 }}
      {{- with $env }}
      env:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      resources:
        requests:
          cpu: 10m
          memory: 32Mi
        limits:
          cpu: 200m
          memory: 96Mi
      securityContext:
        {{- include "signup-flow-lib.containerSecurityContext" $root | nindent 8 }}
{{- end }}

{{/*
`helm test <release>`: a Pod that asks the Service's /readyz and /healthz (Node's fetch).
*/}}
{{- define "signup-flow-lib.test" -}}
{{- if .Values.tests.enabled -}}
{{- $url := printf "http://%s.%s.svc:%v" (include "signup-flow-lib.fullname" .) .Release.Namespace .Values.service.port }}
{{- $script := printf `for (const path of ['/healthz', '/readyz']) {
  const response = await fetch('%s' + path, { signal: AbortSignal.timeout(5000) });
  console.log(path, response.status);
  if (response.status !== 200) process.exit(1);
}
` $url }}
{{- include "signup-flow-lib.testPod" (list . "test" (list "node" "--input-type=module" "-e" $script) list) }}
{{- end }}
{{- end }}
