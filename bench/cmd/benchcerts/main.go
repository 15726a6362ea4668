// Command benchcerts writes the throwaway certificates of the load run: a
// CA and, for each host name, an ECDSA P-256 leaf signed by it. They are for
// loopback benchmarks only. Into -out it writes, for each name:
//
//	<name>.crt      the leaf, then the CA: the 2-certificate chain every server sends
//	<name>.key      the leaf's PKCS#8 private key
//	pem/<name>.pem  chain then key, the form HAProxy's "crt <folder>" reads
//	names.txt       the names, one a line
//
// The CA is read from -ca (ca.crt, ca.key) and made there first if absent,
// so that several sets, and a second generation of the same names for a
// store-change run, share one CA.
package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"flag"
	"fmt"
	"log"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"time"
)

func main() {
	caDir := flag.String("ca", "", "`folder` of the CA (ca.crt, ca.key); made if absent")
	out := flag.String("out", "", "output `folder`")
	count := flag.Int("n", 0, "make this many names from -pattern")
	pattern := flag.String("pattern", "t%04d.bench.test", "fmt `pattern` of the names, given 1, 2, ...")
	names := flag.String("names", "", "comma-separated names, instead of -n")
	flag.Parse()

	if err := run(*caDir, *out, hostNames(*names, *pattern, *count)); err != nil {
		log.Fatal(err)
	}
}

func hostNames(list, pattern string, n int) []string {
	var names []string
	if list != "" {
		names = strings.Split(list, ",")
	}
	for i := 1; i <= n; i++ {
		names = append(names, fmt.Sprintf(pattern, i))
	}
	return names
}

func run(caDir, out string, names []string) error {
	if caDir == "" || out == "" || len(names) == 0 {
		return errors.New("need -ca, -out and -n or -names")
	}
	ca, err := loadOrMakeCA(caDir)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Join(out, "pem"), 0o700); err != nil {
		return err
	}
	for i, name := range names {
		if err := writeLeaf(out, name, ca, int64(i)); err != nil {
			return fmt.Errorf("writing %s: %w", name, err)
		}
	}
	return os.WriteFile(filepath.Join(out, "names.txt"), []byte(strings.Join(names, "\n")+"\n"), 0o644)
}

// authority is the CA that signs every leaf.
type authority struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	pem  []byte
}

func loadOrMakeCA(dir string) (*authority, error) {
	certPath, keyPath := filepath.Join(dir, "ca.crt"), filepath.Join(dir, "ca.key")
	if certPEM, err := os.ReadFile(certPath); err == nil {
		return readCA(certPEM, keyPath)
	}

	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "Portico load-run CA (throwaway)"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().AddDate(0, 0, 30),
		KeyUsage:              x509.KeyUsageCertSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return nil, err
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	if err := os.WriteFile(keyPath, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		return nil, err
	}
	if err := os.WriteFile(certPath, certPEM, 0o644); err != nil {
		return nil, err
	}
	return readCA(certPEM, keyPath)
}

func readCA(certPEM []byte, keyPath string) (*authority, error) {
	keyPEM, err := os.ReadFile(keyPath)
	if err != nil {
		return nil, err
	}
	cb, _ := pem.Decode(certPEM)
	kb, _ := pem.Decode(keyPEM)
	if cb == nil || kb == nil {
		return nil, errors.New("CA files hold no PEM")
	}
	cert, err := x509.ParseCertificate(cb.Bytes)
	if err != nil {
		return nil, fmt.Errorf("parsing CA certificate: %w", err)
	}
	key, err := x509.ParsePKCS8PrivateKey(kb.Bytes)
	if err != nil {
		return nil, fmt.Errorf("parsing CA key: %w", err)
	}
	ec, ok := key.(*ecdsa.PrivateKey)
	if !ok {
		return nil, errors.New("CA key is not ECDSA")
	}
	return &authority{cert: cert, key: ec, pem: certPEM}, nil
}

func writeLeaf(out, name string, ca *authority, i int64) error {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 96))
	if err != nil {
		return err
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial.Add(serial, big.NewInt(i)),
		Subject:      pkix.Name{CommonName: name},
		DNSNames:     []string{name},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().AddDate(0, 0, 30),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, key.Public(), ca.key)
	if err != nil {
		return err
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return err
	}
	chain := append(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), ca.pem...)
	keyPEM := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER})

	if err := os.WriteFile(filepath.Join(out, name+".crt"), chain, 0o644); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(out, name+".key"), keyPEM, 0o600); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(out, "pem", name+".pem"), append(chain, keyPEM...), 0o600)
}
