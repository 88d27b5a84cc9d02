// Command dnsprobe asks one DNS question over UDP or TCP and prints the
// reply in dnssim's presentation form, like a tiny dig. hack/coredns.sh uses
// it to wait until the harness's CoreDNS answers through the kube-dns
// Service; it is built from pkg/dnssim/dnswire, the same code that --live
// and the model-vs-CoreDNS test use.
//
//	dnsprobe -proto udp -server 10.96.0.10:53 -name kubernetes.default.svc.cluster.local -type A [-want-rcode NOERROR]
//
// Exit status: 0 on a reply (with the wanted rcode, if given), 1 otherwise.
package main

import (
	"flag"
	"fmt"
	"net"
	"os"
	"time"

	"github.com/svctrace/kubectl-svc-trace/pkg/dnssim"
	"github.com/svctrace/kubectl-svc-trace/pkg/dnssim/dnswire"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "dnsprobe:", err)
		os.Exit(1)
	}
}

func run() error {
	proto := flag.String("proto", "udp", "udp or tcp")
	server := flag.String("server", "10.96.0.10:53", "server host:port")
	name := flag.String("name", "", "question name")
	qtype := flag.String("type", "A", "question type")
	want := flag.String("want-rcode", "", "fail unless the reply has this rcode")
	timeout := flag.Duration("timeout", 5*time.Second, "time limit for the exchange")
	flag.Parse()
	if *name == "" {
		return fmt.Errorf("-name is required")
	}
	if *proto != "udp" && *proto != "tcp" {
		return fmt.Errorf("-proto %q: want udp or tcp", *proto)
	}
	conn, err := net.DialTimeout(*proto, *server, *timeout)
	if err != nil {
		return err
	}
	defer conn.Close()
	var edns uint16
	if *proto == "udp" {
		edns = 1232
	}
	r, err := dnswire.Exchange(conn, *proto == "tcp", uint16(os.Getpid()), dnssim.Question{Name: dnssim.Canonical(*name), Type: *qtype}, edns, time.Now().Add(*timeout))
	if err != nil {
		return err
	}
	fmt.Printf(";; %s %s over %s from %s: %s aa=%v tc=%v\n", r.Question.Name, r.Question.Type, *proto, *server, r.Response.Rcode, r.Authoritative, r.Truncated)
	for _, rr := range r.Response.Answers {
		fmt.Printf("%s\t%d\t%s\t%s\n", rr.Name, rr.TTL, rr.Type, rr.Data)
	}
	for _, rr := range r.Response.Additional {
		fmt.Printf(";additional %s\t%d\t%s\t%s\n", rr.Name, rr.TTL, rr.Type, rr.Data)
	}
	for _, rr := range r.Authority {
		fmt.Printf(";authority %s\t%d\t%s\t%s\n", rr.Name, rr.TTL, rr.Type, rr.Data)
	}
	if *want != "" && string(r.Response.Rcode) != *want {
		return fmt.Errorf("rcode %s, want %s", r.Response.Rcode, *want)
	}
	return nil
}
