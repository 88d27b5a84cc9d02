package rules

import (
	"strings"
)

// ntok is one token of nft's text syntax (what `nft list ruleset` prints
// and `nft -f` reads): a word, a quoted string, punctuation, or a line end.
type ntok struct {
	s    string // the word, the string's contents, or the punctuation
	off  int32  // byte offset in the source (start)
	end  int32  // byte offset just past the token
	line int32
	kind ntokKind
}

type ntokKind uint8

const (
	tkWord  ntokKind = iota
	tkStr            // "quoted"
	tkPunct          // { } , ; = == != < > <= >= & | ^ ( ) and a lone "." or ":"
	tkNL             // end of line
)

// nftLex splits nft text into tokens. It follows nft's scanner where it
// matters for what nft prints: '#' starts a comment outside quotes (nft -a
// prints "# handle N"), words run over letters, digits and the characters
// of addresses, names and ranges (so 10.0.0.0/8, fd00::1, [fd00::1]:80,
// 1024-65535 and service-X-ns/name/tcp/p80 are one word each), and the
// concatenation dot and the map colon are tokens only when they stand
// alone, as nft prints them (" . ", " : ").
func nftLex(text string) []ntok {
	toks := make([]ntok, 0, len(text)/4)
	line := int32(1)
	i := 0
	n := len(text)
	for i < n {
		c := text[i]
		switch {
		case c == '\n':
			toks = append(toks, ntok{s: "\n", off: int32(i), end: int32(i + 1), line: line, kind: tkNL})
			line++
			i++
		case c == ' ' || c == '\t' || c == '\r':
			i++
		case c == '#':
			for i < n && text[i] != '\n' {
				i++
			}
		case c == '"':
			j := i + 1
			var b strings.Builder
			esc := false
			for j < n && text[j] != '\n' {
				if text[j] == '\\' && j+1 < n && text[j+1] == '"' {
					esc = true
					b.WriteByte('"')
					j += 2
					continue
				}
				if text[j] == '"' {
					break
				}
				b.WriteByte(text[j])
				j++
			}
			s := text[i+1 : min(j, n)]
			if esc {
				s = b.String()
			}
			end := j
			if j < n && text[j] == '"' {
				end = j + 1
			}
			toks = append(toks, ntok{s: s, off: int32(i), end: int32(end), line: line, kind: tkStr})
			i = end
		case strings.IndexByte("{},;()=&|^", c) >= 0:
			if c == '=' && i+1 < n && text[i+1] == '=' {
				toks = append(toks, ntok{s: "==", off: int32(i), end: int32(i + 2), line: line, kind: tkPunct})
				i += 2
				continue
			}
			toks = append(toks, ntok{s: text[i : i+1], off: int32(i), end: int32(i + 1), line: line, kind: tkPunct})
			i++
		case c == '!' || c == '<' || c == '>':
			j := i + 1
			if j < n && (text[j] == '=' || (c != '!' && text[j] == c)) {
				j++
			}
			toks = append(toks, ntok{s: text[i:j], off: int32(i), end: int32(j), line: line, kind: tkPunct})
			i = j
		default:
			j := i
			for j < n && isNFTWordByte(text[j]) {
				j++
			}
			if j == i {
				// a byte that is no token: keep it as a word of its own,
				// so the parser reports it
				j = i + 1
			}
			w := text[i:j]
			kind := tkWord
			if w == "." || w == ":" {
				kind = tkPunct
			}
			toks = append(toks, ntok{s: w, off: int32(i), end: int32(j), line: line, kind: kind})
			i = j
		}
	}
	return toks
}

func isNFTWordByte(c byte) bool {
	switch {
	case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		return true
	}
	switch c {
	case '.', ':', '/', '-', '_', '@', '[', ']', '*', '$', '+', '%', '~':
		return true
	}
	return false
}
