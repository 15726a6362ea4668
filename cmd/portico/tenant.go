package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"text/tabwriter"

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
	Domain      string `required:"" help:"Domain the tenant serves, with all its subdomains."`
	Default     bool   `help:"Serve names no other tenant covers, and clients that send no server name."`
	Certificate string `placeholder:"NAME" help:"Keypair the tenant serves."`
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
	t, err := store.CreateTenant(ctx, tenants.Tenant{Domain: domain, Default: c.Default, Certificate: c.Certificate})
	if err != nil {
		return fmt.Errorf("adding tenant %s: %w", domain, err)
	}
	fmt.Printf("added tenant %s%s\n", t.Domain, describeTenant(t))
	return nil
}

// TenantUpdateCmd changes a tenant; flags left out keep their value.
type TenantUpdateCmd struct {
	Domain      string  `arg:"" help:"Domain of the tenant to change."`
	Default     *bool   `negatable:"" help:"Make the tenant the default (--no-default to stop)."`
	Certificate *string `placeholder:"NAME" help:"Keypair the tenant serves (\"\" for none)."`
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
		if c.Default != nil {
			t.Default = *c.Default
		}
		if c.Certificate != nil {
			t.Certificate = *c.Certificate
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("updating tenant %s: %w", domain, err)
	}
	fmt.Printf("updated tenant %s%s\n", t.Domain, describeTenant(t))
	return nil
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
	return s
}

// TenantListCmd lists tenants.
type TenantListCmd struct {
	JSON bool `name:"json" help:"Print JSON."`
}

type tenantJSON struct {
	Domain      string `json:"domain"`
	Default     bool   `json:"default"`
	Certificate string `json:"certificate"`
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
			out = append(out, tenantJSON{t.Domain, t.Default, t.Certificate})
		}
		return printJSON(out)
	}
	w := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "DOMAIN\tDEFAULT\tCERTIFICATE")
	for _, t := range ts {
		fmt.Fprintf(w, "%s\t%s\t%s\n", t.Domain, yesNo(t.Default), orDash(t.Certificate))
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
