{{/*
Failover (global.failover, interfaces/failover.cue, docs/gitops.md): the
role of this site's rucio-db, derived from the topology every site carries
and this site's name, as JSON:
  {"role": "standalone"}
  {"role": "primary"|"replica", "site": ..., "primary": ...,
   "runs": true|false (bdms.rucio-db on), "host": ..., "port": ...}
host and port are the primary's, from global.externals.rucio-database-peers,
which a site that runs rucio-db must set.
*/}}
{{- define "bdms.rucioDbRole" -}}
{{- $g := .Values.global | default dict -}}
{{- $f := $g.failover | default dict -}}
{{- $t := get $f "rucio-db" | default dict -}}
{{- if not $t -}}
{{- dict "role" "standalone" | toJson -}}
{{- else -}}
{{- if not $f.site -}}
{{- fail "global.failover.rucio-db is set but global.failover.site is not: set it to this site's name in the topology" -}}
{{- end -}}
{{- $runs := (index .Values "rucio-db").enabled -}}
{{- $out := dict "role" (ternary "primary" "replica" (eq $f.site $t.primary)) "site" $f.site "primary" $t.primary "runs" $runs -}}
{{- if $runs -}}
{{- $peers := (get ($g.externals | default dict) "rucio-database-peers" | default dict).sites | default list -}}
{{- if not $peers -}}
{{- fail "global.failover.rucio-db is set and bdms.rucio-db runs here: list every site of the topology, this one included, under global.externals.rucio-database-peers.sites (name, host, port, cidrs)" -}}
{{- end -}}
{{- $names := list -}}
{{- range $p := $peers -}}
{{- $names = append $names $p.name -}}
{{- if eq $p.name $t.primary -}}
{{- $_ := set $out "host" $p.host -}}
{{- $_ := set $out "port" ($p.port | default (include "dpps.port" (dict "ctx" $ "name" "rucio-db")) | int) -}}
{{- end -}}
{{- end -}}
{{- if not (has $f.site $names) -}}
{{- fail (printf "global.failover.site %q is not among global.externals.rucio-database-peers.sites (%s): add this site, or fix its name" $f.site (join ", " $names)) -}}
{{- end -}}
{{- if not (has $t.primary $names) -}}
{{- fail (printf "global.failover.rucio-db.primary %q is not among global.externals.rucio-database-peers.sites (%s): add the primary's address, or fix its name" $t.primary (join ", " $names)) -}}
{{- end -}}
{{- end -}}
{{- $out | toJson -}}
{{- end -}}
{{- end -}}

{{/*
"false" when this site is a replica of rucio-db: its Rucio must not write,
so the Rucio server and daemons run no pod (replicas 0) and the bootstrap,
migrate and configure Jobs are not rendered, until a promotion makes this
site the primary. "true" otherwise.
*/}}
{{- define "bdms.rucioWrites" -}}
{{- $r := include "bdms.rucioDbRole" . | fromJson -}}
{{- ne $r.role "replica" -}}
{{- end -}}

{{/*
The Bitnami PostgreSQL image's streaming replication settings for rucio-db:
nothing when standalone; the primary creates the replication role on its
first start and adds `host replication all` to pg_hba (md5); a replica
clones the primary with pg_basebackup on its first start and streams from
it (standby.signal, primary_conninfo). The password is read from the
credential Secret, never written here.
*/}}
{{- define "bdms.replicationEnv" -}}
{{- $r := include "bdms.rucioDbRole" . | fromJson -}}
{{- if ne $r.role "standalone" -}}
{{- $v := index .Values "rucio-db" -}}
- name: POSTGRESQL_REPLICATION_MODE
  value: {{ ternary "master" "slave" (eq $r.role "primary") }}
- name: POSTGRESQL_REPLICATION_USER
  value: {{ $v.replication.user | quote }}
{{ include "dpps.credentialEnv" (dict "ctx" . "env" "POSTGRESQL_REPLICATION_PASSWORD" "name" "rucio-db-replication-password") }}
- name: POSTGRESQL_CLUSTER_APP_NAME
  value: {{ $r.site | quote }}
{{- if eq $r.role "replica" }}
- name: POSTGRESQL_MASTER_HOST
  value: {{ $r.host | quote }}
- name: POSTGRESQL_MASTER_PORT_NUMBER
  value: {{ $r.port | quote }}
{{- end }}
{{- end -}}
{{- end -}}
