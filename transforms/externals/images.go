package externals

import (
	"fmt"
	"net"
	"strconv"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	"sigs.k8s.io/kustomize/kyaml/yaml"

	"github.com/ctao/dpps-deploy/transforms/manifest"
)

// RuleImage: an image cannot be pulled (every profile), or (prod) is not
// pulled through the site's registry or names no fixed version.
const RuleImage = "image"

// bitnamiMoved says why docker.io/bitnami's versioned images cannot be
// pulled: upstream charts (Bitnami's own among them) still name them.
const bitnamiMoved = "Bitnami moved every versioned image of docker.io/bitnami to docker.io/bitnamilegacy (bitnami/containers#83267, 2025-08-28; frozen, no security updates)"

// registryName is the external interface of the site's image registry.
const registryName = "registry"

// mirror is the site's declared registry: host, port and the repository
// path every image must be under ("" for the whole registry).
type mirror struct {
	host string
	port int
	// implicit is the port of a reference that writes none: the registry
	// external's (HTTPS).
	implicit int
	path     string
	// spec is the host as the site wrote it, for messages.
	spec string
}

// siteMirror is the registry the site declares, with ok false when it
// declares none (or one Check reports as malformed).
func siteMirror(r *Release) (m mirror, valuesKey string, ok bool) {
	for _, i := range r.Interfaces {
		if i.Name != registryName {
			continue
		}
		valuesKey = i.ValuesKey
		site, _ := i.Site.(map[string]any)
		spec, _ := site["host"].(string)
		spec = strings.TrimSuffix(spec, "/")
		if i.Status != StatusConfigured || spec == "" {
			return m, valuesKey, false
		}
		hostport, path, _ := strings.Cut(spec, "/")
		reg, err := name.NewRegistry(hostport)
		if err != nil {
			return m, valuesKey, false
		}
		host, port, err := splitRegistry(reg.RegistryStr(), i.Port)
		if err != nil {
			return m, valuesKey, false
		}
		return mirror{host: host, port: port, implicit: i.Port, path: path, spec: spec}, valuesKey, true
	}
	return m, "global.externals." + registryName, false
}

// splitRegistry splits "host[:port]" of a registry; def is the port when
// none is written.
func splitRegistry(s string, def int) (string, int, error) {
	h, p, err := net.SplitHostPort(s)
	if err != nil {
		return strings.ToLower(s), def, nil
	}
	n, err := strconv.Atoi(p)
	if err != nil {
		return "", 0, err
	}
	return strings.ToLower(h), n, nil
}

// imageFindings reports every container image that cannot be pulled
// (a versioned image of docker.io/bitnami) and, in the prod profile, a
// site without a registry, and every container image that is outside the
// site's registry, on another port of its host, or without a fixed
// version (the tag latest, or neither tag nor digest).
func imageFindings(r *Release, nodes []*yaml.RNode, prod bool, report func(iface string, obj *yaml.RNode, msg string)) {
	m, key, declared := siteMirror(r)
	if prod && !declared {
		report(registryName, nil, fmt.Sprintf("%s is not set: the prod profile pulls every image through the site's registry; set %s.host (and %s.pullSecret)", key, key, key))
	}
	for _, n := range nodes {
		for _, c := range manifest.ContainerImages(n.YNode()) {
			where := fmt.Sprintf("container %s %s", c.Container, c.Field)
			for _, f := range checkImage(c.Node.Value, prod, m, key, declared) {
				report(f[0], n, where+": "+f[1])
			}
		}
	}
}

// checkImage lists, as (interface, message), what is wrong with one image
// reference: in every profile, that it cannot be pulled; in prod (prod
// true), for a site whose registry is m (declared false: none), that it
// bypasses that registry or names no fixed version.
func checkImage(img string, prod bool, m mirror, key string, declared bool) [][2]string {
	var out [][2]string
	ref, err := name.ParseReference(img)
	if err != nil {
		if !prod {
			return nil
		}
		return [][2]string{{"", fmt.Sprintf("%q is not an image reference (%v): write registry/repository:tag", img, err)}}
	}
	repo := ref.Context()
	if repo.RegistryStr() == name.DefaultRegistry && strings.HasPrefix(repo.RepositoryStr(), "bitnami/") {
		if t, ok := ref.(name.Tag); !ok || t.TagStr() != "latest" {
			legacy := "docker.io/bitnamilegacy/" + strings.TrimPrefix(repo.RepositoryStr(), "bitnami/")
			out = append(out, [2]string{"", fmt.Sprintf("%q cannot be pulled: %s; set the image to %s with the same tag, or pull a maintained image through the site's registry", img, bitnamiMoved, legacy)})
		}
	}
	if !prod {
		return out
	}
	if declared {
		host, port, err := splitRegistry(repo.RegistryStr(), m.implicit)
		switch {
		case err != nil || host != m.host:
			out = append(out, [2]string{registryName, fmt.Sprintf("%q is outside the declared registries: its registry is %s, the site's is %s (%s.host); pull it through %s", img, repo.RegistryStr(), m.spec, key, m.spec)})
		case port != m.port:
			out = append(out, [2]string{registryName, fmt.Sprintf("%q names the registry host %s on port %d, the site declares port %d (%s.host %s); use %s", img, host, port, m.port, key, m.spec, m.spec)})
		case m.path != "" && !strings.HasPrefix(repo.RepositoryStr()+"/", m.path+"/"):
			out = append(out, [2]string{registryName, fmt.Sprintf("%q is outside the declared registries: its repository %s is not under %s (%s.host); pull it through %s", img, repo.RepositoryStr(), m.path, key, m.spec)})
		}
	}
	if t, ok := ref.(name.Tag); ok {
		// The library defaults a missing tag to latest; only the text
		// after the last slash tells a written tag from none.
		last := img[strings.LastIndexByte(img, '/')+1:]
		switch {
		case !strings.Contains(last, ":"):
			out = append(out, [2]string{"", fmt.Sprintf("%q has no tag and no digest: it pulls whatever latest is; pin a version tag (and a digest)", img)})
		case t.TagStr() == "latest":
			out = append(out, [2]string{"", fmt.Sprintf("%q has the tag latest, which moves: pin a version tag (and a digest)", img)})
		}
	}
	return out
}
