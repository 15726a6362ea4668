package acmelab

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// pebbleReadyTimeout bounds the wait for Pebble to answer after a start.
const pebbleReadyTimeout = 30 * time.Second

// acmeCA is the lab's Pebble: the ACME API on 127.0.0.1:acmePort and the
// management API (issuing root and intermediate) on 127.0.0.1:mgmtPort,
// both over HTTPS with a certificate from the lab's own TLS CA.
type acmeCA struct {
	bin        string
	dir        string
	acmePort   int
	mgmtPort   int
	dnsAddr    string // where Pebble's validator looks up challenges
	authzReuse int
	eab        map[string]string
	tlsPool    *x509.CertPool
	d          *daemon
}

func (p *acmeCA) directoryURL() string {
	return fmt.Sprintf("https://127.0.0.1:%d/dir", p.acmePort)
}

func (p *acmeCA) managementURL() string {
	return fmt.Sprintf("https://127.0.0.1:%d", p.mgmtPort)
}

// writeConfig writes pebble-config.json. certFile and keyFile are Pebble's
// HTTPS certificate and key.
func (p *acmeCA) writeConfig(certFile, keyFile string) error {
	type config struct {
		ListenAddress           string            `json:"listenAddress"`
		ManagementListenAddress string            `json:"managementListenAddress"`
		Certificate             string            `json:"certificate"`
		PrivateKey              string            `json:"privateKey"`
		HTTPPort                int               `json:"httpPort"`
		TLSPort                 int               `json:"tlsPort"`
		OCSPResponderURL        string            `json:"ocspResponderURL"`
		EABRequired             bool              `json:"externalAccountBindingRequired"`
		EABKeys                 map[string]string `json:"externalAccountMACKeys,omitempty"`
	}
	c := map[string]config{"pebble": {
		ListenAddress:           fmt.Sprintf("127.0.0.1:%d", p.acmePort),
		ManagementListenAddress: fmt.Sprintf("127.0.0.1:%d", p.mgmtPort),
		Certificate:             certFile,
		PrivateKey:              keyFile,
		// The ports Pebble would connect to for HTTP-01 and TLS-ALPN-01;
		// the lab only solves DNS-01, so nothing listens there.
		HTTPPort:    5002,
		TLSPort:     5001,
		EABRequired: len(p.eab) > 0,
		EABKeys:     p.eab,
	}}
	b, err := json.MarshalIndent(c, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(p.configFile(), b, 0o600)
}

func (p *acmeCA) configFile() string { return filepath.Join(p.dir, "pebble-config.json") }

// start runs Pebble and waits until both its APIs answer. It returns
// errPortTaken when another process holds one of its ports.
func (p *acmeCA) start() error {
	env := []string{
		"PEBBLE_VA_NOSLEEP=1",      // validate at once, not after a random pause
		"PEBBLE_WFE_NONCEREJECT=0", // never reject a good nonce
		fmt.Sprintf("PEBBLE_AUTHZREUSE=%d", p.authzReuse),
	}
	d, err := startDaemon("pebble", filepath.Join(p.dir, "pebble.log"), env,
		p.bin, "-config", p.configFile(), "-dnsserver", p.dnsAddr)
	if err != nil {
		return err
	}
	p.d = d
	deadline := time.Now().Add(pebbleReadyTimeout)
	for time.Now().Before(deadline) {
		if p.answers() {
			return nil
		}
		if d.exited() {
			if strings.Contains(d.logTail(20), "address already in use") {
				return errPortTaken
			}
			return fmt.Errorf("pebble %w:\n%s", errExited, d.logTail(20))
		}
		time.Sleep(100 * time.Millisecond)
	}
	d.stop()
	return fmt.Errorf("pebble did not answer on %s within %s:\n%s",
		p.directoryURL(), pebbleReadyTimeout, d.logTail(20))
}

// answers reports whether both APIs answer over HTTPS that verifies
// against the lab's TLS CA (so it is this lab's Pebble, not another).
func (p *acmeCA) answers() bool {
	for _, u := range []string{p.directoryURL(), p.managementURL() + "/roots/0"} {
		if _, err := p.get(u); err != nil {
			return false
		}
	}
	return true
}

// get fetches u over HTTPS trusting only the lab's TLS CA.
func (p *acmeCA) get(u string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	client := &http.Client{Transport: &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: p.tlsPool},
		Proxy:           nil,
	}}
	defer client.CloseIdleConnections()
	resp, err := client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %s", u, resp.Status)
	}
	return body, nil
}

func (p *acmeCA) stop() error {
	if p.d == nil {
		return nil
	}
	return p.d.stop()
}
