package server

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"log"
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/portico-proxy/portico/tenants"
)

// Settings of every upstream transport that have no flag: what a busy front
// door needs, close to what Caddy and nginx use.
const (
	upstreamKeepAlive      = 30 * time.Second // TCP keep-alive probes
	upstreamIdleConnTime   = 90 * time.Second // an idle pooled connection is closed after this
	upstreamIdlePerHost    = 256              // idle connections kept per upstream
	upstreamExpectContinue = time.Second
)

// upstreams builds the routes of every snapshot and keeps one http.Transport
// per upstream origin (scheme and host:port). A transport is shared by every
// tenant that proxies to that origin and outlives snapshots, so pooled
// keep-alive connections survive reloads.
type upstreams struct {
	cfg     Config
	tlsConf *tls.Config // for https:// upstreams; nil RootCAs means the system's
	fwd     *forwarding
	log     *slog.Logger
	errLog  *log.Logger // gets ReverseProxy's own messages, at debug level
	bufs    bufferPool

	mu         sync.Mutex // guards transports
	transports map[string]*http.Transport
}

// newUpstreams prepares the shared parts of every route: trusted proxies
// and the CA pool for https:// upstreams.
func newUpstreams(cfg Config, log *slog.Logger) (*upstreams, error) {
	trusted, err := ParsePrefixes(cfg.TrustedProxies)
	if err != nil {
		return nil, fmt.Errorf("trusted proxies: %w", err)
	}
	tlsConf := &tls.Config{MinVersion: tls.VersionTLS12}
	if cfg.UpstreamCA != "" {
		if tlsConf.RootCAs, err = loadCAPool(cfg.UpstreamCA); err != nil {
			return nil, err
		}
	}
	return &upstreams{
		cfg:        cfg,
		tlsConf:    tlsConf,
		fwd:        &forwarding{trusted: trusted},
		log:        log,
		errLog:     slog.NewLogLogger(log.Handler(), slog.LevelDebug),
		transports: map[string]*http.Transport{},
	}, nil
}

// loadCAPool returns the system's roots plus the certificates in the PEM
// file at path.
func loadCAPool(path string) (*x509.CertPool, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading upstream CA: %w", err)
	}
	pool, err := x509.SystemCertPool()
	if err != nil || pool == nil {
		pool = x509.NewCertPool()
	}
	if !pool.AppendCertsFromPEM(data) {
		return nil, fmt.Errorf("upstream CA %s: no PEM certificate in it", path)
	}
	return pool, nil
}

// routing tells where each request goes. It is built with a snapshot and,
// like it, never changed afterwards.
type routing struct {
	// index chooses among all tenants, with or without a usable keypair:
	// a tenant whose certificate is not there yet still owns its host.
	index  *tenants.Index
	routes []route // routes[i] serves the snapshot's tenants[i]
	none   *route  // for hosts that no tenant covers
}

// route returns the route for a normalised host. It never blocks and does
// not allocate.
func (rt *routing) route(host string) *route {
	if i := rt.index.Match(host); i >= 0 {
		return &rt.routes[i]
	}
	return rt.none
}

// route is what serves one tenant's requests.
type route struct {
	tenant   string                 // the tenant's domain; "" when no tenant covers the host
	upstream string                 // the upstream URL, for logs; "" for the built-in response
	proxy    *httputil.ReverseProxy // nil: the built-in response
	broken   error                  // an upstream URL that cannot be used: every request gets 502
	hsts     string                 // Strict-Transport-Security value; "" for none
	builtin  []byte                 // the built-in response's body
	failures *logLimiter            // rate-limits the log lines of failed requests
	requests *statusCounters        // requests answered, by status class; set by metrics.resolve
}

// routing builds the routes for ts, reusing the transports of upstreams
// that earlier snapshots already used and dropping those no tenant uses any
// more. Calls must not overlap (the server's reloadMu serialises them).
func (u *upstreams) routing(ts []tenants.Tenant) *routing {
	u.mu.Lock()
	defer u.mu.Unlock()

	used := map[string]bool{}
	r := &routing{
		index:  tenants.NewIndex(ts, nil),
		routes: make([]route, len(ts)),
		none:   &route{},
	}
	for i, t := range ts {
		u.fill(&r.routes[i], t.Domain, orDefault(t.Upstream, u.cfg.DefaultUpstream), t.UpstreamHost, t.HSTSMaxAge, used)
	}
	u.fill(r.none, "", u.cfg.DefaultUpstream, false, 0, used)

	for key, tr := range u.transports {
		if !used[key] {
			tr.CloseIdleConnections()
			delete(u.transports, key)
		}
	}
	return r
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// fill makes rt the route of tenant (its domain; "" for none) to upstream,
// marking the transport it uses in used.
func (u *upstreams) fill(rt *route, tenant, upstream string, upstreamHost bool, hsts time.Duration, used map[string]bool) {
	rt.tenant, rt.upstream, rt.failures = tenant, upstream, &logLimiter{}
	if hsts > 0 {
		rt.hsts = "max-age=" + strconv.FormatInt(int64(hsts/time.Second), 10)
	}
	if upstream == "" {
		rt.builtin = builtinBody(tenant)
		return
	}
	target, err := url.Parse(upstream)
	if err == nil {
		err = tenants.CheckUpstream(upstream)
	}
	if err != nil {
		rt.broken = err
		u.log.Error("tenant upstream cannot be used; its requests get 502", "tenant", tenant, "err", err)
		return
	}
	key := target.Scheme + "://" + target.Host
	used[key] = true
	rt.proxy = u.reverseProxy(rt, target, upstreamHost, u.transport(key))
}

func builtinBody(tenant string) []byte {
	if tenant == "" {
		return []byte("Portico: no tenant matched this host\n")
	}
	return []byte("Portico: tenant " + tenant + "\n")
}

// transport returns the shared transport for an origin, making it on first
// use. u.mu must be held.
func (u *upstreams) transport(origin string) *http.Transport {
	if tr := u.transports[origin]; tr != nil {
		return tr
	}
	dialer := &net.Dialer{Timeout: u.cfg.UpstreamDialTimeout, KeepAlive: upstreamKeepAlive}
	tr := &http.Transport{
		// No Proxy: HTTP_PROXY in the environment must not divert upstream traffic.
		DialContext:           dialer.DialContext,
		TLSClientConfig:       u.tlsConf,
		TLSHandshakeTimeout:   u.cfg.UpstreamDialTimeout,
		ResponseHeaderTimeout: u.cfg.UpstreamResponseTimeout,
		ExpectContinueTimeout: upstreamExpectContinue,
		IdleConnTimeout:       upstreamIdleConnTime,
		MaxIdleConnsPerHost:   upstreamIdlePerHost,
		// A proxy passes bodies through as they are: no added gzip.
		DisableCompression: true,
	}
	u.transports[origin] = tr
	return tr
}

// reverseProxy returns the proxy that sends rt's requests to target.
func (u *upstreams) reverseProxy(rt *route, target *url.URL, upstreamHost bool, tr *http.Transport) *httputil.ReverseProxy {
	rp := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			cleanDotSegments(pr.Out.URL)
			pr.SetURL(target)
			// The query goes through as the client sent it.
			pr.Out.URL.RawQuery = pr.In.URL.RawQuery
			if !upstreamHost {
				pr.Out.Host = pr.In.Host
			}
			u.fwd.set(pr.In, pr.Out.Header)
		},
		Transport:  tr,
		BufferPool: &u.bufs,
		ErrorLog:   u.errLog,
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			u.fail(rt, w, r, err)
		},
	}
	if rt.hsts != "" {
		hsts := rt.hsts
		rp.ModifyResponse = func(res *http.Response) error {
			res.Header.Set("Strict-Transport-Security", hsts)
			return nil
		}
	}
	return rp
}

// cleanDotSegments resolves "." and ".." segments in u's path (also when
// sent percent-encoded), as nginx does before proxying, so that a request
// cannot climb out of an upstream's path prefix: /x/../../etc never
// reaches http://app/shop as /shop/x/../../etc. Other bytes of the path,
// such as doubled slashes, are kept.
func cleanDotSegments(u *url.URL) {
	if !strings.Contains(u.Path, "/.") {
		return
	}
	segs := strings.Split(u.Path, "/")
	out := make([]string, 0, len(segs))
	for i, seg := range segs {
		last := i == len(segs)-1
		switch seg {
		case ".":
			if last {
				out = append(out, "")
			}
		case "..":
			if len(out) > 1 {
				out = out[:len(out)-1]
			}
			if last {
				out = append(out, "")
			}
		default:
			out = append(out, seg)
		}
	}
	cleaned := strings.Join(out, "/")
	if !strings.HasPrefix(cleaned, "/") {
		cleaned = "/" + cleaned
	}
	if cleaned != u.Path {
		u.Path, u.RawPath = cleaned, ""
	}
}

// bufferPool lends ReverseProxy its 32 KiB copy buffers, so that proxying a
// body does not allocate one per request.
type bufferPool struct{ pool sync.Pool }

const copyBufferSize = 32 << 10

func (p *bufferPool) Get() []byte {
	if b, ok := p.pool.Get().(*[copyBufferSize]byte); ok {
		return b[:]
	}
	return new([copyBufferSize]byte)[:]
}

func (p *bufferPool) Put(b []byte) {
	if len(b) == copyBufferSize {
		p.pool.Put((*[copyBufferSize]byte)(b))
	}
}
