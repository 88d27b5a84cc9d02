// Command kubectl-svc_trace is the kubectl plugin `kubectl svc-trace`.
package main

import (
	"os"

	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/svctrace/kubectl-svc-trace/pkg/cmd"
)

func main() {
	streams := genericiooptions.IOStreams{In: os.Stdin, Out: os.Stdout, ErrOut: os.Stderr}
	os.Exit(cmd.Execute(os.Args[1:], streams))
}
