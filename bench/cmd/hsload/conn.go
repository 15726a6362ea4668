package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"time"
)

// neverResume is a client session cache that stores nothing. Having one
// makes the client send psk_key_exchange_modes, as browsers do, so servers
// issue session tickets and pay for them as in production; having nothing
// in it keeps every handshake a full one.
type neverResume struct{}

func (neverResume) Get(string) (*tls.ClientSessionState, bool) { return nil, false }
func (neverResume) Put(string, *tls.ClientSessionState)        {}

// clientConfig returns the TLS configuration for one server name: TLS 1.3
// only, X25519 only, ALPN http/1.1. The chain is not verified (a CA check
// would add client cost, not server cost), but conn checks that the leaf
// covers the name, so a server that falls back to another certificate
// counts as failing.
func clientConfig(name string) *tls.Config {
	return &tls.Config{
		ServerName:         name,
		MinVersion:         tls.VersionTLS13,
		MaxVersion:         tls.VersionTLS13,
		CurvePreferences:   []tls.CurveID{tls.X25519},
		NextProtos:         []string{"http/1.1"},
		InsecureSkipVerify: true,
		ClientSessionCache: neverResume{},
	}
}

// target is one server name with what a connection to it needs, built
// once so that the client spends its CPU on handshakes.
type target struct {
	name    string
	tls     *tls.Config
	request []byte
}

func newTargets(names []string) []target {
	ts := make([]target, len(names))
	for i, n := range names {
		ts[i] = target{
			name:    n,
			tls:     clientConfig(n),
			request: []byte("GET / HTTP/1.1\r\nHost: " + n + "\r\nUser-Agent: hsload\r\nAccept: */*\r\n\r\n"),
		}
	}
	return ts
}

// failure is a failed connection, with the step that failed.
type failure struct {
	step string // dial, handshake, wrong_cert, write, read, status, body, timeout
	err  error
}

func (f *failure) Error() string { return f.step + ": " + f.err.Error() }

func fail(step string, err error) *failure {
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() || errors.Is(err, context.DeadlineExceeded) ||
		errors.Is(err, os.ErrDeadlineExceeded) {
		step = "timeout"
	}
	return &failure{step, err}
}

// steps lists failure steps in the order the result line prints them.
var steps = []string{"dial", "handshake", "wrong_cert", "write", "read", "status", "body", "timeout"}

// checks is what exchange requires of a connection besides a leaf that
// covers the server name and a 200.
type checks struct {
	timeout  time.Duration
	wantBody string // "" accepts any body
	wantLeaf []byte // DER of the leaf the server must send; nil accepts any
}

// exchange does one full connection to addr for t and returns how long it
// took, or the step that failed.
func exchange(addr string, t *target, c checks) (time.Duration, *failure) {
	start := time.Now()
	deadline := start.Add(c.timeout)
	raw, err := (&net.Dialer{Deadline: deadline}).Dial("tcp", addr)
	if err != nil {
		return 0, fail("dial", err)
	}
	defer raw.Close()
	raw.SetDeadline(deadline)

	conn := tls.Client(raw, t.tls)
	if err := conn.Handshake(); err != nil {
		return 0, fail("handshake", err)
	}
	certs := conn.ConnectionState().PeerCertificates
	if len(certs) == 0 || certs[0].VerifyHostname(t.name) != nil {
		return 0, &failure{"wrong_cert", fmt.Errorf("leaf does not cover %q", t.name)}
	}
	if c.wantLeaf != nil && !bytes.Equal(certs[0].Raw, c.wantLeaf) {
		return 0, &failure{"wrong_cert", fmt.Errorf("leaf for %q is not the expected one", t.name)}
	}
	if _, err := conn.Write(t.request); err != nil {
		return 0, fail("write", err)
	}
	if f := readResponse(bufio.NewReaderSize(conn, 1024), c.wantBody); f != nil {
		return 0, f
	}
	conn.Close() // close_notify, then FIN
	return time.Since(start), nil
}

// readResponse reads one HTTP/1.1 response with a Content-Length and
// checks its status is 200 and, unless wantBody is empty, its body.
func readResponse(br *bufio.Reader, wantBody string) *failure {
	line, err := br.ReadSlice('\n')
	if err != nil {
		return fail("read", err)
	}
	if !bytes.HasPrefix(line, []byte("HTTP/1.1 200 ")) {
		return &failure{"status", fmt.Errorf("status line %q", strings.TrimSpace(string(line)))}
	}
	length := -1
	for {
		line, err = br.ReadSlice('\n')
		if err != nil {
			return fail("read", err)
		}
		if len(bytes.TrimSpace(line)) == 0 {
			break
		}
		key, value, ok := bytes.Cut(line, []byte(":"))
		if ok && bytes.EqualFold(bytes.TrimSpace(key), []byte("content-length")) {
			if length, err = strconv.Atoi(string(bytes.TrimSpace(value))); err != nil {
				return &failure{"body", fmt.Errorf("content-length %q", value)}
			}
		}
	}
	if length < 0 {
		return &failure{"body", errors.New("no content-length")}
	}
	body := make([]byte, length)
	if _, err := io.ReadFull(br, body); err != nil {
		return fail("read", err)
	}
	if wantBody != "" && string(body) != wantBody {
		return &failure{"body", fmt.Errorf("body %q, want %q", body, wantBody)}
	}
	return nil
}

// readNames reads a file of names, one a line; blank lines and lines
// starting with # are skipped.
func readNames(path string) ([]string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var names []string
	for _, l := range strings.Split(string(b), "\n") {
		if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "#") {
			names = append(names, l)
		}
	}
	if len(names) == 0 {
		return nil, fmt.Errorf("%s: no names", path)
	}
	return names, nil
}
