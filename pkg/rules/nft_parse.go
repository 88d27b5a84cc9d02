package rules

import (
	"fmt"
	"regexp"
	"strings"
)

// ParseNFTString parses an nftables dump: `nft -j list ruleset` (JSON, what
// the node helper collects), `nft list ruleset` (what people paste), or an
// `nft -f` file such as the transactions kube-proxy sends. Every form gives
// the same model (Ruleset.NFT). The only error is ErrNoRules, with the
// partial ruleset; problems inside the dump are Warnings.
func ParseNFTString(text string, opts ParseOptions) (*Ruleset, error) {
	rs := &Ruleset{Source: opts.Source, text: text}
	var nr *NFTRuleset
	if t := strings.TrimLeft(text, " \t\r\n"); strings.HasPrefix(t, "{") {
		rs.Format = FormatNFTJSON
		var ws []Warning
		var err error
		nr, ws, err = parseNFTJSON(text, opts.Source)
		if err != nil {
			return rs, err
		}
		rs.Warnings = append(rs.Warnings, ws...)
	} else {
		rs.Format = FormatNFT
		p := &ntp{src: opts.Source, text: text, toks: nftLex(text), rs: &NFTRuleset{}}
		p.run()
		nr = p.rs
		rs.Warnings = append(rs.Warnings, p.ws...)
		for _, m := range iptNFTWarning.FindAllStringSubmatch(text, -1) {
			if t := nr.Table(m[1], m[2]); t != nil {
				t.IptablesNFT = true
			}
		}
	}
	rs.Lines = strings.Count(text, "\n")
	rs.NFT = nr
	for _, t := range nr.Tables {
		t.rs = rs
		if looksIptablesNFT(t) {
			t.IptablesNFT = true
		}
	}
	rs.Warnings = append(rs.Warnings, nr.resolve(opts.Source)...)
	fams := map[string]bool{}
	for _, t := range nr.Tables {
		fams[t.Family] = true
	}
	switch {
	case opts.Family != FamilyUnknown:
		rs.Family = opts.Family
	case len(fams) == 1 && fams["ip"]:
		rs.Family = IPv4
	case len(fams) == 1 && fams["ip6"]:
		rs.Family = IPv6
	}
	if len(nr.Tables) == 0 {
		return rs, fmt.Errorf("%s: %w", sourceName(opts.Source), ErrNoRules)
	}
	return rs, nil
}

// iptNFTWarning is the comment nft prints after a table iptables-nft owns.
var iptNFTWarning = regexp.MustCompile(`# Warning: table (\S+) (\S+) is managed by iptables-nft`)

// looksIptablesNFT: an ip/ip6 table named like an iptables table whose
// base chains carry iptables' built-in names.
func looksIptablesNFT(t *NFTTable) bool {
	if t.Family != "ip" && t.Family != "ip6" {
		return false
	}
	switch t.Name {
	case "filter", "nat", "mangle", "raw", "security":
	default:
		return false
	}
	for _, c := range t.Chains {
		if c.Base() && c.Name == strings.ToUpper(c.Hook) {
			return true
		}
	}
	return false
}
