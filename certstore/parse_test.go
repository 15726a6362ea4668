package certstore

import (
	"bytes"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"strings"
	"testing"

	"github.com/portico-proxy/portico/internal/testpki"
)

func TestParseKeyPairAccepts(t *testing.T) {
	ca := testpki.NewCA(t)
	leaf := ca.Issue(t, []string{"shop.example.com"})
	sec1, err := x509.MarshalECPrivateKey(mustECDSA(t, leaf))
	if err != nil {
		t.Fatal(err)
	}
	sec1PEM := pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: sec1})
	ecParams := []byte("-----BEGIN EC PARAMETERS-----\nBggqhkjOPQMBBw==\n-----END EC PARAMETERS-----\n")

	rsaLeaf := ca.Issue(t, []string{"rsa.example.com"}, testpki.Options{KeyType: "rsa-2048"})
	pkcs1 := pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY",
		Bytes: x509.MarshalPKCS1PrivateKey(rsaLeaf.Key.(rsaKey))})
	edLeaf := ca.Issue(t, []string{"ed.example.com"}, testpki.Options{KeyType: "ed25519"})
	p384 := ca.Issue(t, []string{"p384.example.com"}, testpki.Options{KeyType: "ecdsa-p384"})

	crlf := func(b []byte) []byte { return bytes.ReplaceAll(b, []byte("\n"), []byte("\r\n")) }
	bom := func(b []byte) []byte { return append([]byte("\xef\xbb\xbf"), b...) }
	reversed := append(append([]byte{}, ca.PEM...), leaf.CertPEM...)

	tests := []struct {
		name     string
		cert     []byte
		key      []byte
		wantType string
		wantLeaf *x509.Certificate
	}{
		{"pkcs8 ecdsa, two files", leaf.ChainPEM, leaf.KeyPEM, "ecdsa-p256", leaf.Cert},
		{"CRLF line ends", crlf(leaf.ChainPEM), crlf(leaf.KeyPEM), "ecdsa-p256", leaf.Cert},
		{"byte-order mark", bom(leaf.ChainPEM), bom(leaf.KeyPEM), "ecdsa-p256", leaf.Cert},
		{"text around blocks", append([]byte("subject=CN shop\nissuer=CN ca\n"), append(leaf.ChainPEM, "trailing words\n"...)...),
			append([]byte("Bag Attributes\n"), leaf.KeyPEM...), "ecdsa-p256", leaf.Cert},
		{"SEC1 key with EC PARAMETERS", leaf.ChainPEM, append(append([]byte{}, ecParams...), sec1PEM...), "ecdsa-p256", leaf.Cert},
		{"certificate and key in one file", append(append([]byte{}, leaf.ChainPEM...), leaf.KeyPEM...), nil, "ecdsa-p256", leaf.Cert},
		{"key first, then chain, one file", append(append([]byte{}, leaf.KeyPEM...), leaf.ChainPEM...), nil, "ecdsa-p256", leaf.Cert},
		{"chain out of order", reversed, leaf.KeyPEM, "ecdsa-p256", leaf.Cert},
		{"PKCS#1 RSA", rsaLeaf.ChainPEM, pkcs1, "rsa-2048", rsaLeaf.Cert},
		{"Ed25519", edLeaf.ChainPEM, edLeaf.KeyPEM, "ed25519", edLeaf.Cert},
		{"P-384", p384.ChainPEM, p384.KeyPEM, "ecdsa-p384", p384.Cert},
		{"certificate only", leaf.ChainPEM, nil, "ecdsa-p256", leaf.Cert},
		{"certificate only, chain out of order", reversed, nil, "ecdsa-p256", leaf.Cert},
		{"same key in both files", append(append([]byte{}, leaf.ChainPEM...), leaf.KeyPEM...), leaf.KeyPEM, "ecdsa-p256", leaf.Cert},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := ParseKeyPair(tt.cert, "cert.pem", tt.key, "key.pem")
			if err != nil {
				t.Fatalf("ParseKeyPair: %v", err)
			}
			if !p.Leaf().Equal(tt.wantLeaf) {
				t.Errorf("leaf is %q, want %q", p.Leaf().Subject, tt.wantLeaf.Subject)
			}
			if p.KeyType != tt.wantType {
				t.Errorf("key type %q, want %q", p.KeyType, tt.wantType)
			}
			if strings.Contains(tt.name, "chain") || strings.Contains(tt.name, "two files") {
				if len(p.Chain) != 2 {
					t.Errorf("chain has %d certificates, want 2", len(p.Chain))
				}
			}
		})
	}
}

// TestParseKeyPairCanonical checks that one keypair in different encodings
// has one revision, which is what makes imports idempotent.
func TestParseKeyPairCanonical(t *testing.T) {
	ca := testpki.NewCA(t)
	leaf := ca.Issue(t, []string{"shop.example.com"})
	a, err := ParseKeyPair(leaf.ChainPEM, "a", leaf.KeyPEM, "a.key")
	if err != nil {
		t.Fatal(err)
	}
	crlf := bytes.ReplaceAll(append(append([]byte{}, leaf.ChainPEM...), leaf.KeyPEM...), []byte("\n"), []byte("\r\n"))
	b, err := ParseKeyPair(crlf, "b", nil, "")
	if err != nil {
		t.Fatal(err)
	}
	if a.Revision() != b.Revision() {
		t.Errorf("revisions differ for the same keypair: %s and %s", a.Revision(), b.Revision())
	}
	if a.Fingerprint() != b.Fingerprint() {
		t.Errorf("fingerprints differ")
	}
}

func TestParseKeyPairRejects(t *testing.T) {
	ca := testpki.NewCA(t)
	leaf := ca.Issue(t, []string{"shop.example.com"})
	other := ca.Issue(t, []string{"other.example.com"})
	rsa1024 := ca.Issue(t, []string{"weak.example.com"}, testpki.Options{KeyType: "rsa-1024"})
	p224 := testpki.NewKey(t, "ecdsa-p224")
	p224DER, err := x509.MarshalECPrivateKey(p224.(ecKey))
	if err != nil {
		t.Fatal(err)
	}
	encrypted := []byte("-----BEGIN ENCRYPTED PRIVATE KEY-----\nMIIBvTBXBgkqhkiG9w0BBQ0wSjApBgkqhkiG9w0BBQwwHAQI\n-----END ENCRYPTED PRIVATE KEY-----\n")
	legacyEncrypted := []byte("-----BEGIN RSA PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\nDEK-Info: AES-128-CBC,0123456789ABCDEF0123456789ABCDEF\n\nAAAA\n-----END RSA PRIVATE KEY-----\n")
	junk := make([]byte, 1<<20)
	rand.Read(junk)
	truncated := leaf.ChainPEM[:len(leaf.ChainPEM)/3]
	der := leaf.Cert.Raw

	tests := []struct {
		name      string
		cert, key []byte
		wantInput string
		wantIn    string // a part of the reason
	}{
		{"encrypted PKCS#8 key", leaf.ChainPEM, encrypted, "key.pem", "encrypted"},
		{"encrypted legacy key", leaf.ChainPEM, legacyEncrypted, "key.pem", "encrypted"},
		{"mismatched key", leaf.ChainPEM, other.KeyPEM, "key.pem", "does not match"},
		{"truncated PEM", truncated, leaf.KeyPEM, "cert.pem", "truncated"},
		{"DER bytes", der, leaf.KeyPEM, "cert.pem", "no PEM"},
		{"empty file", []byte{}, leaf.KeyPEM, "cert.pem", "empty"},
		{"key only", leaf.KeyPEM, nil, "cert.pem", "no certificate"},
		{"key file without key", leaf.ChainPEM, leaf.ChainPEM[:0:0], "key.pem", "empty"},
		{"key file holding a certificate", leaf.ChainPEM, other.CertPEM, "key.pem", "no private key"},
		{"1 MB of junk", junk, leaf.KeyPEM, "cert.pem", "no PEM"},
		{"RSA-1024", rsa1024.ChainPEM, rsa1024.KeyPEM, "key.pem", "at least 2048"},
		{"P-224 key", leaf.ChainPEM, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: p224DER}), "key.pem", "unsupported ECDSA curve"},
		{"two keys", append(append([]byte{}, leaf.ChainPEM...), leaf.KeyPEM...), other.KeyPEM, "key.pem", "more than one"},
		{"OpenSSH key", leaf.ChainPEM, []byte("-----BEGIN OPENSSH PRIVATE KEY-----\nAAAA\n-----END OPENSSH PRIVATE KEY-----\n"), "key.pem", "unsupported"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseKeyPair(tt.cert, "cert.pem", tt.key, "key.pem")
			var ie *InputError
			if !errors.As(err, &ie) {
				t.Fatalf("got error %v, want an *InputError", err)
			}
			if ie.Input != tt.wantInput {
				t.Errorf("error names %q, want %q (%v)", ie.Input, tt.wantInput, err)
			}
			if !strings.Contains(err.Error(), tt.wantIn) {
				t.Errorf("error %q does not say %q", err, tt.wantIn)
			}
			if strings.Contains(err.Error(), "PRIVATE KEY-----") {
				t.Errorf("error leaks PEM: %q", err)
			}
		})
	}
}

func FuzzParseKeyPair(f *testing.F) {
	ca := testpki.NewCA(f)
	leaf := ca.Issue(f, []string{"fuzz.example.com"})
	f.Add(leaf.ChainPEM, leaf.KeyPEM)
	f.Add(append(append([]byte{}, leaf.KeyPEM...), leaf.ChainPEM...), []byte(nil))
	f.Add([]byte("-----BEGIN CERTIFICATE-----\n"), []byte("junk"))
	f.Add(bytes.ReplaceAll(leaf.ChainPEM, []byte("\n"), []byte("\r\n")), leaf.KeyPEM[:40])
	f.Fuzz(func(t *testing.T, cert, key []byte) {
		p, err := ParseKeyPair(cert, "cert", key, "key")
		if err != nil {
			var ie *InputError
			if !errors.As(err, &ie) {
				t.Fatalf("error is %T, want *InputError: %v", err, err)
			}
			return
		}
		// Whatever is accepted must parse again to the same keypair.
		again, err := ParseKeyPair(p.ChainPEM, "chain", p.KeyPEM, "key")
		if p.KeyPEM == nil {
			again, err = ParseKeyPair(p.ChainPEM, "chain", nil, "")
		}
		if err != nil {
			t.Fatalf("canonical form rejected: %v", err)
		}
		if again.Revision() != p.Revision() {
			t.Fatalf("canonical form is not stable")
		}
	})
}
