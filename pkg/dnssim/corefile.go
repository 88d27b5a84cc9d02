package dnssim

import (
	"fmt"
	"strconv"
	"strings"
)

// KubernetesPlugin is the configuration of CoreDNS's kubernetes plugin that
// changes answers (plugin/kubernetes/setup.go ParseStanza).
type KubernetesPlugin struct {
	// Zones are canonical ("cluster.local.", "in-addr.arpa.").
	Zones []string `json:"zones"`
	// Pods is disabled (the plugin default), insecure (kubeadm) or verified.
	Pods string `json:"pods"`
	// TTL of answers (plugin default 5; kubeadm sets 30).
	TTL                uint32 `json:"ttl"`
	EndpointPodNames   bool   `json:"endpointPodNames,omitempty"`
	IgnoreEmptyService bool   `json:"ignoreEmptyService,omitempty"`
	NoEndpoints        bool   `json:"noEndpoints,omitempty"`
	// Fallthrough is nil without "fallthrough"; empty means every zone.
	Fallthrough []string `json:"fallthrough,omitempty"`
	HasFallthru bool     `json:"-"`
	// Namespaces is the "namespaces" option: only these are served.
	Namespaces []string `json:"namespaces,omitempty"`
}

func (p KubernetesPlugin) fallsThrough(name string) bool {
	if !p.HasFallthru {
		return false
	}
	if len(p.Fallthrough) == 0 {
		return true
	}
	for _, z := range p.Fallthrough {
		if name == z || strings.HasSuffix(name, "."+z) {
			return true
		}
	}
	return false
}

// ClusterDomain is the first forward (non-reverse) zone, without the dot.
func (p KubernetesPlugin) ClusterDomain() string {
	for _, z := range p.Zones {
		if !isReverse(z) {
			return strings.TrimSuffix(z, ".")
		}
	}
	return ""
}

// KubeadmDefaultPlugin is the kubernetes stanza of kubeadm's default Corefile
// (cmd/kubeadm/app/phases/addons/dns/manifests.go, k8s v1.36.3):
//
//	kubernetes cluster.local in-addr.arpa ip6.arpa {
//	   pods insecure
//	   fallthrough in-addr.arpa ip6.arpa
//	   ttl 30
//	}
func KubeadmDefaultPlugin(clusterDomain string) KubernetesPlugin {
	if clusterDomain == "" {
		clusterDomain = "cluster.local"
	}
	return KubernetesPlugin{
		Zones:       []string{Canonical(clusterDomain), "in-addr.arpa.", "ip6.arpa."},
		Pods:        PodsInsecure,
		TTL:         30,
		HasFallthru: true,
		Fallthrough: []string{"in-addr.arpa.", "ip6.arpa."},
	}
}

// Corefile is what dnssim reads from a Corefile.
type Corefile struct {
	Source     string           `json:"source"`
	Kubernetes KubernetesPlugin `json:"kubernetes"`
	// Autopath is set with "autopath @kubernetes": CoreDNS then answers the
	// first search candidate with a CNAME to the name it finds, so every
	// resolver stops after one round (needs pods verified).
	Autopath bool `json:"autopath,omitempty"`
	// Notes list plugins whose effect dnssim does not model (rewrite, hosts,
	// template, ...) with their line.
	Notes []string `json:"notes,omitempty"`
}

type cfToken struct {
	text string
	line int
}

// tokenizeCorefile splits Caddyfile syntax into tokens: whitespace
// separated, "quoted strings", '#' comments to end of line, newlines kept as
// "\n" tokens because a directive ends at the end of its line.
func tokenizeCorefile(src string) ([]cfToken, error) {
	var out []cfToken
	line := 1
	i := 0
	for i < len(src) {
		c := src[i]
		switch {
		case c == '\n':
			out = append(out, cfToken{"\n", line})
			line++
			i++
		case c == ' ' || c == '\t' || c == '\r':
			i++
		case c == '#':
			for i < len(src) && src[i] != '\n' {
				i++
			}
		case c == '"':
			j := i + 1
			var b strings.Builder
			for j < len(src) && src[j] != '"' {
				if src[j] == '\\' && j+1 < len(src) {
					j++
				}
				if src[j] == '\n' {
					line++
				}
				b.WriteByte(src[j])
				j++
			}
			if j >= len(src) {
				return nil, fmt.Errorf("line %d: unterminated quoted string", line)
			}
			out = append(out, cfToken{b.String(), line})
			i = j + 1
		default:
			j := i
			for j < len(src) && !strings.ContainsRune(" \t\r\n", rune(src[j])) {
				j++
			}
			out = append(out, cfToken{src[i:j], line})
			i = j
		}
	}
	return out, nil
}

// ParseCorefile reads the server blocks of a Corefile and the kubernetes
// plugin of the block that has one (the first, if several do). A Corefile
// without a kubernetes plugin is an error: it cannot be cluster DNS.
func ParseCorefile(source, text string) (*Corefile, error) {
	if source == "" {
		source = "Corefile"
	}
	toks, err := tokenizeCorefile(text)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", source, err)
	}
	cf := &Corefile{Source: source}
	found := false
	i := 0
	skipNL := func() {
		for i < len(toks) && toks[i].text == "\n" {
			i++
		}
	}
	for {
		skipNL()
		if i >= len(toks) {
			break
		}
		// Server block keys up to "{".
		var keys []string
		startLine := toks[i].line
		for i < len(toks) && toks[i].text != "{" {
			if toks[i].text != "\n" {
				for _, k := range strings.Split(toks[i].text, ",") {
					if k != "" {
						keys = append(keys, k)
					}
				}
			}
			i++
		}
		if i >= len(toks) {
			return nil, fmt.Errorf("%s:%d: server block %q has no '{'", source, startLine, strings.Join(keys, " "))
		}
		i++ // "{"
		var zones []string
		for _, k := range keys {
			k = strings.TrimPrefix(strings.TrimPrefix(k, "dns://"), "tls://")
			if h, _, ok := strings.Cut(k, ":"); ok {
				k = h
			}
			if k == "" {
				k = "."
			}
			zones = append(zones, Canonical(k))
		}
		// Directives until the matching "}".
		for {
			skipNL()
			if i >= len(toks) {
				return nil, fmt.Errorf("%s:%d: server block opened here is not closed with '}'", source, startLine)
			}
			if toks[i].text == "}" {
				i++
				break
			}
			name, line := toks[i].text, toks[i].line
			i++
			var args []string
			for i < len(toks) && toks[i].text != "\n" && toks[i].text != "{" && toks[i].text != "}" {
				args = append(args, toks[i].text)
				i++
			}
			var body [][]cfToken
			if i < len(toks) && toks[i].text == "{" {
				i++
				var cur []cfToken
				depth := 1
				for i < len(toks) && depth > 0 {
					t := toks[i]
					i++
					switch t.text {
					case "{":
						depth++
						cur = append(cur, t)
					case "}":
						depth--
						if depth > 0 {
							cur = append(cur, t)
						}
					case "\n":
						if len(cur) > 0 {
							body = append(body, cur)
							cur = nil
						}
					default:
						cur = append(cur, t)
					}
				}
				if depth > 0 {
					return nil, fmt.Errorf("%s:%d: %s block is not closed with '}'", source, line, name)
				}
				if len(cur) > 0 {
					body = append(body, cur)
				}
			}
			switch name {
			case "kubernetes":
				if found {
					cf.Notes = append(cf.Notes, fmt.Sprintf("%s:%d: a second kubernetes plugin is ignored", source, line))
					continue
				}
				found = true
				p, err := parseKubernetesStanza(source, line, args, zones, body)
				if err != nil {
					return nil, err
				}
				cf.Kubernetes = p
			case "autopath":
				if len(args) > 0 && args[0] == "@kubernetes" {
					cf.Autopath = true
					cf.Notes = append(cf.Notes, fmt.Sprintf("%s:%d: autopath @kubernetes: CoreDNS walks the search path server-side and answers the first candidate with a CNAME; not modelled, so real lookups may take fewer rounds than shown", source, line))
				}
			case "rewrite", "template", "hosts", "file", "k8s_external", "etcd":
				cf.Notes = append(cf.Notes, fmt.Sprintf("%s:%d: plugin %q can change answers and is not modelled", source, line, name))
			}
		}
	}
	if !found {
		return nil, fmt.Errorf("%s: no kubernetes plugin in any server block: this Corefile does not serve cluster names", source)
	}
	return cf, nil
}

// parseKubernetesStanza mirrors plugin/kubernetes/setup.go ParseStanza for
// the options that change answers. Zones default to the server block's.
func parseKubernetesStanza(source string, line int, args, blockZones []string, body [][]cfToken) (KubernetesPlugin, error) {
	p := KubernetesPlugin{Pods: PodsDisabled, TTL: 5}
	if len(args) > 0 {
		for _, a := range args {
			p.Zones = append(p.Zones, Canonical(a))
		}
	} else {
		p.Zones = blockZones
	}
	for _, opt := range body {
		o, l := opt[0].text, opt[0].line
		var vals []string
		for _, t := range opt[1:] {
			vals = append(vals, t.text)
		}
		switch o {
		case "pods":
			if len(vals) != 1 || (vals[0] != PodsDisabled && vals[0] != PodsInsecure && vals[0] != PodsVerified) {
				return p, fmt.Errorf("%s:%d: pods: want one of disabled, insecure, verified", source, l)
			}
			p.Pods = vals[0]
		case "ttl":
			if len(vals) != 1 {
				return p, fmt.Errorf("%s:%d: ttl: want one value", source, l)
			}
			n, err := strconv.Atoi(vals[0])
			if err != nil || n < 0 || n > 3600 {
				return p, fmt.Errorf("%s:%d: ttl %q: want 0 to 3600 seconds", source, l, vals[0])
			}
			p.TTL = uint32(n)
		case "endpoint_pod_names":
			p.EndpointPodNames = true
		case "ignore":
			if len(vals) == 1 && vals[0] == "empty_service" {
				p.IgnoreEmptyService = true
			} else {
				return p, fmt.Errorf("%s:%d: ignore: only empty_service is known", source, l)
			}
		case "noendpoints":
			p.NoEndpoints = true
		case "fallthrough":
			p.HasFallthru = true
			for _, v := range vals {
				p.Fallthrough = append(p.Fallthrough, Canonical(v))
			}
		case "namespaces":
			p.Namespaces = append(p.Namespaces, vals...)
		case "endpoint", "tls", "kubeconfig", "namespace_labels", "labels", "resyncperiod",
			"startup_timeout", "apiserver_qps", "apiserver_burst", "apiserver_max_inflight", "multicluster", "zonal":
		default:
			return p, fmt.Errorf("%s:%d: kubernetes: unknown property %q", source, l, o)
		}
	}
	_ = line
	return p, nil
}
