package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/caddyserver/certmagic"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/portico-proxy/portico/certstore"
	"github.com/portico-proxy/portico/certstore/acme"
	"github.com/portico-proxy/portico/internal/metrics"
	"github.com/portico-proxy/portico/web"
)

// ACMEFlags are serve's ACME settings (every flag starts with --acme-).
type ACMEFlags struct {
	DNSProvider        string        `name:"dns-provider" enum:",rfc2136,route53,cloudflare" default:"" help:"DNS provider for ACME DNS-01: rfc2136, route53 or cloudflare, configured through its environment variables (see the README). Empty turns ACME off."`
	CA                 string        `name:"ca" placeholder:"URL" help:"ACME directory URL (default: Let's Encrypt production)."`
	Staging            bool          `name:"staging" help:"Use Let's Encrypt's staging directory."`
	Email              string        `name:"email" help:"Contact address for the ACME account."`
	CARoot             []string      `name:"ca-root" placeholder:"FILE" help:"PEM file of extra roots to trust for the CA's HTTPS API (a private CA); repeatable."`
	EABKeyID           string        `name:"eab-key-id" placeholder:"ID" help:"External account binding key ID, for CAs that require one."`
	EABHMAC            string        `name:"eab-hmac" placeholder:"KEY" help:"External account binding HMAC key (base64url)."`
	Resolvers          []string      `name:"resolvers" placeholder:"HOST[:PORT]" help:"DNS servers for zone lookups and propagation checks (default: the system's); comma-separated."`
	PropagationTimeout time.Duration `name:"propagation-timeout" default:"2m" help:"How long to wait for a challenge record to reach the zone's name servers; negative skips the check."`
	RenewalRatio       float64       `name:"renewal-window-ratio" placeholder:"RATIO" help:"Renew when this fraction of a certificate's lifetime remains, between 0 and 1 (default 0.333)."`

	// Advanced knobs, for tests and unusual setups.
	RetryMin      time.Duration `name:"retry-min" hidden:"" help:"First retry after a failed attempt (default 1m); doubles per failure."`
	RetryMax      time.Duration `name:"retry-max" hidden:"" help:"Longest wait between retries (default 1h)."`
	CheckInterval time.Duration `name:"check-interval" hidden:"" help:"How often to look at every ACME tenant (default 1m)."`
	LockTTL       time.Duration `name:"lock-ttl" hidden:"" help:"How long a crashed process's ACME lock lasts (default 1m)."`
}

// config turns the flags into the ACME manager's settings; ok is false when
// ACME is off.
func (f *ACMEFlags) config(ctx context.Context) (cfg acme.Config, ok bool, err error) {
	if f.DNSProvider == "" {
		return acme.Config{}, false, nil
	}
	var errs []error
	ca := f.CA
	if f.Staging {
		if ca != "" && ca != certmagic.LetsEncryptStagingCA {
			errs = append(errs, errors.New("--acme-staging and --acme-ca name different CAs; give one"))
		}
		ca = certmagic.LetsEncryptStagingCA
	}
	var roots []byte
	for _, path := range f.CARoot {
		b, err := os.ReadFile(path)
		if err != nil {
			errs = append(errs, fmt.Errorf("--acme-ca-root: %w", err))
			continue
		}
		roots = append(append(roots, b...), '\n')
	}
	dns, err := acme.NewDNSProvider(ctx, f.DNSProvider, os.Getenv)
	if err != nil {
		errs = append(errs, err)
	}
	cfg = acme.Config{
		CA: ca, Email: f.Email, EABKeyID: f.EABKeyID, EABHMAC: f.EABHMAC, CARoots: roots,
		DNS: dns, Resolvers: splitList(f.Resolvers), PropagationTimeout: f.PropagationTimeout,
		RenewalWindowRatio: f.RenewalRatio, CheckInterval: f.CheckInterval,
		RetryMin: f.RetryMin, RetryMax: f.RetryMax, LockTTL: f.LockTTL,
	}
	if err := errors.Join(errs...); err != nil {
		return cfg, false, err
	}
	return cfg, true, nil
}

// splitList flattens values that may each hold a comma-separated list.
func splitList(values []string) []string {
	var out []string
	for _, v := range values {
		for _, s := range strings.Split(v, ",") {
			if s = strings.TrimSpace(s); s != "" {
				out = append(out, s)
			}
		}
	}
	return out
}

// startACME starts the ACME manager when a DNS provider is set, and returns
// a function that stops it (ending attempts in flight) and waits until it
// has.
// Attempts are counted in reg; on is false when ACME is off.
func (f *ACMEFlags) startACME(ctx context.Context, store *certstore.SQLite, reg prometheus.Registerer, log *slog.Logger) (stop func(), on bool, err error) {
	cfg, ok, err := f.config(ctx)
	if err != nil {
		return nil, false, err
	}
	if !ok {
		warnACMEOff(ctx, store, log)
		return func() {}, false, nil
	}
	cfg.OnAttempt = metrics.NewACME(reg).Attempt
	mgr, err := acme.New(cfg, store, log)
	if err != nil {
		return nil, false, err
	}
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		mgr.Run(ctx)
	}()
	return func() { cancel(); <-done }, true, nil
}

// acmeReport shows ACME's state, read from the store, on the admin
// listener's status API and pages.
type acmeReport struct{ store *certstore.SQLite }

// ACMETenants returns the state of every tenant marked for ACME.
func (a acmeReport) ACMETenants(ctx context.Context) ([]web.ACMETenant, error) {
	sts, err := acme.ReadStatus(ctx, a.store)
	if err != nil {
		return nil, err
	}
	out := make([]web.ACMETenant, 0, len(sts))
	for _, s := range sts {
		out = append(out, web.ACMETenant{Domain: s.Domain, KeyPair: s.KeyPair, NotAfter: s.NotAfter,
			LastAttempt: s.LastAttempt, LastResult: webResult[s.LastResult], LastError: s.LastError,
			NextAttempt: s.NextAttempt})
	}
	return out, nil
}

// webResult names the ACME results as the admin listener does.
var webResult = map[string]string{acme.ResultOK: "success", acme.ResultError: "failure"}

// warnACMEOff says so when tenants want ACME but no DNS provider is set.
func warnACMEOff(ctx context.Context, store *certstore.SQLite, log *slog.Logger) {
	ts, err := store.Tenants(ctx)
	if err != nil {
		return
	}
	for _, t := range ts {
		if t.ACME {
			log.Warn("tenant wants an ACME certificate but ACME is off; set --acme-dns-provider", "tenant", t.Domain)
		}
	}
}

// ACMECmd groups the ACME subcommands.
type ACMECmd struct {
	Status ACMEStatusCmd `cmd:"" help:"Show each ACME tenant's certificate and attempts."`
}

// ACMEStatusCmd prints the state of every ACME tenant from the database.
type ACMEStatusCmd struct {
	JSON bool `name:"json" help:"Print JSON."`
}

type acmeStatusJSON struct {
	Domain      string     `json:"domain"`
	KeyPair     string     `json:"keypair,omitempty"`
	Serving     bool       `json:"serving"`
	Names       []string   `json:"names"`
	NotAfter    *time.Time `json:"not_after,omitempty"`
	LastAttempt *time.Time `json:"last_attempt,omitempty"`
	LastResult  string     `json:"last_result,omitempty"`
	LastError   string     `json:"last_error,omitempty"`
	Failures    int        `json:"failures"`
	NextAttempt *time.Time `json:"next_attempt,omitempty"`
}

// Run prints the status; it works while serve runs in another process.
func (c *ACMEStatusCmd) Run(ctx context.Context, g *Globals) error {
	store, err := g.openStore(ctx, g.logger())
	if err != nil {
		return err
	}
	defer store.Close()
	sts, err := acme.ReadStatus(ctx, store)
	if err != nil {
		return err
	}
	if c.JSON {
		out := make([]acmeStatusJSON, 0, len(sts))
		for _, s := range sts {
			out = append(out, acmeStatusJSON{s.Domain, s.KeyPair, s.Serving, append([]string{}, s.Names...),
				timePtr(s.NotAfter), timePtr(s.LastAttempt), s.LastResult, s.LastError, s.Failures,
				timePtr(s.NextAttempt)})
		}
		return printJSON(out)
	}
	if len(sts) == 0 {
		fmt.Println("no tenant uses ACME (portico tenant add|update --acme)")
		return nil
	}
	w := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "DOMAIN\tEXPIRES\tLAST ATTEMPT\tRESULT\tNEXT ATTEMPT\tERROR")
	for _, s := range sts {
		next := formatTime(s.NextAttempt)
		if s.NextAttempt.IsZero() {
			next = "as soon as serve runs"
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\n", s.Domain, formatTime(s.NotAfter),
			formatTime(s.LastAttempt), resultText(s), next, orDash(oneLine(s.LastError)))
	}
	return w.Flush()
}

func resultText(s acme.Status) string {
	switch s.LastResult {
	case "":
		return "-"
	case acme.ResultError:
		return fmt.Sprintf("error (%d in a row)", s.Failures)
	}
	return s.LastResult
}

func formatTime(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format(time.RFC3339)
}

func timePtr(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }
