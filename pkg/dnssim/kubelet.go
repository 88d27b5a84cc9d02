package dnssim

import (
	"fmt"
	"net/netip"
	"strings"
)

// DNS policies, spelled as in the core/v1 API (v1.DNSPolicy).
const (
	PolicyClusterFirst            = "ClusterFirst"
	PolicyClusterFirstWithHostNet = "ClusterFirstWithHostNet"
	PolicyDefault                 = "Default"
	PolicyNone                    = "None"
)

// Limits kubelet applies to a pod's resolv.conf, from
// pkg/apis/core/validation/validation.go (k8s v1.36.3, L4125-4134) and
// k8s.io/apimachinery validation.DNS1123SubdomainMaxLength.
const (
	MaxDNSNameservers     = 3
	MaxDNSSearchPaths     = 32
	MaxDNSSearchListChars = 2048
	MaxSearchDomainLength = 253
)

// PodDNSOption is v1.PodDNSConfigOption: Value nil means the option has no
// value ("rotate"), which kubelet treats like an empty value.
type PodDNSOption struct {
	Name  string  `json:"name"`
	Value *string `json:"value,omitempty"`
}

// PodDNSConfig is v1.PodDNSConfig.
type PodDNSConfig struct {
	Nameservers []string       `json:"nameservers,omitempty"`
	Searches    []string       `json:"searches,omitempty"`
	Options     []PodDNSOption `json:"options,omitempty"`
}

// PodDNSSpec holds the pod fields kubelet's GetPodDNS reads. pkg/cluster fills
// it from a v1.Pod.
type PodDNSSpec struct {
	Name      string `json:"name"`
	Namespace string `json:"namespace"`
	// DNSPolicy as in the API; "" is what the API defaults to ClusterFirst
	// (pkg/apis/core/v1/defaults.go SetDefaults_PodSpec).
	DNSPolicy   string        `json:"dnsPolicy"`
	HostNetwork bool          `json:"hostNetwork"`
	DNSConfig   *PodDNSConfig `json:"dnsConfig,omitempty"`
}

// KubeletDNS is kubelet's own DNS configuration: --cluster-dns, --cluster-domain
// and --resolv-conf (KubeletConfiguration clusterDNS, clusterDomain,
// resolvConf), plus the contents of that resolv.conf on the node.
type KubeletDNS struct {
	ClusterDNS    []string `json:"clusterDNS"`
	ClusterDomain string   `json:"clusterDomain"`
	// ResolvConfDisabled is kubelet --resolv-conf="" (resolvConf: ""): host
	// policy pods then get nameserver 127.0.0.1 (or ::1) and "search .".
	ResolvConfDisabled bool `json:"resolvConfDisabled,omitempty"`
	// HostResolvConf is the node's resolv.conf as read by kubelet (the file
	// kubelet's resolvConf points at). Nil means empty.
	HostResolvConf *ResolvConf `json:"-"`
	// NodeIPs pick 127.0.0.1 or ::1 when ResolvConfDisabled.
	NodeIPs []string `json:"nodeIPs,omitempty"`
}

// Event is a Kubernetes event kubelet records while forming the config.
type Event struct {
	// Object is "pod" or "node", the object the event is recorded on.
	Object  string `json:"object"`
	Type    string `json:"type"`
	Reason  string `json:"reason"`
	Message string `json:"message"`
}

// PodResolvConf is the pod's DNS config as kubelet hands it to the runtime
// (runtimeapi.DNSConfig), plus what kubelet decided on the way.
type PodResolvConf struct {
	Servers  []string `json:"servers"`
	Searches []string `json:"searches"`
	Options  []string `json:"options"`
	// Base is which base config GetPodDNS started from: "cluster", "host" or
	// "none" (getPodDNSType), after the MissingClusterDNS fallback.
	Base string `json:"base"`
	// Why explains the choice of base ("ClusterFirst with hostNetwork: true
	// falls through to Default").
	Why    []string `json:"why,omitempty"`
	Events []Event  `json:"events,omitempty"`
}

// Text renders the file as containerd writes it into the pod.
func (p *PodResolvConf) Text() string { return Format(p.Servers, p.Searches, p.Options) }

// ResolvConf parses Text back, so the walk reads the generated file exactly as
// the pod's resolver would.
func (p *PodResolvConf) ResolvConf(source string) *ResolvConf {
	rc, err := ParseResolvConf(source, []byte(p.Text()))
	if err != nil {
		// Text only holds what kubelet accepted; keep a readable fallback.
		return &ResolvConf{Source: source, Warnings: []string{err.Error()}}
	}
	return rc
}

// GeneratePodDNS mirrors kubelet's Configurer.GetPodDNS
// (pkg/kubelet/network/dns/dns.go, k8s v1.36.3):
//
//  1. the host config is read first, whatever the policy (getHostDNSConfig →
//     parseResolvConf); a parse error fails the pod;
//  2. getPodDNSType: None → empty base; ClusterFirstWithHostNet → cluster;
//     ClusterFirst → cluster unless hostNetwork, which falls through to
//     Default → host;
//  3. cluster: servers = clusterDNS, searches =
//     generateSearchesForDNSClusterFirst, options = ["ndots:5"] (host options
//     are dropped); with no clusterDNS kubelet records MissingClusterDNS events
//     and falls through to host;
//  4. host with --resolv-conf="": 127.0.0.1/::1 per node IP and "search .";
//  5. pod.spec.dnsConfig is merged by appendDNSConfig;
//  6. formDNSConfigFitsLimits applies the 3-nameserver and search limits and
//     records DNSConfigForming warnings with kubelet's exact text.
func GeneratePodDNS(k KubeletDNS, pod PodDNSSpec) (*PodResolvConf, error) {
	host := KubeletView{Nameservers: []string{}, Searches: []string{}, Options: []string{}}
	if !k.ResolvConfDisabled && k.HostResolvConf != nil {
		host = k.HostResolvConf.Kubelet()
	}
	out := &PodResolvConf{Servers: host.Nameservers, Searches: host.Searches, Options: host.Options}

	policy := pod.DNSPolicy
	if policy == "" {
		policy = PolicyClusterFirst
		out.Why = append(out.Why, "dnsPolicy unset: the API server defaults it to ClusterFirst")
	}
	base := "cluster"
	switch policy {
	case PolicyNone:
		base = "none"
	case PolicyClusterFirstWithHostNet:
	case PolicyClusterFirst:
		if pod.HostNetwork {
			base = "host"
			out.Why = append(out.Why, "dnsPolicy ClusterFirst with hostNetwork: true falls back to Default (getPodDNSType); use ClusterFirstWithHostNet for cluster DNS")
		}
	case PolicyDefault:
		base = "host"
	default:
		// getPodDNSType: "invalid DNSPolicy" is logged and ClusterFirst used.
		out.Why = append(out.Why, fmt.Sprintf("invalid dnsPolicy %q: kubelet logs \"Failed to get DNS type for pod. Falling back to DNSClusterFirst policy.\"", policy))
	}

	switch base {
	case "none":
		out.Servers, out.Searches, out.Options = []string{}, []string{}, []string{}
	case "cluster":
		if len(k.ClusterDNS) != 0 {
			out.Servers = append([]string(nil), k.ClusterDNS...)
			out.Searches = generateSearchesForDNSClusterFirst(k.ClusterDomain, host.Searches, pod.Namespace)
			out.Options = []string{"ndots:5"}
			break
		}
		msg := fmt.Sprintf("kubelet does not have ClusterDNS IP configured and cannot create Pod using %q policy. Falling back to %q policy.", PolicyClusterFirst, PolicyDefault)
		out.Events = append(out.Events,
			Event{Object: "node", Type: "Warning", Reason: "MissingClusterDNS", Message: msg},
			Event{Object: "pod", Type: "Warning", Reason: "MissingClusterDNS", Message: fmt.Sprintf("pod: %q. %s", podFormat(pod), msg)})
		base = "host"
		fallthrough
	case "host":
		if k.ResolvConfDisabled {
			out.Servers = []string{}
			for _, ip := range k.NodeIPs {
				if a, err := netip.ParseAddr(ip); err == nil && a.Is6() && !a.Is4In6() {
					out.Servers = append(out.Servers, "::1")
				} else {
					out.Servers = append(out.Servers, "127.0.0.1")
				}
			}
			if len(out.Servers) == 0 {
				out.Servers = append(out.Servers, "127.0.0.1")
			}
			out.Searches = []string{"."}
			out.Why = append(out.Why, "kubelet --resolv-conf is empty: host policy uses the local machine's nameserver and \"search .\"")
		}
	}
	out.Base = base

	if pod.DNSConfig != nil {
		out.Servers = omitDuplicates(append(out.Servers, pod.DNSConfig.Nameservers...))
		out.Searches = omitDuplicates(append(out.Searches, pod.DNSConfig.Searches...))
		out.Options = mergeDNSOptions(out.Options, pod.DNSConfig.Options)
	}
	if out.Servers == nil {
		out.Servers = []string{}
	}
	if out.Searches == nil {
		out.Searches = []string{}
	}
	if out.Options == nil {
		out.Options = []string{}
	}
	out.Servers = formDNSNameserversFitsLimits(out, out.Servers)
	out.Searches = formDNSSearchFitsLimits(out, out.Searches)
	return out, nil
}

// podFormat mirrors kubelet's format.Pod: "name_namespace(uid)"; the UID is
// not an input here, so it is left empty.
func podFormat(p PodDNSSpec) string { return fmt.Sprintf("%s_%s()", p.Name, p.Namespace) }

// generateSearchesForDNSClusterFirst mirrors the kubelet function of the same
// name: [<ns>.svc.<domain>, svc.<domain>, <domain>] + host searches, duplicates
// omitted; with no cluster domain the host searches alone.
func generateSearchesForDNSClusterFirst(clusterDomain string, hostSearch []string, namespace string) []string {
	if clusterDomain == "" {
		return append([]string{}, hostSearch...)
	}
	cluster := []string{fmt.Sprintf("%s.svc.%s", namespace, clusterDomain), "svc." + clusterDomain, clusterDomain}
	return omitDuplicates(append(cluster, hostSearch...))
}

// omitDuplicates mirrors kubelet's omitDuplicates: first occurrence kept.
func omitDuplicates(strs []string) []string {
	seen := map[string]bool{}
	var ret []string
	for _, s := range strs {
		if !seen[s] {
			ret = append(ret, s)
			seen[s] = true
		}
	}
	return ret
}

// mergeDNSOptions mirrors kubelet's mergeDNSOptions: options are keyed by the
// text before the first ':', dnsConfig entries override existing ones, and an
// empty or missing value renders as the bare name. kubelet rebuilds the list
// from a map (random order); we keep existing options first, in order, then
// new ones in the order given, so output is reproducible.
func mergeDNSOptions(existing []string, opts []PodDNSOption) []string {
	type kv struct{ name, value string }
	var list []kv
	index := map[string]int{}
	set := func(name, value string) {
		if i, ok := index[name]; ok {
			list[i].value = value
			return
		}
		index[name] = len(list)
		list = append(list, kv{name, value})
	}
	for _, op := range existing {
		if i := strings.Index(op, ":"); i != -1 {
			set(op[:i], op[i+1:])
		} else {
			set(op, "")
		}
	}
	for _, op := range opts {
		v := ""
		if op.Value != nil {
			v = *op.Value
		}
		set(op.Name, v)
	}
	out := []string{}
	for _, e := range list {
		if e.value != "" {
			out = append(out, e.name+":"+e.value)
		} else {
			out = append(out, e.name)
		}
	}
	return out
}

// formDNSNameserversFitsLimits mirrors the kubelet function: keep the first 3
// and record the DNSConfigForming warning with kubelet's text.
func formDNSNameserversFitsLimits(out *PodResolvConf, ns []string) []string {
	if len(ns) > MaxDNSNameservers {
		ns = ns[:MaxDNSNameservers]
		out.Events = append(out.Events, Event{Object: "pod", Type: "Warning", Reason: "DNSConfigForming",
			Message: "Nameserver limits were exceeded, some nameservers have been omitted, the applied nameserver line is: " + strings.Join(ns, " ")})
	}
	return ns
}

// formDNSSearchFitsLimits mirrors the kubelet function, in its order: cut to
// 32 domains; drop every domain longer than 253 characters (glibc 2.28 aborts
// on a search path over 255); then, while the space-joined line is longer than
// 2048 characters, drop domains from the end. Any change records one
// DNSConfigForming warning quoting the applied search line.
func formDNSSearchFitsLimits(out *PodResolvConf, s []string) []string {
	exceeded := false
	s = append([]string{}, s...)
	if len(s) > MaxDNSSearchPaths {
		s = s[:MaxDNSSearchPaths]
		exceeded = true
	}
	kept := s[:0]
	for _, d := range s {
		if len(d) > MaxSearchDomainLength {
			exceeded = true
			continue
		}
		kept = append(kept, d)
	}
	s = kept
	if total := len(strings.Join(s, " ")); total > MaxDNSSearchListChars {
		cutNum, cutLen := 0, 0
		for i := len(s) - 1; i >= 0; i-- {
			cutLen += len(s[i]) + 1
			cutNum++
			if total-cutLen <= MaxDNSSearchListChars {
				break
			}
		}
		s = s[:len(s)-cutNum]
		exceeded = true
	}
	if exceeded {
		out.Events = append(out.Events, Event{Object: "pod", Type: "Warning", Reason: "DNSConfigForming",
			Message: "Search Line limits were exceeded, some search paths have been omitted, the applied search line is: " + strings.Join(s, " ")})
	}
	return s
}

// ValidatePodDNSConfig mirrors the API server's validatePodDNSConfig
// (pkg/apis/core/validation/validation.go L4158-4208): a pod that fails it is
// never created, so -f input that fails it is reported, not simulated
// silently. Search domains are checked with the relaxed rule (underscores and
// "." allowed, RelaxedDNSSearchValidation, GA).
func ValidatePodDNSConfig(policy string, c *PodDNSConfig) []string {
	var errs []string
	if policy == PolicyNone {
		if c == nil {
			return []string{"spec.dnsConfig: Required value: must provide `dnsConfig` when `dnsPolicy` is None"}
		}
		if len(c.Nameservers) == 0 {
			return []string{"spec.dnsConfig.nameservers: Required value: must provide at least one DNS nameserver when `dnsPolicy` is None"}
		}
	}
	if c == nil {
		return nil
	}
	if len(c.Nameservers) > MaxDNSNameservers {
		errs = append(errs, fmt.Sprintf("spec.dnsConfig.nameservers: Invalid value: must not have more than %d nameservers", MaxDNSNameservers))
	}
	for i, ns := range c.Nameservers {
		if _, err := netip.ParseAddr(ns); err != nil {
			errs = append(errs, fmt.Sprintf("spec.dnsConfig.nameservers[%d]: Invalid value: %q: must be a valid IP address", i, ns))
		}
	}
	if len(c.Searches) > MaxDNSSearchPaths {
		errs = append(errs, fmt.Sprintf("spec.dnsConfig.searches: Invalid value: must not have more than %d search paths", MaxDNSSearchPaths))
	}
	if len(strings.Join(c.Searches, " ")) > MaxDNSSearchListChars {
		errs = append(errs, fmt.Sprintf("spec.dnsConfig.searches: Invalid value: must not have more than %d characters (including spaces) in the search list", MaxDNSSearchListChars))
	}
	for i, s := range c.Searches {
		if s == "." {
			continue
		}
		if msg := dns1123SubdomainWithUnderscore(strings.TrimSuffix(s, ".")); msg != "" {
			errs = append(errs, fmt.Sprintf("spec.dnsConfig.searches[%d]: Invalid value: %q: %s", i, s, msg))
		}
	}
	for i, o := range c.Options {
		if o.Name == "" {
			errs = append(errs, fmt.Sprintf("spec.dnsConfig.options[%d]: Required value: must not be empty", i))
		}
	}
	return errs
}

// dns1123SubdomainWithUnderscore mirrors apimachinery's
// IsDNS1123SubdomainWithUnderscore: lower-case alphanumerics, '-', '_' and
// '.', starting and ending with an alphanumeric or '_', at most 253 chars.
func dns1123SubdomainWithUnderscore(s string) string {
	if len(s) > MaxSearchDomainLength {
		return "must be no more than 253 characters"
	}
	if s == "" {
		return "a lowercase RFC 1123 subdomain must not be empty"
	}
	ok := func(b byte) bool { return (b >= 'a' && b <= 'z') || (b >= '0' && b <= '9') || b == '_' }
	for _, label := range strings.Split(s, ".") {
		if label == "" || !ok(label[0]) || !ok(label[len(label)-1]) {
			return "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character"
		}
		for i := 0; i < len(label); i++ {
			if !ok(label[i]) && label[i] != '-' {
				return "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character"
			}
		}
	}
	return ""
}

// PodHostsSpec is what kubelet writes into a pod's /etc/hosts.
type PodHostsSpec struct {
	// Hostname is pod.spec.hostname or the pod name (truncated to 63).
	Hostname string `json:"hostname"`
	// Subdomain is pod.spec.subdomain.
	Subdomain     string      `json:"subdomain,omitempty"`
	Namespace     string      `json:"namespace"`
	ClusterDomain string      `json:"clusterDomain"`
	PodIPs        []string    `json:"podIPs"`
	HostAliases   []HostAlias `json:"hostAliases,omitempty"`
	// HostNetwork pods get the node's /etc/hosts (NodeHosts) plus aliases.
	HostNetwork bool   `json:"hostNetwork,omitempty"`
	NodeHosts   string `json:"-"`
}

// HostAlias is v1.HostAlias.
type HostAlias struct {
	IP        string   `json:"ip"`
	Hostnames []string `json:"hostnames"`
}

// KubeletHostsFile renders the pod's /etc/hosts as kubelet does
// (pkg/kubelet/kubelet_pods.go managedHostsFileContent /
// nodeHostsFileContent, GeneratePodHostNameAndDomain): with a subdomain each
// pod IP maps to "<hostname>.<subdomain>.<ns>.svc.<domain> <hostname>". Looking
// up the pod's own hostname or FQDN therefore costs no DNS query.
func KubeletHostsFile(p PodHostsSpec) string {
	var b strings.Builder
	if p.HostNetwork {
		b.WriteString("# Kubernetes-managed hosts file (host network).\n")
		b.WriteString(p.NodeHosts)
	} else {
		b.WriteString("# Kubernetes-managed hosts file.\n")
		b.WriteString("127.0.0.1\tlocalhost\n")
		b.WriteString("::1\tlocalhost ip6-localhost ip6-loopback\n")
		b.WriteString("fe00::0\tip6-localnet\n")
		b.WriteString("fe00::0\tip6-mcastprefix\n")
		b.WriteString("fe00::1\tip6-allnodes\n")
		b.WriteString("fe00::2\tip6-allrouters\n")
		host := p.Hostname
		if len(host) > 63 {
			host = strings.TrimRight(host[:63], "-.")
		}
		if p.Subdomain != "" {
			dom := fmt.Sprintf("%s.%s.svc.%s", p.Subdomain, p.Namespace, p.ClusterDomain)
			for _, ip := range p.PodIPs {
				fmt.Fprintf(&b, "%s\t%s.%s\t%s\n", ip, host, dom, host)
			}
		} else {
			for _, ip := range p.PodIPs {
				fmt.Fprintf(&b, "%s\t%s\n", ip, host)
			}
		}
	}
	if len(p.HostAliases) > 0 {
		b.WriteString("\n# Entries added by HostAliases.\n")
		for _, a := range p.HostAliases {
			fmt.Fprintf(&b, "%s\t%s\n", a.IP, strings.Join(a.Hostnames, "\t"))
		}
	}
	return b.String()
}
