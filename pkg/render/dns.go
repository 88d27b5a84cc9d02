package render

import (
	"bytes"
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"

	"github.com/svctrace/kubectl-svc-trace/pkg/dnssim"
)

// DNSFormats are the -o values the dns command accepts.
func DNSFormats() []Format {
	return []Format{FormatTree, FormatJSON, FormatYAML}
}

// DNS writes a dnssim.Report: the pod's resolv.conf, the walk round by round,
// the answer, what other resolvers would do, and the advice.
func DNS(w io.Writer, r *dnssim.Report, o Options) error {
	switch o.Format {
	case FormatJSON:
		return JSON(w, r)
	case FormatYAML:
		return YAML(w, r)
	}
	s := style{on: o.Color}
	var b bytes.Buffer
	who := ""
	if r.Pod != "" {
		who = " from pod " + esc(r.Pod)
	}
	fmt.Fprintf(&b, "%s %q%s\n", s.bold("DNS lookup of"), esc(r.Name), who)
	res := string(r.Resolver)
	if r.ResolverGuess != "" {
		res += " (" + esc(r.ResolverGuess) + ")"
	}
	fmt.Fprintf(&b, "  resolver: %s, family: %s\n", res, r.Family)

	rc := r.ResolvConf
	src := esc(rc.Source)
	if rc.Base != "" {
		src += ", kubelet base: " + rc.Base
	}
	fmt.Fprintf(&b, "\n%s (%s)\n", s.bold("resolv.conf"), src)
	for _, l := range strings.Split(strings.TrimRight(rc.Text, "\n"), "\n") {
		if l != "" {
			fmt.Fprintf(&b, "  %s\n", esc(l))
		}
	}
	fmt.Fprintf(&b, "  %s\n", s.dim(fmt.Sprintf("as %s reads it: ndots %d, attempts %d, timeout %ds, %d search domain(s), %d nameserver(s)",
		r.Resolver, rc.Ndots, rc.Attempts, rc.Timeout, len(rc.Searches), len(rc.Servers))))
	for _, why := range rc.Why {
		fmt.Fprintf(&b, "  %s %s\n", s.cyan("note:"), esc(why))
	}
	for _, e := range rc.Events {
		fmt.Fprintf(&b, "  %s %s event on the %s: %s\n", s.yellow("warning:"), e.Reason, e.Object, esc(e.Message))
	}
	for _, wn := range rc.Warnings {
		fmt.Fprintf(&b, "  %s %s\n", s.yellow("warning:"), esc(wn))
	}

	a := r.Answer
	pk := fmt.Sprintf("%d", a.Packets)
	if a.PacketsAtLeast {
		pk = "at least " + pk
	}
	fmt.Fprintf(&b, "\n%s %d round(s), %s packet(s), %d NXDOMAIN round(s)\n", s.bold("Walk:"), a.Rounds, pk, a.NXDomains)
	if a.HostsFile {
		fmt.Fprintf(&b, "  answered from /etc/hosts: no DNS query\n")
	}
	if len(r.Rounds) > 0 {
		tw := tabwriter.NewWriter(&b, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "  #\tNAME\tANSWERS\tNEXT")
		for _, rd := range r.Rounds {
			fmt.Fprintf(tw, "  %d\t%s\t%s\t%s\n", rd.N, esc(rd.Name), esc(roundAnswers(r, rd.N, rd.Outcome)), nextText(s, rd.Next))
		}
		_ = tw.Flush()
		for _, rd := range r.Rounds {
			if rd.Why != "" {
				fmt.Fprintf(&b, "  %s %s\n", s.dim(fmt.Sprintf("%d:", rd.N)), s.dim(esc(rd.Why)))
			}
		}
	}
	if len(r.Candidates) > len(r.Rounds) {
		fmt.Fprintf(&b, "  %s %s\n", s.dim("not tried:"), s.dim(esc(strings.Join(r.Candidates[len(r.Rounds):], " "))))
	}

	fmt.Fprintf(&b, "\n%s ", s.bold("Answer:"))
	if a.Status == "ok" {
		fmt.Fprintf(&b, "%s %s", s.green("ok"), esc(strings.Join(a.Addresses, ", ")))
		if a.AnsweredBy != "" {
			fmt.Fprintf(&b, " (from %s)", esc(a.AnsweredBy))
		}
	} else {
		fmt.Fprintf(&b, "%s %s", s.red("fail"), esc(a.Error))
	}
	if a.Assumed {
		fmt.Fprintf(&b, " %s", s.yellow("[depends on assumed upstream answers: give --records to decide them]"))
	}
	fmt.Fprintln(&b)
	if a.LeadsTo != "" {
		fmt.Fprintf(&b, "  leads to: %s\n", esc(a.LeadsTo))
	}

	if len(r.Divergences) > 0 {
		fmt.Fprintf(&b, "\n%s\n", s.bold("Other resolvers differ:"))
		for _, d := range r.Divergences {
			fmt.Fprintf(&b, "  %-11s %s\n", d.Resolver, esc(d.Summary))
		}
	}
	if len(r.Advice) > 0 {
		fmt.Fprintf(&b, "\n%s\n", s.bold("Advice:"))
		for _, ad := range r.Advice {
			fmt.Fprintf(&b, "  - %s: %d round(s), saves %d round(s) and %d packet(s)\n", esc(ad.Text), ad.Rounds, ad.SavesRounds, ad.SavesPackets)
		}
	}
	if len(r.Notes) > 0 {
		fmt.Fprintf(&b, "\n%s\n", s.bold("Notes:"))
		for _, n := range r.Notes {
			fmt.Fprintf(&b, "  - %s\n", esc(n))
		}
	}
	_, err := w.Write(trimLines(b.Bytes()))
	return err
}

// roundAnswers summarises one round's replies per query type: "A NXDOMAIN,
// AAAA NXDOMAIN", "A 10.96.0.10, AAAA NODATA", with ×N for resends.
func roundAnswers(r *dnssim.Report, round int, outcome string) string {
	type agg struct {
		label string
		n     int
	}
	byType := map[string]*agg{}
	var order []string
	assumed := false
	for _, q := range r.Queries {
		if q.Round != round {
			continue
		}
		resp := dnssim.Response{Rcode: q.Rcode, Answers: q.Answers}
		if g, ok := byType[q.Type]; ok {
			g.n++
			continue
		}
		byType[q.Type] = &agg{label: resp.Label(), n: 1}
		order = append(order, q.Type)
		assumed = assumed || q.Assumed
	}
	if len(order) == 0 {
		return outcome
	}
	sort.SliceStable(order, func(i, j int) bool { return order[i] == "A" && order[j] != "A" })
	var parts []string
	for _, t := range order {
		g := byType[t]
		p := t + " " + g.label
		if g.n > 1 {
			p += fmt.Sprintf(" ×%d", g.n)
		}
		parts = append(parts, p)
	}
	s := strings.Join(parts, "; ")
	if assumed {
		s += " (assumed)"
	}
	return s
}

func nextText(s style, next string) string {
	switch next {
	case "stop":
		return s.bold("stop")
	case "next-candidate":
		return "next candidate"
	case "abandon-search":
		return s.yellow("abandon search list")
	}
	return next
}
