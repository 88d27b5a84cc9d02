package cmd

import (
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/term"
	"k8s.io/cli-runtime/pkg/printers"
)

// progressPrinter shows the node helper pods' lifecycle on stderr (stdout is
// for results): on a terminal one live line, rewritten in place, with every
// node's current phase; otherwise one plain line per event, so logs and CI
// output read top to bottom. Node names and details come from the cluster
// and are escaped before they reach a terminal.
type progressPrinter struct {
	mu    sync.Mutex
	w     io.Writer
	tty   bool
	width int
	start time.Time
	now   func() time.Time
	order []string          // nodes in order of first event
	state map[string]string // node → what it is doing
	shown bool              // a live line is on the screen
}

// newProgressPrinter decides between the live line and plain lines on the
// real writer: a terminal whose TERM is not dumb gets the live line.
func newProgressPrinter(w io.Writer) *progressPrinter {
	tty, width := false, 0
	if f, ok := w.(*os.File); ok && term.IsTerminal(int(f.Fd())) && os.Getenv("TERM") != "dumb" {
		tty = true
		if cols, _, err := term.GetSize(int(f.Fd())); err == nil {
			width = cols
		}
	}
	return newProgressPrinterFor(w, tty, width, time.Now)
}

func newProgressPrinterFor(w io.Writer, tty bool, width int, now func() time.Time) *progressPrinter {
	if width <= 0 {
		width = 80
	}
	return &progressPrinter{w: w, tty: tty, width: width, start: now(), now: now, state: map[string]string{}}
}

// Event is a nodehelper.Progress.
func (p *progressPrinter) Event(node, phase, detail string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	node = printers.EscapeTerminal(node)
	detail = printers.EscapeTerminal(detail)
	if _, ok := p.state[node]; !ok {
		p.order = append(p.order, node)
	}
	if p.tty {
		p.state[node] = short(phase, detail)
		p.redraw()
		return
	}
	p.state[node] = phase
	if phase == "transferring" {
		return // the byte count would flood a log; "collected" has the size
	}
	fmt.Fprintf(p.w, "svc-trace: [%5.2fs] node %s: %s\n", p.now().Sub(p.start).Seconds(), node, long(phase, detail))
}

// Done clears the live line (plain output needs nothing).
func (p *progressPrinter) Done() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.shown {
		fmt.Fprint(p.w, "\r\x1b[K")
		p.shown = false
	}
}

func (p *progressPrinter) redraw() {
	parts := make([]string, 0, len(p.order))
	for _, n := range p.order {
		parts = append(parts, n+" "+p.state[n])
	}
	line := fmt.Sprintf("svc-trace [%.1fs] %s", p.now().Sub(p.start).Seconds(), strings.Join(parts, " · "))
	if r := []rune(line); len(r) > p.width-1 {
		line = string(r[:p.width-2]) + "…"
	}
	fmt.Fprint(p.w, "\r\x1b[K"+line)
	p.shown = true
}

// long is a phase as a log line.
func long(phase, detail string) string {
	switch phase {
	case "creating":
		return "creating helper pod " + detail
	case "scheduled":
		return "scheduled " + detail
	case "pulling":
		return "pulling " + detail
	case "starting":
		return "starting (" + detail + ")"
	case "running":
		return "running, " + detail
	case "collected":
		return "collected " + detail
	case "deleted":
		return "deleted helper pod " + detail
	case "kept":
		return "kept helper pod " + detail + " (--keep-helper; remove it with: kubectl svc-trace cleanup)"
	case "error":
		return "failed: " + detail
	}
	return strings.TrimSpace(phase + " " + detail)
}

// short is a phase as a few words of the live line.
func short(phase, detail string) string {
	switch phase {
	case "transferring":
		if n, err := strconv.ParseInt(detail, 10, 64); err == nil {
			return "receiving " + humanBytes(n)
		}
	case "starting":
		return "starting (" + detail + ")"
	case "running":
		return "collecting"
	case "error":
		return "failed"
	}
	return phase
}

// humanBytes formats a byte count the way ls -h and kubectl do (1024-based).
func humanBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}
