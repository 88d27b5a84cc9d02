package dnssim

import (
	"fmt"
	"net/netip"
	"strings"
)

// Lookup is one name lookup to simulate.
type Lookup struct {
	// Name as the application passes it to getaddrinfo / LookupIP.
	Name     string
	Resolver Resolver
	Family   AddrFamily
	// Config is the pod's resolv.conf as this resolver reads it
	// (ResolvConf.Config(Resolver)).
	Config Config
	// Hosts is the pod's /etc/hosts (nil: empty).
	Hosts *Hosts
	// Server answers every question. All nameservers in Config are assumed
	// to answer alike (they are replicas of cluster DNS); retries therefore
	// repeat the same answer.
	Server Answerer
}

// SentQuery is one question the resolver sends, in order.
type SentQuery struct {
	Round int    `json:"round"`
	Name  string `json:"name"`
	Type  string `json:"type"`
	// Server is the nameserver the packet goes to.
	Server string `json:"server"`
	// Try counts resends of the same question (1 = first send).
	Try     int    `json:"try"`
	Rcode   Rcode  `json:"rcode"`
	Answers []RR   `json:"answers"`
	Source  string `json:"source,omitempty"`
	Assumed bool   `json:"assumed,omitempty"`
	Why     string `json:"why,omitempty"`
}

// Round is one candidate name and what the resolver did with its replies.
type Round struct {
	N    int    `json:"n"`
	Name string `json:"name"`
	// Outcome summarises the replies: "addresses", "NXDOMAIN", "NODATA",
	// "CNAME-only", "SERVFAIL", "REFUSED", "TIMEOUT", "not-sent".
	Outcome string `json:"outcome"`
	// Next is what the resolver does next: "stop", "next-candidate",
	// "abandon-search" (glibc: skip to the bare name).
	Next string `json:"next"`
	Why  string `json:"why"`
}

// Walk is the simulated lookup: every candidate, every packet, the result.
type Walk struct {
	Name     string     `json:"name"`
	Resolver Resolver   `json:"resolver"`
	Family   AddrFamily `json:"family"`
	// Candidates are the names the resolver would try, in order, if none
	// succeeded (the walk may stop earlier).
	Candidates []string `json:"candidates"`
	// HostsHit is set when /etc/hosts answered and no DNS query was sent.
	HostsHit bool        `json:"hostsHit,omitempty"`
	Rounds   []Round     `json:"rounds"`
	Queries  []SentQuery `json:"queries"`
	// Packets counts queries sent. PacketsAtLeast marks a lower bound (musl
	// resends a SERVFAILed or unanswered question until its timeout).
	Packets        int  `json:"packets"`
	PacketsAtLeast bool `json:"packetsAtLeast,omitempty"`
	// NXDomainRounds counts rounds answered NXDOMAIN (the seed material's
	// "wasted" queries).
	NXDomainRounds int `json:"nxdomainRounds"`
	// Status is "ok" or "fail".
	Status        string   `json:"status"`
	Addresses     []string `json:"addresses"`
	CanonicalName string   `json:"canonicalName,omitempty"`
	// AnsweredBy is the candidate that produced the addresses.
	AnsweredBy string `json:"answeredBy,omitempty"`
	// Error is the failure in the resolver's own terms: EAI_NONAME,
	// EAI_NODATA, EAI_AGAIN, EAI_FAIL for getaddrinfo; Go's *net.DNSError
	// text for Go.
	Error string `json:"error,omitempty"`
	// Assumed is set when any answer the walk depends on is an assumption
	// (upstream names without a --records entry).
	Assumed bool     `json:"assumed,omitempty"`
	Notes   []string `json:"notes,omitempty"`
}

// RoundCount is the number of candidates actually asked.
func (w *Walk) RoundCount() int {
	n := 0
	for _, r := range w.Rounds {
		if r.Outcome != "not-sent" {
			n++
		}
	}
	return n
}

// Candidates returns the names resolver r tries for name, in order, with the
// config's search list and ndots. Every name is returned fully qualified.
//
//   - glibc: res_query.c __res_context_search: a trailing dot → the name only;
//     dots >= ndots → the name as-is first, then every search domain; fewer
//     dots → every search domain then the bare name, which is dropped for a
//     dot-less name under "options no-tld-query"; a "." entry queries the bare
//     name in its place and suppresses the final one.
//   - musl: lookup_name.c name_from_dns_search: a trailing dot or dots >=
//     ndots → the name only ("failure in the root scope is final", commit
//     3d6e2e47); otherwise search domains whose concatenation is under 256
//     characters, then the bare name.
//   - Go: dnsclient_unix.go (*dnsConfig).nameList: a rooted name only; as-is
//     first when dots >= ndots; suffixed names over 254 characters dropped;
//     "." entries were already skipped by dnsReadConfig.
func Candidates(r Resolver, c Config, name string) []string {
	if name == "" {
		return nil
	}
	rooted := strings.HasSuffix(name, ".")
	if rooted {
		if r.Family() == Go && goAvoidDNS(name) {
			return nil
		}
		return []string{name}
	}
	dots := strings.Count(name, ".")
	var out []string
	switch r.Family() {
	case Musl:
		if dots >= c.Ndots {
			return []string{name + "."}
		}
		for _, d := range c.Search {
			if len(name)+1+len(d) < 256 {
				out = append(out, joinDomain(name, d))
			}
		}
		return append(out, name+".")
	case Go:
		if len(name) >= 254 {
			return nil
		}
		has := dots >= c.Ndots
		if has && !goAvoidDNS(name) {
			out = append(out, name+".")
		}
		for _, d := range c.Search {
			if d == "." {
				continue
			}
			fq := name + "." + d + "."
			if len(fq) <= 254 && !goAvoidDNS(fq) {
				out = append(out, fq)
			}
		}
		if !has && !goAvoidDNS(name) {
			out = append(out, name+".")
		}
		return out
	default:
		asIsFirst := dots >= c.Ndots
		root := false
		if asIsFirst {
			out = append(out, name+".")
		}
		for _, d := range c.Search {
			if d == "." || d == "" {
				root = true
				out = append(out, name+".")
				continue
			}
			out = append(out, name+"."+d+".")
		}
		searched := len(c.Search) > 0
		if (dots > 0 || !searched || !c.NoTLDQuery) && !(asIsFirst || root) {
			out = append(out, name+".")
		}
		return out
	}
}

// goAvoidDNS mirrors net.avoidDNS: Go never sends a .onion name to DNS
// (RFC 7686). It is checked per candidate, so "hidden.onion" still sends
// its search-suffixed names and only the bare name is dropped.
func goAvoidDNS(name string) bool {
	n := strings.ToLower(strings.TrimSuffix(name, "."))
	return n == "" || strings.HasSuffix(n, ".onion")
}

// joinDomain builds musl's candidate text "name.domain" made absolute; a
// domain already ending in '.' keeps its single dot (res_mkquery strips one).
// A "." domain yields "name.." which musl 1.2.3 sends as a malformed question.
func joinDomain(name, d string) string {
	s := name + "." + d
	if d == "." {
		return s
	}
	if !strings.HasSuffix(s, ".") {
		s += "."
	}
	return s
}

// Simulate runs the lookup for its resolver.
func Simulate(l Lookup) *Walk {
	if l.Family == "" {
		l.Family = FamilyAny
	}
	w := &Walk{Name: l.Name, Resolver: l.Resolver, Family: l.Family, Rounds: []Round{}, Queries: []SentQuery{}, Addresses: []string{}}
	w.Candidates = Candidates(l.Resolver, l.Config, l.Name)
	if len(w.Candidates) == 0 {
		w.Candidates = []string{}
	}
	if len(l.Config.Nameservers) == 0 {
		l.Config.Nameservers = []string{"127.0.0.1"}
		w.Notes = append(w.Notes, "no usable nameserver line: the resolver falls back to 127.0.0.1 (Go also ::1)")
	}
	// Literal addresses never reach DNS (musl name_from_numeric, glibc
	// inet_aton/inet_pton in gaih_inet, Go's ParseAddr in lookupIPAddr).
	if a, err := netip.ParseAddr(l.Name); err == nil {
		if l.Family.Wants(a) {
			w.Status, w.Addresses = "ok", []string{a.String()}
		} else {
			w.Status, w.Error = "fail", errFamily(l.Resolver)
		}
		w.Notes = append(w.Notes, "an IP literal: no DNS query is sent")
		return w
	}
	if addrs, canon := l.Hosts.Lookup(l.Resolver, l.Name, l.Family); len(addrs) > 0 {
		w.HostsHit, w.Status, w.Addresses, w.CanonicalName = true, "ok", addrs, canon
		w.Notes = append(w.Notes, "answered from /etc/hosts (kubelet writes the pod's own hostname there): no DNS query is sent")
		return w
	}
	switch l.Resolver.Family() {
	case Musl:
		simulateMusl(l, w)
	case Go:
		simulateGo(l, w)
	default:
		simulateGlibc(l, w)
	}
	if w.Status == "" {
		w.Status = "fail"
	}
	for _, r := range w.Rounds {
		if r.Outcome == "NXDOMAIN" {
			w.NXDomainRounds++
		}
	}
	for _, q := range w.Queries {
		if q.Assumed {
			w.Assumed = true
		}
	}
	return w
}

func errFamily(r Resolver) string {
	if r.Family() == Go {
		return "no suitable address"
	}
	return "EAI_ADDRFAMILY"
}

// ask sends one question to every server / attempt the resolver would use for
// an unanswered or failed question and returns the accepted reply. retries
// reports whether the resolver resends on rc.
type sendPolicy func(rc Rcode) bool

func (w *Walk) send(l Lookup, round int, name, qtype string, retry sendPolicy) Response {
	q := Question{Name: name, Type: qtype}
	resp := l.Server.Answer(q)
	tries := 0
	for a := 0; a < max(l.Config.Attempts, 1); a++ {
		for _, ns := range l.Config.Nameservers {
			tries++
			w.Queries = append(w.Queries, SentQuery{Round: round, Name: name, Type: qtype, Server: ns, Try: tries,
				Rcode: resp.Rcode, Answers: nonNil(resp.Answers), Source: resp.Source, Assumed: resp.Assumed, Why: resp.Why})
			w.Packets++
			if !retry(resp.Rcode) {
				return resp
			}
		}
	}
	return resp
}

func isFailure(rc Rcode) bool { return rc == SERVFAIL || rc == REFUSED || rc == TIMEOUT }

func nonNil(rr []RR) []RR {
	if rr == nil {
		return []RR{}
	}
	return rr
}

func hasType(rr []RR, t string) bool {
	for _, r := range rr {
		if r.Type == t {
			return true
		}
	}
	return false
}

// outcome names a set of replies for one round.
func outcome(resps []Response) string {
	addr, cname := false, false
	for _, r := range resps {
		if r.Rcode == NOERROR && len(r.Addresses()) > 0 {
			addr = true
		}
		if r.Rcode == NOERROR && hasType(r.Answers, "CNAME") {
			cname = true
		}
	}
	switch {
	case addr:
		return "addresses"
	case cname:
		return "CNAME-only"
	}
	for _, want := range []Rcode{TIMEOUT, SERVFAIL, REFUSED, NXDOMAIN} {
		for _, r := range resps {
			if r.Rcode == want {
				return string(want)
			}
		}
	}
	return "NODATA"
}

// ---------------------------------------------------------------- glibc

// glibc h_errno values, as __res_context_query sets them.
const (
	hostNotFound = "HOST_NOT_FOUND"
	tryAgain     = "TRY_AGAIN"
	noRecovery   = "NO_RECOVERY"
	noData       = "NO_DATA"
)

// simulateGlibc mirrors resolv/res_query.c __res_context_search (the search
// walk), __res_context_query (the A+AAAA pair and its h_errno) and
// res_send.c (retries: attempts × nameservers on SERVFAIL, REFUSED or no
// reply), then nss/getaddrinfo.c's mapping of h_errno to EAI_*.
func simulateGlibc(l Lookup, w *Walk) {
	types := l.Family.Types()
	if l.Config.NoAAAA && l.Family == FamilyAny {
		types = []string{"A"}
		w.Notes = append(w.Notes, "options no-aaaa: glibc sends A queries only")
	}
	name := l.Name
	trailing := strings.HasSuffix(name, ".")
	dots := strings.Count(strings.TrimSuffix(name, "."), ".")
	round := 0
	// query runs one candidate; ok reports success, herr the h_errno,
	// lastRcode the rcode the answer buffer holds (hp->rcode).
	query := func(fq string) (ok bool, herr string, rc Rcode, resps []Response) {
		round++
		if len(strings.TrimSuffix(fq, ".")) > 253 {
			// res_nmkquery → dn_comp cannot encode a name over 255 wire
			// octets: __res_context_query sets NO_RECOVERY, nothing is sent.
			return false, noRecovery, "", nil
		}
		for _, t := range types {
			resps = append(resps, l.Server.Answer(Question{Name: fq, Type: t}))
		}
		// send_dg: the pair goes out back to back on one socket; a first
		// reply that is SERVFAIL, REFUSED or missing abandons this server
		// (next_ns) and the whole pair is resent to the next server and
		// attempt; a failed second reply after a good first is accepted
		// (no strict-error). Replies arrive in question order.
		tries := 1
		if isFailure(resps[0].Rcode) {
			tries = max(l.Config.Attempts, 1) * len(l.Config.Nameservers)
		} else if len(resps) > 1 && isFailure(resps[1].Rcode) {
			w.Notes = append(w.Notes, fmt.Sprintf("%s: the AAAA reply failed (%s) next to a good A reply; glibc accepts the A reply without strict-error", fq, resps[1].Rcode))
		}
		for try := 0; try < tries; try++ {
			ns := l.Config.Nameservers[try%len(l.Config.Nameservers)]
			for i, t := range types {
				r := resps[i]
				w.Queries = append(w.Queries, SentQuery{Round: round, Name: fq, Type: t, Server: ns, Try: try + 1,
					Rcode: r.Rcode, Answers: nonNil(r.Answers), Source: r.Source, Assumed: r.Assumed, Why: r.Why})
				w.Packets++
			}
		}
		for _, r := range resps {
			if r.Rcode == NOERROR && len(r.Answers) > 0 {
				return true, "", NOERROR, resps
			}
		}
		first := resps[0]
		rc = first.Rcode
		if isFailure(rc) {
			// Every server and attempt failed: __res_context_send returns
			// -1 and __res_context_query sets TRY_AGAIN whatever the
			// reason (SERVFAIL, REFUSED or no reply); the answer buffer
			// keeps the last rcode, which the search loop inspects.
			return false, tryAgain, rc, resps
		}
		if rc == NOERROR && len(resps) > 1 {
			rc = resps[1].Rcode
		}
		switch rc {
		case NXDOMAIN:
			herr = hostNotFound
		case SERVFAIL, TIMEOUT:
			herr = tryAgain
		case NOERROR:
			herr = noData
		default:
			herr = noRecovery
		}
		return false, herr, rc, resps
	}
	finish := func(fq string, resps []Response) {
		w.Status, w.AnsweredBy = "ok", fq
		for _, r := range resps {
			w.Addresses = append(w.Addresses, r.Addresses()...)
			for _, a := range r.Answers {
				if a.Type == "CNAME" && w.CanonicalName == "" {
					w.CanonicalName = a.Data
				}
			}
		}
		if len(w.Addresses) == 0 {
			// A CNAME-only answer ends the search (ANCOUNT>0) but leaves
			// getaddrinfo without an address.
			w.Status, w.AnsweredBy = "fail", ""
			w.Error = "EAI_NONAME"
			w.Notes = append(w.Notes, "glibc stops at the first NOERROR reply with ANCOUNT>0, and a CNAME alone counts: the CNAME's target had no address, so the lookup fails here instead of trying the remaining candidates")
		}
	}
	addRound := func(fq string, ok bool, resps []Response, next, why string) {
		oc := outcome(resps)
		if resps == nil {
			oc = "not-sent"
			if next == "abandon-search" {
				why = "the name is longer than 253 characters: res_mkquery cannot encode it (NO_RECOVERY), so glibc stops walking the search list (only the bare name is still tried)"
			}
		}
		w.Rounds = append(w.Rounds, Round{N: len(w.Rounds) + 1, Name: fq, Outcome: oc, Next: next, Why: why})
	}

	savedHerr := ""
	triedAsIs, searched, rootOnList := false, false, false
	gotNodata, gotServfail := false, false
	lastHerr := ""
	if dots >= l.Config.Ndots || trailing {
		fq := name
		if !trailing {
			fq += "."
		}
		ok, herr, _, resps := query(fq)
		if ok {
			addRound(fq, true, resps, "stop", "NOERROR with answer records ends the walk")
			finish(fq, resps)
			return
		}
		if trailing {
			addRound(fq, false, resps, "stop", "a name with a trailing dot is queried once, as is")
			w.glibcError(herr)
			return
		}
		addRound(fq, false, resps, "next-candidate", fmt.Sprintf("%d dot(s) >= ndots:%d: the name was tried as-is first; glibc still walks the search list", dots, l.Config.Ndots))
		savedHerr, triedAsIs, lastHerr = herr, true, herr
	}
	if (dots == 0) || (dots > 0 && !trailing) {
		done := false
		for _, d := range l.Config.Search {
			if done {
				break
			}
			searched = true
			fq := name + "." + d + "."
			if d == "." || d == "" {
				rootOnList = true
				fq = name + "."
			}
			ok, herr, rc, resps := query(fq)
			if ok {
				addRound(fq, true, resps, "stop", "NOERROR with answer records ends the walk")
				finish(fq, resps)
				return
			}
			lastHerr = herr
			switch {
			case herr == noData:
				gotNodata = true
				addRound(fq, false, resps, "next-candidate", "NODATA: glibc keeps searching")
			case herr == hostNotFound:
				addRound(fq, false, resps, "next-candidate", "NXDOMAIN: glibc keeps searching")
			case herr == tryAgain && rc == SERVFAIL:
				gotServfail = true
				addRound(fq, false, resps, "next-candidate", "SERVFAIL (after every server and attempt): glibc tries the next search domain")
			default:
				done = true
				addRound(fq, false, resps, "abandon-search", fmt.Sprintf("%s: glibc stops walking the search list (only the bare name is still tried)", outcome(resps)))
			}
		}
	}
	if (dots > 0 || !searched || !l.Config.NoTLDQuery) && !(triedAsIs || rootOnList) {
		fq := name + "."
		ok, herr, _, resps := query(fq)
		if ok {
			addRound(fq, true, resps, "stop", "NOERROR with answer records ends the walk")
			finish(fq, resps)
			return
		}
		lastHerr = herr
		addRound(fq, false, resps, "stop", "the bare name was the last candidate")
	} else if l.Config.NoTLDQuery && dots == 0 && searched {
		w.Notes = append(w.Notes, "options no-tld-query: the dot-less name is never sent on its own")
	}
	herr := lastHerr
	switch {
	case savedHerr != "":
		herr = savedHerr
	case gotNodata:
		herr = noData
	case gotServfail:
		herr = tryAgain
	}
	if len(w.Rounds) == 0 {
		herr = hostNotFound
	}
	w.glibcError(herr)
}

// glibcError maps h_errno to getaddrinfo's result the way nss/getaddrinfo.c
// gaih_inet does: TRY_AGAIN → EAI_AGAIN, NO_DATA → EAI_NODATA, anything else
// (HOST_NOT_FOUND, NO_RECOVERY) → EAI_NONAME.
func (w *Walk) glibcError(herr string) {
	w.Status = "fail"
	switch herr {
	case tryAgain:
		w.Error = "EAI_AGAIN"
	case noData:
		w.Error = "EAI_NODATA"
	default:
		w.Error = "EAI_NONAME"
	}
}

// ---------------------------------------------------------------- musl

// simulateMusl mirrors musl src/network/lookup_name.c name_from_dns_search
// and name_from_dns (the walk and the per-candidate verdict) and
// res_msend.c __res_msend_rc (every question to every nameserver at once;
// only NOERROR and NXDOMAIN replies are accepted; SERVFAIL is resent, REFUSED
// ignored, and either ends as no reply after the timeout).
func simulateMusl(l Lookup, w *Walk) {
	types := l.Family.Types()
	old := l.Resolver == Musl123
	for i, fq := range w.Candidates {
		round := i + 1
		qname := strings.TrimSuffix(fq, ".")
		// __res_mkquery: strips one trailing dot; >253 rejected; in 1.2.4+
		// also a second trailing dot ("x.." from a "." search entry).
		doubleDot := strings.HasSuffix(qname, ".")
		if len(qname) > 253 || (doubleDot && !old) {
			if old && !doubleDot {
				w.Rounds = append(w.Rounds, Round{N: round, Name: fq, Outcome: "not-sent", Next: "stop",
					Why: "res_mkquery rejects a name over 253 characters; musl <= 1.2.3 returns EAI_NONAME and ends the walk"})
				w.Status, w.Error = "fail", "EAI_NONAME"
				return
			}
			w.Rounds = append(w.Rounds, Round{N: round, Name: fq, Outcome: "not-sent", Next: "next-candidate",
				Why: "res_mkquery rejects this name (over 253 characters or an empty label); musl 1.2.4+ treats that like NXDOMAIN (commit 1e7fb12f)"})
			continue
		}
		if doubleDot {
			// musl <= 1.2.3 encodes "x.." as a question with an empty label
			// in the middle: servers reject or drop it, so no acceptable
			// reply comes back and the lookup ends with EAI_AGAIN.
			for _, t := range types {
				for _, ns := range l.Config.Nameservers {
					w.Queries = append(w.Queries, SentQuery{Round: round, Name: fq, Type: t, Server: ns, Try: 1, Rcode: TIMEOUT, Answers: []RR{}, Why: "malformed question (empty label) from a \".\" search entry"})
					w.Packets++
				}
			}
			w.PacketsAtLeast = true
			w.Rounds = append(w.Rounds, Round{N: round, Name: fq, Outcome: "TIMEOUT", Next: "stop",
				Why: "a \".\" search entry makes musl <= 1.2.3 send a malformed question; it is resent until the timeout and the lookup fails with EAI_AGAIN (k3s-io/k3s#6132)"})
			w.Status, w.Error = "fail", "EAI_AGAIN"
			return
		}
		var resps []Response
		for _, t := range types {
			r := l.Server.Answer(Question{Name: fq, Type: t})
			resps = append(resps, r)
		}
		// Sends: A to every server, then AAAA to every server; resends for
		// unaccepted replies every timeout/attempts seconds.
		failed := false
		for ti, t := range types {
			for _, ns := range l.Config.Nameservers {
				r := resps[ti]
				w.Queries = append(w.Queries, SentQuery{Round: round, Name: fq, Type: t, Server: ns, Try: 1, Rcode: r.Rcode, Answers: nonNil(r.Answers), Source: r.Source, Assumed: r.Assumed, Why: r.Why})
				w.Packets++
				if r.Rcode != NOERROR && r.Rcode != NXDOMAIN {
					failed = true
				}
			}
		}
		if failed {
			w.PacketsAtLeast = true
		}
		// name_from_dns verdict, replies checked in question order.
		verdict := ""
		for _, r := range resps {
			switch r.Rcode {
			case SERVFAIL, REFUSED, TIMEOUT:
				verdict = "again"
			case NXDOMAIN:
				verdict = "nxdomain"
			}
			if verdict != "" {
				break
			}
		}
		switch verdict {
		case "again":
			oc := outcome(resps)
			why := map[string]string{
				"SERVFAIL": "musl never accepts a SERVFAIL reply: it resends until the timeout, then getaddrinfo fails with EAI_AGAIN",
				"REFUSED":  "musl ignores a REFUSED reply and waits for another until the timeout, then fails with EAI_AGAIN",
				"TIMEOUT":  "no reply before the timeout: EAI_AGAIN, and musl does not try further candidates",
			}[oc]
			w.Rounds = append(w.Rounds, Round{N: round, Name: fq, Outcome: oc, Next: "stop", Why: why})
			w.Status, w.Error = "fail", "EAI_AGAIN"
			return
		case "nxdomain":
			w.Rounds = append(w.Rounds, Round{N: round, Name: fq, Outcome: "NXDOMAIN", Next: "next-candidate", Why: "NXDOMAIN: musl tries the next candidate"})
			continue
		}
		var addrs []string
		canon := ""
		// __dns_parse runs over the replies last to first; getaddrinfo
		// then sorts, so only the set matters.
		for _, r := range resps {
			addrs = append(addrs, r.Addresses()...)
			for _, a := range r.Answers {
				if a.Type == "CNAME" {
					canon = a.Data
				}
			}
		}
		if len(addrs) > 0 {
			w.Rounds = append(w.Rounds, Round{N: round, Name: fq, Outcome: "addresses", Next: "stop", Why: "addresses found"})
			w.Status, w.Addresses, w.AnsweredBy, w.CanonicalName = "ok", addrs, fq, canon
			return
		}
		oc := outcome(resps)
		w.Rounds = append(w.Rounds, Round{N: round, Name: fq, Outcome: oc, Next: "stop",
			Why: "NOERROR without an address (NODATA or a CNAME alone): musl returns that as the final answer and never tries the remaining candidates"})
		w.Status = "fail"
		if old {
			w.Error = "EAI_NONAME"
		} else {
			w.Error = "EAI_NODATA"
		}
		return
	}
	w.Status = "fail"
	w.Error = "EAI_NONAME"
}

// ---------------------------------------------------------------- Go

// simulateGo mirrors Go's net/dnsclient_unix.go goLookupIPCNAMEOrder (each
// candidate's A and AAAA asked concurrently; the walk ends only once an
// address was collected) and tryOneName (NXDOMAIN or NODATA returns at once;
// SERVFAIL, other rcodes and timeouts try the next server and attempt).
func simulateGo(l Lookup, w *Walk) {
	if len(l.Config.UnknownOptions) > 0 {
		w.Notes = append(w.Notes, fmt.Sprintf("resolv.conf has options Go does not know (%s): a cgo-enabled Go binary hands this lookup to libc (net/conf.go lookupOrder); a CGO_ENABLED=0 binary uses the walk shown", strings.Join(l.Config.UnknownOptions, " ")))
	}
	if l.Config.SingleRequest {
		w.Notes = append(w.Notes, "single-request: Go asks A then AAAA one after the other instead of concurrently")
	} else if l.Family == FamilyAny {
		w.Notes = append(w.Notes, "Go sends A and AAAA concurrently from two sockets, so their order on the wire is not fixed")
	}
	types := l.Family.Types()
	var lastErr *goErr
	asIs := strings.TrimSuffix(l.Name, ".") + "."
	for i, fq := range w.Candidates {
		round := i + 1
		var resps []Response
		for _, t := range types {
			r := w.send(l, round, fq, t, func(rc Rcode) bool { return rc == SERVFAIL || rc == REFUSED || rc == TIMEOUT })
			resps = append(resps, r)
			var e *goErr
			switch {
			case r.Rcode == NXDOMAIN || (r.Rcode == NOERROR && !hasType(r.Answers, t)):
				e = &goErr{msg: "no such host", server: l.Config.Nameservers[0]}
			case r.Rcode == SERVFAIL || r.Rcode == REFUSED:
				e = &goErr{msg: "server misbehaving", server: l.Config.Nameservers[len(l.Config.Nameservers)-1]}
			case r.Rcode == TIMEOUT:
				e = &goErr{msg: "i/o timeout", server: l.Config.Nameservers[len(l.Config.Nameservers)-1]}
			}
			if e != nil && (lastErr == nil || fq == asIs) {
				lastErr = e
			}
		}
		var addrs []string
		canon := ""
		for _, r := range resps {
			if r.Rcode != NOERROR {
				continue
			}
			addrs = append(addrs, r.Addresses()...)
			for _, a := range r.Answers {
				if a.Type == "CNAME" && canon == "" {
					canon = a.Data
				}
			}
		}
		oc := outcome(resps)
		if len(addrs) > 0 {
			w.Rounds = append(w.Rounds, Round{N: round, Name: fq, Outcome: oc, Next: "stop", Why: "addresses found"})
			w.Status, w.Addresses, w.AnsweredBy, w.CanonicalName = "ok", addrs, fq, canon
			return
		}
		why := map[string]string{
			"NXDOMAIN":   "NXDOMAIN: Go tries the next candidate",
			"NODATA":     "NODATA: Go tries the next candidate (it stops only once it has an address)",
			"CNAME-only": "a CNAME without addresses: Go tries the next candidate (it stops only once it has an address)",
			"SERVFAIL":   "SERVFAIL from every server and attempt: Go tries the next candidate (unless Resolver.StrictErrors)",
			"REFUSED":    "REFUSED from every server and attempt: Go tries the next candidate",
			"TIMEOUT":    "no reply from any server or attempt: Go tries the next candidate (unless Resolver.StrictErrors)",
		}[oc]
		next := "next-candidate"
		if i == len(w.Candidates)-1 {
			next = "stop"
		}
		w.Rounds = append(w.Rounds, Round{N: round, Name: fq, Outcome: oc, Next: next, Why: why})
	}
	w.Status = "fail"
	if lastErr == nil {
		lastErr = &goErr{msg: "no such host"}
	}
	w.Error = lastErr.text(strings.TrimSuffix(l.Name, "."), l.Name)
}

type goErr struct{ msg, server string }

// text renders *net.DNSError.Error(): "lookup NAME on SERVER:53: MSG", with
// the name the caller passed (goLookupIPCNAMEOrder resets Name).
func (e *goErr) text(_ string, original string) string {
	s := "lookup " + original
	if e.server != "" {
		s += " on " + netJoin(e.server)
	}
	return s + ": " + e.msg
}

func netJoin(ip string) string {
	if strings.Contains(ip, ":") {
		return "[" + ip + "]:53"
	}
	return ip + ":53"
}
