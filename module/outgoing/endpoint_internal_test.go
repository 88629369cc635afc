package outgoing

import (
	"context"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/net/dns/dnsmessage"
)

// TestDialRefusesAddresses: the dialer refuses link-local, unspecified,
// multicast and metadata addresses in Control, before connect, so nothing
// is sent to them.
func TestDialRefusesAddresses(t *testing.T) {
	dial := newClient(5*time.Second, Policy{}, nil).Transport.(*checkedTransport).base.DialContext
	for _, addr := range []string{
		"169.254.169.254:80",
		"169.254.1.1:443",
		"100.100.100.200:80",
		"0.0.0.0:80",
		"224.0.0.1:80",
		"[fd00:ec2::254]:80",
		"[fe80::1]:80",
		"[::]:80",
		"[::ffff:169.254.169.254]:80",
		"[64:ff9b::a9fe:a9fe]:80",
	} {
		start := time.Now()
		conn, err := dial(context.Background(), "tcp", addr)
		if err == nil {
			conn.Close()
			t.Fatalf("dial %s succeeded, want refused", addr)
		}
		if !errors.Is(err, ErrRefused) {
			t.Errorf("dial %s: error %v does not wrap ErrRefused", addr, err)
		}
		if d := time.Since(start); d > time.Second {
			t.Errorf("dial %s took %v, want an immediate refusal", addr, d)
		}
	}
}

// TestDialRefusesHostResolvingToMetadata: a host name that passes
// CheckEndpoint but resolves to the metadata address (DNS rebinding, or a
// name an attacker controls) is refused when dialing.
func TestDialRefusesHostResolvingToMetadata(t *testing.T) {
	resolver := &net.Resolver{
		PreferGo: true,
		Dial: func(ctx context.Context, network, address string) (net.Conn, error) {
			client, server := net.Pipe()
			go serveDNS(t, server, [4]byte{169, 254, 169, 254})
			return client, nil
		},
	}
	const target = "https://rebind.example.test/token"
	if err := CheckEndpoint(target); err != nil {
		t.Fatalf("CheckEndpoint(%q) = %v, want nil", target, err)
	}
	start := time.Now()
	resp, err := newClient(5*time.Second, Policy{}, resolver).Get(target)
	if err == nil {
		resp.Body.Close()
		t.Fatal("request succeeded, want refused")
	}
	if !errors.Is(err, ErrRefused) || !strings.Contains(err.Error(), "169.254.169.254 is a cloud metadata address") {
		t.Errorf("error %v does not wrap ErrRefused for the resolved address", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("took %v, want an immediate refusal", d)
	}
}

// TestCheckedTransportRefuses: a request built by hand (not a redirect) to
// a refused URL never reaches the network.
func TestCheckedTransportRefuses(t *testing.T) {
	client := newClient(time.Second, Policy{}, nil)
	req, _ := http.NewRequest(http.MethodGet, "http://169.254.169.254/", nil)
	if _, err := client.Transport.RoundTrip(req); !errors.Is(err, ErrRefused) {
		t.Fatalf("RoundTrip error %v, want ErrRefused", err)
	}
}

// serveDNS answers DNS queries over a stream connection: A queries with a,
// others with no records.
func serveDNS(t *testing.T, conn net.Conn, a [4]byte) {
	defer conn.Close()
	for {
		var n [2]byte
		if _, err := io.ReadFull(conn, n[:]); err != nil {
			return
		}
		buf := make([]byte, binary.BigEndian.Uint16(n[:]))
		if _, err := io.ReadFull(conn, buf); err != nil {
			return
		}
		var p dnsmessage.Parser
		h, err := p.Start(buf)
		if err != nil {
			return
		}
		q, err := p.Question()
		if err != nil {
			return
		}
		b := dnsmessage.NewBuilder(make([]byte, 2, 514), dnsmessage.Header{
			ID: h.ID, Response: true, Authoritative: true, RecursionAvailable: true,
		})
		b.EnableCompression()
		_ = b.StartQuestions()
		_ = b.Question(q)
		_ = b.StartAnswers()
		if q.Type == dnsmessage.TypeA {
			_ = b.AResource(dnsmessage.ResourceHeader{Name: q.Name, Class: dnsmessage.ClassINET, TTL: 60}, dnsmessage.AResource{A: a})
		}
		msg, err := b.Finish()
		if err != nil {
			t.Errorf("building DNS answer: %v", err)
			return
		}
		binary.BigEndian.PutUint16(msg, uint16(len(msg)-2))
		if _, err := conn.Write(msg); err != nil {
			return
		}
	}
}

// TestRuntimeClientRefusesHostResolvingToLoopback: a public-looking host
// name of a runtime link that resolves to a loopback address (DNS
// rebinding, or a name an attacker controls) is refused after resolution,
// before any connection to the loopback listener.
func TestRuntimeClientRefusesHostResolvingToLoopback(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	var accepted atomic.Int32
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			accepted.Add(1)
			c.Close()
		}
	}()
	resolver := &net.Resolver{
		PreferGo: true,
		Dial: func(ctx context.Context, network, address string) (net.Conn, error) {
			client, server := net.Pipe()
			go serveDNS(t, server, [4]byte{127, 0, 0, 1})
			return client, nil
		},
	}
	target := "https://rebind.example.test:" + strconv.Itoa(ln.Addr().(*net.TCPAddr).Port) + "/token"
	if err := (Policy{}).Check(target); err != nil {
		t.Fatalf("Check(%q) = %v, want nil (the name is judged when resolved)", target, err)
	}
	resp, err := newClient(5*time.Second, Policy{}, resolver).Get(target)
	if err == nil {
		resp.Body.Close()
		t.Fatal("request succeeded, want refused")
	}
	if !errors.Is(err, ErrRefused) || !strings.Contains(err.Error(), "127.0.0.1 is a loopback address") {
		t.Errorf("error %v does not wrap ErrRefused for the resolved loopback address", err)
	}
	if n := accepted.Load(); n != 0 {
		t.Errorf("the loopback listener accepted %d connections, want 0", n)
	}
}
