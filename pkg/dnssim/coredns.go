package dnssim

import (
	"errors"
	"fmt"
	"math"
	"net/netip"
	"sort"
	"strings"
)

// Pods modes of the CoreDNS kubernetes plugin ("pods" option).
const (
	PodsDisabled = "disabled"
	PodsInsecure = "insecure"
	PodsVerified = "verified"
)

// ServicePort is one port of a Service (or of an EndpointSlice).
type ServicePort struct {
	Name     string `json:"name,omitempty"`
	Protocol string `json:"protocol"`
	Port     int32  `json:"port"`
}

// Endpoint is one EndpointSlice endpoint as CoreDNS reads it.
type Endpoint struct {
	Addresses []string `json:"addresses"`
	// Hostname is endpoint.hostname: set by the EndpointSlice controller only
	// when pod.spec.hostname is set and pod.spec.subdomain equals the
	// service name (endpointslice util ShouldSetHostname).
	Hostname string `json:"hostname,omitempty"`
	// Ready is conditions.ready; nil counts as ready. The controller sets it
	// to publishNotReadyAddresses || (serving && !terminating); see
	// EndpointReady.
	Ready *bool `json:"ready,omitempty"`
	// PodName is targetRef.name (used with endpoint_pod_names).
	PodName string `json:"podName,omitempty"`
}

// EndpointReady mirrors how the EndpointSlice controller fills
// conditions.ready (k8s.io/endpointslice utils.go podToEndpoint): a pod is
// published as ready when the Service publishes not-ready addresses, or when
// it is ready (serving) and not terminating. pkg/cluster uses it for -f
// input that has pods but no EndpointSlices.
func EndpointReady(publishNotReadyAddresses, podReady, terminating bool) bool {
	return publishNotReadyAddresses || (podReady && !terminating)
}

// Service is what the kubernetes plugin needs of a Service and its
// EndpointSlices.
type Service struct {
	Name      string `json:"name"`
	Namespace string `json:"namespace"`
	// Type is ClusterIP, NodePort, LoadBalancer or ExternalName.
	Type string `json:"type"`
	// ClusterIPs is spec.clusterIPs; ["None"] for a headless service.
	ClusterIPs   []string      `json:"clusterIPs"`
	ExternalName string        `json:"externalName,omitempty"`
	Ports        []ServicePort `json:"ports"`
	// PublishNotReadyAddresses is informational: its effect is already in
	// each endpoint's Ready (see EndpointReady).
	PublishNotReadyAddresses bool `json:"publishNotReadyAddresses,omitempty"`
	// Endpoints of every EndpointSlice of the service, all address types.
	Endpoints []Endpoint `json:"endpoints,omitempty"`
	// EndpointPorts are the EndpointSlice ports (names and target ports),
	// which headless answers and SRV use.
	EndpointPorts []ServicePort `json:"endpointPorts,omitempty"`
}

// Headless mirrors object.Service.Headless: ClusterIPs[0] == "None".
func (s *Service) Headless() bool {
	return len(s.ClusterIPs) > 0 && s.ClusterIPs[0] == "None"
}

// PodRef is a pod IP in a namespace, for "pods verified".
type PodRef struct {
	Namespace string `json:"namespace"`
	IP        string `json:"ip"`
}

// Cluster is the CoreDNS kubernetes plugin as configured by the Corefile,
// over plain values from the API.
type Cluster struct {
	Plugin KubernetesPlugin `json:"plugin"`
	// Namespaces that exist (the plugin's Namespace informer).
	Namespaces map[string]bool `json:"namespaces"`
	Services   []Service       `json:"services"`
	Pods       []PodRef        `json:"pods,omitempty"`
	// DNSServiceIPs are the cluster DNS Service's ClusterIPs: what
	// ns.dns.<zone> answers when DNSServerIPs are unknown.
	DNSServiceIPs []string `json:"dnsServiceIPs,omitempty"`
	// DNSServerIPs are CoreDNS's own addresses (its pods' IPs, the ready
	// endpoints of the cluster DNS Service): ns.dns.<zone> answers the
	// ClusterIPs of every Service with an endpoint at one of them (nsAddrs).
	DNSServerIPs []string `json:"dnsServerIPs,omitempty"`
	// Upstream answers what the Corefile forwards (ExternalName targets, PTR
	// fallthrough). Nil means "assume" (see assumedUpstream).
	Upstream Answerer `json:"-"`
	// Cache is the Corefile's cache plugin in front of the kubernetes
	// plugin and forward (nil: none). Layered applies it to every reply.
	Cache *CachePlugin `json:"cache,omitempty"`
}

// Internal errors of the plugin, named after plugin/kubernetes.
var (
	errNoItems        = errors.New("no items found")
	errNsNotExposed   = errors.New("namespace not exposed")
	errInvalidRequest = errors.New("invalid query name")
)

// recordRequest mirrors plugin/kubernetes/parse.go recordRequest.
type recordRequest struct {
	port, protocol, endpoint, service, namespace, podOrSvc string
}

// parseRequest mirrors plugin/kubernetes/parse.go parseRequest (without
// multicluster and zonal): labels are read right to left after the zone:
// svc|pod, namespace, service, then one label = endpoint, two = _port._proto,
// more = NXDOMAIN. The zone apex, "svc" and "pod" alone are NODATA.
func parseRequest(base string) (recordRequest, error) {
	var r recordRequest
	if base == "" || base == "svc" || base == "pod" {
		return r, nil
	}
	segs := strings.Split(base, ".")
	last := len(segs) - 1
	r.podOrSvc = segs[last]
	if r.podOrSvc != "pod" && r.podOrSvc != "svc" {
		return r, errInvalidRequest
	}
	last--
	if last < 0 {
		return r, nil
	}
	r.namespace = segs[last]
	last--
	if last < 0 {
		return r, nil
	}
	r.service = segs[last]
	last--
	if last < 0 {
		return r, nil
	}
	switch last {
	case 0:
		r.endpoint = segs[last]
	case 1:
		r.protocol = strings.TrimPrefix(segs[last], "_")
		r.port = strings.TrimPrefix(segs[last-1], "_")
	default:
		return r, errInvalidRequest
	}
	return r, nil
}

// svcRecord mirrors msg.Service: one backend record. Host is an IP or, for
// ExternalName, a name; Key is the DNS name the record belongs to.
type svcRecord struct {
	host string
	port int32
	key  string // owner name for SRV targets, e.g. "web.default.svc.cluster.local."
	ttl  uint32
	text string
}

func (s svcRecord) hostType() string {
	if a, err := netip.ParseAddr(s.host); err == nil {
		if a.Is4() {
			return "A"
		}
		return "AAAA"
	}
	if s.text != "" {
		return "TXT"
	}
	return "CNAME"
}

// zoneFor returns the longest plugin zone name falls in.
func (c *Cluster) zoneFor(name string) (string, bool) {
	best := ""
	for _, z := range c.Plugin.Zones {
		if name == z || strings.HasSuffix(name, "."+z) || z == "." {
			if len(z) > len(best) {
				best = z
			}
		}
	}
	return best, best != ""
}

func (c *Cluster) namespaceExposed(ns string) bool {
	if len(c.Plugin.Namespaces) > 0 {
		found := false
		for _, n := range c.Plugin.Namespaces {
			if strings.EqualFold(n, ns) {
				found = true
			}
		}
		if !found {
			return false
		}
	}
	for n := range c.Namespaces {
		if strings.EqualFold(n, ns) {
			return true
		}
	}
	return false
}

func endpointHostname(addr, hostname, podName string, podNames bool) string {
	if hostname != "" {
		return hostname
	}
	if podNames && podName != "" && len(podName) < 64 {
		return podName
	}
	if strings.Contains(addr, ".") {
		return strings.ReplaceAll(addr, ".", "-")
	}
	return strings.ReplaceAll(addr, ":", "-")
}

func matchPortAndProtocol(aPort, bPort, aProto, bProto string) bool {
	return (strings.EqualFold(aPort, bPort) || aPort == "") && (strings.EqualFold(aProto, bProto) || aProto == "")
}

func (c *Cluster) primaryZone() string {
	for _, z := range c.Plugin.Zones {
		if !isReverse(z) {
			return z
		}
	}
	return "cluster.local."
}

func isReverse(name string) bool {
	return strings.HasSuffix(name, "in-addr.arpa.") || strings.HasSuffix(name, "ip6.arpa.")
}

// records mirrors Kubernetes.Records → findServices / findPods.
func (c *Cluster) records(name, zone string) ([]svcRecord, error) {
	base := strings.TrimSuffix(strings.TrimSuffix(name, zone), ".")
	if name == zone {
		base = ""
	}
	r, err := parseRequest(base)
	if err != nil {
		return nil, err
	}
	if r.podOrSvc == "" {
		return nil, nil
	}
	if isReverse(name) {
		return nil, errNoItems
	}
	if !c.namespaceExposed(r.namespace) {
		return nil, errNsNotExposed
	}
	if r.podOrSvc == "pod" {
		return c.findPods(r, zone)
	}
	return c.findServices(r, zone)
}

// findPods mirrors Kubernetes.findPods: disabled → NXDOMAIN; an empty pod
// label → NODATA; "a-b-c-d" (3 dashes, no "--") is IPv4, else dashes are
// colons; insecure answers any parseable IP; verified only a pod with that IP
// in that namespace.
func (c *Cluster) findPods(r recordRequest, zone string) ([]svcRecord, error) {
	if c.Plugin.Pods == PodsDisabled || c.Plugin.Pods == "" {
		return nil, errNoItems
	}
	if r.service == "" {
		return nil, nil
	}
	var ip string
	if strings.Count(r.service, "-") == 3 && !strings.Contains(r.service, "--") {
		ip = strings.ReplaceAll(r.service, "-", ".")
	} else {
		ip = strings.ReplaceAll(r.service, "-", ":")
	}
	key := r.service + "." + r.namespace + ".pod." + zone
	if c.Plugin.Pods == PodsInsecure {
		if _, err := netip.ParseAddr(ip); err != nil {
			return nil, errNoItems
		}
		return []svcRecord{{host: ip, key: key, ttl: c.Plugin.TTL}}, nil
	}
	var out []svcRecord
	for _, p := range c.Pods {
		if p.IP == ip && strings.EqualFold(p.Namespace, r.namespace) {
			out = append(out, svcRecord{host: ip, key: key, ttl: c.Plugin.TTL})
		}
	}
	if len(out) == 0 {
		return nil, errNoItems
	}
	return out, nil
}

// findServices mirrors Kubernetes.findServices.
func (c *Cluster) findServices(r recordRequest, zone string) ([]svcRecord, error) {
	if r.service == "" {
		return nil, nil // "<ns>.svc.<zone>": NODATA, the namespace exists
	}
	err := errNoItems
	var out []svcRecord
	for i := range c.Services {
		svc := &c.Services[i]
		if !strings.EqualFold(svc.Namespace, r.namespace) || !strings.EqualFold(svc.Name, r.service) {
			continue
		}
		svcKey := strings.ToLower(svc.Name + "." + svc.Namespace + ".svc." + zone)
		if c.Plugin.IgnoreEmptyService && svc.Type != "ExternalName" && !svc.Headless() && countReady(svc) == 0 {
			continue
		}
		if svc.Type == "ExternalName" {
			if r.endpoint != "" || r.port != "" || r.protocol != "" {
				continue
			}
			rec := svcRecord{host: svc.ExternalName, key: svcKey, ttl: c.Plugin.TTL}
			if rec.hostType() == "CNAME" {
				out = append(out, rec)
				err = nil
			}
			continue
		}
		if svc.Headless() || r.endpoint != "" {
			if c.Plugin.NoEndpoints {
				continue
			}
			ports := svc.EndpointPorts
			if len(ports) == 0 {
				ports = []ServicePort{{Port: -1}} // CoreDNS's sentinel for port-less slices
			}
			for _, ep := range svc.Endpoints {
				if ep.Ready != nil && !*ep.Ready {
					continue
				}
				for _, addr := range ep.Addresses {
					host := endpointHostname(addr, ep.Hostname, ep.PodName, c.Plugin.EndpointPodNames)
					if r.endpoint != "" && !strings.EqualFold(r.endpoint, host) {
						continue
					}
					for _, p := range ports {
						if !matchPortAndProtocol(r.port, p.Name, r.protocol, p.Protocol) {
							continue
						}
						out = append(out, svcRecord{host: addr, port: p.Port, key: strings.ToLower(host) + "." + svcKey, ttl: c.Plugin.TTL})
						err = nil
					}
				}
			}
			continue
		}
		for _, p := range svc.Ports {
			if !matchPortAndProtocol(r.port, p.Name, r.protocol, p.Protocol) {
				continue
			}
			err = nil
			for _, ip := range svc.ClusterIPs {
				out = append(out, svcRecord{host: ip, port: p.Port, key: svcKey, ttl: c.Plugin.TTL})
			}
		}
	}
	return out, err
}

// nsAddrs mirrors plugin/kubernetes/ns.go nsAddrs: for each of CoreDNS's
// own (non-loopback) addresses, every Service with a ready endpoint at that
// address contributes its ClusterIPs, or for a headless Service the ready
// addresses of the same family (CoreDNS walks the matching EndpointSlice,
// one per address family); if no endpoint matches, the addresses themselves.
// A CoreDNS on the host network therefore also returns the ClusterIP of
// every other host-network Service on its node, e.g. "kubernetes"
// (10.96.0.1) when the API server's endpoint is the node IP.
func (c *Cluster) nsAddrs() []string {
	if len(c.DNSServerIPs) == 0 {
		return c.DNSServiceIPs
	}
	var out []string
	found := false
	for _, local := range c.DNSServerIPs {
		la, err := netip.ParseAddr(local)
		if err != nil {
			continue
		}
		for i := range c.Services {
			s := &c.Services[i]
			if !hasReadyAddress(s, la) {
				continue
			}
			found = true
			if !s.Headless() {
				out = append(out, s.ClusterIPs...)
				continue
			}
			for _, ep := range s.Endpoints {
				if ep.Ready != nil && !*ep.Ready {
					continue
				}
				for _, a := range ep.Addresses {
					if pa, err := netip.ParseAddr(a); err == nil && pa.Is4() == la.Is4() {
						out = append(out, a)
					}
				}
			}
		}
	}
	if !found {
		return c.DNSServerIPs
	}
	return out
}

func hasReadyAddress(s *Service, ip netip.Addr) bool {
	for _, ep := range s.Endpoints {
		if ep.Ready != nil && !*ep.Ready {
			continue
		}
		for _, a := range ep.Addresses {
			if pa, err := netip.ParseAddr(a); err == nil && pa == ip {
				return true
			}
		}
	}
	return false
}

func countReady(s *Service) int {
	n := 0
	for _, ep := range s.Endpoints {
		if ep.Ready == nil || *ep.Ready {
			n += len(ep.Addresses)
		}
	}
	return n
}

// services mirrors Kubernetes.Services: dns-version TXT, ns.dns.<zone>, then
// Records; SRV drops ExternalName (CNAME) entries.
func (c *Cluster) services(name, qtype, zone string) ([]svcRecord, error) {
	if qtype == "TXT" {
		if name == "dns-version."+zone {
			return []svcRecord{{text: "1.1.0", ttl: 28800, key: name}}, nil
		}
		recs, _ := c.records(name, zone)
		if len(recs) > 0 {
			return nil, nil
		}
		return nil, errNoItems
	}
	if name == "ns.dns."+zone {
		var out []svcRecord
		for _, ip := range c.nsAddrs() {
			out = append(out, svcRecord{host: ip, key: name, ttl: c.Plugin.TTL})
		}
		return out, nil
	}
	recs, err := c.records(name, zone)
	if qtype != "SRV" {
		return recs, err
	}
	var internal []svcRecord
	for _, r := range recs {
		if r.hostType() != "CNAME" {
			internal = append(internal, r)
		}
	}
	return internal, err
}

// Answer answers q if it falls in one of the plugin's zones. ok is false
// for names outside them, and for reverse names with no match when the
// Corefile has "fallthrough" for them (the query then goes to forward).
func (c *Cluster) Answer(q Question) (Response, bool) {
	name := Canonical(q.Name)
	zone, ok := c.zoneFor(name)
	if !ok {
		return Response{}, false
	}
	resp, err := c.serve(name, q.Type, zone, 0)
	if err != nil {
		if c.Plugin.fallsThrough(name) {
			return Response{}, false
		}
		return Response{Rcode: NXDOMAIN, Answers: []RR{}, Source: "cluster", Why: nxWhy(err, name, zone)}, true
	}
	resp.Source = "cluster"
	if resp.Answers == nil {
		resp.Answers = []RR{}
	}
	// CoreDNS writes the question's name as asked (state.QName()) as the
	// owner of the records that answer it: case is kept (the harness's
	// CoreDNS answers "NGX-DEP-SVC.Default.svc.cluster.local." as such).
	asked := q.Name
	if !strings.HasSuffix(asked, ".") {
		asked += "."
	}
	for i := range resp.Answers {
		if resp.Answers[i].Name == name {
			resp.Answers[i].Name = asked
		}
	}
	if resp.Why == "" {
		if len(resp.Answers) == 0 {
			resp.Why = "the name exists in the cluster zone but has no " + q.Type + " record (NODATA)"
		} else {
			resp.Why = "CoreDNS kubernetes plugin"
		}
	}
	return resp, true
}

func nxWhy(err error, name, zone string) string {
	switch {
	case errors.Is(err, errNsNotExposed):
		return "NXDOMAIN: no such namespace (CoreDNS answers NXDOMAIN for every name in a namespace it does not know)"
	case errors.Is(err, errInvalidRequest):
		return fmt.Sprintf("NXDOMAIN: not a svc/pod name of zone %s", zone)
	}
	return "NXDOMAIN: no such service, endpoint, port or pod (or a headless service with no ready endpoints)"
}

// serve mirrors the kubernetes plugin's ServeDNS switch on the query type
// with plugin.A / AAAA / SRV / PTR / CNAME / TXT from backend_lookup.go.
func (c *Cluster) serve(name, qtype, zone string, depth int) (Response, error) {
	switch qtype {
	case "A", "AAAA":
		return c.address(name, qtype, zone, depth)
	case "SRV":
		return c.srv(name, zone)
	case "PTR":
		return c.ptr(name, zone)
	case "CNAME":
		recs, err := c.services(name, qtype, zone)
		if err != nil {
			return Response{}, err
		}
		resp := Response{Rcode: NOERROR}
		for _, r := range recs {
			if r.hostType() == "CNAME" {
				resp.Answers = append(resp.Answers, RR{Name: name, Type: "CNAME", TTL: r.ttl, Data: Canonical(r.host)})
			}
		}
		return resp, nil
	case "TXT":
		recs, err := c.services(name, qtype, zone)
		if err != nil {
			return Response{}, err
		}
		resp := Response{Rcode: NOERROR}
		for _, r := range recs {
			resp.Answers = append(resp.Answers, RR{Name: name, Type: "TXT", TTL: r.ttl, Data: fmt.Sprintf("%q", r.text)})
		}
		return resp, nil
	case "AXFR", "IXFR":
		return Response{Rcode: REFUSED, Why: "zone transfers are refused"}, nil
	}
	// Any other type: a fake A lookup tells NODATA from NXDOMAIN.
	if _, err := c.address(name, "A", zone, depth); err != nil {
		return Response{}, err
	}
	return Response{Rcode: NOERROR}, nil
}

// address mirrors plugin.A / plugin.AAAA: addresses of the asked family,
// deduplicated; a CNAME (ExternalName) is chased inside the zone, or through
// the Corefile's upstream for other targets; if the upstream fails to
// answer the CNAME is dropped, if it answers NXDOMAIN or NODATA the reply is
// NOERROR with the CNAME alone.
func (c *Cluster) address(name, qtype, zone string, depth int) (Response, error) {
	recs, err := c.services(name, qtype, zone)
	if err != nil {
		return Response{}, err
	}
	resp := Response{Rcode: NOERROR}
	dup := map[string]bool{}
	for _, r := range recs {
		switch t := r.hostType(); t {
		case "CNAME":
			target := Canonical(r.host)
			if target == name || depth > 7 {
				continue
			}
			cname := RR{Name: name, Type: "CNAME", TTL: r.ttl, Data: target}
			if tz, ok := c.zoneFor(target); ok && !isReverse(target) {
				next, err := c.serve(target, qtype, tz, depth+1)
				if err == nil && len(next.Answers) > 0 {
					resp.Answers = append(resp.Answers, cname)
					resp.Answers = append(resp.Answers, next.Answers...)
				}
				resp.Why = fmt.Sprintf("ExternalName: CNAME to %s, resolved inside the cluster zone", target)
				continue
			}
			up := c.upstream(Question{Name: target, Type: qtype})
			if up.Rcode == TIMEOUT {
				resp.Why = fmt.Sprintf("ExternalName: CNAME to %s, but the upstream lookup of the target failed, so CoreDNS drops the CNAME", target)
				continue
			}
			resp.Answers = append(resp.Answers, cname)
			if up.Rcode == NOERROR {
				resp.Answers = append(resp.Answers, up.Answers...)
			}
			resp.Assumed = resp.Assumed || up.Assumed
			resp.Why = fmt.Sprintf("ExternalName: CNAME to %s; the target's %s comes from upstream (%s)", target, qtype, up.Label())
		case qtype:
			if !dup[r.host] {
				dup[r.host] = true
				resp.Answers = append(resp.Answers, RR{Name: name, Type: qtype, TTL: r.ttl, Data: r.host})
			}
		}
	}
	return resp, nil
}

func (c *Cluster) upstream(q Question) Response {
	if c.Upstream != nil {
		return c.Upstream.Answer(q)
	}
	return assumedUpstream(q)
}

// srv mirrors plugin.SRV: one SRV per (target, port) with priority 0 and
// weight floor(100/N) over every backend record N (so a dual-stack service
// counts twice), targets' addresses in the additional section.
func (c *Cluster) srv(name, zone string) (Response, error) {
	recs, err := c.services(name, "SRV", zone)
	if err != nil {
		return Response{}, err
	}
	resp := Response{Rcode: NOERROR}
	n := len(recs)
	seenSRV, seenExtra := map[string]bool{}, map[string]bool{}
	for _, r := range recs {
		if r.port == -1 {
			continue
		}
		weight := int(math.Floor(100.0 / float64(100*n) * 100))
		if weight == 0 {
			weight = 1
		}
		target := r.key
		k := fmt.Sprintf("%s/%d", target, r.port)
		if !seenSRV[k] {
			seenSRV[k] = true
			resp.Answers = append(resp.Answers, RR{Name: name, Type: "SRV", TTL: r.ttl, Data: fmt.Sprintf("0 %d %d %s", weight, r.port, target)})
		}
		if k2 := target + "/" + r.host; !seenExtra[k2] {
			seenExtra[k2] = true
			resp.Additional = append(resp.Additional, RR{Name: target, Type: r.hostType(), TTL: r.ttl, Data: r.host})
		}
	}
	return resp, nil
}

// ptr mirrors Kubernetes.Reverse / serviceRecordForIP: a ClusterIP gives
// <svc>.<ns>.svc.<primary zone>; otherwise every ready endpoint with that IP
// gives <endpoint hostname>.<svc>.<ns>.svc.<primary zone>, each target once
// (plugin.PTR drops duplicates: two EndpointSlices of one Service listing
// the same address, as a mirrored and a hand-written one do, give one PTR).
func (c *Cluster) ptr(name, zone string) (Response, error) {
	ip, ok := addressFromReverse(name)
	if !ok {
		if _, err := c.records(name, zone); err != nil {
			return Response{}, err
		}
		return Response{Rcode: NOERROR}, nil
	}
	pz := c.primaryZone()
	resp := Response{Rcode: NOERROR}
	for _, s := range c.Services {
		if !c.nsAllowed(s.Namespace) {
			continue
		}
		for _, cip := range s.ClusterIPs {
			if a, err := netip.ParseAddr(cip); err == nil && a == ip {
				resp.Answers = []RR{{Name: name, Type: "PTR", TTL: c.Plugin.TTL, Data: strings.ToLower(s.Name + "." + s.Namespace + ".svc." + pz)}}
				resp.Why = "PTR for a Service ClusterIP"
				return resp, nil
			}
		}
	}
	seen := map[string]bool{}
	for _, s := range c.Services {
		if !c.nsAllowed(s.Namespace) || s.Type == "ExternalName" {
			continue
		}
		for _, ep := range s.Endpoints {
			if ep.Ready != nil && !*ep.Ready {
				continue
			}
			for _, a := range ep.Addresses {
				if p, err := netip.ParseAddr(a); err == nil && p == ip {
					host := endpointHostname(a, ep.Hostname, ep.PodName, c.Plugin.EndpointPodNames)
					target := strings.ToLower(host + "." + s.Name + "." + s.Namespace + ".svc." + pz)
					if !seen[target] {
						seen[target] = true
						resp.Answers = append(resp.Answers, RR{Name: name, Type: "PTR", TTL: c.Plugin.TTL, Data: target})
					}
				}
			}
		}
	}
	if len(resp.Answers) == 0 {
		return Response{}, errNoItems
	}
	resp.Why = "PTR for a ready endpoint IP"
	return resp, nil
}

func (c *Cluster) nsAllowed(ns string) bool {
	if len(c.Plugin.Namespaces) == 0 {
		return true
	}
	return c.namespaceExposed(ns)
}

// addressFromReverse mirrors dnsutil.ExtractAddressFromReverse for full
// in-addr.arpa (4 labels) and ip6.arpa (32 nibbles) names.
func addressFromReverse(name string) (netip.Addr, bool) {
	n := strings.TrimSuffix(strings.ToLower(name), ".")
	switch {
	case strings.HasSuffix(n, ".in-addr.arpa"):
		l := strings.Split(strings.TrimSuffix(n, ".in-addr.arpa"), ".")
		if len(l) != 4 {
			return netip.Addr{}, false
		}
		a, err := netip.ParseAddr(l[3] + "." + l[2] + "." + l[1] + "." + l[0])
		return a, err == nil
	case strings.HasSuffix(n, ".ip6.arpa"):
		l := strings.Split(strings.TrimSuffix(n, ".ip6.arpa"), ".")
		if len(l) != 32 {
			return netip.Addr{}, false
		}
		var b strings.Builder
		for i := 31; i >= 0; i-- {
			if len(l[i]) != 1 {
				return netip.Addr{}, false
			}
			b.WriteString(l[i])
			if i%4 == 0 && i > 0 {
				b.WriteByte(':')
			}
		}
		a, err := netip.ParseAddr(b.String())
		return a, err == nil
	}
	return netip.Addr{}, false
}

// ReverseName returns the PTR query name for an IP address.
func ReverseName(ip string) (string, error) {
	a, err := netip.ParseAddr(ip)
	if err != nil {
		return "", fmt.Errorf("%q is not an IP address", ip)
	}
	a = a.Unmap()
	if a.Is4() {
		b := a.As4()
		return fmt.Sprintf("%d.%d.%d.%d.in-addr.arpa.", b[3], b[2], b[1], b[0]), nil
	}
	b := a.As16()
	const hex = "0123456789abcdef"
	var s strings.Builder
	for i := 15; i >= 0; i-- {
		s.WriteByte(hex[b[i]&0xf])
		s.WriteByte('.')
		s.WriteByte(hex[b[i]>>4])
		s.WriteByte('.')
	}
	s.WriteString("ip6.arpa.")
	return s.String(), nil
}

// SortedNamespaces lists the known namespaces, for output.
func (c *Cluster) SortedNamespaces() []string {
	var out []string
	for n := range c.Namespaces {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}
