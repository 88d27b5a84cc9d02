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
// follows add_param_to_argv's state machine character by character. (The
// word state is a struct on the stack rather than closures, which would
// allocate on every quoted line.)
func splitQuoted(line string, dst []string, ends []int32, wantEnds bool) ([]string, []int32, splitErr) {
	w := qword{start: -1, end: -1}
	inQuote, escaped := false, false
	for i := 0; i < len(line); i++ {
		c := line[i]
		if inQuote {
			switch {
			case escaped:
				w.add(line, i)
				escaped = false
			case c == '\\':
				escaped = true
			case c == '"':
				inQuote = false
				w.has = true
				dst, ends = w.emit(line, i+1, dst, ends, wantEnds)
			default:
				w.add(line, i)
			}
			continue
		}
		switch c {
		case '"':
			inQuote = true
			w.has = true
		case ' ', '\t', '\n':
			if w.has {
				dst, ends = w.emit(line, i, dst, ends, wantEnds)
			}
		default:
			w.add(line, i)
		}
	}
	if w.has {
		dst, ends = w.emit(line, len(line), dst, ends, wantEnds)
	}
	if inQuote {
		return dst, ends, splitUnterminated
	}
	return dst, ends, splitOK
}

// qword is the word being assembled by splitQuoted: a substring of the
// line while it is contiguous, else a copy in buf.
type qword struct {
	buf        []byte
	start, end int
	copying    bool
	has        bool // a word is in progress (possibly empty: `""`)
}

// add appends line[i] to the word, switching to the copy buffer when the
// word stops being one contiguous substring.
func (w *qword) add(line string, i int) {
	w.has = true
	switch {
	case w.copying:
		w.buf = append(w.buf, line[i])
	case w.start < 0:
		w.start, w.end = i, i+1
	case w.end == i:
		w.end++
	default:
		w.copying = true
		w.buf = append(w.buf[:0], line[w.start:w.end]...)
		w.buf = append(w.buf, line[i])
	}
}

func (w *qword) emit(line string, pos int, dst []string, ends []int32, wantEnds bool) ([]string, []int32) {
	switch {
	case w.copying:
		dst = append(dst, string(w.buf))
	case w.start >= 0:
		dst = append(dst, line[w.start:w.end])
	default:
		dst = append(dst, "")
	}
	if wantEnds {
		ends = append(ends, int32(pos))
	}
	w.buf = w.buf[:0]
	w.start, w.end = -1, -1
	w.copying, w.has = false, false
	return dst, ends
}
