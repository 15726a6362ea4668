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
	"slices"
	"strings"
	"syscall"

	"github.com/alecthomas/kong"

	"github.com/portico-proxy/portico/certstore"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

// Globals are the settings every subcommand shares.
type Globals struct {
	Data     string `default:"./portico-data" help:"Folder of the database, which is DATA/portico.db."`
	LogLevel string `default:"info" enum:"debug,info,warn,error" help:"Least important log level to print: debug, info, warn or error."`
	LogJSON  bool   `name:"log-json" help:"Log as JSON lines instead of text."`

	ShowVersion kong.VersionFlag `name:"version" help:"Print the version and exit."`
}

// CLI is every subcommand.
type CLI struct {
	Globals

	Serve             ServeCmd             `cmd:"" help:"Serve HTTPS for every tenant."`
	ImportCertificate ImportCertificateCmd `cmd:"" name:"import-certificate" help:"Create or update a keypair from PEM files."`
	Tenant            TenantCmd            `cmd:"" help:"Add, change, list and delete tenants."`
	Certificate       CertificateCmd       `cmd:"" help:"Generate, list and delete keypairs."`
	AdminToken        AdminTokenCmd        `cmd:"" name:"admin-token" help:"Show whether an admin token is set, or replace it with --rotate."`
	ACME              ACMECmd              `cmd:"" name:"acme" help:"Show the state of ACME certificates."`
	Discover          DiscoverCmd          `cmd:"" help:"Read certificates from a folder tree (certbot, Kubernetes secrets, PEM files) into the store."`
	Version           VersionCmd           `cmd:"" help:"Print the version."`
}

func main() {
	var cli CLI
	parser, err := kong.New(&cli,
		kong.Name("portico"),
		kong.Description("A self-contained HTTPS front door: one binary, one SQLite file."),
		kong.Vars{"version": "portico " + version},
		settingsEnvars("PORTICO", "serve"),
	)
	if err != nil {
		panic(err) // the CLI struct itself is wrong
	}
	kctx, err := parser.Parse(os.Args[1:])
	if err != nil {
		fmt.Fprintf(os.Stderr, "portico: %v (see portico --help)\n", err)
		os.Exit(1)
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	kctx.BindTo(ctx, (*context.Context)(nil))
	if err := kctx.Run(&cli.Globals); err != nil {
		fmt.Fprintln(os.Stderr, "portico:", err)
		os.Exit(1)
	}
}

// settingsEnvars lets the settings flags, the global ones and those of the
// named commands, be set through the environment too: PORTICO_LISTEN for
// --listen. The flags of one-off commands (a certificate file, a tenant's
// domain) are left out, so that a variable meant for serve never changes
// what `tenant add` does.
func settingsEnvars(prefix string, commands ...string) kong.Option {
	setEnv := func(flags []*kong.Flag) {
		for _, f := range flags {
			if f.Name == "help" || f.Name == "version" || len(f.Envs) > 0 {
				continue
			}
			name := prefix + "_" + strings.ToUpper(strings.ReplaceAll(f.Name, "-", "_"))
			f.Envs = []string{name}
			f.Value.Tag.Envs = []string{name}
		}
	}
	return kong.PostBuild(func(k *kong.Kong) error {
		setEnv(k.Model.Flags)
		for _, node := range k.Model.Children {
			if slices.Contains(commands, node.Name) {
				setEnv(node.Flags)
			}
		}
		return nil
	})
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
