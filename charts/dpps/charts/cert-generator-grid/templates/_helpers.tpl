{{/* DNS names of a host certificate: the Service of the interface, short and qualified. */}}
{{- define "certgen.dnsNames" -}}
{{- $svc := include "dpps.service" (dict "ctx" .ctx "name" .interface) -}}
{{- $ns := .ctx.Release.Namespace -}}
{{- list $svc (printf "%s.%s" $svc $ns) (printf "%s.%s.svc" $svc $ns) (printf "%s.%s.svc.%s" $svc $ns .ctx.Values.clusterDomain) | toJson -}}
{{- end -}}

{{- define "certgen.labels" -}}
{{ include "dpps.labels" (dict "ctx" . "component" "cert-generator") }}
{{- end -}}
