package rules

import (
	"fmt"
	"net/netip"
	"sort"
	"strconv"
	"strings"
)

// IPVSTable is a node's IPVS table as ipvsadm prints it: the list form
// (`ipvsadm -Ln`, and its --stats, --rate and --thresholds variants) or the
// save form (`ipvsadm -Sn`). kube-proxy's IPVS mode (pkg/proxy/ipvs)
// programs one virtual server per ClusterIP:port, externalIP:port,
// load-balancer VIP:port and node address:NodePort, all with the
// --ipvs-scheduler (default rr), Masq forwarding and weight 1 per endpoint
// (0 while an endpoint drains), and `persistent <timeout>` for ClientIP
// session affinity.
type IPVSTable struct {
	Services []*IPVSService
	// Version is the "IP Virtual Server version" of the list form.
	Version string
	// Form names what the dump showed: "list" (scheduler, flags, weights
	// and connection counts), "stats", "rate", "thresholds" (no
	// scheduler or weights), "save".
	Form string
}

// IPVSService is one virtual service and its real servers.
type IPVSService struct {
	// Proto is TCP, UDP, SCTP or FWM (a firewall-mark service, FWMark).
	Proto  string
	Addr   netip.Addr
	Port   uint16
	FWMark uint32
	// Scheduler is "" when the form does not show it (stats, rate).
	Scheduler  string
	SchedFlags []string
	// Persistent services (`persistent T` / `-p T`) send a client's new
	// connections to the real server of its persistence template for T
	// seconds: kube-proxy's ClientIP session affinity.
	Persistent bool
	Timeout    int
	Netmask    string
	OnePacket  bool
	Line       int
	Reals      []IPVSReal
}

// IPVSReal is one real server (destination).
type IPVSReal struct {
	Addr netip.Addr
	Port uint16
	// Forward is Masq, Route, Tunnel or Local.
	Forward string
	// Weight is -1 when the form does not show it.
	Weight       int
	Active       int
	InAct        int
	Line         int
	hasCounts    bool
	hasForwarder bool
}

// Key is "TCP 10.96.0.1:443" (or "FWM 1"), as the list form names it.
func (s *IPVSService) Key() string {
	if s.Proto == "FWM" {
		return fmt.Sprintf("FWM %d", s.FWMark)
	}
	return s.Proto + " " + netip.AddrPortFrom(s.Addr, s.Port).String()
}

// String is the service as ipvsadm -Ln prints its line.
func (s *IPVSService) String() string {
	out := s.Key()
	if s.Scheduler != "" {
		out += " " + s.Scheduler
	}
	if len(s.SchedFlags) > 0 {
		out += " (" + strings.Join(s.SchedFlags, ",") + ")"
	}
	if s.Persistent {
		out += " persistent " + strconv.Itoa(s.Timeout)
	}
	return out
}

func (r IPVSReal) String() string { return netip.AddrPortFrom(r.Addr, r.Port).String() }

// Service finds a virtual service by protocol, address and port.
func (t *IPVSTable) Service(proto string, a netip.Addr, port uint16) *IPVSService {
	for _, s := range t.Services {
		if s.Proto == proto && s.Addr == a && s.Port == port {
			return s
		}
	}
	return nil
}

// parseIPVSAddr reads "10.96.0.1:443" or "[fd00::1]:443".
func parseIPVSAddr(s string) (netip.Addr, uint16, bool) {
	ap, err := netip.ParseAddrPort(s)
	if err != nil {
		return netip.Addr{}, 0, false
	}
	return ap.Addr().Unmap(), ap.Port(), true
}

// ParseIPVSString reads ipvsadm output: the list forms (-Ln, --stats,
// --rate, --thresholds; ipvsadm 1.31's print_title and
// print_service_entry) or the save form (-Sn, as ipvsadm -R reads it).
// Names instead of numbers (-L without -n) are reported, not resolved.
func ParseIPVSString(text string, opts ParseOptions) (*Ruleset, error) {
	rs := &Ruleset{Source: opts.Source, Format: FormatIPVS, text: text}
	t := &IPVSTable{}
	rs.IPVS = t
	warn := func(line int, format string, args ...any) {
		rs.Warnings = append(rs.Warnings, Warning{Source: opts.Source, Line: line, Message: fmt.Sprintf(format, args...)})
	}
	var cur *IPVSService
	byKey := map[string]*IPVSService{}
	add := func(s *IPVSService) *IPVSService {
		if prev := byKey[s.Key()]; prev != nil {
			warn(s.Line, "virtual service %s listed again (first at line %d)", s.Key(), prev.Line)
			return prev
		}
		byKey[s.Key()] = s
		t.Services = append(t.Services, s)
		return s
	}
	lines := strings.Split(text, "\n")
	rs.Lines = len(lines)
	for i, raw := range lines {
		n := i + 1
		line := strings.TrimRight(raw, "\r \t")
		trim := strings.TrimSpace(line)
		switch {
		case trim == "":
			continue
		case strings.HasPrefix(trim, "IP Virtual Server version"):
			t.Version = strings.TrimPrefix(trim, "IP Virtual Server version ")
			if t.Form == "" {
				t.Form = "list"
			}
		case strings.HasPrefix(trim, "Prot LocalAddress:Port"):
			switch {
			case strings.Contains(trim, "Conns"):
				t.Form = "stats"
			case strings.Contains(trim, "CPS"):
				t.Form = "rate"
			case strings.Contains(trim, "Scheduler"):
				t.Form = "list"
			default:
				t.Form = "thresholds"
			}
		case strings.HasPrefix(trim, "-> RemoteAddress:Port"):
			if strings.Contains(trim, "Uthreshold") || strings.Contains(trim, "PersistConn") {
				t.Form = "thresholds"
			}
		case strings.HasPrefix(trim, "-A ") || strings.HasPrefix(trim, "-a ") || strings.HasPrefix(trim, "--add-service") || strings.HasPrefix(trim, "--add-server"):
			t.Form = "save"
			s, real, isReal, err := parseIPVSRule(trim)
			if err != nil {
				warn(n, "%v", err)
				continue
			}
			if !isReal {
				s.Line = n
				cur = add(s)
				continue
			}
			vs := byKey[s.Key()]
			if vs == nil {
				warn(n, "real server for virtual service %s, which is not defined before it", s.Key())
				vs = add(&IPVSService{Proto: s.Proto, Addr: s.Addr, Port: s.Port, FWMark: s.FWMark, Line: n})
			}
			real.Line = n
			vs.Reals = append(vs.Reals, real)
		case strings.HasPrefix(trim, "->"):
			if cur == nil {
				warn(n, "real server line before any virtual service")
				continue
			}
			r, err := parseIPVSRealLine(trim, t.Form)
			if err != nil {
				warn(n, "%v", err)
				continue
			}
			r.Line = n
			cur.Reals = append(cur.Reals, r)
		default:
			f := strings.Fields(trim)
			switch f[0] {
			case "TCP", "UDP", "SCTP", "FWM":
			default:
				warn(n, "unrecognised line %q", clip(trim))
				continue
			}
			s, err := parseIPVSServiceLine(f, t.Form)
			if err != nil {
				warn(n, "%v", err)
				cur = nil
				continue
			}
			s.Line = n
			cur = add(s)
		}
	}
	if t.Form == "" || (len(t.Services) == 0 && t.Version == "") {
		return rs, fmt.Errorf("%s: %w", sourceName(opts.Source), ErrNoRules)
	}
	rs.Family = FamilyUnknown
	fams := map[bool]bool{}
	for _, s := range t.Services {
		if s.Addr.IsValid() {
			fams[s.Addr.Is4()] = true
		}
	}
	if len(fams) == 1 {
		rs.Family = IPv6
		if fams[true] {
			rs.Family = IPv4
		}
	}
	return rs, nil
}

// parseIPVSServiceLine reads "TCP  10.96.0.1:443 rr [(flags)] [persistent
// T [mask M]] [pe X] [ops]" (list form) or "TCP  10.96.0.1:443  0 0 ..."
// (stats, rate).
func parseIPVSServiceLine(f []string, form string) (*IPVSService, error) {
	s := &IPVSService{Proto: f[0]}
	if len(f) < 2 {
		return nil, fmt.Errorf("virtual service line without an address")
	}
	if s.Proto == "FWM" {
		m, err := strconv.ParseUint(f[1], 0, 32)
		if err != nil {
			return nil, fmt.Errorf("FWM service %q: not a mark", f[1])
		}
		s.FWMark = uint32(m)
	} else {
		a, p, ok := parseIPVSAddr(f[1])
		if !ok {
			return nil, fmt.Errorf("virtual service %q: not an address:port (ipvsadm -L without -n prints names; use -Ln)", f[1])
		}
		s.Addr, s.Port = a, p
	}
	if form != "list" {
		return s, nil
	}
	rest := f[2:]
	if len(rest) == 0 {
		return nil, fmt.Errorf("virtual service %s without a scheduler", s.Key())
	}
	s.Scheduler = rest[0]
	for k := 1; k < len(rest); k++ {
		w := rest[k]
		switch {
		case strings.HasPrefix(w, "("):
			s.SchedFlags = strings.Split(strings.Trim(w, "()"), ",")
		case w == "persistent":
			s.Persistent = true
			if k+1 < len(rest) {
				if n, err := strconv.Atoi(rest[k+1]); err == nil {
					s.Timeout = n
					k++
				}
			}
		case w == "mask" && k+1 < len(rest):
			s.Netmask = rest[k+1]
			k++
		case w == "pe" && k+1 < len(rest):
			k++
		case w == "ops":
			s.OnePacket = true
		}
	}
	return s, nil
}

// parseIPVSRealLine reads "-> 10.244.0.5:8080  Masq 1 0 0" (list) or the
// counters of the other forms.
func parseIPVSRealLine(line, form string) (IPVSReal, error) {
	f := strings.Fields(strings.TrimSpace(strings.TrimPrefix(line, "->")))
	r := IPVSReal{Weight: -1}
	if len(f) == 0 {
		return r, fmt.Errorf("real server line without an address")
	}
	a, p, ok := parseIPVSAddr(f[0])
	if !ok {
		return r, fmt.Errorf("real server %q: not an address:port (use ipvsadm -Ln)", f[0])
	}
	r.Addr, r.Port = a, p
	if form != "list" {
		return r, nil
	}
	if len(f) < 5 {
		return r, fmt.Errorf("real server %s: want Forward Weight ActiveConn InActConn", f[0])
	}
	r.Forward, r.hasForwarder = f[1], true
	k := 2
	if len(f) >= 6 { // --tun-info adds a TunnelInfo column
		k = 3
	}
	w, err1 := strconv.Atoi(f[k])
	ac, err2 := strconv.Atoi(f[k+1])
	ic, err3 := strconv.Atoi(f[k+2])
	if err1 != nil || err2 != nil || err3 != nil {
		return r, fmt.Errorf("real server %s: bad weight or counters", f[0])
	}
	r.Weight, r.Active, r.InAct, r.hasCounts = w, ac, ic, true
	return r, nil
}

// parseIPVSRule reads a save-form line: "-A -t VIP:PORT -s rr [-p T] ..."
// or "-a -t VIP:PORT -r RIP:PORT -m -w 1".
func parseIPVSRule(line string) (svc *IPVSService, real IPVSReal, isReal bool, err error) {
	f := strings.Fields(line)
	svc = &IPVSService{}
	real = IPVSReal{Weight: 1, Forward: "Route"} // ipvsadm's defaults: -g, weight 1
	isReal = f[0] == "-a" || f[0] == "--add-server"
	svc.Scheduler = "wlc" // ipvsadm's default scheduler
	for k := 1; k < len(f); k++ {
		arg := func() string {
			if k+1 < len(f) {
				k++
				return f[k]
			}
			return ""
		}
		switch f[k] {
		case "-t", "--tcp-service", "-u", "--udp-service", "--sctp-service":
			svc.Proto = map[string]string{"-t": "TCP", "--tcp-service": "TCP", "-u": "UDP", "--udp-service": "UDP", "--sctp-service": "SCTP"}[f[k]]
			a, p, ok := parseIPVSAddr(arg())
			if !ok {
				return nil, real, false, fmt.Errorf("virtual service %q: not an address:port", f[k])
			}
			svc.Addr, svc.Port = a, p
		case "-f", "--fwmark-service":
			m, e := strconv.ParseUint(arg(), 0, 32)
			if e != nil {
				return nil, real, false, fmt.Errorf("bad firewall mark in %q", clip(line))
			}
			svc.Proto, svc.FWMark = "FWM", uint32(m)
		case "-s", "--scheduler":
			svc.Scheduler = arg()
		case "-p", "--persistent":
			svc.Persistent, svc.Timeout = true, 300 // ipvsadm's default persistence
			if k+1 < len(f) && !strings.HasPrefix(f[k+1], "-") {
				if n, e := strconv.Atoi(f[k+1]); e == nil {
					svc.Timeout = n
					k++
				}
			}
		case "-M", "--netmask":
			svc.Netmask = arg()
		case "-b", "--sched-flags":
			svc.SchedFlags = strings.Split(arg(), ",")
		case "-o", "--ops":
			svc.OnePacket = true
		case "--pe":
			arg()
		case "-r", "--real-server":
			a, p, ok := parseIPVSAddr(arg())
			if !ok {
				return nil, real, false, fmt.Errorf("real server in %q: not an address:port", clip(line))
			}
			real.Addr, real.Port = a, p
		case "-m", "--masquerading":
			real.Forward = "Masq"
		case "-g", "--gatewaying":
			real.Forward = "Route"
		case "-i", "--ipip":
			real.Forward = "Tunnel"
		case "-w", "--weight":
			w, e := strconv.Atoi(arg())
			if e != nil {
				return nil, real, false, fmt.Errorf("bad weight in %q", clip(line))
			}
			real.Weight = w
		case "-x", "--u-threshold", "-y", "--l-threshold", "--tun-type", "--tun-port", "--tun-nocsum", "--tun-csum", "--tun-remcsum":
			arg()
		}
	}
	if svc.Proto == "" {
		return nil, real, false, fmt.Errorf("no virtual service in %q", clip(line))
	}
	real.hasForwarder = true
	if isReal && !real.Addr.IsValid() {
		return nil, real, false, fmt.Errorf("real server line without -r in %q", clip(line))
	}
	return svc, real, isReal, nil
}

// ---------------------------------------------------------------- ipset

// ParseIPSetString reads `ipset save` (create/add lines) or `ipset list`
// (Name:/Type:/Members: blocks) output into sets the evaluator uses for
// `-m set --match-set`.
func ParseIPSetString(text string, opts ParseOptions) (*Ruleset, error) {
	rs := &Ruleset{Source: opts.Source, Format: FormatIPSet, text: text, IPSets: map[string]*IPSet{}}
	warn := func(line int, format string, args ...any) {
		rs.Warnings = append(rs.Warnings, Warning{Source: opts.Source, Line: line, Message: fmt.Sprintf(format, args...)})
	}
	lines := strings.Split(text, "\n")
	rs.Lines = len(lines)
	var cur *IPSet
	inMembers := false
	for i, raw := range lines {
		n := i + 1
		line := strings.TrimRight(raw, "\r")
		trim := strings.TrimSpace(line)
		if trim == "" {
			inMembers = false
			continue
		}
		switch {
		case strings.HasPrefix(trim, "create "):
			f := strings.Fields(trim)
			if len(f) < 3 {
				warn(n, "create without a type")
				continue
			}
			cur = &IPSet{Name: f[1], Type: f[2]}
			if _, err := setDims(cur.Type); err != nil {
				warn(n, "%v; rules matching set %s are not evaluated", err, cur.Name)
			}
			rs.IPSets[cur.Name] = cur
		case strings.HasPrefix(trim, "add "):
			f := strings.SplitN(trim, " ", 3)
			if len(f) < 3 {
				warn(n, "add without a member")
				continue
			}
			s := rs.IPSets[f[1]]
			if s == nil {
				warn(n, "member of set %s, which is not created before it", f[1])
				s = &IPSet{Name: f[1]}
				rs.IPSets[f[1]] = s
			}
			s.Members = append(s.Members, f[2])
		case strings.HasPrefix(trim, "Name: "):
			cur = &IPSet{Name: strings.TrimPrefix(trim, "Name: ")}
			rs.IPSets[cur.Name] = cur
			inMembers = false
		case strings.HasPrefix(trim, "Type: ") && cur != nil && !inMembers:
			cur.Type = strings.TrimPrefix(trim, "Type: ")
		case trim == "Members:" && cur != nil:
			inMembers = true
		case inMembers && cur != nil:
			cur.Members = append(cur.Members, trim)
		case strings.HasPrefix(trim, "Revision:"), strings.HasPrefix(trim, "Header:"), strings.HasPrefix(trim, "Size in memory:"),
			strings.HasPrefix(trim, "References:"), strings.HasPrefix(trim, "Number of entries:"):
		default:
			warn(n, "unrecognised line %q", clip(trim))
		}
	}
	if len(rs.IPSets) == 0 {
		return rs, fmt.Errorf("%s: %w", sourceName(opts.Source), ErrNoRules)
	}
	return rs, nil
}

// ipsetNames lists sets in a stable order, for messages.
func ipsetNames(m map[string]*IPSet) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
