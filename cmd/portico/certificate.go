package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/portico-proxy/portico/certstore"
	"github.com/portico-proxy/portico/tenants"
)

// CertificateCmd groups the keypair subcommands.
type CertificateCmd struct {
	Generate CertificateGenerateCmd `cmd:"" help:"Generate a self-signed keypair."`
	List     CertificateListCmd     `cmd:"" help:"List keypairs (never their keys)."`
	Delete   CertificateDeleteCmd   `cmd:"" help:"Delete a keypair no tenant uses."`
}

// CertificateGenerateCmd makes a self-signed keypair.
type CertificateGenerateCmd struct {
	Name    string   `required:"" help:"Name of the keypair to create or replace."`
	Domain  []string `required:"" placeholder:"D" help:"Name the certificate covers; repeat for more."`
	Days    int      `default:"365" help:"Days the certificate is valid."`
	KeyType string   `default:"ecdsa-p256" enum:"ecdsa-p256,ecdsa-p384,rsa-2048,rsa-4096,ed25519" help:"Key type: ecdsa-p256, ecdsa-p384, rsa-2048, rsa-4096 or ed25519."`
}

// Run generates and stores the keypair.
func (c *CertificateGenerateCmd) Run(ctx context.Context, g *Globals) error {
	log := g.logger()
	req := certstore.Generate{Name: c.Name, Names: c.Domain, Days: c.Days, KeyType: c.KeyType}
	if req.LongValidity() {
		log.Warn("certificate valid longer than a year; browsers reject such server certificates", "days", c.Days)
	}
	store, err := g.openStore(ctx, log)
	if err != nil {
		return err
	}
	defer store.Close()
	kp, outcome, err := certstore.GenerateKeyPair(ctx, store, req, time.Now())
	if err != nil {
		return err
	}
	fmt.Printf("%s keypair %q (%s, %s, fingerprint %s, not after %s)\n", outcome, kp.Name,
		strings.Join(kp.DNSNames, ", "), kp.KeyType, kp.Fingerprint, kp.NotAfter.Format("2006-01-02"))
	return nil
}

// CertificateListCmd lists keypairs.
type CertificateListCmd struct {
	JSON bool `name:"json" help:"Print JSON."`
}

type keyPairJSON struct {
	Name        string    `json:"name"`
	Source      string    `json:"source"`
	Origin      string    `json:"origin,omitempty"`
	Status      string    `json:"status,omitempty"`
	DNSNames    []string  `json:"dns_names"`
	NotAfter    time.Time `json:"not_after"`
	Fingerprint string    `json:"fingerprint"`
	KeyType     string    `json:"key_type"`
	HasKey      bool      `json:"has_key"`
	UsedBy      []string  `json:"used_by"`
}

// Run lists the keypairs with the tenants that use each.
func (c *CertificateListCmd) Run(ctx context.Context, g *Globals) error {
	store, err := g.openStore(ctx, g.logger())
	if err != nil {
		return err
	}
	defer store.Close()
	kps, err := store.KeyPairs(ctx)
	if err != nil {
		return err
	}
	usedBy, err := tenantsByKeyPair(ctx, store)
	if err != nil {
		return err
	}
	if c.JSON {
		out := make([]keyPairJSON, 0, len(kps))
		for _, k := range kps {
			out = append(out, keyPairJSON{k.Name, string(k.Source), k.Origin, k.Status, k.DNSNames,
				k.NotAfter, k.Fingerprint, k.KeyType, k.HasKey, append([]string{}, usedBy[k.Name]...)})
		}
		return printJSON(out)
	}
	w := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "NAME\tSOURCE\tNAMES\tNOT AFTER\tFINGERPRINT\tUSED BY")
	for _, k := range kps {
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\n", k.Name, k.Source, orDash(strings.Join(k.DNSNames, ",")),
			k.NotAfter.Format("2006-01-02"), k.Fingerprint[:16], orDash(strings.Join(usedBy[k.Name], ",")))
	}
	return w.Flush()
}

func tenantsByKeyPair(ctx context.Context, store tenants.Store) (map[string][]string, error) {
	ts, err := store.Tenants(ctx)
	if err != nil {
		return nil, err
	}
	used := map[string][]string{}
	for _, t := range ts {
		if t.Certificate != "" {
			used[t.Certificate] = append(used[t.Certificate], t.Domain)
		}
	}
	return used, nil
}

// CertificateDeleteCmd deletes a keypair.
type CertificateDeleteCmd struct {
	Name string `arg:"" help:"Name of the keypair to delete."`
}

// Run deletes the keypair unless a tenant uses it.
func (c *CertificateDeleteCmd) Run(ctx context.Context, g *Globals) error {
	store, err := g.openStore(ctx, g.logger())
	if err != nil {
		return err
	}
	defer store.Close()
	err = store.DeleteKeyPair(ctx, c.Name)
	if errors.Is(err, certstore.ErrInUse) {
		used, _ := tenantsByKeyPair(ctx, store)
		return fmt.Errorf("keypair %q is served by %s; point those tenants elsewhere first",
			c.Name, strings.Join(used[c.Name], ", "))
	}
	if err != nil {
		return err
	}
	fmt.Printf("deleted keypair %q\n", c.Name)
	return nil
}
