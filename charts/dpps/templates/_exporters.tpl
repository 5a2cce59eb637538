{{/*
dpps.dbExporter: the Prometheus exporter sidecar of a database pod, when
<subchart>.<db>.metrics.enabled. It serves the metrics endpoint the
component declares (interfaces/components.cue, metrics.port), logs in as
the application user over loopback with the password by Secret reference,
and runs with the database container's securityContext. Its probes ask
the metrics path (the exporter answers it, with pg_up/mysql_up 0, while
the database is down).
  include "dpps.dbExporter" (dict "ctx" $ "component" "rucio-db"
    "kind" "postgres" "values" $v "user" "rucio" "database" "rucio"
    "credential" "rucio-db-password")
kind: postgres (postgres_exporter) or mysql (mysqld_exporter).
*/}}
{{- define "dpps.dbExporter" -}}
{{- $v := .values -}}
{{- $m := $v.metrics | default dict -}}
{{- if $m.enabled -}}
{{- $ctx := .ctx -}}
{{- $metrics := include "dpps.metrics" (dict "ctx" $ctx "component" .component) | fromJson -}}
{{- $port := include "dpps.port" (dict "ctx" $ctx "name" .component) -}}
- name: metrics
  {{- include "dpps.containerImage" (dict "ctx" $ctx "image" $m.image) | nindent 2 }}
  args:
    - --web.listen-address=:{{ $metrics.port | int }}
    - --web.telemetry-path={{ $metrics.path }}
    {{- if eq .kind "mysql" }}
    - --mysqld.address=127.0.0.1:{{ $port }}
    - --mysqld.username={{ .user }}
    {{- end }}
  ports:
    - name: metrics
      containerPort: {{ $metrics.port | int }}
      protocol: TCP
  env:
    {{- if eq .kind "postgres" }}
    - name: DATA_SOURCE_URI
      value: {{ printf "127.0.0.1:%s/%s?sslmode=disable" $port .database | quote }}
    - name: DATA_SOURCE_USER
      value: {{ .user | quote }}
    {{- include "dpps.credentialEnv" (dict "ctx" $ctx "env" "DATA_SOURCE_PASS" "name" .credential) | nindent 4 }}
    {{- else }}
    {{- include "dpps.credentialEnv" (dict "ctx" $ctx "env" "MYSQLD_EXPORTER_PASSWORD" "name" .credential) | nindent 4 }}
    {{- end }}
  livenessProbe:
    httpGet:
      path: {{ $metrics.path }}
      port: metrics
    initialDelaySeconds: 10
    periodSeconds: 30
    timeoutSeconds: 5
    failureThreshold: 3
  readinessProbe:
    httpGet:
      path: {{ $metrics.path }}
      port: metrics
    periodSeconds: 30
    timeoutSeconds: 5
  {{- include "dpps.containerCommon" (dict "resources" $m.resources "securityContext" $v.securityContext) | nindent 2 }}
{{- end -}}
{{- end -}}
