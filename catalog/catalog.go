// Package catalog holds the interface catalog of a DPPS release: every
// component, internal interface, shared object, credential and external
// interface, as dpps-schemagen writes it to charts/dpps/catalog.json from
// interfaces/*.cue. The chart renders it, names resolved for the release,
// into the ConfigMap that dpps-render reads; Load validates and decodes it.
package catalog

import (
	"bytes"
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strings"
)

// APIVersion and Kind identify a catalog document.
const (
	APIVersion = "dpps.ctao.org/v1alpha1"
	Kind       = "InterfaceCatalog"
)

// ReleaseName is the template string that stands for the release name in an
// unrendered catalog.
const ReleaseName = "{{ .Release.Name }}"

// Catalog is the interface catalog of a DPPS release.
type Catalog struct {
	// Marks a generated file.
	Comment string `json:"$comment,omitempty"`
	// Always dpps.ctao.org/v1alpha1.
	APIVersion string `json:"apiVersion" jsonschema:"enum=dpps.ctao.org/v1alpha1"`
	// Always InterfaceCatalog.
	Kind string `json:"kind" jsonschema:"enum=InterfaceCatalog"`
	// The release name: "{{ .Release.Name }}" until the chart renders it.
	Release string `json:"release" jsonschema:"minLength=1"`
	// The umbrella chart's subcharts, by name.
	Subcharts map[string]Subchart `json:"subcharts"`
	// Every workload, by component name.
	Components map[string]Component `json:"components"`
	// Internal interfaces (Services), by name.
	Interfaces map[string]Interface `json:"interfaces"`
	// ConfigMaps and Secrets one subchart creates and others read, by name.
	Shared map[string]Shared `json:"shared"`
	// Credentials, by reference only, by name.
	Credentials map[string]Credential `json:"credentials"`
	// External interfaces a site provides, by name.
	Externals map[string]External `json:"externals"`
	// Objects that exist without being rendered (created at install time).
	Provided []Provided `json:"provided,omitempty"`
	// Who creates the credential Secrets, for a site catalog (--catalog);
	// the same meaning as the chart's global.secrets. The chart's own
	// catalog leaves it out: its site settings carry it.
	Secrets *SiteSecrets `json:"secrets,omitempty"`
	// Places that look like credentials and are not (a file path, a
	// duration): the value-independent detector does not flag them.
	NotSecret []Location `json:"notSecret,omitempty"`

	// Network exposure (NetworkPolicies, Services, Ingresses).

	// Inbound interfaces: components reached from outside the cluster, by
	// name.
	Inbound map[string]Inbound `json:"inbound,omitempty"`
}

// Inbound is an inbound interface: a component users, pilots or other
// sites reach from outside the cluster, through one of its internal
// interfaces. The site says how and from where under ValuesKey.
type Inbound struct {
	// Who reaches it and why.
	Description string `json:"description"`
	// The internal interface reached from outside.
	Interface string `json:"interface" jsonschema:"minLength=1"`
	// The exposed component: the interface's provider.
	Component string `json:"component" jsonschema:"minLength=1"`
	// The exposed ports: the interface's.
	Ports []Port `json:"ports" jsonschema:"minItems=1"`
	// How clients authenticate, sorted.
	Auth []string `json:"auth" jsonschema:"minItems=1"`
	// The exposures that can carry it (LoadBalancer, Ingress), sorted.
	Exposures []string `json:"exposures" jsonschema:"minItems=1"`
	// Values key of the site's exposure, dotted: "global.inbound.<name>".
	ValuesKey string `json:"valuesKey" jsonschema:"minLength=1"`
}

// SiteSecrets says who creates the credential Secrets.
type SiteSecrets struct {
	// chart (the default): dpps-render renders a Secret for a value found
	// in the stream; existing: the site creates them beforehand;
	// external-secrets: ExternalSecrets against SecretStore.
	Backend string `json:"backend,omitempty" jsonschema:"enum=chart,enum=existing,enum=external-secrets"`
	// The external-secrets store, for backend external-secrets.
	SecretStore *SecretStoreRef `json:"secretStore,omitempty"`
}

// SecretStoreRef names an external-secrets SecretStore or ClusterSecretStore.
type SecretStoreRef struct {
	// Name of the store.
	Name string `json:"name" jsonschema:"minLength=1"`
	// Kind of the store; ClusterSecretStore when left out.
	Kind string `json:"kind,omitempty" jsonschema:"enum=ClusterSecretStore,enum=SecretStore,default=ClusterSecretStore"`
}

// DefaultSecretStoreKind is the store kind when a site names none.
const DefaultSecretStoreKind = "ClusterSecretStore"

// Location is a place a chart puts a credential's value: an env var, a
// command-line flag, or a data key of a ConfigMap or Secret (optionally a
// field of a config file held there). Exactly one of Env, Flag and Object.
type Location struct {
	// Name of an env var, in any container unless Workload or Container
	// says which.
	Env string `json:"env,omitempty"`
	// A command-line flag in command or args: "--password" matches
	// "--password=V" and "--password" "V".
	Flag string `json:"flag,omitempty" jsonschema:"pattern=^-"`
	// A ConfigMap or Secret, with Key.
	Object *ObjectRef `json:"object,omitempty"`
	// Data key of Object (ConfigMap data or binaryData, Secret data or
	// stringData).
	Key string `json:"key,omitempty"`
	// Format of the config file Key holds, with Field.
	Format string `json:"format,omitempty" jsonschema:"enum=ini,enum=json,enum=yaml"`
	// Dotted path of the value in that file; for INI, section.key.
	Field string `json:"field,omitempty"`
	// Only in this workload (metadata.name), for Env and Flag.
	Workload string `json:"workload,omitempty"`
	// Only in this container, for Env and Flag.
	Container string `json:"container,omitempty"`
	// What part of the value the credential is: the whole value (left
	// out) or url-password, the password of a URL's userinfo.
	Extract string `json:"extract,omitempty" jsonschema:"enum=url-password"`
	// Why the place holds no credential, in notSecret entries.
	Reason string `json:"reason,omitempty"`
}

// ObjectRef names a ConfigMap or Secret of the rendered stream.
type ObjectRef struct {
	// ConfigMap or Secret.
	Kind string `json:"kind" jsonschema:"enum=ConfigMap,enum=Secret"`
	// Name of the object.
	Name string `json:"name" jsonschema:"minLength=1"`
}

// Location formats.
const (
	FormatINI  = "ini"
	FormatJSON = "json"
	FormatYAML = "yaml"
)

// ExtractURLPassword takes the password of a URL's userinfo.
const ExtractURLPassword = "url-password"

// Subchart is one subchart of the umbrella chart.
type Subchart struct {
	// What the subchart deploys.
	Description string `json:"description"`
	// Values key that switches the subchart off, dotted: "bdms.enabled".
	Toggle string `json:"toggle" jsonschema:"minLength=1"`
	// The subchart's components, sorted.
	Components []string `json:"components"`
}

// Component is one workload.
type Component struct {
	// What the component does.
	Description string `json:"description"`
	// The subchart that deploys it.
	Subchart string `json:"subchart" jsonschema:"minLength=1"`
	// Kind of the workload.
	Workload string `json:"workload" jsonschema:"enum=Deployment,enum=StatefulSet,enum=Job"`
	// Name of the workload: "{{ .Release.Name }}-<component>".
	Name string `json:"name" jsonschema:"minLength=1"`
	// Labels every pod of the component carries.
	Selector map[string]string `json:"selector"`
	// The external interface this component stands in for as a test fixture.
	FixtureFor string `json:"fixtureFor,omitempty"`
	// Where the component serves Prometheus metrics, when it does.
	Metrics *Metrics `json:"metrics,omitempty"`
	// How the component exports OpenTelemetry traces, when it does.
	Traces *Traces `json:"traces,omitempty"`
	// How the component writes its logs, when declared.
	Logs *Logs `json:"logs,omitempty"`
	// Service-level objectives, by name.
	SLOs map[string]SLO `json:"slos,omitempty"`

	// Network needs beyond interfaces (NetworkPolicies).

	// The component talks to the Kubernetes API server.
	KubernetesAPI bool `json:"kubernetesAPI,omitempty"`
	// The Pod Security Standards level the component's pods meet when it
	// cannot meet restricted (its upstream image needs more), with why.
	PodSecurity *PodSecurity `json:"podSecurity,omitempty"`
}

// PodSecurity is a component's exception to the restricted Pod Security
// Standard.
type PodSecurity struct {
	// The level its pods meet.
	Level string `json:"level" jsonschema:"enum=privileged,enum=baseline"`
	// Why they cannot meet restricted.
	Reason string `json:"reason" jsonschema:"minLength=1"`
}

// Metrics is a component's Prometheus metrics endpoint.
type Metrics struct {
	// Container port the metrics are served on.
	Port int `json:"port" jsonschema:"minimum=1,maximum=65535"`
	// HTTP path of the metrics.
	Path string `json:"path" jsonschema:"pattern=^/"`
	// URL scheme: http (the default when empty) or https.
	Scheme string `json:"scheme,omitempty" jsonschema:"enum=http,enum=https"`
	// The exporter sidecar that serves the metrics, when the component's
	// own process does not; it may be switched off, and the port is then
	// absent from the pod.
	Exporter string `json:"exporter,omitempty" jsonschema:"enum=postgres_exporter,enum=mysqld_exporter"`
}

// Logs is how a component writes its logs.
type Logs struct {
	// json, logfmt, apache or text.
	Format string `json:"format" jsonschema:"enum=json,enum=logfmt,enum=apache,enum=text"`
}

// The SLIs an SLO measures.
const (
	SLIAvailability = "availability"
	SLIJobSuccess   = "job-success"
)

// SLO is a service-level objective of a component.
type SLO struct {
	// What the objective is about.
	Description string `json:"description,omitempty"`
	// availability (at least one available replica) or job-success (every
	// run of the Job succeeds).
	SLI string `json:"sli" jsonschema:"enum=availability,enum=job-success"`
	// Target, in percent of the window.
	Objective float64 `json:"objective" jsonschema:"minimum=0.1,maximum=100"`
	// The window the objective holds over: 30d, 28d or 7d.
	Window string `json:"window,omitempty" jsonschema:"enum=30d,enum=28d,enum=7d"`
	// job-success only: the longest time without a successful run before
	// an alert (a Prometheus duration: 26h).
	MaxAge string `json:"maxAge,omitempty" jsonschema:"pattern=^[1-9][0-9]*[mhd]$"`
}

// Traces is how a component exports OpenTelemetry traces: an OTLP exporter
// that reads the standard OTEL_* environment.
type Traces struct {
	// The OTLP protocols its exporter speaks (OTEL_EXPORTER_OTLP_PROTOCOL
	// values).
	Protocols []string `json:"protocols" jsonschema:"minItems=1,uniqueItems=true,enum=grpc,enum=http/protobuf,enum=http/json"`
}

// Interface is an internal interface: a Service one component provides.
type Interface struct {
	// What the interface serves.
	Description string `json:"description"`
	// The component behind the Service.
	Provider string `json:"provider" jsonschema:"minLength=1"`
	// Name of the Service.
	Service string `json:"service" jsonschema:"minLength=1"`
	// Ports of the Service.
	Ports []Port `json:"ports" jsonschema:"minItems=1"`
	// Components that connect to it, sorted.
	Consumers []string `json:"consumers"`
	// Non-secret facts consumers need besides the address.
	Settings map[string]string `json:"settings,omitempty"`
}

// Port is one Service port.
type Port struct {
	// Port name, also the container port's name.
	Name string `json:"name" jsonschema:"minLength=1,maxLength=15"`
	// Port number.
	Port int `json:"port" jsonschema:"minimum=1,maximum=65535"`
	// Transport protocol.
	Protocol string `json:"protocol" jsonschema:"enum=TCP,enum=UDP,enum=SCTP"`
	// Application protocol, when set.
	AppProtocol string `json:"appProtocol,omitempty"`
}

// Shared is a ConfigMap or Secret one subchart creates and others read.
type Shared struct {
	// What the object holds.
	Description string `json:"description"`
	// ConfigMap or Secret.
	Kind string `json:"kind" jsonschema:"enum=ConfigMap,enum=Secret"`
	// Name of the object.
	Name string `json:"name" jsonschema:"minLength=1"`
	// The component whose subchart creates it.
	Owner string `json:"owner" jsonschema:"minLength=1"`
	// Components that read it, sorted.
	Consumers []string `json:"consumers"`
	// Keys of its data.
	Keys []string `json:"keys" jsonschema:"minItems=1"`
	// For a host certificate: the interface whose Service names it
	// carries.
	Interface string `json:"interface,omitempty"`
}

// Credential is a credential by reference: the Secret and key holding it.
// A catalog never holds a credential's value.
type Credential struct {
	// What the credential protects.
	Description string `json:"description"`
	// Name of the Secret.
	SecretName string `json:"secretName" jsonschema:"minLength=1"`
	// Key in the Secret.
	Key string `json:"key" jsonschema:"minLength=1"`
	// The component whose subchart creates the Secret (backend "chart").
	Owner string `json:"owner" jsonschema:"minLength=1"`
	// Components that read it, sorted.
	Consumers []string `json:"consumers"`
	// Detect holds regular expressions, each with one capturing group, that
	// find the credential's value where a chart embeds it (a DSN, a config
	// file) instead of reading it from its Secret. For charts nobody here
	// wrote; the DPPS chart needs none.
	Detect []string `json:"detect,omitempty"`
	// Locations are places a chart puts the value whole or as a part a
	// pattern cannot single out (an env var, a config file field, a flag).
	// The value read there is kept only in the Secret.
	Locations []Location `json:"locations,omitempty"`
}

// Provided is an object that exists in the cluster without being in the
// rendered manifests: created at install time by a hook or a Job, or by a
// site admin. References to it are not dangling.
type Provided struct {
	// ConfigMap, Secret or ServiceAccount.
	Kind string `json:"kind" jsonschema:"enum=ConfigMap,enum=Secret,enum=ServiceAccount"`
	// Name of the object.
	Name string `json:"name" jsonschema:"minLength=1"`
	// Who creates it.
	By string `json:"by" jsonschema:"minLength=1"`
}

// External is an external interface: something the site provides.
type External struct {
	// What the site provides.
	Description string `json:"description"`
	// outbound: DPPS connects to it; inbound: it connects to DPPS.
	Direction string `json:"direction" jsonschema:"enum=outbound,enum=inbound"`
	// Application protocol.
	Protocol string `json:"protocol" jsonschema:"minLength=1"`
	// Default port.
	Port int `json:"port" jsonschema:"minimum=1,maximum=65535"`
	// Authentication method.
	Auth string `json:"auth" jsonschema:"enum=none,enum=x509,enum=oidc,enum=password,enum=ssh,enum=pull-secret"`
	// Credentials (names in credentials) the consumers authenticate with.
	Credentials []string `json:"credentials"`
	// Components that connect to it, sorted.
	Consumers []string `json:"consumers"`
	// Values key of the endpoint, dotted: "global.externals.<name>".
	ValuesKey string `json:"valuesKey" jsonschema:"minLength=1"`
	// Endpoint fields the site sets under ValuesKey.
	Fields []Field `json:"fields" jsonschema:"minItems=1"`
	// The test fixture that stands in when the site does not set it.
	Fixture *Fixture `json:"fixture,omitempty"`
}

// Field is one endpoint field of an external interface.
type Field struct {
	// Field name.
	Name string `json:"name" jsonschema:"minLength=1"`
	// JSON type.
	Type string `json:"type" jsonschema:"enum=string,enum=integer,enum=number,enum=boolean,enum=array,enum=object"`
	// Whether the site must set it when it sets the endpoint.
	Required bool `json:"required"`
	// What it means.
	Description string `json:"description"`
	// Default value, when it has one.
	Default any `json:"default,omitempty"`
	// The fields of each item, for a list of objects (the storage
	// elements, the compute elements).
	Items []Field `json:"items,omitempty"`
}

// Fixture is the test fixture of an external interface.
type Fixture struct {
	// Components that make up the fixture.
	Components []string `json:"components" jsonschema:"minItems=1"`
	// Values key that switches the fixture off, dotted: "storage.enabled".
	Toggle string `json:"toggle" jsonschema:"minLength=1"`
}

// Marshal encodes the catalog as indented JSON with a final newline; the
// same catalog always gives the same bytes (maps are written sorted).
func (c *Catalog) Marshal() ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(c); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// Load validates a catalog document (JSON) against the catalog schema,
// decodes it and checks its cross references.
func Load(data []byte) (*Catalog, error) {
	// Validating and decoding each read the whole document; they run side
	// by side, and a schema error is the one reported.
	schemaErr := make(chan error, 1)
	go func() { schemaErr <- validateSchema(data) }()
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var c Catalog
	decodeErr := dec.Decode(&c)
	if err := <-schemaErr; err != nil {
		return nil, err
	}
	if decodeErr != nil {
		return nil, fmt.Errorf("catalog: %w", decodeErr)
	}
	if err := c.Validate(); err != nil {
		return nil, err
	}
	return &c, nil
}

var nameRE = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`)

// Validate checks what the schema cannot: names are DNS labels, and every
// reference (subchart, provider, owner, consumer, credential, fixture) names
// an entry of the catalog. Problems are listed one per line, sorted.
func (c *Catalog) Validate() error {
	var errs []string
	bad := func(format string, a ...any) { errs = append(errs, fmt.Sprintf(format, a...)) }
	keys := func(section string, m map[string]bool) {
		for k := range m {
			if !nameRE.MatchString(k) || len(k) > 63 {
				bad("%s.%s: name is not a DNS-1123 label", section, k)
			}
		}
	}
	subcharts := keySet(c.Subcharts)
	components := keySet(c.Components)
	credentials := keySet(c.Credentials)
	externals := keySet(c.Externals)
	keys("subcharts", subcharts)
	keys("components", components)
	keys("credentials", credentials)
	keys("externals", externals)
	keys("interfaces", keySet(c.Interfaces))
	keys("shared", keySet(c.Shared))
	refs := func(where string, names []string, known map[string]bool, what string) {
		for i, n := range names {
			if !known[n] {
				bad("%s[%d]: unknown %s %q", where, i, what, n)
			}
		}
	}
	for n, s := range c.Subcharts {
		refs("subcharts."+n+".components", s.Components, components, "component")
	}
	for n, comp := range c.Components {
		if !subcharts[comp.Subchart] {
			bad("components.%s.subchart: unknown subchart %q", n, comp.Subchart)
		}
		if comp.FixtureFor != "" && !externals[comp.FixtureFor] {
			bad("components.%s.fixtureFor: unknown external %q", n, comp.FixtureFor)
		}
	}
	for n, i := range c.Interfaces {
		if !components[i.Provider] {
			bad("interfaces.%s.provider: unknown component %q", n, i.Provider)
		}
		refs("interfaces."+n+".consumers", i.Consumers, components, "component")
		seen := map[string]bool{}
		for _, p := range i.Ports {
			if seen[p.Name] {
				bad("interfaces.%s.ports: duplicate port name %q", n, p.Name)
			}
			seen[p.Name] = true
		}
	}
	for n, s := range c.Shared {
		if !components[s.Owner] {
			bad("shared.%s.owner: unknown component %q", n, s.Owner)
		}
		refs("shared."+n+".consumers", s.Consumers, components, "component")
		if _, ok := c.Interfaces[s.Interface]; s.Interface != "" && !ok {
			bad("shared.%s.interface: unknown interface %q", n, s.Interface)
		}
	}
	for n, cr := range c.Credentials {
		if !components[cr.Owner] {
			bad("credentials.%s.owner: unknown component %q", n, cr.Owner)
		}
		refs("credentials."+n+".consumers", cr.Consumers, components, "component")
		for i, d := range cr.Detect {
			re, err := regexp.Compile(d)
			if err != nil {
				bad("credentials.%s.detect[%d]: %v", n, i, err)
			} else if re.NumSubexp() != 1 {
				bad("credentials.%s.detect[%d]: needs exactly one capturing group, has %d", n, i, re.NumSubexp())
			}
		}
		for i, l := range cr.Locations {
			for _, p := range l.problems(true) {
				bad("credentials.%s.locations[%d]: %s", n, i, p)
			}
		}
	}
	for i, l := range c.NotSecret {
		for _, p := range l.problems(false) {
			bad("notSecret[%d]: %s", i, p)
		}
	}
	if s := c.Secrets; s != nil {
		switch {
		case s.Backend == "external-secrets" && (s.SecretStore == nil || s.SecretStore.Name == ""):
			bad("secrets.secretStore: backend external-secrets needs secretStore.name")
		case s.Backend != "external-secrets" && s.SecretStore != nil:
			bad("secrets.secretStore: only backend external-secrets uses a secret store")
		}
	}
	for n, e := range c.Externals {
		refs("externals."+n+".consumers", e.Consumers, components, "component")
		refs("externals."+n+".credentials", e.Credentials, credentials, "credential")
		if e.Fixture != nil {
			refs("externals."+n+".fixture.components", e.Fixture.Components, components, "component")
		}
	}
	for n, i := range c.Inbound {
		if !nameRE.MatchString(n) || len(n) > 63 {
			bad("inbound.%s: name is not a DNS-1123 label", n)
		}
		if !components[i.Component] {
			bad("inbound.%s.component: unknown component %q", n, i.Component)
		}
		if _, ok := c.Interfaces[i.Interface]; !ok {
			bad("inbound.%s.interface: unknown interface %q", n, i.Interface)
		}
	}
	if len(errs) == 0 {
		return nil
	}
	sort.Strings(errs)
	return fmt.Errorf("catalog: %s", strings.Join(errs, "; "))
}

// problems lists what is wrong with a location: exactly one of env, flag
// and object; key and format only with object; field only with format.
// A credential's location needs a field with a format (a whole config file
// is not a credential); a notSecret entry needs its reason.
func (l Location) problems(credential bool) []string {
	var out []string
	kinds := 0
	for _, set := range []bool{l.Env != "", l.Flag != "", l.Object != nil} {
		if set {
			kinds++
		}
	}
	if kinds != 1 {
		out = append(out, "needs exactly one of env, flag, object")
	}
	switch {
	case l.Object != nil && l.Key == "":
		out = append(out, "object needs key")
	case l.Object == nil && l.Key != "":
		out = append(out, "key needs object")
	}
	if l.Format != "" && l.Object == nil {
		out = append(out, "format needs object")
	}
	if l.Field != "" && l.Format == "" {
		out = append(out, "field needs format")
	}
	if credential && l.Format != "" && l.Field == "" {
		out = append(out, "format needs field")
	}
	if l.Object != nil && (l.Workload != "" || l.Container != "") {
		out = append(out, "workload and container apply to env and flag only")
	}
	if !credential && l.Reason == "" {
		out = append(out, "needs a reason")
	}
	return out
}

func keySet[V any](m map[string]V) map[string]bool {
	out := make(map[string]bool, len(m))
	for k := range m {
		out[k] = true
	}
	return out
}

// SubchartValues is the generated part of one subchart's values: the
// interfaces, shared objects and credentials its components provide or
// consume, the external interfaces they consume and their components'
// metrics endpoints, in the shape docs/interfaces.md fixes.
type SubchartValues struct {
	Interfaces  map[string]Interface
	Shared      map[string]Shared
	Credentials map[string]Credential
	Externals   map[string]External
	Metrics     map[string]Metrics
}

// ForSubchart selects the entries a subchart's components provide, own or
// consume.
func (c *Catalog) ForSubchart(name string) SubchartValues {
	in := func(comp string) bool { return c.Components[comp].Subchart == name }
	any := func(list []string) bool { return slices.ContainsFunc(list, in) }
	out := SubchartValues{Interfaces: map[string]Interface{}, Shared: map[string]Shared{}, Credentials: map[string]Credential{},
		Externals: map[string]External{}, Metrics: map[string]Metrics{}}
	for n, e := range c.Externals {
		if any(e.Consumers) {
			out.Externals[n] = e
		}
	}
	for n, comp := range c.Components {
		if comp.Subchart == name && comp.Metrics != nil {
			out.Metrics[n] = *comp.Metrics
		}
	}
	for n, i := range c.Interfaces {
		if in(i.Provider) || any(i.Consumers) {
			out.Interfaces[n] = i
		}
	}
	for n, s := range c.Shared {
		if in(s.Owner) || any(s.Consumers) {
			out.Shared[n] = s
			// The owner of a host certificate writes the Service's names
			// into it.
			if i, ok := c.Interfaces[s.Interface]; ok && in(s.Owner) {
				out.Interfaces[s.Interface] = i
			}
		}
	}
	for n, cr := range c.Credentials {
		if in(cr.Owner) || any(cr.Consumers) {
			out.Credentials[n] = cr
		}
	}
	return out
}
