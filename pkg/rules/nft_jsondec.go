package rules

import (
	"encoding/json"
	"fmt"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// A small JSON decoder for `nft -j list ruleset`. A 5,000-Service dump is
// about twenty megabytes of small objects, and encoding/json's generic
// decoding into maps spends most of its time allocating them; this one
// keeps objects as key/value slices and strings and numbers as substrings
// of the input where they need no unescaping. It yields the same values
// encoding/json does (objects aside, numbers as json.Number): FuzzJSONDecode
// checks it against encoding/json.

// jkv is one member of a JSON object; jobj an object, in input order.
type jkv struct {
	k string
	v any
}

type jobj []jkv

// get returns the value of key k (the last one, as encoding/json keeps).
func (o jobj) get(k string) any {
	for i := len(o) - 1; i >= 0; i-- {
		if o[i].k == k {
			return o[i].v
		}
	}
	return nil
}

// jsonMaxDepth is encoding/json's nesting limit.
const jsonMaxDepth = 10000

type jdec struct {
	s     string
	i     int
	depth int
}

// jsonDecode decodes the first JSON value of s (what follows it is
// ignored, as json.Decoder does).
func jsonDecode(s string) (any, error) {
	d := &jdec{s: s}
	d.ws()
	return d.value()
}

func (d *jdec) errf(format string, args ...any) error {
	line := strings.Count(d.s[:min(d.i, len(d.s))], "\n") + 1
	return fmt.Errorf("line %d (offset %d): %s", line, d.i, fmt.Sprintf(format, args...))
}

func (d *jdec) ws() {
	for d.i < len(d.s) {
		switch d.s[d.i] {
		case ' ', '\t', '\n', '\r':
			d.i++
		default:
			return
		}
	}
}

func (d *jdec) value() (any, error) {
	if d.i >= len(d.s) {
		return nil, d.errf("unexpected end of JSON input")
	}
	switch c := d.s[d.i]; {
	case c == '{':
		return d.object()
	case c == '[':
		return d.array()
	case c == '"':
		return d.str()
	case c == '-' || (c >= '0' && c <= '9'):
		return d.number()
	case strings.HasPrefix(d.s[d.i:], "true"):
		d.i += 4
		return true, nil
	case strings.HasPrefix(d.s[d.i:], "false"):
		d.i += 5
		return false, nil
	case strings.HasPrefix(d.s[d.i:], "null"):
		d.i += 4
		return nil, nil
	default:
		return nil, d.errf("invalid character %q looking for beginning of value", c)
	}
}

func (d *jdec) object() (any, error) {
	if d.depth++; d.depth > jsonMaxDepth {
		return nil, d.errf("exceeded max depth")
	}
	defer func() { d.depth-- }()
	d.i++ // '{'
	o := make(jobj, 0, 4)
	d.ws()
	if d.i < len(d.s) && d.s[d.i] == '}' {
		d.i++
		return o, nil
	}
	for {
		if d.i >= len(d.s) || d.s[d.i] != '"' {
			return nil, d.errf("object key must be a string")
		}
		k, err := d.str()
		if err != nil {
			return nil, err
		}
		d.ws()
		if d.i >= len(d.s) || d.s[d.i] != ':' {
			return nil, d.errf("missing ':' after object key")
		}
		d.i++
		d.ws()
		v, err := d.value()
		if err != nil {
			return nil, err
		}
		o = append(o, jkv{k.(string), v})
		d.ws()
		if d.i >= len(d.s) {
			return nil, d.errf("unexpected end of JSON input")
		}
		switch d.s[d.i] {
		case ',':
			d.i++
			d.ws()
		case '}':
			d.i++
			return o, nil
		default:
			return nil, d.errf("invalid character %q after object key:value pair", d.s[d.i])
		}
	}
}

func (d *jdec) array() (any, error) {
	if d.depth++; d.depth > jsonMaxDepth {
		return nil, d.errf("exceeded max depth")
	}
	defer func() { d.depth-- }()
	d.i++ // '['
	a := make([]any, 0, 4)
	d.ws()
	if d.i < len(d.s) && d.s[d.i] == ']' {
		d.i++
		return a, nil
	}
	for {
		v, err := d.value()
		if err != nil {
			return nil, err
		}
		a = append(a, v)
		d.ws()
		if d.i >= len(d.s) {
			return nil, d.errf("unexpected end of JSON input")
		}
		switch d.s[d.i] {
		case ',':
			d.i++
			d.ws()
		case ']':
			d.i++
			return a, nil
		default:
			return nil, d.errf("invalid character %q after array element", d.s[d.i])
		}
	}
}

// str reads a string: a substring of the input when it has no escapes,
// invalid UTF-8 and control characters; else decoded as encoding/json
// does (invalid bytes and lone surrogates become U+FFFD).
func (d *jdec) str() (any, error) {
	start := d.i + 1
	j := start
	for j < len(d.s) {
		c := d.s[j]
		if c == '"' {
			d.i = j + 1
			return d.s[start:j], nil
		}
		if c == '\\' || c < 0x20 || c >= utf8.RuneSelf {
			break
		}
		j++
	}
	var b strings.Builder
	b.WriteString(d.s[start:j])
	for j < len(d.s) {
		c := d.s[j]
		switch {
		case c == '"':
			d.i = j + 1
			return b.String(), nil
		case c < 0x20:
			d.i = j
			return nil, d.errf("invalid character %q in string literal", c)
		case c == '\\':
			if j+1 >= len(d.s) {
				d.i = j
				return nil, d.errf("unexpected end of JSON input")
			}
			switch e := d.s[j+1]; e {
			case '"', '\\', '/':
				b.WriteByte(e)
			case 'b':
				b.WriteByte('\b')
			case 'f':
				b.WriteByte('\f')
			case 'n':
				b.WriteByte('\n')
			case 'r':
				b.WriteByte('\r')
			case 't':
				b.WriteByte('\t')
			case 'u':
				r, ok := hex4(d.s, j+2)
				if !ok {
					d.i = j
					return nil, d.errf("invalid \\u escape")
				}
				j += 6
				if utf16.IsSurrogate(r) {
					if r2, ok := hex4(d.s, j+2); ok && j+1 < len(d.s) && d.s[j] == '\\' && d.s[j+1] == 'u' {
						if dec := utf16.DecodeRune(r, r2); dec != utf8.RuneError {
							b.WriteRune(dec)
							j += 6
							continue
						}
					}
					r = utf8.RuneError
				}
				b.WriteRune(r)
				continue
			default:
				d.i = j
				return nil, d.errf("invalid escape %q in string", e)
			}
			j += 2
		case c < utf8.RuneSelf:
			b.WriteByte(c)
			j++
		default:
			r, size := utf8.DecodeRuneInString(d.s[j:])
			if r == utf8.RuneError && size == 1 {
				b.WriteRune(utf8.RuneError)
			} else {
				b.WriteString(d.s[j : j+size])
			}
			j += size
		}
	}
	d.i = j
	return nil, d.errf("unexpected end of JSON input")
}

func hex4(s string, i int) (rune, bool) {
	if i+4 > len(s) {
		return 0, false
	}
	var r rune
	for _, c := range []byte(s[i : i+4]) {
		switch {
		case c >= '0' && c <= '9':
			r = r<<4 | rune(c-'0')
		case c >= 'a' && c <= 'f':
			r = r<<4 | rune(c-'a'+10)
		case c >= 'A' && c <= 'F':
			r = r<<4 | rune(c-'A'+10)
		default:
			return 0, false
		}
	}
	return r, true
}

// number reads a number by JSON's grammar, kept as written.
func (d *jdec) number() (any, error) {
	start := d.i
	i := d.i
	if i < len(d.s) && d.s[i] == '-' {
		i++
	}
	digits := func() bool {
		j := i
		for i < len(d.s) && d.s[i] >= '0' && d.s[i] <= '9' {
			i++
		}
		return i > j
	}
	switch {
	case i < len(d.s) && d.s[i] == '0':
		i++
	case !digits():
		d.i = i
		return nil, d.errf("invalid number")
	}
	if i < len(d.s) && d.s[i] == '.' {
		i++
		if !digits() {
			d.i = i
			return nil, d.errf("invalid number")
		}
	}
	if i < len(d.s) && (d.s[i] == 'e' || d.s[i] == 'E') {
		i++
		if i < len(d.s) && (d.s[i] == '+' || d.s[i] == '-') {
			i++
		}
		if !digits() {
			d.i = i
			return nil, d.errf("invalid number")
		}
	}
	d.i = i
	return json.Number(d.s[start:i]), nil
}
