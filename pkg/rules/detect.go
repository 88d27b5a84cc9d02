package rules

import (
	"fmt"
	"io"
	"os"
	"strings"
)

// DetectAnyFormat says which kind of node dump text is, from its first
// meaningful lines, so `eval --rules` takes any of them: iptables-save and
// `iptables -S` (FormatSave, FormatSpec), `nft list ruleset` and `nft -f`
// files (FormatNFT), `nft -j list ruleset` (FormatNFTJSON), ipvsadm's list
// and save forms (FormatIPVS), `ipset save` and `ipset list` (FormatIPSet).
func DetectAnyFormat(text string) Format {
	t := strings.TrimLeft(text, " \t\r\n")
	if strings.HasPrefix(t, "{") {
		if strings.Contains(t[:min(len(t), 4096)], `"nftables"`) {
			return FormatNFTJSON
		}
		return FormatUnknown
	}
	for n := 0; t != "" && n < 200; n++ {
		var line string
		line, t, _ = strings.Cut(t, "\n")
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		w := strings.Fields(line)
		switch w[0] {
		case "IP", "Prot":
			if strings.HasPrefix(line, "IP Virtual Server") || strings.HasPrefix(line, "Prot LocalAddress") {
				return FormatIPVS
			}
		case "-A", "-a", "--add-service", "--add-server":
			// ipvsadm -S: "-A -t 10.96.0.1:443 -s rr" (iptables -S has a
			// chain name after -A)
			if len(w) > 1 && (w[1] == "-t" || w[1] == "-u" || w[1] == "-f" || strings.HasPrefix(w[1], "--")) {
				return FormatIPVS
			}
		case "Name:":
			return FormatIPSet
		case "table":
			return FormatNFT
		case "add", "create", "insert", "replace", "flush", "delete", "destroy":
			if len(w) > 1 {
				switch w[1] {
				case "table", "chain", "rule", "set", "map", "element", "ruleset", "counter", "quota", "flowtable":
					return FormatNFT
				}
			}
			// ipset save: "create NAME hash:ip,port ...", "add NAME member"
			if w[0] == "create" && len(w) > 2 && (strings.HasPrefix(w[2], "hash:") || strings.HasPrefix(w[2], "bitmap:") || strings.HasPrefix(w[2], "list:")) {
				return FormatIPSet
			}
			if w[0] == "add" && len(w) == 3 {
				return FormatIPSet
			}
		}
		return DetectFormat(line + "\n" + t)
	}
	return FormatUnknown
}

// ParseAny reads a whole dump and parses it with ParseAnyString.
func ParseAny(r io.Reader, opts ParseOptions) (*Ruleset, error) {
	var b strings.Builder
	switch v := r.(type) {
	case interface{ Len() int }:
		b.Grow(v.Len())
	case *os.File:
		if st, err := v.Stat(); err == nil && st.Size() > 0 && st.Size() < 1<<34 {
			b.Grow(int(st.Size()) + 1)
		}
	}
	if _, err := io.Copy(&b, r); err != nil {
		return nil, fmt.Errorf("reading %s: %w", sourceName(opts.Source), err)
	}
	return ParseAnyString(b.String(), opts)
}

// ParseAnyString detects the dump's form (DetectAnyFormat) and parses it.
// The only errors are ErrNoRules (nothing recognisable) and unreadable
// JSON; everything else is a Warning in the returned Ruleset.
func ParseAnyString(text string, opts ParseOptions) (*Ruleset, error) {
	switch DetectAnyFormat(text) {
	case FormatNFT, FormatNFTJSON:
		return ParseNFTString(text, opts)
	case FormatIPVS:
		return ParseIPVSString(text, opts)
	case FormatIPSet:
		return ParseIPSetString(text, opts)
	}
	return ParseString(text, opts)
}
