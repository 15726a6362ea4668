// Command hsload measures full TLS handshakes per second against a server on
// loopback. Each of -c workers repeats, back to back: open a TCP connection,
// do a full TLS 1.3 handshake (X25519, ALPN http/1.1, no resumption) with a
// server name drawn uniformly from -names, send one HTTP/1.1 GET, read the
// response, close with close_notify. It prints one line:
//
//	RESULT conns_per_s=... hs_per_cpu_s=... server_cpu=... errors=... ...
//
// Only connections that finish inside the measurement window (after
// -warmup) count towards the rates and latencies; errors count over the
// whole run. With -server-pid, the CPU time of that process and its
// descendants over the window gives hs_per_cpu_s, the handshakes one
// server core can do, which stays meaningful when the client, not the
// server, is the limit.
//
// With -probe it instead retries a single request until one succeeds and
// prints how long that took since -t0: run.sh uses it to time start-up.
package main

import (
	"encoding/pem"
	"flag"
	"fmt"
	"os"
	"time"
)

// config is everything the flags set.
type config struct {
	addr      string
	names     []string
	workers   int
	duration  time.Duration
	warmup    time.Duration
	limit     int // connection attempts; 0 for no limit
	serverPID int
	checks    checks
	timeline  time.Duration
	label     string

	probe        bool
	probeT0      time.Time
	probeTimeout time.Duration
}

func main() {
	cfg, err := parseFlags(os.Args[1:])
	if err != nil {
		fmt.Fprintln(os.Stderr, "hsload:", err)
		os.Exit(2)
	}
	if cfg.probe {
		line, err := probe(cfg)
		fmt.Println(line)
		if err != nil {
			fmt.Fprintln(os.Stderr, "hsload:", err)
			os.Exit(1)
		}
		return
	}
	res, err := run(cfg)
	if err != nil {
		fmt.Fprintln(os.Stderr, "hsload:", err)
		os.Exit(1)
	}
	fmt.Println(res.line())
	if len(res.firstErrors) > 0 {
		fmt.Fprintln(os.Stderr, "hsload: first errors:", res.firstErrors)
	}
}

func parseFlags(args []string) (config, error) {
	var c config
	fs := flag.NewFlagSet("hsload", flag.ContinueOnError)
	fs.StringVar(&c.addr, "addr", "127.0.0.1:8443", "server `host:port`")
	sni := fs.String("sni", "", "server name to send (and Host header)")
	namesFile := fs.String("names", "", "`file` of server names, one a line, drawn uniformly per connection")
	fs.IntVar(&c.workers, "c", 16, "connections in flight")
	fs.DurationVar(&c.duration, "d", 10*time.Second, "measurement window")
	fs.DurationVar(&c.warmup, "warmup", time.Second, "load before the window, not counted")
	fs.IntVar(&c.limit, "n", 0, "stop after this many connection attempts (0: only -d bounds the run)")
	fs.DurationVar(&c.checks.timeout, "timeout", defaultTimeout, "deadline for one connection, from dial to response")
	fs.IntVar(&c.serverPID, "server-pid", 0, "measure the CPU time of this `pid` and its descendants over the window")
	fs.StringVar(&c.checks.wantBody, "body", "Hello, World!", "the exact response body to expect; empty accepts any")
	leafFile := fs.String("leaf", "", "PEM `file` whose first certificate must be the leaf served")
	fs.DurationVar(&c.timeline, "timeline", 0, "also count successes and errors per interval of this length")
	fs.StringVar(&c.label, "label", "", "text copied into the result line")
	fs.BoolVar(&c.probe, "probe", false, "retry one request until it succeeds and print the time since -t0")
	t0 := fs.Int64("t0", 0, "probe: start time in Unix nanoseconds (default: now)")
	fs.DurationVar(&c.probeTimeout, "probe-timeout", 60*time.Second, "probe: give up after this long")
	if err := fs.Parse(args); err != nil {
		return c, err
	}

	if *namesFile != "" {
		names, err := readNames(*namesFile)
		if err != nil {
			return c, err
		}
		c.names = names
	}
	if *sni != "" {
		c.names = append(c.names, *sni)
	}
	if *leafFile != "" {
		der, err := firstCertificate(*leafFile)
		if err != nil {
			return c, err
		}
		c.checks.wantLeaf = der
	}
	c.probeT0 = time.Now()
	if *t0 > 0 {
		c.probeT0 = time.Unix(0, *t0)
	}
	switch {
	case len(c.names) == 0:
		return c, fmt.Errorf("no server names: give -sni or -names")
	case c.workers < 1:
		return c, fmt.Errorf("-c must be at least 1")
	case c.duration <= 0 && c.limit <= 0:
		return c, fmt.Errorf("-d or -n must bound the run")
	}
	return c, nil
}

// firstCertificate returns the DER of the first certificate in a PEM file.
func firstCertificate(path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	for {
		var block *pem.Block
		block, b = pem.Decode(b)
		if block == nil {
			return nil, fmt.Errorf("%s: no certificate", path)
		}
		if block.Type == "CERTIFICATE" {
			return block.Bytes, nil
		}
	}
}

// defaultTimeout bounds one connection, from dial to the end of the response.
const defaultTimeout = 5 * time.Second
