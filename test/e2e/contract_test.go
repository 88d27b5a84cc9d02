//go:build e2e

package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
)

// The plugin's `-o json` contract (apiVersion svctrace.io/v1alpha1, kind
// ServiceTrace). These types are deliberately written here, independently of
// pkg/trace: the suite checks the wire format users and scripts see, so a
// renamed Go field that silently changes the JSON fails here.

type serviceTrace struct {
	APIVersion string          `json:"apiVersion"`
	Kind       string          `json:"kind"`
	Service    traceService    `json:"service"`
	Endpoints  []traceEndpoint `json:"endpoints"`
	Pods       []tracePod      `json:"pods"`
	Findings   []traceFinding  `json:"findings"`
}

type traceService struct {
	Namespace                     string            `json:"namespace"`
	Name                          string            `json:"name"`
	Type                          string            `json:"type"`
	ClusterIPs                    []string          `json:"clusterIPs"`
	IPFamilies                    []string          `json:"ipFamilies"`
	Headless                      bool              `json:"headless"`
	Ports                         []tracePort       `json:"ports"`
	ExternalName                  string            `json:"externalName"`
	Selector                      map[string]string `json:"selector"`
	SessionAffinity               string            `json:"sessionAffinity"`
	SessionAffinityTimeoutSeconds int32             `json:"sessionAffinityTimeoutSeconds"`
	ExternalTrafficPolicy         string            `json:"externalTrafficPolicy"`
	InternalTrafficPolicy         string            `json:"internalTrafficPolicy"`
	PublishNotReadyAddresses      bool              `json:"publishNotReadyAddresses"`
	LoadBalancerIngress           []traceLBIngress  `json:"loadBalancerIngress"`
}

type tracePort struct {
	Name       string `json:"name"`
	Protocol   string `json:"protocol"`
	Port       int32  `json:"port"`
	TargetPort string `json:"targetPort"`
	NodePort   int32  `json:"nodePort"`
}

type traceLBIngress struct {
	IP       string `json:"ip"`
	Hostname string `json:"hostname"`
	IPMode   string `json:"ipMode"`
}

// traceEndpoint is one (address, service port) pair.
type traceEndpoint struct {
	IP       string `json:"ip"`
	Port     int32  `json:"port"`
	Protocol string `json:"protocol"`
	PortName string `json:"portName"`
	State    string `json:"state"` // ready | serving-terminating | not-ready
	Pod      string `json:"pod"`
	Node     string `json:"node"`
	Reason   string `json:"reason"`
}

type tracePod struct {
	Name        string `json:"name"`
	IP          string `json:"ip"`
	Phase       string `json:"phase"`
	Node        string `json:"node"`
	Ready       bool   `json:"ready"`
	InEndpoints bool   `json:"inEndpoints"`
	Reason      string `json:"reason"`
}

type traceFinding struct {
	Code     string `json:"code"`
	Severity string `json:"severity"` // error | warning | info
	Message  string `json:"message"`
	Advice   string `json:"advice"`
}

// Endpoint states and finding codes of the contract.
const (
	stateReady       = "ready"
	stateTerminating = "serving-terminating"
	stateNotReady    = "not-ready"
)

var knownFindingCodes = map[string]bool{
	"SelectorMatchesNoPods": true, "PodsNotInEndpoints": true, "NoReadyEndpoints": true,
	"OnlyTerminatingEndpoints": true, "SomeEndpointsNotReady": true, "NamedPortUnresolved": true,
	"NoSelectorNoEndpoints": true, "ExternalNameService": true, "HeadlessService": true,
	"ExternalTrafficPolicyLocal": true, "InternalTrafficPolicyLocal": true, "LoadBalancerPending": true,
	"PortMismatch": true, "ProtocolMismatch": true, "NodeNotReady": true, "PortHasNoEndpoints": true,
}

// decodeTrace parses the plugin's stdout strictly enough to catch a broken
// contract (wrong apiVersion/kind, trailing garbage, ANSI colour in JSON) but
// tolerates new fields, which a v1alpha1 may add.
func decodeTrace(t *testing.T, r result) *serviceTrace {
	t.Helper()
	dec := json.NewDecoder(strings.NewReader(r.stdout))
	var tr serviceTrace
	if err := dec.Decode(&tr); err != nil {
		t.Fatalf("stdout is not the ServiceTrace JSON contract: %v\nexit=%d\nstdout:\n%s\nstderr:\n%s", err, r.exit, r.stdout, r.stderr)
	}
	if dec.More() {
		t.Fatalf("stdout has more than one JSON document:\n%s", r.stdout)
	}
	if strings.Contains(r.stdout, "\x1b[") {
		t.Errorf("JSON output contains ANSI escapes")
	}
	if tr.APIVersion != "svctrace.io/v1alpha1" || tr.Kind != "ServiceTrace" {
		t.Errorf("apiVersion/kind = %q/%q, want svctrace.io/v1alpha1/ServiceTrace", tr.APIVersion, tr.Kind)
	}
	for _, f := range tr.Findings {
		if !knownFindingCodes[f.Code] {
			t.Errorf("finding with unknown code %q (message %q)", f.Code, f.Message)
		}
		switch f.Severity {
		case "error", "warning", "info":
		default:
			t.Errorf("finding %s: severity %q, want error|warning|info", f.Code, f.Severity)
		}
		if strings.TrimSpace(f.Message) == "" {
			t.Errorf("finding %s has an empty message", f.Code)
		}
	}
	for _, e := range tr.Endpoints {
		switch e.State {
		case stateReady, stateTerminating, stateNotReady:
		default:
			t.Errorf("endpoint %s:%d: state %q, want ready|serving-terminating|not-ready", e.IP, e.Port, e.State)
		}
	}
	return &tr
}

func (tr *serviceTrace) finding(code string) *traceFinding {
	for i := range tr.Findings {
		if tr.Findings[i].Code == code {
			return &tr.Findings[i]
		}
	}
	return nil
}

func (tr *serviceTrace) findingsWithSeverity(sev string) []string {
	var out []string
	for _, f := range tr.Findings {
		if f.Severity == sev {
			out = append(out, f.Code+": "+f.Message)
		}
	}
	return out
}

// endpointsIn returns the endpoints in the given state.
func (tr *serviceTrace) endpointsIn(state string) []traceEndpoint {
	var out []traceEndpoint
	for _, e := range tr.Endpoints {
		if e.State == state {
			out = append(out, e)
		}
	}
	return out
}

func (tr *serviceTrace) dump() string {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetIndent("", "  ")
	if err := enc.Encode(tr); err != nil {
		return fmt.Sprintf("%+v", *tr)
	}
	return b.String()
}
