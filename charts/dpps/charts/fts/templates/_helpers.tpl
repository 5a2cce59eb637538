{{- define "fts.mounts" -}}
- name: config
  mountPath: /config
  readOnly: true
- name: fts-etc
  mountPath: /etc/fts3
- name: fts-logs
  mountPath: /var/log/fts3
- name: fts-lib
  mountPath: /var/lib/fts3
{{ include "dpps.gridMounts" (dict "host" true) }}
{{- end -}}


{{/* The OIDC issuer FTS accepts tokens from: the site's IAM or the test IAM. */}}
{{- define "fts.iamIssuer" -}}
{{- $ext := include "dpps.external" (dict "ctx" . "name" "iam") | fromJson -}}
{{- if $ext.issuer -}}
{{- $ext.issuer | trimSuffix "/" -}}
{{- else -}}
{{- printf "http://%s:%s" (include "dpps.service" (dict "ctx" . "name" "iam")) (include "dpps.port" (dict "ctx" . "name" "iam")) -}}
{{- end -}}
{{- end -}}
