package cmd

import (
	"context"
	"fmt"
	"os/signal"
	"syscall"

	"k8s.io/cli-runtime/pkg/genericiooptions"
)

// Execute runs the plugin with args and returns the process exit code; the
// error, if any, is printed to ErrOut in kubectl's wording. SIGINT/SIGTERM
// cancel the context so that work in flight (helper pods) is cleaned up.
func Execute(args []string, streams genericiooptions.IOStreams) int {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	root := NewCmdSvcTrace(streams)
	root.SetArgs(args)
	root.SetIn(streams.In)
	root.SetOut(streams.Out)
	root.SetErr(streams.ErrOut)
	err := root.ExecuteContext(ctx)
	if err != nil {
		fmt.Fprintln(streams.ErrOut, ErrorMessage(err))
	}
	return ExitCode(err)
}
