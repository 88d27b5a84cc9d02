package trace

import (
	"net/netip"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"

	"github.com/svctrace/kubectl-svc-trace/pkg/rules"
)

// ServicePortsFromObjects turns Services and EndpointSlices into the plain
// values rules.MapChains takes, for one IP family, the way kube-proxy reads
// them: service ports from serviceport.go (VIPs of the family, ipMode VIP
// only, source ranges emptied by a zero CIDR) and endpoints from
// endpointslicecache.go (slices of the family, ports matched by name and
// protocol, addresses[0], ready/serving defaulting to true). Pods label the
// endpoints through their targetRef.
func ServicePortsFromObjects(svcs []corev1.Service, slices []discoveryv1.EndpointSlice, pods []corev1.Pod, family corev1.IPFamily) []rules.ServicePortInfo {
	is6 := family == corev1.IPv6Protocol
	ofFamily := func(ip string) bool {
		a, err := netip.ParseAddr(strings.TrimSpace(ip))
		return err == nil && a.Unmap().Is6() == is6
	}
	podNames := map[string]string{}
	for _, p := range pods {
		podNames[p.Namespace+"/"+p.Name] = "pod " + p.Namespace + "/" + p.Name
	}
	var out []rules.ServicePortInfo
	for i := range svcs {
		s := &svcs[i]
		if s.Spec.Type == corev1.ServiceTypeExternalName || s.Spec.ClusterIP == corev1.ClusterIPNone || s.Spec.ClusterIP == "" {
			continue
		}
		hasIP := false
		for _, ip := range append([]string{s.Spec.ClusterIP}, s.Spec.ClusterIPs...) {
			hasIP = hasIP || ofFamily(ip)
		}
		if !hasIP {
			continue
		}
		var vips, ranges, extIPs []string
		for _, ing := range s.Status.LoadBalancer.Ingress {
			if ing.IP != "" && ofFamily(ing.IP) && (ing.IPMode == nil || *ing.IPMode == corev1.LoadBalancerIPModeVIP) {
				vips = append(vips, ing.IP)
			}
		}
		for _, r := range s.Spec.LoadBalancerSourceRanges {
			r = strings.TrimSpace(r)
			p, err := netip.ParsePrefix(r)
			if err != nil || p.Addr().Unmap().Is6() != is6 {
				continue
			}
			if p.Bits() == 0 {
				ranges = nil // a zero CIDR means "allow all"
				break
			}
			ranges = append(ranges, r)
		}
		for _, ip := range s.Spec.ExternalIPs {
			if ofFamily(ip) {
				extIPs = append(extIPs, ip)
			}
		}
		etpLocal := s.Spec.ExternalTrafficPolicy == corev1.ServiceExternalTrafficPolicyLocal &&
			(s.Spec.Type == corev1.ServiceTypeLoadBalancer || s.Spec.Type == corev1.ServiceTypeNodePort || len(s.Spec.ExternalIPs) > 0)
		itpLocal := s.Spec.InternalTrafficPolicy != nil && *s.Spec.InternalTrafficPolicy == corev1.ServiceInternalTrafficPolicyLocal
		for _, port := range s.Spec.Ports {
			proto := port.Protocol
			if proto == "" {
				proto = corev1.ProtocolTCP
			}
			sp := rules.ServicePortInfo{
				Namespace: s.Namespace, Name: s.Name, PortName: port.Name, Protocol: string(proto),
				ExternallyAccessible: port.NodePort != 0 || len(vips) > 0 || len(extIPs) > 0,
				ExternalTrafficLocal: etpLocal, InternalTrafficLocal: itpLocal,
				LoadBalancerVIPs: vips, SourceRanges: ranges,
			}
			for j := range slices {
				sl := &slices[j]
				if sl.Namespace != s.Namespace || sl.Labels[discoveryv1.LabelServiceName] != s.Name {
					continue
				}
				if (sl.AddressType == discoveryv1.AddressTypeIPv6) != is6 || sl.AddressType == discoveryv1.AddressTypeFQDN {
					continue
				}
				for _, p := range sl.Ports {
					if p.Name == nil || p.Port == nil || *p.Port == 0 || *p.Name != port.Name {
						continue
					}
					pp := corev1.ProtocolTCP
					if p.Protocol != nil {
						pp = *p.Protocol
					}
					if pp != proto {
						continue
					}
					for _, ep := range sl.Endpoints {
						if len(ep.Addresses) == 0 {
							continue
						}
						a, err := netip.ParseAddr(ep.Addresses[0])
						if err != nil {
							continue
						}
						e := rules.EndpointInfo{
							IP: a.Unmap().String(), Port: int(*p.Port),
							Ready:       ep.Conditions.Ready == nil || *ep.Conditions.Ready,
							Serving:     ep.Conditions.Serving == nil || *ep.Conditions.Serving,
							Terminating: ep.Conditions.Terminating != nil && *ep.Conditions.Terminating,
						}
						if ep.NodeName != nil {
							e.NodeName = *ep.NodeName
						}
						if ep.Hints != nil {
							for _, z := range ep.Hints.ForZones {
								e.ZoneHints = append(e.ZoneHints, z.Name)
							}
							for _, n := range ep.Hints.ForNodes {
								e.NodeHints = append(e.NodeHints, n.Name)
							}
						}
						if ref := ep.TargetRef; ref != nil && ref.Kind == "Pod" {
							ns := ref.Namespace
							if ns == "" {
								ns = sl.Namespace
							}
							if l, ok := podNames[ns+"/"+ref.Name]; ok {
								e.Label = l
							} else {
								e.Label = "pod " + ns + "/" + ref.Name
							}
						}
						sp.Endpoints = append(sp.Endpoints, e)
					}
				}
			}
			out = append(out, sp)
		}
	}
	sort.SliceStable(out, func(i, j int) bool {
		return rules.ServicePortName(out[i].Namespace, out[i].Name, out[i].PortName) < rules.ServicePortName(out[j].Namespace, out[j].Name, out[j].PortName)
	})
	return out
}
