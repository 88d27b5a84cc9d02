package rules

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"strings"
)

// ParseRoutes reads the node's main routing table as `ip route` / `ip -6
// route` print it, or as `ip -j route` JSON, into Routes for EvalInput.
// Only destination and device matter to the evaluator (which interface a
// packet leaves by, for `-o` matches); other route types (local, broadcast,
// unreachable) are skipped.
func ParseRoutes(text string) ([]Route, error) {
	t := strings.TrimSpace(text)
	if strings.HasPrefix(t, "[") {
		var js []struct {
			Dst  string `json:"dst"`
			Dev  string `json:"dev"`
			Type string `json:"type"`
		}
		if err := json.Unmarshal([]byte(t), &js); err != nil {
			return nil, fmt.Errorf("routes: %w", err)
		}
		var out []Route
		for _, r := range js {
			if r.Type != "" && r.Type != "unicast" {
				continue
			}
			if rt, ok := makeRoute(r.Dst, r.Dev); ok {
				out = append(out, rt)
			}
		}
		return out, nil
	}
	var out []Route
	for i, line := range strings.Split(text, "\n") {
		f := strings.Fields(line)
		if len(f) == 0 {
			continue
		}
		switch f[0] {
		case "local", "broadcast", "unreachable", "prohibit", "blackhole", "throw", "multicast", "anycast", "nat":
			continue
		case "unicast":
			f = f[1:]
		}
		dev := ""
		for j := 1; j+1 < len(f); j++ {
			if f[j] == "dev" {
				dev = f[j+1]
			}
		}
		rt, ok := makeRoute(f[0], dev)
		if !ok {
			return out, fmt.Errorf("routes line %d: cannot read %q", i+1, line)
		}
		out = append(out, rt)
	}
	return out, nil
}

func makeRoute(dst, dev string) (Route, bool) {
	if dev == "" {
		return Route{}, false
	}
	switch dst {
	case "default":
		return Route{Dst: netip.MustParsePrefix("0.0.0.0/0"), Dev: dev}, true
	case "default6":
		return Route{Dst: netip.MustParsePrefix("::/0"), Dev: dev}, true
	}
	if !strings.Contains(dst, "/") {
		a, err := netip.ParseAddr(dst)
		if err != nil {
			return Route{}, false
		}
		return Route{Dst: netip.PrefixFrom(a, a.BitLen()), Dev: dev}, true
	}
	p, err := netip.ParsePrefix(dst)
	if err != nil {
		return Route{}, false
	}
	return Route{Dst: p.Masked(), Dev: dev}, true
}
