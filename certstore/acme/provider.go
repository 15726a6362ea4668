package acme

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"os"
	"slices"
	"strconv"
	"strings"

	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/caddyserver/certmagic"
	"github.com/libdns/cloudflare"
	"github.com/libdns/rfc2136"
	"github.com/libdns/route53"
)

// DNSProvider is a DNS provider for DNS-01 challenges, set up from the
// environment. It never logs or prints its credentials: String names the
// provider only, and Secrets lists the values to keep out of any output.
type DNSProvider struct {
	certmagic.DNSProvider
	name    string
	detail  string   // what String adds after the name: no secrets
	secrets []string // credential values, for redaction
}

// String names the provider and its non-secret settings.
func (p *DNSProvider) String() string {
	if p.detail == "" {
		return p.name
	}
	return p.name + " (" + p.detail + ")"
}

// Secrets returns the credential values the provider was given.
func (p *DNSProvider) Secrets() []string { return p.secrets }

// ProviderNames lists the DNS providers NewDNSProvider knows.
func ProviderNames() []string { return []string{"cloudflare", "rfc2136", "route53"} }

// NewDNSProvider sets up the DNS provider called name from the variables
// that lego and Traefik read for it (see the README), through getenv
// (os.Getenv outside tests). A variable NAME may also be given as NAME_FILE,
// the path of a file holding the value. The error names every missing or
// malformed variable, never a value.
func NewDNSProvider(ctx context.Context, name string, getenv func(string) string) (*DNSProvider, error) {
	env := &envReader{getenv: getenv}
	var p *DNSProvider
	switch name {
	case "rfc2136":
		p = newRFC2136(env)
	case "route53":
		p = newRoute53(ctx, env)
	case "cloudflare":
		p = newCloudflare(env)
	default:
		return nil, fmt.Errorf("unknown ACME DNS provider %q (known: %s)", name, strings.Join(ProviderNames(), ", "))
	}
	if err := errors.Join(env.errs...); err != nil {
		return nil, fmt.Errorf("DNS provider %s: %w", name, err)
	}
	p.name = name
	p.secrets = env.secrets
	return p, nil
}

// envReader reads settings, collecting every problem and every secret.
type envReader struct {
	getenv  func(string) string
	errs    []error
	secrets []string
}

// get returns NAME, or the trimmed content of the file NAME_FILE names.
func (e *envReader) get(name string) string {
	if v := e.getenv(name); v != "" {
		return v
	}
	path := e.getenv(name + "_FILE")
	if path == "" {
		return ""
	}
	b, err := os.ReadFile(path)
	if err != nil {
		e.errs = append(e.errs, fmt.Errorf("%s_FILE: %w", name, err))
		return ""
	}
	return strings.TrimSpace(string(b))
}

// secret is get for a credential: its value is remembered for redaction.
func (e *envReader) secret(name string) string {
	v := e.get(name)
	if v != "" {
		e.secrets = append(e.secrets, v)
	}
	return v
}

// first returns the first of names that is set.
func (e *envReader) first(secret bool, names ...string) string {
	for _, n := range names {
		if v := e.get(n); v != "" {
			if secret {
				e.secrets = append(e.secrets, v)
			}
			return v
		}
	}
	return ""
}

func (e *envReader) fail(format string, args ...any) {
	e.errs = append(e.errs, fmt.Errorf(format, args...))
}

// tsigAlgorithms returns the TSIG algorithms RFC2136_TSIG_ALGORITHM accepts.
func tsigAlgorithms() []string {
	return []string{"hmac-md5", "hmac-sha1", "hmac-sha224", "hmac-sha256", "hmac-sha384", "hmac-sha512"}
}

// newRFC2136 reads RFC2136_NAMESERVER (host or host:port, port 53 by
// default), RFC2136_TSIG_KEY, RFC2136_TSIG_SECRET (base64) and
// RFC2136_TSIG_ALGORITHM (hmac-sha256 by default, trailing dot optional).
func newRFC2136(env *envReader) *DNSProvider {
	server := env.get("RFC2136_NAMESERVER")
	switch {
	case server == "":
		env.fail("RFC2136_NAMESERVER is not set (host:port of the DNS server taking updates)")
	case !strings.Contains(server, ":") || strings.HasSuffix(server, "]"):
		server = net.JoinHostPort(strings.Trim(server, "[]"), "53")
	default:
		if _, port, err := net.SplitHostPort(server); err != nil {
			env.fail("RFC2136_NAMESERVER %q: %v", server, err)
		} else if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
			env.fail("RFC2136_NAMESERVER %q: bad port", server)
		}
	}

	keyName := env.get("RFC2136_TSIG_KEY")
	secret := env.secret("RFC2136_TSIG_SECRET")
	if keyName == "" {
		env.fail("RFC2136_TSIG_KEY is not set (the TSIG key's name)")
	}
	if secret == "" {
		env.fail("RFC2136_TSIG_SECRET is not set (the TSIG key's base64 secret)")
	} else if _, err := base64.StdEncoding.DecodeString(secret); err != nil {
		env.fail("RFC2136_TSIG_SECRET is not valid base64")
	}

	alg := strings.TrimSuffix(strings.ToLower(strings.TrimSpace(env.get("RFC2136_TSIG_ALGORITHM"))), ".")
	if alg == "" {
		alg = "hmac-sha256"
	}
	if !slices.Contains(tsigAlgorithms(), alg) {
		env.fail("RFC2136_TSIG_ALGORITHM %q is not one of %s", alg, strings.Join(tsigAlgorithms(), ", "))
	}

	return &DNSProvider{
		DNSProvider: &rfc2136.Provider{Server: server, KeyName: keyName, Key: secret, KeyAlg: alg + "."},
		detail:      fmt.Sprintf("server %s, key %s, %s", server, keyName, alg),
	}
}

// newRoute53 reads the AWS SDK's usual settings (AWS_ACCESS_KEY_ID,
// AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN, AWS_PROFILE, AWS_REGION, shared
// files, instance roles) plus AWS_HOSTED_ZONE_ID and AWS_MAX_RETRIES, and
// checks that the SDK can load them now rather than at the first challenge.
func newRoute53(ctx context.Context, env *envReader) *DNSProvider {
	p := &route53.Provider{
		Region:             env.first(false, "AWS_REGION", "AWS_DEFAULT_REGION"),
		Profile:            env.first(false, "AWS_PROFILE"),
		AccessKeyId:        env.get("AWS_ACCESS_KEY_ID"),
		SecretAccessKey:    env.secret("AWS_SECRET_ACCESS_KEY"),
		SessionToken:       env.secret("AWS_SESSION_TOKEN"),
		HostedZoneID:       strings.TrimPrefix(env.get("AWS_HOSTED_ZONE_ID"), "/hostedzone/"),
		WaitForRoute53Sync: true,
	}
	if v := env.get("AWS_MAX_RETRIES"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			env.fail("AWS_MAX_RETRIES %q is not a count", v)
		}
		p.MaxRetries = n
	}
	if (p.AccessKeyId == "") != (p.SecretAccessKey == "") {
		env.fail("AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY must be set together")
	}

	// The provider loads this configuration lazily and exits the process
	// when it fails; loading it here turns that into an error at start.
	var opts []func(*awsconfig.LoadOptions) error
	if p.Region != "" {
		opts = append(opts, awsconfig.WithRegion(p.Region))
	}
	if p.Profile != "" {
		opts = append(opts, awsconfig.WithSharedConfigProfile(p.Profile))
	}
	if p.AccessKeyId != "" && p.SecretAccessKey != "" {
		opts = append(opts, awsconfig.WithCredentialsProvider(
			credentials.NewStaticCredentialsProvider(p.AccessKeyId, p.SecretAccessKey, p.SessionToken)))
	}
	cfg, err := awsconfig.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		env.fail("loading AWS configuration: %v", err)
	}
	if p.Region == "" {
		// Route 53 is global, but the SDK still wants a region.
		p.Region = cfg.Region
		if p.Region == "" {
			p.Region = "us-east-1"
		}
	}

	detail := "region " + p.Region
	if p.HostedZoneID != "" {
		detail += ", hosted zone " + p.HostedZoneID
	}
	if p.Profile != "" {
		detail += ", profile " + p.Profile
	}
	return &DNSProvider{DNSProvider: p, detail: detail}
}

// newCloudflare reads CLOUDFLARE_DNS_API_TOKEN (or CF_DNS_API_TOKEN), a
// token with Zone.DNS:Edit, and the optional CLOUDFLARE_ZONE_API_TOKEN (or
// CF_ZONE_API_TOKEN) with Zone:Read, for a DNS token scoped to one zone.
func newCloudflare(env *envReader) *DNSProvider {
	token := env.first(true, "CLOUDFLARE_DNS_API_TOKEN", "CF_DNS_API_TOKEN")
	zoneToken := env.first(true, "CLOUDFLARE_ZONE_API_TOKEN", "CF_ZONE_API_TOKEN")
	if token == "" {
		env.fail("CLOUDFLARE_DNS_API_TOKEN (or CF_DNS_API_TOKEN) is not set (an API token with Zone.DNS:Edit)")
	}
	return &DNSProvider{DNSProvider: &cloudflare.Provider{APIToken: token, ZoneToken: zoneToken}}
}
