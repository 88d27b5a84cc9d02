// Command goclient is the Go pure-resolver client of the DNS harness: one
// net.Resolver{PreferGo: true}.LookupIP call, printed as "OK <addr>..." or
// "ERR <error text>". The harness builds it with CGO_ENABLED=0, so it is the
// resolver a static Go binary in a pod uses.
package main

import (
	"context"
	"fmt"
	"os"
	"time"

	"net"
)

func main() {
	if len(os.Args) != 3 {
		fmt.Fprintln(os.Stderr, "usage: goclient NAME any|ipv4|ipv6")
		os.Exit(2)
	}
	network := map[string]string{"any": "ip", "ipv4": "ip4", "ipv6": "ip6"}[os.Args[2]]
	if network == "" {
		fmt.Fprintln(os.Stderr, "family must be any, ipv4 or ipv6")
		os.Exit(2)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	r := &net.Resolver{PreferGo: true}
	ips, err := r.LookupIP(ctx, network, os.Args[1])
	if err != nil {
		fmt.Printf("ERR %s\n", err)
		return
	}
	fmt.Print("OK -")
	for _, ip := range ips {
		fmt.Printf(" %s", ip)
	}
	fmt.Println()
}
