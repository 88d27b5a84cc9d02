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
	if c := r.ExecResolvConf; c != nil {
		if c.Match {
			fmt.Fprintf(&b, "  %s the real file (%s) is what kubelet would write\n", s.green("--exec:"), esc(c.Source))
		} else {
			fmt.Fprintf(&b, "  %s the real file (%s) differs from the one computed from the pod spec:\n", s.red("--exec:"), esc(c.Source))
			for _, d := range c.Differences {
				fmt.Fprintf(&b, "    - %s\n", esc(d))
			}
			fmt.Fprintf(&b, "  computed:\n")
			for _, l := range strings.Split(strings.TrimRight(c.Computed, "\n"), "\n") {
				if l != "" {
					fmt.Fprintf(&b, "    %s\n", esc(l))
				}
			}
		}
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
	if r.QType != "" && len(r.Queries) == 1 {
		writeRecords(&b, s, "answer section", r.Queries[0].Answers)
		writeRecords(&b, s, "additional section", r.Queries[0].Additional)
	}

	fmt.Fprintf(&b, "\n%s ", s.bold("Answer:"))
	if a.Status == "ok" && len(a.Addresses) == 0 && r.QType != "" && len(r.Queries) == 1 {
		fmt.Fprintf(&b, "%s %d %s record(s)", s.green("ok"), len(r.Queries[0].Answers), esc(r.QType))
		if a.AnsweredBy != "" {
			fmt.Fprintf(&b, " (from %s)", esc(a.AnsweredBy))
		}
	} else if a.Status == "ok" {
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
	if r.Live != nil {
		writeLive(&b, s, r)
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

// writeRecords lists records dig-style: name, TTL, type, data.
func writeRecords(b *bytes.Buffer, s style, title string, rrs []dnssim.RR) {
	if len(rrs) == 0 {
		return
	}
	fmt.Fprintf(b, "  %s\n", s.dim(title+":"))
	tw := tabwriter.NewWriter(b, 0, 4, 1, ' ', 0)
	for _, rr := range rrs {
		fmt.Fprintf(tw, "    %s\t%d\t%s\t%s\n", esc(rr.Name), rr.TTL, rr.Type, esc(rr.Data))
	}
	_ = tw.Flush()
}

// liveLabel is one side of the live table: the rcode or the records, with
// TTLs (they are part of what is compared).
func liveLabel(a dnssim.LiveAnswer) string {
	if a.Error != "" {
		return "no answer: " + a.Error
	}
	if a.Rcode != dnssim.NOERROR {
		return string(a.Rcode)
	}
	if len(a.Answers) == 0 {
		return "NODATA"
	}
	var parts []string
	for _, rr := range a.Answers {
		d := rr.Data
		if rr.Type == "CNAME" || rr.Type == "SRV" || rr.Type == "PTR" || rr.Type == "TXT" {
			d = rr.Type + " " + d
		}
		parts = append(parts, fmt.Sprintf("%s (ttl %d)", d, rr.TTL))
	}
	if len(a.Additional) > 0 {
		parts = append(parts, fmt.Sprintf("+%d additional", len(a.Additional)))
	}
	return strings.Join(parts, ", ")
}

// writeLive prints --live: every question with the predicted and the real
// answer side by side, each difference spelled out, then the real walk.
func writeLive(b *bytes.Buffer, s style, r *dnssim.Report) {
	lv := r.Live
	fmt.Fprintf(b, "\n%s %s\n", s.bold("Live check:"), esc(lv.Server))
	tw := tabwriter.NewWriter(b, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "  QUESTION\tPREDICTED\tREAL\t")
	for _, q := range lv.Questions {
		pred := liveLabel(q.Predicted)
		if q.Assumed {
			pred += " (assumed)"
		}
		status := s.green("same")
		if !q.Match {
			status = s.red("DIFFERENT")
		}
		fmt.Fprintf(tw, "  %s %s\t%s\t%s\t%s\n", esc(q.Name), q.Type, esc(pred), esc(liveLabel(q.Real)), status)
	}
	_ = tw.Flush()
	for _, q := range lv.Questions {
		for _, d := range q.Differences {
			why := ""
			if q.Assumed {
				why = " (the prediction was an assumption: give --records)"
			}
			fmt.Fprintf(b, "  %s %s %s: %s%s\n", s.red("difference:"), esc(q.Name), q.Type, esc(d), why)
		}
		if q.InWalk == "real" {
			fmt.Fprintf(b, "  %s %s %s is asked only in the real walk\n", s.yellow("note:"), esc(q.Name), q.Type)
		} else if q.InWalk == "predicted" {
			fmt.Fprintf(b, "  %s %s %s is asked only in the predicted walk\n", s.yellow("note:"), esc(q.Name), q.Type)
		}
	}
	if w := lv.Walk; w != nil {
		res := s.green("ok") + " " + esc(strings.Join(w.Addresses, ", "))
		if w.Status != "ok" {
			res = s.red("fail") + " " + esc(w.Error)
		}
		fmt.Fprintf(b, "  real walk (%s with the real answers): %d round(s), %s", r.Resolver, w.Rounds, res)
		if w.AnsweredBy != "" {
			fmt.Fprintf(b, " (from %s)", esc(w.AnsweredBy))
		}
		if w.Match {
			fmt.Fprintf(b, ": %s\n", s.green("as predicted"))
		} else {
			fmt.Fprintf(b, ": %s\n", s.red("NOT as predicted"))
			for _, d := range w.Differences {
				fmt.Fprintf(b, "    - %s\n", esc(d))
			}
		}
	}
	if lv.Differences == 0 {
		fmt.Fprintf(b, "  %s\n", s.green("no differences: the cluster's DNS answers as predicted"))
	} else {
		fmt.Fprintf(b, "  %s\n", s.red(fmt.Sprintf("%d difference(s) between the prediction and the cluster's DNS", lv.Differences)))
	}
}
