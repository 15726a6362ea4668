package certstore

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"strings"
)

// MinRSABits is the smallest RSA key Portico accepts.
const MinRSABits = 2048

// InputError is a keypair input that was rejected. Input names the file or
// field at fault and Reason says what is wrong with it; neither ever holds
// key material.
type InputError struct {
	Input  string
	Reason string
}

func (e *InputError) Error() string {
	if e.Input == "" {
		return e.Reason
	}
	return e.Input + ": " + e.Reason
}

// Parsed is a validated keypair in canonical form: the leaf first, then the
// rest of the chain, and the private key (if any) as PKCS#8.
type Parsed struct {
	Chain    []*x509.Certificate
	ChainPEM []byte
	KeyPEM   []byte // nil when no key was given
	KeyType  string
}

// Leaf returns the leaf certificate.
func (p *Parsed) Leaf() *x509.Certificate { return p.Chain[0] }

// Fingerprint returns the hex SHA-256 of the leaf's DER.
func (p *Parsed) Fingerprint() string {
	sum := sha256.Sum256(p.Chain[0].Raw)
	return hex.EncodeToString(sum[:])
}

// Revision returns a hex SHA-256 over the canonical chain and key. Two inputs
// with the same revision are the same keypair, byte for byte.
func (p *Parsed) Revision() string {
	h := sha256.New()
	h.Write(p.ChainPEM)
	h.Write([]byte{0})
	h.Write(p.KeyPEM)
	return hex.EncodeToString(h.Sum(nil))
}

// ParseKeyPair validates a certificate chain and an optional private key.
// Both inputs may hold certificates, keys or both, in PEM with LF or CRLF
// line ends, a byte-order mark and text around the blocks; certName and
// keyName name them in errors. A chain whose leaf is not first is put in
// order when the key identifies the leaf. It returns an *InputError when the
// input is rejected.
func ParseKeyPair(cert []byte, certName string, key []byte, keyName string) (*Parsed, error) {
	var certs []*x509.Certificate
	var keys []foundKey
	for _, in := range []struct {
		data []byte
		name string
	}{{cert, certName}, {key, keyName}} {
		if in.data == nil {
			continue
		}
		c, k, err := decodeBlocks(in.data, in.name)
		if err != nil {
			return nil, err
		}
		certs = append(certs, c...)
		keys = append(keys, k...)
	}

	if len(certs) == 0 {
		name := certName
		if len(keys) > 0 && keyName != "" && len(cert) == 0 {
			name = keyName
		}
		return nil, &InputError{name, "no certificate found"}
	}
	if key != nil && len(keys) == 0 && !bytes.Equal(cert, key) {
		return nil, &InputError{keyName, "no private key found"}
	}
	keys = distinctKeys(keys)
	if len(keys) > 1 {
		return nil, &InputError{keys[1].from, "more than one private key"}
	}

	p := &Parsed{Chain: certs}
	if len(keys) == 1 {
		k := keys[0]
		leaf := matchLeaf(certs, k.key)
		if leaf < 0 {
			return nil, &InputError{k.from, "private key does not match the certificate's public key"}
		}
		p.Chain = moveFirst(certs, leaf)
		der, err := x509.MarshalPKCS8PrivateKey(k.key)
		if err != nil {
			return nil, &InputError{k.from, "encoding private key: " + err.Error()}
		}
		p.KeyPEM = pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
		p.KeyType = k.kind
	} else {
		p.Chain = moveFirst(certs, guessLeaf(certs))
		kind, err := keyType(p.Chain[0].PublicKey)
		if err != nil {
			kind = "unknown"
		}
		p.KeyType = kind
	}

	var buf bytes.Buffer
	for _, c := range p.Chain {
		pem.Encode(&buf, &pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})
	}
	p.ChainPEM = buf.Bytes()
	return p, nil
}

type foundKey struct {
	key  crypto.Signer
	kind string
	from string
}

// decodeBlocks reads every PEM block in data. Certificates and supported
// private keys are returned; parameters and other harmless blocks are
// ignored; encrypted or unusable keys and broken blocks are errors.
func decodeBlocks(data []byte, name string) ([]*x509.Certificate, []foundKey, error) {
	if len(data) == 0 {
		return nil, nil, &InputError{name, "file is empty"}
	}
	var certs []*x509.Certificate
	var keys []foundKey
	// A byte-order mark hides the BEGIN line from the PEM decoder; files
	// joined with cat may carry one in the middle, too.
	rest := bytes.ReplaceAll(data, []byte("\xef\xbb\xbf"), nil)
	for {
		block, after := pem.Decode(rest)
		if block == nil {
			if bytes.Contains(rest, []byte("-----BEGIN ")) {
				return nil, nil, &InputError{name, "truncated or malformed PEM block"}
			}
			break
		}
		rest = after

		switch block.Type {
		case "CERTIFICATE":
			c, err := x509.ParseCertificate(block.Bytes)
			if err != nil {
				return nil, nil, &InputError{name, "parsing certificate: " + err.Error()}
			}
			certs = append(certs, c)
		case "PRIVATE KEY", "RSA PRIVATE KEY", "EC PRIVATE KEY":
			if _, enc := block.Headers["Proc-Type"]; enc {
				return nil, nil, &InputError{name, "private key is encrypted; decrypt it first"}
			}
			k, kind, err := parsePrivateKey(block)
			if err != nil {
				return nil, nil, &InputError{name, err.Error()}
			}
			keys = append(keys, foundKey{k, kind, name})
		case "ENCRYPTED PRIVATE KEY":
			return nil, nil, &InputError{name, "private key is encrypted; decrypt it first"}
		case "OPENSSH PRIVATE KEY", "DSA PRIVATE KEY":
			return nil, nil, &InputError{name, "unsupported key type: " + block.Type}
		default:
			// EC PARAMETERS, PUBLIC KEY, CERTIFICATE REQUEST and the like
			// carry nothing a keypair needs.
		}
	}
	if len(certs) == 0 && len(keys) == 0 {
		return nil, nil, &InputError{name, "no PEM certificate or private key found"}
	}
	return certs, keys, nil
}

func parsePrivateKey(block *pem.Block) (crypto.Signer, string, error) {
	var key any
	var err error
	switch block.Type {
	case "RSA PRIVATE KEY":
		key, err = x509.ParsePKCS1PrivateKey(block.Bytes)
	case "EC PRIVATE KEY":
		key, err = x509.ParseECPrivateKey(block.Bytes)
	default:
		key, err = x509.ParsePKCS8PrivateKey(block.Bytes)
	}
	if err != nil {
		if strings.Contains(err.Error(), "unknown algorithm") {
			return nil, "", errors.New("unsupported key type (Portico serves RSA, ECDSA and Ed25519 keys)")
		}
		return nil, "", fmt.Errorf("parsing private key: %w", err)
	}
	signer, ok := key.(crypto.Signer)
	if !ok {
		return nil, "", fmt.Errorf("unsupported key type %T", key)
	}
	kind, err := keyType(signer.Public())
	if err != nil {
		return nil, "", err
	}
	return signer, kind, nil
}

// keyType names a public key's type and size as the CLI's --key-type flag
// does, or rejects a key Go's TLS cannot serve.
func keyType(pub any) (string, error) {
	switch k := pub.(type) {
	case *rsa.PublicKey:
		bits := k.N.BitLen()
		if bits < MinRSABits {
			return "", fmt.Errorf("RSA key has %d bits; at least %d are required", bits, MinRSABits)
		}
		return fmt.Sprintf("rsa-%d", bits), nil
	case *ecdsa.PublicKey:
		switch k.Curve {
		case elliptic.P256():
			return "ecdsa-p256", nil
		case elliptic.P384():
			return "ecdsa-p384", nil
		case elliptic.P521():
			return "ecdsa-p521", nil
		}
		return "", errors.New("unsupported ECDSA curve " + k.Curve.Params().Name)
	case ed25519.PublicKey:
		return "ed25519", nil
	}
	return "", fmt.Errorf("unsupported key type %T", pub)
}

// matchLeaf returns the index of the certificate whose public key belongs to
// key, or -1.
func matchLeaf(certs []*x509.Certificate, key crypto.Signer) int {
	pub, ok := key.Public().(interface{ Equal(crypto.PublicKey) bool })
	if !ok {
		return -1
	}
	for i, c := range certs {
		if pub.Equal(c.PublicKey) {
			return i
		}
	}
	return -1
}

// distinctKeys drops keys equal to an earlier one, such as the same key
// given both in the certificate file and as the key file.
func distinctKeys(keys []foundKey) []foundKey {
	var out []foundKey
	for _, k := range keys {
		dup := false
		for _, o := range out {
			if eq, ok := o.key.(interface{ Equal(crypto.PrivateKey) bool }); ok && eq.Equal(k.key) {
				dup = true
			}
		}
		if !dup {
			out = append(out, k)
		}
	}
	return out
}

// guessLeaf returns the index of the leaf of a chain given without its key:
// the first certificate that issued none of the others (a CA in the chain
// always issued the one below it).
func guessLeaf(certs []*x509.Certificate) int {
	for i, c := range certs {
		issuer := false
		for j, o := range certs {
			if i != j && bytes.Equal(o.RawIssuer, c.RawSubject) && o.CheckSignatureFrom(c) == nil {
				issuer = true
				break
			}
		}
		if !issuer {
			return i
		}
	}
	return 0
}

func moveFirst(certs []*x509.Certificate, i int) []*x509.Certificate {
	if i == 0 {
		return certs
	}
	out := make([]*x509.Certificate, 0, len(certs))
	out = append(out, certs[i])
	out = append(out, certs[:i]...)
	return append(out, certs[i+1:]...)
}
