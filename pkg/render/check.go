package render

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"io"
	"strings"

	"github.com/svctrace/kubectl-svc-trace/pkg/trace"
)

// CheckReport writes a check report in the chosen format.
func CheckReport(w io.Writer, r *trace.CheckReport, o Options) error {
	switch o.Format {
	case FormatJSON:
		return JSON(w, r)
	case FormatYAML:
		return YAML(w, r)
	case FormatJUnit:
		return checkJUnit(w, r)
	case FormatMarkdown:
		return checkMarkdown(w, r)
	default:
		return checkTable(w, r, style{on: o.Color})
	}
}

func checkTable(w io.Writer, r *trace.CheckReport, s style) error {
	if len(r.Services) == 0 {
		_, err := fmt.Fprintln(w, "No services found in scope.")
		return err
	}
	var rows [][]string
	for _, res := range r.Services {
		status := s.green("pass")
		if res.Status == "fail" {
			status = s.red("FAIL")
		}
		var codes []string
		for _, f := range res.Findings {
			codes = append(codes, string(f.Severity[:1])+":"+f.Code)
		}
		rows = append(rows, []string{esc(res.Namespace), esc(res.Name), res.Type, status,
			fmt.Sprint(count(res.Findings, trace.SeverityError)), fmt.Sprint(count(res.Findings, trace.SeverityWarning)),
			fmt.Sprint(count(res.Findings, trace.SeverityInfo)), orNone(strings.Join(codes, ","))})
	}
	if err := renderTable(w, []string{"NAMESPACE", "NAME", "TYPE", "STATUS", "ERRORS", "WARNINGS", "INFO", "FINDINGS"}, rows); err != nil {
		return err
	}
	sum := r.Summary
	_, err := fmt.Fprintf(w, "\n%d services checked: %d passed, %d failed (fail on: %s); %d errors, %d warnings, %d info, %d ignored\n",
		sum.Services, sum.Passed, sum.Failed, r.FailOn, sum.Errors, sum.Warnings, sum.Infos, sum.Ignored)
	for _, wm := range r.Warnings {
		fmt.Fprintln(w, s.yellow("warning: ")+esc(wm))
	}
	return err
}

func count(fs []trace.Finding, sev trace.Severity) int {
	n := 0
	for _, f := range fs {
		if f.Severity == sev {
			n++
		}
	}
	return n
}

// JUnit XML in the shape Jenkins, GitLab and GitHub test reporters read
// (docs/junit.xsd): one testsuite per namespace, one testcase per Service,
// one <failure> per finding at or above --fail-on; lower findings go to
// <system-out>.
type junitSuites struct {
	XMLName  xml.Name     `xml:"testsuites"`
	Name     string       `xml:"name,attr"`
	Tests    int          `xml:"tests,attr"`
	Failures int          `xml:"failures,attr"`
	Errors   int          `xml:"errors,attr"`
	Suites   []junitSuite `xml:"testsuite"`
}

type junitSuite struct {
	Name     string      `xml:"name,attr"`
	Tests    int         `xml:"tests,attr"`
	Failures int         `xml:"failures,attr"`
	Errors   int         `xml:"errors,attr"`
	Skipped  int         `xml:"skipped,attr"`
	Time     string      `xml:"time,attr"`
	Cases    []junitCase `xml:"testcase"`
}

type junitCase struct {
	Name      string         `xml:"name,attr"`
	Classname string         `xml:"classname,attr"`
	Time      string         `xml:"time,attr"`
	Failures  []junitFailure `xml:"failure"`
	SystemOut string         `xml:"system-out,omitempty"`
}

type junitFailure struct {
	Message string `xml:"message,attr"`
	Type    string `xml:"type,attr"`
	Text    string `xml:",cdata"`
}

func checkJUnit(w io.Writer, r *trace.CheckReport) error {
	failOn := trace.Severity(r.FailOn)
	if r.FailOn == "never" {
		failOn = ""
	}
	root := junitSuites{Name: "kubectl-svc-trace check"}
	index := map[string]int{}
	for _, res := range r.Services {
		i, ok := index[res.Namespace]
		if !ok {
			i = len(root.Suites)
			index[res.Namespace] = i
			root.Suites = append(root.Suites, junitSuite{Name: res.Namespace, Time: "0"})
		}
		c := junitCase{Name: res.Name, Classname: "svc-trace." + res.Namespace, Time: "0"}
		failing := trace.Failing(res.Findings, failOn)
		for _, f := range failing {
			text := f.Message
			if f.Advice != "" {
				text += "\nadvice: " + f.Advice
			}
			c.Failures = append(c.Failures, junitFailure{Message: f.Code + ": " + f.Message, Type: string(f.Severity), Text: text})
		}
		var out []string
		for _, f := range res.Findings {
			if len(trace.Failing([]trace.Finding{f}, failOn)) == 0 {
				out = append(out, fmt.Sprintf("%s %s: %s", f.Severity, f.Code, f.Message))
			}
		}
		for _, f := range res.Ignored {
			out = append(out, fmt.Sprintf("ignored %s %s: %s", f.Severity, f.Code, f.Message))
		}
		c.SystemOut = strings.Join(out, "\n")
		s := &root.Suites[i]
		s.Tests++
		root.Tests++
		if len(failing) > 0 {
			s.Failures++
			root.Failures++
		}
		s.Cases = append(s.Cases, c)
	}
	var buf bytes.Buffer
	buf.WriteString(xml.Header)
	enc := xml.NewEncoder(&buf)
	enc.Indent("", "  ")
	if err := enc.Encode(root); err != nil {
		return err
	}
	buf.WriteByte('\n')
	_, err := w.Write(buf.Bytes())
	return err
}

// checkMarkdown is a summary table and, per failing Service, its findings
// and a Mermaid diagram of its path — what a GitHub Actions step summary
// renders.
func checkMarkdown(w io.Writer, r *trace.CheckReport) error {
	var b strings.Builder
	sum := r.Summary
	icon := "✅"
	if sum.Failed > 0 {
		icon = "❌"
	}
	fmt.Fprintf(&b, "## %s kubectl svc-trace check\n\n", icon)
	fmt.Fprintf(&b, "%d services checked: **%d passed, %d failed** (fail on: `%s`); %d errors, %d warnings, %d info, %d ignored.\n\n",
		sum.Services, sum.Passed, sum.Failed, r.FailOn, sum.Errors, sum.Warnings, sum.Infos, sum.Ignored)
	if len(r.Services) > 0 {
		b.WriteString("| | Namespace | Service | Type | Findings |\n|---|---|---|---|---|\n")
		for _, res := range r.Services {
			st := "✅"
			if res.Status == "fail" {
				st = "❌"
			}
			var codes []string
			for _, f := range res.Findings {
				codes = append(codes, "`"+f.Code+"` ("+string(f.Severity)+")")
			}
			fmt.Fprintf(&b, "| %s | %s | %s | %s | %s |\n", st, mdCell(res.Namespace), mdCell(res.Name), res.Type, orDash(strings.Join(codes, ", ")))
		}
	}
	for _, res := range r.Services {
		if res.Status != "fail" {
			continue
		}
		fmt.Fprintf(&b, "\n### ❌ %s/%s\n\n", mdCell(res.Namespace), mdCell(res.Name))
		for _, f := range res.Findings {
			fmt.Fprintf(&b, "- **%s** `%s`: %s", f.Severity, f.Code, mdCell(f.Message))
			if f.Advice != "" {
				fmt.Fprintf(&b, " — _%s_", mdCell(f.Advice))
			}
			b.WriteString("\n")
		}
		if res.Trace != nil {
			b.WriteString("\n```mermaid\n")
			var g strings.Builder
			if err := Mermaid(&g, res.Trace); err != nil {
				return err
			}
			b.WriteString(g.String())
			b.WriteString("```\n")
		}
	}
	for _, wm := range r.Warnings {
		fmt.Fprintf(&b, "\n> warning: %s\n", mdCell(wm))
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func mdCell(s string) string {
	return strings.NewReplacer("|", `\|`, "\n", " ", "<", "&lt;", ">", "&gt;").Replace(s)
}

func orDash(s string) string {
	if s == "" {
		return "—"
	}
	return s
}
