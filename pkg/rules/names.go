package rules

import (
	"crypto/sha256"
	"encoding/base32"
	"fmt"
	"net"
	"strings"
)

// kube-proxy's per-service chain prefixes in iptables mode
// (pkg/proxy/iptables/proxier.go).
const (
	ChainPrefixService  = "KUBE-SVC-" // cluster traffic policy endpoints
	ChainPrefixLocal    = "KUBE-SVL-" // local traffic policy endpoints
	ChainPrefixExternal = "KUBE-EXT-" // external destinations (NodePort, LB, externalIPs)
	ChainPrefixFirewall = "KUBE-FW-"  // loadBalancerSourceRanges
	ChainPrefixEndpoint = "KUBE-SEP-" // one endpoint
)

// kube-proxy's fixed iptables chains.
const (
	ChainKubeServices         = "KUBE-SERVICES"
	ChainKubeExternalServices = "KUBE-EXTERNAL-SERVICES"
	ChainKubeNodePorts        = "KUBE-NODEPORTS"
	ChainKubePostrouting      = "KUBE-POSTROUTING"
	ChainKubeMarkMasq         = "KUBE-MARK-MASQ"
	ChainKubeForward          = "KUBE-FORWARD"
	ChainKubeProxyFirewall    = "KUBE-PROXY-FIREWALL"
	ChainKubeFirewall         = "KUBE-FIREWALL"
)

// kube-proxy's chain prefixes in nftables mode (pkg/proxy/nftables/proxier.go).
const (
	NFTPrefixService  = "service-"
	NFTPrefixLocal    = "local-"
	NFTPrefixExternal = "external-"
	NFTPrefixEndpoint = "endpoint-"
	NFTPrefixAffinity = "affinity-"
	NFTPrefixFirewall = "firewall-"
)

// ServicePortName is kube-proxy's ServicePortName.String() (pkg/proxy/types.go):
// "namespace/name", plus ":portName" when the port is named. The protocol
// is not part of it.
func ServicePortName(namespace, name, portName string) string {
	s := namespace + "/" + name
	if portName != "" {
		s += ":" + portName
	}
	return s
}

// EndpointString is kube-proxy's endpoint string, net.JoinHostPort(ip, port)
// (BaseEndpointInfo.String in pkg/proxy/endpoint.go): "10.0.0.1:80",
// "[fd00::1]:80". It feeds KUBE-SEP hashes and the sort order of endpoints.
func EndpointString(ip string, port int) string {
	return net.JoinHostPort(ip, fmt.Sprint(port))
}

// portProtoHash mirrors portProtoHash in pkg/proxy/iptables/proxier.go:
// base32(sha256(servicePortName + protocol))[:16], protocol lower-case.
func portProtoHash(spn, protocol string) string {
	h := sha256.Sum256([]byte(spn + strings.ToLower(protocol)))
	return base32.StdEncoding.EncodeToString(h[:])[:16]
}

// ServicePortChainName is the KUBE-SVC- chain (cluster traffic policy) of a
// service port: servicePortPolicyClusterChain in pkg/proxy/iptables/proxier.go.
// spn is ServicePortName(...); protocol is "tcp", "udp" or "sctp" (any case).
func ServicePortChainName(spn, protocol string) string {
	return ChainPrefixService + portProtoHash(spn, protocol)
}

// LocalChainName is the KUBE-SVL- chain (local traffic policy):
// servicePortPolicyLocalChainName in pkg/proxy/iptables/proxier.go.
func LocalChainName(spn, protocol string) string {
	return ChainPrefixLocal + portProtoHash(spn, protocol)
}

// ExternalChainName is the KUBE-EXT- chain: serviceExternalChainName in
// pkg/proxy/iptables/proxier.go.
func ExternalChainName(spn, protocol string) string {
	return ChainPrefixExternal + portProtoHash(spn, protocol)
}

// FirewallChainName is the KUBE-FW- chain: serviceFirewallChainName in
// pkg/proxy/iptables/proxier.go.
func FirewallChainName(spn, protocol string) string {
	return ChainPrefixFirewall + portProtoHash(spn, protocol)
}

// EndpointChainName is the KUBE-SEP- chain of one endpoint:
// servicePortEndpointChainName in pkg/proxy/iptables/proxier.go,
// base32(sha256(spn + protocol + endpoint))[:16] with endpoint as
// EndpointString gives it ("[fd00:10:180::1]:80" for IPv6).
func EndpointChainName(spn, protocol, endpoint string) string {
	h := sha256.Sum256([]byte(spn + strings.ToLower(protocol) + endpoint))
	return ChainPrefixEndpoint + base32.StdEncoding.EncodeToString(h[:])[:16]
}

// nftChainNameBaseLengthMax is chainNameBaseLengthMax in
// pkg/proxy/nftables/proxier.go: knftables.NameLengthMax (256) minus the
// longest prefix (16).
const nftChainNameBaseLengthMax = 256 - 16

// nftHashAndTruncate mirrors hashAndTruncate in pkg/proxy/nftables/proxier.go.
func nftHashAndTruncate(name string) string {
	h := sha256.Sum256([]byte(name))
	name = base32.StdEncoding.EncodeToString(h[:])[:8] + "-" + name
	if len(name) > nftChainNameBaseLengthMax {
		name = name[:nftChainNameBaseLengthMax-3] + "..."
	}
	return name
}

// NFTServiceChainBase is servicePortChainNameBase in
// pkg/proxy/nftables/proxier.go: hash + "-namespace/name/protocol/portName",
// e.g. "ULMVA6XW-ns1/svc1/tcp/p80". Prefix it with NFTPrefixService,
// NFTPrefixLocal, NFTPrefixExternal or NFTPrefixFirewall.
func NFTServiceChainBase(namespace, name, protocol, portName string) string {
	return nftHashAndTruncate(fmt.Sprintf("%s/%s/%s/%s", namespace, name, strings.ToLower(protocol), portName))
}

// NFTEndpointChainBase is servicePortEndpointChainNameBase in
// pkg/proxy/nftables/proxier.go: "namespace/name/protocol/portName__ip/port"
// with an IPv6 address's colons replaced by dots. Prefix it with
// NFTPrefixEndpoint (chain) or NFTPrefixAffinity (set).
func NFTEndpointChainBase(namespace, name, protocol, portName, endpoint string) string {
	ip, port, err := net.SplitHostPort(endpoint)
	if err != nil {
		ip, port = endpoint, ""
	}
	if strings.Contains(ip, ":") {
		ip = strings.ReplaceAll(ip, ":", ".")
	}
	return nftHashAndTruncate(fmt.Sprintf("%s/%s/%s/%s__%s/%s", namespace, name, strings.ToLower(protocol), portName, ip, port))
}

// IsServiceChain reports whether an iptables chain name is one of
// kube-proxy's per-service chains (KUBE-SVC/SVL/EXT/FW/SEP), as
// isServiceChainName in pkg/proxy/iptables/proxier.go decides which stale
// chains to delete.
func IsServiceChain(name string) bool {
	for _, p := range []string{ChainPrefixService, ChainPrefixLocal, ChainPrefixEndpoint, ChainPrefixExternal, ChainPrefixFirewall} {
		if strings.HasPrefix(name, p) {
			return true
		}
	}
	return false
}
