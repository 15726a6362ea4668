// Command gobare is the baseline of the load run: Go's crypto/tls and
// net/http with nothing on top, the least a Go front can cost. It answers
// every request itself with "Hello, World!", or, with -upstream, proxies
// it through net/http/httputil.ReverseProxy.
//
//	gobare -addr 127.0.0.1:8443 -cert a.crt -key a.key   one certificate
//	gobare -addr 127.0.0.1:8443 -dir CERTS               every name in CERTS/names.txt,
//	                                                     chosen per handshake by a map lookup
package main

import (
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/pprof"
	"strings"
	"syscall"
	"time"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:18444", "listen `address`")
	certFile := flag.String("cert", "", "certificate chain PEM `file` (one-certificate mode)")
	keyFile := flag.String("key", "", "private key PEM `file` (one-certificate mode)")
	dir := flag.String("dir", "", "`folder` with names.txt and <name>.crt/<name>.key for each name")
	upstream := flag.String("upstream", "", "proxy every request to this http:// `URL` instead of answering")
	profile := flag.String("cpuprofile", "", "write a CPU profile to this `file` until SIGTERM or SIGINT")
	flag.Parse()
	if *profile != "" {
		if err := profileUntilSignal(*profile); err != nil {
			log.Fatal(err)
		}
	}

	getCert, err := certificates(*certFile, *keyFile, *dir)
	if err != nil {
		log.Fatal(err)
	}
	handler, err := newHandler(*upstream)
	if err != nil {
		log.Fatal(err)
	}
	srv := &http.Server{
		Addr:              *addr,
		Handler:           handler,
		TLSConfig:         &tls.Config{MinVersion: tls.VersionTLS12, GetCertificate: getCert},
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          log.New(io.Discard, "", 0), // aborted handshakes are noise here
	}
	log.Fatal(srv.ListenAndServeTLS("", ""))
}

// profileUntilSignal profiles the CPU until SIGTERM or SIGINT, then writes
// the profile and exits.
func profileUntilSignal(path string) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		return err
	}
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGTERM, syscall.SIGINT)
	go func() {
		<-stop
		pprof.StopCPUProfile()
		f.Close()
		os.Exit(0)
	}()
	return nil
}

// certificates loads one keypair, or every keypair of a folder, and returns
// the GetCertificate the server uses.
func certificates(certFile, keyFile, dir string) (func(*tls.ClientHelloInfo) (*tls.Certificate, error), error) {
	if dir == "" {
		cert, err := tls.LoadX509KeyPair(certFile, keyFile)
		if err != nil {
			return nil, fmt.Errorf("loading keypair: %w", err)
		}
		return func(*tls.ClientHelloInfo) (*tls.Certificate, error) { return &cert, nil }, nil
	}

	b, err := os.ReadFile(filepath.Join(dir, "names.txt"))
	if err != nil {
		return nil, err
	}
	byName := map[string]*tls.Certificate{}
	for _, name := range strings.Fields(string(b)) {
		cert, err := tls.LoadX509KeyPair(filepath.Join(dir, name+".crt"), filepath.Join(dir, name+".key"))
		if err != nil {
			return nil, fmt.Errorf("loading keypair %s: %w", name, err)
		}
		byName[name] = &cert
	}
	return func(hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
		if c := byName[strings.ToLower(hello.ServerName)]; c != nil {
			return c, nil
		}
		return nil, errors.New("no certificate for this name")
	}, nil
}

// newHandler answers every request, or proxies it when upstream is set.
func newHandler(upstream string) (http.Handler, error) {
	if upstream == "" {
		body := []byte("Hello, World!")
		return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			w.Header()["Content-Type"] = []string{"text/plain"}
			w.Write(body)
		}), nil
	}
	u, err := url.Parse(upstream)
	if err != nil {
		return nil, fmt.Errorf("parsing -upstream: %w", err)
	}
	transport := http.DefaultTransport.(*http.Transport).Clone()
	transport.MaxIdleConnsPerHost = 1024 // keep a connection per client connection
	return &httputil.ReverseProxy{
		Rewrite: func(r *httputil.ProxyRequest) {
			r.SetURL(u)
			r.Out.Host = r.In.Host
			r.SetXForwarded()
		},
		Transport: transport,
	}, nil
}
