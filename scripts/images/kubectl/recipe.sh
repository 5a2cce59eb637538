# kubectl: the bitnami/kubectl contract (sh, kubectl, coreutils; uid 1001;
# entrypoint kubectl) for the cert-generator Job's fetch and publish steps.
# kubectl is the one scripts/kube-build.sh builds into $DPPS_CACHE; without
# it the image is skipped.
KUBE_VERSION=$(awk '$1 == "k8s.io/kubernetes" { print $2 }' "$root_dir/tools/kube/go.mod")
KUBECTL="$DPPS_CACHE/kube/$KUBE_VERSION/kubectl"
TAG="${KUBE_VERSION#v}-bookworm"
OCIPACK=(-user 1001 -env HOME=/tmp -entrypoint '["kubectl"]' -cmd '["--help"]')

ready() { [ -x "$KUBECTL" ]; }
inputs() { echo "$KUBECTL"; }

setup() {
	install -m 0755 "$KUBECTL" "$root/usr/local/bin/kubectl"
	echo "kubectl=$KUBE_VERSION" >>"$work/packages.extra"
}
