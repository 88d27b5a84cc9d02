# kubectl-svc-trace — developer entry points. `make test` is what CI runs.
GO ?= go
BIN ?= bin/kubectl-svc_trace

.PHONY: build unit verify e2e test golden clean

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

# The real-component suites: a real single-node cluster (etcd, kube-apiserver,
# kube-controller-manager, kube-scheduler, kubelet + containerd + runc,
# kube-proxy) built and started by hack/, torn down afterwards.
e2e:
	bash hack/e2e.sh

# Everything CI checks.
test: unit e2e

clean:
	rm -rf bin dist
