{{/*
What `helm install` prints: the release, the Secrets it reads, the migration hook, then what only
the service chart knows ("<chart>.notes"), then how to check the release.
*/}}
{{- define "signup-flow-lib.notes" -}}
{{ .Chart.Name }} {{ .Chart.AppVersion }} is installed as release {{ .Release.Name }} in namespace {{ .Release.Namespace }}.

It reads these existing Secrets (create them before installing; the pods will not start without them):
{{- range (include "signup-flow-lib.secretNames" . | fromYamlArray) }}
  - {{ . }}
{{- end }}

Database migrations ran as the pre-install/pre-upgrade Job {{ include "signup-flow-lib.suffixedName" (list . "migrate") }}{{ if not .Values.migration.enabled }} (disabled: the pods migrate at start){{ end }}.
{{ include (printf "%s.notes" .Chart.Name) . }}

Check it:
  helm test {{ .Release.Name }} -n {{ .Release.Namespace }} --logs
{{- end }}
