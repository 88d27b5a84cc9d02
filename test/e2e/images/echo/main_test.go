package main

import (
	"bytes"
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func TestHandler(t *testing.T) {
	srv := httptest.NewServer(handler(identity{Pod: "p1", IP: "10.244.0.7", Node: "node1"}))
	defer srv.Close()
	_, port, _ := net.SplitHostPort(srv.Listener.Addr().String())
	tests := []struct {
		path string
		want string
	}{
		{"/healthz", "ok\n"},
		{"/", "pod=p1 ip=10.244.0.7 node=node1 client=127.0.0.1:"},
		{"/x/y", "pod=p1 ip=10.244.0.7 node=node1 client=127.0.0.1:"},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			var out bytes.Buffer
			if err := fetch(srv.URL+tt.path, 2*time.Second, &out); err != nil {
				t.Fatal(err)
			}
			got := out.String()
			if !strings.HasPrefix(got, tt.want) {
				t.Fatalf("GET %s = %q, want prefix %q", tt.path, got, tt.want)
			}
			if tt.path != "/healthz" && !strings.HasSuffix(got, " port="+port+" path="+tt.path+"\n") {
				t.Fatalf("GET %s = %q, want port=%s path=%s", tt.path, got, port, tt.path)
			}
		})
	}
}

func TestSplitAddrs(t *testing.T) {
	tests := []struct {
		in      string
		want    []string
		wantErr bool
	}{
		{":8080", []string{":8080"}, false},
		{":8080, :9090", []string{":8080", ":9090"}, false},
		{"[::]:80,0.0.0.0:81", []string{"[::]:80", "0.0.0.0:81"}, false},
		{":8080,", nil, true},
		{"8080", nil, true},
	}
	for _, tt := range tests {
		got, err := splitAddrs(tt.in)
		if (err != nil) != tt.wantErr || strings.Join(got, "|") != strings.Join(tt.want, "|") {
			t.Errorf("splitAddrs(%q) = %v, %v; want %v, err=%v", tt.in, got, err, tt.want, tt.wantErr)
		}
	}
}

func TestFetchNon200IsError(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	defer srv.Close()
	if err := fetch(srv.URL, time.Second, &bytes.Buffer{}); err == nil || !strings.Contains(err.Error(), "404") {
		t.Fatalf("fetch of a 404 = %v, want an error naming 404", err)
	}
}

func TestRunServesEveryListenAddress(t *testing.T) {
	// Pick two free ports, then have run() listen on both.
	var addrs []string
	for range 2 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addrs = append(addrs, l.Addr().String())
		l.Close()
	}
	env := map[string]string{"POD_NAME": "p", "POD_IP": "1.2.3.4", "NODE_NAME": "n", "LISTEN": strings.Join(addrs, ",")}
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- run(ctx, nil, func(k string) string { return env[k] }, &bytes.Buffer{}) }()
	for _, a := range addrs {
		var body bytes.Buffer
		var err error
		for i := 0; i < 50; i++ {
			body.Reset()
			if err = fetch("http://"+a+"/", time.Second, &body); err == nil {
				break
			}
			select {
			case e := <-errc:
				t.Fatalf("run exited early: %v", e)
			case <-time.After(50 * time.Millisecond):
			}
		}
		if err != nil {
			t.Fatalf("GET %s: %v", a, err)
		}
		_, port, _ := net.SplitHostPort(a)
		if !strings.Contains(body.String(), "pod=p ip=1.2.3.4 node=n ") || !strings.Contains(body.String(), "port="+port+" ") {
			t.Fatalf("GET %s = %q", a, body.String())
		}
	}
	cancel()
	select {
	case err := <-errc:
		if err != nil {
			t.Fatalf("run after cancel = %v, want nil", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("run did not return after its context was cancelled")
	}
}
