package dnssim

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestParseResolvConfErrors(t *testing.T) {
	cases := []struct {
		name, in, want string
	}{
		{"nameserver without address", "search a\nnameserver\n", "resolv.conf:2: nameserver line without an address"},
		{"NUL byte", "nameserver 1.1.1.1\nsearch a\x00b\n", "resolv.conf:2: NUL byte"},
		{"invalid UTF-8", "search \xff\xfe\n", "resolv.conf:1: invalid UTF-8"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := ParseResolvConf("resolv.conf", []byte(c.in))
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %v, want %q", err, c.want)
			}
		})
	}
	big := make([]byte, MaxResolvConfBytes+1)
	if _, err := ParseResolvConf("big", big); err == nil || !strings.Contains(err.Error(), "kubelet's limit") {
		t.Errorf("oversized file: %v", err)
	}
}

func TestParseResolvConfWarnings(t *testing.T) {
	rc := mustRC(t, "nameserver not-an-ip\nbogus line\noptions ndots:x\n")
	want := []string{
		`resolv.conf:1: nameserver "not-an-ip" is not an IP address`,
		`resolv.conf:2: unknown keyword "bogus"`,
		`resolv.conf:3: option "ndots:x": value is not a number`,
	}
	if len(rc.Warnings) != len(want) {
		t.Fatalf("warnings %q", rc.Warnings)
	}
	for i, w := range want {
		if !strings.HasPrefix(rc.Warnings[i], w) {
			t.Errorf("warning %d = %q, want prefix %q", i, rc.Warnings[i], w)
		}
	}
}

// TestResolverReadings shows one file read four ways: each case pins a
// quirk of one reader, cited in the implementation.
func TestResolverReadings(t *testing.T) {
	cases := []struct {
		name  string
		in    string
		check func(t *testing.T, rc *ResolvConf)
	}{
		{"last search or domain wins (glibc, musl, Go); kubelet reads only search", "search a.example b.example\ndomain c.example\n", func(t *testing.T, rc *ResolvConf) {
			for _, r := range AllResolvers() {
				if got := rc.Config(r).Search; !reflect.DeepEqual(got, []string{"c.example"}) {
					t.Errorf("%s: search %q", r, got)
				}
			}
			if got := rc.Kubelet().Searches; !reflect.DeepEqual(got, []string{"a.example", "b.example"}) {
				t.Errorf("kubelet: %q", got)
			}
		}},
		{"semicolon comments: glibc and Go skip, kubelet does not treat as comment", "; search x.example\n# search y.example\nsearch z.example\n", func(t *testing.T, rc *ResolvConf) {
			if got := rc.Config(Glibc).Search; !reflect.DeepEqual(got, []string{"z.example"}) {
				t.Errorf("glibc %q", got)
			}
			if got := rc.Config(Go).Search; !reflect.DeepEqual(got, []string{"z.example"}) {
				t.Errorf("go %q", got)
			}
		}},
		{"caps: ndots 15 everywhere, attempts 5 glibc / 10 musl, timeout 30 glibc / 60 musl", "options ndots:20 attempts:20 timeout:99\n", func(t *testing.T, rc *ResolvConf) {
			g, m, gg := rc.Config(Glibc), rc.Config(Musl), rc.Config(Go)
			if g.Ndots != 15 || g.Attempts != 5 || g.TimeoutSeconds != 30 {
				t.Errorf("glibc %+v", g)
			}
			if m.Ndots != 15 || m.Attempts != 10 || m.TimeoutSeconds != 60 {
				t.Errorf("musl %+v", m)
			}
			if gg.Ndots != 15 || gg.Attempts != 20 || gg.TimeoutSeconds != 99 {
				t.Errorf("go %+v", gg)
			}
		}},
		{"at most three nameservers, invalid ones skipped", "nameserver 1.1.1.1\nnameserver bad\nnameserver 2.2.2.2\nnameserver fd00::1\nnameserver 4.4.4.4\n", func(t *testing.T, rc *ResolvConf) {
			for _, r := range AllResolvers() {
				if got := rc.Config(r).Nameservers; !reflect.DeepEqual(got, []string{"1.1.1.1", "2.2.2.2", "fd00::1"}) {
					t.Errorf("%s: %q", r, got)
				}
			}
			if got := rc.Kubelet().Nameservers; len(got) != 5 {
				t.Errorf("kubelet keeps every nameserver line for its own limit: %q", got)
			}
		}},
		{"go: search dot skipped, unknown options noted", "search . a.example\noptions no-tld-query ndots:2\n", func(t *testing.T, rc *ResolvConf) {
			g := rc.Config(Go)
			if !reflect.DeepEqual(g.Search, []string{"a.example"}) || !reflect.DeepEqual(g.UnknownOptions, []string{"no-tld-query"}) || g.Ndots != 2 {
				t.Errorf("go %+v", g)
			}
			gl := rc.Config(Glibc)
			if !reflect.DeepEqual(gl.Search, []string{".", "a.example"}) || !gl.NoTLDQuery {
				t.Errorf("glibc %+v", gl)
			}
		}},
		{"glibc keywords need a blank after them and must start the line", " search x.example\nsearch\tt.example\n", func(t *testing.T, rc *ResolvConf) {
			if got := rc.Config(Glibc).Search; !reflect.DeepEqual(got, []string{"t.example"}) {
				t.Errorf("glibc %q", got)
			}
		}},
		{"glibc empty search line is ignored, Go's clears the list", "search a.example\nsearch \n", func(t *testing.T, rc *ResolvConf) {
			if got := rc.Config(Glibc).Search; !reflect.DeepEqual(got, []string{"a.example"}) {
				t.Errorf("glibc %q", got)
			}
			if got := rc.Config(Go).Search; len(got) != 0 {
				t.Errorf("go %q", got)
			}
		}},
		{"no reader honours a '#' after an option", "options rotate # ndots:3\n", func(t *testing.T, rc *ResolvConf) {
			for _, r := range AllResolvers() {
				if got := rc.Config(r).Ndots; got != 3 {
					t.Errorf("%s ndots %d", r, got)
				}
			}
			if got := rc.Config(Go).UnknownOptions; !reflect.DeepEqual(got, []string{"#"}) {
				t.Errorf("go unknown options %q", got)
			}
		}},
		{"glibc option prefixes and flags", "options single-request-reopen edns0 trust-ad no-aaaa use-vc rotate\n", func(t *testing.T, rc *ResolvConf) {
			g := rc.Config(Glibc)
			if !g.SingleRequestReopen || g.SingleRequest || !g.EDNS0 || !g.TrustAD || !g.NoAAAA || !g.UseTCP || !g.Rotate {
				t.Errorf("glibc %+v", g)
			}
			if gg := rc.Config(Go); !gg.SingleRequest || !reflect.DeepEqual(gg.UnknownOptions, []string{"no-aaaa"}) {
				t.Errorf("go %+v", gg)
			}
		}},
		{"kubelet merges options lines by name", "options ndots:2 timeout:1\noptions ndots:3 rotate\n", func(t *testing.T, rc *ResolvConf) {
			if got := rc.Kubelet().Options; !reflect.DeepEqual(got, []string{"ndots:3", "timeout:1", "rotate"}) {
				t.Errorf("kubelet %q", got)
			}
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) { c.check(t, mustRC(t, c.in)) })
	}
}

func TestMuslLineLength(t *testing.T) {
	line := "search " + strings.Repeat("a", 247) // 254 characters: fits
	if got := mustRC(t, line+"\n").Config(Musl).Search; len(got) != 1 {
		t.Errorf("254-character line should be read: %q", got)
	}
	line += "b" // 255 characters: fgets fills the buffer without the newline
	c := mustRC(t, line+"\n").Config(Musl)
	if len(c.Search) != 0 || len(c.Notes) != 1 {
		t.Errorf("255-character line should be ignored: %+v", c)
	}
}

func TestFormatRoundTrip(t *testing.T) {
	text := Format([]string{"10.96.0.10"}, []string{"default.svc.cluster.local", "svc.cluster.local"}, []string{"ndots:5"})
	want := "search default.svc.cluster.local svc.cluster.local\nnameserver 10.96.0.10\noptions ndots:5\n"
	if text != want {
		t.Fatalf("got %q", text)
	}
	c := mustRC(t, text).Config(Glibc)
	if c.Ndots != 5 || len(c.Search) != 2 || c.Nameservers[0] != "10.96.0.10" {
		t.Errorf("%+v", c)
	}
}

// FuzzParseResolvConf checks that no input panics any reader and that the
// readers agree on basic invariants.
func FuzzParseResolvConf(f *testing.F) {
	seeds, _ := filepath.Glob("testdata/resolvconf/*")
	for _, s := range seeds {
		if b, err := os.ReadFile(s); err == nil {
			f.Add(b)
		}
	}
	// Pod files as kubelet really generated them (testdata/kubelet/recorded.json).
	if b, err := os.ReadFile("testdata/kubelet/recorded.json"); err == nil {
		var rec []kubeletRecorded
		if json.Unmarshal(b, &rec) == nil {
			for _, r := range rec {
				f.Add([]byte(Format(r.Servers, r.Searches, r.Options)))
			}
		}
	}
	f.Add([]byte(podResolvConf))
	f.Add([]byte("nameserver 1.1.1.1\nsearch . x.\noptions ndots:99 attempts:-1 timeout:\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		rc, err := ParseResolvConf("fuzz", data)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "fuzz") {
				t.Fatalf("error does not name the file: %v", err)
			}
			return
		}
		_ = rc.Kubelet()
		for _, r := range AllResolvers() {
			c := rc.Config(r)
			if len(c.Nameservers) > 3 {
				t.Fatalf("%s: %d nameservers", r, len(c.Nameservers))
			}
			if c.Ndots < 0 || c.Ndots > 15 {
				t.Fatalf("%s: ndots %d", r, c.Ndots)
			}
			_ = Candidates(r, c, "name.example")
		}
	})
}
