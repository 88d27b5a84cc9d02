package rules

import (
	"net/netip"

	"github.com/svctrace/kubectl-svc-trace/pkg/rules/result"
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

// The evaluation result types live in package result (see there); these
// aliases keep rules.Result etc. working for callers of Evaluate.
type (
	Result     = result.Result
	Query      = result.Query
	Endpoint   = result.Endpoint
	Branch     = result.Branch
	Step       = result.Step
	PathNode   = result.PathNode
	PathBranch = result.PathBranch
	Outcome    = result.Outcome
	Verdict    = result.Verdict
	Input      = result.Input
)

// Verdicts (see result.Verdict).
const (
	VerdictDNAT   = result.VerdictDNAT
	VerdictAccept = result.VerdictAccept
	VerdictDrop   = result.VerdictDrop
	VerdictReject = result.VerdictReject
	VerdictNone   = result.VerdictNone
)
