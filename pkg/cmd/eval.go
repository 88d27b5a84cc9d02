package cmd

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"strconv"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/svctrace/kubectl-svc-trace/pkg/cluster"
	"github.com/svctrace/kubectl-svc-trace/pkg/render"
	"github.com/svctrace/kubectl-svc-trace/pkg/rules"
	"github.com/svctrace/kubectl-svc-trace/pkg/trace"
)

const evalExample = `  # kube-proxy in nftables mode: the node helper's nft -j list ruleset
  kubectl svc-trace eval --rules node1.nft.json --node-ip 10.250.0.10 \
      --src 10.244.0.9 --dst 10.96.202.106 --dport 80

  # IPVS mode: the IPVS table, the ipsets and the remaining iptables rules
  kubectl svc-trace eval --rules ipvsadm-Ln.txt --rules ipset-save.txt --rules iptables-save.txt \
      --node-ip 192.168.49.2 --src 203.0.113.9 --dst 192.168.49.2 --dport 30080

  # A pod's packet to a ClusterIP, through a node's saved rules
  kubectl svc-trace eval --rules node1.iptables-save --node-ip 10.250.0.10 \
      --src 10.244.0.9 --dst 10.96.202.106 --dport 80

  # The same from a process on the node (the OUTPUT path), as JSON
  kubectl svc-trace eval --rules node1.iptables-save --node-ip 10.250.0.10 \
      --hook output --src 10.250.0.10 --dst 10.96.202.106 --dport 80 -o json

  # A client outside the cluster reaching a NodePort; iptables -S pasted from a
  # ticket (table inferred), routes to decide -o matches, Services named from objects
  kubectl svc-trace eval --rules nat.txt --rules filter.txt --routes node1.routes \
      --node-ip 10.250.0.10 --src 203.0.113.5 --dst 10.250.0.10 --dport 30080 -f objects.yaml`

// EvalFlags are the flags of `eval`, as given.
type EvalFlags struct {
	Rules     []string
	Table     string
	NodeIPs   []string
	Node      string
	Src       string
	Dst       string
	DPort     int
	SPort     int
	Proto     string
	Hook      string
	InIface   string
	OutIface  string
	Routes    []string
	Affinity  []string
	Mark      string
	Filenames []string
	Recursive bool
	Output    string
	Color     string
}

// EvalOptions are eval's validated options.
type EvalOptions struct {
	Input     rules.EvalInput
	RuleFiles []string
	TableHint rules.Table
	NodeName  string
	Format    render.Format
	Color     bool
	files     *cluster.FileSource
	streams   genericiooptions.IOStreams
}

// NewCmdEval builds `kubectl svc-trace eval`: a node's saved packet-filter
// rules (iptables-save of either backend, ip6tables-save, iptables -S
// output, nft list ruleset as text or JSON, nft -f input) and one packet,
// evaluated offline the way the kernel walks them.
func NewCmdEval(streams genericiooptions.IOStreams) *cobra.Command {
	f := &EvalFlags{}
	cmd := &cobra.Command{
		Use:   "eval --rules FILE --src IP --dst IP --dport PORT [flags]",
		Short: "Evaluate a packet through a node's saved iptables or nftables rules, offline",
		Long: `Evaluate the first packet of a new connection through a node's packet-filter rules, as the
kernel walks them: every base chain of the prerouting hook (or output for --hook output) in
priority order — iptables' raw, mangle and nat tables and nftables chains alike — the routing
decision on the DNATed address, then the forward or input hook (output), and postrouting.

--rules takes, each file auto-detected: iptables-save or ip6tables-save output of either backend
(legacy or nft), with or without counters; iptables -S output (the table is read from the chain
policies, or --table); nft list ruleset output or an nft -f file (kube-proxy's nftables mode and
every other table: iptables-nft's, firewalld's, CNI plugins'); nft -j list ruleset (JSON);
ipvsadm -Ln / -Sn / -Ln --stats / --rate (kube-proxy's IPVS mode, with its ipset save or ipset
list and its iptables-save as further --rules). Repeat it for several files.
kube-proxy's load balancing is shown as branches with exact probabilities (three endpoints
get exactly 1/3 each, from iptables' statistic rules or nftables' numgen), masquerade per
branch, iptables session affinity as sticky branches (an nft dump holds the affinity sets'
state, which is used as it is).
Rules that cannot be decided (an unknown match, an interface or ipset not given) are never
treated as matching; they are listed as warnings and the result is marked uncertain.

With -f, chains and endpoints are named after the Services and pods whose objects are given
(kube-proxy's chain names are recomputed: comments are not needed).

Exit status:
  0  evaluated, whatever the verdict (DNAT, ACCEPT, DROP, REJECT or NONE)
  1  the tool failed: bad flags, unreadable or unrecognisable files`,
		Example:       evalExample,
		Args:          cobra.NoArgs,
		SilenceUsage:  true,
		SilenceErrors: true,
		RunE: func(c *cobra.Command, _ []string) error {
			o, err := f.ToOptions(streams)
			if err != nil {
				return usageError(c, err.Error())
			}
			return o.Run(c.Context())
		},
	}
	cmd.SetFlagErrorFunc(func(c *cobra.Command, err error) error { return usageError(c, err.Error()) })
	f.AddFlags(cmd.Flags())
	_ = cmd.RegisterFlagCompletionFunc("output", fixedCompletion(formatNames(render.EvalFormats())...))
	_ = cmd.RegisterFlagCompletionFunc("proto", fixedCompletion("tcp", "udp", "sctp"))
	_ = cmd.RegisterFlagCompletionFunc("hook", fixedCompletion("prerouting", "output"))
	_ = cmd.RegisterFlagCompletionFunc("table", fixedCompletion("nat", "filter", "mangle", "raw", "security"))
	_ = cmd.RegisterFlagCompletionFunc("color", fixedCompletion("auto", "always", "never"))
	return cmd
}

// AddFlags registers eval's flags.
func (f *EvalFlags) AddFlags(fs *pflag.FlagSet) {
	fs.StringSliceVar(&f.Rules, "rules", nil, "Rules file, auto-detected: iptables-save / ip6tables-save (legacy or nft), iptables -S, nft list ruleset (text or -j JSON), nft -f input, ipvsadm -Ln/-Sn, ipset save/list; - for stdin. Repeatable.")
	fs.StringVar(&f.Table, "table", "", "Table of iptables -S input that has no chain policies to tell (iptables -t TABLE -S).")
	fs.StringSliceVar(&f.NodeIPs, "node-ip", nil, "The node's own addresses (with loopback they are addrtype LOCAL and local delivery). Repeatable.")
	fs.StringVar(&f.Node, "node", "", "The node's name, to tell local endpoints with -f (default: the only Node in the objects).")
	fs.StringVar(&f.Src, "src", "", "Source address of the packet.")
	fs.StringVar(&f.Dst, "dst", "", "Destination address of the packet (a ClusterIP, node IP, load-balancer or external IP).")
	fs.IntVar(&f.DPort, "dport", 0, "Destination port.")
	fs.IntVar(&f.SPort, "sport", 0, "Source port (default: unknown; rules testing it are reported).")
	fs.StringVar(&f.Proto, "proto", "tcp", "Protocol: tcp, udp or sctp.")
	fs.StringVar(&f.Hook, "hook", "prerouting", "Where the packet enters: prerouting (from a pod or from outside the node) or output (from a process on the node).")
	fs.StringVar(&f.InIface, "in-interface", "", "Input interface, to decide -i matches (prerouting only).")
	fs.StringVar(&f.OutIface, "out-interface", "", "Output interface, to decide -o matches (overrides --routes).")
	fs.StringSliceVar(&f.Routes, "routes", nil, "The node's routes (ip route / ip -6 route / ip -j route output), to decide -o matches. Repeatable.")
	fs.StringSliceVar(&f.Affinity, "affinity", nil, "Session-affinity state: recent lists (KUBE-SEP-...) or nft affinity sets (affinity-...) that already hold the client. Without it iptables affinity is shown as sticky branches and nft affinity sets are used as dumped.")
	fs.StringVar(&f.Mark, "mark", "", "Packet mark on entry (default 0).")
	fs.StringSliceVarP(&f.Filenames, "filename", "f", nil, "Name chains and endpoints after these objects (Services, EndpointSlices, Pods, Nodes; kubectl get -o yaml|json). Repeatable.")
	fs.BoolVarP(&f.Recursive, "recursive", "R", false, "Process the directories given with -f recursively.")
	fs.StringVarP(&f.Output, "output", "o", "tree", "Output format: tree, json or yaml.")
	fs.StringVar(&f.Color, "color", "auto", "Colour the human output: auto, always or never.")
}

// ToOptions validates eval's flags into typed values.
func (f *EvalFlags) ToOptions(streams genericiooptions.IOStreams) (*EvalOptions, error) {
	o := &EvalOptions{streams: streams, NodeName: f.Node}
	var err error
	if len(f.Rules) == 0 {
		return nil, fmt.Errorf("--rules FILE is required")
	}
	o.RuleFiles = f.Rules
	if o.Format, err = render.ParseFormat(f.Output, render.EvalFormats()); err != nil {
		return nil, err
	}
	if o.Color, err = useColor(f.Color, o.Format, streams.Out); err != nil {
		return nil, err
	}
	switch t := rules.Table(f.Table); t {
	case "", rules.TableFilter, rules.TableNAT, rules.TableMangle, rules.TableRaw, rules.TableSecurity:
		o.TableHint = t
	default:
		return nil, fmt.Errorf("invalid --table %q: use nat, filter, mangle, raw or security", f.Table)
	}
	in := &o.Input
	if in.Packet.Src, err = parseAddr("--src", f.Src); err != nil {
		return nil, err
	}
	if in.Packet.Dst, err = parseAddr("--dst", f.Dst); err != nil {
		return nil, err
	}
	if in.Packet.Src.Is4() != in.Packet.Dst.Is4() {
		return nil, fmt.Errorf("--src %s and --dst %s are of different IP families", f.Src, f.Dst)
	}
	if f.DPort < 1 || f.DPort > 65535 {
		return nil, fmt.Errorf("--dport %d: want a port 1-65535", f.DPort)
	}
	if f.SPort < 0 || f.SPort > 65535 {
		return nil, fmt.Errorf("--sport %d: want a port 1-65535", f.SPort)
	}
	in.Packet.DstPort, in.Packet.SrcPort = uint16(f.DPort), uint16(f.SPort)
	switch p := strings.ToLower(f.Proto); p {
	case "tcp", "udp", "sctp":
		in.Packet.Proto = p
	default:
		return nil, fmt.Errorf("invalid --proto %q: use tcp, udp or sctp", f.Proto)
	}
	switch h := rules.Hook(strings.ToLower(f.Hook)); h {
	case rules.HookPrerouting, rules.HookOutput:
		in.Hook = h
	default:
		return nil, fmt.Errorf("invalid --hook %q: use prerouting or output", f.Hook)
	}
	for _, s := range f.NodeIPs {
		a, err := parseAddr("--node-ip", s)
		if err != nil {
			return nil, err
		}
		in.NodeIPs = append(in.NodeIPs, a)
	}
	in.Packet.InIface, in.Packet.OutIface = f.InIface, f.OutIface
	if f.Mark != "" {
		m, err := strconv.ParseUint(f.Mark, 0, 32)
		if err != nil {
			return nil, fmt.Errorf("invalid --mark %q: want a number such as 0x4000", f.Mark)
		}
		in.Packet.Mark = uint32(m)
	}
	if len(f.Affinity) > 0 {
		in.Affinity = map[string]bool{}
		for _, a := range f.Affinity {
			in.Affinity[a] = true
		}
	}
	for _, file := range f.Routes {
		b, err := os.ReadFile(file)
		if err != nil {
			return nil, err
		}
		rt, err := rules.ParseRoutes(string(b))
		if err != nil {
			return nil, fmt.Errorf("%s: %w", file, err)
		}
		in.Routes = append(in.Routes, rt...)
	}
	if len(f.Filenames) > 0 {
		o.files = &cluster.FileSource{Filenames: f.Filenames, Recursive: f.Recursive, Stdin: streams.In}
	}
	return o, nil
}

func parseAddr(flag, s string) (netip.Addr, error) {
	if s == "" {
		return netip.Addr{}, fmt.Errorf("%s is required", flag)
	}
	a, err := netip.ParseAddr(s)
	if err != nil || a.Zone() != "" {
		return netip.Addr{}, fmt.Errorf("invalid %s %q: not an IP address", flag, s)
	}
	return a.Unmap(), nil
}

// Run parses the rule files, evaluates, labels and renders.
func (o *EvalOptions) Run(_ context.Context) error {
	for _, file := range o.RuleFiles {
		rs, err := o.readRules(file)
		if err != nil {
			return err
		}
		o.Input.Rulesets = append(o.Input.Rulesets, rs)
		for _, w := range rs.Warnings {
			fmt.Fprintf(o.streams.ErrOut, "warning: %s\n", w)
		}
	}
	res, err := rules.Evaluate(o.Input)
	if err != nil {
		return err
	}
	if o.files != nil {
		objs, err := cluster.ReadFiles(*o.files)
		if err != nil {
			return err
		}
		for _, w := range objs.Warnings {
			fmt.Fprintf(o.streams.ErrOut, "warning: %s\n", w)
		}
		node := o.NodeName
		if node == "" && len(objs.Nodes) == 1 {
			node = objs.Nodes[0].Name
		}
		fam := corev1.IPv4Protocol
		if o.Input.Packet.Dst.Is6() {
			fam = corev1.IPv6Protocol
		}
		sps := withServiceDetails(ServicePortsFromObjects(objs.Services, objs.EndpointSlices, objs.Pods, fam), objs.Services, fam)
		m := rules.MapChains(o.Input.Rulesets, sps, rules.NodeInfo{Name: node, Zone: nodeZone(objs.Nodes, node)})
		m.Apply(res)
	}
	return render.Eval(o.streams.Out, res, render.Options{Format: o.Format, Color: o.Color})
}

func (o *EvalOptions) readRules(file string) (*rules.Ruleset, error) {
	var r io.Reader = o.streams.In
	if file != "-" {
		f, err := os.Open(file)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		r = f
	}
	rs, err := rules.ParseAny(r, rules.ParseOptions{Source: file, Table: o.TableHint})
	if errors.Is(err, rules.ErrNoRules) {
		return nil, fmt.Errorf("%s: not a dump this command reads (iptables-save, iptables -S, nft list ruleset, nft -j list ruleset, nft -f input, ipvsadm -Ln/-Sn, ipset save/list)", file)
	}
	return rs, err
}

func nodeZone(nodes []corev1.Node, name string) string {
	for _, n := range nodes {
		if n.Name == name {
			return n.Labels[corev1.LabelTopologyZone]
		}
	}
	return ""
}

// ServicePortsFromObjects is trace.ServicePortsFromObjects (kept for the
// eval command's callers).
func ServicePortsFromObjects(svcs []corev1.Service, slices []discoveryv1.EndpointSlice, pods []corev1.Pod, family corev1.IPFamily) []rules.ServicePortInfo {
	return trace.ServicePortsFromObjects(svcs, slices, pods, family)
}

// withServiceDetails fills in what rules.MapChains needs for the nftables
// and IPVS modes and trace.ServicePortsFromObjects may not set: ClientIP
// affinity (nft per-endpoint chains and affinity sets), and the port's
// ClusterIP, port, NodePort and externalIPs of the family (IPVS virtual
// servers). Values already set are kept.
func withServiceDetails(sps []rules.ServicePortInfo, svcs []corev1.Service, family corev1.IPFamily) []rules.ServicePortInfo {
	is6 := family == corev1.IPv6Protocol
	ofFamily := func(ip string) bool {
		a, err := netip.ParseAddr(strings.TrimSpace(ip))
		return err == nil && a.Unmap().Is6() == is6
	}
	for i := range sps {
		sp := &sps[i]
		for j := range svcs {
			s := &svcs[j]
			if s.Namespace != sp.Namespace || s.Name != sp.Name {
				continue
			}
			sp.ClientIPAffinity = sp.ClientIPAffinity || s.Spec.SessionAffinity == corev1.ServiceAffinityClientIP
			if sp.ClusterIP == "" {
				for _, ip := range append([]string{s.Spec.ClusterIP}, s.Spec.ClusterIPs...) {
					if ofFamily(ip) {
						sp.ClusterIP = ip
						break
					}
				}
			}
			if len(sp.ExternalIPs) == 0 {
				for _, ip := range s.Spec.ExternalIPs {
					if ofFamily(ip) {
						sp.ExternalIPs = append(sp.ExternalIPs, ip)
					}
				}
			}
			for _, p := range s.Spec.Ports {
				proto := p.Protocol
				if proto == "" {
					proto = corev1.ProtocolTCP
				}
				if p.Name == sp.PortName && strings.EqualFold(string(proto), sp.Protocol) {
					if sp.Port == 0 {
						sp.Port = int(p.Port)
					}
					if sp.NodePort == 0 {
						sp.NodePort = int(p.NodePort)
					}
				}
			}
		}
	}
	return sps
}
