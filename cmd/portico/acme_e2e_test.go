package main

import (
	"bufio"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/portico-proxy/portico/internal/acmelab"
)

// issueTimeout bounds the wait for a certificate from the lab. An order
// takes about five seconds (Pebble and certmagic each pause for DNS).
const issueTimeout = 2 * time.Minute

// shortRatio makes a renewal due about ten seconds after issuance: Pebble's
// certificates last five years (157,766,400 seconds).
const shortRatio = "0.99999994"

// TestACMEServe runs the built portico binary against a lab of its own per
// subtest: a real Pebble CA and a real BIND server on loopback.
func TestACMEServe(t *testing.T) {
	t.Parallel()

	t.Run("obtains a certificate for the domain and its subdomains", func(t *testing.T) {
		t.Parallel()
		testACMEObtain(t)
	})
	t.Run("renews without a restart", func(t *testing.T) {
		t.Parallel()
		testACMERenew(t)
	})
	t.Run("keeps serving through failures and recovers", func(t *testing.T) {
		t.Parallel()
		testACMEFailure(t)
	})
	t.Run("a restart reuses the account and certificate", func(t *testing.T) {
		t.Parallel()
		testACMERestart(t)
	})
	t.Run("two servers on one database make one order", func(t *testing.T) {
		t.Parallel()
		testACMETwoServers(t)
	})
}

// addACMETenant adds shop.ZONE as an ACME tenant through the CLI.
func addACMETenant(t *testing.T, data string, lab *acmelab.Lab) string {
	t.Helper()
	domain := "shop." + lab.Zone
	mustPortico(t, data, "tenant", "add", "--domain", domain, "--acme")
	return domain
}

// waitVerified waits until srv serves sni a certificate that verifies
// against the lab's root, other than the one with fingerprint not, and
// returns its fingerprint.
func waitVerified(t *testing.T, lab *acmelab.Lab, srv *serveProc, sni, not string) string {
	t.Helper()
	var fp string
	eventually(t, "a lab certificate for "+sni, issueTimeout, func() bool {
		ok, got := labVerified(t, lab, srv.addr, sni)
		fp = got
		return ok && got != not
	})
	return fp
}

func testACMEObtain(t *testing.T) {
	lab := acmelab.Start(t)
	data := t.TempDir()
	srv := startACMEServe(t, data, lab)
	domain := addACMETenant(t, data, lab)

	fp := waitVerified(t, lab, srv, domain, "")
	for _, sni := range []string{domain, "x." + domain, "WWW." + strings.ToUpper(domain)} {
		conn := verifiedHandshake(t, lab, srv.addr, sni)
		if got := fingerprint(conn.ConnectionState().PeerCertificates[0]); got != fp {
			t.Errorf("%s: served %s, want %s", sni, got[:16], fp[:16])
		}
		conn.Close()
	}

	st := acmeStatus(t, data)
	if len(st) != 1 || st[0].Domain != domain || st[0].LastResult != "ok" || !st[0].Serving ||
		st[0].NotAfter == nil || st[0].NextAttempt == nil || st[0].KeyPair != "acme:"+domain {
		t.Errorf("acme status: %+v", st)
	}
	table := mustPortico(t, data, "acme", "status")
	if !strings.Contains(table, domain) || !strings.Contains(table, " ok ") {
		t.Errorf("acme status table lacks the domain or ok:\n%s", table)
	}
	list := mustPortico(t, data, "certificate", "list")
	if !strings.Contains(list, "acme:"+domain) || !strings.Contains(list, "acme") {
		t.Errorf("certificate list lacks the ACME keypair:\n%s", list)
	}
	if n := lab.Orders(t); n != 1 {
		t.Errorf("the CA saw %d orders, want 1", n)
	}
	assertNoSecret(t, lab, srv.log(), table)
}

func testACMERenew(t *testing.T) {
	lab := acmelab.Start(t)
	data := t.TempDir()
	srv := startACMEServe(t, data, lab, "--acme-renewal-window-ratio", shortRatio)
	domain := addACMETenant(t, data, lab)
	first := waitVerified(t, lab, srv, domain, "")

	// A connection opened before the renewal, with a request on it.
	conn := verifiedHandshake(t, lab, srv.addr, domain)
	defer conn.Close()
	rd := bufio.NewReader(conn)
	get := func() error {
		fmt.Fprintf(conn, "GET /-/health HTTP/1.1\r\nHost: %s\r\n\r\n", domain)
		resp, err := http.ReadResponse(rd, nil)
		if err != nil {
			return err
		}
		resp.Body.Close()
		return nil
	}
	if err := get(); err != nil {
		t.Fatalf("request before the renewal: %v", err)
	}

	second := waitVerified(t, lab, srv, domain, first)
	if err := get(); err != nil {
		t.Errorf("the connection opened before the renewal broke: %v", err)
	}
	if got := fingerprint(conn.ConnectionState().PeerCertificates[0]); got != first {
		t.Errorf("old connection's certificate changed")
	}
	if sub := waitVerified(t, lab, srv, "x."+domain, ""); sub == first {
		t.Errorf("x.%s still gets the first certificate after the renewal", domain)
	}
	if srv.countLog("acme: certificate renewed") == 0 {
		t.Errorf("no renewal logged; second certificate %s", second[:16])
	}
	assertNoSecret(t, lab, srv.log())
}

func testACMEFailure(t *testing.T) {
	lab := acmelab.Start(t)
	data := t.TempDir()
	srv := startACMEServe(t, data, lab, "--acme-renewal-window-ratio", shortRatio,
		"--acme-retry-min", "1s", "--acme-retry-max", "3s")
	domain := addACMETenant(t, data, lab)
	first := waitVerified(t, lab, srv, domain, "")

	lab.StopDNS(t)
	var failed acmeStatusJSON
	eventually(t, "acme status to show a failed renewal", issueTimeout, func() bool {
		st := acmeStatus(t, data)
		if len(st) != 1 {
			return false
		}
		failed = st[0]
		return failed.LastResult == "error" && failed.Failures >= 2
	})
	if failed.LastError == "" || failed.NextAttempt == nil {
		t.Errorf("failed status lacks the error or the next attempt: %+v", failed)
	}
	if ok, fp := labVerified(t, lab, srv.addr, domain); !ok || fp != first {
		t.Errorf("after failed renewals: verified %v, fingerprint %s; want the first certificate %s", ok, fp[:16], first[:16])
	}
	table := mustPortico(t, data, "acme", "status")
	if !strings.Contains(table, "error") {
		t.Errorf("acme status table does not show the error:\n%s", table)
	}

	lab.StartDNS(t)
	second := waitVerified(t, lab, srv, domain, first)
	eventually(t, "acme status to show success again", 30*time.Second, func() bool {
		st := acmeStatus(t, data)
		return len(st) == 1 && st[0].LastResult == "ok" && st[0].Failures == 0
	})
	t.Logf("renewed to %s after %d failed attempts: %s", second[:16], failed.Failures, failed.LastError)
	assertNoSecret(t, lab, srv.log(), table)
}

func testACMERestart(t *testing.T) {
	lab := acmelab.Start(t)
	data := t.TempDir()
	srv := startACMEServe(t, data, lab)
	domain := addACMETenant(t, data, lab)
	first := waitVerified(t, lab, srv, domain, "")
	srv.stop(t)
	orders, accounts := lab.Orders(t), lab.AccountRequests(t)
	before := acmeStatus(t, data)

	again := startACMEServe(t, data, lab)
	if ok, fp := labVerified(t, lab, again.addr, domain); !ok || fp != first {
		t.Errorf("after the restart: verified %v, fingerprint %s; want the stored %s", ok, fp[:16], first[:16])
	}
	eventually(t, "the restarted server to look at the tenant", 30*time.Second, func() bool {
		return again.countLog("acme: nothing to do yet") > 0
	})
	if n, m := lab.Orders(t), lab.AccountRequests(t); n != orders || m != accounts || orders != 1 || accounts != 1 {
		t.Errorf("orders %d then %d, account requests %d then %d; want 1 of each, none after the restart", orders, n, accounts, m)
	}
	after := acmeStatus(t, data)
	if !after[0].LastAttempt.Equal(*before[0].LastAttempt) {
		t.Errorf("last attempt moved across the restart: %v, then %v", before[0].LastAttempt, after[0].LastAttempt)
	}
}

func testACMETwoServers(t *testing.T) {
	lab := acmelab.Start(t)
	data := t.TempDir()
	a := startACMEServe(t, data, lab)
	b := startACMEServe(t, data, lab)
	domain := addACMETenant(t, data, lab)

	fa := waitVerified(t, lab, a, domain, "")
	fb := waitVerified(t, lab, b, domain, "")
	if fa != fb {
		t.Errorf("the servers serve different certificates: %s and %s", fa[:16], fb[:16])
	}
	if n := lab.Orders(t); n != 1 {
		t.Errorf("the CA saw %d orders, want 1", n)
	}
	obtained := a.countLog("acme: certificate obtained") + b.countLog("acme: certificate obtained")
	if obtained != 1 {
		t.Errorf("%d servers logged an issuance, want 1", obtained)
	}
}

// assertNoSecret fails when the lab's TSIG secret appears in any output.
func assertNoSecret(t *testing.T, lab *acmelab.Lab, outputs ...string) {
	t.Helper()
	for _, out := range outputs {
		if strings.Contains(out, lab.TSIGSecret) {
			t.Errorf("the TSIG secret appears in output")
		}
	}
}
