package dnssim

import (
	"bytes"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"unicode/utf8"
)

// MaxResolvConfBytes is the largest resolv.conf accepted, kubelet's own
// maxResolvConfLength (pkg/kubelet/network/dns/dns.go): kubelet refuses to
// read a bigger file, so a bigger file cannot be the base of a pod's config.
const MaxResolvConfBytes = 10 << 20

// Line is one line of a resolv.conf as written, kept with its number so every
// resolver-specific reading can quote it back ("file:12: ...").
type Line struct {
	// Number is 1-based.
	Number int `json:"line"`
	// Text is the line without its terminating newline.
	Text string `json:"text"`
	// Terminated is true when the line ended with '\n'. musl's fgets-based
	// reader (resolvconf.c) treats an unterminated over-long line differently
	// from a terminated one, so the distinction is kept.
	Terminated bool `json:"terminated"`
}

// ResolvConf is a resolv.conf file split into lines. It deliberately holds no
// interpretation: kubelet, glibc, musl and Go each read the same bytes
// differently (comments, "domain", over-long lines, option spelling), so the
// interpretation is a method per reader: Kubelet() and Config(resolver).
type ResolvConf struct {
	// Source names the file in messages (a path, "pod/x:/etc/resolv.conf", ...).
	Source string `json:"source"`
	Lines  []Line `json:"-"`
	// Warnings are line-numbered notes about lines every resolver ignores or
	// misreads (not an IP after nameserver, unknown keyword, bad option value).
	Warnings []string `json:"warnings,omitempty"`
}

// ParseResolvConf splits data into lines and checks it. It returns an error,
// naming source and line, only for input no reader could treat as a
// resolv.conf: a file over kubelet's 10 MiB limit, NUL bytes, invalid UTF-8, or
// a "nameserver" line without an address (kubelet's parseResolvConf fails the
// whole pod with "nameserver list is empty" there). Everything the resolvers
// merely ignore becomes a Warning.
func ParseResolvConf(source string, data []byte) (*ResolvConf, error) {
	if source == "" {
		source = "resolv.conf"
	}
	if len(data) > MaxResolvConfBytes {
		return nil, fmt.Errorf("%s: %d bytes is more than kubelet's limit of %d bytes for a resolv.conf", source, len(data), MaxResolvConfBytes)
	}
	rc := &ResolvConf{Source: source}
	n := 0
	for len(data) > 0 {
		n++
		var text []byte
		term := false
		if i := bytes.IndexByte(data, '\n'); i >= 0 {
			text, data, term = data[:i], data[i+1:], true
		} else {
			text, data = data, nil
		}
		if bytes.IndexByte(text, 0) >= 0 {
			return nil, fmt.Errorf("%s:%d: NUL byte: not a text resolv.conf", source, n)
		}
		if !utf8.Valid(text) {
			return nil, fmt.Errorf("%s:%d: invalid UTF-8", source, n)
		}
		l := Line{Number: n, Text: string(text), Terminated: term}
		rc.Lines = append(rc.Lines, l)
		if err := rc.check(l); err != nil {
			return nil, err
		}
	}
	return rc, nil
}

// check validates one line the way the strictest reader would and records
// warnings for what readers silently drop.
func (rc *ResolvConf) check(l Line) error {
	t := strings.TrimSpace(l.Text)
	if t == "" || t[0] == '#' || t[0] == ';' {
		return nil
	}
	f := strings.Fields(t)
	switch f[0] {
	case "nameserver":
		if len(f) < 2 {
			// kubelet parseResolvConf: `allErrors = append(allErrors,
			// fmt.Errorf("nameserver list is empty "))`, which fails GetPodDNS.
			return fmt.Errorf("%s:%d: nameserver line without an address (kubelet rejects this file: \"nameserver list is empty\")", rc.Source, l.Number)
		}
		if _, err := parseNameserver(f[1]); err != nil {
			rc.warnf(l, "nameserver %q is not an IP address; glibc, musl and Go skip it", f[1])
		}
	case "search", "domain":
	case "options":
		for _, o := range f[1:] {
			if msg := checkOption(o); msg != "" {
				rc.warnf(l, "%s", msg)
			}
		}
	case "sortlist", "lookup", "family":
	default:
		rc.warnf(l, "unknown keyword %q; glibc and musl ignore the line, Go notes it as an unknown option (cgo builds then use libc)", f[0])
	}
	return nil
}

func (rc *ResolvConf) warnf(l Line, format string, args ...any) {
	rc.Warnings = append(rc.Warnings, fmt.Sprintf("%s:%d: ", rc.Source, l.Number)+fmt.Sprintf(format, args...))
}

// parseNameserver accepts what glibc's res_init.c accepts: an IPv4 or IPv6
// literal, IPv6 optionally with a %zone.
func parseNameserver(s string) (netip.Addr, error) {
	return netip.ParseAddr(s)
}

func checkOption(o string) string {
	name, val, hasVal := strings.Cut(o, ":")
	switch name {
	case "ndots", "timeout", "attempts":
		if !hasVal {
			return fmt.Sprintf("option %q has no value; glibc reads it as 0, Go treats it as an unknown option", o)
		}
		if _, err := strconv.Atoi(val); err != nil {
			return fmt.Sprintf("option %q: value is not a number", o)
		}
	}
	return ""
}

// KubeletView is resolv.conf as kubelet reads the node's file, mirroring
// pkg/kubelet/network/dns/dns.go parseResolvConf (k8s v1.36.3):
//   - lines are TrimSpace'd and skipped when they start with "#" (not ";");
//   - every "nameserver" line accumulates, unvalidated and unlimited here;
//   - only "search" lines are read, the last one wins, "." entries are dropped
//     and a trailing dot is trimmed; "domain" is ignored;
//   - every "options" line merges into one list by option name (appendOptions),
//     a later one replacing an earlier one.
type KubeletView struct {
	Nameservers []string
	Searches    []string
	Options     []string
}

// Kubelet returns the file as kubelet's parseResolvConf reads it.
func (rc *ResolvConf) Kubelet() KubeletView {
	v := KubeletView{Nameservers: []string{}, Searches: []string{}, Options: []string{}}
	for _, l := range rc.Lines {
		t := strings.TrimSpace(l.Text)
		if strings.HasPrefix(t, "#") {
			continue
		}
		f := strings.Fields(t)
		if len(f) == 0 {
			continue
		}
		switch f[0] {
		case "nameserver":
			if len(f) >= 2 {
				v.Nameservers = append(v.Nameservers, f[1])
			}
		case "search":
			v.Searches = []string{}
			for _, s := range f[1:] {
				if s != "." {
					v.Searches = append(v.Searches, strings.TrimSuffix(s, "."))
				}
			}
		case "options":
			v.Options = appendOptions(v.Options, f[1:]...)
		}
	}
	return v
}

// appendOptions mirrors kubelet's appendOptions: options are keyed by the text
// before the first ':' and a later one replaces an earlier one. kubelet
// rebuilds the list from a Go map, so its order is random; we keep first-seen
// order so output is stable. No resolver depends on option order.
func appendOptions(options []string, newOptions ...string) []string {
	out := append([]string(nil), options...)
	for _, o := range newOptions {
		name := strings.Split(o, ":")[0]
		replaced := false
		for i, e := range out {
			if strings.Split(e, ":")[0] == name {
				out[i] = o
				replaced = true
				break
			}
		}
		if !replaced {
			out = append(out, o)
		}
	}
	return out
}

// Config is a resolv.conf as one resolver applies it: the fields that change
// which queries it sends, with the resolver's own defaults, caps and quirks.
type Config struct {
	Resolver    Resolver `json:"resolver"`
	Nameservers []string `json:"nameservers"`
	// Search holds the search list in order, trailing dots removed; a "."
	// entry is kept as "." because glibc and musl 1.2.3 treat it specially.
	Search   []string `json:"search"`
	Ndots    int      `json:"ndots"`
	Attempts int      `json:"attempts"`
	// TimeoutSeconds is per try for glibc and Go, the total per query for musl.
	TimeoutSeconds      int  `json:"timeoutSeconds"`
	Rotate              bool `json:"rotate,omitempty"`
	SingleRequest       bool `json:"singleRequest,omitempty"`
	SingleRequestReopen bool `json:"singleRequestReopen,omitempty"`
	NoTLDQuery          bool `json:"noTLDQuery,omitempty"`
	NoAAAA              bool `json:"noAAAA,omitempty"`
	UseTCP              bool `json:"useTCP,omitempty"`
	EDNS0               bool `json:"edns0,omitempty"`
	TrustAD             bool `json:"trustAD,omitempty"`
	// UnknownOptions are options (Go: also keywords) this resolver does not
	// know. For Go this matters: a cgo-enabled Go binary then hands lookups
	// to libc (net/conf.go lookupOrder, dnsConfig.unknownOpt).
	UnknownOptions []string `json:"unknownOptions,omitempty"`
	// Notes explain lines this resolver ignored or read unusually, with line
	// numbers (e.g. musl dropping a search line of 255+ characters).
	Notes []string `json:"notes,omitempty"`
}

// Config returns the file as resolver r reads it.
func (rc *ResolvConf) Config(r Resolver) Config {
	switch r.Family() {
	case Musl:
		return rc.muslConfig(r)
	case Go:
		return rc.goConfig()
	default:
		return rc.glibcConfig()
	}
}

// matchKeyword mirrors glibc res_init.c's MATCH macro: the keyword at the very
// start of the line followed by a space or a tab (so "search\n" and
// " search x" do not match).
func matchKeyword(line, kw string) (rest string, ok bool) {
	if len(line) > len(kw) && strings.HasPrefix(line, kw) && (line[len(kw)] == ' ' || line[len(kw)] == '\t') {
		return line[len(kw):], true
	}
	return "", false
}

// glibcConfig mirrors glibc res_init.c (res_vinit_1 / __resolv_conf_load for
// 2.26+) and res_setoptions: comments are lines starting with ';' or '#';
// keywords must start the line; the last "domain" or "search" wins; at most
// MAXNS=3 valid nameservers; ndots capped at RES_MAXNDOTS=15, timeout at
// RES_MAXRETRANS=30, attempts at RES_MAXRETRY=5; options match by prefix in
// the order of res_setoptions' table. LOCALDOMAIN/RES_OPTIONS are not modelled.
func (rc *ResolvConf) glibcConfig() Config {
	c := Config{Resolver: Glibc, Ndots: 1, Attempts: 2, TimeoutSeconds: 5, Search: []string{}, Nameservers: []string{}}
	for _, l := range rc.Lines {
		s := l.Text
		if s == "" || s[0] == ';' || s[0] == '#' {
			continue
		}
		if rest, ok := matchKeyword(s, "domain"); ok {
			f := strings.Fields(rest)
			if len(f) == 0 {
				continue
			}
			c.Search = []string{trimDot(f[0])}
			continue
		}
		if rest, ok := matchKeyword(s, "search"); ok {
			f := strings.Fields(rest)
			if len(f) == 0 {
				// res_init.c: `if ((*cp == '\0') || (*cp == '\n')) continue;`
				continue
			}
			c.Search = c.Search[:0:0]
			for _, d := range f {
				c.Search = append(c.Search, trimDot(d))
			}
			continue
		}
		if rest, ok := matchKeyword(s, "nameserver"); ok {
			f := strings.Fields(rest)
			if len(f) == 0 || len(c.Nameservers) >= 3 {
				if len(f) > 0 {
					c.Notes = append(c.Notes, fmt.Sprintf("%s:%d: nameserver %s ignored: glibc uses at most 3 (MAXNS)", rc.Source, l.Number, f[0]))
				}
				continue
			}
			if _, err := parseNameserver(f[0]); err == nil {
				c.Nameservers = append(c.Nameservers, f[0])
			}
			continue
		}
		if rest, ok := matchKeyword(s, "options"); ok {
			glibcSetOptions(&c, rest)
		}
	}
	return c
}

// glibcSetOptions mirrors res_init.c res_setoptions.
func glibcSetOptions(c *Config, s string) {
	for _, o := range strings.Fields(s) {
		switch {
		case strings.HasPrefix(o, "ndots:"):
			n := atoi(o[len("ndots:"):])
			if n > 15 {
				n = 15
			}
			c.Ndots = n & 15 // statp->ndots is an unsigned:4 bit-field
		case strings.HasPrefix(o, "timeout:"):
			n := atoi(o[len("timeout:"):])
			if n > 30 {
				n = 30
			}
			c.TimeoutSeconds = n
		case strings.HasPrefix(o, "attempts:"):
			n := atoi(o[len("attempts:"):])
			if n > 5 {
				n = 5
			}
			c.Attempts = n
		case strings.HasPrefix(o, "debug"), strings.HasPrefix(o, "inet6"), strings.HasPrefix(o, "ip6-"):
		default:
			// Table order matters: prefix matching, "single-request-reopen"
			// before "single-request".
			switch {
			case strings.HasPrefix(o, "rotate"):
				c.Rotate = true
			case strings.HasPrefix(o, "edns0"):
				c.EDNS0 = true
			case strings.HasPrefix(o, "single-request-reopen"):
				c.SingleRequestReopen = true
			case strings.HasPrefix(o, "single-request"):
				c.SingleRequest = true
			case strings.HasPrefix(o, "no_tld_query"), strings.HasPrefix(o, "no-tld-query"):
				c.NoTLDQuery = true
			case strings.HasPrefix(o, "no-reload"):
			case strings.HasPrefix(o, "use-vc"):
				c.UseTCP = true
			case strings.HasPrefix(o, "trust-ad"):
				c.TrustAD = true
			case strings.HasPrefix(o, "no-aaaa"):
				c.NoAAAA = true
			default:
				c.UnknownOptions = append(c.UnknownOptions, o)
			}
		}
	}
}

// atoi mirrors C atoi: optional sign, leading digits, 0 when there are none.
func atoi(s string) int {
	s = strings.TrimLeft(s, " \t")
	neg := false
	if s != "" && (s[0] == '-' || s[0] == '+') {
		neg = s[0] == '-'
		s = s[1:]
	}
	n := 0
	for i := 0; i < len(s) && s[i] >= '0' && s[i] <= '9'; i++ {
		n = n*10 + int(s[i]-'0')
		if n > 1<<20 {
			break
		}
	}
	if neg {
		return -n
	}
	return n
}

// muslLineBuf is musl's `char line[256]` in resolvconf.c __get_resolv_conf.
const muslLineBuf = 256

// muslConfig mirrors musl src/network/resolvconf.c __get_resolv_conf: lines
// are read with fgets into a 256-byte buffer and a line that does not fit is
// ignored entirely; keywords must start the line and be followed by a space
// character (a newline counts); "options" values are found with strstr
// anywhere on the line; ndots is capped at 15, attempts at 10, timeout at 60;
// at most 3 nameservers; the last "search" or "domain" line wins and is kept
// as raw text (name_from_dns_search splits it on whitespace). No other option
// is read.
func (rc *ResolvConf) muslConfig(r Resolver) Config {
	c := Config{Resolver: r, Ndots: 1, Attempts: 2, TimeoutSeconds: 5, Search: []string{}, Nameservers: []string{}}
	for _, l := range rc.Lines {
		// fgets reads at most 255 bytes; the line fits if its newline is
		// among them, or it is the last line and shorter than 255 bytes.
		if len(l.Text) >= muslLineBuf-1 {
			if strings.HasPrefix(l.Text, "search") || strings.HasPrefix(l.Text, "domain") {
				c.Notes = append(c.Notes, fmt.Sprintf("%s:%d: musl ignores this %d-character line entirely (256-byte line buffer in resolvconf.c), so it has no search list from it", rc.Source, l.Number, len(l.Text)))
			} else {
				c.Notes = append(c.Notes, fmt.Sprintf("%s:%d: musl ignores this %d-character line (256-byte line buffer)", rc.Source, l.Number, len(l.Text)))
			}
			continue
		}
		line := l.Text
		if l.Terminated {
			line += "\n"
		}
		kwSpace := func(kw string) bool {
			return len(line) > len(kw) && strings.HasPrefix(line, kw) && isCSpace(line[len(kw)])
		}
		switch {
		case kwSpace("options"):
			if v, ok := muslOpt(line, "ndots:", false); ok {
				c.Ndots = min(v, 15)
			}
			if v, ok := muslOpt(line, "attempts:", false); ok {
				c.Attempts = min(v, 10)
			}
			if v, ok := muslOpt(line, "timeout:", true); ok {
				c.TimeoutSeconds = min(v, 60)
			}
		case kwSpace("nameserver"):
			if len(c.Nameservers) >= 3 {
				continue
			}
			p := strings.TrimLeft(line[11:], " \t\n\r\v\f")
			if i := strings.IndexAny(p, " \t\n\r\v\f"); i >= 0 {
				p = p[:i]
			}
			if _, err := parseNameserver(p); err == nil {
				c.Nameservers = append(c.Nameservers, p)
			}
		case kwSpace("domain"), kwSpace("search"):
			c.Search = []string{}
			for _, d := range strings.Fields(line[7:]) {
				c.Search = append(c.Search, d) // musl keeps the text as written
			}
		}
	}
	return c
}

// muslOpt mirrors `p = strstr(line, "ndots:"); if (p && isdigit(p[6]))
// strtoul(...)`; timeout also accepts a leading '.'.
func muslOpt(line, key string, allowDot bool) (int, bool) {
	i := strings.Index(line, key)
	if i < 0 {
		return 0, false
	}
	p := line[i+len(key):]
	if p == "" || !(isDigit(p[0]) || (allowDot && p[0] == '.')) {
		return 0, false
	}
	n, ok := 0, false
	for j := 0; j < len(p) && isDigit(p[j]); j++ {
		n = n*10 + int(p[j]-'0')
		ok = true
		if n > 1<<20 {
			break
		}
	}
	return n, ok
}

func isDigit(b byte) bool { return b >= '0' && b <= '9' }

func isCSpace(b byte) bool {
	return b == ' ' || b == '\t' || b == '\n' || b == '\r' || b == '\v' || b == '\f'
}

// goConfig mirrors Go's src/net/dnsconfig_unix.go dnsReadConfig (go1.26):
// comments are lines whose first byte is ';' or '#'; fields split on space,
// \r, \t, \n; at most 3 nameservers that parse as IP addresses; "domain" and
// "search" replace the search list, "." search entries are skipped; ndots is
// clamped to 0..15, timeout and attempts to >= 1; any option or keyword it does
// not know sets unknownOpt.
func (rc *ResolvConf) goConfig() Config {
	c := Config{Resolver: Go, Ndots: 1, Attempts: 2, TimeoutSeconds: 5, Search: []string{}, Nameservers: []string{}}
	for _, l := range rc.Lines {
		s := l.Text
		if len(s) > 0 && (s[0] == ';' || s[0] == '#') {
			continue
		}
		f := strings.FieldsFunc(s, func(r rune) bool { return r == ' ' || r == '\r' || r == '\t' || r == '\n' })
		if len(f) < 1 {
			continue
		}
		switch f[0] {
		case "nameserver":
			if len(f) > 1 && len(c.Nameservers) < 3 {
				if _, err := netip.ParseAddr(f[1]); err == nil {
					c.Nameservers = append(c.Nameservers, f[1])
				}
			}
		case "domain":
			if len(f) > 1 {
				c.Search = []string{trimDot(f[1])}
			}
		case "search":
			c.Search = []string{}
			for _, d := range f[1:] {
				if d == "." { // ensureRooted(".") == "." is skipped
					continue
				}
				c.Search = append(c.Search, trimDot(d))
			}
		case "options":
			for _, o := range f[1:] {
				switch {
				case strings.HasPrefix(o, "ndots:"):
					n, _ := goDtoi(o[6:])
					c.Ndots = max(0, min(n, 15))
				case strings.HasPrefix(o, "timeout:"):
					n, _ := goDtoi(o[8:])
					c.TimeoutSeconds = max(n, 1)
				case strings.HasPrefix(o, "attempts:"):
					n, _ := goDtoi(o[9:])
					c.Attempts = max(n, 1)
				case o == "rotate":
					c.Rotate = true
				case o == "single-request" || o == "single-request-reopen":
					c.SingleRequest = true
				case o == "use-vc" || o == "usevc" || o == "tcp":
					c.UseTCP = true
				case o == "trust-ad":
					c.TrustAD = true
				case o == "edns0", o == "no-reload":
				default:
					c.UnknownOptions = append(c.UnknownOptions, o)
				}
			}
		case "lookup":
		default:
			c.UnknownOptions = append(c.UnknownOptions, f[0])
		}
	}
	// Go always sends EDNS0 (dnsclient_unix.go newRequest).
	c.EDNS0 = true
	return c
}

// goDtoi mirrors net.dtoi: leading decimal digits, 0 when there are none.
func goDtoi(s string) (int, bool) {
	n, i := 0, 0
	for ; i < len(s) && isDigit(s[i]); i++ {
		n = n*10 + int(s[i]-'0')
		if n >= 0xFFFFFF {
			return 0xFFFFFF, false
		}
	}
	return n, i > 0
}

func trimDot(s string) string {
	if s == "." {
		return s
	}
	return strings.TrimSuffix(s, ".")
}

// Format renders a resolv.conf the way containerd writes the pod's file from
// kubelet's runtimeapi.DNSConfig (internal/cri/server/podsandbox
// sandbox_run_linux.go parseDNSOptions): "search ..." first, then one
// "nameserver" line per server, then "options ...", each only when non-empty.
func Format(servers, searches, options []string) string {
	var b strings.Builder
	if len(searches) > 0 {
		b.WriteString("search " + strings.Join(searches, " ") + "\n")
	}
	for _, s := range servers {
		b.WriteString("nameserver " + s + "\n")
	}
	if len(options) > 0 {
		b.WriteString("options " + strings.Join(options, " ") + "\n")
	}
	return b.String()
}
