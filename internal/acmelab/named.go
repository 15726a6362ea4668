package acmelab

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// namedReadyTimeout bounds the wait for named to answer after a start.
const namedReadyTimeout = 20 * time.Second

// dnsServer is the lab's BIND named: authoritative for one zone on
// 127.0.0.1:port, and accepting RFC 2136 updates signed with the TSIG key.
type dnsServer struct {
	bin     string
	dir     string
	port    int
	zone    string
	keyName string
	secret  string
	labID   string // served as TXT _acmelab.ZONE, so the probe knows it reached this lab
	d       *daemon
}

// keyFile is the path of the TSIG key clause that named.conf includes; it
// is also what `nsupdate -k` reads.
func (s *dnsServer) keyFile() string { return filepath.Join(s.dir, "tsig.key") }

func (s *dnsServer) confFile() string { return filepath.Join(s.dir, "named.conf") }

// writeConfig writes the key, a fresh zone and named.conf. Everything named
// writes (journal, pid, lock, session key) stays in s.dir.
func (s *dnsServer) writeConfig() error {
	key := fmt.Sprintf("key %q {\n\talgorithm hmac-sha256;\n\tsecret %q;\n};\n", s.keyName, s.secret)
	if err := os.WriteFile(s.keyFile(), []byte(key), 0o600); err != nil {
		return err
	}
	zone := fmt.Sprintf(`$ORIGIN %[1]s.
$TTL 60
@         IN SOA ns1.%[1]s. hostmaster.%[1]s. ( %[2]d 60 30 86400 1 )
@         IN NS  ns1.%[1]s.
ns1       IN A   127.0.0.1
@         IN A   127.0.0.1
*         IN A   127.0.0.1
_acmelab  IN TXT "%[3]s"
`, s.zone, time.Now().Unix(), s.labID)
	if err := os.WriteFile(filepath.Join(s.dir, "zone.db"), []byte(zone), 0o600); err != nil {
		return err
	}
	conf := fmt.Sprintf(`// acmelab: loopback-only authoritative server for %[1]s.
include "%[2]s/tsig.key";
options {
	directory "%[2]s";
	pid-file "%[2]s/named.pid";
	lock-file "%[2]s/named.lock";
	session-keyfile "%[2]s/session.key";
	managed-keys-directory "%[2]s";
	listen-on port %[3]d { 127.0.0.1; };
	listen-on-v6 { none; };
	recursion no;
	allow-query { 127.0.0.1; };
	allow-transfer { none; };
	notify no;
	dnssec-validation no;
	querylog yes;
};
controls { };
zone "%[1]s" {
	type primary;
	file "%[2]s/zone.db";
	update-policy { grant "%[4]s" zonesub ANY; };
};
`, s.zone, s.dir, s.port, s.keyName)
	return os.WriteFile(s.confFile(), []byte(conf), 0o600)
}

// start runs named and waits until it answers for the zone. It returns
// errPortTaken when another process holds the port.
func (s *dnsServer) start() error {
	// -g: foreground, log to stderr; -4: IPv4 only; -n 1: one worker.
	d, err := startDaemon("named", filepath.Join(s.dir, "named.log"), nil,
		s.bin, "-g", "-4", "-n", "1", "-c", s.confFile())
	if err != nil {
		return err
	}
	s.d = d
	deadline := time.Now().Add(namedReadyTimeout)
	for time.Now().Before(deadline) {
		if s.answers() {
			return nil
		}
		if cannotListen(d.logTail(50)) {
			d.stop()
			return errPortTaken
		}
		if d.exited() {
			return fmt.Errorf("named %w:\n%s", errExited, d.logTail(20))
		}
		time.Sleep(50 * time.Millisecond)
	}
	d.stop()
	return fmt.Errorf("named did not answer on 127.0.0.1:%d within %s:\n%s",
		s.port, namedReadyTimeout, d.logTail(20))
}

// cannotListen reports whether named's log says it could not bind its
// port, which another process took after the lab picked it (named logs
// "address in use", or only that it could not listen at all and exits).
func cannotListen(log string) bool {
	for _, s := range []string{"address in use", "unable to listen on any configured interfaces",
		"creating IPv4 interface lo failed"} {
		if strings.Contains(log, s) {
			return true
		}
	}
	return false
}

// answers reports whether this lab's named answers on its port: the TXT
// record holding the lab's id proves it is not some other server.
func (s *dnsServer) answers() bool {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	txt, err := Resolver(s.addr()).LookupTXT(ctx, "_acmelab."+s.zone+".")
	return err == nil && len(txt) == 1 && txt[0] == s.labID
}

func (s *dnsServer) addr() string { return fmt.Sprintf("127.0.0.1:%d", s.port) }

func (s *dnsServer) stop() error {
	if s.d == nil {
		return nil
	}
	return s.d.stop()
}

// Resolver returns a resolver that sends every query to the DNS server at
// addr (host:port), over UDP or TCP as the query needs.
func Resolver(addr string) *net.Resolver {
	return &net.Resolver{
		PreferGo: true,
		Dial: func(ctx context.Context, network, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, network, addr)
		},
	}
}

// errPortTaken says a server could not bind its port because another
// process took it first.
var errPortTaken = errors.New("port taken by another process")
