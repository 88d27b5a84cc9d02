//go:build linux

package dnsharness

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"runtime"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/svctrace/kubectl-svc-trace/pkg/dnssim"
)

const (
	enableEnv = "SVCTRACE_DNS_HARNESS"
	innerEnv  = "SVCTRACE_DNS_HARNESS_INNER"
)

// TestRealResolvers runs every Case under glibc, musl (Debian's, 1.2.3) and
// Go's pure resolver, each a real process inside a network + mount
// namespace this test creates, against a real DNS server, and compares the
// queries the server received and the result the client printed with
// dnssim's prediction.
func TestRealResolvers(t *testing.T) {
	if os.Getenv(enableEnv) == "" {
		t.Skipf("SKIPPED real-resolver DNS harness: set %s=1 to run it (needs root, unshare, gcc, musl-gcc; install with hack/dns-test-deps.sh, or run hack/dns-harness.sh)", enableEnv)
	}
	if os.Getenv(innerEnv) != "1" {
		runInNamespaces(t)
		return
	}
	runCases(t)
}

// runInNamespaces re-executes this test binary under unshare(1) with a new
// network and mount namespace: the DNS server, the bind-mounted resolv.conf
// and every client live and die there, and nothing on the host changes.
func runInNamespaces(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Fatalf("%s=1 but not root: the harness needs root for network and mount namespaces", enableEnv)
	}
	for _, tool := range []string{"unshare", "ip", "gcc", "musl-gcc", "go"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s not found: run hack/dns-test-deps.sh", tool)
		}
	}
	args := []string{"--net", "--mount", "--propagation", "private", "--", os.Args[0], "-test.run", "^TestRealResolvers$", "-test.v", "-test.timeout", "25m"}
	cmd := exec.Command("unshare", args...)
	cmd.Env = append(os.Environ(), innerEnv+"=1")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	for _, l := range strings.Split(strings.TrimRight(out.String(), "\n"), "\n") {
		t.Log(l)
	}
	if err != nil {
		t.Fatalf("harness inside the namespaces failed: %v", err)
	}
}

type client struct {
	resolver dnssim.Resolver
	path     string
}

func buildClients(t *testing.T, dir string) []client {
	_, file, _, _ := runtime.Caller(0)
	here := filepath.Dir(file)
	src := filepath.Join(here, "clients", "gai.c")
	run := func(env []string, name string, args ...string) {
		cmd := exec.Command(name, args...)
		cmd.Env = append(os.Environ(), env...)
		cmd.Dir = here
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
		}
	}
	glibc := filepath.Join(dir, "gai-glibc")
	musl := filepath.Join(dir, "gai-musl")
	goc := filepath.Join(dir, "goclient")
	run(nil, "gcc", "-O2", "-o", glibc, src)
	run(nil, "musl-gcc", "-static", "-O2", "-o", musl, src)
	run([]string{"CGO_ENABLED=0"}, "go", "build", "-o", goc, "./goclient")
	return []client{{dnssim.Glibc, glibc}, {dnssim.Musl123, musl}, {dnssim.Go, goc}}
}

// etcFiles bind-mounts per-case files over /etc/resolv.conf, /etc/hosts and
// /etc/nsswitch.conf once; each case rewrites the files in place.
type etcFiles struct{ resolv, hosts, nss string }

func mountEtc(t *testing.T, dir string) etcFiles {
	f := etcFiles{filepath.Join(dir, "resolv.conf"), filepath.Join(dir, "hosts"), filepath.Join(dir, "nsswitch.conf")}
	for src, dst := range map[string]string{f.resolv: "/etc/resolv.conf", f.hosts: "/etc/hosts", f.nss: "/etc/nsswitch.conf"} {
		if err := os.WriteFile(src, nil, 0o644); err != nil {
			t.Fatal(err)
		}
		if err := syscall.Mount(src, dst, "", syscall.MS_BIND, ""); err != nil {
			t.Fatalf("bind-mount %s over %s: %v", src, dst, err)
		}
		t.Cleanup(func() { _ = syscall.Unmount(dst, 0) })
	}
	if err := os.WriteFile(f.nss, []byte("hosts: files dns\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return f
}

// writeInPlace keeps the inode the bind mount points at.
func writeInPlace(t *testing.T, path, content string) {
	fh, err := os.OpenFile(path, os.O_WRONLY|os.O_TRUNC, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := fh.WriteString(content); err != nil {
		t.Fatal(err)
	}
	if err := fh.Close(); err != nil {
		t.Fatal(err)
	}
}

func runCases(t *testing.T) {
	if out, err := exec.Command("ip", "link", "set", "lo", "up").CombinedOutput(); err != nil {
		t.Fatalf("ip link set lo up: %v %s", err, out)
	}
	dir := t.TempDir()
	clients := buildClients(t, dir)
	etc := mountEtc(t, dir)
	srv, err := NewServer([]string{"127.0.0.1", "127.0.0.2"})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()

	cases := Cases()
	if len(cases) < 40 {
		t.Fatalf("only %d cases; the issue asks for at least 40", len(cases))
	}
	summary := map[dnssim.Resolver][2]int{}
	for _, c := range cases {
		c := c
		fam := c.Family
		if fam == "" {
			fam = dnssim.FamilyAny
		}
		hosts := c.Hosts
		if hosts == "" {
			hosts = "127.0.0.1\tlocalhost\n"
		}
		writeInPlace(t, etc.resolv, c.ResolvConf)
		writeInPlace(t, etc.hosts, hosts)
		recs, err := dnssim.ParseRecords(c.ID+" records", []byte(orDefault(c.Records, upstream)))
		if err != nil {
			t.Fatal(err)
		}
		ans := dnssim.Layered{Records: recs, Cluster: Cluster()}
		rc, err := dnssim.ParseResolvConf("resolv.conf", []byte(c.ResolvConf))
		if err != nil {
			t.Fatal(err)
		}
		for _, cl := range clients {
			t.Run(c.ID+"/"+string(cl.resolver), func(t *testing.T) {
				pred := dnssim.Simulate(dnssim.Lookup{Name: c.Name, Resolver: cl.resolver, Family: fam,
					Config: rc.Config(cl.resolver), Hosts: dnssim.ParseHosts(hosts), Server: ans})
				srv.Reset(ans)
				ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
				defer cancel()
				out, err := exec.CommandContext(ctx, cl.path, c.Name, string(fam)).CombinedOutput()
				if err != nil {
					t.Fatalf("%s: %v\n%s", cl.path, err, out)
				}
				srv.Quiet(300 * time.Millisecond)
				got := srv.Log()
				diffs := compare(cl.resolver, pred, strings.TrimSpace(string(out)), got)
				s := summary[cl.resolver]
				s[0]++
				if len(diffs) > 0 {
					s[1]++
					t.Errorf("%s (%s) %s %q:\n  %s\n  predicted: %s\n  real:      %s\n  real result: %s",
						c.ID, c.What, cl.resolver, c.Name, strings.Join(diffs, "\n  "), fmtPred(pred), fmtLog(got), strings.TrimSpace(string(out)))
				} else {
					t.Logf("ok %-24s %-10s rounds=%d packets=%d result=%s", c.ID, cl.resolver, pred.RoundCount(), len(got), strings.TrimSpace(string(out)))
				}
				summary[cl.resolver] = s
			})
		}
	}
	for _, r := range []dnssim.Resolver{dnssim.Glibc, dnssim.Musl123, dnssim.Go} {
		s := summary[r]
		t.Logf("SUMMARY %-10s %d cases, %d differ from dnssim", r, s[0], s[1])
	}
}

func orDefault(s, d string) string {
	if s == "" {
		return d
	}
	return s
}

// compare checks the real run against the prediction: the result (status,
// error in the resolver's terms, address set) and the query sequence.
// glibc and musl send each round's questions in order from one socket, so
// the order is compared exactly; Go asks A and AAAA from two goroutines, so
// within a run of one name the types are compared as a multiset; musl's
// resends of failed questions are timing-driven, so for a round predicted
// "at least" only the distinct questions are compared.
func compare(r dnssim.Resolver, pred *dnssim.Walk, out string, got []LoggedQuery) []string {
	var diffs []string
	f := strings.Fields(out)
	if len(f) == 0 {
		return []string{"client printed nothing"}
	}
	switch {
	case f[0] == "OK":
		if pred.Status != "ok" {
			diffs = append(diffs, fmt.Sprintf("result: real OK, predicted fail (%s)", pred.Error))
		} else if a, b := sortedSet(f[2:]), sortedSet(pred.Addresses); !reflect.DeepEqual(a, b) {
			diffs = append(diffs, fmt.Sprintf("addresses: real %v, predicted %v", a, b))
		}
	case f[0] == "ERR":
		e := strings.TrimSpace(strings.TrimPrefix(out, "ERR"))
		if pred.Status != "fail" || pred.Error != e {
			diffs = append(diffs, fmt.Sprintf("result: real %q, predicted %s %q", e, pred.Status, pred.Error))
		}
	}
	want := predictedSeq(pred)
	have := make([]string, 0, len(got))
	for _, q := range got {
		if q.Malformed {
			have = append(have, "MALFORMED "+q.Name)
		} else {
			have = append(have, strings.ToLower(q.Name)+" "+q.Type)
		}
	}
	switch {
	case r.Family() == dnssim.Go:
		if !reflect.DeepEqual(blocks(want, true), blocks(have, true)) {
			diffs = append(diffs, "queries differ (compared per name as multisets)")
		}
	case pred.PacketsAtLeast:
		if !reflect.DeepEqual(distinct(want), distinct(have)) || len(have) < len(want) {
			diffs = append(diffs, fmt.Sprintf("queries differ (compared as distinct questions, at least %d packets; real %d)", len(want), len(have)))
		}
	default:
		if !reflect.DeepEqual(want, have) {
			diffs = append(diffs, "queries differ (compared in order)")
		}
	}
	return diffs
}

func predictedSeq(w *dnssim.Walk) []string {
	out := []string{}
	for _, q := range w.Queries {
		n := strings.ToLower(q.Name)
		if strings.HasSuffix(n, "..") {
			out = append(out, "MALFORMED ")
			continue
		}
		out = append(out, n+" "+q.Type)
	}
	return out
}

func sortedSet(s []string) []string {
	m := map[string]bool{}
	for _, x := range s {
		m[x] = true
	}
	out := []string{}
	for x := range m {
		out = append(out, x)
	}
	sort.Strings(out)
	return out
}

// blocks groups consecutive entries with the same name; each block's types
// are sorted (multiset) when sorted is true.
func blocks(seq []string, sorted bool) [][]string {
	var out [][]string
	prev := ""
	for _, s := range seq {
		name, _, _ := strings.Cut(s, " ")
		if len(out) == 0 || name != prev {
			out = append(out, nil)
			prev = name
		}
		out[len(out)-1] = append(out[len(out)-1], s)
	}
	if sorted {
		for _, b := range out {
			sort.Strings(b)
		}
	}
	return out
}

func distinct(seq []string) []string {
	seen := map[string]bool{}
	out := []string{}
	for _, s := range seq {
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}

func fmtPred(w *dnssim.Walk) string {
	s := fmt.Sprintf("%s %s [", w.Status, w.Error)
	for i, q := range w.Queries {
		if i > 0 {
			s += ", "
		}
		s += q.Name + " " + q.Type + "=" + string(q.Rcode)
	}
	return s + "]"
}

func fmtLog(l []LoggedQuery) string {
	var parts []string
	for _, q := range l {
		if q.Malformed {
			parts = append(parts, "MALFORMED("+q.Name+")@"+q.Server)
		} else {
			parts = append(parts, q.Name+" "+q.Type+"@"+q.Server)
		}
	}
	return "[" + strings.Join(parts, ", ") + "]"
}
