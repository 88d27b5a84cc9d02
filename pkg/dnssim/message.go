package dnssim

import (
	"fmt"
	"net/netip"
	"strings"
)

// Rcode is a DNS response code as dnssim reports it. TIMEOUT is not a wire
// rcode: it means no reply arrived, which each resolver handles differently.
type Rcode string

// Response codes dnssim models.
const (
	NOERROR  Rcode = "NOERROR"
	NXDOMAIN Rcode = "NXDOMAIN"
	SERVFAIL Rcode = "SERVFAIL"
	REFUSED  Rcode = "REFUSED"
	TIMEOUT  Rcode = "TIMEOUT"
)

// RR is one resource record of an answer.
type RR struct {
	Name string `json:"name"`
	Type string `json:"type"`
	TTL  uint32 `json:"ttl"`
	// Data is the RDATA in presentation form: an address for A/AAAA, the
	// target for CNAME/PTR, "priority weight port target" for SRV.
	Data string `json:"data"`
}

// Response is what a nameserver answers one question.
type Response struct {
	Rcode   Rcode `json:"rcode"`
	Answers []RR  `json:"answers"`
	// Additional holds SRV target addresses, as CoreDNS sends them.
	Additional []RR `json:"additional,omitempty"`
	// Source says who decided the answer: "cluster" (CoreDNS kubernetes
	// plugin model), "records" (the --records file), "upstream-default"
	// (nobody knows: an assumption) or "no-cluster-dns".
	Source string `json:"source"`
	// Assumed marks answers nobody can know offline (names outside the
	// cluster domain without a --records entry).
	Assumed bool `json:"assumed,omitempty"`
	// Why explains the answer in the model's terms (which CoreDNS rule).
	Why string `json:"why,omitempty"`
	// Cacheable marks a reply CoreDNS's cache plugin may serve again from
	// its cache, with TTLs counted down from the ones shown (CachePlugin).
	Cacheable bool `json:"cacheable,omitempty"`
}

// NoData reports NOERROR without answer records (NODATA).
func (r Response) NoData() bool { return r.Rcode == NOERROR && len(r.Answers) == 0 }

// Addresses returns the A/AAAA data of the answer section.
func (r Response) Addresses() []string {
	var out []string
	for _, a := range r.Answers {
		if a.Type == "A" || a.Type == "AAAA" {
			out = append(out, a.Data)
		}
	}
	return out
}

// Label is the short text a table shows: NXDOMAIN, NODATA, CNAME x, 1.2.3.4.
func (r Response) Label() string {
	switch {
	case r.Rcode != NOERROR:
		return string(r.Rcode)
	case len(r.Answers) == 0:
		return "NODATA"
	}
	var parts []string
	for _, a := range r.Answers {
		if a.Type == "CNAME" {
			parts = append(parts, "CNAME "+a.Data)
		} else {
			parts = append(parts, a.Data)
		}
	}
	return strings.Join(parts, ", ")
}

// Question is one DNS question.
type Question struct {
	// Name is fully qualified, lower-case, with the trailing dot.
	Name string `json:"name"`
	Type string `json:"type"`
}

// Answerer answers questions: the cluster DNS model, the records file, or
// both layered (see Layered).
type Answerer interface {
	Answer(q Question) Response
}

// AddrFamily is the address family a lookup asks for.
type AddrFamily string

// Families: Any is getaddrinfo(AF_UNSPEC) / Go LookupIP("ip"): an A + AAAA
// pair per candidate; IPv4 is AF_INET / "ip4": A only; IPv6 is AF_INET6
// without AI_V4MAPPED / "ip6": AAAA only.
const (
	FamilyAny  AddrFamily = "any"
	FamilyIPv4 AddrFamily = "ipv4"
	FamilyIPv6 AddrFamily = "ipv6"
)

// ParseFamily accepts any, ipv4, ipv6 (and unspec, inet, inet6, ip, ip4, ip6).
func ParseFamily(s string) (AddrFamily, error) {
	switch strings.ToLower(s) {
	case "", "any", "unspec", "ip":
		return FamilyAny, nil
	case "ipv4", "inet", "ip4", "4":
		return FamilyIPv4, nil
	case "ipv6", "inet6", "ip6", "6":
		return FamilyIPv6, nil
	}
	return "", fmt.Errorf("unknown address family %q (want any, ipv4 or ipv6)", s)
}

// Types returns the query types one round sends, in the order sent (A first:
// glibc __res_context_query builds A then AAAA; musl name_from_dns queues A
// then AAAA).
func (f AddrFamily) Types() []string {
	switch f {
	case FamilyIPv4:
		return []string{"A"}
	case FamilyIPv6:
		return []string{"AAAA"}
	}
	return []string{"A", "AAAA"}
}

// Wants reports whether an address belongs to the family.
func (f AddrFamily) Wants(a netip.Addr) bool {
	switch f {
	case FamilyIPv4:
		return a.Unmap().Is4()
	case FamilyIPv6:
		return a.Is6() && !a.Is4In6()
	}
	return a.IsValid()
}

// Canonical lower-cases a name and makes it absolute.
func Canonical(name string) string {
	name = strings.ToLower(name)
	if !strings.HasSuffix(name, ".") {
		name += "."
	}
	return name
}
