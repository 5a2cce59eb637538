package main

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"
	rspb "helm.sh/helm/v3/pkg/release"

	"github.com/ctao/dpps-deploy/internal/helmrelease/apitest"
)

// TestFromReleaseScripts pins upgrade-check --from-release against an API
// server (internal/helmrelease/apitest) holding the releases Helm's own
// storage driver stored from each script's files
// stored/NAMESPACE/RELEASE/REVISION-STATUS-CHARTVERSION.yaml (the manifest
// of that revision). $SERVER is the server's URL; $KUBECONFIG a kubeconfig
// for it whose context's namespace is dpps; $DENIED one whose user has no
// access (403).
func TestFromReleaseScripts(t *testing.T) {
	testscript.Run(t, testscript.Params{
		Dir:           "testdata/fromrelease",
		UpdateScripts: *update,
		Setup: func(env *testscript.Env) error {
			byNS := map[string][]*rspb.Release{}
			dir := filepath.Join(env.WorkDir, "stored")
			err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
				if err != nil || d.IsDir() {
					return err
				}
				rel, _ := filepath.Rel(dir, p)
				parts := strings.Split(rel, string(filepath.Separator))
				fields := strings.SplitN(strings.TrimSuffix(parts[len(parts)-1], ".yaml"), "-", 3)
				if len(parts) != 3 || len(fields) != 3 {
					return fmt.Errorf("%s: want stored/NAMESPACE/RELEASE/REVISION-STATUS-CHARTVERSION.yaml", rel)
				}
				rev, err := strconv.Atoi(fields[0])
				if err != nil {
					return fmt.Errorf("%s: %v", rel, err)
				}
				manifest, err := os.ReadFile(p)
				if err != nil {
					return err
				}
				byNS[parts[0]] = append(byNS[parts[0]], apitest.Release(parts[1], parts[0], rev, rspb.Status(fields[1]), fields[2], string(manifest)))
				return nil
			})
			if err != nil {
				return err
			}
			cs, err := apitest.Store("")
			if err != nil {
				return err
			}
			var namespaces []string
			for ns, rels := range byNS {
				namespaces = append(namespaces, ns)
				if err := apitest.StoreInto(cs, ns, rels...); err != nil {
					return err
				}
			}
			srv := apitest.Server(cs, append(namespaces, "empty")...)
			env.Defer(srv.Close)
			good := filepath.Join(env.WorkDir, "kubeconfig")
			denied := filepath.Join(env.WorkDir, "denied.kubeconfig")
			if err := apitest.Kubeconfig(good, srv, srv.URL, "a-token-never-printed", "dpps"); err != nil {
				return err
			}
			if err := apitest.Kubeconfig(denied, srv, srv.URL, apitest.DeniedToken, "dpps"); err != nil {
				return err
			}
			env.Setenv("SERVER", srv.URL)
			env.Setenv("KUBECONFIG", good)
			env.Setenv("DENIED", denied)
			env.Setenv("HOME", env.WorkDir)
			return nil
		},
	})
}
