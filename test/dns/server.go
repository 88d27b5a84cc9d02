// Package dnsharness runs real stub resolvers (glibc getaddrinfo, musl
// getaddrinfo, Go's pure resolver) against a DNS server it controls, inside a
// network namespace it creates, and compares the queries they really send and
// the result they really return with pkg/dnssim's prediction. See README.md.
package dnsharness

import (
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"time"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"

	"github.com/svctrace/kubectl-svc-trace/pkg/dnssim"
)

// LoggedQuery is one question the server received.
type LoggedQuery struct {
	Server string
	Name   string // as received, made absolute, original case
	Type   string
	// Malformed is set when the packet did not decode as a DNS query.
	Malformed bool
}

// Server is a UDP DNS server answering from a dnssim.Answerer, logging
// every query in arrival order. It decodes and encodes with gopacket's
// layers.DNS (pure Go).
type Server struct {
	mu      sync.Mutex
	answer  dnssim.Answerer
	log     []LoggedQuery
	conns   []*net.UDPConn
	wg      sync.WaitGroup
	stopped bool
}

// NewServer listens on addr:53 for every address given.
func NewServer(addrs []string) (*Server, error) {
	s := &Server{}
	for _, a := range addrs {
		c, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.ParseIP(a), Port: 53})
		if err != nil {
			s.Close()
			return nil, fmt.Errorf("listen %s:53: %w", a, err)
		}
		s.conns = append(s.conns, c)
		s.wg.Add(1)
		go s.serve(c, a)
	}
	return s, nil
}

// Reset installs the answerer for the next case and clears the log.
func (s *Server) Reset(a dnssim.Answerer) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.answer = a
	s.log = nil
}

// Log returns the queries received since Reset.
func (s *Server) Log() []LoggedQuery {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]LoggedQuery(nil), s.log...)
}

// Close stops the server.
func (s *Server) Close() {
	s.mu.Lock()
	s.stopped = true
	s.mu.Unlock()
	for _, c := range s.conns {
		_ = c.Close()
	}
	s.wg.Wait()
}

func (s *Server) serve(c *net.UDPConn, local string) {
	defer s.wg.Done()
	buf := make([]byte, 4096)
	for {
		n, peer, err := c.ReadFromUDP(buf)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			continue
		}
		pkt := append([]byte(nil), buf[:n]...)
		if out := s.handle(pkt, local); out != nil {
			_, _ = c.WriteToUDP(out, peer)
		}
	}
}

var qtypeNames = map[layers.DNSType]string{
	layers.DNSTypeA: "A", layers.DNSTypeAAAA: "AAAA", layers.DNSTypeCNAME: "CNAME",
	layers.DNSTypeSRV: "SRV", layers.DNSTypePTR: "PTR", layers.DNSTypeTXT: "TXT",
}

// handle decodes one query, logs it and builds the reply (nil: no reply).
func (s *Server) handle(pkt []byte, local string) []byte {
	var q layers.DNS
	err := q.DecodeFromBytes(pkt, gopacket.NilDecodeFeedback)
	if err != nil || q.QR || len(q.Questions) != 1 || !wellFormedName(q.Questions[0].Name) {
		name := ""
		if err == nil && len(q.Questions) > 0 {
			name = string(q.Questions[0].Name)
		}
		s.record(LoggedQuery{Server: local, Name: name, Malformed: true})
		return nil // like a server dropping garbage; musl waits for its timeout either way
	}
	qq := q.Questions[0]
	typ, ok := qtypeNames[qq.Type]
	if !ok {
		typ = qq.Type.String()
	}
	name := string(qq.Name)
	if !strings.HasSuffix(name, ".") {
		name += "."
	}
	s.mu.Lock()
	a := s.answer
	s.mu.Unlock()
	s.record(LoggedQuery{Server: local, Name: name, Type: typ})
	if a == nil {
		return nil
	}
	resp := a.Answer(dnssim.Question{Name: name, Type: typ})
	if resp.Rcode == dnssim.TIMEOUT {
		return nil
	}
	out := layers.DNS{
		ID: q.ID, QR: true, OpCode: q.OpCode, AA: true, RD: q.RD, RA: true,
		Questions: q.Questions,
	}
	switch resp.Rcode {
	case dnssim.NXDOMAIN:
		out.ResponseCode = layers.DNSResponseCodeNXDomain
	case dnssim.SERVFAIL:
		out.ResponseCode = layers.DNSResponseCodeServFail
	case dnssim.REFUSED:
		out.ResponseCode = layers.DNSResponseCodeRefused
	default:
		out.ResponseCode = layers.DNSResponseCodeNoErr
	}
	for _, rr := range resp.Answers {
		r := layers.DNSResourceRecord{Name: []byte(strings.TrimSuffix(rr.Name, ".")), Class: layers.DNSClassIN, TTL: rr.TTL}
		switch rr.Type {
		case "A", "AAAA":
			ip := net.ParseIP(rr.Data)
			if ip == nil {
				continue
			}
			r.IP = ip
			r.Type = layers.DNSTypeA
			if rr.Type == "AAAA" {
				r.Type = layers.DNSTypeAAAA
			}
		case "CNAME":
			r.Type = layers.DNSTypeCNAME
			r.CNAME = []byte(strings.TrimSuffix(rr.Data, "."))
		case "PTR":
			r.Type = layers.DNSTypePTR
			r.PTR = []byte(strings.TrimSuffix(rr.Data, "."))
		default:
			continue
		}
		out.Answers = append(out.Answers, r)
	}
	if len(out.Answers) == 0 && (resp.Rcode == dnssim.NOERROR || resp.Rcode == dnssim.NXDOMAIN) {
		// An SOA in the authority section, as CoreDNS sends for NXDOMAIN
		// and NODATA (plugin.BackendError).
		out.Authorities = append(out.Authorities, layers.DNSResourceRecord{
			Name: []byte("cluster.local"), Type: layers.DNSTypeSOA, Class: layers.DNSClassIN, TTL: 30,
			SOA: layers.DNSSOA{MName: []byte("ns.dns.cluster.local"), RName: []byte("hostmaster.cluster.local"),
				Serial: 1, Refresh: 7200, Retry: 1800, Expire: 86400, Minimum: 30},
		})
	}
	buf := gopacket.NewSerializeBuffer()
	if err := out.SerializeTo(buf, gopacket.SerializeOptions{FixLengths: true}); err != nil {
		return nil
	}
	return buf.Bytes()
}

// wellFormedName rejects names with an empty label ("x..") as a real
// server's parser would (musl <= 1.2.3 sends those for a "." search entry).
func wellFormedName(n []byte) bool {
	s := strings.TrimSuffix(string(n), ".")
	return s == "" || !strings.Contains(s, "..") && !strings.HasPrefix(s, ".")
}

func (s *Server) record(q LoggedQuery) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.stopped {
		s.log = append(s.log, q)
	}
}

// Quiet waits until no query arrived for d (clients may still be resending
// when they exit, e.g. glibc's parallel pair).
func (s *Server) Quiet(d time.Duration) {
	last := -1
	for {
		time.Sleep(d)
		n := len(s.Log())
		if n == last {
			return
		}
		last = n
	}
}
