package dnswire

import (
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"

	"github.com/svctrace/kubectl-svc-trace/pkg/dnssim"
)

var update = flag.Bool("update", false, "rewrite the .golden dumps of the recorded replies")

// dump renders a parsed reply one record per line, for the goldens.
func dump(r *Reply) string {
	var b strings.Builder
	fmt.Fprintf(&b, "question %s %s\nrcode %s aa=%v tc=%v ra=%v edns=%v\n", r.Question.Name, r.Question.Type, r.Response.Rcode, r.Authoritative, r.Truncated, r.RecursionAvailable, r.EDNS)
	for _, s := range []struct {
		name string
		rrs  []dnssim.RR
	}{{"answer", r.Response.Answers}, {"additional", r.Response.Additional}, {"authority", r.Authority}} {
		for _, rr := range s.rrs {
			data := rr.Data
			if rr.Type == "SOA" {
				// The serial is CoreDNS's last-change timestamp.
				f := strings.Fields(data)
				if len(f) == 7 {
					f[2] = "SERIAL"
				}
				data = strings.Join(f, " ")
			}
			fmt.Fprintf(&b, "%s %s %d %s %s\n", s.name, rr.Name, rr.TTL, rr.Type, data)
		}
	}
	return b.String()
}

// TestParseRecorded decodes real CoreDNS replies recorded from the harness
// cluster (hack/record-dns-wire.sh) and compares each with its golden dump:
// addresses, SRV fields, CNAME/PTR targets, TXT, the SOA in the authority
// section of NXDOMAIN/NODATA, the OPT record of EDNS0 replies.
func TestParseRecorded(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "coredns", "*.bin"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 20 {
		t.Fatalf("only %d recorded replies in testdata/coredns (hack/record-dns-wire.sh)", len(files))
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			r, err := ParseReply(b)
			if err != nil {
				t.Fatal(err)
			}
			if strings.HasSuffix(f, "-udp.bin") != r.EDNS {
				t.Errorf("EDNS %v: the UDP queries carried an OPT record and CoreDNS echoes it, TCP ones did not", r.EDNS)
			}
			got := dump(r)
			golden := strings.TrimSuffix(f, ".bin") + ".golden"
			if *update {
				if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (go test ./pkg/dnssim/dnswire -run TestParseRecorded -update)", err)
			}
			if got != string(want) {
				t.Errorf("parse of %s differs from %s:\n--- got\n%s--- want\n%s", f, golden, got, want)
			}
		})
	}
}

// TestParseKnown pins a few recorded replies field by field, so the goldens
// are not their own only check.
func TestParseKnown(t *testing.T) {
	read := func(name string) *Reply {
		b, err := os.ReadFile(filepath.Join("testdata", "coredns", name))
		if err != nil {
			t.Fatal(err)
		}
		r, err := ParseReply(b)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	nx := read("nxdomain-tcp.bin")
	if nx.Response.Rcode != dnssim.NXDOMAIN || len(nx.Response.Answers) != 0 || !nx.Authoritative || len(nx.Authority) != 1 || nx.Authority[0].Type != "SOA" ||
		!strings.HasPrefix(nx.Authority[0].Data, "ns.dns.cluster.local. hostmaster.cluster.local. ") || nx.Authority[0].Name != "cluster.local." {
		t.Errorf("NXDOMAIN: %+v", nx)
	}
	srv := read("srv-headless-udp.bin")
	if len(srv.Response.Answers) != 2 || len(srv.Response.Additional) != 2 {
		t.Fatalf("SRV: %+v", srv.Response)
	}
	for _, rr := range srv.Response.Answers {
		if rr.Type != "SRV" || !strings.HasPrefix(rr.Data, "0 50 8080 ") || !strings.HasSuffix(rr.Data, ".web.svct-dns.svc.cluster.local.") || rr.TTL != 30 {
			t.Errorf("SRV record %+v", rr)
		}
	}
	// The kubernetes plugin gives dns-version TTL 28800, but every reply
	// leaves through the cache plugin, which caps TTLs at its maximum (30 in
	// kubeadm's Corefile) even for the cluster domain it does not cache.
	txt := read("txt-tcp.bin")
	if len(txt.Response.Answers) != 1 || txt.Response.Answers[0].Data != `"1.1.0"` || txt.Response.Answers[0].TTL != 30 {
		t.Errorf("TXT: %+v", txt.Response.Answers)
	}
	sf := read("servfail-tcp.bin")
	if sf.Response.Rcode != dnssim.SERVFAIL || sf.Authoritative {
		t.Errorf("SERVFAIL: %+v", sf)
	}
	mc := read("mixed-case-tcp.bin")
	if mc.Question.Name != "NGX-DEP-SVC.Default.svc.cluster.local." || mc.Response.Answers[0].Name != "NGX-DEP-SVC.Default.svc.cluster.local." {
		t.Errorf("CoreDNS answers in the question's case: %+v", mc)
	}
}

func TestNewQuery(t *testing.T) {
	for _, c := range []struct {
		q    dnssim.Question
		edns uint16
	}{
		{dnssim.Question{Name: "web.default.svc.cluster.local.", Type: "A"}, 0},
		{dnssim.Question{Name: "_http._tcp.web.default.svc.cluster.local", Type: "srv"}, 1232},
		{dnssim.Question{Name: ".", Type: "NS"}, 0},
	} {
		b, err := NewQuery(4242, c.q, c.edns)
		if err != nil {
			t.Fatalf("%+v: %v", c.q, err)
		}
		var d layers.DNS
		if err := d.DecodeFromBytes(b, gopacket.NilDecodeFeedback); err != nil {
			t.Fatalf("%+v: %v", c.q, err)
		}
		want := strings.TrimSuffix(c.q.Name, ".")
		if d.ID != 4242 || d.QR || !d.RD || len(d.Questions) != 1 || string(d.Questions[0].Name) != want || d.Questions[0].Class != layers.DNSClassIN {
			t.Errorf("%+v: decoded %+v", c.q, d)
		}
		if code, _ := TypeCode(c.q.Type); d.Questions[0].Type != code {
			t.Errorf("%+v: type %v", c.q, d.Questions[0].Type)
		}
		if hasOPT := len(d.Additionals) == 1 && d.Additionals[0].Type == layers.DNSTypeOPT && uint16(d.Additionals[0].Class) == c.edns; hasOPT != (c.edns > 0) {
			t.Errorf("%+v: additionals %+v", c.q, d.Additionals)
		}
	}
	for _, bad := range []dnssim.Question{
		{Name: "a..b.", Type: "A"},
		{Name: strings.Repeat("x", 64) + ".example.", Type: "A"},
		{Name: strings.Repeat("abcdefghi.", 26), Type: "A"},
		{Name: "example.", Type: "AXFR"},
	} {
		if _, err := NewQuery(1, bad, 0); err == nil {
			t.Errorf("%+v: no error", bad)
		}
	}
}

// server answers queries on conn with the recorded reply whose question
// matches, rewriting the ID (TCP framing when stream).
func serve(t *testing.T, conn net.Conn, stream bool, reply []byte, idDelta uint16) {
	t.Helper()
	go func() {
		defer conn.Close()
		for {
			var msg []byte
			if stream {
				var l [2]byte
				if _, err := io.ReadFull(conn, l[:]); err != nil {
					return
				}
				msg = make([]byte, binary.BigEndian.Uint16(l[:]))
				if _, err := io.ReadFull(conn, msg); err != nil {
					return
				}
			} else {
				buf := make([]byte, 4096)
				n, err := conn.Read(buf)
				if err != nil {
					return
				}
				msg = buf[:n]
			}
			out := append([]byte(nil), reply...)
			binary.BigEndian.PutUint16(out, binary.BigEndian.Uint16(msg)+idDelta)
			if stream {
				var l [2]byte
				binary.BigEndian.PutUint16(l[:], uint16(len(out)))
				out = append(l[:], out...)
			}
			if _, err := conn.Write(out); err != nil {
				return
			}
		}
	}()
}

func TestExchange(t *testing.T) {
	reply, err := os.ReadFile(filepath.Join("testdata", "coredns", "a-tcp.bin"))
	if err != nil {
		t.Fatal(err)
	}
	q := dnssim.Question{Name: "nginx-svc.default.svc.cluster.local.", Type: "A"}
	for _, stream := range []bool{true, false} {
		client, srv := net.Pipe()
		serve(t, srv, stream, reply, 0)
		for id := uint16(1); id <= 3; id++ { // several questions on one connection
			r, err := Exchange(client, stream, id, q, 0, time.Now().Add(5*time.Second))
			if err != nil {
				t.Fatalf("stream %v: %v", stream, err)
			}
			if r.ID != id || len(r.Response.Answers) != 1 || r.Response.Answers[0].Type != "A" {
				t.Errorf("stream %v: %+v", stream, r)
			}
		}
		client.Close()
	}

	// A reply to another query is an error, never a silent mismatch.
	client, srv := net.Pipe()
	serve(t, srv, true, reply, 1)
	if _, err := Exchange(client, true, 7, q, 0, time.Now().Add(5*time.Second)); !errors.Is(err, ErrIDMismatch) {
		t.Errorf("ID mismatch: %v", err)
	}
	client.Close()
	client, srv = net.Pipe()
	serve(t, srv, true, reply, 0)
	if _, err := Exchange(client, true, 7, dnssim.Question{Name: "other.example.", Type: "A"}, 0, time.Now().Add(5*time.Second)); err == nil || !strings.Contains(err.Error(), "not the question asked") {
		t.Errorf("question mismatch: %v", err)
	}
	client.Close()

	// No reply within the deadline.
	client, srv = net.Pipe()
	defer srv.Close()
	go func() { _, _ = io.Copy(io.Discard, srv) }()
	_, err = Exchange(client, true, 1, q, 0, time.Now().Add(50*time.Millisecond))
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() {
		t.Errorf("timeout: %v", err)
	}
	client.Close()
}

func TestParseReplyErrors(t *testing.T) {
	q, err := NewQuery(1, dnssim.Question{Name: "a.example.", Type: "A"}, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ParseReply(q); err == nil || !strings.Contains(err.Error(), "is a query") {
		t.Errorf("a query: %v", err)
	}
	if _, err := ParseReply([]byte{1, 2, 3}); err == nil || !strings.Contains(err.Error(), "decoding a 3-byte DNS message") {
		t.Errorf("short: %v", err)
	}
}

func TestSortRRs(t *testing.T) {
	in := []dnssim.RR{{Name: "b.", Type: "A", Data: "10.0.0.2"}, {Name: "A.", Type: "AAAA", Data: "fd00::1"}, {Name: "a.", Type: "A", Data: "10.0.0.9"}, {Name: "a.", Type: "A", Data: "10.0.0.1"}}
	out := SortRRs(in)
	var got []string
	for _, rr := range out {
		got = append(got, rr.Name+rr.Type+rr.Data)
	}
	want := []string{"a.A10.0.0.1", "a.A10.0.0.9", "b.A10.0.0.2", "A.AAAAfd00::1"}
	if strings.Join(got, ",") != strings.Join(want, ",") || in[0].Name != "b." {
		t.Errorf("%v (input must not change: %v)", got, in)
	}
}

// FuzzParseReply: no input makes the parser panic, and whatever parses
// renders records whose types are names, never empty.
func FuzzParseReply(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join("testdata", "coredns", "*.bin"))
	sort.Strings(files)
	for _, file := range files {
		b, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := ParseReply(b)
		if err != nil {
			return
		}
		for _, rr := range append(append(append([]dnssim.RR{}, r.Response.Answers...), r.Response.Additional...), r.Authority...) {
			if rr.Type == "" || !strings.HasSuffix(rr.Name, ".") {
				t.Errorf("record %+v", rr)
			}
		}
	})
}
