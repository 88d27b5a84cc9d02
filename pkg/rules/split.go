package rules

import "strings"

// splitErr describes why a line could not be split cleanly.
type splitErr uint8

const (
	splitOK splitErr = iota
	// splitUnterminated: a double quote was opened and never closed; the
	// typical sign of a dump cut off in the middle of a comment.
	splitUnterminated
)

// splitArgs splits one iptables-restore line into words exactly as
// iptables-restore does (add_param_to_argv in iptables/xshared.c):
//
//   - words are separated by spaces, tabs or newlines;
//   - a double quote opens a quoted section in which spaces are literal and
//     a backslash makes the next character literal (iptables-save prints
//     `"`, `\` and `'` as `\"`, `\\`, `\'` inside quotes, see
//     xtables_save_string in libxtables);
//   - outside quotes a backslash is an ordinary character;
//   - a closing quote ends the word, even when more characters follow it.
//
// Words are appended to dst. Words that need no unescaping are substrings of
// line, so the common case allocates nothing.
func splitArgs(line string, dst []string) ([]string, splitErr) {
	if strings.IndexByte(line, '"') < 0 {
		return splitPlain(line, dst), splitOK
	}
	dst, _, err := splitQuoted(line, dst, nil, false)
	return dst, err
}

// splitEnds is splitArgs that also returns, per word, the byte offset just
// past it in line, so callers can find where a part of the rule (the
// target's options) starts in the raw text.
func splitEnds(line string, dst []string, ends []int32) ([]string, []int32, splitErr) {
	ends = ends[:0]
	if strings.IndexByte(line, '"') < 0 {
		dst, ends = splitPlainEnds(line, dst, ends)
		return dst, ends, splitOK
	}
	return splitQuoted(line, dst, ends, true)
}

func splitPlain(line string, dst []string) []string {
	i := 0
	n := len(line)
	for i < n {
		for i < n && (line[i] == ' ' || line[i] == '\t' || line[i] == '\n') {
			i++
		}
		if i >= n {
			break
		}
		j := i
		for j < n && line[j] != ' ' && line[j] != '\t' && line[j] != '\n' {
			j++
		}
		dst = append(dst, line[i:j])
		i = j
	}
	return dst
}

func splitPlainEnds(line string, dst []string, ends []int32) ([]string, []int32) {
	i := 0
	n := len(line)
	for i < n {
		for i < n && (line[i] == ' ' || line[i] == '\t' || line[i] == '\n') {
			i++
		}
		if i >= n {
			break
		}
		j := i
		for j < n && line[j] != ' ' && line[j] != '\t' && line[j] != '\n' {
			j++
		}
		dst = append(dst, line[i:j])
		ends = append(ends, int32(j))
		i = j
	}
	return dst, ends
}

// splitQuoted is the slow path of splitArgs for lines with quotes. It
// follows add_param_to_argv's state machine character by character.
func splitQuoted(line string, dst []string, ends []int32, wantEnds bool) ([]string, []int32, splitErr) {
	var (
		buf      []byte // only used once a word needs unescaping or joining
		start    = -1   // start of the current word when it is a plain substring
		end      = -1
		inQuote  bool
		escaped  bool
		copying  bool // buf holds the word (it is not a plain substring)
		hasParam bool // a word is in progress (possibly empty: `""`)
	)
	emit := func(pos int) {
		if copying {
			dst = append(dst, string(buf))
		} else if start >= 0 {
			dst = append(dst, line[start:end])
		} else {
			dst = append(dst, "")
		}
		if wantEnds {
			ends = append(ends, int32(pos))
		}
		buf = buf[:0]
		start, end = -1, -1
		copying, hasParam = false, false
	}
	// add appends line[i] to the current word, switching to the copy
	// buffer when the word stops being one contiguous substring.
	add := func(i int) {
		hasParam = true
		if copying {
			buf = append(buf, line[i])
			return
		}
		if start < 0 {
			start, end = i, i+1
			return
		}
		if end == i {
			end++
			return
		}
		copying = true
		buf = append(buf[:0], line[start:end]...)
		buf = append(buf, line[i])
	}
	for i := 0; i < len(line); i++ {
		c := line[i]
		if inQuote {
			switch {
			case escaped:
				add(i)
				escaped = false
			case c == '\\':
				escaped = true
			case c == '"':
				inQuote = false
				hasParam = true
				emit(i + 1)
			default:
				add(i)
			}
			continue
		}
		switch c {
		case '"':
			inQuote = true
			hasParam = true
		case ' ', '\t', '\n':
			if hasParam {
				emit(i)
			}
		default:
			add(i)
		}
	}
	if hasParam {
		emit(len(line))
	}
	if inQuote {
		return dst, ends, splitUnterminated
	}
	return dst, ends, splitOK
}
