package upgrade

import (
	"fmt"
	"reflect"
	"sort"
	"strconv"
	"strings"

	"sigs.k8s.io/kustomize/kyaml/yaml"

	"github.com/ctao/dpps-deploy/transforms/manifest"
)

// get returns the value at a path of keys, nil when absent.
func get(m map[string]any, keys ...string) any {
	var v any = m
	for _, k := range keys {
		mm, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = mm[k]
	}
	return v
}

func getString(m map[string]any, keys ...string) string {
	switch v := get(m, keys...).(type) {
	case string:
		return v
	case nil:
		return ""
	default:
		return fmt.Sprint(v)
	}
}

func same(a, b any) bool { return reflect.DeepEqual(a, b) }

func keep(o *object) bool {
	return getString(o.m, "metadata", "annotations", KeepPolicy) == "keep"
}

// immutable reports changes of fields the API server refuses to update.
func (c *comparison) immutable(o, n *object) {
	field := func(rule, msg string, path ...string) {
		if !same(get(o.m, path...), get(n.m, path...)) {
			c.add(Refused, rule, o, strings.Join(path, "."), "%s", msg)
		}
	}
	switch o.kind {
	case "Deployment", "StatefulSet", "DaemonSet", "ReplicaSet":
		field("selector", "a workload's selector is immutable: the upgrade fails; delete the "+o.kind+" first (kubectl delete --cascade=orphan) or keep the selector", "spec", "selector")
	}
	switch o.kind {
	case "StatefulSet":
		c.claimTemplates(o, n)
		field("serviceName", "a StatefulSet's serviceName is immutable: the upgrade fails; keep it, or delete the StatefulSet with --cascade=orphan first (pods and claims stay)", "spec", "serviceName")
		field("podManagementPolicy", "a StatefulSet's podManagementPolicy is immutable: the upgrade fails; keep it, or delete the StatefulSet with --cascade=orphan first (pods and claims stay)", "spec", "podManagementPolicy")
	case "Job":
		field("job-template", "a Job's pod template is immutable: the upgrade fails; name the Job after the version (a new Job per upgrade) or delete the completed Job first", "spec", "template")
		field("job-selector", "a Job's selector is immutable: the upgrade fails; name the Job after the version or delete the completed Job first", "spec", "selector")
	case "Service":
		c.service(o, n)
	case "PersistentVolumeClaim":
		for _, f := range []string{"storageClassName", "accessModes", "volumeMode", "selector", "volumeName", "dataSource"} {
			field("pvc-"+f, "a bound claim's "+f+" is immutable: the upgrade fails; keep OLD's value, or copy the data to a claim with a new name", "spec", f)
		}
		oq, ok1 := parseQuantity(getString(o.m, "spec", "resources", "requests", "storage"))
		nq, ok2 := parseQuantity(getString(n.m, "spec", "resources", "requests", "storage"))
		if ok1 && ok2 && nq < oq {
			c.add(Refused, "pvc-shrink", o, "spec.resources.requests.storage", "a claim cannot shrink (%s to %s): the upgrade fails; keep the old size",
				getString(o.m, "spec", "resources", "requests", "storage"), getString(n.m, "spec", "resources", "requests", "storage"))
		}
	case "ConfigMap", "Secret":
		if get(o.m, "immutable") != true {
			return
		}
		if get(n.m, "immutable") != true {
			c.add(Refused, "immutable-object", o, "immutable", "an immutable %s cannot become mutable: the upgrade fails; give it a new name", o.kind)
		}
		for _, k := range []string{"data", "binaryData", "stringData"} {
			if !same(get(o.m, k), get(n.m, k)) {
				c.add(Refused, "immutable-object", o, k, "the %s is immutable: its contents cannot change; give it a new name (e.g. with a content hash)", o.kind)
			}
		}
	}
}

func (c *comparison) service(o, n *object) {
	ot, nt := getString(o.m, "spec", "type"), getString(n.m, "spec", "type")
	if ot == "ExternalName" || nt == "ExternalName" {
		return
	}
	oip, nip := getString(o.m, "spec", "clusterIP"), getString(n.m, "spec", "clusterIP")
	switch {
	case oip == nip:
	case oip == "None" || nip == "None":
		c.add(Refused, "service-headless", o, "spec.clusterIP",
			"a Service cannot change between headless (clusterIP: None) and not (%s to %s): the upgrade fails; delete the Service first", show(oip), show(nip))
	case oip != "" && nip != "":
		c.add(Refused, "service-clusterIP", o, "spec.clusterIP", "a Service's clusterIP is immutable (%s to %s): the upgrade fails; keep it, or delete the Service first", oip, nip)
	case nip != "":
		c.add(Refused, "service-clusterIP", o, "spec.clusterIP", "NEW sets clusterIP %s; the address the cluster allocated cannot change: the upgrade fails unless it is that one; leave clusterIP unset", nip)
	}
	if !same(get(o.m, "spec", "clusterIPs"), get(n.m, "spec", "clusterIPs")) && get(n.m, "spec", "clusterIPs") != nil {
		c.add(Refused, "service-clusterIP", o, "spec.clusterIPs", "a Service's clusterIPs are immutable: the upgrade fails; keep them, or delete the Service first")
	}
	if nt == "ClusterIP" || nt == "" {
		return
	}
	if oip == "None" && nip == "None" && nt != ot {
		c.add(Refused, "service-type", o, "spec.type", "a headless Service cannot become %s: the upgrade fails; keep it headless and add a second Service", nt)
	}
}

func show(ip string) string {
	if ip == "" {
		return "allocated"
	}
	return ip
}

// lost reports changes of objects in both streams that lose data.
func (c *comparison) lost(o, n *object) {
	if keep(o) && !keep(n) {
		c.add(DataLoss, "keep-policy", o, "metadata.annotations."+KeepPolicy,
			"NEW drops %s: keep, so helm uninstall (or removing the object later) deletes it; keep the annotation", KeepPolicy)
	}
	if o.kind == "StatefulSet" {
		for _, when := range []string{"whenDeleted", "whenScaled"} {
			if getString(n.m, "spec", "persistentVolumeClaimRetentionPolicy", when) == "Delete" &&
				getString(o.m, "spec", "persistentVolumeClaimRetentionPolicy", when) != "Delete" {
				c.add(DataLoss, "pvc-retention", o, "spec.persistentVolumeClaimRetentionPolicy."+when,
					"NEW deletes the StatefulSet's claims %s; keep Retain", map[string]string{"whenDeleted": "with it", "whenScaled": "on scale-down"}[when])
			}
		}
	}
	if o.kind == "Secret" {
		keys := c.credKeys[o.name]
		for _, k := range sortedKeys(keys) {
			if hasKey(o, k) && !hasKey(n, k) {
				c.add(DataLoss, "credential-key-removed", o, "data."+k, "the credential key %q is gone from the Secret: the credential it holds is lost; keep the key", k)
			}
		}
	}
}

func hasKey(o *object, k string) bool {
	return get(o.m, "data", k) != nil || get(o.m, "stringData", k) != nil
}

// credentials reports credentials whose Secret or key the candidate renames.
func (c *comparison) credentials() {
	oc, nc := c.old.catalog(), c.new.catalog()
	if oc == nil || nc == nil {
		return
	}
	for _, name := range sortedKeys(oc.Credentials) {
		ocr := oc.Credentials[name]
		ncr, ok := nc.Credentials[name]
		obj := &object{kind: "Secret", name: ocr.SecretName}
		switch {
		case !ok:
			if _, still := c.new.secretNamed(ocr.SecretName); !still {
				c.add(DataLoss, "credential-removed", obj, "", "NEW no longer has the credential %s: its value (and what it protects) is lost; keep it, or back up its Secret first", name)
				c.renamed[ocr.SecretName] = true
			}
		case ncr.SecretName != ocr.SecretName:
			c.add(DataLoss, "credential-renamed", obj, "", "the credential %s moves to Secret %s: the new Secret gets a new value while the data it protects keeps the old one; copy the Secret first", name, ncr.SecretName)
			c.renamed[ocr.SecretName] = true
		case ncr.Key != ocr.Key:
			c.add(DataLoss, "credential-key-renamed", obj, "data."+ocr.Key, "the credential %s moves to key %s: copy the value first", name, ncr.Key)
		}
	}
}

func (s *stream) secretNamed(name string) (*object, bool) {
	for _, o := range s.list {
		if o.kind == "Secret" && o.name == name {
			return o, true
		}
	}
	return nil, false
}

// removed reports an object of OLD missing from NEW that held data.
func (c *comparison) removed(o *object) {
	renamedTo := func() string {
		comp := getString(o.m, "metadata", "labels", "app.kubernetes.io/component")
		if comp == "" {
			return ""
		}
		for _, n := range c.new.list {
			if n.kind == o.kind && c.old.byKey[n.key()] == nil && getString(n.m, "metadata", "labels", "app.kubernetes.io/component") == comp {
				return "; renamed to " + n.name + "? it starts empty"
			}
		}
		return ""
	}
	switch o.kind {
	case "PersistentVolumeClaim":
		if keep(o) {
			return
		}
		c.add(DataLoss, "pvc-removed", o, "", "NEW no longer has the claim: Helm deletes it and its volume%s; keep it, or back it up and set %s: keep first", renamedTo(), KeepPolicy)
	case "StatefulSet":
		what := "the StatefulSet"
		if comp := getString(o.m, "metadata", "labels", "app.kubernetes.io/component"); comp != "" {
			what = "the stateful component " + comp
		}
		c.add(DataLoss, "statefulset-removed", o, "", "NEW no longer has %s: its claims are orphaned and nothing serves their data%s; keep it, or back up its data first", what, renamedTo())
	case "Secret":
		if len(c.credKeys[o.name]) == 0 || c.renamed[o.name] {
			return
		}
		if keep(o) {
			c.add(DataLoss, "credential-removed", o, "", "NEW no longer renders this credential Secret: Helm keeps it (keep policy) but nothing manages it; keep it in the chart, or delete it by hand once unused")
			return
		}
		c.add(DataLoss, "credential-removed", o, "", "NEW no longer renders this credential Secret: Helm deletes it and the credential is lost; keep it, or back it up first")
	}
}

// consumers reports interfaces and shared objects the candidate renames
// while a consumer in the candidate still uses the old name or port.
func (c *comparison) consumers() {
	oc, nc := c.old.catalog(), c.new.catalog()
	if oc == nil || nc == nil {
		return
	}
	for _, name := range sortedKeys(nc.Interfaces) {
		ni := nc.Interfaces[name]
		oi, ok := oc.Interfaces[name]
		if !ok {
			continue
		}
		if oi.Service != ni.Service && !c.new.has("Service", oi.Service) {
			for _, u := range c.uses(ni.Consumers, func(s string) bool { return hostIn(s, oi.Service) }, "") {
				c.add(ConsumerBreak, "interface-renamed", u.obj, u.path,
					"interface %s moved from Service %s to %s, but this consumer still connects to %s; change the consumer in the same upgrade", name, oi.Service, ni.Service, oi.Service)
			}
		}
		for _, op := range oi.Ports {
			for _, np := range ni.Ports {
				if op.Name != np.Name || op.Port == np.Port {
					continue
				}
				old := strconv.Itoa(op.Port)
				match := func(s string) bool {
					return strings.Contains(s, oi.Service+":"+old) || strings.Contains(s, ni.Service+":"+old)
				}
				for _, u := range c.uses(ni.Consumers, match, old) {
					c.add(ConsumerBreak, "interface-port-changed", u.obj, u.path,
						"interface %s port %s moved from %d to %d, but this consumer still uses %d; change the consumer in the same upgrade", name, op.Name, op.Port, np.Port, op.Port)
				}
			}
		}
	}
	for _, name := range sortedKeys(nc.Shared) {
		ns := nc.Shared[name]
		os, ok := oc.Shared[name]
		if !ok || os.Name == ns.Name || c.new.has(os.Kind, os.Name) {
			continue
		}
		for _, cn := range append([]string{ns.Owner}, ns.Consumers...) {
			w := c.workload(cn)
			if w == nil {
				continue
			}
			spec := manifest.PodSpec(w.node.YNode())
			if spec == nil {
				continue
			}
			for _, r := range manifest.References(spec, manifest.PodSpecPath(w.node.YNode())) {
				if r.Kind == os.Kind && r.Name == os.Name {
					c.add(ConsumerBreak, "shared-renamed", w, r.Path,
						"shared %s %s was renamed to %s, but this consumer still reads %s; change the consumer in the same upgrade", os.Kind, name, ns.Name, os.Name)
				}
			}
		}
	}
}

func (s *stream) has(kind, name string) bool {
	for _, o := range s.list {
		if o.kind == kind && o.name == name {
			return true
		}
	}
	return false
}

// workload returns NEW's workload of a component of the NEW catalog, or
// of the OLD one for a component NEW's catalog no longer lists.
func (c *comparison) workload(component string) *object {
	for _, cat := range []*stream{c.new, c.old} {
		if cat.catalog() == nil {
			continue
		}
		comp, ok := cat.catalog().Components[component]
		if !ok {
			continue
		}
		for _, o := range c.new.list {
			if o.kind == comp.Workload && o.name == comp.Name {
				return o
			}
		}
		return nil
	}
	return nil
}

type use struct {
	obj  *object
	path string
}

// uses finds, in the pod specs of the consumers' workloads and in the
// ConfigMaps they read, the string values match accepts; with port set,
// also env values equal to it whose variable names a port.
func (c *comparison) uses(consumers []string, match func(string) bool, port string) []use {
	var ws []*object
	for _, cn := range consumers {
		if w := c.workload(cn); w != nil {
			ws = append(ws, w)
		}
	}
	return c.usesIn(ws, match, port)
}

// usesIn is uses over workloads of NEW.
func (c *comparison) usesIn(ws []*object, match func(string) bool, port string) []use {
	var out []use
	seen := map[string]bool{}
	for _, w := range ws {
		spec := manifest.PodSpec(w.node.YNode())
		if spec == nil {
			continue
		}
		base := manifest.PodSpecPath(w.node.YNode())
		// A Secret or ConfigMap may share the Service's name: a reference
		// to it is no connection.
		refs := map[string]bool{}
		for _, r := range manifest.References(spec, base) {
			refs[r.Path] = true
		}
		manifest.WalkScalars(spec, base, func(path string, s *yaml.Node) {
			if refs[path] {
				return
			}
			hit := match(s.Value)
			if !hit && port != "" && s.Value == port && strings.HasSuffix(path, ".value") && strings.Contains(strings.ToUpper(path), "PORT") {
				hit = true
			}
			if hit && !seen[w.key()+path] {
				seen[w.key()+path] = true
				out = append(out, use{w, path})
			}
		})
		for _, r := range manifest.References(spec, base) {
			if r.Kind != "ConfigMap" {
				continue
			}
			for _, o := range c.new.list {
				if o.kind != "ConfigMap" || o.name != r.Name || seen[o.key()] {
					continue
				}
				data := manifest.Field(o.node.YNode(), "data")
				if data == nil {
					continue
				}
				manifest.WalkScalars(data, "data", func(path string, s *yaml.Node) {
					if match(s.Value) && !seen[o.key()+path] {
						seen[o.key()+path] = true
						out = append(out, use{o, path})
					}
				})
			}
		}
	}
	return out
}

// hostIn reports whether s names host as a whole DNS label sequence:
// "dpps-rucio-db", "dpps-rucio-db.ns.svc:5432", not "dpps-rucio-db-0".
func hostIn(s, host string) bool {
	for i := 0; ; {
		j := strings.Index(s[i:], host)
		if j < 0 {
			return false
		}
		start, end := i+j, i+j+len(host)
		if (start == 0 || !nameChar(s[start-1])) && (end == len(s) || !nameChar(s[end])) {
			return true
		}
		i = start + 1
	}
}

func nameChar(b byte) bool {
	return b >= 'a' && b <= 'z' || b >= '0' && b <= '9' || b == '-' || b >= 'A' && b <= 'Z' || b == '_'
}

// parseQuantity parses the storage quantities charts write (10Gi, 500M,
// 1e9, 1024); it returns false for anything else.
func parseQuantity(q string) (float64, bool) {
	if q == "" {
		return 0, false
	}
	mult := map[string]float64{"Ki": 1 << 10, "Mi": 1 << 20, "Gi": 1 << 30, "Ti": 1 << 40, "Pi": 1 << 50,
		"k": 1e3, "K": 1e3, "M": 1e6, "G": 1e9, "T": 1e12, "P": 1e15}
	for _, suf := range []string{"Ki", "Mi", "Gi", "Ti", "Pi", "k", "K", "M", "G", "T", "P"} {
		if strings.HasSuffix(q, suf) {
			v, err := strconv.ParseFloat(strings.TrimSuffix(q, suf), 64)
			return v * mult[suf], err == nil
		}
	}
	v, err := strconv.ParseFloat(q, 64)
	return v, err == nil
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// claimTemplates reports a change of a StatefulSet's volumeClaimTemplates,
// which the API server refuses; a size change has a procedure of its own.
func (c *comparison) claimTemplates(o, n *object) {
	ot, _ := get(o.m, "spec", "volumeClaimTemplates").([]any)
	nt, _ := get(n.m, "spec", "volumeClaimTemplates").([]any)
	if same(ot, nt) {
		return
	}
	msg := "a StatefulSet's volumeClaimTemplates are immutable: the upgrade fails; keep them as they are"
	if len(ot) == len(nt) {
		var sizes []string
		other := false
		for i := range ot {
			om, _ := ot[i].(map[string]any)
			nm, _ := nt[i].(map[string]any)
			os, ns := getString(om, "spec", "resources", "requests", "storage"), getString(nm, "spec", "resources", "requests", "storage")
			oq, ok1 := parseQuantity(os)
			nq, ok2 := parseQuantity(ns)
			switch {
			case os == ns:
			case ok1 && ok2 && nq > oq:
				sizes = append(sizes, fmt.Sprintf("%s %s to %s", getString(om, "metadata", "name"), os, ns))
			default:
				other = true
			}
			if !same(withoutStorage(om), withoutStorage(nm)) {
				other = true
			}
		}
		if len(sizes) > 0 && !other {
			msg = fmt.Sprintf("a StatefulSet's volumeClaimTemplates are immutable: the upgrade fails; to grow its claims (%s) follow docs/upgrades.md, \"Resizing a StatefulSet's volumes\": patch each claim, delete the StatefulSet with --cascade=orphan, then upgrade",
				strings.Join(sizes, ", "))
		}
	}
	c.add(Refused, "volumeClaimTemplates", o, "spec.volumeClaimTemplates", "%s", msg)
}

// withoutStorage is a claim template without its storage request.
func withoutStorage(t map[string]any) map[string]any {
	out := map[string]any{}
	for k, v := range t {
		out[k] = v
	}
	spec, _ := t["spec"].(map[string]any)
	res, _ := spec["resources"].(map[string]any)
	req, _ := res["requests"].(map[string]any)
	if req == nil {
		return out
	}
	r2 := map[string]any{}
	for k, v := range req {
		if k != "storage" {
			r2[k] = v
		}
	}
	res2 := map[string]any{}
	for k, v := range res {
		res2[k] = v
	}
	res2["requests"] = r2
	spec2 := map[string]any{}
	for k, v := range spec {
		spec2[k] = v
	}
	spec2["resources"] = res2
	out["spec"] = spec2
	return out
}
