package cmd

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"sort"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/httpstream"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/portforward"
	"k8s.io/client-go/transport/spdy"

	"github.com/svctrace/kubectl-svc-trace/pkg/dnssim"
	"github.com/svctrace/kubectl-svc-trace/pkg/dnssim/dnswire"
	"github.com/svctrace/kubectl-svc-trace/pkg/nodehelper"
)

// dnsTarget is the cluster DNS pod --live asks.
type dnsTarget struct {
	namespace, pod string
	// ip is the endpoint address, port the DNS-over-TCP port in the pod
	// (the EndpointSlice port, i.e. the Service's targetPort).
	ip   string
	port int32
	// via names the Service (or "pod IP") the nameserver led to.
	via string
}

// findDNSTarget follows the pod's first nameserver to a pod that answers it:
// the Service with that ClusterIP, then a ready endpoint of it backed by a
// pod (sorted by pod name, so repeated runs ask the same pod), and the TCP
// port of that endpoint that serves DNS (named "dns-tcp" by kubeadm, else
// the TCP twin of a UDP port 53, else TCP 53). A nameserver that is a pod IP
// is asked directly on TCP 53. Anything else is outside the cluster.
func findDNSTarget(w *dnsWorld, nameserver string) (*dnsTarget, error) {
	for i := range w.services {
		s := &w.services[i]
		match := false
		for _, ip := range clusterIPs(s) {
			if ip == nameserver {
				match = true
			}
		}
		if !match {
			continue
		}
		id := nsOrDefault(s.Namespace) + "/" + s.Name
		var cands []dnsTarget
		for _, sl := range w.slices {
			if nsOrDefault(sl.Namespace) != nsOrDefault(s.Namespace) || sl.Labels[discoveryv1.LabelServiceName] != s.Name {
				continue
			}
			port, ok := dnsTCPPort(sl.Ports)
			if !ok {
				continue
			}
			for _, e := range sl.Endpoints {
				if e.Conditions.Ready != nil && !*e.Conditions.Ready || e.TargetRef == nil || e.TargetRef.Kind != "Pod" || len(e.Addresses) == 0 {
					continue
				}
				ns := e.TargetRef.Namespace
				if ns == "" {
					ns = nsOrDefault(sl.Namespace)
				}
				cands = append(cands, dnsTarget{namespace: ns, pod: e.TargetRef.Name, ip: e.Addresses[0], port: port, via: "Service " + id})
			}
		}
		if len(cands) == 0 {
			return nil, fmt.Errorf("--live: Service %s (the pod's nameserver %s) has no ready endpoint backed by a pod with a DNS TCP port: nothing to ask", id, nameserver)
		}
		sort.Slice(cands, func(i, j int) bool { return cands[i].pod < cands[j].pod })
		return &cands[0], nil
	}
	for i := range w.allPods {
		p := &w.allPods[i]
		for _, ip := range p.Status.PodIPs {
			if ip.IP == nameserver && !p.Spec.HostNetwork {
				return &dnsTarget{namespace: p.Namespace, pod: p.Name, ip: ip.IP, port: 53, via: "pod IP"}, nil
			}
		}
	}
	return nil, fmt.Errorf("--live: the pod's nameserver %s is neither a Service ClusterIP nor a pod IP in this cluster (dnsPolicy Default, an upstream server, or NodeLocal DNSCache's link-local address): --live can only ask DNS servers running as pods", nameserver)
}

func dnsTCPPort(ports []discoveryv1.EndpointPort) (int32, bool) {
	var udp53, tcp53 bool
	for _, p := range ports {
		if p.Port == nil {
			continue
		}
		proto := corev1.ProtocolTCP
		if p.Protocol != nil {
			proto = *p.Protocol
		}
		if proto == corev1.ProtocolTCP && p.Name != nil && *p.Name == "dns-tcp" {
			return *p.Port, true
		}
		if *p.Port == 53 {
			udp53 = udp53 || proto == corev1.ProtocolUDP
			tcp53 = tcp53 || proto == corev1.ProtocolTCP
		}
	}
	if tcp53 || udp53 {
		return 53, true
	}
	return 0, false
}

// portForward forwards a local loopback port to port in the pod, the way
// kubectl port-forward does: WebSocket tunneling first, SPDY when the API
// server cannot upgrade. It returns the local port and a stop function.
func portForward(ctx context.Context, cfg *rest.Config, client kubernetes.Interface, namespace, pod string, port int32) (uint16, func(), error) {
	req := client.CoreV1().RESTClient().Post().Resource("pods").Namespace(namespace).Name(pod).SubResource("portforward")
	transport, upgrader, err := spdy.RoundTripperFor(cfg)
	if err != nil {
		return 0, nil, err
	}
	dialer := spdy.NewDialer(upgrader, &http.Client{Transport: transport}, http.MethodPost, req.URL())
	tunnel, err := portforward.NewSPDYOverWebsocketDialer(req.URL(), cfg)
	if err != nil {
		return 0, nil, err
	}
	dialer = portforward.NewFallbackDialer(tunnel, dialer, func(err error) bool {
		return httpstream.IsUpgradeFailure(err) || httpstream.IsHTTPSProxyError(err)
	})
	stop, ready := make(chan struct{}), make(chan struct{})
	var errOut bytes.Buffer
	fw, err := portforward.NewOnAddresses(dialer, []string{"127.0.0.1"}, []string{fmt.Sprintf("0:%d", port)}, stop, ready, io.Discard, &errOut)
	if err != nil {
		return 0, nil, err
	}
	done := make(chan error, 1)
	go func() { done <- fw.ForwardPorts() }()
	var once sync.Once
	stopFn := func() {
		once.Do(func() {
			close(stop)
			<-done
		})
	}
	select {
	case <-ready:
	case err := <-done:
		return 0, nil, fmt.Errorf("port-forward to pod %s/%s port %d: %v %s", namespace, pod, port, err, strings.TrimSpace(errOut.String()))
	case <-ctx.Done():
		stopFn()
		return 0, nil, ctx.Err()
	}
	ports, err := fw.GetPorts()
	if err != nil || len(ports) == 0 {
		stopFn()
		return 0, nil, fmt.Errorf("port-forward to pod %s/%s: no local port (%v)", namespace, pod, err)
	}
	return ports[0].Local, stopFn, nil
}

// liveDNS answers questions by asking a real DNS server over TCP (one
// connection, reopened when the server closes it), each question once: the
// real walk and the side-by-side table then show the same replies.
type liveDNS struct {
	dial    func() (net.Conn, error)
	timeout time.Duration

	mu    sync.Mutex
	conn  net.Conn
	id    uint16
	cache map[dnssim.Question]dnssim.Response
}

// Answer implements dnssim.Answerer. A question that cannot be asked (the
// connection fails twice, no reply in time) is TIMEOUT with Source
// "live-error" and the error in Why.
func (l *liveDNS) Answer(q dnssim.Question) dnssim.Response {
	key := dnssim.Question{Name: strings.ToLower(dnssim.Canonical(q.Name)), Type: strings.ToUpper(q.Type)}
	l.mu.Lock()
	defer l.mu.Unlock()
	if r, ok := l.cache[key]; ok {
		return r
	}
	var err error
	for attempt := 0; attempt < 2; attempt++ {
		if l.conn == nil {
			if l.conn, err = l.dial(); err != nil {
				l.conn = nil
				continue
			}
		}
		l.id++
		var rep *dnswire.Reply
		rep, err = dnswire.Exchange(l.conn, true, l.id, dnssim.Question{Name: dnssim.Canonical(q.Name), Type: key.Type}, 0, time.Now().Add(l.timeout))
		if err == nil {
			r := rep.Response
			r.Source = "live"
			l.cache[key] = r
			return r
		}
		_ = l.conn.Close()
		l.conn = nil
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			break // the server is slow, not gone: asking again would double the wait
		}
	}
	r := dnssim.Response{Rcode: dnssim.TIMEOUT, Answers: []dnssim.RR{}, Source: "live-error", Why: err.Error()}
	l.cache[key] = r
	return r
}

func (l *liveDNS) close() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.conn != nil {
		_ = l.conn.Close()
		l.conn = nil
	}
}

// runLive asks the cluster's DNS the report's questions through a
// port-forward to the pod behind the pod's first nameserver, and adds the
// side-by-side comparison to the report.
func (o *DNSOptions) runLive(ctx context.Context, w *dnsWorld, in dnssim.Input, rep *dnssim.Report) error {
	servers := rep.ResolvConf.Servers
	if len(servers) == 0 {
		return fmt.Errorf("--live: the pod's resolv.conf has no nameserver to ask (with dnsPolicy Default it is the node's: give --node-resolv-conf, or --exec to read the real file)")
	}
	cfg, err := o.flags.ConfigFlags.ToRESTConfig()
	if err != nil {
		return err
	}
	client, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return err
	}
	target, err := findDNSTarget(w, servers[0])
	if err != nil && w.allPods == nil {
		// Not a Service: maybe a DNS pod's own IP (dnsConfig nameservers).
		if w.allPods, err = listAllPods(ctx, client); err != nil {
			return fmt.Errorf("--live: listing pods to find nameserver %s: %w", servers[0], err)
		}
		target, err = findDNSTarget(w, servers[0])
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(o.streams.ErrOut, "asking pod %s/%s (%s) through a port-forward to its port %d/TCP\n", target.namespace, target.pod, target.via, target.port)
	local, stop, err := portForward(ctx, cfg, client, target.namespace, target.pod, target.port)
	if err != nil {
		return err
	}
	defer stop()
	addr := net.JoinHostPort("127.0.0.1", fmt.Sprint(local))
	l := &liveDNS{timeout: o.LiveTimeout, cache: map[dnssim.Question]dnssim.Response{},
		dial: func() (net.Conn, error) { return (&net.Dialer{Timeout: o.LiveTimeout}).DialContext(ctx, "tcp", addr) }}
	defer l.close()
	server := fmt.Sprintf("pod %s/%s (%s, nameserver %s → %s) through a port-forward, DNS over TCP", target.namespace, target.pod, target.ip, servers[0], target.via)
	rep.Live = dnssim.CompareLive(in, rep, l, server)
	return nil
}

// execResolvConf reads /etc/resolv.conf from the pod's container the way
// `kubectl exec POD -- cat /etc/resolv.conf` does (WebSocket, SPDY
// fallback), at most kubelet's 10 MiB resolv.conf limit.
func (o *DNSOptions) execResolvConf(ctx context.Context, pod *corev1.Pod) (*dnssim.ResolvConf, error) {
	container := o.Container
	if container == "" && len(pod.Spec.Containers) > 0 {
		container = pod.Spec.Containers[0].Name
	}
	cfg, err := o.flags.ConfigFlags.ToRESTConfig()
	if err != nil {
		return nil, err
	}
	client, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, err
	}
	var stdout, stderr limitedBuffer
	stdout.max, stderr.max = dnssim.MaxResolvConfBytes, 64<<10
	ex := &nodehelper.RemoteExecutor{Config: cfg, Client: client}
	where := fmt.Sprintf("pod %s/%s container %s", pod.Namespace, pod.Name, container)
	if err := ex.Exec(ctx, pod.Namespace, pod.Name, container, []string{"cat", "/etc/resolv.conf"}, &stdout, &stderr); err != nil {
		msg := strings.TrimSpace(stderr.String())
		if msg != "" {
			msg = ": " + msg
		}
		return nil, fmt.Errorf("--exec: cat /etc/resolv.conf in %s: %v%s (the image needs a cat binary; without one, read the file another way and pass it with --resolv-conf)", where, err, msg)
	}
	if stdout.over {
		return nil, fmt.Errorf("--exec: /etc/resolv.conf in %s is larger than kubelet's %d-byte limit", where, dnssim.MaxResolvConfBytes)
	}
	return dnssim.ParseResolvConf(where+": /etc/resolv.conf", stdout.Bytes())
}

// limitedBuffer keeps the first max bytes and remembers that more came.
type limitedBuffer struct {
	bytes.Buffer
	max  int
	over bool
}

func (b *limitedBuffer) Write(p []byte) (int, error) {
	if room := b.max - b.Len(); len(p) > room {
		b.over = true
		if room > 0 {
			b.Buffer.Write(p[:room])
		}
		return len(p), nil
	}
	return b.Buffer.Write(p)
}

// listAllPods is what findDNSTarget needs when a nameserver is a pod IP.
func listAllPods(ctx context.Context, client kubernetes.Interface) ([]corev1.Pod, error) {
	pods, err := client.CoreV1().Pods(metav1.NamespaceAll).List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, err
	}
	return pods.Items, nil
}
