package rules

import (
	"fmt"
	"math"
	"math/big"
	"strconv"
)

// parseProbability checks a printed `--probability` value.
func parseProbability(s string) (float64, bool) {
	v, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsNaN(v) || v < 0 || v > 1 {
		return 0, false
	}
	return v, true
}

// kubeProxyProbability is how kube-proxy prints the probability of the i-th
// of k remaining endpoints: computeProbability in
// pkg/proxy/iptables/proxier.go, fmt.Sprintf("%0.10f", 1.0/float64(k)).
func kubeProxyProbability(k int) string {
	return fmt.Sprintf("%0.10f", 1.0/float64(k))
}

// kernelReprint is what iptables-save prints for a probability that was
// loaded as s: libxt_statistic stores lround(0x80000000 * p) as a 31-bit
// fixed-point number and prints it back with "%.11f" of n/0x80000000. So
// kube-proxy's 0.3333333333 reads back as 0.33333333349.
func kernelReprint(s string) (string, bool) {
	v, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return "", false
	}
	n := math.Round(0x80000000 * v)
	return fmt.Sprintf("%.11f", n/0x80000000), true
}

// ExactProbability turns a printed `-m statistic --probability` value into
// the exact fraction it stands for. kube-proxy gives each of n endpoints
// rules with probabilities 1/n, 1/(n-1), ..., 1/2 (writeServiceToEndpointRules
// in pkg/proxy/iptables/proxier.go) printed with %0.10f, and iptables-save
// prints the kernel's 31-bit fixed-point value with %.11f. When s is exactly
// one of those two printings of 1/k the result is 1/k and snapped is true,
// so three endpoints get exactly 1/3 each. Any other value is taken as the
// exact decimal that was printed.
func ExactProbability(s string) (r *big.Rat, snapped bool, ok bool) {
	v, ok := parseProbability(s)
	if !ok {
		return nil, false, false
	}
	if v > 0 {
		k0 := int(math.Round(1 / v))
		for k := k0 - 2; k <= k0+2; k++ {
			if k < 1 || k > 1<<30 {
				continue
			}
			kp := kubeProxyProbability(k)
			if s == kp {
				return big.NewRat(1, int64(k)), true, true
			}
			if kr, ok := kernelReprint(kp); ok && s == kr {
				return big.NewRat(1, int64(k)), true, true
			}
		}
	}
	r, ok = new(big.Rat).SetString(s)
	return r, false, ok
}

// ratString prints a probability as a fraction ("1/3", "1", "0").
func ratString(r *big.Rat) string {
	if r == nil {
		return "0"
	}
	return r.RatString()
}

func ratFloat(r *big.Rat) float64 {
	if r == nil {
		return 0
	}
	f, _ := r.Float64()
	return f
}
