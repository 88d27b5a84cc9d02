package rules

import "testing"

// Expected names are kube-proxy's own: the iptables ones appear in
// pkg/proxy/iptables/proxier_test.go (and KUBE-SVC-NPX46M4PTMTKRN6Y for
// default/kubernetes:https on every real cluster), the nftables ones in
// pkg/proxy/nftables/helpers_test.go; the IPv6 iptables endpoint was
// computed independently with Python's hashlib (base64.b32encode of
// sha256(spn + proto + "[ip]:port")).
func TestChainNames(t *testing.T) {
	tests := []struct {
		name, got, want string
	}{
		{"svc", ServicePortChainName("ns1/svc1:p80", "tcp"), "KUBE-SVC-XPGD46QRK7WJZT7O"},
		{"svc protocol case", ServicePortChainName("ns1/svc1:p80", "TCP"), "KUBE-SVC-XPGD46QRK7WJZT7O"},
		{"svl", LocalChainName("ns1/svc1:p80", "tcp"), "KUBE-SVL-XPGD46QRK7WJZT7O"},
		{"ext", ExternalChainName("ns1/svc1:p80", "tcp"), "KUBE-EXT-XPGD46QRK7WJZT7O"},
		{"fw", FirewallChainName("ns1/svc1:p80", "tcp"), "KUBE-FW-XPGD46QRK7WJZT7O"},
		{"sep", EndpointChainName("ns1/svc1:p80", "tcp", EndpointString("10.180.0.1", 80)), "KUBE-SEP-SXIVWICOYRO3J4NJ"},
		{"sep ipv6", EndpointChainName("ns1/svc1:p80", "tcp", EndpointString("fd00:10:180::1", 80)), "KUBE-SEP-OGYCNMB4EMRUSJ6N"},
		{"sep ipv6 udp", EndpointChainName("ns2/svc2:p53", "udp", EndpointString("fd00:10:180::2:1", 53)), "KUBE-SEP-2AK2KZ3BZ4EXQTDT"},
		{"kubernetes", ServicePortChainName(ServicePortName("default", "kubernetes", "https"), "tcp"), "KUBE-SVC-NPX46M4PTMTKRN6Y"},
		{"unnamed port", ServicePortName("default", "dns-svc", ""), "default/dns-svc"},
		{"ipv6 endpoint string", EndpointString("fd00:10:180::1", 80), "[fd00:10:180::1]:80"},
		{"nft service", NFTPrefixService + NFTServiceChainBase("ns1", "svc1", "tcp", "p80"), "service-ULMVA6XW-ns1/svc1/tcp/p80"},
		{"nft endpoint", NFTPrefixEndpoint + NFTEndpointChainBase("ns1", "svc1", "tcp", "p80", "10.180.0.1:80"), "endpoint-5OJB2KTY-ns1/svc1/tcp/p80__10.180.0.1/80"},
		{"nft endpoint ipv6", NFTPrefixEndpoint + NFTEndpointChainBase("ns1", "svc1", "tcp", "p80", "[fd00:10:180::2:1]:80"), "endpoint-2CRNCTTE-ns1/svc1/tcp/p80__fd00.10.180..2.1/80"},
		{"nft unnamed port", NFTEndpointChainBase("ns2", "svc2", "udp", "", "10.0.0.1:53"), "EQXD4JZB-ns2/svc2/udp/__10.0.0.1/53"},
	}
	for _, tc := range tests {
		if tc.got != tc.want {
			t.Errorf("%s: got %s, want %s", tc.name, tc.got, tc.want)
		}
	}
}

func TestNFTNameTruncation(t *testing.T) {
	long := ""
	for len(long) < 300 {
		long += "abcdefghij"
	}
	base := NFTServiceChainBase(long, "svc", "tcp", "p")
	if len(base) != nftChainNameBaseLengthMax || base[len(base)-3:] != "..." {
		t.Errorf("long name not truncated to %d with ...: %d %q", nftChainNameBaseLengthMax, len(base), base[len(base)-5:])
	}
}

func TestIsServiceChain(t *testing.T) {
	for name, want := range map[string]bool{
		"KUBE-SVC-XPGD46QRK7WJZT7O": true, "KUBE-SVL-X": true, "KUBE-EXT-X": true, "KUBE-FW-X": true,
		"KUBE-SEP-X": true, "KUBE-SERVICES": false, "KUBE-MARK-MASQ": false, "KUBE-NODEPORTS": false,
	} {
		if IsServiceChain(name) != want {
			t.Errorf("IsServiceChain(%s) = %v", name, !want)
		}
	}
}
