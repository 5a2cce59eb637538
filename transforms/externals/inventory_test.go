package externals

import (
	"bytes"
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/ctao/dpps-deploy/transforms/pipeline"
)

func TestImagePath(t *testing.T) {
	tests := []struct {
		name, ref, mirror, want string
	}{
		{"under the mirror", "harbor.a.example.org/dpps-mirror/rucio/rucio-server:40", "harbor.a.example.org/dpps-mirror", "rucio/rucio-server"},
		{"mirror written with a slash", "harbor.a.example.org/m/library/busybox:1", "harbor.a.example.org/m/", "library/busybox"},
		{"whole registry as mirror", "harbor.a.example.org/rucio/rucio-server:40", "harbor.a.example.org", "rucio/rucio-server"},
		{"no mirror: own registry left out", "docker.io/rucio/rucio-server:40", "", "rucio/rucio-server"},
		{"Docker Hub official image", "busybox:1.36.1", "", "library/busybox"},
		{"Docker Hub library written", "docker.io/library/busybox:1.36.1", "", "library/busybox"},
		{"registry with a port", "localhost:5000/dpps/x@sha256:" + zeros, "", "dpps/x"},
		{"another port than the mirror's", "harbor.a.example.org:5000/dpps-mirror/rucio/rucio-init:40", "harbor.a.example.org/dpps-mirror", "dpps-mirror/rucio/rucio-init"},
		{"another site's mirror", "harbor.b.example.org/dpps-mirror/rucio/rucio-server:40", "harbor.a.example.org/dpps-mirror", "dpps-mirror/rucio/rucio-server"},
		{"mirror name as a prefix only", "harbor.a.example.org/dpps-mirror2/x:1", "harbor.a.example.org/dpps-mirror", "dpps-mirror2/x"},
		{"does not parse: as written", "Harbor/UPPER:1", "", "Harbor/UPPER"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := ParseImage(tt.ref).Path(tt.mirror); got != tt.want {
				t.Errorf("ParseImage(%q).Path(%q) = %q, want %q", tt.ref, tt.mirror, got, tt.want)
			}
		})
	}
}

const digestA = "sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"

// pinned is the Rucio server with an init container, pinned by digest.
const pinned = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: dpps-rucio-server
  annotations: {dpps.ctao.org/component: bdms, dpps.ctao.org/chart: bdms-0.2.0}
spec:
  template:
    metadata:
      labels: {app.kubernetes.io/instance: dpps, app.kubernetes.io/component: rucio-server}
    spec:
      initContainers: [{name: wait, image: "busybox:1.36.1"}]
      containers: [{name: s, image: "rucio/rucio-server:40@` + digestA + `"}]
`

func TestInventoryFilter(t *testing.T) {
	nodes, err := (&pipeline.Reader{Input: strings.NewReader(stream(pinned, poller))}).Read()
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		filter InventoryFilter
		want   []string // workload/container
	}{
		{"everything", InventoryFilter{}, []string{"dpps-rucio-server/wait", "dpps-rucio-server/s", "dpps-conveyor-poller/d"}},
		{"image substring", InventoryFilter{Image: "rucio"}, []string{"dpps-rucio-server/s", "dpps-conveyor-poller/d"}},
		{"digest", InventoryFilter{Digest: digestA}, []string{"dpps-rucio-server/s"}},
		{"digest is exact", InventoryFilter{Digest: digestA[:20]}, nil},
		{"digest and image", InventoryFilter{Image: "daemons", Digest: digestA}, nil},
		{"no such image", InventoryFilter{Image: "fts"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ws, err := Inventory(nodes, "", tt.filter)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, w := range ws {
				for _, img := range w.Images {
					got = append(got, w.Name+"/"+img.Container)
				}
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
}

// siteInventory is the inventory of a render with a catalog whose site
// declares the registry mirror (none when mirror is ""), named site.
func siteInventory(t *testing.T, site, mirror string, docs ...string) []Workload {
	t.Helper()
	siteJSON := noSite
	if mirror != "" {
		siteJSON = `{"externals": {"registry": {"host": "` + mirror + `"}}, "secrets": {}}`
	}
	nodes, err := (&pipeline.Reader{Input: strings.NewReader(stream(append([]string{catalogDoc(t, siteJSON, nil)}, docs...)...))}).Read()
	if err != nil {
		t.Fatal(err)
	}
	ws, err := Inventory(nodes, "", InventoryFilter{})
	if err != nil {
		t.Fatal(err)
	}
	for i := range ws {
		ws[i].Site = site
	}
	return ws
}

func TestByImage(t *testing.T) {
	mirrored := func(host string) string {
		return strings.NewReplacer(`"busybox:`, `"`+host+`/library/busybox:`, `"rucio/`, `"`+host+`/rucio/`).Replace(pinned)
	}
	// Another version of the server, unpinned, with no provenance and no
	// chart label.
	older := strings.NewReplacer("rucio/rucio-server:40@"+digestA, "rucio/rucio-server:39",
		"  annotations: {dpps.ctao.org/component: bdms, dpps.ctao.org/chart: bdms-0.2.0}\n", "").Replace(pinned)
	// The same tag pinned to another digest.
	moved := strings.ReplaceAll(pinned, digestA, "sha256:"+zeros)
	var ws []Workload
	ws = append(ws, siteInventory(t, "dc-b", "harbor.b.example.org/m", mirrored("harbor.b.example.org/m"))...)
	ws = append(ws, siteInventory(t, "dc-a", "harbor.a.example.org", mirrored("harbor.a.example.org"))...)
	ws = append(ws, siteInventory(t, "dc-c", "", older, poller)...)
	ws = append(ws, siteInventory(t, "dc-d", "", moved)...)

	type row struct{ image, digest, sites, systems, charts string }
	want := []row{
		{"library/busybox:1.36.1", "", "dc-b,dc-a,dc-c,dc-d", "bdms/rucio-server,rucio-server", "bdms-0.2.0"},
		{"rucio/rucio-daemons:40", "", "dc-c", "conveyor-poller", ""},
		{"rucio/rucio-server:39", "", "dc-c", "rucio-server", ""},
		{"rucio/rucio-server:40", "sha256:" + zeros, "dc-d", "bdms/rucio-server", "bdms-0.2.0"},
		{"rucio/rucio-server:40", digestA, "dc-b,dc-a", "bdms/rucio-server", "bdms-0.2.0"},
	}
	uses := ByImage(ws)
	var got []row
	for _, u := range uses {
		got = append(got, row{u.Image, u.Digest, strings.Join(u.Sites, ","), strings.Join(u.Systems, ","), strings.Join(u.Charts, ",")})
	}
	if !slices.Equal(got, want) {
		t.Errorf("ByImage:\ngot  %v\nwant %v", got, want)
	}
	// Each use keeps the reference as written, in the order of the sites.
	var refs []string
	for _, u := range uses[4].Uses {
		refs = append(refs, u.Site+" "+u.Reference)
	}
	wantRefs := []string{"dc-b harbor.b.example.org/m/rucio/rucio-server:40@" + digestA, "dc-a harbor.a.example.org/rucio/rucio-server:40@" + digestA}
	if !slices.Equal(refs, wantRefs) {
		t.Errorf("uses: got %v, want %v", refs, wantRefs)
	}

	var table bytes.Buffer
	if err := WriteImages(&table, "table", uses[:3], true); err != nil {
		t.Fatal(err)
	}
	wantTable := `IMAGE                   DIGEST  SITES                SYSTEMS                         CHARTS
library/busybox:1.36.1  -       dc-b,dc-a,dc-c,dc-d  bdms/rucio-server,rucio-server  -,bdms-0.2.0
rucio/rucio-daemons:40  -       dc-c                 conveyor-poller                 -
rucio/rucio-server:39   -       dc-c                 rucio-server                    -
`
	if table.String() != wantTable {
		t.Errorf("table:\n%s\nwant:\n%s", table.String(), wantTable)
	}
	var js bytes.Buffer
	if err := WriteImages(&js, "json", uses[1:2], true); err != nil {
		t.Fatal(err)
	}
	var decoded struct {
		Images []struct {
			Image  string   `json:"image"`
			Sites  []string `json:"sites"`
			Charts []string `json:"charts"`
			Uses   []struct {
				Site, Workload, Container, System, Reference string
				Chart                                        *string
			} `json:"uses"`
		} `json:"images"`
	}
	if err := json.Unmarshal(js.Bytes(), &decoded); err != nil {
		t.Fatalf("%v\n%s", err, js.String())
	}
	if len(decoded.Images) != 1 || decoded.Images[0].Image != "rucio/rucio-daemons:40" || len(decoded.Images[0].Charts) != 0 ||
		len(decoded.Images[0].Uses) != 1 || decoded.Images[0].Uses[0].Chart != nil || decoded.Images[0].Uses[0].Site != "dc-c" {
		t.Errorf("json:\n%s", js.String())
	}
}

func TestWorkloadSystem(t *testing.T) {
	tests := []struct {
		w    Workload
		want string
	}{
		{Workload{Kind: "Deployment", Name: "x", Subchart: "bdms", Component: "rucio-server"}, "bdms/rucio-server"},
		{Workload{Kind: "Deployment", Name: "x", Subchart: "bdms"}, "bdms"},
		{Workload{Kind: "Deployment", Name: "x", Component: "rucio-server"}, "rucio-server"},
		{Workload{Kind: "Job", Name: "x"}, "Job/x"},
	}
	for _, tt := range tests {
		if got := tt.w.System(); got != tt.want {
			t.Errorf("%+v: System() = %q, want %q", tt.w, got, tt.want)
		}
	}
}

func TestWriteInventorySites(t *testing.T) {
	ws := append(siteInventory(t, "dc-a", "", poller), siteInventory(t, "dc-b", "", poller)...)
	var b bytes.Buffer
	if err := WriteInventory(&b, "table", ws, true); err != nil {
		t.Fatal(err)
	}
	want := `SITE  WORKLOAD                         SUBCHART  CHART  CONTAINER  REPOSITORY           TAG  DIGEST  INTERFACES
dc-a  Deployment/dpps-conveyor-poller  -         -      d          rucio/rucio-daemons  40   -       external: fts,rucio-database; consumes: fts,rucio-db
dc-b  Deployment/dpps-conveyor-poller  -         -      d          rucio/rucio-daemons  40   -       external: fts,rucio-database; consumes: fts,rucio-db
`
	if b.String() != want {
		t.Errorf("table:\n%s\nwant:\n%s", b.String(), want)
	}
	// Unnamed: no SITE column, no site field.
	for i := range ws {
		ws[i].Site = ""
	}
	b.Reset()
	if err := WriteInventory(&b, "table", ws[:1], false); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(b.String(), "WORKLOAD ") {
		t.Errorf("unnamed table:\n%s", b.String())
	}
	b.Reset()
	if err := WriteInventory(&b, "json", ws[:1], false); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(b.String(), `"site"`) {
		t.Errorf("unnamed json has a site:\n%s", b.String())
	}
}
