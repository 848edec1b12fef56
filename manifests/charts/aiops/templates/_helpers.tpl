{{/*
Expand the name of the chart.
*/}}
{{- define "aiops.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Create a default fully qualified app name (63 characters at most: DNS naming spec).
If release name contains chart name it will be used as a full name.
*/}}
{{- define "aiops.fullname" -}}
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

{{/*
Create chart name and version as used by the chart label.
*/}}
{{- define "aiops.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Common labels
*/}}
{{- define "aiops.labels" -}}
helm.sh/chart: {{ include "aiops.chart" . }}
{{ include "aiops.selectorLabels" . }}
{{- if .Chart.AppVersion }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
{{- end }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{/*
Selector labels (every aiops pod carries them: the NetworkPolicy selects on them)
*/}}
{{- define "aiops.selectorLabels" -}}
app.kubernetes.io/name: {{ include "aiops.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/*
Create the name of the service account to use
*/}}
{{- define "aiops.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "aiops.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/*
The image
*/}}
{{- define "aiops.image" -}}
{{- printf "%s:%s" .Values.image.repository (.Values.image.tag | default .Chart.AppVersion) }}
{{- end }}

{{/*
Namespace arguments: -n NS per namespace, or -A when none is listed (YAML list items)
*/}}
{{- define "aiops.namespaceArgs" -}}
{{- if .Values.namespaces }}
{{- range .Values.namespaces }}
- "-n"
- {{ . | quote }}
{{- end }}
{{- else }}
- "-A"
{{- end }}
{{- end }}

{{/*
Environment of every aiops container: the GitHub repository and App credentials by reference
*/}}
{{- define "aiops.env" -}}
- name: GITHUB_REPOSITORY
  value: {{ required "github.repository (owner/name of the GitOps repository) is required" .Values.github.repository | quote }}
- name: GITHUB_API_URL
  value: {{ .Values.github.apiUrl | quote }}
- name: GITHUB_SERVER_URL
  value: {{ .Values.github.serverUrl | quote }}
- name: AIOPS_APP_ID
  valueFrom:
    secretKeyRef:
      name: {{ required "github.existingSecret (the Secret holding the GitHub App credentials) is required" .Values.github.existingSecret }}
      key: {{ .Values.github.appIdKey }}
- name: AIOPS_APP_PRIVATE_KEY
  valueFrom:
    secretKeyRef:
      name: {{ .Values.github.existingSecret }}
      key: {{ .Values.github.privateKeyKey }}
- name: HOME
  value: /tmp
- name: PYTHONUNBUFFERED
  value: "1"
{{- end }}

{{/*
Pod-level settings shared by the watcher and the jobs
*/}}
{{- define "aiops.podSpecCommon" -}}
{{- with .Values.imagePullSecrets }}
imagePullSecrets:
  {{- toYaml . | nindent 2 }}
{{- end }}
serviceAccountName: {{ include "aiops.serviceAccountName" . }}
# every aiops pod reads the cluster (read-only ClusterRole), so each mounts the token
automountServiceAccountToken: true
{{- with .Values.podSecurityContext }}
securityContext:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .Values.nodeSelector }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .Values.affinity }}
affinity:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .Values.tolerations }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end }}

{{/*
The usage-history claim's name
*/}}
{{- define "aiops.claimName" -}}
{{- default (printf "%s-usage" (include "aiops.fullname" .)) .Values.collect.persistence.existingClaim }}
{{- end }}
