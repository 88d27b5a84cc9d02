// Command echo is the backend the e2e scenarios run behind their Services.
//
// It exists so a test can tell, from one HTTP response, which pod answered
// and what source address the pod saw: that is exactly what a Service trace
// has to explain (which endpoint was picked, was the client SNATed). It
// answers every path with
//
//	pod=<POD_NAME> ip=<POD_IP> node=<NODE_NAME> client=<remote addr> port=<local port> path=<path>
//
// and /healthz with "ok". It listens on every address given with -listen (or
// $LISTEN), comma separated, e.g. -listen :8080,:9090, because the scenarios
// expose two named container ports (http, metrics) from one container.
//
// With -get URL it is a tiny HTTP client instead: it prints the body and
// exits non-zero on failure. busybox-static's `wget -T` segfaults on the test
// hosts (see docs/local-cluster.md), so probes from inside pods use this.
//
// Stdlib only: the image is FROM scratch plus busybox, built CGO_ENABLED=0.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"
)

func main() {
	// SIGTERM is what the kubelet sends on pod deletion; shutting down
	// cleanly keeps pod deletion in the e2e teardown fast.
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	err := run(ctx, os.Args[1:], os.Getenv, os.Stdout)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "echo:", err)
		os.Exit(1)
	}
}

// identity is what the server reports about itself; it comes from the
// downward API (env POD_NAME, POD_IP, NODE_NAME) so it names the real pod.
type identity struct {
	Pod, IP, Node string
}

func run(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer) error {
	fs := flag.NewFlagSet("echo", flag.ContinueOnError)
	listen := fs.String("listen", firstNonEmpty(getenv("LISTEN"), ":8080"), "comma-separated listen addresses")
	get := fs.String("get", "", "act as a client: GET this URL, print the body")
	timeout := fs.Duration("timeout", 5*time.Second, "client timeout for -get")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *get != "" {
		return fetch(*get, *timeout, stdout)
	}
	addrs, err := splitAddrs(*listen)
	if err != nil {
		return err
	}
	id := identity{Pod: getenv("POD_NAME"), IP: getenv("POD_IP"), Node: getenv("NODE_NAME")}

	errc := make(chan error, len(addrs))
	var servers []*http.Server
	for _, a := range addrs {
		ln, err := net.Listen("tcp", a)
		if err != nil {
			for _, s := range servers {
				s.Close()
			}
			return fmt.Errorf("listen %s: %w", a, err)
		}
		s := &http.Server{Handler: handler(id), ReadHeaderTimeout: 10 * time.Second}
		servers = append(servers, s)
		fmt.Fprintf(stdout, "listening on %s\n", ln.Addr())
		go func() { errc <- s.Serve(ln) }()
	}
	select {
	case <-ctx.Done():
	case err := <-errc:
		if !errors.Is(err, http.ErrServerClosed) {
			return err
		}
	}
	sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	for _, s := range servers {
		_ = s.Shutdown(sctx)
	}
	return nil
}

// handler answers /healthz with "ok" and everything else with the identity
// line; the local port is included so multi-port Services can be told apart.
func handler(id identity) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		if r.URL.Path == "/healthz" {
			io.WriteString(w, "ok\n")
			return
		}
		port := ""
		if la, ok := r.Context().Value(http.LocalAddrContextKey).(net.Addr); ok {
			if _, p, err := net.SplitHostPort(la.String()); err == nil {
				port = p
			}
		}
		fmt.Fprintf(w, "pod=%s ip=%s node=%s client=%s port=%s path=%s\n",
			id.Pod, id.IP, id.Node, r.RemoteAddr, port, r.URL.Path)
	})
}

// splitAddrs parses the -listen value; an empty element or a missing port is
// an error rather than a silent default so a typo in a manifest shows up in
// the pod's log instead of as a mysteriously unreachable port.
func splitAddrs(s string) ([]string, error) {
	var out []string
	for _, a := range strings.Split(s, ",") {
		a = strings.TrimSpace(a)
		if a == "" {
			return nil, fmt.Errorf("-listen %q: empty address", s)
		}
		if _, _, err := net.SplitHostPort(a); err != nil {
			return nil, fmt.Errorf("-listen %q: %w", s, err)
		}
		out = append(out, a)
	}
	return out, nil
}

func fetch(url string, timeout time.Duration, w io.Writer) error {
	c := &http.Client{Timeout: timeout}
	resp, err := c.Get(url)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if _, err := io.Copy(w, resp.Body); err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	return nil
}

func firstNonEmpty(a, b string) string {
	if a != "" {
		return a
	}
	return b
}
