package rules

import (
	"go/ast"
	goparser "go/parser"
	"go/token"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestUpstreamPacketFlows runs kube-proxy's own packet-flow expectations
// through the evaluator. kube-proxy's tests (pkg/proxy/iptables/proxier_test.go
// in k8s.io/kubernetes v1.36.3) pair rule dumps with runPacketFlowTests
// tables: source, destination, port, the expected DNAT endpoints or
// ACCEPT/DROP/REJECT, and whether the packet is masqueraded. Wherever a test
// function holds its dump as a literal, the cases are read straight from
// the upstream file with go/parser (nothing is copied into this
// repository) and must give the same answer here.
//
// The file comes from the Go module cache (the same module the shared
// semantics doc cites); when it is not there the test skips, saying so.
func TestUpstreamPacketFlows(t *testing.T) {
	path := upstreamFile(t, "pkg/proxy/iptables/proxier_test.go")
	fset := token.NewFileSet()
	f, err := goparser.ParseFile(fset, path, nil, 0)
	if err != nil {
		t.Fatalf("parsing %s: %v", path, err)
	}
	consts := map[string]string{}
	var nodeIPs []string
	for _, d := range f.Decls {
		gd, ok := d.(*ast.GenDecl)
		if !ok {
			continue
		}
		for _, s := range gd.Specs {
			vs, ok := s.(*ast.ValueSpec)
			if !ok {
				continue
			}
			for i, n := range vs.Names {
				if i >= len(vs.Values) {
					continue
				}
				if v, ok := stringLit(vs.Values[i], consts); ok {
					consts[n.Name] = v
				}
				if n.Name == "testNodeIPs" {
					if cl, ok := vs.Values[i].(*ast.CompositeLit); ok {
						for _, e := range cl.Elts {
							if v, ok := stringLit(e, consts); ok {
								nodeIPs = append(nodeIPs, v)
							}
						}
					}
				}
			}
		}
	}
	if len(nodeIPs) == 0 {
		t.Fatalf("testNodeIPs not found in %s", path)
	}
	var nodes []netip.Addr
	for _, s := range nodeIPs {
		nodes = append(nodes, netip.MustParseAddr(s))
	}
	total := 0
	for _, d := range f.Decls {
		fd, ok := d.(*ast.FuncDecl)
		if !ok || !strings.HasPrefix(fd.Name.Name, "Test") || fd.Body == nil {
			continue
		}
		for _, fl := range upstreamFlows(fd, consts) {
			fl := fl
			total++
			t.Run(fd.Name.Name+"/"+fl.name, func(t *testing.T) {
				rs, err := ParseString(fl.dump, ParseOptions{Source: fd.Name.Name})
				if err != nil {
					t.Fatal(err)
				}
				if len(rs.Warnings) > 0 {
					t.Fatalf("parse warnings:\n%s", warningsText(rs.Warnings))
				}
				res, err := Evaluate(EvalInput{Rulesets: []*Ruleset{rs}, NodeIPs: nodes, Hook: HookPrerouting,
					Packet: Packet{Src: netip.MustParseAddr(fl.src), Dst: netip.MustParseAddr(fl.dst), DstPort: uint16(fl.port), Proto: fl.proto}})
				if err != nil {
					t.Fatal(err)
				}
				got := upstreamOutput(res)
				if got != fl.output || res.Masquerade != fl.masq || res.Uncertain {
					t.Errorf("%s -> %s:%d %s: got %q masq=%v uncertain=%v, upstream expects %q masq=%v\n%s",
						fl.src, fl.dst, fl.port, fl.proto, got, res.Masquerade, res.Uncertain, fl.output, fl.masq, warningsText(res.Warnings))
				}
			})
		}
	}
	if total < 5 {
		t.Fatalf("only %d upstream packet-flow cases found: the extraction no longer matches the upstream file", total)
	}
	t.Logf("%d upstream packet-flow cases from %s", total, path)
}

// upstreamOutput renders a result the way kube-proxy's tracePacket does:
// the DNAT destinations joined by ", ", or the terminal target.
func upstreamOutput(res *Result) string {
	switch res.Verdict {
	case VerdictDNAT:
		var eps []string
		for _, e := range res.Endpoints {
			eps = append(eps, netip.AddrPortFrom(netip.MustParseAddr(e.IP), uint16(e.Port)).String())
		}
		return strings.Join(eps, ", ")
	case VerdictNone:
		return ""
	}
	return string(res.Verdict)
}

type upstreamFlow struct {
	name, dump, src, dst, proto, output string
	port                                int
	masq                                bool
}

// upstreamFlows finds runPacketFlowTests calls in a test function that are
// not inside a loop, pairs each with the last rule dump literal
// (dedent.Dedent of a "*filter"/"*nat" raw string) before it, and reads
// its cases.
func upstreamFlows(fd *ast.FuncDecl, consts map[string]string) []upstreamFlow {
	var out []upstreamFlow
	dump := ""
	var visit func(stmts []ast.Stmt)
	visit = func(stmts []ast.Stmt) {
		for _, st := range stmts {
			ast.Inspect(st, func(n ast.Node) bool {
				switch x := n.(type) {
				case *ast.ForStmt, *ast.RangeStmt, *ast.FuncLit:
					return false // per-case dumps: not a single literal
				case *ast.CallExpr:
					if sel, ok := x.Fun.(*ast.SelectorExpr); ok && sel.Sel.Name == "Dedent" && len(x.Args) == 1 {
						if lit, ok := x.Args[0].(*ast.BasicLit); ok && lit.Kind == token.STRING {
							s, err := strconv.Unquote(lit.Value)
							if err == nil {
								s = dedent(s)
								if strings.HasPrefix(s, "*filter") || strings.HasPrefix(s, "*nat") {
									dump = s
								}
							}
						}
					}
					if id, ok := x.Fun.(*ast.Ident); ok && id.Name == "runPacketFlowTests" && len(x.Args) == 5 && dump != "" {
						if cl, ok := x.Args[4].(*ast.CompositeLit); ok {
							for _, e := range cl.Elts {
								if fl, ok := flowCase(e, consts); ok {
									fl.dump = dump
									out = append(out, fl)
								}
							}
						}
					}
				}
				return true
			})
		}
	}
	visit(fd.Body.List)
	return out
}

func flowCase(e ast.Expr, consts map[string]string) (upstreamFlow, bool) {
	cl, ok := e.(*ast.CompositeLit)
	if !ok {
		return upstreamFlow{}, false
	}
	fl := upstreamFlow{proto: "tcp"}
	for _, el := range cl.Elts {
		kv, ok := el.(*ast.KeyValueExpr)
		if !ok {
			return upstreamFlow{}, false
		}
		key := kv.Key.(*ast.Ident).Name
		switch key {
		case "name", "sourceIP", "destIP", "output":
			v, ok := stringLit(kv.Value, consts)
			if !ok {
				return upstreamFlow{}, false
			}
			switch key {
			case "name":
				fl.name = v
			case "sourceIP":
				fl.src = v
			case "destIP":
				fl.dst = v
			case "output":
				fl.output = v
			}
		case "destPort":
			lit, ok := kv.Value.(*ast.BasicLit)
			if !ok {
				return upstreamFlow{}, false
			}
			fl.port, _ = strconv.Atoi(lit.Value)
		case "masq":
			fl.masq = kv.Value.(*ast.Ident).Name == "true"
		case "protocol":
			sel, ok := kv.Value.(*ast.SelectorExpr)
			if !ok {
				return upstreamFlow{}, false
			}
			fl.proto = strings.ToLower(strings.TrimPrefix(sel.Sel.Name, "Protocol"))
		default:
			return upstreamFlow{}, false
		}
	}
	return fl, fl.src != "" && fl.dst != "" && fl.port != 0
}

func stringLit(e ast.Expr, consts map[string]string) (string, bool) {
	switch x := e.(type) {
	case *ast.BasicLit:
		if x.Kind != token.STRING {
			return "", false
		}
		s, err := strconv.Unquote(x.Value)
		return s, err == nil
	case *ast.Ident:
		v, ok := consts[x.Name]
		return v, ok
	}
	return "", false
}

// dedent mirrors github.com/lithammer/dedent for the fixtures: drop the
// common leading white space of the non-blank lines.
func dedent(s string) string {
	lines := strings.Split(s, "\n")
	prefix := ""
	first := true
	for _, l := range lines {
		if strings.TrimSpace(l) == "" {
			continue
		}
		ws := l[:len(l)-len(strings.TrimLeft(l, " \t"))]
		if first || strings.HasPrefix(prefix, ws) {
			prefix, first = ws, false
		}
		for !strings.HasPrefix(ws, prefix) {
			prefix = prefix[:len(prefix)-1]
		}
	}
	for i, l := range lines {
		lines[i] = strings.TrimPrefix(l, prefix)
		if strings.TrimSpace(lines[i]) == "" {
			lines[i] = ""
		}
	}
	return strings.TrimLeft(strings.Join(lines, "\n"), "\n")
}

// upstreamFile locates a file of k8s.io/kubernetes v1.36.3 in the module
// cache, downloading the module if the go tool can (it is the version the
// project builds kube-proxy from).
func upstreamFile(t *testing.T, rel string) string {
	t.Helper()
	const mod = "k8s.io/kubernetes@v1.36.3"
	cache := os.Getenv("GOMODCACHE")
	if cache == "" {
		if out, err := exec.Command("go", "env", "GOMODCACHE").Output(); err == nil {
			cache = strings.TrimSpace(string(out))
		}
	}
	p := filepath.Join(cache, mod, rel)
	if _, err := os.Stat(p); err == nil {
		return p
	}
	if out, err := exec.Command("go", "mod", "download", "-json", mod).Output(); err == nil {
		if i := strings.Index(string(out), `"Dir": "`); i >= 0 {
			dir := string(out)[i+8:]
			dir = dir[:strings.IndexByte(dir, '"')]
			p = filepath.Join(dir, rel)
			if _, err := os.Stat(p); err == nil {
				return p
			}
		}
	}
	t.Skipf("SKIPPED: %s not in the module cache and could not be downloaded; kube-proxy's own packet-flow cases were not checked", mod)
	return ""
}

