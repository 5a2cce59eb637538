{{/*
bdms endpoints: an external interface set by the site wins; otherwise the
test fixture's Service from the generated values stands in.
*/}}

{{/* The Rucio database endpoint as JSON {host, port, database, user, external}. */}}
{{- define "bdms.db" -}}
{{- $ext := include "dpps.external" (dict "ctx" . "name" "rucio-database") | fromJson -}}
{{- if $ext.host -}}
{{- if (index .Values "rucio-db").enabled -}}
{{- fail "bdms.rucio-db.enabled is true but global.externals.rucio-database is set: switch the PostgreSQL fixture off (bdms.rucio-db.enabled: false)" -}}
{{- end -}}
{{- $q := ternary (printf "?sslmode=%s" $ext.sslmode) "" (not (empty $ext.sslmode)) -}}
{{- dict "host" $ext.host "port" ($ext.port | int) "database" $ext.database "user" $ext.user "query" $q "external" true | toJson -}}
{{- else -}}
{{- if not (index .Values "rucio-db").enabled -}}
{{- fail "bdms.rucio-db.enabled is false: set global.externals.rucio-database.host (and port, database, user) to the site's PostgreSQL" -}}
{{- end -}}
{{- $i := dict "ctx" . "name" "rucio-db" -}}
{{- dict "host" (include "dpps.service" $i) "port" (include "dpps.port" $i | int) "database" (include "dpps.setting" (merge (dict "key" "database") $i)) "user" (include "dpps.setting" (merge (dict "key" "user") $i)) "query" "" "external" false | toJson -}}
{{- end -}}
{{- end -}}

{{/* The FTS REST endpoint URL. */}}
{{- define "bdms.ftsUrl" -}}
{{- $ext := include "dpps.external" (dict "ctx" . "name" "fts") | fromJson -}}
{{- if $ext.url -}}
{{- $ext.url -}}
{{- else -}}
{{- printf "https://%s:%s" (include "dpps.service" (dict "ctx" . "name" "fts")) (include "dpps.port" (dict "ctx" . "name" "fts")) -}}
{{- end -}}
{{- end -}}

{{/*
The FTS monitoring message broker as JSON {host, port, topic, user}: the fts-broker
fixture; {} with an external FTS (the external interface declares no broker,
so conveyor-receiver is not deployed and conveyor-poller follows transfers).
*/}}
{{- define "bdms.broker" -}}
{{- $ext := include "dpps.external" (dict "ctx" . "name" "fts") | fromJson -}}
{{- if $ext.url -}}
{{- dict | toJson -}}
{{- else -}}
{{- $i := dict "ctx" . "name" "fts-broker" -}}
{{- dict "host" (include "dpps.service" $i) "port" (include "dpps.port" $i | int) "topic" (include "dpps.setting" (merge (dict "key" "topic") $i)) "user" (include "dpps.setting" (merge (dict "key" "user") $i)) | toJson -}}
{{- end -}}
{{- end -}}

{{/* The OIDC provider as JSON {issuer, audience}: the site's IAM or the test IAM. */}}
{{- define "bdms.iam" -}}
{{- $ext := include "dpps.external" (dict "ctx" . "name" "iam") | fromJson -}}
{{- if $ext.issuer -}}
{{- dict "issuer" ($ext.issuer | trimSuffix "/") "audience" $ext.audience | toJson -}}
{{- else -}}
{{- dict "issuer" (printf "http://%s:%s" (include "dpps.service" (dict "ctx" . "name" "iam")) (include "dpps.port" (dict "ctx" . "name" "iam"))) "audience" "rucio" | toJson -}}
{{- end -}}
{{- end -}}

{{/* The Rucio server URL clients use. */}}
{{- define "bdms.serverUrl" -}}
{{- printf "https://%s:%s" (include "dpps.service" (dict "ctx" . "name" "rucio-server")) (include "dpps.port" (dict "ctx" . "name" "rucio-server")) -}}
{{- end -}}

{{/*
Database environment of every Rucio process: the password from the
credential Secret, and the DSN built from it with Kubernetes' $(VAR)
expansion, so no password is ever written into the manifests. Skipped when a
site sets config.database.default itself (then rucio.cfg carries it).
*/}}
{{- define "bdms.dbEnv" -}}
{{- include "bdms.dbEnv.raw" . | trim -}}
{{- end -}}

{{- define "bdms.dbEnv.raw" -}}
{{- $db := include "bdms.db" . | fromJson -}}
{{ include "dpps.credentialEnv" (dict "ctx" . "env" "RUCIO_DB_PASSWORD" "name" "rucio-db-password") }}
{{- if not (dig "database" "default" "" (.Values.config | default dict)) }}
- name: RUCIO_CFG_DATABASE_DEFAULT
  value: {{ printf "postgresql://%s:$(RUCIO_DB_PASSWORD)@%s:%v/%s%s" $db.user $db.host ($db.port | int) $db.database $db.query | quote }}
{{- end }}
- name: RUCIO_CFG_DATABASE_POOL_SIZE
  value: "10"
{{- end -}}

{{/*
The Rucio configuration (conf.d/10_common.json): .Values.config with the
endpoints computed for this release merged in, every string rendered with
tpl. The computed keys win over nothing a site set explicitly.
*/}}
{{- define "bdms.config" -}}
{{- $cfg := deepCopy (.Values.config | default dict) -}}
{{- $broker := include "bdms.broker" . | fromJson -}}
{{- $conveyor := get $cfg "conveyor" | default dict -}}
{{- $_ := set $conveyor "ftshosts" ($conveyor.ftshosts | default (include "bdms.ftsUrl" .)) -}}
{{- $_ := set $cfg "conveyor" $conveyor -}}
{{- $msg := get $cfg "messaging-fts3" | default dict -}}
{{- if $broker.host -}}
{{- $_ := set $msg "brokers" ((get $msg "brokers") | default $broker.host) -}}
{{- $_ := set $msg "nonssl_port" ((get $msg "nonssl_port") | default ($broker.port | toString)) -}}
{{- $_ := set $msg "destination" ((get $msg "destination") | default $broker.topic) -}}
{{- $_ := set $msg "username" ((get $msg "username") | default $broker.user) -}}
{{- end -}}
{{- $_ := set $cfg "messaging-fts3" $msg -}}
{{- $iam := include "bdms.iam" . | fromJson -}}
{{- $oidc := get $cfg "oidc" | default dict -}}
{{- $_ := set $oidc "idpsecrets" ($oidc.idpsecrets | default "/opt/rucio/etc/idpsecrets.json") -}}
{{- $_ := set $oidc "admin_issuer" ($oidc.admin_issuer | default "dpps-iam") -}}
{{- $_ := set $oidc "expected_audience" ($oidc.expected_audience | default $iam.audience) -}}
{{- $_ := set $cfg "oidc" $oidc -}}
{{- $monitor := get $cfg "monitor" | default dict -}}
{{- $_ := set $monitor "metrics_port" (include "bdms.metricsPort" .) -}}
{{- $_ := set $cfg "monitor" $monitor -}}
{{- tpl (toPrettyJson $cfg) . -}}
{{- end -}}

{{/*
The metrics port of the Rucio daemons (the components of .Values.daemons),
as the string Rucio's monitor.metrics_port takes. They share one
configuration file, so they must declare one port.
*/}}
{{- define "bdms.metricsPort" -}}
{{- $ports := list -}}
{{- range $c := .Values.daemons -}}
{{- $ports = append $ports ((include "dpps.metrics" (dict "ctx" $ "component" $c) | fromJson).port | int | toString) -}}
{{- end -}}
{{- $ports = $ports | uniq -}}
{{- if ne (len $ports) 1 -}}
{{- fail (printf "bdms: the Rucio daemons declare the metrics ports %s in interfaces/*.cue; they share monitor.metrics_port, so they must declare one" (join ", " $ports)) -}}
{{- end -}}
{{- first $ports -}}
{{- end -}}

{{/*
idpsecrets.json: the OIDC provider Rucio trusts. Rucio is a public client of
the IAM here: the file holds no client secret.
*/}}
{{- define "bdms.idpsecrets" -}}
{{- $iam := include "bdms.iam" . | fromJson -}}
{{- $server := include "bdms.serverUrl" . -}}
{{- dict "dpps-iam" (dict "issuer" (printf "%s/" $iam.issuer) "client_id" (index .Values "rucio-server").oidcClientId "redirect_uris" (list (printf "%s/auth/oidc_token" $server) (printf "%s/auth/oidc_code" $server)) "SCIM" (dict "client_id" (index .Values "rucio-server").oidcClientId)) | toPrettyJson -}}
{{- end -}}

{{/*
Shell functions of the schema migration and its waits: write alembic.ini
(Rucio's migration scripts as installed in the image; the DSN from
RUCIO_CFG_DATABASE_DEFAULT, or from the config file when a site sets
config.database.default) into the memory emptyDir /schema, and
schema_state, which prints "fresh" (no alembic_version yet), "head" (at the
head of this image's scripts) or "behind".
*/}}
{{- define "bdms.schemaScript" -}}
set -eu
export ALEMBIC_CONFIG=/schema/alembic.ini
dsn="${RUCIO_CFG_DATABASE_DEFAULT:-}"
if [ -z "$dsn" ]; then
  dsn="$(python3 -c 'import json; print(json.load(open("/opt/rucio/etc/conf.d/10_common.json"))["database"]["default"])')"
fi
repo="$(python3 -c 'import os, rucio.db.sqla as m; print(os.path.join(os.path.dirname(m.__file__), "migrate_repo"))')"
printf '[alembic]\nscript_location = %s\nsqlalchemy.url = %s\n' "$repo" "$(printf '%s' "$dsn" | sed 's/%/%%/g')" > "$ALEMBIC_CONFIG"
schema_state() {
  cur="$(alembic -c "$ALEMBIC_CONFIG" current 2>/dev/null)" || { echo unreachable; return 0; }
  case "$cur" in
    "") echo fresh ;;
    *"(head)"*) echo head ;;
    *) echo behind ;;
  esac
}
{{- end -}}

{{/* Volume mounts of the schema script: the Rucio config and the scratch emptyDir (volumes "config" and "schema"). */}}
{{- define "bdms.schemaMounts" -}}
- name: config
  mountPath: /opt/rucio/etc/conf.d/10_common.json
  subPath: 10_common.json
  readOnly: true
- name: schema
  mountPath: /schema
{{- end -}}

{{/*
Init container that waits until Rucio's database schema is at the head of
this version's migrations (rucio-migrate has run): rucio-server and the
daemons. rucio-bootstrap passes "fresh" true: it also goes ahead on a
database without schema, which it builds. Same image as rucio-migrate.
include "bdms.waitForSchema" (dict "ctx" $ "fresh" false)
*/}}
{{- define "bdms.waitForSchema" -}}
{{- $v := index .ctx.Values "rucio-migrate" -}}
{{- if $v.enabled }}
- name: wait-for-schema
  {{- include "dpps.containerImage" (dict "ctx" .ctx "image" $v.image) | nindent 2 }}
  command:
    - /bin/sh
    - -c
    - |
      {{- include "bdms.schemaScript" .ctx | nindent 6 }}
      until s="$(schema_state)"; [ "$s" = head ]{{ if .fresh }} || [ "$s" = fresh ]{{ end }}; do
        echo "waiting for the Rucio schema at head (rucio-migrate): $s"; sleep 5
      done
  env:
    {{- include "bdms.dbEnv" .ctx | nindent 4 }}
    - name: PYTHONDONTWRITEBYTECODE
      value: "1"
  volumeMounts:
    {{- include "bdms.schemaMounts" .ctx | nindent 4 }}
  {{- include "dpps.containerCommon" $v | nindent 2 }}
{{- end }}
{{- end -}}

{{/* The scratch volume of wait-for-schema, when rucio-migrate is on. */}}
{{- define "bdms.schemaVolume" -}}
{{- if (index .Values "rucio-migrate").enabled }}
- name: schema
  emptyDir:
    medium: Memory
{{- end }}
{{- end -}}
