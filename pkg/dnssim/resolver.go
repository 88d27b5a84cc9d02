package dnssim

import (
	"fmt"
	"strings"
)

// Resolver names a stub resolver whose search walk dnssim models.
type Resolver string

// The resolvers dnssim models. Musl is musl 1.2.4 and later; Musl123 is the
// behaviour of musl 1.2.3 and earlier (back to 1.2.1) where the two differ:
// EAI_NONAME instead of EAI_NODATA for a name without addresses (commit
// 85050ac5), a "." search entry sending a malformed question instead of being
// skipped and a too-long candidate ending the walk (commit 1e7fb12f).
const (
	Glibc   Resolver = "glibc"
	Musl    Resolver = "musl"
	Musl123 Resolver = "musl-1.2.3"
	Go      Resolver = "go"
)

// Resolvers lists every modelled resolver, in the order output shows them.
var resolvers = []Resolver{Glibc, Musl, Musl123, Go}

// AllResolvers returns every modelled resolver.
func AllResolvers() []Resolver { return append([]Resolver(nil), resolvers...) }

// ParseResolver accepts glibc, musl, musl-1.2.3 (also musl-1.2.2, musl-1.2.1,
// which behave the same in everything modelled) and go.
func ParseResolver(s string) (Resolver, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "glibc", "gnu":
		return Glibc, nil
	case "musl", "musl-1.2.4", "musl-1.2.5":
		return Musl, nil
	case "musl-1.2.3", "musl-1.2.2", "musl-1.2.1":
		return Musl123, nil
	case "go", "golang":
		return Go, nil
	}
	return "", fmt.Errorf("unknown resolver %q (want glibc, musl, musl-1.2.3, go or auto)", s)
}

// Family folds the musl versions into Musl, for rules they share.
func (r Resolver) Family() Resolver {
	if r == Musl123 {
		return Musl
	}
	return r
}

// GuessResolver guesses the resolver from a container image reference. It is
// a heuristic and says so: an image name does not tell which libc a binary
// links. Alpine (and images built on it) ship musl; distroless "static" and
// scratch-style images usually carry a static Go binary using Go's pure
// resolver; everything else (Debian, Ubuntu, UBI, distroless base) is glibc.
func GuessResolver(image string) (Resolver, string) {
	img := strings.ToLower(image)
	name := img
	if i := strings.LastIndex(name, "@"); i >= 0 {
		name = name[:i]
	}
	tag := ""
	if i := strings.LastIndex(name, ":"); i > strings.LastIndex(name, "/") {
		name, tag = name[:i], name[i+1:]
	}
	switch {
	case strings.Contains(name, "alpine") || strings.Contains(tag, "alpine"):
		return Musl, fmt.Sprintf("guessed musl from image %q (Alpine-based images use musl)", image)
	case strings.Contains(tag, "musl"):
		return Musl, fmt.Sprintf("guessed musl from image tag %q", tag)
	case strings.Contains(name, "distroless/static") || strings.HasSuffix(name, "/scratch") || name == "scratch":
		return Go, fmt.Sprintf("guessed Go's pure resolver from image %q (static distroless/scratch images usually run a static Go binary)", image)
	case strings.Contains(name, "coredns") || strings.Contains(name, "registry.k8s.io/") || strings.Contains(name, "k8s.gcr.io/"):
		return Go, fmt.Sprintf("guessed Go's pure resolver from image %q (Kubernetes project images are Go binaries on distroless)", image)
	}
	return Glibc, fmt.Sprintf("guessed glibc for image %q (no Alpine/musl/static marker in the name)", image)
}
