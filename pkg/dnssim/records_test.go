package dnssim

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestParseRecordsErrors(t *testing.T) {
	cases := []struct{ name, in, want string }{
		{"empty", "  \n", "empty records file"},
		{"unknown key", "record: {}\n", `unknown field "record"`},
		{"bad A", "records:\n  a.example.: {A: [fd00::1]}\n", `records["a.example."].A[0]: "fd00::1" is not an IPv4 address`},
		{"bad AAAA", "records:\n  a.example.: {AAAA: [1.2.3.4]}\n", `records["a.example."].AAAA[0]: "1.2.3.4" is not an IPv6 address`},
		{"two CNAMEs", "records:\n  a.example.: {CNAME: [b., c.]}\n", "at most one CNAME"},
		{"CNAME and A", "records:\n  a.example.: {CNAME: [b.], A: [1.2.3.4]}\n", "cannot coexist"},
		{"listed twice", "records:\n  a.example.: {}\nservfail: [A.example]\n", `servfail[0]: "A.example" is already listed in records["a.example."]`},
		{"bad default", "default: NOTIMP\n", `default: "NOTIMP": want NXDOMAIN, NODATA, SERVFAIL, REFUSED or TIMEOUT`},
		{"empty label", "timeout: [a..b.]\n", `timeout[0]: "a..b.": empty label`},
		{"yaml syntax", "records: [\n", "records.yaml: "},
		{"long label", "refused: [" + strings.Repeat("x", 64) + ".example]\n", "longer than 63"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := ParseRecords("records.yaml", []byte(c.in))
			if err == nil || !strings.Contains(err.Error(), c.want) || !strings.HasPrefix(err.Error(), "records.yaml: ") {
				t.Fatalf("error %v, want %q", err, c.want)
			}
		})
	}
}

// TestRecordsDefaultFailure: "default: SERVFAIL" is what the harness's
// CoreDNS gives for every upstream name (its forward plugin has no reachable
// upstream); a CNAME into an unlisted name then fails the same way.
func TestRecordsDefaultFailure(t *testing.T) {
	r, err := ParseRecords("r", []byte("default: SERVFAIL\nrecords:\n  d.example.: {CNAME: [gone.example.]}\n"))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ name, want string }{{"x.example.", "SERVFAIL"}, {"d.example.", "SERVFAIL"}} {
		got := Layered{Records: r}.Answer(Question{Name: c.name, Type: "A"})
		if string(got.Rcode) != c.want {
			t.Errorf("%s: %s, want %s", c.name, got.Rcode, c.want)
		}
	}
	if _, err := ParseRecords("r", []byte("default: timeout\n")); err != nil {
		t.Errorf("default: timeout: %v", err)
	}
}

func TestRecordsAnswers(t *testing.T) {
	r, err := ParseRecords("r.json", []byte(`{"records": {"a.example.": {"A": ["192.0.2.1"], "AAAA": ["2001:db8::1"]},
		"alias.example": {"CNAME": ["a.example."]}, "dangling.example.": {"CNAME": ["nowhere.example."]},
		"only-txt.example.": {"TXT": ["hi"]}}, "servfail": ["sf.example."], "timeout": ["to.example."], "refused": ["rf.example."], "default": "NODATA"}`))
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct{ name, qtype, want string }{
		{"a.example.", "A", "192.0.2.1"},
		{"A.EXAMPLE", "AAAA", "2001:db8::1"},
		{"alias.example.", "A", "CNAME a.example., 192.0.2.1"},
		{"dangling.example.", "A", "CNAME nowhere.example."},
		{"only-txt.example.", "A", "NODATA"},
		{"sf.example.", "A", "SERVFAIL"},
		{"to.example.", "AAAA", "TIMEOUT"},
		{"rf.example.", "A", "REFUSED"},
		{"unlisted.example.", "A", "NODATA"},
	}
	for _, c := range cases {
		got := Layered{Records: r}.Answer(Question{Name: c.name, Type: c.qtype})
		if got.Label() != c.want {
			t.Errorf("%s %s: %s, want %s", c.qtype, c.name, got.Label(), c.want)
		}
	}
	nx, err := ParseRecords("r", []byte("default: NXDOMAIN\nrecords:\n  d.example.: {CNAME: [gone.example.]}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if got := (Layered{Records: nx}).Answer(Question{Name: "d.example.", Type: "A"}); got.Rcode != NXDOMAIN || len(got.Answers) != 1 {
		t.Errorf("CNAME to an NXDOMAIN target should be NXDOMAIN with the CNAME (RFC 6604): %+v", got)
	}
}

// FuzzParseRecords: no input panics the parser, and whatever parses answers
// every question without panicking.
func FuzzParseRecords(f *testing.F) {
	files, _ := filepath.Glob("testdata/records/*")
	for _, p := range files {
		if b, err := os.ReadFile(p); err == nil {
			f.Add(b)
		}
	}
	f.Add([]byte(`{"records":{"a.":{"A":["1.2.3.4"]}},"default":"NXDOMAIN"}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := ParseRecords("fuzz", data)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "fuzz: ") {
				t.Fatalf("error does not name the file: %v", err)
			}
			return
		}
		for _, q := range []string{"a.", "www.example.com.", "x.cluster.local."} {
			for _, typ := range []string{"A", "AAAA", "CNAME", "SRV", "PTR", "TXT"} {
				_ = Layered{Records: r}.Answer(Question{Name: q, Type: typ})
			}
		}
	})
}
