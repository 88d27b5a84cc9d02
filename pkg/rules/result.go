package rules

import "net/netip"

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

// Hook is where the packet enters the node's netfilter.
type Hook string

// Hooks.
const (
	// HookPrerouting: the packet arrives on an interface — from a pod (via
	// its veth/bridge) or from outside the node.
	HookPrerouting Hook = "prerouting"
	// HookOutput: the packet is sent by a process on the node (a
	// hostNetwork pod, kubelet, curl on the node).
	HookOutput Hook = "output"
)

// Route is one entry of the node's routing table (main table).
type Route struct {
	Dst netip.Prefix
	Dev string
}

// Packet is the first packet of a new connection.
type Packet struct {
	Src, Dst netip.Addr
	// SrcPort 0 means unknown (an ephemeral port); rules testing it are
	// then undecidable and reported.
	SrcPort uint16
	DstPort uint16
	// Proto is "tcp", "udp" or "sctp".
	Proto string
	// Mark is the packet mark on entry (normally 0).
	Mark uint32
	// InIface / OutIface, when known, let -i/-o be decided; otherwise a
	// rule testing them is reported and not matched.
	InIface, OutIface string
}

// EvalInput is everything Evaluate needs. No flags, no I/O.
type EvalInput struct {
	// Rulesets are the parsed dumps of one node. Only those of the
	// packet's family (or of unknown family) are used. When two hold the
	// same table (legacy and nft side by side) both are walked, in order,
	// as the kernel runs both.
	Rulesets []*Ruleset
	// NodeIPs are the node's own addresses: with loopback they make up
	// `-m addrtype --type LOCAL` and decide local delivery.
	NodeIPs []netip.Addr
	Hook    Hook
	Packet  Packet
	// Routes, when given (the node's `ip route`), name the output
	// interface of a forwarded or locally sent packet, so `-o` can be
	// decided; Packet.OutIface overrides them. See ParseRoutes.
	Routes []Route
	// IPSets, when given, decide `-m set --match-set`; otherwise such
	// rules are reported and not matched.
	IPSets map[string]*IPSet
	// Affinity, when non-nil, is the set of `-m recent` list names that
	// already hold the client (session affinity state). When nil the state
	// is unknown and every `--rcheck` becomes a sticky branch.
	Affinity map[string]bool
	// MaxBranches bounds the number of outcomes (default 4096).
	MaxBranches int
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
}

// Query echoes what was evaluated.
type Query struct {
	Hook    Hook     `json:"hook"`
	Src     string   `json:"src"`
	Dst     string   `json:"dst"`
	DstPort int      `json:"dport"`
	SrcPort int      `json:"sport,omitempty"`
	Proto   string   `json:"proto"`
	NodeIPs []string `json:"nodeIPs,omitempty"`
	Family  Family   `json:"family"`
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
	Sticky     bool    `json:"sticky,omitempty"`
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
	Table  Table  `json:"table"`
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
