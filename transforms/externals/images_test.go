package externals

import (
	"slices"
	"testing"
)

func TestCheckImage(t *testing.T) {
	site := mirror{host: "harbor.example.org", port: 443, implicit: 443, path: "dpps-mirror", spec: "harbor.example.org/dpps-mirror"}
	const key = "global.externals.registry"
	tests := []struct {
		name     string
		img      string
		m        mirror
		declared bool
		dev      bool // a profile other than prod
		want     []string
	}{
		{"mirrored", "harbor.example.org/dpps-mirror/rucio/rucio-server:release-40.0.0", site, true, false, nil},
		{"mirrored digest", "harbor.example.org/dpps-mirror/library/busybox@sha256:" + zeros, site, true, false, nil},
		{"mirrored explicit port", "harbor.example.org:443/dpps-mirror/library/busybox:1.36.1", site, true, false, nil},
		{"host case", "Harbor.Example.org/dpps-mirror/library/busybox:1.36.1", site, true, false, nil},
		{"docker hub", "docker.io/library/busybox:1.36.1", site, true, false, []string{
			`registry: "docker.io/library/busybox:1.36.1" is outside the declared registries: its registry is index.docker.io, the site's is harbor.example.org/dpps-mirror (global.externals.registry.host); pull it through harbor.example.org/dpps-mirror`}},
		{"implicit hub, no tag", "busybox", site, true, false, []string{
			`registry: "busybox" is outside the declared registries: its registry is index.docker.io, the site's is harbor.example.org/dpps-mirror (global.externals.registry.host); pull it through harbor.example.org/dpps-mirror`,
			`: "busybox" has no tag and no digest: it pulls whatever latest is; pin a version tag (and a digest)`}},
		{"other port", "harbor.example.org:5000/dpps-mirror/library/busybox:1.36.1", site, true, false, []string{
			`registry: "harbor.example.org:5000/dpps-mirror/library/busybox:1.36.1" names the registry host harbor.example.org on port 5000, the site declares port 443 (global.externals.registry.host harbor.example.org/dpps-mirror); use harbor.example.org/dpps-mirror`}},
		{"declared port", "mirror.example.org:5000/busybox:1.36.1", mirror{host: "mirror.example.org", port: 5000, implicit: 443, spec: "mirror.example.org:5000"}, true, false, nil},
		{"declared port, default used", "mirror.example.org/busybox:1.36.1", mirror{host: "mirror.example.org", port: 5000, implicit: 443, spec: "mirror.example.org:5000"}, true, false, []string{
			`registry: "mirror.example.org/busybox:1.36.1" names the registry host mirror.example.org on port 443, the site declares port 5000 (global.externals.registry.host mirror.example.org:5000); use mirror.example.org:5000`}},
		{"other path", "harbor.example.org/other/busybox:1.36.1", site, true, false, []string{
			`registry: "harbor.example.org/other/busybox:1.36.1" is outside the declared registries: its repository other/busybox is not under dpps-mirror (global.externals.registry.host); pull it through harbor.example.org/dpps-mirror`}},
		{"path prefix is not a path", "harbor.example.org/dpps-mirror2/busybox:1.36.1", site, true, false, []string{
			`registry: "harbor.example.org/dpps-mirror2/busybox:1.36.1" is outside the declared registries: its repository dpps-mirror2/busybox is not under dpps-mirror (global.externals.registry.host); pull it through harbor.example.org/dpps-mirror`}},
		{"latest", "harbor.example.org/dpps-mirror/library/busybox:latest", site, true, false, []string{
			`: "harbor.example.org/dpps-mirror/library/busybox:latest" has the tag latest, which moves: pin a version tag (and a digest)`}},
		{"no tag, port in host", "harbor.example.org:443/dpps-mirror/library/busybox", site, true, false, []string{
			`: "harbor.example.org:443/dpps-mirror/library/busybox" has no tag and no digest: it pulls whatever latest is; pin a version tag (and a digest)`}},
		{"latest pinned by digest", "harbor.example.org/dpps-mirror/library/busybox:latest@sha256:" + zeros, site, true, false, nil},
		{"no registry declared: only the tag", "docker.io/library/busybox:latest", mirror{}, false, false, []string{
			`: "docker.io/library/busybox:latest" has the tag latest, which moves: pin a version tag (and a digest)`}},
		{"not a reference", "Harbor.example.org/UPPER:1", site, true, false, []string{
			`: "Harbor.example.org/UPPER:1" is not an image reference (could not parse reference: Harbor.example.org/UPPER:1): write registry/repository:tag`}},
		// Every profile: Docker Hub's bitnami/ versioned images are gone.
		{"bitnami versioned, dev", "docker.io/bitnami/postgresql:16.4.0-debian-12-r14", mirror{}, false, true, []string{
			`: "docker.io/bitnami/postgresql:16.4.0-debian-12-r14" cannot be pulled: Bitnami moved every versioned image of docker.io/bitnami to docker.io/bitnamilegacy (bitnami/containers#83267, 2025-08-28; frozen, no security updates); set the image to docker.io/bitnamilegacy/postgresql with the same tag, or pull a maintained image through the site's registry`}},
		{"bitnami implicit registry, dev", "bitnami/kubectl:1.31.4", mirror{}, false, true, []string{
			`: "bitnami/kubectl:1.31.4" cannot be pulled: Bitnami moved every versioned image of docker.io/bitnami to docker.io/bitnamilegacy (bitnami/containers#83267, 2025-08-28; frozen, no security updates); set the image to docker.io/bitnamilegacy/kubectl with the same tag, or pull a maintained image through the site's registry`}},
		{"bitnami by digest, dev", "docker.io/bitnami/mysql@sha256:" + zeros, mirror{}, false, true, []string{
			`: "docker.io/bitnami/mysql@sha256:` + zeros + `" cannot be pulled: Bitnami moved every versioned image of docker.io/bitnami to docker.io/bitnamilegacy (bitnami/containers#83267, 2025-08-28; frozen, no security updates); set the image to docker.io/bitnamilegacy/mysql with the same tag, or pull a maintained image through the site's registry`}},
		{"bitnami latest, dev", "docker.io/bitnami/postgresql:latest", mirror{}, false, true, nil},
		{"bitnamilegacy, dev", "docker.io/bitnamilegacy/postgresql:16.4.0-debian-12-r14", mirror{}, false, true, nil},
		{"bitnami through the mirror", "harbor.example.org/dpps-mirror/bitnami/postgresql:16.4.0-debian-12-r14", site, true, false, nil},
		{"not a reference, dev", "Harbor.example.org/UPPER:1", site, true, true, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			for _, f := range checkImage(tt.img, !tt.dev, tt.m, key, tt.declared) {
				got = append(got, f[0]+": "+f[1])
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("checkImage(%q):\ngot  %q\nwant %q", tt.img, got, tt.want)
			}
		})
	}
}

const zeros = "0000000000000000000000000000000000000000000000000000000000000000"

func TestHostPorts(t *testing.T) {
	tests := []struct {
		text  string
		whole bool
		want  []HostPort
	}{
		{"postgresql://rucio:$(P)@db.example.org:6432/rucio?sslmode=verify-full", true, []HostPort{{"db.example.org", 6432}}},
		{"https://iam.example.org/", true, nil},
		{"FTS.example.org:8446", true, []HostPort{{"fts.example.org", 8446}}},
		{"fts.example.org", true, nil},
		{"release-40.0.0", true, nil},
		{"a https://a.example.org:1 and https://[2001:db8::1]:2/x, again https://a.example.org:1", false, []HostPort{{"a.example.org", 1}, {"2001:db8::1", 2}}},
		{"Host = ce1.example.org:9619, ce2.example.org\nname = x.example.org:1", false, []HostPort{{"ce1.example.org", 9619}}},
		{"proxy: ${PROXY}:3128", false, nil},
	}
	for _, tt := range tests {
		if got := HostPorts(tt.text, tt.whole); !slices.Equal(got, tt.want) {
			t.Errorf("HostPorts(%q, %v) = %v, want %v", tt.text, tt.whole, got, tt.want)
		}
	}
}
