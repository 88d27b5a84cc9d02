package rules

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"
)

// IPSet is the content of one ipset, enough for `-m set --match-set` to be
// decided. Members are written as `ipset save` prints them after the set
// name ("10.96.0.10,udp:53", "10.244.0.0/16", "10.0.0.1,tcp:80,10.0.0.1");
// per-member options such as "timeout 300" or "nomatch" may follow,
// separated by spaces. (Parsers for `ipset save`/`ipset list` come with the
// IPVS work, issue #6.)
type IPSet struct {
	Name    string
	Type    string // "hash:ip,port", "hash:net", "bitmap:port", ...
	Members []string
}

// ipsetElem is one packet-derived element: the address or port per
// dimension, as --match-set's src/dst flags select them.
type ipsetElem struct {
	addrs [6]netip.Addr
	ports [6]uint16
	proto uint32
}

// setDimKind is what one dimension of a set type holds.
type setDimKind uint8

const (
	dimIP setDimKind = iota
	dimNet
	dimPort
	dimMark
	dimIface
	dimMAC
)

// setDims parses a set type into its dimension kinds.
func setDims(typ string) ([]setDimKind, error) {
	method, dims, ok := strings.Cut(typ, ":")
	if !ok || (method != "hash" && method != "bitmap") {
		return nil, fmt.Errorf("ipset type %q is not supported", typ)
	}
	var out []setDimKind
	for _, d := range strings.Split(dims, ",") {
		switch d {
		case "ip":
			out = append(out, dimIP)
		case "net":
			out = append(out, dimNet)
		case "port":
			out = append(out, dimPort)
		default:
			return nil, fmt.Errorf("ipset type %q (dimension %q) is not supported", typ, d)
		}
	}
	return out, nil
}

// contains decides membership of the element built from the packet. It
// returns an error when the set's type or a member cannot be read, which
// the evaluator turns into a warning (never a match).
func (s *IPSet) contains(e *ipsetElem, ndims int) (bool, error) {
	kinds, err := setDims(s.Type)
	if err != nil {
		return false, err
	}
	if ndims < len(kinds) {
		// xt_set with fewer dimensions than the set: the kernel rejects
		// the rule; treat it as not understood.
		return false, fmt.Errorf("--match-set %s gives %d dimensions, the set has %d", s.Name, ndims, len(kinds))
	}
	for _, m := range s.Members {
		fields := strings.Fields(m)
		if len(fields) == 0 {
			continue
		}
		nomatch := false
		for _, f := range fields[1:] {
			if f == "nomatch" {
				nomatch = true
			}
		}
		parts := strings.Split(fields[0], ",")
		if len(parts) != len(kinds) {
			return false, fmt.Errorf("ipset %s member %q does not fit type %s", s.Name, m, s.Type)
		}
		hit := true
		for i, k := range kinds {
			ok, err := dimMatches(k, parts[i], e, i, strings.HasPrefix(s.Type, "bitmap:"))
			if err != nil {
				return false, fmt.Errorf("ipset %s member %q: %v", s.Name, m, err)
			}
			if !ok {
				hit = false
				break
			}
		}
		if hit {
			return !nomatch, nil
		}
	}
	return false, nil
}

func dimMatches(k setDimKind, v string, e *ipsetElem, i int, bitmap bool) (bool, error) {
	switch k {
	case dimIP, dimNet:
		if a, b, isRange := strings.Cut(v, "-"); isRange {
			lo, err1 := netip.ParseAddr(a)
			hi, err2 := netip.ParseAddr(b)
			if err1 != nil || err2 != nil {
				return false, fmt.Errorf("bad range %q", v)
			}
			x := e.addrs[i]
			return !x.Less(lo) && !hi.Less(x), nil
		}
		p, ok := parsePrefix(v)
		if !ok {
			return false, fmt.Errorf("bad address %q", v)
		}
		return p.Contains(e.addrs[i]), nil
	case dimPort:
		proto, port, hasProto := strings.Cut(v, ":")
		anyProto := false
		if !hasProto {
			// bitmap:port holds bare ports and matches any protocol
			// (kube-proxy keeps one set per protocol for that reason);
			// hash types default to tcp.
			port, proto = v, "tcp"
			anyProto = bitmap
		}
		lo, hi, ok := parsePortRange(strings.Replace(port, "-", ":", 1))
		if !ok {
			return false, fmt.Errorf("bad port %q", v)
		}
		pn, ok := parseProto(proto)
		if !ok {
			if n, err := strconv.Atoi(proto); err == nil {
				pn = uint32(n)
			} else {
				return false, fmt.Errorf("bad protocol %q", proto)
			}
		}
		p := uint64(e.ports[i])
		return (anyProto || pn == e.proto) && p >= lo && p <= hi, nil
	}
	return false, fmt.Errorf("dimension not supported")
}
