{{/* Names, labels and the shared pieces of the app and test pods. */}}

{{- define "execution.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "execution.fullname" -}}
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

{{- define "execution.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "execution.selectorLabels" -}}
app.kubernetes.io/name: {{ include "execution.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "execution.labels" -}}
helm.sh/chart: {{ include "execution.chart" . }}
{{ include "execution.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: execution
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/* Labels of the app's own objects (component=api distinguishes them from Redis and the test pod). */}}
{{- define "execution.appLabels" -}}
{{ include "execution.labels" . }}
app.kubernetes.io/component: api
{{- end }}

{{- define "execution.appSelectorLabels" -}}
{{ include "execution.selectorLabels" . }}
app.kubernetes.io/component: api
{{- end }}

{{- define "execution.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "execution.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* repository:tag, or repository@digest when a digest is given. Usage: include "execution.imageRef" .Values.image */}}
{{- define "execution.imageRef" -}}
{{- if .image.digest }}
{{- printf "%s@%s" .image.repository .image.digest }}
{{- else }}
{{- printf "%s:%s" .image.repository (default .appVersion (toString .image.tag)) }}
{{- end }}
{{- end }}

{{- define "execution.image" -}}
{{ include "execution.imageRef" (dict "image" .Values.image "appVersion" .Chart.AppVersion) }}
{{- end }}

{{- define "execution.secretName" -}}
{{- default (include "execution.fullname" .) .Values.secrets.existingSecret }}
{{- end }}

{{- define "execution.redis.fullname" -}}
{{- printf "%s-redis" (include "execution.fullname" .) | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "execution.redis.secretName" -}}
{{- default (include "execution.redis.fullname" .) .Values.redis.auth.existingSecret }}
{{- end }}

{{- define "execution.redis.secretKey" -}}
{{- if .Values.redis.auth.existingSecret }}{{ .Values.redis.auth.existingSecretKey }}{{ else }}redis-password{{ end }}
{{- end }}

{{- define "execution.externalRedis.secretName" -}}
{{- default (printf "%s-external-redis" (include "execution.fullname" .)) .Values.externalRedis.existingSecret }}
{{- end }}

{{- define "execution.externalRedis.secretKey" -}}
{{- if .Values.externalRedis.existingSecret }}{{ .Values.externalRedis.existingSecretKey }}{{ else }}redis-url{{ end }}
{{- end }}

{{/* One environment value as the app parses it: whole numbers without exponent, lists comma-joined. */}}
{{- define "execution.envValue" -}}
{{- if kindIs "float64" . }}
{{- if eq . (floor .) }}{{ printf "%d" (int64 .) }}{{ else }}{{ . }}{{ end }}
{{- else if kindIs "slice" . }}
{{- join "," . }}
{{- else }}
{{- . }}
{{- end }}
{{- end }}

{{/* DRAIN_TIMEOUT_S in whole seconds, rounded up. */}}
{{- define "execution.drainSeconds" -}}
{{- $drain := dig "DRAIN_TIMEOUT_S" 20 .Values.config | toString | float64 }}
{{- ceil $drain | int64 }}
{{- end }}

{{- define "execution.terminationGracePeriodSeconds" -}}
{{- add (include "execution.drainSeconds" . | int64) (int64 .Values.preStopSleepSeconds) 10 }}
{{- end }}

{{- define "execution.validate" -}}
{{- if and .Values.autoscaling.enabled .Values.keda.enabled }}
{{- fail "autoscaling.enabled and keda.enabled are mutually exclusive: KEDA manages its own HorizontalPodAutoscaler" }}
{{- end }}
{{- if and (not .Values.redis.enabled) (not .Values.externalRedis.url) (not .Values.externalRedis.existingSecret) }}
{{- fail "redis.enabled=false needs externalRedis.url or externalRedis.existingSecret" }}
{{- end }}
{{- if and .Values.redis.enabled (or .Values.externalRedis.url .Values.externalRedis.existingSecret) }}
{{- fail "externalRedis is set while redis.enabled=true: set redis.enabled=false to use your own Redis" }}
{{- end }}
{{- if and .Values.keda.enabled (not .Values.redis.enabled) (not .Values.keda.address) }}
{{- fail "keda.enabled with an external Redis needs keda.address (host:port)" }}
{{- end }}
{{- if and (eq (toString .Values.config.EXECUTION_MODE) "LIVE") (not (eq (toString .Values.config.LIVE_TRADING_CONFIRMED) "true")) }}
{{- fail "config.EXECUTION_MODE=LIVE places real orders: set config.LIVE_TRADING_CONFIRMED=true to confirm" }}
{{- end }}
{{- end }}

{{/* The app's environment besides the ConfigMap: pod identity, listen address, Redis and secrets.
     Shared by the Deployment and the helm test pod so both talk to the same Redis the same way. */}}
{{- define "execution.env" -}}
- name: CONSUMER_NAME
  valueFrom:
    fieldRef:
      fieldPath: metadata.name
- name: HOST
  value: "0.0.0.0"
- name: PORT
  value: {{ .Values.containerPort | quote }}
{{- if .Values.redis.enabled }}
- name: REDIS_HOST
  value: {{ include "execution.redis.fullname" . }}
- name: REDIS_PORT
  value: "6379"
- name: REDIS_DB
  value: "0"
- name: REDIS_PASSWORD
  valueFrom:
    secretKeyRef:
      name: {{ include "execution.redis.secretName" . }}
      key: {{ include "execution.redis.secretKey" . }}
{{- else }}
- name: REDIS_URL
  valueFrom:
    secretKeyRef:
      name: {{ include "execution.externalRedis.secretName" . }}
      key: {{ include "execution.externalRedis.secretKey" . }}
{{- end }}
- name: BINANCE_API_KEY
  valueFrom:
    secretKeyRef:
      name: {{ include "execution.secretName" . }}
      key: {{ .Values.secrets.keys.binanceApiKey }}
      optional: true
- name: BINANCE_API_SECRET
  valueFrom:
    secretKeyRef:
      name: {{ include "execution.secretName" . }}
      key: {{ .Values.secrets.keys.binanceApiSecret }}
      optional: true
- name: ADMIN_TOKEN
  valueFrom:
    secretKeyRef:
      name: {{ include "execution.secretName" . }}
      key: {{ .Values.secrets.keys.adminToken }}
      optional: true
{{- with .Values.extraEnv }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{- define "execution.envFrom" -}}
- configMapRef:
    name: {{ include "execution.fullname" . }}
{{- end }}
