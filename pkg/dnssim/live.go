package dnssim

import (
	"fmt"
	"net/netip"
	"sort"
	"strings"
)

// LiveReport is `svc-trace dns --live`: the same questions asked of the
// cluster's real DNS, side by side with the prediction, every difference
// spelled out.
type LiveReport struct {
	// Server says what was asked and how, e.g. "pod kube-system/coredns-x
	// (10.244.0.3) through a port-forward, DNS over TCP".
	Server string `json:"server"`
	// Questions are every distinct question of the predicted walk, then
	// those only the real walk asked, in order.
	Questions []LiveQuestion `json:"questions"`
	// Walk is what the resolver does with the real answers (walk mode only).
	Walk *LiveWalk `json:"walk,omitempty"`
	// Differences counts questions whose answers differ, plus one when the
	// walk ends differently.
	Differences int `json:"differences"`
}

// LiveQuestion is one question with the predicted and the real answer.
type LiveQuestion struct {
	Name      string     `json:"name"`
	Type      string     `json:"type"`
	Predicted LiveAnswer `json:"predicted"`
	Real      LiveAnswer `json:"real"`
	Match     bool       `json:"match"`
	// Differences name what differs: "rcode: predicted NXDOMAIN, real
	// NOERROR", "answer: predicted [...], real [...]", "TTL ...".
	Differences []string `json:"differences,omitempty"`
	// Assumed marks a predicted answer nobody could know offline (an
	// upstream name without a --records entry): a difference there is the
	// assumption's, not the model's.
	Assumed bool `json:"assumed,omitempty"`
	// InWalk says which walks asked it: "predicted", "real" or "both" (""
	// for a single --type question).
	InWalk string `json:"inWalk,omitempty"`
}

// LiveAnswer is one side of a LiveQuestion.
type LiveAnswer struct {
	Rcode      Rcode `json:"rcode"`
	Answers    []RR  `json:"answers"`
	Additional []RR  `json:"additional,omitempty"`
	// Error is set when the real server could not be asked (the rcode is
	// then TIMEOUT).
	Error string `json:"error,omitempty"`
}

// LiveWalk is the walk the chosen resolver does with the real answers.
type LiveWalk struct {
	Rounds      int      `json:"rounds"`
	Status      string   `json:"status"`
	Addresses   []string `json:"addresses"`
	AnsweredBy  string   `json:"answeredBy,omitempty"`
	Error       string   `json:"error,omitempty"`
	Match       bool     `json:"match"`
	Differences []string `json:"differences,omitempty"`
}

// CompareLive asks real (the cluster's DNS) every question the predicted
// report asked and every question the same resolver would ask given the
// real answers, and compares each with the model's answer. TTLs must be
// equal, except where the model says the reply may come from CoreDNS's
// cache: there the real TTL may have counted down (CachePlugin). Record
// order never matters (CoreDNS's loadbalance plugin shuffles A/AAAA).
func CompareLive(in Input, predicted *Report, real Answerer, server string) *LiveReport {
	lr := &LiveReport{Server: server, Questions: []LiveQuestion{}}
	rc := in.ResolvConf
	if rc == nil {
		rc = &ResolvConf{Source: "(none)"}
	}
	cfg := rc.Config(predicted.Resolver)
	model, _ := in.Answerer(cfg.Nameservers)

	type qkey struct{ name, typ string }
	var order []qkey
	where := map[qkey]string{}
	note := func(k qkey, walk string) {
		switch prev, ok := where[k]; {
		case !ok:
			order = append(order, k)
			where[k] = walk
		case prev != walk && prev != "both":
			where[k] = "both"
		}
	}
	for _, q := range predicted.Queries {
		note(qkey{strings.ToLower(q.Name), q.Type}, "predicted")
	}
	if in.QType == "" {
		look := Lookup{Name: in.Name, Resolver: predicted.Resolver, Family: predicted.Family, Config: cfg, Hosts: in.Hosts, Server: real}
		w := Simulate(look)
		for _, q := range w.Queries {
			note(qkey{strings.ToLower(q.Name), q.Type}, "real")
		}
		lw := &LiveWalk{Rounds: w.RoundCount(), Status: w.Status, Addresses: nonNilStrings(w.Addresses), AnsweredBy: w.AnsweredBy, Error: w.Error}
		pa := predicted.Answer
		if lw.Rounds != pa.Rounds {
			lw.Differences = append(lw.Differences, fmt.Sprintf("rounds: predicted %d, real %d", pa.Rounds, lw.Rounds))
		}
		if lw.Status != pa.Status || lw.Error != pa.Error {
			lw.Differences = append(lw.Differences, fmt.Sprintf("result: predicted %s, real %s", resultText(pa.Status, pa.Error), resultText(lw.Status, lw.Error)))
		}
		if !strings.EqualFold(lw.AnsweredBy, pa.AnsweredBy) {
			lw.Differences = append(lw.Differences, fmt.Sprintf("answered by: predicted %q, real %q", pa.AnsweredBy, lw.AnsweredBy))
		}
		if !sameAddresses(lw.Addresses, pa.Addresses) {
			lw.Differences = append(lw.Differences, fmt.Sprintf("addresses: predicted [%s], real [%s]", strings.Join(pa.Addresses, ", "), strings.Join(lw.Addresses, ", ")))
		}
		lw.Match = len(lw.Differences) == 0
		lr.Walk = lw
		if !lw.Match {
			lr.Differences++
		}
	}
	for _, k := range order {
		q := Question{Name: k.name, Type: k.typ}
		p := model.Answer(q)
		r := real.Answer(q)
		lq := LiveQuestion{Name: k.name, Type: k.typ, Assumed: p.Assumed,
			Predicted: LiveAnswer{Rcode: p.Rcode, Answers: nonNil(p.Answers), Additional: p.Additional},
			Real:      LiveAnswer{Rcode: r.Rcode, Answers: nonNil(r.Answers), Additional: r.Additional}}
		if in.QType == "" {
			lq.InWalk = where[k]
		}
		if r.Source == "live-error" {
			lq.Real.Error = r.Why
		}
		lq.Differences = DiffResponses(p, r)
		lq.Match = len(lq.Differences) == 0
		if !lq.Match {
			lr.Differences++
		}
		lr.Questions = append(lr.Questions, lq)
	}
	return lr
}

func resultText(status, err string) string {
	if status == "ok" {
		return "ok"
	}
	return "fail " + err
}

func nonNilStrings(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func sameAddresses(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	x, y := normAddrs(a), normAddrs(b)
	for i := range x {
		if x[i] != y[i] {
			return false
		}
	}
	return true
}

func normAddrs(in []string) []string {
	out := make([]string, 0, len(in))
	for _, s := range in {
		if a, err := netip.ParseAddr(s); err == nil {
			s = a.String()
		}
		out = append(out, s)
	}
	sort.Strings(out)
	return out
}

// DiffResponses lists how a real reply differs from the predicted one: the
// rcode, then the answer and additional sections compared as sets of
// (name, type, data) with case-insensitive names and canonical addresses,
// then TTLs (equal, or counted down when the prediction is Cacheable).
func DiffResponses(pred, real Response) []string {
	var out []string
	if pred.Rcode != real.Rcode {
		out = append(out, fmt.Sprintf("rcode: predicted %s, real %s", pred.Rcode, real.Rcode))
	}
	out = append(out, diffSection("answer", pred.Answers, real.Answers, pred.Cacheable)...)
	out = append(out, diffSection("additional", pred.Additional, real.Additional, pred.Cacheable)...)
	return out
}

func normRR(rr RR) RR {
	rr.Name = strings.ToLower(rr.Name)
	if a, err := netip.ParseAddr(rr.Data); err == nil {
		rr.Data = a.String()
	} else {
		rr.Data = strings.ToLower(rr.Data)
	}
	return rr
}

func sortedNorm(rrs []RR) []RR {
	out := make([]RR, 0, len(rrs))
	for _, rr := range rrs {
		out = append(out, normRR(rr))
	}
	sort.SliceStable(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if a.Type != b.Type {
			return a.Type < b.Type
		}
		if a.Name != b.Name {
			return a.Name < b.Name
		}
		return a.Data < b.Data
	})
	return out
}

func showRRs(rrs []RR) string {
	var s []string
	for _, rr := range rrs {
		s = append(s, fmt.Sprintf("%s %s %s", rr.Name, rr.Type, rr.Data))
	}
	return "[" + strings.Join(s, "; ") + "]"
}

func diffSection(section string, pred, real []RR, cacheable bool) []string {
	p, r := sortedNorm(pred), sortedNorm(real)
	same := len(p) == len(r)
	for i := 0; same && i < len(p); i++ {
		same = p[i].Name == r[i].Name && p[i].Type == r[i].Type && p[i].Data == r[i].Data
	}
	if !same {
		return []string{fmt.Sprintf("%s: predicted %s, real %s", section, showRRs(p), showRRs(r))}
	}
	var out []string
	for i := range p {
		a, b := p[i], r[i]
		if a.TTL == b.TTL || (cacheable && b.TTL > 0 && b.TTL < a.TTL) {
			continue
		}
		out = append(out, fmt.Sprintf("%s TTL of %s %s %s: predicted %d, real %d", section, a.Name, a.Type, a.Data, a.TTL, b.TTL))
	}
	return out
}

// ResolvConfCheck compares a container's real /etc/resolv.conf (read with
// --exec) with the one computed the way kubelet and containerd write it.
type ResolvConfCheck struct {
	// Source says where the real file came from.
	Source   string `json:"source"`
	Real     string `json:"real"`
	Computed string `json:"computed"`
	Match    bool   `json:"match"`
	// Differences name each field that differs, with both values.
	Differences []string `json:"differences,omitempty"`
}

// CheckResolvConf compares the fields kubelet decides (GetPodDNS) as
// containerd writes them (parseDNSOptions: "search", "nameserver" lines,
// one "options" line): the nameservers in order, the search domains in
// order, and the options as a set (kubelet merges them through a Go map, so
// their order is random and no resolver cares). Any other line in the real
// file (a "domain", a comment, a second options line) is reported too:
// kubelet never writes one, so something else edited the file.
func CheckResolvConf(computed, real *ResolvConf) *ResolvConfCheck {
	c := &ResolvConfCheck{Source: real.Source, Real: linesText(real), Computed: linesText(computed)}
	type view struct{ servers, searches, options []string }
	read := func(rc *ResolvConf) (view, []string) {
		v := view{servers: []string{}, searches: []string{}, options: []string{}}
		var other []string
		optionLines := 0
		for _, l := range rc.Lines {
			f := strings.Fields(l.Text)
			if len(f) == 0 || strings.HasPrefix(f[0], "#") || strings.HasPrefix(f[0], ";") {
				continue
			}
			switch f[0] {
			case "nameserver":
				v.servers = append(v.servers, f[1:]...)
			case "search":
				v.searches = append([]string{}, f[1:]...)
			case "options":
				optionLines++
				v.options = append(v.options, f[1:]...)
				if optionLines > 1 {
					other = append(other, fmt.Sprintf("line %d: %s (a second options line)", l.Number, l.Text))
				}
			default:
				other = append(other, fmt.Sprintf("line %d: %s", l.Number, l.Text))
			}
		}
		sort.Strings(v.options)
		return v, other
	}
	want, _ := read(computed)
	got, other := read(real)
	cmp := func(what string, a, b []string) {
		if strings.Join(a, " ") != strings.Join(b, " ") {
			c.Differences = append(c.Differences, fmt.Sprintf("%s: computed [%s], real [%s]", what, strings.Join(a, " "), strings.Join(b, " ")))
		}
	}
	cmp("nameservers", want.servers, got.servers)
	cmp("search", want.searches, got.searches)
	cmp("options", want.options, got.options)
	for _, o := range other {
		c.Differences = append(c.Differences, "not written by kubelet: "+o)
	}
	c.Match = len(c.Differences) == 0
	return c
}

func linesText(rc *ResolvConf) string {
	var b strings.Builder
	for _, l := range rc.Lines {
		b.WriteString(l.Text)
		b.WriteByte('\n')
	}
	return b.String()
}
