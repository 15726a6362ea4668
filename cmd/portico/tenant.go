package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"text/tabwriter"
	"time"

	"github.com/portico-proxy/portico/tenants"
)

// TenantCmd groups the tenant subcommands.
type TenantCmd struct {
	Add    TenantAddCmd    `cmd:"" help:"Add a tenant."`
	Update TenantUpdateCmd `cmd:"" help:"Change a tenant."`
	List   TenantListCmd   `cmd:"" help:"List tenants."`
	Delete TenantDeleteCmd `cmd:"" help:"Delete a tenant."`
}

// TenantAddCmd adds a tenant.
type TenantAddCmd struct {
	Domain       string        `required:"" help:"Domain the tenant serves, with all its subdomains."`
	Default      bool          `help:"Serve names no other tenant covers, and clients that send no server name."`
	Certificate  string        `placeholder:"NAME" help:"Keypair the tenant serves."`
	Upstream     string        `placeholder:"URL" help:"Where to proxy the tenant's requests: http(s)://host[:port][/prefix]."`
	UpstreamHost bool          `name:"upstream-host" help:"Send the upstream's own host in the Host header instead of the client's."`
	HSTS         time.Duration `name:"hsts" placeholder:"MAX-AGE" help:"Add Strict-Transport-Security with this max-age (such as 8760h); 0 for none."`
	ACME         bool          `name:"acme" help:"Obtain and renew the certificate for DOMAIN and *.DOMAIN through ACME DNS-01."`
}

// Run adds the tenant.
func (c *TenantAddCmd) Run(ctx context.Context, g *Globals) error {
	domain, err := tenants.NormalizeDomain(c.Domain)
	if err != nil {
		return err
	}
	store, err := g.openStore(ctx, g.logger())
	if err != nil {
		return err
	}
	defer store.Close()
	t := tenants.Tenant{
		Domain: domain, Default: c.Default, Certificate: c.Certificate,
		Upstream: c.Upstream, UpstreamHost: c.UpstreamHost, HSTSMaxAge: c.HSTS, ACME: c.ACME,
	}
	if err := t.Validate(); err != nil {
		return err
	}
	t, err = store.CreateTenant(ctx, t)
	if err != nil {
		return fmt.Errorf("adding tenant %s: %w", domain, err)
	}
	fmt.Printf("added tenant %s%s\n", t.Domain, describeTenant(t))
	return nil
}

// TenantUpdateCmd changes a tenant; flags left out keep their value.
type TenantUpdateCmd struct {
	Domain       string         `arg:"" help:"Domain of the tenant to change."`
	Default      *bool          `negatable:"" help:"Make the tenant the default (--no-default to stop)."`
	Certificate  *string        `placeholder:"NAME" help:"Keypair the tenant serves (\"\" for none)."`
	Upstream     *string        `placeholder:"URL" help:"Where to proxy the tenant's requests (\"\" for the server's default)."`
	UpstreamHost *bool          `name:"upstream-host" negatable:"" help:"Send the upstream's own host in the Host header (--no-upstream-host for the client's)."`
	HSTS         *time.Duration `name:"hsts" placeholder:"MAX-AGE" help:"Strict-Transport-Security max-age; 0 for none."`
	ACME         *bool          `name:"acme" negatable:"" help:"Obtain the certificate through ACME (--no-acme to stop)."`
}

// Run updates the tenant.
func (c *TenantUpdateCmd) Run(ctx context.Context, g *Globals) error {
	domain, err := tenants.NormalizeDomain(c.Domain)
	if err != nil {
		return err
	}
	store, err := g.openStore(ctx, g.logger())
	if err != nil {
		return err
	}
	defer store.Close()
	t, err := store.UpdateTenant(ctx, domain, func(t *tenants.Tenant) error {
		setIf(&t.Default, c.Default)
		setIf(&t.Certificate, c.Certificate)
		setIf(&t.Upstream, c.Upstream)
		setIf(&t.UpstreamHost, c.UpstreamHost)
		setIf(&t.HSTSMaxAge, c.HSTS)
		setIf(&t.ACME, c.ACME)
		return t.Validate()
	})
	if err != nil {
		return fmt.Errorf("updating tenant %s: %w", domain, err)
	}
	fmt.Printf("updated tenant %s%s\n", t.Domain, describeTenant(t))
	return nil
}

// setIf sets *dst to *v when the flag behind v was given.
func setIf[T any](dst *T, v *T) {
	if v != nil {
		*dst = *v
	}
}

func describeTenant(t tenants.Tenant) string {
	s := ""
	if t.Default {
		s += " (default)"
	}
	if t.Certificate != "" {
		s += fmt.Sprintf(" serving keypair %q", t.Certificate)
	} else {
		s += " without a keypair"
	}
	if t.Upstream != "" {
		s += ", proxying to " + t.Upstream
	}
	if t.ACME {
		s += ", certificate through ACME"
	}
	return s
}

// TenantListCmd lists tenants.
type TenantListCmd struct {
	JSON bool `name:"json" help:"Print JSON."`
}

type tenantJSON struct {
	Domain       string `json:"domain"`
	Default      bool   `json:"default"`
	Certificate  string `json:"certificate"`
	Upstream     string `json:"upstream"`
	UpstreamHost bool   `json:"upstream_host"`
	HSTSMaxAge   int64  `json:"hsts_max_age"`
	ACME         bool   `json:"acme"`
}

// Run lists the tenants.
func (c *TenantListCmd) Run(ctx context.Context, g *Globals) error {
	store, err := g.openStore(ctx, g.logger())
	if err != nil {
		return err
	}
	defer store.Close()
	ts, err := store.Tenants(ctx)
	if err != nil {
		return err
	}
	if c.JSON {
		out := make([]tenantJSON, 0, len(ts))
		for _, t := range ts {
			out = append(out, tenantJSON{t.Domain, t.Default, t.Certificate, t.Upstream,
				t.UpstreamHost, int64(t.HSTSMaxAge / time.Second), t.ACME})
		}
		return printJSON(out)
	}
	w := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "DOMAIN\tDEFAULT\tCERTIFICATE\tUPSTREAM\tACME")
	for _, t := range ts {
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\n", t.Domain, yesNo(t.Default), orDash(t.Certificate),
			orDash(t.Upstream), yesNo(t.ACME))
	}
	return w.Flush()
}

// TenantDeleteCmd deletes a tenant.
type TenantDeleteCmd struct {
	Domain string `arg:"" help:"Domain of the tenant to delete."`
}

// Run deletes the tenant.
func (c *TenantDeleteCmd) Run(ctx context.Context, g *Globals) error {
	domain, err := tenants.NormalizeDomain(c.Domain)
	if err != nil {
		return err
	}
	store, err := g.openStore(ctx, g.logger())
	if err != nil {
		return err
	}
	defer store.Close()
	if err := store.DeleteTenant(ctx, domain); err != nil {
		return err
	}
	fmt.Printf("deleted tenant %s\n", domain)
	return nil
}

func printJSON(v any) error {
	enc := json.NewEncoder(os.Stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
