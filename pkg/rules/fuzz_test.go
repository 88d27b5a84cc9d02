package rules

import (
	"encoding/json"
	"errors"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// fuzzSeeds are the real dumps under testdata (what nodes print, see
// hack/record-rules.sh), a generated kube-proxy dump, and cut-off and
// damaged versions of them.
func fuzzSeeds(f *testing.F) []string {
	var seeds []string
	files, _ := filepath.Glob("testdata/kube-proxy/*")
	for _, p := range files {
		if strings.HasSuffix(p, ".json") {
			continue
		}
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		seeds = append(seeds, string(b))
	}
	gen, _ := genDump(genOpts{services: 3, endpoints: 3, nodePortEvery: 2, affinityEvery: 3})
	seeds = append(seeds, gen, nftSave)
	n := len(seeds)
	for _, s := range seeds[:n] {
		// cut mid-rule, mid-quote, and with the line structure damaged
		if i := strings.Index(s, "--comment \""); i > 0 {
			seeds = append(seeds, s[:i+14])
		}
		seeds = append(seeds, s[:len(s)/2], strings.ReplaceAll(s, "\n", "\r\n"), strings.ReplaceAll(s, "COMMIT", ""))
	}
	return seeds
}

// FuzzParse: the parser never panics, always returns a result or
// ErrNoRules, and every problem it reports names a line that exists; the
// rules it keeps can be compiled and a packet evaluated through them.
func FuzzParse(f *testing.F) {
	for _, s := range fuzzSeeds(f) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data string) {
		rs, err := ParseString(data, ParseOptions{Source: "fuzz"})
		if err != nil && !errors.Is(err, ErrNoRules) {
			t.Fatalf("unexpected error: %v", err)
		}
		if rs == nil {
			t.Fatal("nil ruleset")
		}
		lines := strings.Count(data, "\n") + 1
		check := func(w Warning) {
			if w.Line < 1 || w.Line > lines || w.Source != "fuzz" || w.Message == "" {
				t.Fatalf("warning without a valid line: %+v (input has %d lines)", w, lines)
			}
		}
		for _, w := range rs.Warnings {
			check(w)
		}
		for _, w := range rs.Check() {
			check(w)
		}
		for _, tb := range rs.Tables {
			for _, c := range tb.Chains {
				if tb.Chain(c.Name) == nil {
					t.Fatalf("chain %q not found by name", c.Name)
				}
				for i := range c.Rules() {
					r := &c.Rules()[i]
					if r.Num() != i+1 || r.Line() < 1 || r.Line() > lines || r.Raw() == "" {
						t.Fatalf("rule %d of %s: num %d line %d raw %q", i, c.Name, r.Num(), r.Line(), r.Raw())
					}
					_ = r.Target()
					_ = r.TargetArgs()
				}
			}
		}
		if err != nil {
			return
		}
		for _, hook := range []Hook{HookPrerouting, HookOutput} {
			for _, dst := range []string{"10.96.0.1", "10.250.0.10", "fd00::1"} {
				d := netip.MustParseAddr(dst)
				src := netip.MustParseAddr("10.244.0.5")
				if d.Is6() {
					src = netip.MustParseAddr("fd00::5")
				}
				res, err := Evaluate(EvalInput{Rulesets: []*Ruleset{rs}, NodeIPs: []netip.Addr{netip.MustParseAddr("10.250.0.10")},
					Hook: hook, MaxBranches: 64, Packet: Packet{Src: src, Dst: d, DstPort: 443, Proto: "tcp"}})
				if err != nil {
					continue // e.g. a ruleset of the other family
				}
				if res.Verdict == "" || res.Path == nil || len(res.Branches) == 0 {
					t.Fatalf("incomplete result %+v", res)
				}
			}
		}
	})
}

// addParamToArgv is a direct transcription of iptables' add_param_to_argv
// (iptables/xshared.c), character by character with a buffer, as the
// reference the fast splitter must agree with.
func addParamToArgv(line string) (args []string, unterminated bool) {
	var param []byte
	quoteOpen, escaped, have := false, false, false
	for i := 0; i < len(line); i++ {
		c := line[i]
		if quoteOpen {
			if escaped {
				param = append(param, c)
				escaped = false
				continue
			} else if c == '\\' {
				escaped = true
				continue
			} else if c == '"' {
				quoteOpen = false
			} else {
				param = append(param, c)
				continue
			}
		} else if c == '"' {
			quoteOpen = true
			have = true
			continue
		}
		switch c {
		case '"':
			args = append(args, string(param))
			param, have = param[:0], false
			continue
		case ' ', '\t', '\n':
			if !have && len(param) == 0 {
				continue
			}
			args = append(args, string(param))
			param, have = param[:0], false
			continue
		}
		param = append(param, c)
		have = true
	}
	if have || len(param) > 0 {
		args = append(args, string(param))
	}
	return args, quoteOpen
}

// FuzzSplit: the allocation-free splitter gives exactly what
// iptables-restore's own algorithm gives, with word end offsets in range.
func FuzzSplit(f *testing.F) {
	for _, s := range []string{
		`-A X -m comment --comment "weird \"quoted\" comment with \\ and \'x\'" -j ACCEPT`,
		`--comment ""`, `ab"c d"e`, `"ab"cd`, "a\tb  c", `"unterminated`, `x\"y`, `"\`, `""""`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, line string) {
		want, unterminated := addParamToArgv(line)
		got, err := splitArgs(line, nil)
		if len(got) != len(want) || (err == splitUnterminated) != unterminated {
			t.Fatalf("split(%q) = %q (%v), want %q (unterminated %v)", line, got, err, want, unterminated)
		}
		for i := range got {
			if got[i] != want[i] {
				t.Fatalf("split(%q)[%d] = %q, want %q", line, i, got[i], want[i])
			}
		}
		got2, ends, _ := splitEnds(line, nil, nil)
		if len(got2) != len(got) || len(ends) != len(got) {
			t.Fatalf("splitEnds: %q %v", got2, ends)
		}
		for _, e := range ends {
			if e < 0 || int(e) > len(line) {
				t.Fatalf("end %d out of range", e)
			}
		}
	})
}

// FuzzPrefilter: for any rule line, a rule the evaluator's prefilter skips
// is one the compiled rule definitely does not match (see
// checkPrefilterChain). Seeded with the edge lines and every distinct rule
// shape of the real dumps.
func FuzzPrefilter(f *testing.F) {
	for _, l := range prefilterEdgeLines {
		f.Add(l)
	}
	seen := map[string]bool{}
	for _, text := range prefilterCorpus(f) {
		for _, l := range strings.Split(text, "\n") {
			if !strings.HasPrefix(l, "-A ") && !strings.HasPrefix(l, "[") {
				continue
			}
			// one seed per (chain, first option) shape
			w := strings.Fields(l)
			key := strings.Join(w[:min(4, len(w))], " ")
			if len(w) > 2 {
				key = w[1] + " " + strings.Join(w[2:min(3, len(w))], " ")
			}
			if !seen[key] {
				seen[key] = true
				f.Add(l)
			}
		}
	}
	f.Fuzz(func(t *testing.T, line string) {
		if strings.ContainsAny(line, "\n\r") {
			return
		}
		rs, err := ParseString("*nat\n:C - [0:0]\n"+line+"\nCOMMIT\n", ParseOptions{Source: "fuzz"})
		if err != nil {
			return
		}
		for _, ch := range rs.Table(TableNAT).Chains {
			if ch.n > 0 {
				checkPrefilterChain(t, rs, ch)
			}
		}
	})
}

// dumpSeeds reads the recorded dumps matching the globs, and adds cut-off
// and damaged versions of each.
func dumpSeeds(f *testing.F, globs ...string) []string {
	var seeds []string
	for _, g := range globs {
		files, _ := filepath.Glob(g)
		for i, p := range files {
			if i > 12 {
				break // enough of each kind
			}
			b, err := os.ReadFile(p)
			if err != nil {
				f.Fatal(err)
			}
			seeds = append(seeds, string(b))
		}
	}
	n := len(seeds)
	for _, s := range seeds[:n] {
		seeds = append(seeds, s[:len(s)/2], s[:len(s)/3], strings.ReplaceAll(s, "\n", "\r\n"), strings.ReplaceAll(s, "}", ""))
	}
	return seeds
}

// fuzzEvaluate sends a few packets through rs; nothing may panic and every
// result must be complete.
func fuzzEvaluate(t *testing.T, rss ...*Ruleset) {
	for _, hook := range []Hook{HookPrerouting, HookOutput} {
		for _, dst := range []string{"172.30.0.41", "10.96.0.10", "192.168.0.2", "fd00:10:96::1"} {
			d := netip.MustParseAddr(dst)
			src := netip.MustParseAddr("10.0.0.2")
			if d.Is6() {
				src = netip.MustParseAddr("fd00::2")
			}
			for _, port := range []uint16{80, 53, 3001} {
				res, err := Evaluate(EvalInput{Rulesets: rss, NodeIPs: []netip.Addr{netip.MustParseAddr("192.168.0.2")},
					Hook: hook, MaxBranches: 64, Packet: Packet{Src: src, Dst: d, DstPort: port, Proto: "tcp"}})
				if err != nil {
					continue
				}
				if res.Verdict == "" || res.Path == nil || len(res.Branches) == 0 {
					t.Fatalf("incomplete result %+v", res)
				}
			}
		}
	}
}

// FuzzNFT: nft text, nft -f transactions and nft JSON never make the
// parser panic or loop; warnings name a real line of text input; what was
// read can be evaluated.
func FuzzNFT(f *testing.F) {
	for _, s := range dumpSeeds(f, "testdata/upstream-nft/*.nft", "testdata/upstream-nft/*.nft.json", "testdata/kube-proxy-nft/*.nft*") {
		f.Add(s)
	}
	txs, _ := filepath.Glob("testdata/upstream-nft/*-L*.json")
	for _, p := range txs {
		if strings.HasSuffix(p, ".nft.json") {
			continue
		}
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		var rec upstreamNFTRecord
		if err := json.Unmarshal(b, &rec); err != nil {
			f.Fatal(err)
		}
		f.Add(rec.Transaction) // kube-proxy's nft -f input
		f.Add(rec.Transaction[:len(rec.Transaction)/2])
	}
	f.Fuzz(func(t *testing.T, data string) {
		rs, err := ParseNFTString(data, ParseOptions{Source: "fuzz"})
		if rs == nil {
			t.Fatal("nil ruleset")
		}
		if err != nil {
			return
		}
		lines := strings.Count(data, "\n") + 1
		for _, w := range rs.Warnings {
			if w.Source != "fuzz" || w.Message == "" || w.Line < 0 || w.Line > lines {
				t.Fatalf("bad warning %+v (input has %d lines)", w, lines)
			}
		}
		for _, tb := range rs.NFT.Tables {
			for _, c := range tb.Chains {
				if tb.Chain(c.Name) != c {
					t.Fatalf("chain %q not found by name", c.Name)
				}
				for i, r := range c.Rules {
					if r.Num != i+1 || r.chain != c {
						t.Fatalf("rule %d of %s numbered %d", i, c.Name, r.Num)
					}
				}
			}
		}
		fuzzEvaluate(t, rs)
	})
}

// FuzzIPVS: ipvsadm output in any form never makes the parser panic; what
// was read can be evaluated.
func FuzzIPVS(f *testing.F) {
	for _, s := range dumpSeeds(f, "testdata/upstream-ipvs/*-001.ipvsadm-*") {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data string) {
		rs, err := ParseIPVSString(data, ParseOptions{Source: "fuzz"})
		if rs == nil {
			t.Fatal("nil ruleset")
		}
		lines := strings.Count(data, "\n") + 1
		for _, w := range rs.Warnings {
			if w.Source != "fuzz" || w.Line < 1 || w.Line > lines {
				t.Fatalf("bad warning %+v", w)
			}
		}
		if err == nil {
			fuzzEvaluate(t, rs)
		}
	})
}

// FuzzIPSet: ipset save/list output never makes the parser panic, and a
// set match on what was read never panics either.
func FuzzIPSet(f *testing.F) {
	for _, s := range dumpSeeds(f, "testdata/upstream-ipvs/*-001.ipset-*") {
		f.Add(s)
	}
	ipt, _ := os.ReadFile("testdata/upstream-ipvs/TestSvctraceSeedShape-001.iptables-save")
	rules, err := ParseString(string(ipt), ParseOptions{Source: "rules"})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, data string) {
		rs, err := ParseIPSetString(data, ParseOptions{Source: "fuzz"})
		if rs == nil {
			t.Fatal("nil ruleset")
		}
		lines := strings.Count(data, "\n") + 1
		for _, w := range rs.Warnings {
			if w.Source != "fuzz" || w.Line < 1 || w.Line > lines {
				t.Fatalf("bad warning %+v", w)
			}
		}
		if err == nil {
			fuzzEvaluate(t, rules, rs)
		}
	})
}

// jnorm turns jsonDecode's objects into maps, as encoding/json gives them.
func jnorm(v any) any {
	switch x := v.(type) {
	case jobj:
		m := map[string]any{}
		for _, kv := range x {
			m[kv.k] = jnorm(kv.v)
		}
		return m
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = jnorm(e)
		}
		return out
	}
	return v
}

// FuzzJSONDecode: the nft JSON decoder gives what encoding/json gives
// (numbers as json.Number), and fails where it fails.
func FuzzJSONDecode(f *testing.F) {
	for _, s := range dumpSeeds(f, "testdata/upstream-nft/*-L1*.nft.json", "testdata/kube-proxy-nft/node.nft.json") {
		f.Add(s)
	}
	for _, s := range []string{`"a\u00e9\ud83d\ude00\ud800x\\\/"`, `[1, -0.5e+3, true, null, {"a": {"a": 1, "a": 2}}]`, "\"\xff\xfe\"", `{"a":`, `01`, `-`, `1.`, `"\u12"`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data string) {
		got, err := jsonDecode(data)
		dec := json.NewDecoder(strings.NewReader(data))
		dec.UseNumber()
		var want any
		werr := dec.Decode(&want)
		if (err == nil) != (werr == nil) {
			t.Fatalf("%q: jsonDecode err %v, encoding/json err %v", data, err, werr)
		}
		if err == nil && !reflect.DeepEqual(jnorm(got), want) {
			t.Fatalf("%q: jsonDecode %#v, encoding/json %#v", data, jnorm(got), want)
		}
	})
}
