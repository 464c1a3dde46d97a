{{/* Chart name. */}}
{{- define "gitseal.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Fullname: the Service name gitseal and kubeseal look up. */}}
{{- define "gitseal.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name (include "gitseal.name" .) | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "gitseal.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "gitseal.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "gitseal.selectorLabels" -}}
app.kubernetes.io/name: {{ include "gitseal.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "gitseal.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{ include "gitseal.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end -}}

{{/* Whether leader election is on: config.leaderElect, else more than one replica. */}}
{{- define "gitseal.leaderElect" -}}
{{- if kindIs "invalid" .Values.config.leaderElect -}}
{{- gt (int .Values.replicas) 1 -}}
{{- else -}}
{{- .Values.config.leaderElect -}}
{{- end -}}
{{- end -}}

{{/* The namespaces the controller watches when RBAC is namespaced. */}}
{{- define "gitseal.watchedNamespaces" -}}
{{- $all := list .Release.Namespace -}}
{{- range (concat .Values.config.namespaces .Values.config.additionalNamespaces) -}}
{{- $all = append $all . -}}
{{- end -}}
{{- $all | uniq | join "," -}}
{{- end -}}

{{/* One controller flag: --name=value, lists joined with commas, maps as k=v pairs. */}}
{{- define "gitseal.flag" -}}
{{- $name := kebabcase .name -}}
{{- $v := .value -}}
{{- if kindIs "slice" $v -}}
{{- if $v }}--{{ $name }}={{ join "," $v }}{{ end -}}
{{- else if kindIs "map" $v -}}
{{- if $v -}}
{{- $pairs := list -}}
{{- range $k, $val := $v }}{{ $pairs = append $pairs (printf "%s=%s" $k (toString $val)) }}{{ end -}}
--{{ $name }}={{ join "," $pairs }}
{{- end -}}
{{- else if not (kindIs "invalid" $v) -}}
--{{ $name }}={{ toString $v }}
{{- end -}}
{{- end -}}
