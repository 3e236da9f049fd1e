{{- define "coffer.labels" -}}
app.kubernetes.io/name: coffer-controller
app.kubernetes.io/part-of: coffer
app.kubernetes.io/instance: {{ .Release.Name }}
helm.sh/chart: {{ .Chart.Name }}-{{ .Chart.Version }}
{{- end -}}
