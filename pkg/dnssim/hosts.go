package dnssim

import (
	"net/netip"
	"strings"
)

// HostsEntry is one address line of an /etc/hosts file.
type HostsEntry struct {
	Line  int      `json:"line"`
	IP    string   `json:"ip"`
	Names []string `json:"names"`
}

// Hosts is a parsed /etc/hosts. Lines that do not start with an IP address are
// skipped, as every resolver skips them.
type Hosts struct {
	Entries []HostsEntry `json:"entries"`
}

// ParseHosts reads /etc/hosts text: '#' starts a comment anywhere on a line,
// fields are separated by blanks, the first field is the address.
func ParseHosts(text string) *Hosts {
	h := &Hosts{}
	for i, line := range strings.Split(text, "\n") {
		if j := strings.IndexByte(line, '#'); j >= 0 {
			line = line[:j]
		}
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		if _, err := netip.ParseAddr(f[0]); err != nil {
			continue
		}
		h.Entries = append(h.Entries, HostsEntry{Line: i + 1, IP: f[0], Names: f[1:]})
	}
	return h
}

// Lookup returns the addresses /etc/hosts gives name for resolver r and
// family, and the canonical (first) name of the first matching line. The
// rules differ by resolver:
//   - glibc nss_files (_nss_files_gethostbyname4_r): case-insensitive match,
//     the name as given (a trailing dot does not match);
//   - musl name_from_hosts (lookup_name.c): a case-sensitive whitespace-
//     delimited strstr match of the name as given;
//   - Go lookupStaticHost (hosts.go): case-insensitive, both sides made
//     absolute, so "name." matches "name".
//
// All three consult /etc/hosts before DNS (nsswitch "hosts: files dns" for
// glibc, __lookup_name for musl, hostLookupFilesDNS for Go), so a hit costs no
// query.
func (h *Hosts) Lookup(r Resolver, name string, fam AddrFamily) (addrs []string, canon string) {
	if h == nil {
		return nil, ""
	}
	match := func(entry string) bool {
		switch r.Family() {
		case Musl:
			return entry == name
		case Go:
			return strings.EqualFold(strings.TrimSuffix(entry, "."), strings.TrimSuffix(name, "."))
		default:
			return strings.EqualFold(entry, name)
		}
	}
	for _, e := range h.Entries {
		hit := false
		for _, n := range e.Names {
			if match(n) {
				hit = true
				break
			}
		}
		if !hit {
			continue
		}
		a, _ := netip.ParseAddr(e.IP)
		if !fam.Wants(a) {
			continue
		}
		if canon == "" {
			canon = e.Names[0]
		}
		addrs = append(addrs, a.Unmap().String())
	}
	return addrs, canon
}
