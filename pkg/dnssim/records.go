package dnssim

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/netip"
	"sort"
	"strings"

	"sigs.k8s.io/yaml"
)

// RecordSet is the explicit answer data for one name in a records file.
type RecordSet struct {
	A     []string `json:"A,omitempty"`
	AAAA  []string `json:"AAAA,omitempty"`
	CNAME []string `json:"CNAME,omitempty"`
	PTR   []string `json:"PTR,omitempty"`
	SRV   []string `json:"SRV,omitempty"`
	TXT   []string `json:"TXT,omitempty"`
}

// RecordsFile is the --records file: explicit answers that override the
// cluster model, for upstream names nobody can know offline and for what-if
// questions ("what if this name SERVFAILs?").
//
//	records:
//	  www.example.com.: {A: [93.184.216.34]}
//	  old.example.com.: {CNAME: [gone.example.net.]}
//	servfail: [flaky.example.com.]
//	refused: []
//	timeout: [blackhole.example.com.]
//	default: NXDOMAIN        # or NODATA, SERVFAIL, REFUSED, TIMEOUT: every unlisted upstream name
//	ttl: 30
type RecordsFile struct {
	Records  map[string]RecordSet `json:"records,omitempty"`
	Servfail []string             `json:"servfail,omitempty"`
	Refused  []string             `json:"refused,omitempty"`
	Timeout  []string             `json:"timeout,omitempty"`
	Default  string               `json:"default,omitempty"`
	TTL      *uint32              `json:"ttl,omitempty"`
}

// Records is a checked records file, names canonical (lower case, absolute).
type Records struct {
	Source  string
	sets    map[string]RecordSet
	failing map[string]Rcode
	// Default is NXDOMAIN, NOERROR (NODATA) or "" (unknown: assume).
	Default Rcode
	TTL     uint32
}

// ParseRecords reads a records file (YAML or JSON). Unknown fields, bad
// addresses, malformed names, a name listed twice and an unknown default are
// errors naming the file and the entry.
func ParseRecords(source string, data []byte) (*Records, error) {
	if source == "" {
		source = "records"
	}
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, fmt.Errorf("%s: empty records file", source)
	}
	js, err := yaml.YAMLToJSON(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", source, err)
	}
	var f RecordsFile
	dec := json.NewDecoder(bytes.NewReader(js))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&f); err != nil {
		return nil, fmt.Errorf("%s: %w (want keys records, servfail, refused, timeout, default, ttl)", source, err)
	}
	r := &Records{Source: source, sets: map[string]RecordSet{}, failing: map[string]Rcode{}, TTL: 30}
	if f.TTL != nil {
		r.TTL = *f.TTL
	}
	switch strings.ToUpper(f.Default) {
	case "":
	case "NXDOMAIN":
		r.Default = NXDOMAIN
	case "NODATA":
		r.Default = NOERROR
	case "SERVFAIL", "REFUSED", "TIMEOUT":
		// What an unreachable or broken upstream gives: CoreDNS's forward
		// plugin answers SERVFAIL when no upstream replies.
		r.Default = Rcode(strings.ToUpper(f.Default))
	default:
		return nil, fmt.Errorf("%s: default: %q: want NXDOMAIN, NODATA, SERVFAIL, REFUSED or TIMEOUT", source, f.Default)
	}
	seen := map[string]string{}
	claim := func(name, where string) (string, error) {
		c, err := checkName(name)
		if err != nil {
			return "", fmt.Errorf("%s: %s: %w", source, where, err)
		}
		if prev, ok := seen[c]; ok {
			return "", fmt.Errorf("%s: %s: %q is already listed in %s", source, where, name, prev)
		}
		seen[c] = where
		return c, nil
	}
	names := make([]string, 0, len(f.Records))
	for n := range f.Records {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		set := f.Records[n]
		where := fmt.Sprintf("records[%q]", n)
		c, err := claim(n, where)
		if err != nil {
			return nil, err
		}
		for i, a := range set.A {
			if ip, err := netip.ParseAddr(a); err != nil || !ip.Is4() {
				return nil, fmt.Errorf("%s: %s.A[%d]: %q is not an IPv4 address", source, where, i, a)
			}
		}
		for i, a := range set.AAAA {
			if ip, err := netip.ParseAddr(a); err != nil || !ip.Is6() || ip.Is4In6() {
				return nil, fmt.Errorf("%s: %s.AAAA[%d]: %q is not an IPv6 address", source, where, i, a)
			}
		}
		if len(set.CNAME) > 1 {
			return nil, fmt.Errorf("%s: %s.CNAME: a name has at most one CNAME (got %d)", source, where, len(set.CNAME))
		}
		if len(set.CNAME) == 1 {
			if len(set.A)+len(set.AAAA)+len(set.PTR)+len(set.SRV)+len(set.TXT) > 0 {
				return nil, fmt.Errorf("%s: %s: a CNAME cannot coexist with other data (RFC 1034 §3.6.2)", source, where)
			}
			t, err := checkName(set.CNAME[0])
			if err != nil {
				return nil, fmt.Errorf("%s: %s.CNAME[0]: %w", source, where, err)
			}
			set.CNAME = []string{t}
		}
		for i, p := range set.PTR {
			t, err := checkName(p)
			if err != nil {
				return nil, fmt.Errorf("%s: %s.PTR[%d]: %w", source, where, i, err)
			}
			set.PTR[i] = t
		}
		for i, s := range set.SRV {
			if f := strings.Fields(s); len(f) != 4 {
				return nil, fmt.Errorf("%s: %s.SRV[%d]: %q: want \"priority weight port target\"", source, where, i, s)
			}
		}
		r.sets[c] = set
	}
	for _, l := range []struct {
		key   string
		names []string
		rc    Rcode
	}{{"servfail", f.Servfail, SERVFAIL}, {"refused", f.Refused, REFUSED}, {"timeout", f.Timeout, TIMEOUT}} {
		for i, n := range l.names {
			c, err := claim(n, fmt.Sprintf("%s[%d]", l.key, i))
			if err != nil {
				return nil, err
			}
			r.failing[c] = l.rc
		}
	}
	return r, nil
}

// checkName validates a domain name in presentation form and returns it
// canonical: at most 253 characters before the final dot, labels of 1-63
// characters, no whitespace.
func checkName(n string) (string, error) {
	if n == "" {
		return "", fmt.Errorf("empty name")
	}
	if n == "." {
		return ".", nil
	}
	c := Canonical(n)
	body := strings.TrimSuffix(c, ".")
	if len(body) > 253 {
		return "", fmt.Errorf("%q: longer than 253 characters", n)
	}
	for _, label := range strings.Split(body, ".") {
		if label == "" {
			return "", fmt.Errorf("%q: empty label", n)
		}
		if len(label) > 63 {
			return "", fmt.Errorf("%q: label %q is longer than 63 characters", n, label)
		}
		if strings.ContainsAny(label, " \t\r\n\"\\") {
			return "", fmt.Errorf("%q: label %q contains a space, quote or backslash", n, label)
		}
	}
	return c, nil
}

// Lookup answers q from the file. ok is false when the file says nothing
// about the name (neither listed nor covered by a default).
func (r *Records) Lookup(q Question) (Response, bool) {
	if r == nil {
		return Response{}, false
	}
	return r.lookup(Canonical(q.Name), q.Type, 0)
}

func (r *Records) lookup(name, qtype string, depth int) (Response, bool) {
	src := "records"
	if rc, ok := r.failing[name]; ok {
		return Response{Rcode: rc, Answers: []RR{}, Source: src, Why: fmt.Sprintf("%s lists %s under %s", r.Source, name, strings.ToLower(string(rc)))}, true
	}
	set, ok := r.sets[name]
	if !ok {
		return Response{}, false
	}
	resp := Response{Rcode: NOERROR, Answers: []RR{}, Source: src, Why: fmt.Sprintf("%s lists %s", r.Source, name)}
	if len(set.CNAME) == 1 && qtype != "CNAME" {
		resp.Answers = append(resp.Answers, RR{Name: name, Type: "CNAME", TTL: r.TTL, Data: set.CNAME[0]})
		if depth >= 8 {
			return resp, true
		}
		// A recursive server follows the chain and returns the target's
		// rcode with the CNAMEs (RFC 6604); an unknown target leaves the
		// CNAME alone in a NOERROR reply.
		next, ok := r.lookup(set.CNAME[0], qtype, depth+1)
		if !ok {
			switch r.Default {
			case NXDOMAIN:
				resp.Rcode = NXDOMAIN
			case SERVFAIL, REFUSED, TIMEOUT:
				// The recursive server cannot complete the chain.
				resp.Rcode = SERVFAIL
			}
			return resp, true
		}
		resp.Rcode = next.Rcode
		resp.Answers = append(resp.Answers, next.Answers...)
		return resp, true
	}
	var data []string
	switch qtype {
	case "A":
		data = set.A
	case "AAAA":
		data = set.AAAA
	case "CNAME":
		data = set.CNAME
	case "PTR":
		data = set.PTR
	case "SRV":
		data = set.SRV
	case "TXT":
		data = set.TXT
	}
	for _, d := range data {
		resp.Answers = append(resp.Answers, RR{Name: name, Type: qtype, TTL: r.TTL, Data: d})
	}
	return resp, true
}

// Default answers an unlisted name from the file's default, if it has one.
func (r *Records) defaultAnswer(q Question) (Response, bool) {
	if r == nil || r.Default == "" {
		return Response{}, false
	}
	label := string(r.Default)
	if r.Default == NOERROR {
		label = "NODATA"
	}
	return Response{Rcode: r.Default, Answers: []RR{}, Source: "records-default",
		Why: fmt.Sprintf("%s: default %s for unlisted names", r.Source, label)}, true
}

// Layered is the answerer a lookup talks to: the --records file first (it
// overrides everything), then the cluster model for names in its zones, then
// the records file's default, and last an assumption for upstream names.
type Layered struct {
	Records *Records
	// Cluster is nil when the pod's nameservers are not cluster DNS (e.g.
	// dnsPolicy Default): cluster names are then unknown upstream names.
	Cluster *Cluster
}

// Answer implements Answerer. When the pod talks to cluster DNS, every reply
// leaves CoreDNS through its cache plugin, which rewrites TTLs and may serve
// it again later (CachePlugin.Apply).
func (l Layered) Answer(q Question) Response {
	r := l.answer(q)
	if l.Cluster != nil {
		r = l.Cluster.Cache.Apply(Canonical(q.Name), r)
	}
	return r
}

func (l Layered) answer(q Question) Response {
	if r, ok := l.Records.Lookup(q); ok {
		return r
	}
	if l.Cluster != nil {
		c := *l.Cluster
		if c.Upstream == nil {
			// CoreDNS resolves ExternalName targets and falls through
			// reverse names via its forward plugin: the same upstream.
			c.Upstream = upstreamOnly{l.Records}
		}
		if r, ok := c.Answer(q); ok {
			return r
		}
	}
	return upstreamOnly{l.Records}.Answer(q)
}

// upstreamOnly is what CoreDNS's forward plugin would get from upstream: the
// records file, its default, or an assumption.
type upstreamOnly struct{ records *Records }

func (u upstreamOnly) Answer(q Question) Response {
	if r, ok := u.records.Lookup(q); ok {
		return r
	}
	if r, ok := u.records.defaultAnswer(q); ok {
		return r
	}
	return assumedUpstream(q)
}

// assumedUpstream is the answer for a name outside every known zone when no
// records file speaks for it: assume it exists with an IPv4 address only,
// and say so. Output marks every such answer as assumed.
func assumedUpstream(q Question) Response {
	if !strings.Contains(strings.TrimSuffix(q.Name, "."), ".") {
		// A single label is a top-level domain to the upstream resolver:
		// the root zone answers NXDOMAIN for anything but real TLDs.
		return Response{Rcode: NXDOMAIN, Answers: []RR{}, Source: "upstream-default", Assumed: true,
			Why: "a single-label name goes upstream as a top-level domain: assumed NXDOMAIN from the root; use --records to say otherwise"}
	}
	resp := Response{Rcode: NOERROR, Answers: []RR{}, Source: "upstream-default", Assumed: true,
		Why: "outside the cluster domain: forwarded upstream; the answer is unknown offline and assumed to exist with IPv4 only (192.0.2.1 is a placeholder, RFC 5737); use --records to say otherwise"}
	if q.Type == "A" {
		resp.Answers = append(resp.Answers, RR{Name: Canonical(q.Name), Type: "A", TTL: 0, Data: "192.0.2.1"})
	}
	return resp
}
