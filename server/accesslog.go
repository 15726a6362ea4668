package server

import (
	"bufio"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"
)

// requestDone counts the request in portico_http_requests_total, writes
// its access log line (unless that is off) and returns rec to its pool. It
// runs deferred, so a request that ends in a panic (an aborted stream) is
// counted and logged too.
func (s *Server) requestDone(rec *recorder, r *http.Request, rt *route, start time.Time) {
	status := rec.status
	if status == 0 {
		status = http.StatusOK // the handler wrote nothing: net/http sends 200
	}
	rt.countStatus(status)
	if s.cfg.DisableAccessLog {
		rec.release()
		return
	}
	s.log.LogAttrs(r.Context(), slog.LevelInfo, "request",
		slog.String("tenant", rt.tenant),
		slog.String("method", r.Method),
		slog.String("host", r.Host),
		slog.String("path", r.URL.Path),
		slog.Int("status", status),
		slog.Int64("bytes", rec.bytes),
		slog.Duration("duration", time.Since(start)),
		slog.String("upstream", rt.upstream),
		slog.String("remote_addr", r.RemoteAddr),
	)
	rec.release()
}

// recorder passes a response through to the client's ResponseWriter and
// notes its final status and body size for the access log. It forwards
// informational (1xx) responses, flushes and hijacks (protocol upgrades).
type recorder struct {
	w      http.ResponseWriter
	status int
	bytes  int64
	pool   *recorderPool
}

// recorderPool reuses recorders, so that logging a request allocates none.
type recorderPool struct{ pool sync.Pool }

func (p *recorderPool) get(w http.ResponseWriter) *recorder {
	rec, ok := p.pool.Get().(*recorder)
	if !ok {
		rec = &recorder{pool: p}
	}
	rec.w = w
	return rec
}

func (rec *recorder) release() {
	p := rec.pool
	*rec = recorder{pool: p}
	p.pool.Put(rec)
}

func (rec *recorder) Header() http.Header { return rec.w.Header() }

// WriteHeader passes code on; it becomes the recorded status unless it is
// an informational response that a final one will follow.
func (rec *recorder) WriteHeader(code int) {
	if rec.status == 0 && (code >= 200 || code == http.StatusSwitchingProtocols || code < 100) {
		rec.status = code
	}
	rec.w.WriteHeader(code)
}

func (rec *recorder) Write(b []byte) (int, error) {
	if rec.status == 0 {
		rec.status = http.StatusOK
	}
	n, err := rec.w.Write(b)
	rec.bytes += int64(n)
	return n, err
}

// FlushError sends what is buffered to the client at once (server-sent
// events, streams).
func (rec *recorder) FlushError() error {
	return http.NewResponseController(rec.w).Flush()
}

// Hijack hands the connection over for a protocol switch, recorded as 101.
func (rec *recorder) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	conn, brw, err := http.NewResponseController(rec.w).Hijack()
	if err == nil && rec.status == 0 {
		rec.status = http.StatusSwitchingProtocols
	}
	return conn, brw, err
}

// Unwrap gives http.ResponseController the client's ResponseWriter.
func (rec *recorder) Unwrap() http.ResponseWriter { return rec.w }
