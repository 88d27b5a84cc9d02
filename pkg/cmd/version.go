package cmd

import (
	"fmt"
	"runtime"

	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/svctrace/kubectl-svc-trace/pkg/render"
)

// Set at link time by goreleaser:
// -X github.com/svctrace/kubectl-svc-trace/pkg/cmd.version=… (and commit, date).
var (
	version = "dev"
	commit  = "none"
	date    = "unknown"
)

// VersionInfo is what `kubectl svc-trace version -o json` prints.
type VersionInfo struct {
	Version   string `json:"version"`
	Commit    string `json:"commit"`
	Date      string `json:"date"`
	GoVersion string `json:"goVersion"`
	Platform  string `json:"platform"`
}

// NewCmdVersion prints the plugin's version.
func NewCmdVersion(streams genericiooptions.IOStreams) *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:   "version",
		Short: "Print the version of kubectl-svc-trace",
		Args:  cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			info := VersionInfo{Version: version, Commit: commit, Date: date, GoVersion: runtime.Version(), Platform: runtime.GOOS + "/" + runtime.GOARCH}
			switch output {
			case "":
				_, err := fmt.Fprintf(streams.Out, "kubectl-svc-trace %s (commit %s, built %s, %s, %s)\n", info.Version, info.Commit, info.Date, info.GoVersion, info.Platform)
				return err
			case "json":
				return render.JSON(streams.Out, info)
			case "yaml":
				return render.YAML(streams.Out, info)
			}
			return fmt.Errorf("invalid output format %q: use json or yaml", output)
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", "", "Output format: json or yaml.")
	return cmd
}
