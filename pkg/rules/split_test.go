package rules

import (
	"reflect"
	"strings"
	"testing"
)

// The splitting rules are iptables-restore's (add_param_to_argv in
// iptables/xshared.c); the quoted cases are what xtables_save_string prints
// for comments with spaces, quotes, backslashes and apostrophes, as a real
// iptables-nft-save printed them for
//
//	--comment "weird \"quoted\" comment with \\ and 'x'".
func TestSplitArgs(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want []string
		err  splitErr
	}{
		{"plain", "-A KUBE-SERVICES -d 10.96.0.1/32 -j KUBE-SVC-X", []string{"-A", "KUBE-SERVICES", "-d", "10.96.0.1/32", "-j", "KUBE-SVC-X"}, splitOK},
		{"runs of blanks and tabs", "-A  X\t-j \t ACCEPT  ", []string{"-A", "X", "-j", "ACCEPT"}, splitOK},
		{"quoted comment", `-m comment --comment "ns1/svc1:p80 cluster IP" -j X`, []string{"-m", "comment", "--comment", "ns1/svc1:p80 cluster IP", "-j", "X"}, splitOK},
		{"escapes inside quotes", `--comment "weird \"quoted\" comment with \\ and \'x\'" -j ACCEPT`,
			[]string{"--comment", `weird "quoted" comment with \ and 'x'`, "-j", "ACCEPT"}, splitOK},
		{"backslash outside quotes is literal", `--comment a\b`, []string{"--comment", `a\b`}, splitOK},
		{"empty quoted word", `--comment "" -j X`, []string{"--comment", "", "-j", "X"}, splitOK},
		{"quote in the middle joins", `ab"c d"e`, []string{"abc d", "e"}, splitOK},
		{"closing quote ends the word", `"ab"cd`, []string{"ab", "cd"}, splitOK},
		{"double space before a quoted value (nfacct)", `-m nfacct --nfacct-name  ct_state_invalid_dropped_pkts -j DROP`,
			[]string{"-m", "nfacct", "--nfacct-name", "ct_state_invalid_dropped_pkts", "-j", "DROP"}, splitOK},
		{"unterminated quote", `-m comment --comment "cut off here`, []string{"-m", "comment", "--comment", "cut off here"}, splitUnterminated},
		{"empty", "", nil, splitOK},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := splitArgs(tc.in, nil)
			if !reflect.DeepEqual(got, tc.want) || err != tc.err {
				t.Errorf("splitArgs(%q) = %q, %v; want %q, %v", tc.in, got, err, tc.want, tc.err)
			}
			got2, ends, err2 := splitEnds(tc.in, nil, nil)
			if !reflect.DeepEqual(got2, got) || err2 != err || len(ends) != len(got) {
				t.Fatalf("splitEnds disagrees: %q %v %v", got2, ends, err2)
			}
			for i, e := range ends {
				// Every word ends at or before its recorded offset, and
				// unquoted words are exactly the text before it.
				if int(e) > len(tc.in) {
					t.Errorf("end %d of %q past the line", e, got[i])
				}
				if !strings.ContainsAny(tc.in, `"`) && tc.in[int(e)-len(got[i]):e] != got[i] {
					t.Errorf("end %d does not follow word %q", e, got[i])
				}
			}
		})
	}
}

// saveString is libxtables' xtables_save_string: the quoting iptables-save
// applies to comments. Splitting what it prints must give the value back.
func saveString(v string) string {
	const noQuote = "_-0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
	n := 0
	for n < len(v) && strings.IndexByte(noQuote, v[n]) >= 0 {
		n++
	}
	if n > 0 && n == len(v) {
		return v
	}
	var b strings.Builder
	b.WriteByte('"')
	for i := 0; i < len(v); i++ {
		if v[i] == '"' || v[i] == '\\' || v[i] == '\'' {
			b.WriteByte('\\')
		}
		b.WriteByte(v[i])
	}
	b.WriteByte('"')
	return b.String()
}

func TestSplitRoundTripsSaveString(t *testing.T) {
	for _, v := range []string{"plain", "ns1/svc1:p80", "with space", `q"uote`, `back\slash`, "it's", "", `"\'`, "tab\there"} {
		line := "-A X -m comment --comment " + saveString(v) + " -j ACCEPT"
		got, err := splitArgs(line, nil)
		if err != splitOK || len(got) != 8 || got[5] != v {
			t.Errorf("value %q printed as %s split into %q (%v)", v, saveString(v), got, err)
		}
	}
}
