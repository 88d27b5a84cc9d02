package cmd

import (
	"errors"
	"fmt"
	"net/url"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Exit codes, documented in the root command's help. 1 is kubectl's
// DefaultErrorExitCode; 2 is left to the shell's "misuse" convention; 3 means
// the trace ran and found problems at or above --fail-on.
const (
	ExitOK       = 0
	ExitFailure  = 1
	ExitFindings = 3
)

// exitCodesHelp is appended to the long help of commands that trace.
const exitCodesHelp = `
Exit status:
  0  traced; no finding at or above --fail-on (the default, never, ignores findings)
  1  the tool failed: bad flags, unreadable files, unreachable cluster, Service not found
  3  traced, and at least one finding is at or above --fail-on (error, warning or info)`

// FindingsError reports that findings reached --fail-on. It carries exit
// code 3 and a one-line summary for stderr.
type FindingsError struct {
	Count  int
	FailOn string
}

func (e *FindingsError) Error() string {
	return fmt.Sprintf("%d finding(s) at or above --fail-on=%s", e.Count, e.FailOn)
}

// ExitCode maps an error returned by Execute to the process exit code.
func ExitCode(err error) int {
	if err == nil {
		return ExitOK
	}
	var fe *FindingsError
	if errors.As(err, &fe) {
		return ExitFindings
	}
	return ExitFailure
}

// ErrorMessage formats an error the way kubectl's cmdutil.StandardErrorMessage
// does, so that "Error from server (NotFound): services \"x\" not found" reads
// the same in both tools.
func ErrorMessage(err error) string {
	var fe *FindingsError
	if errors.As(err, &fe) {
		return "svc-trace: " + fe.Error()
	}
	var status apierrors.APIStatus
	if errors.As(err, &status) {
		if _, local := err.(*localNotFound); !local {
			s := status.Status()
			switch {
			case s.Reason == metav1.StatusReasonUnauthorized:
				return fmt.Sprintf("error: You must be logged in to the server (%s)", s.Message)
			case len(s.Reason) > 0:
				return fmt.Sprintf("Error from server (%s): %s", s.Reason, err.Error())
			default:
				return fmt.Sprintf("Error from server: %s", err.Error())
			}
		}
	}
	var uerr *url.Error
	if errors.As(err, &uerr) {
		if strings.Contains(uerr.Err.Error(), "connection refused") {
			host := uerr.URL
			if u, perr := url.Parse(uerr.URL); perr == nil {
				host = u.Host
			}
			return fmt.Sprintf("The connection to the server %s was refused - did you specify the right host or port?", host)
		}
		return fmt.Sprintf("Unable to connect to the server: %v", uerr.Err)
	}
	msg := err.Error()
	if !strings.HasPrefix(msg, "error: ") {
		msg = "error: " + msg
	}
	return msg
}

// localNotFound is a NotFound from -f input: not "from server".
type localNotFound struct{ error }
