{{/*
Naming and labelling helpers. Every resource name goes through signup-flow-lib.fullname, so two
releases in one namespace never collide.
*/}}

{{- define "signup-flow-lib.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "signup-flow-lib.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{/* A name derived from the fullname with a suffix, still within 63 characters. */}}
{{- define "signup-flow-lib.suffixedName" -}}
{{- $root := index . 0 }}
{{- $suffix := index . 1 }}
{{- printf "%s-%s" (include "signup-flow-lib.fullname" $root | trunc (int (sub 62 (len $suffix))) | trimSuffix "-") $suffix }}
{{- end }}

{{- define "signup-flow-lib.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "signup-flow-lib.selectorLabels" -}}
app.kubernetes.io/name: {{ include "signup-flow-lib.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/* Labels every object carries besides name and instance. The component label is what
OTEL_SERVICE_NAME reads through the downward API. */}}
{{- define "signup-flow-lib.commonLabels" -}}
helm.sh/chart: {{ include "signup-flow-lib.chart" . }}
app.kubernetes.io/version: {{ include "signup-flow-lib.imageTag" . | trunc 63 | trimSuffix "-" | quote }}
app.kubernetes.io/component: {{ .Chart.Name }}
app.kubernetes.io/part-of: signup-flow
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{- define "signup-flow-lib.labels" -}}
{{ include "signup-flow-lib.selectorLabels" . }}
{{ include "signup-flow-lib.commonLabels" . }}
{{- end }}

{{/*
Labels of a helper workload (migration Job, helm test Pod): its own name, so the Service, the PDB
and the topology spread of the Deployment never select it. Call with (list $ "suffix").
*/}}
{{- define "signup-flow-lib.auxLabels" -}}
{{- $root := index . 0 }}
app.kubernetes.io/name: {{ printf "%s-%s" (include "signup-flow-lib.name" $root | trunc 50 | trimSuffix "-") (index . 1) }}
app.kubernetes.io/instance: {{ $root.Release.Name }}
{{ include "signup-flow-lib.commonLabels" $root }}
{{- end }}

{{- define "signup-flow-lib.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "signup-flow-lib.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "signup-flow-lib.imageTag" -}}
{{- default .Chart.AppVersion .Values.image.tag }}
{{- end }}

{{/* repository:tag, or repository:tag@digest when a digest is pinned. */}}
{{- define "signup-flow-lib.image" -}}
{{- $ref := printf "%s:%s" .Values.image.repository (include "signup-flow-lib.imageTag" .) }}
{{- if .Values.image.digest }}
{{- $ref = printf "%s@%s" $ref .Values.image.digest }}
{{- end }}
{{- $ref }}
{{- end }}

{{/* Secret names this release reads, for the checksum annotation and the NOTES. */}}
{{- define "signup-flow-lib.secretNames" -}}
{{- $names := list .Values.database.existingSecret }}
{{- with .Values.nats.auth.existingSecret }}{{ $names = append $names . }}{{ end }}
{{- with .Values.nats.auth.credsSecret }}{{ $names = append $names . }}{{ end }}
{{- with .Values.nats.tls.existingSecret }}{{ $names = append $names . }}{{ end }}
{{- range (include (printf "%s.secretNames" .Chart.Name) . | fromYamlArray) }}{{ $names = append $names . }}{{ end }}
{{- toYaml (uniq $names) }}
{{- end }}
