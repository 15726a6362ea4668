// Command seedstore fills a Portico data folder for the load run: for each
// name in a benchcerts folder, a keypair of that name imported from
// <name>.crt and <name>.key, and a tenant for the name serving it. It goes
// through certstore, so every keypair is validated exactly as
// "portico import-certificate" does, and it also creates the default
// self-signed keypair that "portico serve" makes on its first start.
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/portico-proxy/portico/certstore"
	"github.com/portico-proxy/portico/tenants"
)

func main() {
	data := flag.String("data", "", "Portico data `folder` (the database is portico.db in it)")
	certs := flag.String("certs", "", "benchcerts output `folder`")
	upstream := flag.String("upstream", "", "upstream `URL` of every tenant; empty for the built-in response")
	flag.Parse()
	if *data == "" || *certs == "" {
		log.Fatal("need -data and -certs")
	}
	start := time.Now()
	n, err := seed(context.Background(), *data, *certs, *upstream)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("seeded %d tenants in %v\n", n, time.Since(start).Round(time.Millisecond))
}

func seed(ctx context.Context, data, certs, upstream string) (int, error) {
	b, err := os.ReadFile(filepath.Join(certs, "names.txt"))
	if err != nil {
		return 0, err
	}
	quiet := slog.New(slog.DiscardHandler)
	store, err := certstore.OpenSQLite(ctx, filepath.Join(data, "portico.db"), quiet)
	if err != nil {
		return 0, err
	}
	defer store.Close()
	if _, err := certstore.EnsureDefault(ctx, store, "localhost", time.Now(), quiet); err != nil {
		return 0, err
	}

	names := strings.Fields(string(b))
	for _, name := range names {
		if err := addTenant(ctx, store, certs, name, upstream); err != nil {
			return 0, fmt.Errorf("tenant %s: %w", name, err)
		}
	}
	return len(names), nil
}

func addTenant(ctx context.Context, store certstore.Store, certs, name, upstream string) error {
	in := certstore.Input{Name: name, Source: certstore.SourceImported,
		CertFrom: filepath.Join(certs, name+".crt"), KeyFrom: filepath.Join(certs, name+".key")}
	var err error
	if in.Cert, err = os.ReadFile(in.CertFrom); err != nil {
		return err
	}
	if in.Key, err = os.ReadFile(in.KeyFrom); err != nil {
		return err
	}
	if _, _, err := store.PutKeyPair(ctx, in); err != nil {
		return err
	}
	domain, err := tenants.NormalizeDomain(name)
	if err != nil {
		return err
	}
	_, err = store.CreateTenant(ctx, tenants.Tenant{Domain: domain, Certificate: name, Upstream: upstream})
	return err
}
