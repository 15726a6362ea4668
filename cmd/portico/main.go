// Command portico is a TLS-terminating web server for many tenants, each
// served with its own certificate from a SQLite store.
package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"

	"github.com/alecthomas/kong"

	"github.com/portico-proxy/portico/certstore"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

// Globals are the settings every subcommand shares.
type Globals struct {
	Data     string `default:"./portico-data" placeholder:"DIR" help:"Folder of the database (DIR/portico.db)."`
	LogLevel string `default:"info" enum:"debug,info,warn,error" help:"Least important log level to print: debug, info, warn or error."`
	LogJSON  bool   `name:"log-json" help:"Log as JSON lines instead of text."`
}

// CLI is every subcommand.
type CLI struct {
	Globals

	Serve             ServeCmd             `cmd:"" help:"Serve HTTPS for every tenant."`
	ImportCertificate ImportCertificateCmd `cmd:"" name:"import-certificate" help:"Create or update a keypair from PEM files."`
	Tenant            TenantCmd            `cmd:"" help:"Add, change, list and delete tenants."`
	Certificate       CertificateCmd       `cmd:"" help:"Generate, list and delete keypairs."`
	AdminToken        AdminTokenCmd        `cmd:"" name:"admin-token" help:"Show whether an admin token is set, or replace it with --rotate."`
	Version           VersionCmd           `cmd:"" help:"Print the version."`
}

func main() {
	var cli CLI
	kctx := kong.Parse(&cli,
		kong.Name("portico"),
		kong.Description("A self-contained HTTPS front door: one binary, one SQLite file."),
		kong.DefaultEnvars("PORTICO"),
		kong.UsageOnError(),
	)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	kctx.BindTo(ctx, (*context.Context)(nil))
	if err := kctx.Run(&cli.Globals); err != nil {
		fmt.Fprintln(os.Stderr, "portico:", err)
		os.Exit(1)
	}
}

// logger builds the process's logger, to standard error.
func (g *Globals) logger() *slog.Logger {
	var level slog.Level
	level.UnmarshalText([]byte(g.LogLevel))
	opts := &slog.HandlerOptions{Level: level}
	if g.LogJSON {
		return slog.New(slog.NewJSONHandler(os.Stderr, opts))
	}
	return slog.New(slog.NewTextHandler(os.Stderr, opts))
}

// DBPath returns the database file inside the data folder.
func (g *Globals) DBPath() string { return filepath.Join(g.Data, "portico.db") }

// openStore opens the database in the data folder.
func (g *Globals) openStore(ctx context.Context, log *slog.Logger) (*certstore.SQLite, error) {
	return certstore.OpenSQLite(ctx, g.DBPath(), log)
}

// VersionCmd prints the version.
type VersionCmd struct{}

// Run prints the version.
func (VersionCmd) Run() error {
	fmt.Println("portico", version)
	return nil
}
