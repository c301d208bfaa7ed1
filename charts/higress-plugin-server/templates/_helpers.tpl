{{/* The one name of every object: the Higress core chart's plugin server name. */}}
{{- define "plugin-server.name" -}}
{{- .Values.name | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "plugin-server.selectorLabels" -}}
app: {{ include "plugin-server.name" . }}
app.kubernetes.io/name: {{ include "plugin-server.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "plugin-server.labels" -}}
{{ include "plugin-server.selectorLabels" . }}
higress: {{ include "plugin-server.name" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/component: plugin-server
app.kubernetes.io/part-of: higress
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{- end -}}

{{- define "plugin-server.image" -}}
{{- if .Values.image.digest -}}
{{ .Values.image.repository }}@{{ .Values.image.digest }}
{{- else -}}
{{- /* the chart is released with the rolling image: its tag is rolling-<appVersion> (sync/release/tags.py) */ -}}
{{ .Values.image.repository }}:{{ .Values.image.tag | default (printf "rolling-%s" .Chart.AppVersion) }}
{{- end -}}
{{- end -}}

{{/* More than one pod at any time: a disruption budget then protects, never blocks. */}}
{{- define "plugin-server.multiPod" -}}
{{- if or (and .Values.autoscaling.enabled (gt (int .Values.autoscaling.minReplicas) 1)) (and (not .Values.autoscaling.enabled) (gt (int .Values.replicas) 1)) -}}
true
{{- end -}}
{{- end -}}
