{{/*
Helpers shared by the umbrella and every vendored subchart. Helm parses the
templates of a chart and of all its subcharts into one set, so a subchart
calls these with `include "dpps.xxx" (dict "ctx" $ ...)`. They read only the
calling subchart's values (`ctx.Values`): the generated `interfaces`,
`shared` and `credentials` maps (docs/interfaces.md) and the hand-written
defaults the umbrella's values.yaml sets under the subchart's key.

Naming rules (docs/interfaces.md):
- a workload is `<release>-<component>`;
- a Service, shared object or credential Secret is named by rendering the
  template string of the generated values with `tpl`: no release prefix is
  ever typed in a template or a values file.
*/}}

{{/* Workload name: dpps.fullname (dict "ctx" $ "component" "rucio-server") */}}
{{- define "dpps.fullname" -}}
{{- printf "%s-%s" .ctx.Release.Name .component | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Labels every object of a component carries. */}}
{{- define "dpps.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .ctx.Chart.Name .ctx.Chart.Version | replace "+" "_" }}
app.kubernetes.io/managed-by: {{ .ctx.Release.Service }}
app.kubernetes.io/part-of: dpps
{{- if .ctx.Chart.AppVersion }}
app.kubernetes.io/version: {{ .ctx.Chart.AppVersion | quote }}
{{- end }}
{{ include "dpps.selectorLabels" . }}
{{- end -}}

{{/*
Selector labels of a component's pods: the two labels of the contract plus
app.kubernetes.io/name, which Helm test pods do not share, so that a
controller never adopts a test pod.
*/}}
{{- define "dpps.selectorLabels" -}}
app.kubernetes.io/name: {{ .component }}
app.kubernetes.io/instance: {{ .ctx.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{/*
Labels of a Job's pod template: those of dpps.labels without helm.sh/chart
and app.kubernetes.io/version. A Job's template is immutable, so a label
that changes with every chart release would make `helm upgrade` fail on a
Job kept under the same name (docs/upgrades.md).
*/}}
{{- define "dpps.jobPodLabels" -}}
app.kubernetes.io/managed-by: {{ .ctx.Release.Service }}
app.kubernetes.io/part-of: dpps
{{ include "dpps.selectorLabels" . }}
{{- end -}}

{{/*
Name of a Job that runs once per version: <release>-<component>-<version>,
the version being .version (an app version) or the chart's version, dots
and pluses as dashes: dpps.versionedJobName (dict "ctx" $ "component"
"rucio-bootstrap"). A new version is a new Job, so each upgrade runs its own
and never touches the completed Job of the previous one. Such Jobs are
found by their component label, not by name.
*/}}
{{- define "dpps.versionedJobName" -}}
{{- $ver := .version | default .ctx.Chart.Version | toString | lower | replace "." "-" | replace "+" "-" | replace "_" "-" -}}
{{- printf "%s-%s-%s" .ctx.Release.Name .component $ver | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Labels of objects that belong to a subchart but to no single component. */}}
{{- define "dpps.commonLabels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: dpps
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{/*
The annotation dpps.ctao.org/source every object carries on its own
metadata (never on a pod template or a volumeClaimTemplate): the template
the object is rendered from, exactly as Helm writes it in "# Source:"
(dpps/charts/bdms/templates/server.yaml). Tools that re-serialise the
stream (kustomize) drop that comment but keep annotations; dpps-render then
reads the template path from here. Called with the root context of the
template being rendered (`$`, or the `ctx` a define was given), whose
.Template.Name is that template even inside a define:
include "dpps.sourceAnnotation" $
*/}}
{{- define "dpps.sourceAnnotation" -}}
dpps.ctao.org/source: {{ .Template.Name }}
{{- end -}}

{{/*
Image reference from {registry, repository, tag, digest}. When the site sets
the external `registry` interface (global.externals.registry.host) every
image is pulled from that mirror instead of its public registry, the
repository path kept; registry.pullSecret is added to every pod.
*/}}
{{- define "dpps.image" -}}
{{- $img := .image -}}
{{- $registry := $img.registry -}}
{{- $mirror := include "dpps.registryMirror" .ctx -}}
{{- if $mirror }}{{ $registry = $mirror }}{{ end -}}
{{- $ref := printf "%s:%s" $img.repository ($img.tag | toString) -}}
{{- if $registry }}{{ $ref = printf "%s/%s" $registry $ref }}{{ end -}}
{{- if $img.digest }}{{ $ref = printf "%s@%s" $ref $img.digest }}{{ end -}}
{{- $ref -}}
{{- end -}}

{{- define "dpps.registryMirror" -}}
{{- $reg := include "dpps.external" (dict "ctx" . "name" "registry") | fromJson -}}
{{- $reg.host | default "" | trimSuffix "/" -}}
{{- end -}}

{{/* image + imagePullPolicy lines of a container. */}}
{{- define "dpps.containerImage" -}}
image: {{ include "dpps.image" . | quote }}
imagePullPolicy: {{ .image.pullPolicy | default "IfNotPresent" }}
{{- end -}}

{{/*
An external interface as JSON ({} when the site did not set it), every
endpoint field the site left unset filled in with its default from the
generated `externalDefaults` (for a list of objects, each item's):
include "dpps.external" (dict "ctx" $ "name" "rucio-database") | fromJson
*/}}
{{- define "dpps.external" -}}
{{- $g := .ctx.Values.global | default dict -}}
{{- $ext := deepCopy ((get ($g.externals | default dict) .name) | default dict) -}}
{{- if $ext -}}
{{- $defaults := get (.ctx.Values.externalDefaults | default dict) .name | default dict -}}
{{- range $k, $d := $defaults -}}
{{- $v := get $ext $k -}}
{{- if kindIs "map" $d -}}
{{- $items := list -}}
{{- range $item := $v | default list -}}{{- $items = append $items (merge (deepCopy $item) $d) -}}{{- end -}}
{{- $_ := set $ext $k $items -}}
{{- else if not (hasKey $ext $k) -}}
{{- $_ := set $ext $k $d -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- $ext | toJson -}}
{{- end -}}

{{/* The metrics endpoint {port, path} of a component from the generated values; fails naming the key. */}}
{{- define "dpps.metrics" -}}
{{- $m := get (.ctx.Values.metrics | default dict) .component -}}
{{- if not $m -}}
{{- fail (printf "%s: component %q declares no metrics endpoint in this subchart's generated values (metrics.%s): declare it in interfaces/*.cue and run 'make generate'" .ctx.Chart.Name .component .component) -}}
{{- end -}}
{{- $m | toJson -}}
{{- end -}}

{{/* The secrets backend: chart | external-secrets | existing. */}}
{{- define "dpps.secretsBackend" -}}
{{- $g := .Values.global | default dict -}}
{{- $b := ($g.secrets | default dict).backend | default "chart" -}}
{{- if not (has $b (list "chart" "external-secrets" "existing")) -}}
{{- fail (printf "global.secrets.backend: %q is not one of chart, external-secrets, existing" $b) -}}
{{- end -}}
{{- $b -}}
{{- end -}}

{{/* An internal interface from the generated values; fails naming the key. */}}
{{- define "dpps.interface" -}}
{{- $i := get (.ctx.Values.interfaces | default dict) .name -}}
{{- if not $i -}}
{{- fail (printf "%s: interface %q is not in this subchart's generated values (interfaces.%s): declare it in interfaces/*.cue and run 'make generate'" .ctx.Chart.Name .name .name) -}}
{{- end -}}
{{- $i | toJson -}}
{{- end -}}

{{/* Service name of an internal interface, rendered for the release. */}}
{{- define "dpps.service" -}}
{{- $i := include "dpps.interface" . | fromJson -}}
{{- tpl $i.service .ctx -}}
{{- end -}}

{{/* Port number of an internal interface: (dict "ctx" $ "name" "rucio-db" "port" "postgresql"); first port when "port" is unset. */}}
{{- define "dpps.port" -}}
{{- $i := include "dpps.interface" . | fromJson -}}
{{- $want := .port | default "" -}}
{{- $found := "" -}}
{{- range $p := $i.ports -}}
{{- if and (not $found) (or (not $want) (eq $p.name $want)) -}}{{- $found = $p.port | int | toString -}}{{- end -}}
{{- end -}}
{{- if not $found -}}
{{- fail (printf "%s: interface %q has no port named %q in the generated values" .ctx.Chart.Name .name $want) -}}
{{- end -}}
{{- $found -}}
{{- end -}}

{{/* A non-secret setting of an interface (database, user, topic) from the generated values. */}}
{{- define "dpps.setting" -}}
{{- $i := include "dpps.interface" . | fromJson -}}
{{- $v := get ($i.settings | default dict) .key -}}
{{- if not $v -}}
{{- fail (printf "%s: interface %q has no setting %q in the generated values" .ctx.Chart.Name .name .key) -}}
{{- end -}}
{{- $v -}}
{{- end -}}

{{/*
Service ports of an interface: port and protocol from the generated values,
targetPort the port's name, so the container decides the number.
*/}}
{{- define "dpps.servicePorts" -}}
{{- include "dpps.servicePorts.raw" . | trim -}}
{{- end -}}

{{- define "dpps.servicePorts.raw" -}}
{{- $i := include "dpps.interface" . | fromJson -}}
{{- range $p := $i.ports }}
- name: {{ $p.name }}
  port: {{ $p.port | int }}
  targetPort: {{ $p.name }}
  protocol: {{ $p.protocol | default "TCP" }}
{{- end }}
{{- end -}}

{{/*
Container ports of an interface, named like the interface's ports. The number
is the interface's port unless .override maps the port's name to the number
the image listens on (a non-root sshd on 2222 behind Service port 22).
*/}}
{{- define "dpps.containerPorts" -}}
{{- include "dpps.containerPorts.raw" . | trim -}}
{{- end -}}

{{- define "dpps.containerPorts.raw" -}}
{{- $i := include "dpps.interface" . | fromJson -}}
{{- $over := .override | default dict -}}
{{- range $p := $i.ports }}
- name: {{ $p.name }}
  containerPort: {{ (get $over $p.name) | default $p.port | int }}
  protocol: {{ $p.protocol | default "TCP" }}
{{- end }}
{{- end -}}

{{/* Name of a shared ConfigMap or Secret from the generated values. */}}
{{- define "dpps.shared" -}}
{{- $s := get (.ctx.Values.shared | default dict) .name -}}
{{- if not $s -}}
{{- fail (printf "%s: shared object %q is not in this subchart's generated values (shared.%s): declare it in interfaces/*.cue and run 'make generate'" .ctx.Chart.Name .name .name) -}}
{{- end -}}
{{- tpl $s.name .ctx -}}
{{- end -}}

{{/* A credential reference {secretName, key}, the name rendered for the release. */}}
{{- define "dpps.credential" -}}
{{- $c := get (.ctx.Values.credentials | default dict) .name -}}
{{- if not $c -}}
{{- fail (printf "%s: credential %q is not in this subchart's generated values (credentials.%s): declare it in interfaces/*.cue and run 'make generate'" .ctx.Chart.Name .name .name) -}}
{{- end -}}
{{- dict "secretName" (tpl $c.secretName .ctx) "key" $c.key | toJson -}}
{{- end -}}

{{/*
An env var read from a credential Secret, by reference only:
include "dpps.credentialEnv" (dict "ctx" $ "env" "RUCIO_DB_PASSWORD" "name" "rucio-db-password")
*/}}
{{- define "dpps.credentialEnv" -}}
{{- $c := include "dpps.credential" . | fromJson -}}
- name: {{ .env }}
  valueFrom:
    secretKeyRef:
      name: {{ $c.secretName }}
      key: {{ $c.key }}
{{- end -}}

{{/*
The credential Secrets this subchart owns, with secrets backend `chart`.
Ownership is the hand-written map `credentialValues` (credential -> value);
names and keys come from the generated `credentials`. Several credentials
may share one Secret (a database's user and root passwords). A value is
taken, in order, from the values file, from the Secret already in the
cluster (`lookup`, so an upgrade keeps it), or drawn at random on first
install. `helm template` and `--dry-run` cannot look up: without explicit
values they print random values, which is why the dev and ci examples set
them. Kept on uninstall, like the data they protect.
With backends `existing` and `external-secrets` the chart creates none.
*/}}
{{- define "dpps.credentialSecrets" -}}
{{- $ctx := . -}}
{{- if eq (include "dpps.secretsBackend" $ctx) "chart" -}}
{{- $secrets := dict -}}
{{- range $cred := keys ($ctx.Values.credentialValues | default dict) | sortAlpha -}}
{{- $value := get $ctx.Values.credentialValues $cred -}}
{{- $ref := include "dpps.credential" (dict "ctx" $ctx "name" $cred) | fromJson -}}
{{- $data := get $secrets $ref.secretName | default dict -}}
{{- $_ := set $secrets $ref.secretName $data -}}
{{- $b64 := "" -}}
{{- if $value -}}
{{- $b64 = $value | toString | b64enc -}}
{{- else -}}
{{- $existing := lookup "v1" "Secret" $ctx.Release.Namespace $ref.secretName | default dict -}}
{{- $b64 = get ($existing.data | default dict) $ref.key | default "" -}}
{{- if not $b64 -}}{{- $b64 = randAlphaNum 32 | b64enc -}}{{- end -}}
{{- end -}}
{{- $_ := set $data $ref.key $b64 -}}
{{- end -}}
{{- range $name := keys $secrets | sortAlpha }}
---
apiVersion: v1
kind: Secret
metadata:
  name: {{ $name }}
  labels:
    {{- include "dpps.commonLabels" $ctx | nindent 4 }}
    dpps.ctao.org/credential: "true"
  annotations:
    helm.sh/resource-policy: keep
    {{- include "dpps.sourceAnnotation" $ctx | nindent 4 }}
type: Opaque
data:
  {{- $data := get $secrets $name }}
  {{- range $k := keys $data | sortAlpha }}
  {{ $k }}: {{ get $data $k | quote }}
  {{- end }}
{{- end }}
{{- end -}}
{{- end -}}

{{/* Pod-level settings every DPPS pod shares. */}}
{{- define "dpps.podSpecCommon" -}}
{{- include "dpps.podSpecCommon.raw" . | trim -}}
{{- end -}}

{{- define "dpps.podSpecCommon.raw" -}}
automountServiceAccountToken: false
enableServiceLinks: false
{{- $reg := include "dpps.external" (dict "ctx" .ctx "name" "registry") | fromJson }}
{{- with $reg.pullSecret }}
imagePullSecrets:
  - name: {{ . }}
{{- end }}
{{- with .values.podSecurityContext }}
securityContext:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .values.nodeSelector }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .values.tolerations }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .values.affinity }}
affinity:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .values.priorityClassName }}
priorityClassName: {{ . }}
{{- end }}
{{- end -}}

{{/* resources, securityContext and probes of a container, from its values. */}}
{{- define "dpps.containerCommon" -}}
{{- include "dpps.containerCommon.raw" . | trim -}}
{{- end -}}

{{- define "dpps.containerCommon.raw" -}}
{{- with .resources }}
resources:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .securityContext }}
securityContext:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .livenessProbe }}
livenessProbe:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .readinessProbe }}
readinessProbe:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .startupProbe }}
startupProbe:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end -}}

{{/*
Init container that waits until a TCP endpoint answers (a database, the
Rucio server): ordering without Helm hooks.
include "dpps.waitFor" (dict "ctx" $ "name" "wait-for-db" "host" $host "port" $port)
*/}}
{{- define "dpps.waitFor" -}}
{{- include "dpps.waitFor.raw" . | trim -}}
{{- end -}}

{{- define "dpps.waitFor.raw" -}}
{{- $w := .ctx.Values.waitFor -}}
- name: {{ .name }}
  {{- include "dpps.containerImage" (dict "ctx" .ctx "image" $w.image) | nindent 2 }}
  command:
    - /bin/sh
    - -c
    - |
      until nc -z -w 3 "$WAIT_HOST" "$WAIT_PORT"; do
        echo "waiting for $WAIT_HOST:$WAIT_PORT"
        sleep 5
      done
  env:
    - name: WAIT_HOST
      value: {{ .host | quote }}
    - name: WAIT_PORT
      value: {{ .port | quote }}
  {{- include "dpps.containerCommon" $w | nindent 2 }}
{{- end -}}

{{/*
Grid security volumes: the private CA (shared Secret, key ca.crt), a host
certificate and a user certificate (kubernetes.io/tls layout: tls.crt,
tls.key), each mapped to the file names grid software expects. Keys are
readable by owner and group (0440): a non-root pod reads them through its
fsGroup.
include "dpps.gridVolumes" (dict "ctx" $ "host" "rucio-server-hostkey" "user" "dppsuser-certkey")
*/}}
{{- define "dpps.gridVolumes" -}}
{{- include "dpps.gridVolumes.raw" . | trim -}}
{{- end -}}

{{- define "dpps.gridVolumes.raw" -}}
- name: grid-ca
  secret:
    secretName: {{ include "dpps.shared" (dict "ctx" .ctx "name" "server-cafile") }}
    defaultMode: 292
    items:
      - key: ca.crt
        path: dpps-ca.pem
{{- if .host }}
- name: host-cert
  secret:
    secretName: {{ include "dpps.shared" (dict "ctx" .ctx "name" .host) }}
    defaultMode: 288
    items:
      - key: tls.crt
        path: hostcert.pem
      - key: tls.key
        path: hostkey.pem
{{- end }}
{{- if .user }}
- name: user-cert
  secret:
    secretName: {{ include "dpps.shared" (dict "ctx" .ctx "name" .user) }}
    defaultMode: 288
    items:
      - key: tls.crt
        path: usercert.pem
      - key: tls.key
        path: userkey.pem
{{- end }}
{{- end -}}

{{- define "dpps.gridMounts" -}}
{{- include "dpps.gridMounts.raw" . | trim -}}
{{- end -}}

{{- define "dpps.gridMounts.raw" -}}
- name: grid-ca
  mountPath: /etc/grid-security/certificates
  readOnly: true
{{- if .host }}
- name: host-cert
  mountPath: /etc/grid-security/hostcert.pem
  subPath: hostcert.pem
  readOnly: true
- name: host-cert
  mountPath: /etc/grid-security/hostkey.pem
  subPath: hostkey.pem
  readOnly: true
{{- end }}
{{- if .user }}
- name: user-cert
  mountPath: /opt/dpps/user
  readOnly: true
{{- end }}
{{- end -}}

{{/*
volumeClaimTemplates metadata / PVC metadata: data outlives the release.
*/}}
{{- define "dpps.keepAnnotations" -}}
helm.sh/resource-policy: keep
{{- end -}}

{{/*
A MySQL-family database fixture (Bitnami image): ClusterIP Service named by
the interface, a headless Service for the StatefulSet, and the StatefulSet
with its data in a volumeClaimTemplate that outlives the release.
include "dpps.mysql" (dict "ctx" $ "component" "dirac-db" "flavor" "mysql"
  "values" $v "userCredential" "dirac-db-password" "rootCredential"
  "dirac-db-root-password" "database" "" "initdb" "<configmap name>")
flavor is mysql or mariadb: it sets the env prefix and the image's paths.
*/}}
{{- define "dpps.mysql" -}}
{{- $c := .component -}}
{{- $v := .values -}}
{{- $ctx := .ctx -}}
{{- $prefix := ternary "MARIADB" "MYSQL" (eq .flavor "mariadb") -}}
{{- $svc := include "dpps.service" (dict "ctx" $ctx "name" $c) -}}
apiVersion: v1
kind: Service
metadata:
  name: {{ $svc }}
  labels:
    {{- include "dpps.labels" (dict "ctx" $ctx "component" $c) | nindent 4 }}
  annotations:
    {{- include "dpps.sourceAnnotation" $ctx | nindent 4 }}
spec:
  type: ClusterIP
  selector:
    {{- include "dpps.selectorLabels" (dict "ctx" $ctx "component" $c) | nindent 4 }}
  ports:
    {{- include "dpps.servicePorts" (dict "ctx" $ctx "name" $c) | nindent 4 }}
---
apiVersion: v1
kind: Service
metadata:
  name: {{ $svc }}-hl
  labels:
    {{- include "dpps.labels" (dict "ctx" $ctx "component" $c) | nindent 4 }}
  annotations:
    {{- include "dpps.sourceAnnotation" $ctx | nindent 4 }}
spec:
  type: ClusterIP
  clusterIP: None
  publishNotReadyAddresses: true
  selector:
    {{- include "dpps.selectorLabels" (dict "ctx" $ctx "component" $c) | nindent 4 }}
  ports:
    {{- include "dpps.servicePorts" (dict "ctx" $ctx "name" $c) | nindent 4 }}
---
apiVersion: apps/v1
kind: StatefulSet
metadata:
  name: {{ include "dpps.fullname" (dict "ctx" $ctx "component" $c) }}
  labels:
    {{- include "dpps.labels" (dict "ctx" $ctx "component" $c) | nindent 4 }}
  annotations:
    {{- include "dpps.sourceAnnotation" $ctx | nindent 4 }}
spec:
  replicas: 1
  serviceName: {{ $svc }}-hl
  podManagementPolicy: OrderedReady
  updateStrategy:
    type: RollingUpdate
  persistentVolumeClaimRetentionPolicy:
    whenDeleted: Retain
    whenScaled: Retain
  selector:
    matchLabels:
      {{- include "dpps.selectorLabels" (dict "ctx" $ctx "component" $c) | nindent 6 }}
  template:
    metadata:
      labels:
        {{- include "dpps.labels" (dict "ctx" $ctx "component" $c) | nindent 8 }}
      {{- if .initdb }}
      annotations:
        checksum/initdb: {{ .initdbChecksum }}
      {{- end }}
    spec:
      {{- include "dpps.podSpecCommon" (dict "ctx" $ctx "values" $v) | nindent 6 }}
      containers:
        - name: {{ .flavor }}
          {{- include "dpps.containerImage" (dict "ctx" $ctx "image" $v.image) | nindent 10 }}
          ports:
            {{- include "dpps.containerPorts" (dict "ctx" $ctx "name" $c) | nindent 12 }}
          env:
            - name: BITNAMI_DEBUG
              value: "false"
            - name: {{ $prefix }}_PORT_NUMBER
              value: {{ include "dpps.port" (dict "ctx" $ctx "name" $c) | quote }}
            {{- include "dpps.credentialEnv" (dict "ctx" $ctx "env" (printf "%s_ROOT_PASSWORD" $prefix) "name" .rootCredential) | nindent 12 }}
            - name: {{ $prefix }}_USER
              value: {{ $v.user | quote }}
            {{- include "dpps.credentialEnv" (dict "ctx" $ctx "env" (printf "%s_PASSWORD" $prefix) "name" .userCredential) | nindent 12 }}
            {{- with .database }}
            - name: {{ $prefix }}_DATABASE
              value: {{ . | quote }}
            {{- end }}
            - name: {{ $prefix }}_ENABLE_SLOW_QUERY
              value: "0"
          volumeMounts:
            - name: data
              mountPath: /bitnami/{{ .flavor }}
            - name: empty-dir
              mountPath: /tmp
              subPath: tmp-dir
            - name: empty-dir
              mountPath: /opt/bitnami/{{ .flavor }}/conf
              subPath: app-conf-dir
            - name: empty-dir
              mountPath: /opt/bitnami/{{ .flavor }}/tmp
              subPath: app-tmp-dir
            - name: empty-dir
              mountPath: /opt/bitnami/{{ .flavor }}/logs
              subPath: app-logs-dir
            {{- if .initdb }}
            - name: initdb
              mountPath: /docker-entrypoint-initdb.d
              readOnly: true
            {{- end }}
          {{- include "dpps.containerCommon" $v | nindent 10 }}
        {{- with include "dpps.dbExporter" (dict "ctx" $ctx "component" $c "kind" "mysql" "values" $v "user" $v.user "credential" .userCredential) }}
        {{- . | nindent 8 }}
        {{- end }}
      volumes:
        - name: empty-dir
          emptyDir: {}
        {{- if .initdb }}
        - name: initdb
          configMap:
            name: {{ .initdb }}
            defaultMode: 365
        {{- end }}
  volumeClaimTemplates:
    - apiVersion: v1
      kind: PersistentVolumeClaim
      metadata:
        name: data
        labels:
          {{- include "dpps.selectorLabels" (dict "ctx" $ctx "component" $c) | nindent 10 }}
        annotations:
          {{- include "dpps.keepAnnotations" $ctx | nindent 10 }}
      spec:
        accessModes:
          {{- toYaml $v.persistence.accessModes | nindent 10 }}
        {{- with $v.persistence.storageClass }}
        storageClassName: {{ . | quote }}
        {{- end }}
        resources:
          requests:
            storage: {{ $v.persistence.size | quote }}
{{- end -}}

{{/*
A database backup (docs/chart.md, "Persistence, backup and restore"):
- a PVC <release>-<db>-backup that outlives the release
  (helm.sh/resource-policy: keep);
- a Job <release>-<db>-backup-<chart version>: one dump per chart version,
  the dump a migration Job of that version waits for (dpps.waitForBackup);
- with .values.backup.schedule.enabled, a CronJob <release>-<db>-backup
  running the same pod on a schedule;
- a ServiceAccount, Role and RoleBinding <release>-<db>-backup: the Role may
  only get and patch the ConfigMap <release>-last-backup.
Both run one pod: wait-for-db (the Service's port), then the init container
"backup" (the database's image and security contexts) waits until the
database accepts its login (.ready, bounded), runs .script (a dump into
"$f.part" under /backup, renamed to "$f" when complete) and applies the
retention (dpps.backupScript), then the container "record" (kubectl) writes
the dump into <release>-last-backup under the key <db>. The pods are the
catalog component <db>-backup, a consumer of the database's interface and of
the credential in .credential (exposed as env .credentialEnv), and may talk
to the Kubernetes API (components.<db>-backup.kubernetesAPI); only the
record container holds a service account token. Rendered only when
<db>.backup.enabled is true (off by default).
include "dpps.dbBackup" (dict "ctx" $ "db" "rucio-db" "values" $v
  "credential" "rucio-db-password" "credentialEnv" "PGPASSWORD"
  "env" (list (dict "name" "X" "value" "y")) "script" "..." "ready" "...")
*/}}
{{- define "dpps.dbBackup" -}}
{{- $ctx := .ctx -}}
{{- $v := .values -}}
{{- $b := $v.backup -}}
{{- $c := printf "%s-backup" .db -}}
{{- $name := include "dpps.fullname" (dict "ctx" $ctx "component" $c) -}}
{{- $record := printf "%s-last-backup" $ctx.Release.Name -}}
apiVersion: v1
kind: PersistentVolumeClaim
metadata:
  name: {{ $name }}
  labels:
    {{- include "dpps.labels" (dict "ctx" $ctx "component" $c) | nindent 4 }}
  annotations:
    {{- include "dpps.keepAnnotations" $ctx | nindent 4 }}
    {{- include "dpps.sourceAnnotation" $ctx | nindent 4 }}
spec:
  accessModes:
    {{- toYaml $b.persistence.accessModes | nindent 4 }}
  {{- with $b.persistence.storageClass }}
  storageClassName: {{ . | quote }}
  {{- end }}
  resources:
    requests:
      storage: {{ $b.persistence.size | quote }}
---
apiVersion: v1
kind: ServiceAccount
metadata:
  name: {{ $name }}
  labels:
    {{- include "dpps.labels" (dict "ctx" $ctx "component" $c) | nindent 4 }}
  annotations:
    {{- include "dpps.sourceAnnotation" $ctx | nindent 4 }}
automountServiceAccountToken: false
---
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata:
  name: {{ $name }}
  labels:
    {{- include "dpps.labels" (dict "ctx" $ctx "component" $c) | nindent 4 }}
  annotations:
    {{- include "dpps.sourceAnnotation" $ctx | nindent 4 }}
rules:
  - apiGroups: [""]
    resources: [configmaps]
    resourceNames: [{{ $record }}]
    verbs: [get, patch]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata:
  name: {{ $name }}
  labels:
    {{- include "dpps.labels" (dict "ctx" $ctx "component" $c) | nindent 4 }}
  annotations:
    {{- include "dpps.sourceAnnotation" $ctx | nindent 4 }}
roleRef:
  apiGroup: rbac.authorization.k8s.io
  kind: Role
  name: {{ $name }}
subjects:
  - kind: ServiceAccount
    name: {{ $name }}
    namespace: {{ $ctx.Release.Namespace }}
---
apiVersion: batch/v1
kind: Job
metadata:
  name: {{ include "dpps.versionedJobName" (dict "ctx" $ctx "component" $c) }}
  labels:
    {{- include "dpps.labels" (dict "ctx" $ctx "component" $c) | nindent 4 }}
  annotations:
    {{- include "dpps.sourceAnnotation" $ctx | nindent 4 }}
spec:
  backoffLimit: {{ $b.backoffLimit }}
  template:
    {{- include "dpps.dbBackupPod" (merge (dict "kind" "upgrade") .) | nindent 4 }}
{{- if $b.schedule.enabled }}
---
apiVersion: batch/v1
kind: CronJob
metadata:
  name: {{ $name }}
  labels:
    {{- include "dpps.labels" (dict "ctx" $ctx "component" $c) | nindent 4 }}
  annotations:
    {{- include "dpps.sourceAnnotation" $ctx | nindent 4 }}
spec:
  schedule: {{ $b.schedule.cron | quote }}
  {{- with $b.schedule.timeZone }}
  timeZone: {{ . | quote }}
  {{- end }}
  startingDeadlineSeconds: {{ $b.schedule.startingDeadlineSeconds }}
  concurrencyPolicy: Forbid
  successfulJobsHistoryLimit: 3
  failedJobsHistoryLimit: 3
  jobTemplate:
    metadata:
      labels:
        {{- include "dpps.jobPodLabels" (dict "ctx" $ctx "component" $c) | nindent 8 }}
    spec:
      backoffLimit: {{ $b.backoffLimit }}
      template:
        {{- include "dpps.dbBackupPod" (merge (dict "kind" "scheduled") .) | nindent 8 }}
{{- end }}
{{- end -}}

{{/*
The pod template of a backup Job or CronJob (dpps.dbBackup); .kind is
"upgrade" (the Job of a chart version) or "scheduled" (the CronJob).
*/}}
{{- define "dpps.dbBackupPod" -}}
{{- $ctx := .ctx -}}
{{- $v := .values -}}
{{- $b := $v.backup -}}
{{- $c := printf "%s-backup" .db -}}
{{- $name := include "dpps.fullname" (dict "ctx" $ctx "component" $c) -}}
metadata:
  labels:
    {{- include "dpps.jobPodLabels" (dict "ctx" $ctx "component" $c) | nindent 4 }}
spec:
  restartPolicy: OnFailure
  serviceAccountName: {{ $name }}
  {{- include "dpps.podSpecCommon" (dict "ctx" $ctx "values" $v) | nindent 2 }}
  initContainers:
    {{- include "dpps.waitFor" (dict "ctx" $ctx "name" "wait-for-db" "host" (include "dpps.service" (dict "ctx" $ctx "name" .db)) "port" (include "dpps.port" (dict "ctx" $ctx "name" .db))) | nindent 4 }}
    - name: backup
      {{- include "dpps.containerImage" (dict "ctx" $ctx "image" $v.image) | nindent 6 }}
      command:
        - /bin/sh
        - -c
        - |
          {{- include "dpps.backupScript" . | nindent 10 }}
      env:
        - name: DB_HOST
          value: {{ include "dpps.service" (dict "ctx" $ctx "name" .db) | quote }}
        - name: DB_PORT
          value: {{ include "dpps.port" (dict "ctx" $ctx "name" .db) | quote }}
        - name: CHART_VERSION
          value: {{ $ctx.Chart.Version | quote }}
        - name: BACKUP_KIND
          value: {{ .kind | quote }}
        - name: KEEP
          value: {{ ternary $b.keep.scheduled $b.keep.upgrade (eq .kind "scheduled") | quote }}
        {{- with .env }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
        {{- include "dpps.credentialEnv" (dict "ctx" $ctx "env" .credentialEnv "name" .credential) | nindent 8 }}
      volumeMounts:
        - name: backup
          mountPath: /backup
        - name: tmp
          mountPath: /tmp
      {{- include "dpps.containerCommon" (dict "resources" $b.resources "securityContext" $v.securityContext) | nindent 6 }}
    {{- $target := include "dpps.external" (dict "ctx" $ctx "name" "backup-target") | fromJson }}
    {{- if $target }}
    - name: copy
      {{- include "dpps.containerImage" (dict "ctx" $ctx "image" $b.copyImage) | nindent 6 }}
      command:
        - /bin/sh
        - -c
        - |
          {{- include "dpps.backupCopyScript" . | nindent 10 }}
      env:
        - name: TARGET
          value: {{ printf "%s/%s-%s" (trimSuffix "/" $target.url) $ctx.Release.Name .db | quote }}
        - name: X509_USER_CERT
          value: /tmp/x509.crt
        - name: X509_USER_KEY
          value: /tmp/x509.key
        - name: HOME
          value: /tmp
      volumeMounts:
        - name: backup
          mountPath: /backup
          readOnly: true
        - name: tmp
          mountPath: /tmp
        - name: backup-target-cert
          mountPath: /grid
          readOnly: true
      {{- include "dpps.containerCommon" (dict "resources" $b.resources "securityContext" $v.securityContext) | nindent 6 }}
    {{- end }}
  containers:
    - name: record
      {{- include "dpps.containerImage" (dict "ctx" $ctx "image" $b.kubectlImage) | nindent 6 }}
      command:
        - /bin/sh
        - -c
        - |
          {{- include "dpps.backupRecordScript" . | nindent 10 }}
      env:
        - name: DB
          value: {{ .db | quote }}
        - name: RECORD
          value: {{ printf "%s-last-backup" $ctx.Release.Name | quote }}
        - name: CHART
          value: {{ printf "%s-%s" $ctx.Chart.Name $ctx.Chart.Version | quote }}
        - name: JOB
          valueFrom:
            fieldRef:
              fieldPath: metadata.labels['batch.kubernetes.io/job-name']
        - name: HOME
          value: /tmp
      volumeMounts:
        - name: tmp
          mountPath: /tmp
        {{- include "dpps.apiTokenMount" . | nindent 8 }}
      {{- include "dpps.containerCommon" (dict "resources" $b.resources "securityContext" $v.securityContext) | nindent 6 }}
  volumes:
    - name: backup
      persistentVolumeClaim:
        claimName: {{ $name }}
    - name: tmp
      emptyDir: {}
    {{- with $target }}
    - name: backup-target-cert
      secret:
        secretName: {{ .secretName }}
        defaultMode: 0440
        items:
          - {key: tls.crt, path: tls.crt}
          - {key: tls.key, path: tls.key}
    {{- end }}
    {{- include "dpps.apiTokenVolume" . | nindent 4 }}
{{- end -}}

{{/*
The copy container's script (global.externals.backup-target set): copy the
dump the backup container wrote (/tmp/backup-record) to $TARGET/<file> with
xrdcp (the grid certificate from /grid, its key copied to mode 0400 as
XRootD's gsi wants), at most 3 tries, and leave the destination for the
record container in /tmp/backup-copy. A failure fails the Job: the dump
stays in the PVC and the Job is retried (backup.backoffLimit).
*/}}
{{- define "dpps.backupCopyScript" -}}
set -eu
read -r time bytes file < /tmp/backup-record
umask 077
cp /grid/tls.crt "$X509_USER_CERT"
cp /grid/tls.key "$X509_USER_KEY"
chmod 0400 "$X509_USER_KEY"
dest="$TARGET/$file"
tries=0
until xrdcp --nopbar --force --posc --path "/backup/$file" "$dest"; do
  tries=$((tries + 1))
  if [ "$tries" -ge 3 ]; then
    echo "copy: xrdcp of /backup/$file to $dest failed 3 times: the dump is in the PVC only; check global.externals.backup-target (url, secretName, cidrs)" >&2
    exit 1
  fi
  echo "copy: xrdcp failed, trying again in 10 s"
  sleep 10
done
echo "copied /backup/$file to $dest"
printf '%s\n' "$dest" > /tmp/backup-copy
{{- end -}}

{{/*
The backup container's script: wait (bounded) until the database accepts
the backup's login (.ready), dump (.script writes "$f.part"), rename, then
delete the oldest dumps of the same kind beyond $KEEP (at most 100 a run),
and leave the file's name for the record container in /tmp/backup-record.
Dumps are /backup/<DB_NAME>-<UTC time>-chart-<version>.<EXT> (the Job of a
chart version) and /backup/<DB_NAME>-<UTC time>-scheduled-chart-<version>.<EXT>
(the CronJob). Environment: DB_HOST, DB_PORT, DB_NAME, EXT, CHART_VERSION,
BACKUP_KIND (upgrade or scheduled), KEEP, and what .script needs.
*/}}
{{- define "dpps.backupScript" -}}
set -eu
tries=0
until err=$({{ .ready }} 2>&1 >/dev/null); do
  tries=$((tries + 1))
  if [ "$tries" -ge 60 ]; then
    printf '%s\n' "$err" >&2
    echo "backup: $DB_HOST:$DB_PORT did not accept the backup's login in 60 tries (5 minutes): no dump taken" >&2
    exit 1
  fi
  echo "backup: waiting for $DB_HOST:$DB_PORT to accept the backup's login"
  sleep 5
done
case "$BACKUP_KIND" in
  scheduled) kind=-scheduled ;;
  *) kind= ;;
esac
f="/backup/$DB_NAME-$(date -u +%Y%m%dT%H%M%SZ)$kind-chart-$CHART_VERSION.$EXT"
{{ .script }}
mv "$f.part" "$f"
echo "wrote $f ($(wc -c < "$f") bytes)"
# Retention: the dumps of this kind, oldest first (the names sort by time).
set -- /backup/"$DB_NAME"-????????T??????Z$kind-chart-*."$EXT"
if [ -e "$1" ] && [ "$#" -gt "$KEEP" ]; then
  n=$(($# - KEEP))
  [ "$n" -le 100 ] || n=100
  while [ "$n" -gt 0 ]; do
    rm -f -- "$1"
    echo "retention: deleted $1 (keeping the newest $KEEP ${BACKUP_KIND} dumps)"
    shift
    n=$((n - 1))
  done
fi
ls -l /backup
printf '%s %s %s\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$(wc -c < "$f" | tr -d ' ')" "${f#/backup/}" > /tmp/backup-record
{{- end -}}

{{/*
The record container's script: patch the dump the backup container wrote
(/tmp/backup-record: time, bytes, file) into the ConfigMap $RECORD under the
key $DB, one line of JSON: {"time","file","bytes","chart","kind","job"},
and "copy" (where the copy container put the dump) when there is one.
*/}}
{{- define "dpps.backupRecordScript" -}}
set -eu
read -r time bytes file < /tmp/backup-record
copy=
if [ -s /tmp/backup-copy ]; then
  copy=$(printf ',"copy":"%s"' "$(cat /tmp/backup-copy)")
fi
entry=$(printf '{"time":"%s","file":"%s","bytes":%s,"chart":"%s","kind":"%s","job":"%s"%s}' "$time" "$file" "$bytes" "$CHART" "{{ .kind }}" "$JOB" "$copy")
kubectl patch configmap "$RECORD" --type=merge \
  -p "$(printf '{"data":{"%s":"%s"}}' "$DB" "$(printf '%s' "$entry" | sed 's/"/\\"/g')")" >/dev/null
echo "recorded in ConfigMap $RECORD, key $DB: $entry"
{{- end -}}

{{/*
The service account token of a pod with automountServiceAccountToken false,
mounted where kubectl's in-cluster config reads it, for the one container
that talks to the Kubernetes API (dpps.apiTokenMount in that container,
dpps.apiTokenVolume in the pod's volumes).
*/}}
{{- define "dpps.apiTokenMount" -}}
- name: api-token
  mountPath: /var/run/secrets/kubernetes.io/serviceaccount
  readOnly: true
{{- end -}}

{{- define "dpps.apiTokenVolume" -}}
- name: api-token
  projected:
    sources:
      - serviceAccountToken:
          path: token
          expirationSeconds: 3600
      - configMap:
          name: kube-root-ca.crt
          items:
            - key: ca.crt
              path: ca.crt
      - downwardAPI:
          items:
            - path: namespace
              fieldRef:
                fieldPath: metadata.namespace
{{- end -}}

{{/*
Init container of a migration Job: with the database's backup on, wait
(at most backup.migrationWaitSeconds) until this chart version's backup
Job of the database (dpps.dbBackup) has completed; fail at once when it
failed. Nothing when the backup is off. The pod needs serviceAccountName
dpps.waitForBackupRBAC's ServiceAccount and the volume
dpps.apiTokenVolume.
include "dpps.waitForBackup" (dict "ctx" $ "db" "rucio-db" "values" $dbValues)
*/}}
{{- define "dpps.waitForBackup" -}}
{{- $b := .values.backup -}}
- name: wait-for-backup
  {{- include "dpps.containerImage" (dict "ctx" .ctx "image" $b.kubectlImage) | nindent 2 }}
  command:
    - /bin/sh
    - -c
    - |
      {{- include "dpps.waitForBackupScript" . | nindent 6 }}
  env:
    - name: BACKUP_JOB
      value: {{ include "dpps.versionedJobName" (dict "ctx" .ctx "component" (printf "%s-backup" .db)) | quote }}
    - name: WAIT_SECONDS
      value: {{ $b.migrationWaitSeconds | quote }}
    - name: HOME
      value: /tmp
  volumeMounts:
    - name: api-token
      mountPath: /var/run/secrets/kubernetes.io/serviceaccount
      readOnly: true
    - name: wait-tmp
      mountPath: /tmp
  {{- include "dpps.containerCommon" (dict "resources" $b.resources "securityContext" .ctx.Values.waitFor.securityContext) | nindent 2 }}
{{- end -}}

{{- define "dpps.waitForBackupScript" -}}
set -u
start=$(date +%s)
while :; do
  state=$(kubectl get job "$BACKUP_JOB" -o 'jsonpath={range .status.conditions[?(@.status=="True")]}{.type} {end}' 2>&1) || state="unreadable: $state"
  case " $state " in
    *" Complete "*) echo "backup Job $BACKUP_JOB completed: migrating"; exit 0 ;;
    *" Failed "*)
      echo "backup Job $BACKUP_JOB failed: no migration without a backup taken first. See kubectl logs job/$BACKUP_JOB -c backup; fix, delete the Job and this one, and upgrade again" >&2
      exit 1 ;;
  esac
  if [ $(( $(date +%s) - start )) -ge "$WAIT_SECONDS" ]; then
    echo "backup Job $BACKUP_JOB has not completed after $WAIT_SECONDS s (last seen: ${state:-running}): no migration without a backup taken first. See kubectl describe job $BACKUP_JOB" >&2
    exit 1
  fi
  echo "waiting for backup Job $BACKUP_JOB (${state:-running})"
  sleep 10
done
{{- end -}}

{{/*
The ServiceAccount, Role and RoleBinding .name of a migration Job that
waits for a backup (dpps.waitForBackup): the Role may only get the backup
Job of this chart version.
*/}}
{{- define "dpps.waitForBackupRBAC" -}}
{{- $ctx := .ctx -}}
apiVersion: v1
kind: ServiceAccount
metadata:
  name: {{ .name }}
  labels:
    {{- include "dpps.labels" (dict "ctx" $ctx "component" .component) | nindent 4 }}
  annotations:
    {{- include "dpps.sourceAnnotation" $ctx | nindent 4 }}
automountServiceAccountToken: false
---
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata:
  name: {{ .name }}
  labels:
    {{- include "dpps.labels" (dict "ctx" $ctx "component" .component) | nindent 4 }}
  annotations:
    {{- include "dpps.sourceAnnotation" $ctx | nindent 4 }}
rules:
  - apiGroups: [batch]
    resources: [jobs]
    resourceNames: [{{ include "dpps.versionedJobName" (dict "ctx" $ctx "component" (printf "%s-backup" .db)) }}]
    verbs: [get]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata:
  name: {{ .name }}
  labels:
    {{- include "dpps.labels" (dict "ctx" $ctx "component" .component) | nindent 4 }}
  annotations:
    {{- include "dpps.sourceAnnotation" $ctx | nindent 4 }}
roleRef:
  apiGroup: rbac.authorization.k8s.io
  kind: Role
  name: {{ .name }}
subjects:
  - kind: ServiceAccount
    name: {{ .name }}
    namespace: {{ $ctx.Release.Namespace }}
{{- end -}}


{{/*
"true" when a component of the catalog is deployed: its subchart is enabled
and, when its settings have an `enabled` key (a fixture or daemon toggle),
that is true too. Used by the umbrella, which sees every subchart's values.
include "dpps.componentOn" (dict "ctx" $ "catalog" $cat "component" "rucio-db")
*/}}
{{- define "dpps.componentOn" -}}
{{- $comp := get .catalog.components .component | default dict -}}
{{- $sub := get .ctx.Values ($comp.subchart | default "") | default dict -}}
{{- $on := $sub.enabled -}}
{{- $cv := get $sub .component -}}
{{- if and $on (kindIs "map" $cv) (hasKey $cv "enabled") -}}{{- $on = $cv.enabled -}}{{- end -}}
{{- if $on }}true{{ end -}}
{{- end -}}
