{{/* Names and labels shared by every template. */}}

{{- define "licentia.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "licentia.fullname" -}}
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

{{/* A component's name: `{fullname}-{component}`. Call with (dict "root" $ "component" "catalog"). */}}
{{- define "licentia.componentName" -}}
{{- printf "%s-%s" (include "licentia.fullname" .root) .component | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "licentia.selectorLabels" -}}
app.kubernetes.io/name: {{ include "licentia.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "licentia.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{ include "licentia.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: licentia
{{- end }}

{{/* Labels of one component. Call with (dict "root" $ "component" "catalog"). */}}
{{- define "licentia.componentLabels" -}}
{{ include "licentia.labels" .root }}
app.kubernetes.io/component: {{ .component }}
{{- end }}

{{- define "licentia.componentSelector" -}}
{{ include "licentia.selectorLabels" .root }}
app.kubernetes.io/component: {{ .component }}
{{- end }}

{{- define "licentia.image" -}}
{{- $tag := default .Chart.AppVersion .Values.image.tag -}}
{{- if .Values.image.digest -}}
{{ .Values.image.repository }}@{{ .Values.image.digest }}
{{- else -}}
{{ .Values.image.repository }}:{{ $tag }}
{{- end -}}
{{- end }}

{{- define "licentia.secretName" -}}
{{- default (printf "%s-secrets" (include "licentia.fullname" .)) .Values.secrets.existingSecret }}
{{- end }}

{{- define "licentia.configName" -}}
{{- printf "%s-config" (include "licentia.fullname" .) }}
{{- end }}

{{- define "licentia.hasSigningKey" -}}
{{- if or .Values.secrets.existingSecret .Values.secrets.signingKeyPem }}true{{ end }}
{{- end }}

{{/*
Which services each one calls: the code's call graph, the source of the NetworkPolicy
rules and of the addresses each service is given.
*/}}
{{- define "licentia.calls" -}}
catalog: [licensing, metering]
licensing: [catalog]
provenance: [catalog, licensing, metering]
metering: [catalog, licensing]
settlement: [catalog, licensing, metering]
edge: [catalog, licensing, metering, settlement]
console: [catalog, licensing, provenance, metering, settlement, edge]
{{- end }}

{{/* Secret-backed environment every container gets. */}}
{{- define "licentia.secretEnv" -}}
- name: LICENTIA_DATABASE_URL
  valueFrom:
    secretKeyRef: {name: {{ include "licentia.secretName" . }}, key: database-url}
- name: LICENTIA_OPERATOR_API_KEY
  valueFrom:
    secretKeyRef: {name: {{ include "licentia.secretName" . }}, key: operator-api-key}
- name: LICENTIA_SERVICE_TOKEN
  valueFrom:
    secretKeyRef: {name: {{ include "licentia.secretName" . }}, key: service-token}
{{- end }}

{{/* The pod's and the container's security contexts, shared by every pod. */}}
{{- define "licentia.podSecurity" -}}
securityContext:
  {{- toYaml .Values.podSecurityContext | nindent 2 }}
{{- end }}

{{- define "licentia.containerSecurity" -}}
securityContext:
  {{- toYaml .Values.securityContext | nindent 2 }}
{{- end }}

{{/* Egress every pod needs: DNS, the database, the OTLP collector when tracing is on. */}}
{{- define "licentia.dnsEgress" -}}
- to:
    - namespaceSelector:
        matchLabels:
          kubernetes.io/metadata.name: {{ .Values.networkPolicy.dns.namespace }}
      podSelector:
        matchLabels:
          {{- toYaml .Values.networkPolicy.dns.podLabels | nindent 10 }}
  ports:
    - {port: 53, protocol: UDP}
    - {port: 53, protocol: TCP}
{{- end }}

{{- define "licentia.commonEgress" -}}
{{ include "licentia.dnsEgress" . }}
- ports:
    - {port: {{ .Values.networkPolicy.database.port }}, protocol: TCP}
  {{- with .Values.networkPolicy.database.to }}
  to:
    {{- toYaml . | nindent 4 }}
  {{- end }}
{{- if .Values.tracing.otlpEndpoint }}
- ports:
    - {port: {{ .Values.networkPolicy.otlp.port }}, protocol: TCP}
  {{- with .Values.networkPolicy.otlp.to }}
  to:
    {{- toYaml . | nindent 4 }}
  {{- end }}
{{- end }}
{{- end }}
