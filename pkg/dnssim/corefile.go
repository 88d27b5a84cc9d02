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
	// Cache is the cache plugin of the server block that serves the
	// kubernetes plugin (nil without one).
	Cache *CachePlugin `json:"cache,omitempty"`
	// Notes list plugins whose effect dnssim does not model (rewrite, hosts,
	// template, ...) with their line.
	Notes []string `json:"notes,omitempty"`
}

// CachePlugin is what CoreDNS's cache plugin does to the answers that pass
// through it (plugin/cache/setup.go cacheParse, cache.go
// ResponseWriter.WriteMsg and set, item.go toMsg):
//
//   - every reply's records get one TTL: the lowest TTL in the message,
//     clamped to [min, max] of the success (NOERROR with records) or denial
//     (NXDOMAIN, NODATA) settings, even when the zone is excluded from
//     caching ("Apply capped TTL to this reply");
//   - a cached reply is served with that TTL minus the seconds since it was
//     stored (unless keepttl), so a live answer's TTL may be lower than the
//     predicted one by up to the TTL itself;
//   - "disable success|denial ZONES" keeps those replies out of the cache
//     (kubeadm disables both for the cluster domain, so cluster answers are
//     always fresh; reverse and upstream names are cached).
type CachePlugin struct {
	// Zones the plugin handles (the server block's when none are given).
	Zones []string `json:"zones"`
	// Success and denial TTL bounds in seconds (defaults 3600/5 and
	// 1800/5: dnsutil.MaximumDefaultTTL, /2, MinimalDefaultTTL); "cache N"
	// sets both maxima to N.
	SuccessMaxTTL uint32 `json:"successMaxTTL"`
	SuccessMinTTL uint32 `json:"successMinTTL"`
	DenialMaxTTL  uint32 `json:"denialMaxTTL"`
	DenialMinTTL  uint32 `json:"denialMinTTL"`
	// DisableSuccess and DisableDenial are the zones kept out of the cache.
	DisableSuccess []string `json:"disableSuccess,omitempty"`
	DisableDenial  []string `json:"disableDenial,omitempty"`
	// KeepTTL serves cached replies with their original TTL.
	KeepTTL bool `json:"keepTTL,omitempty"`
}

// DefaultCachePlugin is "cache" without arguments for the given zones.
func DefaultCachePlugin(zones []string) *CachePlugin {
	return &CachePlugin{Zones: zones, SuccessMaxTTL: 3600, SuccessMinTTL: 5, DenialMaxTTL: 1800, DenialMinTTL: 5}
}

// KubeadmDefaultCache is kubeadm's "cache 30 { disable success DOMAIN;
// disable denial DOMAIN }" in the ".:53" block.
func KubeadmDefaultCache(clusterDomain string) *CachePlugin {
	if clusterDomain == "" {
		clusterDomain = "cluster.local"
	}
	c := DefaultCachePlugin([]string{"."})
	c.SuccessMaxTTL, c.DenialMaxTTL = 30, 30
	c.DisableSuccess = []string{Canonical(clusterDomain)}
	c.DisableDenial = []string{Canonical(clusterDomain)}
	return c
}

func inZones(name string, zones []string) bool {
	for _, z := range zones {
		if z == "." || name == z || strings.HasSuffix(name, "."+z) {
			return true
		}
	}
	return false
}

// Apply returns resp as it leaves the cache plugin for a question about
// name: TTLs rewritten (WriteMsg) and Cacheable set when a later identical
// question may be answered from the cache with a counted-down TTL.
func (c *CachePlugin) Apply(name string, resp Response) Response {
	if c == nil || !inZones(name, c.Zones) {
		return resp
	}
	switch {
	case resp.Rcode == NOERROR && len(resp.Answers) > 0:
		ttl := c.SuccessMaxTTL
		for _, rr := range append(append([]RR{}, resp.Answers...), resp.Additional...) {
			ttl = min(ttl, rr.TTL)
		}
		ttl = min(max(ttl, c.SuccessMinTTL), c.SuccessMaxTTL)
		resp.Answers = withTTL(resp.Answers, ttl)
		resp.Additional = withTTL(resp.Additional, ttl)
		resp.Cacheable = !c.KeepTTL && !inZones(name, c.DisableSuccess)
	case resp.Rcode == NOERROR, resp.Rcode == NXDOMAIN, resp.Rcode == SERVFAIL:
		resp.Cacheable = !c.KeepTTL && !inZones(name, c.DisableDenial)
	}
	return resp
}

func withTTL(rrs []RR, ttl uint32) []RR {
	if rrs == nil {
		return nil
	}
	out := make([]RR, len(rrs))
	for i, rr := range rrs {
		rr.TTL = ttl
		out[i] = rr
	}
	return out
}

// parseCacheStanza mirrors plugin/cache/setup.go cacheParse for the options
// that change TTLs and what is cached.
func parseCacheStanza(source string, line int, args, blockZones []string, body [][]cfToken) (*CachePlugin, error) {
	c := DefaultCachePlugin(nil)
	if len(args) > 0 {
		if n, err := strconv.Atoi(args[0]); err == nil {
			if n <= 0 {
				return nil, fmt.Errorf("%s:%d: cache TTL can not be zero or negative: %d", source, line, n)
			}
			c.SuccessMaxTTL, c.DenialMaxTTL = uint32(n), uint32(n)
			args = args[1:]
		}
	}
	for _, a := range args {
		c.Zones = append(c.Zones, Canonical(a))
	}
	if len(c.Zones) == 0 {
		c.Zones = blockZones
	}
	num := func(l int, what, v string, zeroOK bool) (uint32, error) {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 || (n == 0 && !zeroOK) {
			return 0, fmt.Errorf("%s:%d: cache %s %q: want a positive number of seconds", source, l, what, v)
		}
		return uint32(n), nil
	}
	for _, opt := range body {
		o, l := opt[0].text, opt[0].line
		var vals []string
		for _, t := range opt[1:] {
			vals = append(vals, t.text)
		}
		switch o {
		case "success", "denial":
			if len(vals) == 0 {
				return nil, fmt.Errorf("%s:%d: cache %s: want CAPACITY [TTL] [MINTTL]", source, l, o)
			}
			if _, err := num(l, o+" capacity", vals[0], true); err != nil {
				return nil, err
			}
			maxp, minp := &c.SuccessMaxTTL, &c.SuccessMinTTL
			if o == "denial" {
				maxp, minp = &c.DenialMaxTTL, &c.DenialMinTTL
			}
			if len(vals) > 1 {
				n, err := num(l, o+" TTL", vals[1], false)
				if err != nil {
					return nil, err
				}
				*maxp = n
			}
			if len(vals) > 2 {
				n, err := num(l, o+" min TTL", vals[2], true)
				if err != nil {
					return nil, err
				}
				*minp = n
			}
		case "disable":
			if len(vals) == 0 || (vals[0] != "success" && vals[0] != "denial") {
				return nil, fmt.Errorf("%s:%d: cache disable: want success or denial [ZONES...]", source, l)
			}
			zones := c.Zones
			if len(vals) > 1 {
				zones = nil
				for _, z := range vals[1:] {
					zones = append(zones, Canonical(z))
				}
			}
			if vals[0] == "success" {
				c.DisableSuccess = zones
			} else {
				c.DisableDenial = zones
			}
		case "keepttl":
			c.KeepTTL = true
		}
	}
	return c, nil
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
		var blockCache *CachePlugin
		blockHasK8s := false
		for {
			skipNL()
			if i >= len(toks) {
				return nil, fmt.Errorf("%s:%d: server block opened here is not closed with '}'", source, startLine)
			}
			if toks[i].text == "}" {
				i++
				if blockHasK8s {
					cf.Cache = blockCache
				}
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
				blockHasK8s = true
				p, err := parseKubernetesStanza(source, line, args, zones, body)
				if err != nil {
					return nil, err
				}
				cf.Kubernetes = p
			case "cache":
				c, err := parseCacheStanza(source, line, args, zones, body)
				if err != nil {
					return nil, err
				}
				blockCache = c
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
