package rules

import (
	"math/big"
	"testing"
)

// kube-proxy prints 1/k with %0.10f and the kernel reprints it as %.11f of
// a 31-bit fixed-point value; both must snap back to exactly 1/k, for every
// k a Service can realistically have.
func TestExactProbabilitySnapsBothPrintings(t *testing.T) {
	for k := 1; k <= 5000; k++ {
		want := big.NewRat(1, int64(k))
		kp := kubeProxyProbability(k)
		kr, _ := kernelReprint(kp)
		for _, s := range []string{kp, kr} {
			got, snapped, ok := ExactProbability(s)
			if !ok || !snapped || got.Cmp(want) != 0 {
				t.Fatalf("k=%d: %q -> %v snapped=%v ok=%v, want 1/%d", k, s, got, snapped, ok, k)
			}
		}
	}
}

func TestExactProbabilityExamples(t *testing.T) {
	tests := []struct {
		in      string
		want    string
		snapped bool
		ok      bool
	}{
		{"0.33333333349", "1/3", true, true}, // what iptables-save prints
		{"0.3333333333", "1/3", true, true},  // what kube-proxy wrote
		{"0.50000000000", "1/2", true, true}, //
		{"0.25", "1/4", false, true},         // hand-written, exact anyway
		{"0.3", "3/10", false, true},         // not 1/k: taken as printed
		{"0.33333", "33333/100000", false, true},
		{"1.5", "", false, false},
		{"abc", "", false, false},
	}
	for _, tc := range tests {
		got, snapped, ok := ExactProbability(tc.in)
		if ok != tc.ok || snapped != tc.snapped || (ok && got.RatString() != tc.want) {
			t.Errorf("ExactProbability(%q) = %v %v %v, want %s %v %v", tc.in, got, snapped, ok, tc.want, tc.snapped, tc.ok)
		}
	}
}
