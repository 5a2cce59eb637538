# The two commands the README opens with: `make demo` and `make test`.
# Every tool is built here from the Go module proxy at a pinned version;
# nothing is downloaded at run time.

GO            ?= go
BIN           := $(CURDIR)/bin
HELM3_VERSION := v3.22.0
HELM4_VERSION := v4.3.1
HELM3         := $(BIN)/helm-$(HELM3_VERSION)
HELM4         := $(BIN)/helm-$(HELM4_VERSION)
PROMETHEUS_VERSION := v0.316.0
PROMETHEUS    := $(BIN)/prometheus-$(PROMETHEUS_VERSION)
PROMTOOL      := $(BIN)/promtool-$(PROMETHEUS_VERSION)
EXAMPLE       ?= ci

export GOFLAGS := -buildvcs=false

.PHONY: all build tools demo test check unit fuzz e2e bench generate release install plugin-install cue-vet lint-values clean FORCE

all: build

build: $(BIN)/dpps-render $(BIN)/dpps-schemagen

$(BIN)/%: FORCE
	$(GO) build -o $@ ./cmd/$*

# Helm binaries, built once per pinned version. The -X flag makes them report
# their full version (Helm's kubeVersion checks read it); -s -w as Helm's own
# Makefile builds them (no debug information: less to link).
$(HELM3):
	GOBIN=$(BIN)/.helm3 $(GO) install -ldflags "-s -w -X helm.sh/helm/v3/internal/version.version=$(HELM3_VERSION)" helm.sh/helm/v3/cmd/helm@$(HELM3_VERSION)
	mv $(BIN)/.helm3/helm $@ && rmdir $(BIN)/.helm3
	ln -sf $(notdir $@) $(BIN)/helm

$(HELM4):
	GOBIN=$(BIN)/.helm4 $(GO) install -ldflags "-s -w -X helm.sh/helm/v4/internal/version.version=$(HELM4_VERSION)" helm.sh/helm/v4/cmd/helm@$(HELM4_VERSION)
	mv $(BIN)/.helm4/helm $@ && rmdir $(BIN)/.helm4
	ln -sf $(notdir $@) $(BIN)/helm4

# Prometheus and promtool (module v0.316.0 is Prometheus 3.16.0; its
# go.mod has no replace directive, so go install builds them as released),
# in one go install so that their shared packages compile once. promtool
# checks and unit-tests the alerting rules dpps-render generates; the server
# runs the observability helm test's script against a real Prometheus
# (charts/dpps/templates/tests/observability.yaml). Only static scrape
# targets are needed: remove_all_sd leaves out every service discovery (and
# its cloud SDKs), and without builtinassets the web UI is absent; the HTTP
# API and the rule commands are all the tests use.
$(PROMETHEUS) $(PROMTOOL) &:
	GOBIN=$(BIN)/.prometheus $(GO) install -tags remove_all_sd -ldflags "-s -w" \
		github.com/prometheus/prometheus/cmd/prometheus@$(PROMETHEUS_VERSION) \
		github.com/prometheus/prometheus/cmd/promtool@$(PROMETHEUS_VERSION)
	mv $(BIN)/.prometheus/prometheus $(PROMETHEUS)
	mv $(BIN)/.prometheus/promtool $(PROMTOOL)
	rmdir $(BIN)/.prometheus

tools: $(HELM3) $(HELM4)

# Render the chart with an example's values through dpps-render, as a user
# would with Helm 4 (the primary path: it post-renders hooks too), and show
# what dpps-render did. The plugin is installed into Helm homes under out/,
# so the user's own Helm is left alone.
HELM4_HOME := $(CURDIR)/out/helm4-home
HELM4_ENV  := HELM_DATA_HOME=$(HELM4_HOME)/data HELM_CONFIG_HOME=$(HELM4_HOME)/config \
	HELM_CACHE_HOME=$(HELM4_HOME)/cache PATH="$(BIN):$$PATH"
demo: build $(HELM4)
	@mkdir -p out
	@$(HELM4_ENV) $(HELM4) plugin list 2>/dev/null | grep -q '^dpps-render' || \
		$(HELM4_ENV) $(HELM4) plugin install ./helm-plugin
	$(HELM4_ENV) $(HELM4) template dpps charts/dpps -f examples/$(EXAMPLE)/values.yaml \
		--post-renderer dpps-render \
		--post-renderer-args=--report=$(CURDIR)/out/report.txt > out/$(EXAMPLE).yaml
	@echo
	@echo "Rendered charts/dpps with examples/$(EXAMPLE) through Helm $(HELM4_VERSION) and the dpps-render plugin into out/$(EXAMPLE).yaml"
	@cat out/report.txt
	@echo "Objects by kind:"
	@grep -E '^kind: ' out/$(EXAMPLE).yaml | sort | uniq -c | sort -rn
	@echo "Monitors and alerts generated for the site's Prometheus (docs/observability.md):"
	@awk '/^kind: (PodMonitor|PrometheusRule)$$/{k=$$2} k!="" && /^  name: /{print "  " k " " $$2; k=""}' out/$(EXAMPLE).yaml

# Every test. CI runs exactly this.
test: check unit fuzz e2e

# Fuzz targets with invariants (transforms/fuzz_test.go, the stream reader,
# the fast parser and the writers against yaml.v3 and against Kubernetes'
# sigs.k8s.io/yaml, lint's positions), each for FUZZTIME (scripts/fuzz.sh,
# which fails a target that executed no input); `go test` allows
# one -fuzz target per package and invocation. FUZZTIME=5m make fuzz runs
# them longer. A failing input lands in the package's testdata/fuzz/ and is
# then replayed by every plain `go test`.
FUZZTIME ?= 10s
FUZZ_TARGETS := \
	./transforms/pipeline:FuzzReadWrite ./transforms/pipeline:FuzzFastEncode \
	./transforms/pipeline:FuzzFastParse ./transforms/pipeline:FuzzReadersAgree \
	./transforms:FuzzProvenance ./transforms:FuzzSecretrefs ./transforms:FuzzNetpol \
	./transforms:FuzzExternals ./transforms:FuzzMonitoring ./transforms:FuzzGuards ./transforms:FuzzImagelock \
	./transforms:FuzzAllTransforms \
	./transforms:FuzzOtel ./transforms:FuzzDashboards ./transforms:FuzzObservability \
	./schema:FuzzLintPositions
fuzz:
	GO=$(GO) FUZZTIME=$(FUZZTIME) scripts/fuzz.sh $(FUZZ_TARGETS)

check: build cue-vet lint-values
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { gofmt -l $$(git ls-files '*.go'); echo "gofmt: files above need formatting"; exit 1; }
	$(GO) vet ./...
	$(GO) mod tidy -diff
	$(BIN)/dpps-schemagen generate --check

# The observability Helm test's script runs under /bin/sh with wget and
# under busybox (examples/observability_test.go): both from Debian.
unit: build tools $(PROMETHEUS) $(PROMTOOL)
	scripts/debian-install.sh wget:wget /bin/busybox:busybox-static
	DPPS_HELM3=$(HELM3) DPPS_HELM4=$(HELM4) DPPS_PROMETHEUS=$(PROMETHEUS) DPPS_PROMTOOL=$(PROMTOOL) DPPS_BUSYBOX=/bin/busybox DPPS_BIN=$(BIN) $(GO) test -race -count=1 ./...

# Debian's PostgreSQL server for examples/replication_test.go (two servers
# on loopback replicate with the settings the chart renders), installed when
# missing; the tests read its bin directory from DPPS_PG_BIN.
unit: postgresql-server
postgresql-server:
	scripts/debian-install.sh pg_ctlcluster:postgresql
export DPPS_PG_BIN = $(firstword $(wildcard /usr/lib/postgresql/*/bin))

# Real-cluster acceptance (docs/e2e.md): a one-node cluster (etcd and
# containerd from Debian; kube-apiserver, controller-manager, scheduler,
# kubelet and kube-proxy from tools/kube; kube-router and CoreDNS from their
# tools modules; images from Debian packages, scripts/images.sh), all built
# once into $DPPS_CACHE (~/.cache/dpps-deploy) outside the clone. Helm 3 and the Helm 4 plugin
# install, upgrade and uninstall the examples; e2e-local's fixtures run,
# take traffic through the generated NetworkPolicies, back up and restore.
# Runs as root. The tests are the e2e/ module's, outside the main module.
e2e: build tools
	DPPS_HELM3=$(HELM3) DPPS_HELM4=$(HELM4) DPPS_BIN=$(BIN) GO=$(GO) scripts/e2e.sh

# Benchmarks, each beside its baseline in the same run (transforms/bench_test.go),
# then the ratios the speed targets are stated in (internal/benchreport), which
# fails when a target is missed. BENCHTIME iterations of every fast case; the
# kustomize cases time one run each whatever BENCHTIME says (one run takes
# 25-120 s at 5,000 objects). Every case runs BENCHCOUNT times and the report
# takes the median: one run of a case varies by 10-30% on a shared 2-core
# machine, enough to flip the linearity ratio. The whole run takes 7-9
# minutes on 2 cores (BENCHCOUNT=1: about 3); the raw output stays in
# out/bench.txt.
BENCHTIME  ?= 10x
BENCHCOUNT ?= 3
bench: build $(HELM3)
	@mkdir -p out
	DPPS_BIN=$(BIN) DPPS_HELM3=$(HELM3) $(GO) test -run '^$$' -bench . -benchmem -benchtime=$(BENCHTIME) -count=$(BENCHCOUNT) -timeout=60m ./transforms/ | tee out/bench.txt
	@echo
	$(GO) run ./internal/benchreport out/bench.txt

generate: build
	$(BIN)/dpps-schemagen generate

# Package charts/dpps at its version (interfaces/release.cue) into
# releases/dpps-VERSION.tgz with the examples' values files of this release
# beside it, in releases/dpps-VERSION/ (scripts/release.sh). Releases are
# immutable: an existing release with other contents is refused. Commit what
# it writes: the e2e upgrade path starts from the previous release.
release: build $(HELM4)
	HELM=$(HELM4) SCHEMAGEN=$(BIN)/dpps-schemagen scripts/release.sh

# The stock CUE CLI on the interface model (go test ./interfaces/ checks the
# same with the Go API, without the CLI).
CUE_VERSION := v0.17.1
$(BIN)/cue:
	GOBIN=$(BIN) $(GO) install cuelang.org/go/cmd/cue@$(CUE_VERSION)

cue-vet: $(BIN)/cue
	cd interfaces && $(BIN)/cue vet -c .

# Lint every example's values against the chart's schema, as a site's CI would.
lint-values: build
	@for f in examples/*/values.yaml; do \
		echo "dpps-schemagen lint -f $$f"; \
		$(BIN)/dpps-schemagen lint -f $$f || exit 1; \
	done

# Rendered manifests for Flux (docs/gitops.md): the render of prod-site and
# examples/sites/$(SITE).yaml through dpps-render, as the Argo CD plugin
# makes it (release and namespace dpps), in $(RENDERED)/$(SITE)/manifests.yaml
# with a kustomization.yaml listing it; CI commits both to the deploy repo
# that Flux's Kustomization applies. A failed render leaves the old files.
SITE     ?=
RENDERED ?= out/rendered
.PHONY: rendered
rendered: build $(HELM3)
	@test -n "$(SITE)" && test -f examples/sites/$(SITE).yaml || { \
		echo "usage: make rendered SITE=<site>, one of: $$(cd examples/sites && ls *.yaml | sed 's/\.yaml$$//' | tr '\n' ' ')" >&2; exit 2; }
	@mkdir -p $(RENDERED)/$(SITE)
	$(HELM3) template dpps charts/dpps --namespace dpps --skip-tests \
		-f examples/prod-site/values.yaml -f examples/sites/$(SITE).yaml \
		--post-renderer $(BIN)/dpps-render > $(RENDERED)/$(SITE)/manifests.yaml.tmp
	mv $(RENDERED)/$(SITE)/manifests.yaml.tmp $(RENDERED)/$(SITE)/manifests.yaml
	printf '%s\n' 'apiVersion: kustomize.config.k8s.io/v1beta1' 'kind: Kustomization' 'resources:' '- manifests.yaml' \
		> $(RENDERED)/$(SITE)/kustomization.yaml

install:
	$(GO) install ./cmd/...

# Helm 4 takes only a plugin as post-renderer: put dpps-render on PATH and
# register helm-plugin/ with a Helm 4 (HELM=/path/to/helm4 to pick one).
HELM ?= helm
plugin-install: install
	$(HELM) plugin install ./helm-plugin

clean:
	rm -rf $(BIN) out
