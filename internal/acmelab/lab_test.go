package acmelab

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestLab(t *testing.T) {
	t.Parallel()
	lab := Start(t)

	t.Run("directory over HTTPS trusting CABundle", func(t *testing.T) {
		client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: lab.CAPool()}}}
		defer client.CloseIdleConnections()
		resp, err := client.Get(lab.DirectoryURL)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var dir map[string]any
		if err := json.NewDecoder(resp.Body).Decode(&dir); err != nil {
			t.Fatal(err)
		}
		if _, ok := dir["newOrder"]; !ok {
			t.Errorf("directory has no newOrder: %v", dir)
		}
	})

	t.Run("issuer root is a CA certificate", func(t *testing.T) {
		root, err := parseCertPEM(lab.IssuerRoot)
		if err != nil {
			t.Fatal(err)
		}
		if !root.IsCA {
			t.Errorf("issuing root %q is not a CA", root.Subject)
		}
		inter, err := parseCertPEM(lab.IssuerIntermediate)
		if err != nil {
			t.Fatal(err)
		}
		if err := inter.CheckSignatureFrom(root); err != nil {
			t.Errorf("intermediate not signed by the issuing root: %v", err)
		}
	})

	t.Run("zone answers", func(t *testing.T) {
		addrs := lookupHost(t, lab.DNSAddr, "x."+lab.Zone+".")
		if len(addrs) != 1 || addrs[0] != "127.0.0.1" {
			t.Errorf("x.%s: got %v, want [127.0.0.1]", lab.Zone, addrs)
		}
	})

	t.Run("RFC 2136 update signed with the TSIG key", func(t *testing.T) {
		name := "_acme-challenge.update." + lab.Zone + "."
		if out, err := nsupdate(lab, "", "update add "+name+" 60 TXT \"signed\""); err != nil {
			t.Fatalf("nsupdate: %v\n%s", err, out)
		}
		txt, err := Resolver(lab.DNSAddr).LookupTXT(context.Background(), name)
		if err != nil || len(txt) != 1 || txt[0] != "signed" {
			t.Errorf("TXT %s: got %v, %v; want [signed]", name, txt, err)
		}
	})

	t.Run("update with a wrong secret is refused", func(t *testing.T) {
		bad := t.TempDir() + "/bad.key"
		os.WriteFile(bad, []byte(`key "acmelab-key" { algorithm hmac-sha256; secret "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="; };`), 0o600)
		name := "_acme-challenge.bad." + lab.Zone + "."
		if out, err := nsupdate(lab, bad, "update add "+name+" 60 TXT \"forged\""); err == nil {
			t.Fatalf("nsupdate with a wrong key succeeded:\n%s", out)
		}
		if txt, err := Resolver(lab.DNSAddr).LookupTXT(context.Background(), name); err == nil {
			t.Errorf("TXT %s exists after a forged update: %v", name, txt)
		}
	})

	t.Run("certbot credentials", func(t *testing.T) {
		fi, err := os.Stat(lab.CertbotCredentials)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != 0o600 {
			t.Errorf("mode %v, want 0600", fi.Mode().Perm())
		}
		b, _ := os.ReadFile(lab.CertbotCredentials)
		port := lab.DNSAddr[strings.LastIndex(lab.DNSAddr, ":")+1:]
		for _, want := range []string{"dns_rfc2136_port = " + port, "dns_rfc2136_secret = " + lab.TSIGSecret} {
			if !strings.Contains(string(b), want) {
				t.Errorf("credentials lack %q:\n%s", want, b)
			}
		}
	})

	t.Run("DNS stops and starts again", func(t *testing.T) {
		lab.StopDNS(t)
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		if addrs, err := Resolver(lab.DNSAddr).LookupHost(ctx, "ns1."+lab.Zone+"."); err == nil {
			t.Fatalf("named answered after StopDNS: %v", addrs)
		}
		lab.StartDNS(t)
		if addrs := lookupHost(t, lab.DNSAddr, "ns1."+lab.Zone+"."); len(addrs) != 1 {
			t.Errorf("ns1 after StartDNS: %v", addrs)
		}
	})
}

func TestLabsRunSideBySide(t *testing.T) {
	t.Parallel()
	a, b := Start(t, Options{Zone: "a.test"}), Start(t, Options{Zone: "b.test."})
	if a.DNSAddr == b.DNSAddr || a.DirectoryURL == b.DirectoryURL {
		t.Fatalf("two labs share an address: %s %s, %s %s", a.DNSAddr, b.DNSAddr, a.DirectoryURL, b.DirectoryURL)
	}
	if b.Zone != "b.test" {
		t.Errorf("zone: got %q, want b.test", b.Zone)
	}
	for _, lab := range []*Lab{a, b} {
		if addrs := lookupHost(t, lab.DNSAddr, "www."+lab.Zone+"."); len(addrs) != 1 {
			t.Errorf("%s: www.%s: %v", lab.DNSAddr, lab.Zone, addrs)
		}
	}
	if bytesEqual(a.IssuerRoot, b.IssuerRoot) {
		t.Error("two labs have the same issuing root")
	}
}

func lookupHost(t *testing.T, server, name string) []string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	addrs, err := Resolver(server).LookupHost(ctx, name)
	if err != nil {
		t.Fatalf("looking up %s at %s: %v", name, server, err)
	}
	return addrs
}

// nsupdate sends one update to the lab's named, signed with keyFile (the
// lab's own key when empty).
func nsupdate(lab *Lab, keyFile, update string) (string, error) {
	if keyFile == "" {
		keyFile = lab.TSIGKeyFile
	}
	bin := lookPath("nsupdate")
	if bin == "" {
		return "", exec.ErrNotFound
	}
	host, port, _ := strings.Cut(lab.DNSAddr, ":")
	if _, err := strconv.Atoi(port); err != nil {
		return "", err
	}
	script := "server " + host + " " + port + "\nzone " + lab.Zone + "\n" + update + "\nsend\n"
	cmd := exec.Command(bin, "-k", keyFile, "-t", "5")
	cmd.Stdin = strings.NewReader(script)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func bytesEqual(a, b []byte) bool { return string(a) == string(b) }
