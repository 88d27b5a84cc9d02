package cmd

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

// fakeClock advances by step on every reading.
func fakeClock(step time.Duration) func() time.Time {
	t := time.Unix(0, 0)
	return func() time.Time { t = t.Add(step); return t }
}

func TestProgressPlain(t *testing.T) {
	var buf bytes.Buffer
	p := newProgressPrinterFor(&buf, false, 0, fakeClock(250*time.Millisecond))
	p.Event("node1", "creating", "kube-system/svc-trace-node1-abcde")
	p.Event("node1", "scheduled", "on node node1")
	p.Event("node1", "running", "collecting")
	p.Event("node1", "transferring", "4194304")
	p.Event("node1", "collected", "70 files, 11765 bytes compressed")
	p.Event("node\x1b[31mX", "error", "boom\r")
	p.Event("node1", "deleted", "kube-system/svc-trace-node1-abcde")
	p.Done()
	want := `svc-trace: [ 0.25s] node node1: creating helper pod kube-system/svc-trace-node1-abcde
svc-trace: [ 0.50s] node node1: scheduled on node node1
svc-trace: [ 0.75s] node node1: running, collecting
svc-trace: [ 1.00s] node node1: collected 70 files, 11765 bytes compressed
svc-trace: [ 1.25s] node node^[[31mX: failed: boom\r
svc-trace: [ 1.50s] node node1: deleted helper pod kube-system/svc-trace-node1-abcde
`
	if buf.String() != want {
		t.Errorf("got:\n%s\nwant:\n%s", buf.String(), want)
	}
}

func TestProgressLiveLine(t *testing.T) {
	var buf bytes.Buffer
	p := newProgressPrinterFor(&buf, true, 60, fakeClock(100*time.Millisecond))
	p.Event("node1", "creating", "kube-system/x")
	p.Event("node2", "pulling", "image")
	p.Event("node1", "transferring", "5242880")
	out := buf.String()
	frames := strings.Split(out, "\r\x1b[K")
	if len(frames) != 4 || frames[0] != "" {
		t.Fatalf("want 3 redraws, got %q", out)
	}
	if frames[3] != "svc-trace [0.3s] node1 receiving 5.0 MiB · node2 pulling" {
		t.Errorf("last frame %q", frames[3])
	}
	for _, f := range frames {
		if strings.Contains(f, "\n") {
			t.Errorf("a live frame holds a newline: %q", f)
		}
	}
	p.Event("a-very-long-node-name-that-does-not-fit", "running", "")
	frames = strings.Split(buf.String(), "\r\x1b[K")
	if l := len([]rune(frames[len(frames)-1])); l > 59 || !strings.HasSuffix(frames[len(frames)-1], "…") {
		t.Errorf("an overlong line is not cut to the width: %d runes %q", l, frames[len(frames)-1])
	}
	p.Done()
	if !strings.HasSuffix(buf.String(), "\r\x1b[K") {
		t.Error("Done does not clear the live line")
	}
	n := buf.Len()
	p.Done()
	if buf.Len() != n {
		t.Error("a second Done wrote again")
	}
}

func TestHumanBytes(t *testing.T) {
	for n, want := range map[int64]string{0: "0 B", 1023: "1023 B", 1024: "1.0 KiB", 11765: "11.5 KiB", 5 << 20: "5.0 MiB", 3 << 30: "3.0 GiB"} {
		if got := humanBytes(n); got != want {
			t.Errorf("humanBytes(%d) = %q, want %q", n, got, want)
		}
	}
}
