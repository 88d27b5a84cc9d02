package rules

import (
	"fmt"
	"strings"
)

// nindex answers lookups in a set or map: exact keys by hash, intervals
// (prefixes, ranges, wildcards) by a scan of the few that have them.
type nindex struct {
	keys    [][]nval
	data    []*nstmt // vmap verdicts, by element
	vals    [][]nval // map values, by element
	exact   map[string]int
	inexact []int
}

func (x *nindex) add(key []nval, data *nstmt, val []nval) {
	i := len(x.keys)
	x.keys = append(x.keys, key)
	x.data = append(x.data, data)
	x.vals = append(x.vals, val)
	exact := true
	for _, v := range key {
		if v.wild || (v.isAddr() && v.a0 != v.a1) || (!v.isAddr() && v.s == "" && v.i0 != v.i1) {
			exact = false
		}
	}
	if len(x.keys) == smallSet+1 {
		x.rehash() // the set outgrew scanning: hash what it has
	}
	if !exact || x.exact == nil {
		// Small sets (kube-proxy's numgen maps: one element per
		// endpoint) are scanned; the hash is built past smallSet.
		x.inexact = append(x.inexact, i)
		return
	}
	if _, dup := x.exact[nkey(key)]; !dup {
		x.exact[nkey(key)] = i
	}
}

// smallSet is the size up to which a set is scanned rather than hashed.
const smallSet = 64

// rehash moves the exact keys of a set that outgrew smallSet into the
// hash.
func (x *nindex) rehash() {
	x.exact = map[string]int{}
	kept := x.inexact[:0]
	for _, i := range x.inexact {
		exact := true
		for _, v := range x.keys[i] {
			if v.wild || (v.isAddr() && v.a0 != v.a1) || (!v.isAddr() && v.s == "" && v.i0 != v.i1) {
				exact = false
			}
		}
		if !exact {
			kept = append(kept, i)
			continue
		}
		if _, dup := x.exact[nkey(x.keys[i])]; !dup {
			x.exact[nkey(x.keys[i])] = i
		}
	}
	x.inexact = kept
}

// lookup returns the element whose key holds the packet values, or -1.
func (x *nindex) lookup(pkt []nval) int {
	if x == nil {
		return -1
	}
	if x.exact != nil {
		if i, ok := x.exact[nkey(pkt)]; ok {
			return i
		}
	}
	for _, i := range x.inexact {
		k := x.keys[i]
		if len(k) != len(pkt) {
			continue
		}
		hit := true
		for d := range k {
			if !k[d].contains(pkt[d]) {
				hit = false
				break
			}
		}
		if hit {
			return i
		}
	}
	return -1
}

// nkey is the hash key of exact values (a compact binary form).
func nkey(vs []nval) string {
	var buf [64]byte
	b := buf[:0]
	for _, v := range vs {
		switch {
		case v.isAddr():
			a := v.a0.As16()
			if v.a0.Is4() {
				b = append(b, 4)
			} else {
				b = append(b, 6)
			}
			b = append(b, a[:]...)
		case v.ty == tyIface || v.ty == tyString:
			b = append(b, 's')
			b = append(b, v.s...)
			b = append(b, 0)
		default:
			x := v.i0
			b = append(b, 'i', byte(x>>56), byte(x>>48), byte(x>>40), byte(x>>32), byte(x>>24), byte(x>>16), byte(x>>8), byte(x))
		}
	}
	return string(b)
}

// resolve types every literal of the ruleset by the datatype its context
// gives it (the set's declared type, or the expression it is compared
// with), builds the lookup indexes, and checks that every jump, goto and
// set reference names something that exists. A rule with something that
// does not read becomes one that never matches, with the reason kept for
// the warning.
func (rs *NFTRuleset) resolve(src string) []Warning {
	var ws []Warning
	for _, t := range rs.Tables {
		for _, s := range t.Sets {
			for _, n := range splitTypes(s.KeyType) {
				s.keyTy = append(s.keyTy, ntypeNames[n])
			}
			if s.Map && s.DataType != "verdict" {
				for _, n := range splitTypes(s.DataType) {
					s.dataTy = append(s.dataTy, ntypeNames[n])
				}
			}
			s.idx = &nindex{}
			for i := range s.Elements {
				el := &s.Elements[i]
				key, err := typeWords(el.rawKey, s.keyTy)
				if err == nil && len(s.dataTy) > 0 {
					el.val, err = typeWords(el.rawVal, s.dataTy)
				}
				if err != nil {
					ws = append(ws, Warning{Source: src, Line: el.Line, Message: fmt.Sprintf("%s set %s: element %q: %v; it is never matched", t, s.Name, el.Text, err)})
					continue
				}
				el.key = key
				s.idx.add(key, el.data, el.val)
			}
		}
		for _, c := range t.Chains {
			if !c.Declared {
				ws = append(ws, Warning{Source: src, Message: fmt.Sprintf("%s: chain %s has rules but was never declared", t, c.Name)})
			}
			for k, r := range c.Rules {
				r.Num = k + 1
				for i := range r.stmts {
					if r.stmts[i].kind == stUnknown {
						continue // already in r.bad
					}
					if err := t.typeStmt(&r.stmts[i]); err != nil {
						r.bad = append(r.bad, err.Error())
						r.stmts[i] = nstmt{kind: stUnknown, s: err.Error()}
					}
				}
			}
		}
		if !t.IptablesNFT {
			for _, c := range t.Chains {
				for _, r := range c.Rules {
					for _, st := range r.stmts {
						if st.kind == stUnknown && strings.HasPrefix(st.s, "xt ") {
							t.IptablesNFT = true
						}
					}
				}
			}
		}
	}
	return ws
}

func splitTypes(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ".") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// typeWords types one element's words.
func typeWords(words []string, types []ntype) ([]nval, error) {
	if len(words) != len(types) {
		return nil, fmt.Errorf("%d values for a %d-part type", len(words), len(types))
	}
	out := make([]nval, len(words))
	for i, w := range words {
		if types[i] == tyUnknown {
			return nil, fmt.Errorf("a type this evaluator does not read")
		}
		v, ok := parseLiteral(types[i], w)
		if !ok {
			return nil, fmt.Errorf("%q is not a valid %s", w, ntypeName(types[i]))
		}
		out[i] = v
	}
	return out, nil
}

// typeLit types a literal (or a concatenation of literals) as the parts
// of left.
func typeLit(e *nexpr, types []ntype) error {
	var words []string
	switch e.kind {
	case exLit:
		words = []string{e.s}
	case exConcat:
		for _, a := range e.args {
			if a.kind != exLit {
				return fmt.Errorf("value %q is not a literal", printExpr(e))
			}
			words = append(words, a.s)
		}
	default:
		return fmt.Errorf("value %q is not a literal", printExpr(e))
	}
	v, err := typeWords(words, types)
	if err != nil {
		return fmt.Errorf("%s: %v", printExpr(e), err)
	}
	e.v = v
	return nil
}

// typeAnon types an anonymous set or map's elements.
func typeAnon(e *nexpr, keyTy, dataTy []ntype) error {
	e.set = &nindex{}
	for i := range e.elems {
		el := &e.elems[i]
		kv, err := typeWords(el.key, keyTy)
		if err != nil {
			return fmt.Errorf("element %q: %v", el.text, err)
		}
		if len(dataTy) > 0 && el.data == nil {
			if el.vv, err = typeWords(el.val, dataTy); err != nil {
				return fmt.Errorf("element %q: %v", el.text, err)
			}
		}
		el.kv = kv
		e.set.add(kv, el.data, el.vv)
	}
	return nil
}

func partTypes(e *nexpr) []ntype {
	var out []ntype
	for _, p := range concatParts(e) {
		out = append(out, exprType(p))
	}
	return out
}

// checkExpr types the literals inside an expression (binary operands).
func checkExpr(e *nexpr) error {
	if e == nil {
		return nil
	}
	switch e.kind {
	case exUnknown:
		return fmt.Errorf("%s (not modelled)", e.s)
	case exBinop:
		if err := checkExpr(e.args[0]); err != nil {
			return err
		}
		if y := e.args[1]; y.kind == exLit {
			return typeLit(y, []ntype{tyInt})
		}
		return checkExpr(e.args[1])
	case exConcat:
		for _, a := range e.args {
			if err := checkExpr(a); err != nil {
				return err
			}
		}
	}
	return nil
}

// typeStmt types one statement in table t.
func (t *NFTTable) typeStmt(s *nstmt) error {
	switch s.kind {
	case stMatch:
		if s.op == "never" {
			return nil
		}
		if err := checkExpr(s.left); err != nil {
			return err
		}
		types := partTypes(s.left)
		for _, ty := range types {
			if ty == tyUnknown {
				return fmt.Errorf("%s: a value this evaluator does not read", printExpr(s.left))
			}
		}
		switch s.right.kind {
		case exSetRef:
			set := t.setIdx[s.right.s]
			if set == nil {
				return fmt.Errorf("set @%s does not exist in table %s", s.right.s, t)
			}
			if len(set.keyTy) != len(types) {
				return fmt.Errorf("set @%s has %d-part keys, compared with %s", s.right.s, len(set.keyTy), printExpr(s.left))
			}
			return nil
		case exAnon:
			return typeAnon(s.right, types, nil)
		}
		return typeLit(s.right, types)
	case stVmap:
		if err := checkExpr(s.left); err != nil {
			return err
		}
		types := partTypes(s.left)
		switch s.right.kind {
		case exSetRef:
			set := t.setIdx[s.right.s]
			if set == nil || !set.Map {
				return fmt.Errorf("verdict map @%s does not exist in table %s", s.right.s, t)
			}
			if len(set.keyTy) != len(types) {
				return fmt.Errorf("map @%s has %d-part keys, looked up with %s", s.right.s, len(set.keyTy), printExpr(s.left))
			}
			for _, el := range set.Elements {
				if el.data != nil {
					if err := t.checkTarget(el.data); err != nil {
						return fmt.Errorf("map @%s: %v", s.right.s, err)
					}
				}
			}
			return nil
		case exAnon:
			if err := typeAnon(s.right, types, nil); err != nil {
				return err
			}
			for _, el := range s.right.elems {
				if el.data == nil {
					return fmt.Errorf("vmap element %q has no verdict", el.text)
				}
				if err := t.checkTarget(el.data); err != nil {
					return err
				}
			}
			return nil
		}
		return fmt.Errorf("vmap without a map")
	case stVerdict:
		return t.checkTarget(s)
	case stMangle:
		if s.right.kind == exLit {
			return typeLit(s.right, []ntype{tyInt})
		}
		return checkExpr(s.right)
	case stNAT:
		addrTy := tyAddr4
		if s.family == "ip6" || (s.family == "" && t.Family == "ip6") {
			addrTy = tyAddr6
		}
		if s.addr != nil {
			if s.addr.kind == exBinop && s.addr.a == "map" {
				key, m := s.addr.args[0], s.addr.args[1]
				if err := checkExpr(key); err != nil {
					return err
				}
				if m.kind == exSetRef {
					if set := t.setIdx[m.s]; set == nil || !set.Map {
						return fmt.Errorf("map @%s does not exist in table %s", m.s, t)
					}
					return nil
				}
				if m.kind != exAnon {
					return fmt.Errorf("%s: not a map", printExpr(m))
				}
				dt := []ntype{addrTy}
				if len(m.elems) > 0 && len(m.elems[0].val) == 2 {
					dt = []ntype{addrTy, tyPort}
				}
				return typeAnon(m, partTypes(key), dt)
			}
			if s.addr.kind == exLit {
				if err := typeLit(s.addr, []ntype{addrTy}); err != nil {
					return err
				}
			} else if s.addr.kind == exConcat && len(s.addr.args) == 2 {
				if err := typeLit(s.addr, []ntype{addrTy, tyPort}); err != nil {
					return err
				}
			} else {
				return fmt.Errorf("%s to %s (not modelled)", s.verb, printExpr(s.addr))
			}
		}
		if s.port != nil {
			if s.port.kind != exLit {
				return fmt.Errorf("%s port %s (not modelled)", s.verb, printExpr(s.port))
			}
			return typeLit(s.port, []ntype{tyPort})
		}
	case stSetOp:
		if t.setIdx[s.target] == nil {
			return fmt.Errorf("set @%s does not exist in table %s", s.target, t)
		}
	case stUnknown:
		return fmt.Errorf("%s", s.s)
	}
	return nil
}

// checkTarget checks that a jump/goto names a chain of the table.
func (t *NFTTable) checkTarget(s *nstmt) error {
	if (s.verb == "jump" || s.verb == "goto") && t.chainIdx[s.target] == nil {
		return fmt.Errorf("%s %s: no such chain in table %s", s.verb, s.target, t)
	}
	return nil
}
