package cmd

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/spf13/pflag"
	"golang.org/x/sync/errgroup"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/client-go/kubernetes"

	"github.com/svctrace/kubectl-svc-trace/pkg/cluster"
	"github.com/svctrace/kubectl-svc-trace/pkg/nodehelper"
	"github.com/svctrace/kubectl-svc-trace/pkg/rules"
	"github.com/svctrace/kubectl-svc-trace/pkg/trace"
)

// DefaultExternalSource is the client address used for --from external when
// --src is not given: TEST-NET-3 (RFC 5737), never a real client.
const DefaultExternalSource = "203.0.113.10"

// DataplaneFlags are the trace flags that inspect nodes.
type DataplaneFlags struct {
	From            string
	Via             string
	Src             string
	Node            string
	AllNodes        bool
	NodeDump        string
	HelperNamespace string
	HelperImage     string
	Timeout         time.Duration
	KeepHelper      bool
	MaxConcurrency  int
}

// AddFlags registers the node inspection flags.
func (f *DataplaneFlags) AddFlags(fs *pflag.FlagSet) {
	f.AddHelperFlags(fs)
	fs.StringVar(&f.From, "from", "", "Trace a connection from pod/NAME, deploy/NAME, node/NAME, external or an IP address, through the node's real kube-proxy rules (runs a short-lived privileged helper pod on that node).")
	fs.StringVar(&f.Via, "via", "", "Which Service address the client uses: clusterip, nodeport, loadbalancer or externalip (default: clusterip, or for --from external the NodePort/LoadBalancer/externalIP).")
	fs.StringVar(&f.Src, "src", "", "Client address for --from external (default "+DefaultExternalSource+").")
	fs.StringVar(&f.Node, "node", "", "Inspect this node (for --from external/IP: the node the client sends to).")
	fs.BoolVar(&f.AllNodes, "all-nodes", false, "Inspect every node and show a per-node table.")
}

// AddHelperFlags registers the flags of the helper pod and saved dumps.
func (f *DataplaneFlags) AddHelperFlags(fs *pflag.FlagSet) {
	fs.StringVar(&f.NodeDump, "node-dump", "", "Read node dumps saved by 'kubectl svc-trace collect -o DIR' instead of running the helper pod.")
	fs.StringVar(&f.HelperNamespace, "helper-namespace", nodehelper.DefaultNamespace, "Namespace of the node helper pods (must allow privileged pods).")
	fs.StringVar(&f.HelperImage, "helper-image", nodehelper.DefaultImage, "Image of the node helper (mirror it for air-gapped clusters).")
	fs.DurationVar(&f.Timeout, "timeout", 2*time.Minute, "Give up on node inspection after this long (the helper pods are deleted).")
	fs.BoolVar(&f.KeepHelper, "keep-helper", false, "Leave the helper pods running, for debugging (remove them with 'kubectl svc-trace cleanup').")
	fs.IntVar(&f.MaxConcurrency, "max-concurrent-nodes", 5, "How many nodes to inspect at once.")
}

// wanted says whether any node inspection was asked for.
func (f *DataplaneFlags) wanted() bool {
	return f.From != "" || f.Node != "" || f.AllNodes || f.NodeDump != ""
}

// dataplaneRun holds what the trace needs to inspect nodes.
type dataplaneRun struct {
	flags   *DataplaneFlags
	cf      *genericclioptions.ConfigFlags
	client  kubernetes.Interface // nil offline
	objects *cluster.Objects     // -f objects, nil live
	stderr  func(format string, args ...any)
}

// run resolves the source, gets the node dumps and joins them into t.
func (d *dataplaneRun) run(ctx context.Context, t *trace.ServiceTrace, snap *trace.Snapshot) error {
	f := d.flags
	src, err := d.resolveSource(ctx, t, snap)
	if err != nil {
		return err
	}
	via := f.Via
	if via == "" {
		via = trace.ViaClusterIP
		if src.Kind == trace.FromExternal || src.Kind == trace.FromIP {
			switch {
			case len(t.Service.LoadBalancerIngress) > 0:
				via = trace.ViaLoadBalancer
			case len(t.Service.ExternalIPs) > 0:
				via = trace.ViaExternalIP
			case hasNodePort(t.Service):
				via = trace.ViaNodePort
			}
		}
	}
	switch via {
	case trace.ViaClusterIP, trace.ViaNodePort, trace.ViaLoadBalancer, trace.ViaExternalIP:
	default:
		return fmt.Errorf("invalid --via %q: use clusterip, nodeport, loadbalancer or externalip", via)
	}
	nodes, err := d.nodesToInspect(ctx, t, src)
	if err != nil {
		return err
	}
	if src.Node == "" && len(nodes) > 0 {
		src.Node = nodes[0]
	}
	dumps, err := d.dumps(ctx, nodes, t)
	if err != nil {
		return err
	}
	if dumps == nil {
		return nil // no permission: API-only, already warned
	}
	var nds []trace.NodeDataplane
	for _, dump := range dumps {
		nd, err := nodeDataplane(dump)
		if err != nil {
			return err
		}
		n, ok := snap.Nodes[nd.Name]
		if !ok && d.client != nil {
			n, _ = d.client.CoreV1().Nodes().Get(ctx, nd.Name, metav1.GetOptions{})
		}
		if !ok && d.objects != nil {
			for i := range d.objects.Nodes {
				if d.objects.Nodes[i].Name == nd.Name {
					n = &d.objects.Nodes[i]
				}
			}
		}
		applyNode(&nd, n)
		nds = append(nds, nd)
	}
	ports := map[string][]rules.ServicePortInfo{}
	svcs := []corev1.Service{*snap.Service}
	for _, fam := range []corev1.IPFamily{corev1.IPv4Protocol, corev1.IPv6Protocol} {
		ports[string(fam)] = trace.ServicePortsFromObjects(svcs, snap.Slices, snap.Pods, fam)
	}
	return trace.Dataplane(t, trace.DataplaneInput{Query: trace.TraceQuery{From: src, Via: via}, Nodes: nds, Ports: ports})
}

// applyNode adds what the Node object says: zone and InternalIPs.
func applyNode(nd *trace.NodeDataplane, n *corev1.Node) {
	if n == nil {
		return
	}
	nd.Zone = n.Labels[corev1.LabelTopologyZone]
	for _, a := range n.Status.Addresses {
		if a.Type != corev1.NodeInternalIP {
			continue
		}
		if ip, err := netip.ParseAddr(a.Address); err == nil {
			nd.InternalIPs = append(nd.InternalIPs, ip.Unmap())
		}
	}
}

func hasNodePort(s trace.Service) bool {
	for _, p := range s.Ports {
		if p.NodePort != 0 {
			return true
		}
	}
	return false
}

// resolveSource turns --from into an address and the node it starts on.
func (d *dataplaneRun) resolveSource(ctx context.Context, t *trace.ServiceTrace, snap *trace.Snapshot) (trace.Source, error) {
	f := d.flags
	from := f.From
	family := "IPv4"
	if len(t.Service.IPFamilies) > 0 {
		family = t.Service.IPFamilies[0]
	}
	pickIP := func(ips []string) string {
		for _, ip := range ips {
			if a, err := netip.ParseAddr(ip); err == nil && a.Unmap().Is6() == (family == "IPv6") {
				return a.Unmap().String()
			}
		}
		if len(ips) > 0 {
			return ips[0]
		}
		return ""
	}
	switch {
	case from == "" || from == "external":
		src := f.Src
		if src == "" {
			src = DefaultExternalSource
			if family == "IPv6" {
				src = "2001:db8::10"
			}
		}
		if _, err := netip.ParseAddr(src); err != nil {
			return trace.Source{}, fmt.Errorf("invalid --src %q: %w", src, err)
		}
		return trace.Source{Kind: trace.FromExternal, IP: src, Node: f.Node}, nil
	case strings.HasPrefix(from, "pod/") || strings.HasPrefix(from, "pods/"):
		name := from[strings.Index(from, "/")+1:]
		pod, err := d.getPod(ctx, t.Service.Namespace, name)
		if err != nil {
			return trace.Source{}, err
		}
		var ips []string
		for _, ip := range pod.Status.PodIPs {
			ips = append(ips, ip.IP)
		}
		if len(ips) == 0 && pod.Status.PodIP != "" {
			ips = []string{pod.Status.PodIP}
		}
		if len(ips) == 0 {
			return trace.Source{}, fmt.Errorf("pod %s/%s has no IP yet", pod.Namespace, name)
		}
		src := trace.Source{Kind: trace.FromPod, Name: name, IP: pickIP(ips), Node: pod.Spec.NodeName}
		if pod.Spec.HostNetwork {
			// A hostNetwork pod sends from the node's stack: OUTPUT hook.
			src.Kind = trace.FromNode
			src.Name = pod.Spec.NodeName
		}
		return src, nil
	case strings.HasPrefix(from, "deploy/") || strings.HasPrefix(from, "deployment/") || strings.HasPrefix(from, "deployments/"):
		name := from[strings.Index(from, "/")+1:]
		if d.client == nil {
			return trace.Source{}, fmt.Errorf("--from %s needs a cluster; with -f use --from pod/NAME", from)
		}
		dep, err := d.client.AppsV1().Deployments(t.Service.Namespace).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return trace.Source{}, err
		}
		sel, err := metav1.LabelSelectorAsSelector(dep.Spec.Selector)
		if err != nil {
			return trace.Source{}, err
		}
		pods, err := d.client.CoreV1().Pods(t.Service.Namespace).List(ctx, metav1.ListOptions{LabelSelector: sel.String()})
		if err != nil {
			return trace.Source{}, err
		}
		names := make([]string, 0, len(pods.Items))
		for _, p := range pods.Items {
			if p.Status.PodIP != "" && p.Status.Phase == corev1.PodRunning {
				names = append(names, p.Name)
			}
		}
		if len(names) == 0 {
			return trace.Source{}, fmt.Errorf("deployment %s has no running pod with an IP", name)
		}
		sort.Strings(names)
		f2 := *d
		fl := *f
		fl.From = "pod/" + names[0]
		f2.flags = &fl
		return f2.resolveSource(ctx, t, snap)
	case strings.HasPrefix(from, "node/") || strings.HasPrefix(from, "nodes/"):
		name := from[strings.Index(from, "/")+1:]
		var node *corev1.Node
		if d.client != nil {
			n, err := d.client.CoreV1().Nodes().Get(ctx, name, metav1.GetOptions{})
			if err != nil {
				return trace.Source{}, err
			}
			node = n
		} else if d.objects != nil {
			for i := range d.objects.Nodes {
				if d.objects.Nodes[i].Name == name {
					node = &d.objects.Nodes[i]
				}
			}
		}
		var ips []string
		if node != nil {
			for _, a := range node.Status.Addresses {
				if a.Type == corev1.NodeInternalIP {
					ips = append(ips, a.Address)
				}
			}
		}
		return trace.Source{Kind: trace.FromNode, Name: name, IP: pickIP(ips), Node: name}, nil
	default:
		a, err := netip.ParseAddr(from)
		if err != nil {
			return trace.Source{}, fmt.Errorf("invalid --from %q: use pod/NAME, deploy/NAME, node/NAME, external or an IP address", from)
		}
		return trace.Source{Kind: trace.FromIP, IP: a.Unmap().String(), Node: f.Node}, nil
	}
}

func (d *dataplaneRun) getPod(ctx context.Context, ns, name string) (*corev1.Pod, error) {
	if d.client != nil {
		return d.client.CoreV1().Pods(ns).Get(ctx, name, metav1.GetOptions{})
	}
	if d.objects != nil {
		for i := range d.objects.Pods {
			p := &d.objects.Pods[i]
			if p.Name == name && (p.Namespace == ns || p.Namespace == "") {
				return p, nil
			}
		}
	}
	return nil, fmt.Errorf("pods %q not found", name)
}

// nodesToInspect: --all-nodes, else --node, else the source's node, else
// the first node hosting an endpoint.
func (d *dataplaneRun) nodesToInspect(ctx context.Context, t *trace.ServiceTrace, src trace.Source) ([]string, error) {
	f := d.flags
	if f.AllNodes {
		if f.NodeDump != "" {
			dumps, err := nodehelper.LoadDumps(f.NodeDump)
			if err != nil {
				return nil, err
			}
			var out []string
			for _, dd := range dumps {
				out = append(out, dd.Node)
			}
			return out, nil
		}
		if d.client == nil {
			return nil, fmt.Errorf("--all-nodes needs a cluster or --node-dump")
		}
		list, err := d.client.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
		if err != nil {
			return nil, err
		}
		var out []string
		for _, n := range list.Items {
			out = append(out, n.Name)
		}
		sort.Strings(out)
		return out, nil
	}
	if f.Node != "" {
		return []string{f.Node}, nil
	}
	if src.Node != "" {
		return []string{src.Node}, nil
	}
	for _, ep := range t.Endpoints {
		if ep.Node != "" {
			return []string{ep.Node}, nil
		}
	}
	if f.NodeDump != "" {
		dumps, err := nodehelper.LoadDumps(f.NodeDump)
		if err != nil {
			return nil, err
		}
		return []string{dumps[0].Node}, nil
	}
	return nil, fmt.Errorf("cannot tell which node to inspect: give --node")
}

// dumps reads saved dumps or runs the helper on each node. nil, nil means
// the user may not run the helper: the trace stays API-only.
func (d *dataplaneRun) dumps(ctx context.Context, nodes []string, t *trace.ServiceTrace) ([]*nodehelper.Dump, error) {
	f := d.flags
	if f.NodeDump != "" {
		all, err := nodehelper.LoadDumps(f.NodeDump)
		if err != nil {
			return nil, err
		}
		var out []*nodehelper.Dump
		for _, n := range nodes {
			found := false
			for _, dd := range all {
				if dd.Node == n {
					out = append(out, dd)
					found = true
				}
			}
			if !found {
				return nil, fmt.Errorf("no dump of node %s under %s", n, f.NodeDump)
			}
		}
		return out, nil
	}
	if d.client == nil {
		return nil, fmt.Errorf("node inspection needs a cluster; with -f, give --node-dump DIR (saved by `kubectl svc-trace collect`)")
	}
	var targets []string
	for _, ep := range t.Endpoints {
		if !containsString(targets, ep.IP) {
			targets = append(targets, ep.IP)
		}
	}
	dumps, err := d.collect(ctx, nodes, targets, t.Service.ClusterIPs)
	var np *nodehelper.ErrNoPermission
	if errors.As(err, &np) {
		d.stderr("warning: %s; showing the API view only\n", np.Error())
		return nil, nil
	}
	return dumps, err
}

// collect runs the helper on each node (bounded concurrency) after checking
// that the user may; ErrNoPermission is returned as is.
func (d *dataplaneRun) collect(ctx context.Context, nodes, routeTargets, conntrackTargets []string) ([]*nodehelper.Dump, error) {
	f := d.flags
	cfg, err := restConfig(d.cf) // sets the plugin's user agent, so audits can tell its execs
	if err != nil {
		return nil, err
	}
	h := &nodehelper.Helper{Client: d.client, Exec: &nodehelper.RemoteExecutor{Config: cfg, Client: d.client},
		Config: nodehelper.Config{Namespace: f.HelperNamespace, Image: f.HelperImage, RequestedBy: requestedBy(d.cf), Command: "kubectl svc-trace " + strings.Join(os.Args[1:], " ")},
		Keep:   f.KeepHelper,
		Progress: func(node, phase, detail string) {
			d.stderr("node %s: %s %s\n", node, phase, detail)
		}}
	if err := h.CheckAccess(ctx); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, f.Timeout)
	defer cancel()
	out := make([]*nodehelper.Dump, len(nodes))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(max(1, f.MaxConcurrency))
	for i, n := range nodes {
		g.Go(func() error {
			dd, err := h.Collect(gctx, n, routeTargets, conntrackTargets)
			if err != nil {
				return err
			}
			out[i] = dd
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	return out, nil
}

func containsString(xs []string, x string) bool {
	for _, v := range xs {
		if v == x {
			return true
		}
	}
	return false
}

func requestedBy(cf *genericclioptions.ConfigFlags) string {
	raw, err := cf.ToRawKubeConfigLoader().RawConfig()
	if err != nil {
		return ""
	}
	ctxName := raw.CurrentContext
	if cf.Context != nil && *cf.Context != "" {
		ctxName = *cf.Context
	}
	if c, ok := raw.Contexts[ctxName]; ok {
		return c.AuthInfo
	}
	return ""
}

// nodeDataplane parses one node's dump into what the engine needs.
func nodeDataplane(d *nodehelper.Dump) (trace.NodeDataplane, error) {
	nd := trace.NodeDataplane{Name: d.Node, ProxyMode: strings.TrimSpace(d.File("proxy-mode")), RouteHops: map[string]trace.RouteHop{}}
	if b := strings.Fields(d.File("iptables-backend")); len(b) > 0 {
		nd.Backend = b[0]
		nd.BackendReason = strings.Join(b[1:], " ")
	}
	if nd.Backend == "" {
		nd.Backend = "nft"
		nd.BackendReason = "no decision recorded; assuming nft"
	}
	if nd.ProxyMode == "nftables" {
		// kube-proxy's own tables (ip/ip6 kube-proxy) plus every other
		// table that can filter the same packets.
		b, err := d.NftRuleset()
		if err != nil {
			return nd, fmt.Errorf("node %s: %w", d.Node, err)
		}
		rs, err := rules.ParseNFTString(string(b), rules.ParseOptions{Source: d.Node + "/nft"})
		if err != nil {
			return nd, fmt.Errorf("node %s nft ruleset: %w", d.Node, err)
		}
		nd.Rulesets = append(nd.Rulesets, rs)
	}
	for _, fam := range []string{"iptables", "ip6tables"} {
		name := fam + "-" + nd.Backend + "-save"
		text := d.File(name)
		if strings.TrimSpace(text) == "" {
			continue
		}
		rs, err := rules.ParseString(text, rules.ParseOptions{Source: d.Node + "/" + name})
		if err != nil {
			return nd, fmt.Errorf("node %s %s: %w", d.Node, name, err)
		}
		nd.Rulesets = append(nd.Rulesets, rs)
	}
	for _, name := range []string{"ip-route.json", "ip6-route.json"} {
		if text := d.File(name); strings.TrimSpace(text) != "" {
			routes, err := rules.ParseRoutes(text)
			if err != nil {
				nd.Warnings = append(nd.Warnings, fmt.Sprintf("%s: %v", name, err))
				continue
			}
			nd.Routes = append(nd.Routes, routes...)
		}
	}
	var addrs []struct {
		AddrInfo []struct {
			Local string `json:"local"`
		} `json:"addr_info"`
	}
	if text := d.File("ip-addr.json"); text != "" {
		if err := json.Unmarshal([]byte(text), &addrs); err != nil {
			nd.Warnings = append(nd.Warnings, "ip-addr.json: "+err.Error())
		}
	}
	for _, a := range addrs {
		for _, ai := range a.AddrInfo {
			if ip, err := netip.ParseAddr(ai.Local); err == nil && !ip.IsLoopback() {
				nd.NodeIPs = append(nd.NodeIPs, ip)
			}
		}
	}
	for _, name := range d.Names() {
		if !strings.HasPrefix(name, "route-get/") || strings.HasSuffix(name, ".err") || strings.HasSuffix(name, ".rc") {
			continue
		}
		var hops []struct {
			Dev     string `json:"dev"`
			Gateway string `json:"gateway"`
			Prefsrc string `json:"prefsrc"`
		}
		if json.Unmarshal(d.Files[name], &hops) == nil && len(hops) > 0 {
			nd.RouteHops[strings.TrimPrefix(name, "route-get/")] = trace.RouteHop{Dev: hops[0].Dev, Via: hops[0].Gateway, Src: hops[0].Prefsrc}
		}
	}
	return nd, nil
}
