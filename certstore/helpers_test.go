package certstore

import (
	"crypto/ecdsa"
	"crypto/rsa"
	"testing"

	"github.com/portico-proxy/portico/internal/testpki"
)

type (
	rsaKey = *rsa.PrivateKey
	ecKey  = *ecdsa.PrivateKey
)

func mustECDSA(t *testing.T, l *testpki.Leaf) *ecdsa.PrivateKey {
	t.Helper()
	k, ok := l.Key.(*ecdsa.PrivateKey)
	if !ok {
		t.Fatalf("leaf key is %T, want ECDSA", l.Key)
	}
	return k
}
