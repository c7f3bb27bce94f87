{{- define "talkrelay.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "talkrelay.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "talkrelay.selectorLabels" -}}
app.kubernetes.io/name: {{ include "talkrelay.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "talkrelay.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{ include "talkrelay.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end -}}

{{- define "talkrelay.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "talkrelay.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{/*
talkrelay.config is the worker's config.yaml: .Values.config with http.addr
set to the chart's port, and webhook.addr to webhook.port when enabled. It fails on what must never be inline.
*/}}
{{- define "talkrelay.config" -}}
{{- $cfg := deepCopy .Values.config -}}
{{- $nats := default dict $cfg.nats -}}
{{- if not $nats.url -}}
{{- fail "config.nats.url is empty: in Kubernetes the worker needs an external NATS server (the embedded one is for trials)" -}}
{{- end -}}
{{- range $field := list "password" "token" -}}
{{- if get $nats $field -}}
{{- fail (printf "config.nats.%s is inline: put it in a Secret and set NATS_%s through secretEnv" $field (upper $field)) -}}
{{- end -}}
{{- end -}}
{{- range $acct := default list $cfg.accounts -}}
{{- range $name, $cred := default dict $acct.credentials -}}
{{- if and (kindIs "map" $cred) (hasKey $cred "value") -}}
{{- fail (printf "accounts.%s.credentials.%s is inline (value): use {env: VAR} with secretEnv or {file: PATH} with secretFiles" $acct.name $name) -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- $_ := set $cfg "http" (dict "addr" (printf ":%d" (int .Values.port))) -}}
{{- $hook := default dict $cfg.webhook -}}
{{- if .Values.webhook.enabled -}}
{{- $signed := false -}}
{{- range $acct := default list $cfg.accounts -}}
{{- if hasKey (default dict $acct.credentials) "webhook_signature" -}}
{{- $signed = true -}}
{{- end -}}
{{- end -}}
{{- if not $signed -}}
{{- fail "webhook.enabled: no account in config.accounts has a webhook_signature credential" -}}
{{- end -}}
{{- if eq (int .Values.webhook.port) (int .Values.port) -}}
{{- fail "webhook.port: the same as port; the webhook needs its own" -}}
{{- end -}}
{{- $_ := set $hook "addr" (printf ":%d" (int .Values.webhook.port)) -}}
{{- $_ := set $cfg "webhook" $hook -}}
{{- else if $hook.addr -}}
{{- fail "config.webhook.addr is set: set webhook.enabled (and webhook.port) instead, so that the port is exposed" -}}
{{- end -}}
{{- toYaml $cfg -}}
{{- end -}}

{{/*
talkrelay.durationSeconds turns a Go duration ("30s", "1m30s", "500ms") into
seconds (a float).
*/}}
{{- define "talkrelay.durationSeconds" -}}
{{- $units := dict "h" 3600.0 "m" 60.0 "s" 1.0 "ms" 0.001 "us" 0.000001 "µs" 0.000001 "ns" 0.000000001 -}}
{{- $total := 0.0 -}}
{{- range $part := regexFindAll "[0-9.]+(ns|us|µs|ms|s|m|h)" (toString .) -1 -}}
{{- $unit := regexFind "(ns|us|µs|ms|s|m|h)$" $part -}}
{{- $total = addf $total (mulf (float64 (trimSuffix $unit $part)) (get $units $unit)) -}}
{{- end -}}
{{- $total -}}
{{- end -}}

{{/*
talkrelay.terminationGracePeriodSeconds: the worker exits within
2 x worker.shutdown_grace of SIGTERM; the pod gets that plus a margin.
*/}}
{{- define "talkrelay.terminationGracePeriodSeconds" -}}
{{- $worker := default dict .Values.config.worker -}}
{{- $grace := include "talkrelay.durationSeconds" (default "30s" $worker.shutdown_grace) | float64 -}}
{{- add (int (ceil (mulf 2 $grace))) (int .Values.terminationGraceMarginSeconds) -}}
{{- end -}}

{{/*
talkrelay.lanes lists the durable consumers on TALKRELAY_JOBS, one per
account lane: <consumer>-<account> and <consumer>-<account>-urgent.
*/}}
{{- define "talkrelay.lanes" -}}
{{- $worker := default dict .Values.config.worker -}}
{{- $prefix := default "talkrelay-worker" $worker.consumer -}}
{{- $accounts := default list .Values.config.accounts -}}
{{- $names := list -}}
{{- range $accounts -}}
{{- $names = append $names .name -}}
{{- end -}}
{{- if not $names -}}
{{- $names = list "sandbox" -}}
{{- end -}}
{{- range $names }}
- {{ printf "%s-%s" $prefix . }}
- {{ printf "%s-%s-urgent" $prefix . }}
{{- end -}}
{{- end -}}
