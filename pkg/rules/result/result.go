// Package result is the model of one packet evaluation: the verdict, the
// endpoints with their exact probabilities, the branches and the path tree,
// and the warnings. It is separate from package rules so that the renderer
// can depend on the result without depending on the parsers (the import
// rules in hack/verify-imports.sh). Standard library only.
package result

import (
	"fmt"
	"strings"
)

// Verdict is what happens to the packet, by the precedence the issue
// fixes: DROP or REJECT anywhere wins; else DNAT if the packet was DNATed
// (even when a filter rule then accepts it); else ACCEPT if a rule
// explicitly accepted it; else NONE (the packet passes untouched).
type Verdict string

// Verdicts.
const (
	VerdictDNAT   Verdict = "DNAT"
	VerdictAccept Verdict = "ACCEPT"
	VerdictDrop   Verdict = "DROP"
	VerdictReject Verdict = "REJECT"
	VerdictNone   Verdict = "NONE"
)

// Warning is a problem found while parsing or evaluating. It always says
// where: the source file (if known), the line, and the table/chain/rule when
// the problem is in a rule.
type Warning struct {
	Source  string `json:"source,omitempty"`
	Line    int    `json:"line,omitempty"`
	Table   string `json:"table,omitempty"`
	Chain   string `json:"chain,omitempty"`
	Rule    int    `json:"rule,omitempty"`
	Message string `json:"message"`
}

// String renders the warning as "file:line: table/chain rule N: message".
func (w Warning) String() string {
	var b strings.Builder
	if w.Source != "" {
		b.WriteString(w.Source)
		b.WriteByte(':')
	}
	if w.Line > 0 {
		fmt.Fprintf(&b, "%d:", w.Line)
	}
	if b.Len() > 0 {
		b.WriteByte(' ')
	}
	if w.Chain != "" {
		if w.Table != "" {
			b.WriteString(w.Table)
			b.WriteByte('/')
		}
		b.WriteString(w.Chain)
		if w.Rule > 0 {
			fmt.Fprintf(&b, " rule %d", w.Rule)
		}
		b.WriteString(": ")
	}
	b.WriteString(w.Message)
	return b.String()
}

// Result is the outcome of one evaluation. It is the JSON document of
// `kubectl svc-trace eval -o json`.
type Result struct {
	Query      Query      `json:"query"`
	Verdict    Verdict    `json:"verdict"`
	Endpoints  []Endpoint `json:"endpoints"`
	Masquerade bool       `json:"masquerade"`
	// Uncertain is set when some branch passed a rule the evaluator could
	// not decide (see Warnings).
	Uncertain bool `json:"uncertain"`
	// Path is the walk as a tree: shared steps, then the branches at each
	// fork (statistic, affinity) with their probabilities.
	Path *PathNode `json:"path"`
	// Branches lists every outcome with its full step list.
	Branches []Branch  `json:"branches"`
	Warnings []Warning `json:"warnings"`
	// Inputs lists the dumps evaluated and what each held, so tables the
	// packet never reached (a firewall's, a CNI plugin's) are still shown.
	Inputs []Input `json:"inputs,omitempty"`
}

// Input is one dump given to the evaluation.
type Input struct {
	Source string `json:"source,omitempty"`
	Format string `json:"format"`
	Family string `json:"family"`
	// Used is false for a dump of the other IP family.
	Used bool `json:"used"`
	// Contents: its tables ("nat", "ip kube-proxy", "ip filter
	// (iptables-nft)"), IPVS virtual services or ipsets.
	Contents []string `json:"contents"`
}

// Query echoes what was evaluated.
type Query struct {
	Hook    string   `json:"hook"`
	Src     string   `json:"src"`
	Dst     string   `json:"dst"`
	DstPort int      `json:"dport"`
	SrcPort int      `json:"sport,omitempty"`
	Proto   string   `json:"proto"`
	NodeIPs []string `json:"nodeIPs,omitempty"`
	Family  string   `json:"family"`
}

// Endpoint is one destination the packet can be DNATed to.
type Endpoint struct {
	IP   string `json:"ip"`
	Port int    `json:"port"`
	// Probability that a new connection from this client lands here
	// (sticky branches excluded), and the same as an exact fraction.
	Probability float64 `json:"probability"`
	Fraction    string  `json:"fraction"`
	Masquerade  bool    `json:"masquerade"`
	// Chain is the chain whose rule DNATed (KUBE-SEP-...).
	Chain string `json:"chain,omitempty"`
	// Sticky: session affinity can also pin the client here.
	Sticky    bool `json:"sticky,omitempty"`
	Uncertain bool `json:"uncertain,omitempty"`
	// Choice, when set, says how the endpoint is chosen where no
	// probability applies (an IPVS scheduler that picks by current
	// connections or by a hash); Fraction is then "?".
	Choice string `json:"choice,omitempty"`
	// Label names the Service/pod when a ChainMap was applied.
	Label string `json:"label,omitempty"`
}

// Branch is one outcome of the walk.
type Branch struct {
	Probability float64 `json:"probability"`
	Fraction    string  `json:"fraction"`
	// Conditions are the choices that lead here ("statistic matched",
	// "client has affinity entry in KUBE-SEP-...").
	Conditions []string `json:"conditions,omitempty"`
	// Sticky branches depend on session-affinity state: their probability
	// is not part of the new-connection distribution and is reported as 0.
	Sticky bool `json:"sticky,omitempty"`
	// Choice: see Endpoint.Choice.
	Choice     string  `json:"choice,omitempty"`
	Verdict    Verdict `json:"verdict"`
	DNAT       string  `json:"dnat,omitempty"`
	Masquerade bool    `json:"masquerade"`
	SNAT       string  `json:"snat,omitempty"`
	Uncertain  bool    `json:"uncertain,omitempty"`
	Steps      []Step  `json:"steps"`
}

// Step is one rule that matched (or a chain policy that applied).
type Step struct {
	Source string `json:"source,omitempty"`
	Table  string `json:"table"`
	Chain  string `json:"chain"`
	// Rule is the rule's 1-based number in its chain; 0 for a policy.
	Rule int    `json:"rule,omitempty"`
	Line int    `json:"line,omitempty"`
	Raw  string `json:"raw,omitempty"`
	// Action says what the rule did: "jump KUBE-SVC-...", "DNAT
	// 10.244.0.5:80", "MARK 0x4000", "policy DROP", ...
	Action string `json:"action"`
	// Label names the Service/endpoint of a KUBE-* chain when known.
	Label string `json:"label,omitempty"`
}

// PathNode is a node of the walk tree: steps every branch below shares,
// then either forks or an outcome.
type PathNode struct {
	Steps    []Step       `json:"steps,omitempty"`
	Branches []PathBranch `json:"branches,omitempty"`
	Outcome  *Outcome     `json:"outcome,omitempty"`
}

// PathBranch is one alternative at a fork.
type PathBranch struct {
	Condition   string   `json:"condition"`
	Probability float64  `json:"probability"`
	Fraction    string   `json:"fraction"`
	Sticky      bool     `json:"sticky,omitempty"`
	Choice      string   `json:"choice,omitempty"`
	Node        PathNode `json:"node"`
}

// Outcome ends a path.
type Outcome struct {
	Verdict    Verdict `json:"verdict"`
	DNAT       string  `json:"dnat,omitempty"`
	Masquerade bool    `json:"masquerade"`
	SNAT       string  `json:"snat,omitempty"`
	Uncertain  bool    `json:"uncertain,omitempty"`
}
