package discovery

import (
	"bytes"
	"testing"
)

// FuzzScanContent checks that reading block types never panics and agrees
// with the PEM headers in the input.
func FuzzScanContent(f *testing.F) {
	f.Add([]byte("-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"))
	f.Add([]byte("-----BEGIN EC PARAMETERS-----\nBggq\n-----END EC PARAMETERS-----\n-----BEGIN EC PRIVATE KEY-----\nMHcC\n-----END EC PRIVATE KEY-----\n"))
	f.Add([]byte("-----BEGIN PUBLIC KEY-----\n-----BEGIN "))
	f.Add([]byte("\xef\xbb\xbfnotes\r\n-----BEGIN ENCRYPTED PRIVATE KEY-----\r\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		c := scanContent(data)
		if c.certs && !bytes.Contains(data, []byte("-----BEGIN CERTIFICATE-----")) {
			t.Fatal("certificates found without a CERTIFICATE header")
		}
		if c.keys && !bytes.Contains(data, []byte("PRIVATE KEY-----")) {
			t.Fatal("a key found without a PRIVATE KEY header")
		}
		if (c.certs || c.keys || len(c.other) > 0) != c.blocks {
			t.Fatalf("blocks %v but certs %v keys %v other %q", c.blocks, c.certs, c.keys, c.other)
		}
		if !c.blocks && bytes.Contains(data, []byte("-----BEGIN CERTIFICATE-----")) {
			t.Fatal("a CERTIFICATE header not seen")
		}
	})
}
