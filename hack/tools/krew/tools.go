//go:build tools

// Package tools pins krew's command-line tools for hack/release-test.sh,
// which builds them from this module with `go build`:
//
//	sigs.k8s.io/krew/cmd/krew                    (installed as kubectl-krew)
//	sigs.k8s.io/krew/cmd/validate-krew-manifest
//
// A separate module, because `go install sigs.k8s.io/krew/cmd/krew@v0.4.4`
// needs the module's version list to check for deprecation, which the module
// proxy CI uses does not serve for sigs.k8s.io/krew; building from a go.mod
// that requires the exact version (and a go.sum that pins every dependency)
// needs only the version itself.
package tools

import (
	_ "sigs.k8s.io/krew/cmd/krew"
	_ "sigs.k8s.io/krew/cmd/validate-krew-manifest"
)
