{{/* DNS names of a host certificate: the Service of the interface, short and qualified. */}}
{{- define "certgen.dnsNames" -}}
{{- $i := get (.ctx.Values.interfaces | default dict) .interface -}}
{{- $svc := "" -}}
{{- if $i -}}
{{- $svc = tpl $i.service .ctx -}}
{{- else -}}
{{- /* the naming rule of docs/interfaces.md: a Service is <release>-<interface> */ -}}
{{- $svc = printf "%s-%s" .ctx.Release.Name .interface -}}
{{- end -}}
{{- $ns := .ctx.Release.Namespace -}}
{{- list $svc (printf "%s.%s" $svc $ns) (printf "%s.%s.svc" $svc $ns) (printf "%s.%s.svc.%s" $svc $ns .ctx.Values.clusterDomain) | toJson -}}
{{- end -}}

{{- define "certgen.labels" -}}
{{ include "dpps.labels" (dict "ctx" . "component" "cert-generator") }}
{{- end -}}
