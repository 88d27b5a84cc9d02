package nodehelper

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"strings"
	"testing"
)

// The node's output is untrusted input: none of its readers may panic.

func FuzzParseTrailer(f *testing.F) {
	// Real trailers and stderr tails of the collection script.
	f.Add("svc-trace-archive 7256 aec9f076fba6b47849f9649fdb232da85beabd054e59df8d3240a657661a7df1\n")
	f.Add("# Warning: ip6tables-legacy tables present\nsvc-trace-archive 10745 fe4a6719ac8be90fc58ec83d22c231b4d35ac6576c7e1d9330bcbdbbd43ac16e\nlegacy-after:\n")
	f.Add("cannot write /tmp/svc-trace (the pod needs a writable /tmp)\n")
	f.Fuzz(func(t *testing.T, s string) {
		n, sum, err := parseTrailer(s)
		if err == nil && (n < 0 || len(sum) != 64) {
			t.Fatalf("accepted %q as %d %q", s, n, sum)
		}
	})
}

func FuzzUntar(f *testing.F) {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	tw := tar.NewWriter(zw)
	for name, body := range map[string]string{"./proxy-mode": "iptables", "./route-get/10.244.0.5": `[{"dst":"10.244.0.5","dev":"svctbr0"}]`} {
		_ = tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(body)), Typeflag: tar.TypeReg})
		_, _ = tw.Write([]byte(body))
	}
	_ = tw.Close()
	_ = zw.Close()
	f.Add(buf.Bytes())
	f.Add([]byte{0x1f, 0x8b, 0x08, 0x00})
	f.Fuzz(func(t *testing.T, b []byte) {
		files, err := untar(b)
		if err != nil {
			return
		}
		for name := range files {
			if strings.HasPrefix(name, "/") || name == ".." || strings.HasPrefix(name, "../") {
				t.Fatalf("accepted entry %q", name)
			}
		}
	})
}

func FuzzDumpFiles(f *testing.F) {
	f.Add("iptables-nft-save host rc=0 cmd=iptables-nft-save reason=image tool rc=0: # Table `nat' is incompatible, use 'nft' tool.\n",
		"nft kubelet's KUBE-IPTABLES-HINT/KUBE-KUBELET-CANARY chains are in the nft backend's mangle table; KUBE-* chains: nft=118 legacy=0\n",
		`{"nftables": [{"metainfo": {"version": "1.0.6", "release_name": "Lester Gooch #5", "json_schema_version": 1}}, {"table": {"family": "inet", "name": "svct-test", "handle": 9}}]}`)
	f.Add("x host", "", "{")
	f.Fuzz(func(t *testing.T, fallback, backend, nft string) {
		d := &Dump{Node: "n", Files: map[string][]byte{"tools-fallback": []byte(fallback), "iptables-backend": []byte(backend),
			"nft/inet-t.json": []byte(nft), "nft/inet-t.json.rc": []byte("0"), "meta": []byte(fallback)}}
		_ = d.Fallbacks()
		_, _ = d.Backend()
		_ = d.Meta()
		_, _ = d.NftRuleset()
	})
}
