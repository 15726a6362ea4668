package main

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/portico-proxy/portico/certstore"
)

// ImportCertificateCmd creates or updates a keypair from files. It writes
// nothing when the stored keypair already equals them, so it is safe to run
// from cron.
type ImportCertificateCmd struct {
	Certificate string `required:"" type:"path" placeholder:"FILE" help:"PEM file with the certificate chain (it may also hold the key)."`
	PrivateKey  string `name:"private-key" type:"path" placeholder:"FILE" help:"PEM file with the private key; without it the keypair is certificate-only."`
	Name        string `required:"" help:"Name of the keypair to create or update."`
}

// Run imports the keypair and prints what it did.
func (c *ImportCertificateCmd) Run(ctx context.Context, g *Globals) error {
	in := certstore.Input{Name: c.Name, Source: certstore.SourceImported, CertFrom: c.Certificate}
	var err error
	if in.Cert, err = readInput(c.Certificate); err != nil {
		return err
	}
	if c.PrivateKey != "" {
		in.KeyFrom = c.PrivateKey
		if in.Key, err = readInput(c.PrivateKey); err != nil {
			return err
		}
	}

	log := g.logger()
	store, err := g.openStore(ctx, log)
	if err != nil {
		return err
	}
	defer store.Close()
	before, _ := store.KeyPair(ctx, c.Name)
	kp, outcome, err := store.PutKeyPair(ctx, in)
	if err != nil {
		return err
	}
	if before.Source == certstore.SourceDiscovered {
		fmt.Fprintf(os.Stderr, "warning: keypair %q was discovered from %s; it is now imported, and discovery"+
			" reports a conflict instead of following those files\n", kp.Name, before.Origin)
	}
	fmt.Printf("%s keypair %q (%s, fingerprint %s, not after %s)\n", outcome, kp.Name,
		keyUse(kp), kp.Fingerprint, kp.NotAfter.Format("2006-01-02"))
	warnValidity(kp, time.Now())
	return nil
}

// warnValidity tells the user, on standard error, when the keypair just
// stored is not valid now: stored all the same, since a renewal may follow.
func warnValidity(kp certstore.KeyPair, now time.Time) {
	if problem := kp.ValidityProblem(now); problem != "" {
		fmt.Fprintf(os.Stderr, "warning: keypair %q: %s\n", kp.Name, problem)
	}
}

// maxInputSize bounds the PEM files the CLI reads: a certificate chain with
// its key is a few kilobytes.
const maxInputSize = 1 << 20

// readInput reads a PEM file, naming it in every error.
func readInput(path string) ([]byte, error) {
	info, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if info.IsDir() {
		return nil, fmt.Errorf("%s: is a folder, not a file", path)
	}
	if info.Size() > maxInputSize {
		return nil, fmt.Errorf("%s: %d bytes is too large for a PEM keypair (at most %d)", path, info.Size(), maxInputSize)
	}
	return os.ReadFile(path)
}

func keyUse(kp certstore.KeyPair) string {
	if kp.HasKey {
		return "with private key"
	}
	return "certificate only, cannot be served"
}
