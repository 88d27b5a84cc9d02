package cmd

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/client-go/kubernetes"

	"github.com/svctrace/kubectl-svc-trace/pkg/cluster"
	"github.com/svctrace/kubectl-svc-trace/pkg/dnssim"
	"github.com/svctrace/kubectl-svc-trace/pkg/render"
)

const dnsExample = `  # Every query pod/client sends for "nginx-svc", and what cluster DNS answers
  kubectl svc-trace dns nginx-svc --from pod/client

  # The same lookup as an Alpine (musl) image would do it, IPv4 only
  kubectl svc-trace dns www.example.com --from pod/client --resolver musl --family ipv4

  # Offline: objects from files, explicit upstream answers, a given resolv.conf
  kubectl svc-trace dns api.example.com -f objects.yaml --resolv-conf resolv.conf --records records.yaml

  # One question, like dig
  kubectl svc-trace dns _http._tcp.web.default.svc.cluster.local --type SRV --from pod/client

  # Ask the cluster's real DNS the same questions, side by side with the prediction
  kubectl svc-trace dns nginx-svc --from pod/client --live

  # Use the container's real /etc/resolv.conf and say where it differs from kubelet's
  kubectl svc-trace dns nginx-svc --from pod/client --exec`

// DNSFlags are the flags of `dns`.
type DNSFlags struct {
	ConfigFlags    *genericclioptions.ConfigFlags
	From           string
	Resolver       string
	Image          string
	Family         string
	Type           string
	Records        string
	ResolvConf     string
	NodeResolvConf string
	ClusterDNS     []string
	ClusterDomain  string
	Corefile       string
	Filenames      []string
	Recursive      bool
	Output         string
	Color          string
	Live           bool
	LiveTimeout    time.Duration
	Exec           bool
	Container      string
}

// DNSOptions are dns's validated options.
type DNSOptions struct {
	Name      string
	Namespace string
	PodName   string
	QType     string
	Family    dnssim.AddrFamily
	Resolver  dnssim.Resolver
	Image     string
	Format    render.Format
	Color     bool
	// Live asks the cluster's real DNS too (--live), each question within
	// LiveTimeout.
	Live        bool
	LiveTimeout time.Duration
	// Exec reads the container's real /etc/resolv.conf (--exec) from
	// Container ("" = the first).
	Exec      bool
	Container string
	flags     *DNSFlags
	files     *cluster.FileSource
	streams   genericiooptions.IOStreams
}

// NewCmdDNS builds `kubectl svc-trace dns NAME --from pod/NAME`: the pod's
// resolv.conf as kubelet writes it, every query its resolver sends for NAME,
// what cluster DNS answers each, where the walk stops and what it costs.
func NewCmdDNS(streams genericiooptions.IOStreams, cf *genericclioptions.ConfigFlags) *cobra.Command {
	f := &DNSFlags{ConfigFlags: cf}
	cmd := &cobra.Command{
		Use:   "dns NAME [--from pod/NAME] [flags]",
		Short: "Predict every DNS query a pod sends for a name, and what cluster DNS answers",
		Long: `Predict a DNS lookup from a pod, offline: the pod's resolv.conf as kubelet generates it
(dnsPolicy, hostNetwork, dnsConfig, cluster DNS and domain, the node's search line and
kubelet's limits), the candidate names its resolver tries (search list and ndots), each
query with the answer CoreDNS's kubernetes plugin gives, where the walk stops, and what it
costs — per resolver: glibc, musl (1.2.4+), musl-1.2.3 or Go's pure resolver.

Names outside the cluster domain are answered by upstream DNS, which cannot be known
offline: give --records FILE to decide them; otherwise they are assumed and marked.

--live also asks the cluster's real DNS every question (a port-forward to the pod behind
the pod's first nameserver, DNS over TCP), shows the predicted and the real answers side
by side, replays the resolver's walk on the real answers, and flags every difference.
--exec reads the container's real /etc/resolv.conf (as kubectl exec ... cat does), uses
it for the walk and says where it differs from the one kubelet's rules give.
`,
		Example:       dnsExample,
		Args:          cobra.ExactArgs(1),
		SilenceUsage:  true,
		SilenceErrors: true,
		RunE: func(c *cobra.Command, args []string) error {
			o, err := f.ToOptions(args, streams)
			if err != nil {
				return err
			}
			return o.Run(c.Context())
		},
	}
	f.AddFlags(cmd.Flags())
	_ = cmd.RegisterFlagCompletionFunc("output", fixedCompletion(formatNames(render.DNSFormats())...))
	_ = cmd.RegisterFlagCompletionFunc("resolver", fixedCompletion("auto", "glibc", "musl", "musl-1.2.3", "go"))
	_ = cmd.RegisterFlagCompletionFunc("family", fixedCompletion("any", "ipv4", "ipv6"))
	_ = cmd.RegisterFlagCompletionFunc("type", fixedCompletion("A", "AAAA", "SRV", "PTR", "CNAME", "TXT"))
	return cmd
}

// AddFlags registers dns's flags.
func (f *DNSFlags) AddFlags(fs *pflag.FlagSet) {
	fs.StringVar(&f.From, "from", "", "The pod doing the lookup: pod/NAME (in -n NAMESPACE). Not needed with --resolv-conf.")
	fs.StringVar(&f.Resolver, "resolver", "auto", "Stub resolver: glibc, musl (1.2.4+), musl-1.2.3, go, or auto (guessed from the pod's image).")
	fs.StringVar(&f.Image, "image", "", "Image to guess the resolver from with --resolver=auto (default: the pod's first container).")
	fs.StringVar(&f.Family, "family", "any", "Address family asked for: any (A+AAAA), ipv4 (A only) or ipv6 (AAAA only).")
	fs.StringVar(&f.Type, "type", "", "Ask one question of this type for NAME as given, like dig: A, AAAA, SRV, PTR, CNAME or TXT.")
	fs.StringVar(&f.Records, "records", "", "YAML/JSON file of explicit upstream answers (records, servfail, refused, timeout, default).")
	fs.StringVar(&f.ResolvConf, "resolv-conf", "", "Use this file as the pod's /etc/resolv.conf instead of computing it.")
	fs.StringVar(&f.NodeResolvConf, "node-resolv-conf", "", "The node's resolv.conf (kubelet --resolv-conf): its search line is appended for ClusterFirst pods.")
	fs.StringSliceVar(&f.ClusterDNS, "cluster-dns", nil, "kubelet's clusterDNS IPs (default: the kube-dns Service's ClusterIPs).")
	fs.StringVar(&f.ClusterDomain, "cluster-domain", "", "kubelet's clusterDomain (default: from the Corefile, else cluster.local).")
	fs.StringVar(&f.Corefile, "corefile", "", "CoreDNS Corefile to read the kubernetes plugin from (default: ConfigMap kube-system/coredns, else kubeadm's).")
	fs.StringSliceVarP(&f.Filenames, "filename", "f", nil, "Read objects from these files instead of the cluster (- for stdin). Repeatable.")
	fs.BoolVarP(&f.Recursive, "recursive", "R", false, "Process the directories given with -f recursively.")
	fs.StringVarP(&f.Output, "output", "o", "tree", "Output format: tree, json or yaml.")
	fs.StringVar(&f.Color, "color", "auto", "Colour the human output: auto, always or never.")
	fs.BoolVar(&f.Live, "live", false, "Also ask the cluster's real DNS every question (port-forward to the pod behind the pod's nameserver, DNS over TCP) and show predicted vs real side by side.")
	fs.DurationVar(&f.LiveTimeout, "live-timeout", 10*time.Second, "With --live: how long to wait for each real answer (CoreDNS takes seconds to give up on an unreachable upstream).")
	fs.BoolVar(&f.Exec, "exec", false, "Read the container's real /etc/resolv.conf (kubectl exec ... cat) instead of computing it, and say where it differs from the computed one.")
	fs.StringVarP(&f.Container, "container", "c", "", "With --exec: the container to read /etc/resolv.conf from (default: the pod's first).")
}

// ToOptions validates dns's flags.
func (f *DNSFlags) ToOptions(args []string, streams genericiooptions.IOStreams) (*DNSOptions, error) {
	o := &DNSOptions{Name: args[0], flags: f, streams: streams, Image: f.Image}
	var err error
	if o.Format, err = render.ParseFormat(f.Output, render.DNSFormats()); err != nil {
		return nil, err
	}
	if o.Color, err = useColor(f.Color, o.Format, streams.Out); err != nil {
		return nil, err
	}
	if o.Family, err = dnssim.ParseFamily(f.Family); err != nil {
		return nil, err
	}
	if f.Resolver != "auto" && f.Resolver != "" {
		if o.Resolver, err = dnssim.ParseResolver(f.Resolver); err != nil {
			return nil, err
		}
	}
	if f.Type != "" {
		t := strings.ToUpper(f.Type)
		switch t {
		case "A", "AAAA", "SRV", "PTR", "CNAME", "TXT":
			o.QType = t
		default:
			return nil, fmt.Errorf("invalid --type %q: use A, AAAA, SRV, PTR, CNAME or TXT", f.Type)
		}
	}
	for _, ip := range f.ClusterDNS {
		if _, err := dnssim.ReverseName(ip); err != nil {
			return nil, fmt.Errorf("invalid --cluster-dns %q: not an IP address", ip)
		}
	}
	o.Namespace, _ = namespaceOf(f.ConfigFlags)
	if f.From != "" {
		kind, name, ok := strings.Cut(f.From, "/")
		if !ok {
			name, kind = kind, "pod"
		}
		if kind != "pod" && kind != "pods" && kind != "po" || name == "" {
			return nil, fmt.Errorf("invalid --from %q: want pod/NAME", f.From)
		}
		o.PodName = name
	}
	if o.PodName == "" && f.ResolvConf == "" {
		return nil, fmt.Errorf("give --from pod/NAME (the pod doing the lookup) or --resolv-conf FILE")
	}
	if len(f.Filenames) > 0 {
		o.files = &cluster.FileSource{Filenames: f.Filenames, Recursive: f.Recursive, Stdin: streams.In}
	}
	o.Live, o.LiveTimeout, o.Exec, o.Container = f.Live, f.LiveTimeout, f.Exec, f.Container
	if (o.Live || o.Exec) && o.files != nil {
		return nil, fmt.Errorf("--live and --exec ask the cluster: they cannot be combined with -f")
	}
	if o.Exec && (o.PodName == "" || f.ResolvConf != "") {
		return nil, fmt.Errorf("--exec reads the resolv.conf of the pod given with --from: it needs --from and cannot be combined with --resolv-conf")
	}
	if o.Container != "" && !o.Exec {
		return nil, fmt.Errorf("--container only applies to --exec")
	}
	if o.LiveTimeout <= 0 {
		return nil, fmt.Errorf("invalid --live-timeout %s: want a positive duration", o.LiveTimeout)
	}
	return o, nil
}

// dnsWorld is what the command gathered from the cluster or the files.
type dnsWorld struct {
	pod        *corev1.Pod
	services   []corev1.Service
	slices     []discoveryv1.EndpointSlice
	pods       []corev1.Pod
	namespaces map[string]bool
	corefile   string
	corefileAt string
	kubelet    *kubeletConfigz
	// allPods is filled only when --live needs to find a nameserver's pod.
	allPods []corev1.Pod
	notes   []string
}

type kubeletConfigz struct {
	ClusterDNS    []string `json:"clusterDNS"`
	ClusterDomain string   `json:"clusterDomain"`
	ResolvConf    *string  `json:"resolvConf"`
}

// Run gathers the inputs, runs dnssim and renders the report.
func (o *DNSOptions) Run(ctx context.Context) error {
	if ctx == nil {
		ctx = context.Background()
	}
	f := o.flags
	var world *dnsWorld
	var err error
	if o.files != nil {
		world, err = o.readFiles()
	} else {
		world, err = o.readLive(ctx)
	}
	if err != nil {
		return err
	}
	in := dnssim.Input{Name: o.Name, Resolver: o.Resolver, Family: o.Family, QType: o.QType, Image: o.Image}
	if f.Records != "" {
		b, err := os.ReadFile(f.Records)
		if err != nil {
			return err
		}
		if in.Records, err = dnssim.ParseRecords(f.Records, b); err != nil {
			return err
		}
	}

	// The kubernetes plugin: --corefile, the ConfigMap, else kubeadm's.
	plugin := dnssim.KubeadmDefaultPlugin(f.ClusterDomain)
	cache := dnssim.KubeadmDefaultCache(plugin.ClusterDomain())
	var notes []string
	if f.Corefile != "" {
		b, err := os.ReadFile(f.Corefile)
		if err != nil {
			return err
		}
		world.corefile, world.corefileAt = string(b), f.Corefile
	}
	if world.corefile != "" {
		cf, err := dnssim.ParseCorefile(world.corefileAt, world.corefile)
		if err != nil {
			return err
		}
		plugin, cache = cf.Kubernetes, cf.Cache
		notes = append(notes, cf.Notes...)
	} else {
		notes = append(notes, "no Corefile: assuming kubeadm's default kubernetes plugin (pods insecure, ttl 30, fallthrough for reverse zones) and cache (30 s, not for the cluster domain)")
	}

	// kubelet's clusterDNS and clusterDomain: flags, configz, the kube-dns
	// Service, the Corefile.
	clusterDomain := f.ClusterDomain
	clusterDNS := f.ClusterDNS
	if k := world.kubelet; k != nil {
		if clusterDomain == "" {
			clusterDomain = k.ClusterDomain
		}
		if len(clusterDNS) == 0 {
			clusterDNS = k.ClusterDNS
		}
	}
	if clusterDomain == "" {
		clusterDomain = plugin.ClusterDomain()
	}
	if clusterDomain == "" {
		clusterDomain = "cluster.local"
	}
	dnsSvc := dnsService(world.services, clusterDNS)
	var dnsSvcIPs []string
	if dnsSvc != nil {
		dnsSvcIPs = clusterIPs(dnsSvc)
	}
	if len(clusterDNS) == 0 && len(dnsSvcIPs) > 0 {
		// kubeadm sets kubelet's clusterDNS to the DNS Service's address in
		// the primary service CIDR only (componentconfigs/kubelet.go,
		// constants.GetDNSIP), also on dual-stack clusters.
		clusterDNS = dnsSvcIPs[:1]
		notes = append(notes, "kubelet's clusterDNS taken to be the primary ClusterIP of Service "+dnsSvc.Namespace+"/"+dnsSvc.Name+" ("+dnsSvcIPs[0]+"), as kubeadm configures it; give --cluster-dns if kubelet uses other addresses (e.g. NodeLocal DNSCache 169.254.20.10)")
	}

	in.Cluster = clusterModel(world, plugin, dnsSvcIPs)
	if dnsSvc != nil {
		in.Cluster.DNSServerIPs = readyAddresses(world.slices, dnsSvc)
	}
	in.Cluster.Cache = cache
	in.ClusterDNS = clusterDNS

	// The pod's resolv.conf: given, or computed the way kubelet does.
	if f.ResolvConf != "" {
		b, err := os.ReadFile(f.ResolvConf)
		if err != nil {
			return err
		}
		if in.ResolvConf, err = dnssim.ParseResolvConf(f.ResolvConf, b); err != nil {
			return err
		}
	} else {
		k := dnssim.KubeletDNS{ClusterDNS: clusterDNS, ClusterDomain: clusterDomain}
		if world.kubelet != nil && world.kubelet.ResolvConf != nil && *world.kubelet.ResolvConf == "" {
			k.ResolvConfDisabled = true
		}
		if f.NodeResolvConf != "" {
			b, err := os.ReadFile(f.NodeResolvConf)
			if err != nil {
				return err
			}
			if k.HostResolvConf, err = dnssim.ParseResolvConf(f.NodeResolvConf, b); err != nil {
				return err
			}
		} else if !k.ResolvConfDisabled {
			notes = append(notes, "the node's resolv.conf is unknown (give --node-resolv-conf): its search domains, which kubelet appends, are not shown")
		}
		spec := podDNSSpec(world.pod)
		for _, e := range dnssim.ValidatePodDNSConfig(spec.DNSPolicy, spec.DNSConfig) {
			notes = append(notes, "the API server would reject this pod: "+e)
		}
		gen, err := dnssim.GeneratePodDNS(k, spec)
		if err != nil {
			return err
		}
		in.Generated = gen
		in.ResolvConf = gen.ResolvConf(fmt.Sprintf("computed for pod %s/%s", world.pod.Namespace, world.pod.Name))
	}
	var check *dnssim.ResolvConfCheck
	if o.Exec {
		real, err := o.execResolvConf(ctx, world.pod)
		if err != nil {
			return err
		}
		check = dnssim.CheckResolvConf(in.ResolvConf, real)
		in.ResolvConf = real
	}
	if o.PodName != "" {
		in.Pod = world.pod.Namespace + "/" + world.pod.Name
		if in.Image == "" && len(world.pod.Spec.Containers) > 0 {
			in.Image = world.pod.Spec.Containers[0].Image
		}
		in.Hosts = dnssim.ParseHosts(dnssim.KubeletHostsFile(podHosts(world.pod, clusterDomain)))
	}
	rep := dnssim.Analyze(in)
	rep.ExecResolvConf = check
	rep.Notes = append(append(rep.Notes, world.notes...), notes...)
	if o.Live {
		if err := o.runLive(ctx, world, in, rep); err != nil {
			return err
		}
	}
	return render.DNS(o.streams.Out, rep, render.Options{Format: o.Format, Color: o.Color})
}

// readFiles reads -f objects. Namespaces are the Namespace objects given;
// without any, those the objects live in plus default and kube-system. The
// Corefile comes from a kube-system/coredns ConfigMap in the files, if any.
func (o *DNSOptions) readFiles() (*dnsWorld, error) {
	objs, extras, err := readFilesWithExtras(*o.files)
	if err != nil {
		return nil, err
	}
	w := &dnsWorld{services: objs.Services, slices: objs.EndpointSlices, pods: objs.Pods, namespaces: map[string]bool{}, notes: objs.Warnings,
		corefile: extras.corefile, corefileAt: extras.corefileAt}
	for _, ep := range objs.Endpoints {
		have := false
		for _, s := range w.slices {
			if s.Namespace == ep.Namespace && s.Labels[discoveryv1.LabelServiceName] == ep.Name {
				have = true
			}
		}
		if !have {
			w.slices = append(w.slices, cluster.SlicesFromEndpoints(&ep)...)
		}
	}
	if len(extras.namespaces) > 0 {
		for _, n := range extras.namespaces {
			w.namespaces[n] = true
		}
	} else {
		w.namespaces["default"], w.namespaces["kube-system"] = true, true
		for _, s := range objs.Services {
			w.namespaces[nsOrDefault(s.Namespace)] = true
		}
		for _, p := range objs.Pods {
			w.namespaces[nsOrDefault(p.Namespace)] = true
		}
		w.notes = append(w.notes, "objects from files: no Namespace objects given, so namespaces are inferred from the objects (plus default and kube-system); a name in another existing namespace would get NODATA rather than NXDOMAIN")
	}
	if o.PodName != "" {
		for i := range objs.Pods {
			p := &objs.Pods[i]
			if p.Name == o.PodName && nsOrDefault(p.Namespace) == o.Namespace {
				w.pod = p
			}
		}
		if w.pod == nil {
			return nil, fmt.Errorf("pod %s/%s not found in the objects given with -f", o.Namespace, o.PodName)
		}
	} else {
		w.pod = &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "(none)", Namespace: o.Namespace}}
	}
	return w, nil
}

func nsOrDefault(ns string) string {
	if ns == "" {
		return "default"
	}
	return ns
}

// readLive reads what CoreDNS's informers hold (Services, EndpointSlices,
// Namespaces, Pods) plus the pod, the Corefile and kubelet's configz.
// Optional inputs that RBAC forbids become notes; required ones fail.
func (o *DNSOptions) readLive(ctx context.Context) (*dnsWorld, error) {
	client, err := newClient(o.flags.ConfigFlags)
	if err != nil {
		return nil, err
	}
	w := &dnsWorld{namespaces: map[string]bool{}}
	if o.PodName != "" {
		p, err := client.CoreV1().Pods(o.Namespace).Get(ctx, o.PodName, metav1.GetOptions{})
		if err != nil {
			return nil, fmt.Errorf("pod %s/%s: %w", o.Namespace, o.PodName, err)
		}
		w.pod = p
	} else {
		w.pod = &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "(none)", Namespace: o.Namespace}}
	}
	svcs, err := client.CoreV1().Services(metav1.NamespaceAll).List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, fmt.Errorf("listing services in all namespaces (CoreDNS answers from all of them): %w", err)
	}
	w.services = svcs.Items
	sl, err := client.DiscoveryV1().EndpointSlices(metav1.NamespaceAll).List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, fmt.Errorf("listing endpointslices in all namespaces: %w", err)
	}
	w.slices = sl.Items
	nss, err := client.CoreV1().Namespaces().List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, fmt.Errorf("listing namespaces (CoreDNS answers NXDOMAIN for names in missing ones): %w", err)
	}
	for _, n := range nss.Items {
		w.namespaces[n.Name] = true
	}
	if cm, err := client.CoreV1().ConfigMaps("kube-system").Get(ctx, "coredns", metav1.GetOptions{}); err == nil {
		w.corefile, w.corefileAt = cm.Data["Corefile"], "configmap kube-system/coredns"
	} else if !apierrors.IsNotFound(err) {
		w.notes = append(w.notes, "could not read configmap kube-system/coredns: "+err.Error())
	}
	if strings.Contains(w.corefile, "pods verified") {
		pods, err := client.CoreV1().Pods(metav1.NamespaceAll).List(ctx, metav1.ListOptions{})
		if err != nil {
			return nil, fmt.Errorf("listing pods (the Corefile has \"pods verified\"): %w", err)
		}
		w.pods = pods.Items
	}
	if w.pod.Spec.NodeName != "" {
		w.kubelet = readConfigz(ctx, client, w.pod.Spec.NodeName, &w.notes)
	}
	return w, nil
}

// readConfigz reads kubelet's clusterDNS, clusterDomain and resolvConf
// through the API server's node proxy (needs nodes/proxy); a refusal is a
// note, not an error.
func readConfigz(ctx context.Context, client kubernetes.Interface, node string, notes *[]string) *kubeletConfigz {
	raw, err := client.CoreV1().RESTClient().Get().AbsPath("/api/v1/nodes/" + node + "/proxy/configz").DoRaw(ctx)
	if err != nil {
		*notes = append(*notes, fmt.Sprintf("kubelet configz of node %s not readable (%v): using the kube-dns Service and the Corefile for clusterDNS/clusterDomain", node, err))
		return nil
	}
	var doc struct {
		KubeletConfig kubeletConfigz `json:"kubeletconfig"`
	}
	if err := json.Unmarshal(raw, &doc); err != nil {
		*notes = append(*notes, fmt.Sprintf("kubelet configz of node %s: %v", node, err))
		return nil
	}
	return &doc.KubeletConfig
}

// dnsService finds the Service cluster DNS answers behind: the one whose
// ClusterIPs include kubelet's first clusterDNS address, else
// kube-system/kube-dns (kubeadm's name, kept by every major distribution).
func dnsService(svcs []corev1.Service, clusterDNS []string) *corev1.Service {
	if len(clusterDNS) > 0 {
		for i := range svcs {
			for _, ip := range clusterIPs(&svcs[i]) {
				if ip == clusterDNS[0] {
					return &svcs[i]
				}
			}
		}
	}
	for i := range svcs {
		if svcs[i].Namespace == "kube-system" && svcs[i].Name == "kube-dns" {
			return &svcs[i]
		}
	}
	return nil
}

// readyAddresses lists the ready endpoint addresses of a Service's
// EndpointSlices (for the DNS Service: CoreDNS's own pod IPs), sorted.
func readyAddresses(slices []discoveryv1.EndpointSlice, svc *corev1.Service) []string {
	seen := map[string]bool{}
	var out []string
	for _, sl := range slices {
		if nsOrDefault(sl.Namespace) != nsOrDefault(svc.Namespace) || sl.Labels[discoveryv1.LabelServiceName] != svc.Name {
			continue
		}
		for _, e := range sl.Endpoints {
			if e.Conditions.Ready != nil && !*e.Conditions.Ready {
				continue
			}
			for _, a := range e.Addresses {
				if !seen[a] {
					seen[a] = true
					out = append(out, a)
				}
			}
		}
	}
	sort.Strings(out)
	return out
}

func clusterIPs(s *corev1.Service) []string {
	if len(s.Spec.ClusterIPs) > 0 {
		return append([]string{}, s.Spec.ClusterIPs...)
	}
	if s.Spec.ClusterIP != "" {
		return []string{s.Spec.ClusterIP}
	}
	return nil
}

// clusterModel converts API objects into dnssim's view of what CoreDNS's
// informers hold.
func clusterModel(w *dnsWorld, plugin dnssim.KubernetesPlugin, dnsSvcIPs []string) *dnssim.Cluster {
	c := &dnssim.Cluster{Plugin: plugin, Namespaces: w.namespaces, DNSServiceIPs: dnsSvcIPs}
	for _, s := range w.services {
		ds := dnssim.Service{Name: s.Name, Namespace: nsOrDefault(s.Namespace), Type: string(s.Spec.Type), ClusterIPs: clusterIPs(&s),
			ExternalName: s.Spec.ExternalName, PublishNotReadyAddresses: s.Spec.PublishNotReadyAddresses}
		if ds.Type == "" {
			ds.Type = "ClusterIP"
		}
		for _, p := range s.Spec.Ports {
			ds.Ports = append(ds.Ports, dnssim.ServicePort{Name: p.Name, Protocol: protoOrTCP(string(p.Protocol)), Port: p.Port})
		}
		seenPort := map[string]bool{}
		for _, sl := range w.slices {
			if nsOrDefault(sl.Namespace) != ds.Namespace || sl.Labels[discoveryv1.LabelServiceName] != s.Name {
				continue
			}
			for _, p := range sl.Ports {
				sp := dnssim.ServicePort{}
				if p.Name != nil {
					sp.Name = *p.Name
				}
				if p.Protocol != nil {
					sp.Protocol = string(*p.Protocol)
				}
				sp.Protocol = protoOrTCP(sp.Protocol)
				if p.Port != nil {
					sp.Port = *p.Port
				}
				k := fmt.Sprintf("%s/%s/%d", sp.Name, sp.Protocol, sp.Port)
				if !seenPort[k] {
					seenPort[k] = true
					ds.EndpointPorts = append(ds.EndpointPorts, sp)
				}
			}
			for _, e := range sl.Endpoints {
				de := dnssim.Endpoint{Addresses: e.Addresses, Ready: e.Conditions.Ready}
				if e.Hostname != nil {
					de.Hostname = *e.Hostname
				}
				if e.TargetRef != nil {
					de.PodName = e.TargetRef.Name
				}
				ds.Endpoints = append(ds.Endpoints, de)
			}
		}
		c.Services = append(c.Services, ds)
	}
	for _, p := range w.pods {
		for _, ip := range p.Status.PodIPs {
			c.Pods = append(c.Pods, dnssim.PodRef{Namespace: nsOrDefault(p.Namespace), IP: ip.IP})
		}
	}
	sort.Slice(c.Services, func(i, j int) bool {
		return c.Services[i].Namespace+"/"+c.Services[i].Name < c.Services[j].Namespace+"/"+c.Services[j].Name
	})
	return c
}

func protoOrTCP(p string) string {
	if p == "" {
		return "TCP"
	}
	return p
}

func podDNSSpec(p *corev1.Pod) dnssim.PodDNSSpec {
	s := dnssim.PodDNSSpec{Name: p.Name, Namespace: nsOrDefault(p.Namespace), DNSPolicy: string(p.Spec.DNSPolicy), HostNetwork: p.Spec.HostNetwork}
	if dc := p.Spec.DNSConfig; dc != nil {
		s.DNSConfig = &dnssim.PodDNSConfig{Nameservers: dc.Nameservers, Searches: dc.Searches}
		for _, o := range dc.Options {
			s.DNSConfig.Options = append(s.DNSConfig.Options, dnssim.PodDNSOption{Name: o.Name, Value: o.Value})
		}
	}
	return s
}

func podHosts(p *corev1.Pod, clusterDomain string) dnssim.PodHostsSpec {
	h := dnssim.PodHostsSpec{Hostname: p.Name, Subdomain: p.Spec.Subdomain, Namespace: nsOrDefault(p.Namespace), ClusterDomain: clusterDomain, HostNetwork: p.Spec.HostNetwork}
	if p.Spec.Hostname != "" {
		h.Hostname = p.Spec.Hostname
	}
	for _, ip := range p.Status.PodIPs {
		h.PodIPs = append(h.PodIPs, ip.IP)
	}
	if len(h.PodIPs) == 0 && p.Status.PodIP != "" {
		h.PodIPs = []string{p.Status.PodIP}
	}
	for _, a := range p.Spec.HostAliases {
		h.HostAliases = append(h.HostAliases, dnssim.HostAlias{IP: a.IP, Hostnames: a.Hostnames})
	}
	return h
}
