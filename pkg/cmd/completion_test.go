package cmd

import (
	"strings"
	"testing"
)

// TestCompleteServicesFromFiles runs cobra's real completion path
// (`__complete`, what the kubectl_complete-svc_trace shim calls) with -f:
// each Service is offered once, with no file completion.
func TestCompleteServicesFromFiles(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"trace", []string{"__complete", "-f", "../../examples/nomatch-svc.yaml", ""}, "nomatch-svc\n:4\n"},
		{"trace, prefix", []string{"__complete", "-f", "../../examples/all.yaml", "ngx-l"}, "ngx-lb\nngx-lb-ingress\n:4\n"},
		{"check, two files", []string{"__complete", "check", "-f", "../../examples/nomatch-svc.yaml", "-f", "../../examples/all.yaml", "nom"}, "nomatch-svc\n:4\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, errOut, code := run(t, "", tc.args...)
			if code != ExitOK {
				t.Fatalf("exit %d: %s", code, errOut)
			}
			if out != tc.want {
				t.Errorf("%s\ngot:\n%s\nwant:\n%s", strings.Join(tc.args, " "), out, tc.want)
			}
		})
	}
}
