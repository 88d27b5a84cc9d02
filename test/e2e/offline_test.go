//go:build e2e

package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

// TestOfflineMatchesLive records the scenarios' objects with
// hack/record-examples.sh (the same script that produces examples/) and
// checks that tracing a recorded file (-f) says exactly what tracing the live
// cluster says: the offline mode must not lose or invent anything.
func TestOfflineMatchesLive(t *testing.T) {
	needPlugin(t)
	dir := t.TempDir()
	cmd := exec.Command(filepath.Join(env.repo, "hack", "record-examples.sh"), dir)
	cmd.Env = append(os.Environ(), "KUBECONFIG="+env.kubeconfig)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("hack/record-examples.sh: %v\n%s", err, tail(string(out), 30))
	}
	for _, tc := range traceCases {
		t.Run(tc.svc, func(t *testing.T) {
			live := runPlugin(t, tc.svc, "-n", "default", "-o", "json")
			off := runPlugin(t, "-f", filepath.Join(dir, tc.svc+".yaml"), tc.svc, "-n", "default", "-o", "json")
			if live.exit != 0 || off.exit != 0 {
				t.Fatalf("exit live=%d offline=%d\nlive stderr:\n%s\noffline stderr:\n%s", live.exit, off.exit, live.stderr, off.stderr)
			}
			lt, ot := decodeTrace(t, live), decodeTrace(t, off)
			if !reflect.DeepEqual(lt, ot) {
				t.Errorf("offline trace differs from live trace\nlive:\n%s\noffline:\n%s", lt.dump(), ot.dump())
			}
			// all.yaml holds every scenario at once: the plugin must pick
			// the right objects out of it.
			all := runPlugin(t, "-f", filepath.Join(dir, "all.yaml"), tc.svc, "-n", "default", "-o", "json")
			if all.exit != 0 {
				t.Fatalf("-f all.yaml: exit %d\n%s", all.exit, all.stderr)
			}
			if at := decodeTrace(t, all); !reflect.DeepEqual(lt, at) {
				t.Errorf("trace from all.yaml differs from live trace\nlive:\n%s\nall.yaml:\n%s", lt.dump(), at.dump())
			}
		})
	}
}

// TestCommittedExamples traces every committed examples/<svc>.yaml offline,
// the way the README does. The files come from an earlier cluster, so only
// the cluster-independent facts are checked.
func TestCommittedExamples(t *testing.T) {
	if env.pluginErr != nil {
		t.Fatalf("plugin unavailable: %v", env.pluginErr)
	}
	files, _ := filepath.Glob(filepath.Join(env.repo, "examples", "*.yaml"))
	if len(files) == 0 {
		t.Skip("SKIPPING: no examples/*.yaml committed yet (record them with hack/record-examples.sh)")
	}
	for _, f := range files {
		svc := strings.TrimSuffix(filepath.Base(f), ".yaml")
		if svc == "all" {
			continue
		}
		t.Run(svc, func(t *testing.T) {
			start := time.Now()
			r := runPlugin(t, "-f", f, svc, "-n", "default", "-o", "json")
			if r.exit != 0 {
				t.Fatalf("exit %d\nstderr:\n%s", r.exit, r.stderr)
			}
			tr := decodeTrace(t, r)
			if tr.Service.Name != svc || tr.Service.Namespace != "default" {
				t.Errorf("service = %s/%s, want default/%s", tr.Service.Namespace, tr.Service.Name, svc)
			}
			if d := time.Since(start); d > 10*time.Second {
				t.Errorf("offline trace took %v; it must not contact any cluster", d)
			}
		})
	}
}
