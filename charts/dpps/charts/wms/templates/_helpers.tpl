{{/* The DIRAC database endpoint as JSON {host, port, user}: site's or fixture. */}}
{{- define "wms.db" -}}
{{- $ext := include "dpps.external" (dict "ctx" . "name" "dirac-database") | fromJson -}}
{{- if $ext.host -}}
{{- if (index .Values "dirac-db").enabled -}}
{{- fail "wms.dirac-db.enabled is true but global.externals.dirac-database is set: switch the MySQL fixture off (wms.dirac-db.enabled: false)" -}}
{{- end -}}
{{- dict "host" $ext.host "port" ($ext.port | int) "user" $ext.user | toJson -}}
{{- else -}}
{{- if not (index .Values "dirac-db").enabled -}}
{{- fail "wms.dirac-db.enabled is false: set global.externals.dirac-database.host (and port, user) to the site's MySQL" -}}
{{- end -}}
{{- $i := dict "ctx" . "name" "dirac-db" -}}
{{- dict "host" (include "dpps.service" $i) "port" (include "dpps.port" $i | int) "user" (include "dpps.setting" (merge (dict "key" "user") $i)) | toJson -}}
{{- end -}}
{{- end -}}

{{/*
The compute elements as JSON {ces: [{host, port, type, queue, user}]}: the
site's (global.externals.compute.ces) or the dirac-ce fixture.
*/}}
{{- define "wms.ces" -}}
{{- $ext := include "dpps.external" (dict "ctx" . "name" "compute") | fromJson -}}
{{- $ces := list -}}
{{- if $ext.ces -}}
{{- if (index .Values "dirac-ce").enabled -}}
{{- fail "wms.dirac-ce.enabled is true but global.externals.compute is set: switch the CE fixture off (wms.dirac-ce.enabled: false)" -}}
{{- end -}}
{{- range $ce := $ext.ces -}}
{{- $ces = append $ces (dict "host" $ce.host "port" ($ce.port | int) "type" $ce.type "queue" ($ce.queue | default $.Values.queue) "user" (index $.Values "dirac-ce").user) -}}
{{- end -}}
{{- else -}}
{{- if not (index .Values "dirac-ce").enabled -}}
{{- fail "wms.dirac-ce.enabled is false: set global.externals.compute.ces to the site's compute elements" -}}
{{- end -}}
{{- $i := dict "ctx" . "name" "dirac-ce" -}}
{{- $ces = list (dict "host" (include "dpps.service" $i) "port" (include "dpps.port" $i | int) "type" "SSH" "queue" .Values.queue "user" (index .Values "dirac-ce").user) -}}
{{- end -}}
{{- dict "ces" $ces | toJson -}}
{{- end -}}

{{/* Whether any compute element is reached over SSH (then DIRAC needs the SSH password). */}}
{{- define "wms.sshCE" -}}
{{- $ssh := false -}}
{{- range $ce := (include "wms.ces" . | fromJson).ces }}{{ if eq $ce.type "SSH" }}{{ $ssh = true }}{{ end }}{{ end -}}
{{- if $ssh }}true{{ end -}}
{{- end -}}

{{/* The OIDC issuer: the site's IAM or the test IAM. */}}
{{- define "wms.iamIssuer" -}}
{{- $ext := include "dpps.external" (dict "ctx" . "name" "iam") | fromJson -}}
{{- if $ext.issuer -}}
{{- $ext.issuer | trimSuffix "/" -}}
{{- else -}}
{{- printf "http://%s:%s" (include "dpps.service" (dict "ctx" . "name" "iam")) (include "dpps.port" (dict "ctx" . "name" "iam")) -}}
{{- end -}}
{{- end -}}

{{/* dips:// URL of a DIRAC service on the dirac-server interface. */}}
{{- define "wms.dips" -}}
{{- printf "dips://%s:%s/%s" (include "dpps.service" (dict "ctx" .ctx "name" "dirac-server")) (include "dpps.port" (dict "ctx" .ctx "name" "dirac-server" "port" .port)) .name -}}
{{- end -}}

{{/*
dirac.cfg of the server: no password in it. setup.sh writes the passwords
from the credential Secrets into secrets.cfg in an emptyDir at start-up,
which DIRAC reads through DIRACSYSCONFIG.
*/}}
{{- define "wms.serverCfg" -}}
{{- $db := include "wms.db" . | fromJson -}}
{{- $ces := (include "wms.ces" . | fromJson).ces -}}
{{- $cs := include "wms.dips" (dict "ctx" . "name" "Configuration/Server" "port" "dips-config") -}}
DIRAC
{
  Setup = {{ .Values.setup }}
  VirtualOrganization = {{ .Values.vo }}
  Configuration
  {
    Name = {{ .Values.setup }}
    Master = yes
    Servers = {{ $cs }}
  }
  Security
  {
    CertFile = /etc/grid-security/hostcert.pem
    KeyFile = /etc/grid-security/hostkey.pem
    CALocation = /etc/grid-security/certificates
  }
  Setups
  {
    {{ .Values.setup }}
    {
      Configuration = Production
      Framework = Production
      WorkloadManagement = Production
    }
  }
}
Systems
{
  Databases
  {
    Host = {{ $db.host }}
    Port = {{ $db.port }}
    User = {{ $db.user }}
  }
  WorkloadManagement
  {
    Production
    {
      URLs
      {
        {{- range $s := (index .Values "dirac-server").services }}
        {{- if hasPrefix "WorkloadManagement/" $s.name }}
        {{ trimPrefix "WorkloadManagement/" $s.name }} = {{ include "wms.dips" (dict "ctx" $ "name" $s.name "port" $s.port) }}
        {{- end }}
        {{- end }}
      }
      Services
      {
        {{- range $s := (index .Values "dirac-server").services }}
        {{- if hasPrefix "WorkloadManagement/" $s.name }}
        {{ trimPrefix "WorkloadManagement/" $s.name }}
        {
          Port = {{ include "dpps.port" (dict "ctx" $ "name" "dirac-server" "port" $s.port) }}
        }
        {{- end }}
        {{- end }}
      }
      Agents
      {
        SiteDirector
        {
          Site = {{ .Values.site }}
          CEs = {{ range $i, $ce := $ces }}{{ if $i }}, {{ end }}{{ $ce.host }}{{ end }}
          PollingTime = 60
        }
      }
    }
  }
}
Resources
{
  Sites
  {
    DPPS
    {
      {{ .Values.site }}
      {
        Name = {{ .Values.site }}
        CE = {{ range $i, $ce := $ces }}{{ if $i }}, {{ end }}{{ $ce.host }}{{ end }}
        CEs
        {
          {{- range $ce := $ces }}
          {{ $ce.host }}
          {
            CEType = {{ $ce.type }}
            {{- if eq $ce.type "SSH" }}
            SSHHost = {{ $ce.host }}
            SSHPort = {{ $ce.port }}
            SSHUser = {{ $ce.user }}
            {{- else }}
            Port = {{ $ce.port }}
            {{- end }}
            Queues
            {
              {{ $ce.queue }}
              {
                maxCPUTime = 2880
                SI00 = 2400
                MaxTotalJobs = 4
                MaxWaitingJobs = 4
              }
            }
          }
          {{- end }}
        }
      }
    }
  }
  IdProviders
  {
    DPPS-IAM
    {
      ProviderType = IAM
      issuer = {{ include "wms.iamIssuer" . }}
      client_id = {{ .Values.oidcClientId }}
    }
  }
}
Registry
{
  DefaultGroup = dpps_user
  Users
  {
    {{- range $u := .Values.users }}
    {{ $u.name }}
    {
      DN = {{ $u.dn }}
    }
    {{- end }}
  }
  Groups
  {
    dpps_user
    {
      Users = {{ range $i, $u := .Values.users }}{{ if $i }}, {{ end }}{{ $u.name }}{{ end }}
      Properties = NormalUser
      VO = {{ .Values.vo }}
    }
    dirac_admin
    {
      Users = {{ $first := true }}{{ range $u := .Values.users }}{{ if has "dirac_admin" $u.groups }}{{ if not $first }}, {{ end }}{{ $u.name }}{{ $first = false }}{{ end }}{{ end }}
      Properties = AlarmsManagement, ServiceAdministrator, CSAdministrator, JobAdministrator, FullDelegation, ProxyManagement, Operator
    }
  }
  VO
  {
    {{ .Values.vo }}
    {
      IdProvider = DPPS-IAM
    }
  }
}
{{- end -}}

{{- define "wms.clientCfg" -}}
DIRAC
{
  Setup = {{ .Values.setup }}
  VirtualOrganization = {{ .Values.vo }}
  Configuration
  {
    Servers = {{ include "wms.dips" (dict "ctx" . "name" "Configuration/Server" "port" "dips-config") }}
  }
  Security
  {
    UseServerCertificate = no
    CALocation = /etc/grid-security/certificates
  }
}
{{- end -}}

{{/* CVMFS from the site (global.externals.cvmfs): a read-only hostPath. */}}
{{- define "wms.cvmfsVolume" -}}
{{- $ext := include "dpps.external" (dict "ctx" . "name" "cvmfs") | fromJson -}}
{{- if $ext.repositories }}
- name: cvmfs
  {{- if $ext.claimName }}
  persistentVolumeClaim:
    claimName: {{ $ext.claimName }}
    readOnly: true
  {{- else }}
  hostPath:
    path: /cvmfs
    type: Directory
  {{- end }}
{{- end }}
{{- end -}}

{{- define "wms.cvmfsMount" -}}
{{- $ext := include "dpps.external" (dict "ctx" . "name" "cvmfs") | fromJson -}}
{{- if $ext.repositories }}
- name: cvmfs
  mountPath: /cvmfs
  readOnly: true
  mountPropagation: HostToContainer
{{- end }}
{{- end -}}

{{- define "wms.serviceNames" -}}
{{- $n := list -}}
{{- range $s := (index .Values "dirac-server").services }}{{ $n = append $n $s.name }}{{ end -}}
{{- join " " $n -}}
{{- end -}}

{{- define "wms.serverEnv" -}}
- name: DIRACSYSCONFIG
  value: /opt/dirac/etc/secrets.cfg
- name: X509_CERT_DIR
  value: /etc/grid-security/certificates
- name: RUCIO_CONFIG
  value: /opt/rucio/etc/rucio.cfg
{{- end -}}

{{- define "wms.serverMounts" -}}
- name: config
  mountPath: /config
  readOnly: true
- name: config
  mountPath: /opt/dirac/etc/dirac.cfg
  subPath: dirac.cfg
  readOnly: true
- name: dirac-etc
  mountPath: /opt/dirac/etc
- name: dirac-work
  mountPath: /opt/dirac/work
- name: tmp
  mountPath: /tmp
- name: rucio-client-config
  mountPath: /opt/rucio/etc/rucio.cfg
  subPath: rucio.cfg
  readOnly: true
{{ include "dpps.gridMounts" (dict "host" true) }}
{{- end -}}
