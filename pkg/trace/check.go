package trace

import "sort"

// KindCheckReport identifies the document `kubectl svc-trace check -o json`
// prints.
const KindCheckReport = "CheckReport"

// IgnoreAnnotation on a Service silences finding codes for it:
// `svc-trace.io/ignore: "HeadlessService,LoadBalancerPending"`.
const IgnoreAnnotation = "svc-trace.io/ignore"

// CheckReport is the result of checking many Services.
type CheckReport struct {
	APIVersion string        `json:"apiVersion"`
	Kind       string        `json:"kind"`
	FailOn     string        `json:"failOn"`
	Summary    CheckSummary  `json:"summary"`
	Services   []CheckResult `json:"services"`
	// Warnings are problems reading the input.
	Warnings []string `json:"warnings,omitempty"`
}

// CheckSummary counts results and the findings that count (not ignored).
type CheckSummary struct {
	Services int `json:"services"`
	Passed   int `json:"passed"`
	Failed   int `json:"failed"`
	Errors   int `json:"errors"`
	Warnings int `json:"warnings"`
	Infos    int `json:"infos"`
	Ignored  int `json:"ignored"`
}

// CheckResult is one Service's verdict.
type CheckResult struct {
	Namespace string `json:"namespace"`
	Name      string `json:"name"`
	Type      string `json:"type"`
	// Status is "pass" or "fail" (a finding at or above failOn).
	Status string `json:"status"`
	// Findings are the findings that were not ignored.
	Findings []Finding `json:"findings"`
	// Ignored are findings silenced by --ignore or the annotation.
	Ignored []Finding     `json:"ignored,omitempty"`
	Trace   *ServiceTrace `json:"trace"`
}

// Failing reports whether a result has a finding at or above failOn ("" =
// never).
func Failing(fs []Finding, failOn Severity) []Finding {
	if failOn == "" {
		return nil
	}
	var out []Finding
	for _, f := range fs {
		if f.Severity.Rank() >= failOn.Rank() {
			out = append(out, f)
		}
	}
	return out
}

// BuildCheckReport turns traces into a report. ignored(trace, code) says
// whether a code is silenced for that Service. Results are sorted by
// namespace and name.
func BuildCheckReport(traces []*ServiceTrace, failOn Severity, ignored func(*ServiceTrace, string) bool) *CheckReport {
	r := &CheckReport{APIVersion: APIVersion, Kind: KindCheckReport, FailOn: string(failOn), Services: []CheckResult{}}
	if failOn == "" {
		r.FailOn = "never"
	}
	for _, t := range traces {
		res := CheckResult{Namespace: t.Service.Namespace, Name: t.Service.Name, Type: t.Service.Type, Status: "pass", Findings: []Finding{}, Trace: t}
		for _, f := range t.Findings {
			if ignored != nil && ignored(t, f.Code) {
				res.Ignored = append(res.Ignored, f)
				r.Summary.Ignored++
				continue
			}
			res.Findings = append(res.Findings, f)
			switch f.Severity {
			case SeverityError:
				r.Summary.Errors++
			case SeverityWarning:
				r.Summary.Warnings++
			default:
				r.Summary.Infos++
			}
		}
		if len(Failing(res.Findings, failOn)) > 0 {
			res.Status = "fail"
			r.Summary.Failed++
		} else {
			r.Summary.Passed++
		}
		r.Services = append(r.Services, res)
	}
	sort.SliceStable(r.Services, func(i, j int) bool {
		a, b := r.Services[i], r.Services[j]
		if a.Namespace != b.Namespace {
			return a.Namespace < b.Namespace
		}
		return a.Name < b.Name
	})
	r.Summary.Services = len(r.Services)
	return r
}
