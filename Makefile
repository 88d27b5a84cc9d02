# kubectl-svc-trace — developer entry points. `make test` is what CI runs.
GO ?= go
BIN ?= bin/kubectl-svc_trace

.PHONY: build unit verify e2e dns-harness netns-tests dns-cluster release-test helper-image test golden clean

build:
	CGO_ENABLED=0 $(GO) build -trimpath -o $(BIN) ./cmd/kubectl-svc_trace

# The fast suite: unit, golden and fuzz-seed tests; no root, no cluster.
unit:
	$(GO) vet ./...
	bash hack/verify-imports.sh
	$(GO) test -count=1 ./...

# Rewrite golden files after an intended output change (review the diff!).
golden:
	$(GO) test ./pkg/cmd -run Golden -update

# The real-component suites (root):
# - e2e: a real single-node cluster (etcd, kube-apiserver,
#   kube-controller-manager, kube-scheduler, kubelet + containerd + runc,
#   kube-proxy in iptables and nftables mode) built and started by hack/,
#   torn down afterwards;
# - dns-harness: glibc, musl and Go's resolver in network namespaces against
#   a DNS server the test controls, compared query by query with pkg/dnssim.
e2e:
	bash hack/e2e.sh

dns-harness:
	bash hack/dns-harness.sh

# Root-only checks of pkg/rules against the real kernel: the kube-proxy-shaped
# nft generator's output as `nft -f` loads and lists it back.
netns-tests:
	bash hack/install-deps.sh
	SVCT_NETNS_TESTS=1 $(GO) test -count=1 ./pkg/rules -run 'TestNFTGenLikeKernel' -v

# pkg/dnssim against a real CoreDNS (built from the Go module proxy, deployed
# with kubeadm's manifests and Corefile) in the harness cluster, and
# `dns --live` / `--exec` against it.
dns-cluster:
	bash hack/dns-cluster.sh

# The node helper image as a tarball `ctr -n k8s.io images import` accepts;
# prints its reference.
helper-image:
	bash hack/helper-image.sh

# The release as users get it: goreleaser snapshot, the krew manifest
# validated and installed by a real krew, run through a real kubectl.
release-test:
	bash hack/release-test.sh

# Everything CI checks.
test: unit netns-tests dns-harness e2e dns-cluster release-test

clean:
	rm -rf bin dist
