// Package helmtest runs dpps-render as a post-renderer of the real Helm 3
// and Helm 4 binaries, on the small umbrella chart in testdata/. It holds
// tests only.
//
// The binaries come from the environment, as `make unit` sets it:
//
//	DPPS_HELM3  path of a Helm 3 binary (bin/helm-v3.22.0)
//	DPPS_HELM4  path of a Helm 4 binary (bin/helm-v4.3.1)
//	DPPS_BIN    directory holding the dpps-render binary (bin/)
//
// Without them the Helm tests skip, unless CI is set, where they fail. Each
// test gives Helm its own HOME, HELM_DATA_HOME, HELM_CONFIG_HOME and
// HELM_CACHE_HOME under t.TempDir(), and a KUBECONFIG that does not exist:
// nothing touches the user's Helm setup, a cluster or the network.
//
// What the tests pin down, and docs/helm.md explains:
//   - Helm 3 post-renders everything but hooks; hooks are printed after the
//     post-renderer's output, untouched. `helm template --include-crds` puts
//     crds/ through the post-renderer too; `--output-dir` writes the files
//     before post-rendering and runs the post-renderer on an empty stream.
//   - Helm 4 runs only postrenderer/v1 plugins; hooks go through it with the
//     rest, crds/ never does, `--output-dir` files are post-rendered, the
//     post-renderer's stderr is dropped on failure, and Helm removes its
//     postrenderer.helm.sh/postrender-filename annotation afterwards.
package helmtest
