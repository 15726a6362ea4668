package server

import (
	"crypto/tls"
	"crypto/x509"
	"log/slog"
	"testing"
	"time"
)

var nopLog = slog.New(slog.DiscardHandler)

func timeNow() time.Time { return time.Now() }

// leafOf parses the leaf of a served certificate: snapshots drop the parsed
// Leaf to save memory.
func leafOf(tb testing.TB, c *tls.Certificate) *x509.Certificate {
	tb.Helper()
	leaf, err := x509.ParseCertificate(c.Certificate[0])
	if err != nil {
		tb.Fatalf("parsing served leaf: %v", err)
	}
	return leaf
}
