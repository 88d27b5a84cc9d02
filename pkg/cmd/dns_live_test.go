package cmd

import (
	"bytes"
	"encoding/binary"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/svctrace/kubectl-svc-trace/pkg/cluster"
	"github.com/svctrace/kubectl-svc-trace/pkg/dnssim"
)

// recordedWorld is the dns command's view of the recorded cluster
// (testdata/dns/objects.yaml, from the real harness with CoreDNS).
func recordedWorld(t *testing.T) *dnsWorld {
	t.Helper()
	o := &DNSOptions{files: &cluster.FileSource{Filenames: []string{filepath.Join("testdata", "dns", "objects.yaml")}}, Namespace: "default", PodName: "dns-client"}
	w, err := o.readFiles()
	if err != nil {
		t.Fatal(err)
	}
	return w
}

func TestFindDNSTarget(t *testing.T) {
	w := recordedWorld(t)
	got, err := findDNSTarget(w, "10.96.0.10")
	if err != nil {
		t.Fatal(err)
	}
	if got.namespace != "kube-system" || !strings.HasPrefix(got.pod, "coredns-") || got.port != 53 || got.via != "Service kube-system/kube-dns" || got.ip != "10.250.0.10" {
		t.Errorf("kube-dns: %+v", got)
	}
	if got6, err := findDNSTarget(w, "fd00:10:96::a"); err != nil || got6.pod != got.pod {
		t.Errorf("kube-dns by its IPv6 ClusterIP: %+v %v", got6, err)
	}
	if _, err := findDNSTarget(w, "10.255.255.53"); err == nil || !strings.Contains(err.Error(), "neither a Service ClusterIP nor a pod IP") {
		t.Errorf("an upstream server: %v", err)
	}
	// A ClusterIP Service without a DNS port.
	var nginx string
	for _, s := range w.services {
		if s.Name == "nginx-svc" {
			nginx = s.Spec.ClusterIP
		}
	}
	if _, err := findDNSTarget(w, nginx); err == nil || !strings.Contains(err.Error(), "no ready endpoint backed by a pod with a DNS TCP port") {
		t.Errorf("nginx-svc as a nameserver: %v", err)
	}
	// A nameserver that is a pod's own IP.
	w.allPods = w.pods
	var ip string
	for _, p := range w.pods {
		if p.Name == "web-x" {
			ip = p.Status.PodIPs[0].IP
		}
	}
	if got, err := findDNSTarget(w, ip); err != nil || got.pod != "web-x" || got.via != "pod IP" {
		t.Errorf("pod IP: %+v %v", got, err)
	}
}

// dnsServer serves recorded CoreDNS replies over TCP on loopback, closing
// the connection after closeAfter replies (0: never), and counts queries.
func dnsServer(t *testing.T, reply []byte, closeAfter int) (string, *atomic.Int32) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	var n atomic.Int32
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func(c net.Conn) {
				defer c.Close()
				for served := 0; closeAfter == 0 || served < closeAfter; served++ {
					var l [2]byte
					if _, err := io.ReadFull(c, l[:]); err != nil {
						return
					}
					msg := make([]byte, binary.BigEndian.Uint16(l[:]))
					if _, err := io.ReadFull(c, msg); err != nil {
						return
					}
					n.Add(1)
					out := append([]byte(nil), reply...)
					copy(out, msg[:2]) // the query's ID
					binary.BigEndian.PutUint16(l[:], uint16(len(out)))
					if _, err := c.Write(append(l[:], out...)); err != nil {
						return
					}
				}
			}(c)
		}
	}()
	return ln.Addr().String(), &n
}

func TestLiveDNS(t *testing.T) {
	reply, err := os.ReadFile(filepath.Join("..", "dnssim", "dnswire", "testdata", "coredns", "a-tcp.bin"))
	if err != nil {
		t.Fatal(err)
	}
	q := dnssim.Question{Name: "nginx-svc.default.svc.cluster.local.", Type: "A"}
	// The server closes every connection after one reply: liveDNS reconnects.
	addr, n := dnsServer(t, reply, 1)
	l := &liveDNS{timeout: 5 * time.Second, cache: map[dnssim.Question]dnssim.Response{},
		dial: func() (net.Conn, error) { return net.Dial("tcp", addr) }}
	defer l.close()
	r := l.Answer(q)
	if r.Rcode != dnssim.NOERROR || len(r.Answers) != 1 || r.Source != "live" {
		t.Fatalf("%+v", r)
	}
	// Each question is asked once: the real walk and the table agree.
	if r2 := l.Answer(dnssim.Question{Name: "NGINX-SVC.default.svc.cluster.local", Type: "a"}); r2.Label() != r.Label() || n.Load() != 1 {
		t.Errorf("cached answer %+v after %d queries", r2, n.Load())
	}
	if r3 := l.Answer(dnssim.Question{Name: "nginx-svc.default.svc.cluster.local.", Type: "AAAA"}); r3.Source != "live-error" || !strings.Contains(r3.Why, "not the question asked") {
		t.Errorf("the recorded reply answers A, not AAAA: %+v", r3)
	}
	// Nobody listening: TIMEOUT with the error, not a crash or a hang.
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	dead := ln.Addr().String()
	ln.Close()
	l2 := &liveDNS{timeout: time.Second, cache: map[dnssim.Question]dnssim.Response{}, dial: func() (net.Conn, error) { return net.Dial("tcp", dead) }}
	if r := l2.Answer(q); r.Rcode != dnssim.TIMEOUT || r.Source != "live-error" || !strings.Contains(r.Why, "connection refused") {
		t.Errorf("dead server: %+v", r)
	}
}

func TestLimitedBuffer(t *testing.T) {
	b := limitedBuffer{max: 4}
	for _, p := range []string{"ab", "cde", "f"} {
		if n, err := b.Write([]byte(p)); n != len(p) || err != nil {
			t.Fatalf("write %q: %d %v", p, n, err)
		}
	}
	if b.String() != "abcd" || !b.over {
		t.Errorf("%q over=%v", b.String(), b.over)
	}
}

func TestDNSLiveExecFlagErrors(t *testing.T) {
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"x", "--from", "pod/a", "--live", "-f", "testdata/dns/objects.yaml"}, "cannot be combined with -f"},
		{[]string{"x", "--from", "pod/a", "--exec", "-f", "testdata/dns/objects.yaml"}, "cannot be combined with -f"},
		{[]string{"x", "--resolv-conf", "testdata/dns/node-resolv.conf", "--exec"}, "--exec reads the resolv.conf of the pod given with --from"},
		{[]string{"x", "--from", "pod/a", "--exec", "--resolv-conf", "testdata/dns/node-resolv.conf"}, "cannot be combined with --resolv-conf"},
		{[]string{"x", "--from", "pod/a", "-c", "main"}, "--container only applies to --exec"},
		{[]string{"x", "--from", "pod/a", "--live", "--live-timeout", "0s"}, "invalid --live-timeout"},
	}
	for _, c := range cases {
		var out, errOut bytes.Buffer
		cf := genericclioptions.NewConfigFlags(true)
		ns := "default"
		cf.Namespace = &ns
		cmd := NewCmdDNS(genericiooptions.IOStreams{In: strings.NewReader(""), Out: &out, ErrOut: &errOut}, cf)
		cmd.SetArgs(c.args)
		if err := cmd.Execute(); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v: error %v, want %q", c.args, err, c.want)
		}
	}
}
