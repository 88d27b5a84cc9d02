// Package dnswire puts dnssim's questions on the wire and reads real replies
// back into dnssim's answer model, so a prediction can be compared with what
// a real DNS server (CoreDNS in a cluster) says, record for record.
//
// Messages are built and decoded with gopacket's pure-Go layers.DNS (never
// the cgo pcap package: the plugin stays CGO_ENABLED=0). The package never
// dials: Exchange talks over a connection the caller opened (a port-forward
// to a CoreDNS pod, a UDP socket to the kube-dns ClusterIP), so pkg/dnssim
// itself stays free of network I/O.
package dnswire

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"sort"
	"strings"
	"time"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"

	"github.com/svctrace/kubectl-svc-trace/pkg/dnssim"
)

// typeCodes are the query types dnssim models, by their dnssim name.
var typeCodes = map[string]layers.DNSType{
	"A": layers.DNSTypeA, "AAAA": layers.DNSTypeAAAA, "CNAME": layers.DNSTypeCNAME,
	"SRV": layers.DNSTypeSRV, "PTR": layers.DNSTypePTR, "TXT": layers.DNSTypeTXT,
	"SOA": layers.DNSTypeSOA, "NS": layers.DNSTypeNS, "MX": layers.DNSTypeMX,
}

// TypeCode returns the wire code of a query type name (A, AAAA, SRV...).
func TypeCode(t string) (layers.DNSType, error) {
	c, ok := typeCodes[strings.ToUpper(t)]
	if !ok {
		return 0, fmt.Errorf("query type %q is not supported (want one of A, AAAA, CNAME, SRV, PTR, TXT, SOA, NS, MX)", t)
	}
	return c, nil
}

func typeName(t layers.DNSType) string {
	for n, c := range typeCodes {
		if c == t {
			return n
		}
	}
	return t.String()
}

// wireName converts a presentation name to the label form gopacket encodes:
// no trailing dot; the root is the empty name.
func wireName(name string) ([]byte, error) {
	n := strings.TrimSuffix(name, ".")
	if strings.Contains(n, "..") || strings.HasPrefix(n, ".") {
		return nil, fmt.Errorf("%q: empty label", name)
	}
	if len(n) > 253 {
		return nil, fmt.Errorf("%q: longer than 253 characters", name)
	}
	for _, l := range strings.Split(n, ".") {
		if len(l) > 63 {
			return nil, fmt.Errorf("%q: label %q longer than 63 characters", name, l)
		}
	}
	return []byte(n), nil
}

// NewQuery encodes a query as a stub resolver sends it: one question, class
// IN, RD set. ednsUDPSize > 0 adds an EDNS0 OPT record advertising that
// UDP payload size (RFC 6891), as Go's resolver always does (1232) and glibc
// does with "options edns0"; without it a UDP reply is limited to 512 bytes
// and large answers come back truncated.
func NewQuery(id uint16, q dnssim.Question, ednsUDPSize uint16) ([]byte, error) {
	code, err := TypeCode(q.Type)
	if err != nil {
		return nil, err
	}
	name, err := wireName(q.Name)
	if err != nil {
		return nil, err
	}
	msg := layers.DNS{ID: id, RD: true, OpCode: layers.DNSOpCodeQuery,
		Questions: []layers.DNSQuestion{{Name: name, Type: code, Class: layers.DNSClassIN}}}
	if ednsUDPSize > 0 {
		msg.Additionals = []layers.DNSResourceRecord{{Type: layers.DNSTypeOPT, Class: layers.DNSClass(ednsUDPSize)}}
	}
	buf := gopacket.NewSerializeBuffer()
	if err := msg.SerializeTo(buf, gopacket.SerializeOptions{FixLengths: true}); err != nil {
		return nil, fmt.Errorf("encoding the query for %s %s: %w", q.Name, q.Type, err)
	}
	return buf.Bytes(), nil
}

// Reply is a decoded reply.
type Reply struct {
	ID       uint16
	Question dnssim.Question
	// Response holds the rcode, the answer section and the additional
	// section (without the OPT pseudo-record) in dnssim's presentation form,
	// so it compares directly with a prediction. Source is "live".
	Response dnssim.Response
	// Authority is the authority section (CoreDNS puts the zone's SOA there
	// for NXDOMAIN and NODATA).
	Authority []dnssim.RR
	// Authoritative, Truncated and RecursionAvailable are the AA, TC and RA
	// header bits.
	Authoritative, Truncated, RecursionAvailable bool
	// EDNS is set when the reply carried an OPT record.
	EDNS bool
	// Raw is the message as received.
	Raw []byte
}

// decode runs gopacket's decoder, turning its panics into errors: v1.1.19
// indexes past the end of a record whose RDATA is cut short (dns.go:715,
// found by FuzzParseReply; the input is in testdata/fuzz), and a reply from
// the network must never crash the plugin.
func decode(b []byte) (d *layers.DNS, err error) {
	defer func() {
		if r := recover(); r != nil {
			d, err = nil, fmt.Errorf("malformed message (%v)", r)
		}
	}()
	d = &layers.DNS{}
	if err := d.DecodeFromBytes(b, gopacket.NilDecodeFeedback); err != nil {
		return nil, err
	}
	return d, nil
}

var rcodeNames = map[layers.DNSResponseCode]dnssim.Rcode{
	layers.DNSResponseCodeNoErr:    dnssim.NOERROR,
	layers.DNSResponseCodeNXDomain: dnssim.NXDOMAIN,
	layers.DNSResponseCodeServFail: dnssim.SERVFAIL,
	layers.DNSResponseCodeRefused:  dnssim.REFUSED,
	layers.DNSResponseCodeFormErr:  "FORMERR",
	layers.DNSResponseCodeNotImp:   "NOTIMP",
}

// ParseReply decodes a reply message. A message that is not a response, or
// does not decode, is an error.
func ParseReply(b []byte) (*Reply, error) {
	d, err := decode(b)
	if err != nil {
		return nil, fmt.Errorf("decoding a %d-byte DNS message: %w", len(b), err)
	}
	if !d.QR {
		return nil, fmt.Errorf("the message (id %d) is a query, not a reply", d.ID)
	}
	r := &Reply{ID: d.ID, Authoritative: d.AA, Truncated: d.TC, RecursionAvailable: d.RA, Raw: append([]byte(nil), b...)}
	if len(d.Questions) > 0 {
		r.Question = dnssim.Question{Name: string(d.Questions[0].Name) + ".", Type: typeName(d.Questions[0].Type)}
	}
	rc, ok := rcodeNames[d.ResponseCode]
	if !ok {
		rc = dnssim.Rcode(strings.ToUpper(d.ResponseCode.String()))
	}
	r.Response = dnssim.Response{Rcode: rc, Answers: []dnssim.RR{}, Source: "live"}
	for _, rr := range d.Answers {
		r.Response.Answers = append(r.Response.Answers, toRR(rr))
	}
	for _, rr := range d.Additionals {
		if rr.Type == layers.DNSTypeOPT {
			r.EDNS = true
			continue
		}
		r.Response.Additional = append(r.Response.Additional, toRR(rr))
	}
	for _, rr := range d.Authorities {
		r.Authority = append(r.Authority, toRR(rr))
	}
	return r, nil
}

// toRR renders a record's data the way dnssim.RR.Data does: an address for
// A/AAAA, an absolute lower-case name for CNAME/PTR/NS, "priority weight
// port target" for SRV, quoted strings for TXT, the SOA fields in zone-file
// order.
func toRR(rr layers.DNSResourceRecord) dnssim.RR {
	out := dnssim.RR{Name: string(rr.Name) + ".", Type: typeName(rr.Type), TTL: rr.TTL}
	switch rr.Type {
	case layers.DNSTypeA, layers.DNSTypeAAAA:
		if a, ok := netip.AddrFromSlice(rr.IP); ok {
			if rr.Type == layers.DNSTypeA {
				a = a.Unmap()
			}
			out.Data = a.String()
		}
	case layers.DNSTypeCNAME:
		out.Data = absLower(rr.CNAME)
	case layers.DNSTypePTR:
		out.Data = absLower(rr.PTR)
	case layers.DNSTypeNS:
		out.Data = absLower(rr.NS)
	case layers.DNSTypeSRV:
		out.Data = fmt.Sprintf("%d %d %d %s", rr.SRV.Priority, rr.SRV.Weight, rr.SRV.Port, absLower(rr.SRV.Name))
	case layers.DNSTypeMX:
		out.Data = fmt.Sprintf("%d %s", rr.MX.Preference, absLower(rr.MX.Name))
	case layers.DNSTypeTXT:
		parts := make([]string, 0, len(rr.TXTs))
		for _, t := range rr.TXTs {
			parts = append(parts, fmt.Sprintf("%q", t))
		}
		out.Data = strings.Join(parts, " ")
	case layers.DNSTypeSOA:
		s := rr.SOA
		out.Data = fmt.Sprintf("%s %s %d %d %d %d %d", absLower(s.MName), absLower(s.RName), s.Serial, s.Refresh, s.Retry, s.Expire, s.Minimum)
	default:
		out.Data = fmt.Sprintf("\\# %d %x", len(rr.Data), rr.Data)
	}
	return out
}

func absLower(b []byte) string { return strings.ToLower(string(b)) + "." }

// ErrIDMismatch is returned when a reply answers another query.
var ErrIDMismatch = errors.New("reply ID does not match the query")

// Exchange sends one query over conn and reads its reply. stream selects
// DNS over TCP framing (RFC 1035 §4.2.2: each message is preceded by its
// two-byte length); otherwise conn is a datagram socket and one read is one
// message. The deadline bounds the whole exchange; a reply that does not
// answer the question asked (ID or question differ) is an error, never a
// silent mismatch.
func Exchange(conn net.Conn, stream bool, id uint16, q dnssim.Question, ednsUDPSize uint16, deadline time.Time) (*Reply, error) {
	msg, err := NewQuery(id, q, ednsUDPSize)
	if err != nil {
		return nil, err
	}
	if err := conn.SetDeadline(deadline); err != nil {
		return nil, err
	}
	var raw []byte
	if stream {
		framed := make([]byte, 2+len(msg))
		binary.BigEndian.PutUint16(framed, uint16(len(msg)))
		copy(framed[2:], msg)
		if _, err := conn.Write(framed); err != nil {
			return nil, fmt.Errorf("sending %s %s: %w", q.Name, q.Type, err)
		}
		var l [2]byte
		if _, err := io.ReadFull(conn, l[:]); err != nil {
			return nil, fmt.Errorf("reading the reply to %s %s: %w", q.Name, q.Type, err)
		}
		raw = make([]byte, binary.BigEndian.Uint16(l[:]))
		if _, err := io.ReadFull(conn, raw); err != nil {
			return nil, fmt.Errorf("reading the reply to %s %s: %w", q.Name, q.Type, err)
		}
	} else {
		if _, err := conn.Write(msg); err != nil {
			return nil, fmt.Errorf("sending %s %s: %w", q.Name, q.Type, err)
		}
		buf := make([]byte, 65535)
		n, err := conn.Read(buf)
		if err != nil {
			return nil, fmt.Errorf("reading the reply to %s %s: %w", q.Name, q.Type, err)
		}
		raw = buf[:n]
	}
	r, err := ParseReply(raw)
	if err != nil {
		return nil, err
	}
	if r.ID != id {
		return nil, fmt.Errorf("%w: sent %d, got %d", ErrIDMismatch, id, r.ID)
	}
	if !strings.EqualFold(r.Question.Name, dnssim.Canonical(q.Name)) && !(q.Name == "." && r.Question.Name == ".") || !strings.EqualFold(r.Question.Type, q.Type) {
		return nil, fmt.Errorf("the reply answers %s %s, not the question asked (%s %s)", r.Question.Name, r.Question.Type, q.Name, q.Type)
	}
	return r, nil
}

// SortRRs orders records by type, name and data, so two answer sections
// compare regardless of order (CoreDNS's loadbalance plugin shuffles A and
// AAAA records on every reply).
func SortRRs(rrs []dnssim.RR) []dnssim.RR {
	out := append([]dnssim.RR(nil), rrs...)
	sort.SliceStable(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if a.Type != b.Type {
			return a.Type < b.Type
		}
		if !strings.EqualFold(a.Name, b.Name) {
			return strings.ToLower(a.Name) < strings.ToLower(b.Name)
		}
		return a.Data < b.Data
	})
	return out
}
