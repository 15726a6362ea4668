package server

import (
	"context"
	"errors"
	"net"
	"net/http"
	"strconv"
	"sync/atomic"
	"time"
)

// statusClientClosed is recorded, as nginx does, for a request whose client
// went away before the upstream answered. The client never sees it.
const statusClientClosed = 499

// failureLogInterval is how often, at most, one tenant's failed requests
// are logged; the lines in between are counted in the next one.
const failureLogInterval = time.Second

// fail answers a request the upstream could not serve: 504 when it was too
// slow, 413 for a body over the limit, 502 for anything else (refused,
// reset, bad TLS, bad response). The page names no address; the log line
// names the tenant and the reason.
func (u *upstreams) fail(rt *route, w http.ResponseWriter, r *http.Request, err error) {
	status := failureStatus(r, err)
	if status == statusClientClosed {
		u.log.Debug("client went away before the upstream answered", "tenant", rt.tenant, "err", err)
		w.WriteHeader(status)
		return
	}
	if ok, suppressed := rt.failures.allow(time.Now()); ok {
		u.log.Warn("upstream request failed", "tenant", rt.tenant, "upstream", rt.upstream,
			"status", status, "reason", err.Error(), "suppressed", suppressed)
	}
	writeStatusPage(w, status, rt.hsts)
}

// failureStatus chooses the status for a proxying error.
func failureStatus(r *http.Request, err error) int {
	var tooBig *http.MaxBytesError
	var netErr net.Error
	switch {
	case errors.Is(r.Context().Err(), context.Canceled):
		return statusClientClosed
	case errors.As(err, &tooBig):
		return http.StatusRequestEntityTooLarge
	case errors.Is(err, context.DeadlineExceeded),
		errors.As(err, &netErr) && netErr.Timeout():
		return http.StatusGatewayTimeout
	}
	return http.StatusBadGateway
}

// statusPages are the short pages Portico answers with itself, by status.
// The table is built once and only read.
var statusPages = buildStatusPages()

func buildStatusPages() map[int][]byte {
	pages := map[int][]byte{}
	for code, text := range map[int]string{
		http.StatusMisdirectedRequest:          "This connection cannot serve this host. Please retry on a new connection.",
		http.StatusBadGateway:                  "The server behind this site could not be reached or gave an invalid answer.",
		http.StatusGatewayTimeout:              "The server behind this site took too long to answer.",
		http.StatusRequestEntityTooLarge:       "The request body is larger than this site accepts.",
		http.StatusInternalServerError:         "Something went wrong.",
		http.StatusServiceUnavailable:          "The site is not available right now.",
		http.StatusRequestHeaderFieldsTooLarge: "The request headers are too large.",
	} {
		title := strconv.Itoa(code) + " " + http.StatusText(code)
		pages[code] = []byte("<!doctype html>\n<title>" + title + "</title>\n<h1>" + title +
			"</h1>\n<p>" + text + "</p>\n")
	}
	return pages
}

// writeStatusPage answers with status and its short page, plus HSTS when
// hsts is not empty.
func writeStatusPage(w http.ResponseWriter, status int, hsts string) {
	page := statusPages[status]
	if page == nil {
		page = statusPages[http.StatusInternalServerError]
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Content-Length", strconv.Itoa(len(page)))
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	if hsts != "" {
		h.Set("Strict-Transport-Security", hsts)
	}
	w.WriteHeader(status)
	w.Write(page)
}

// logLimiter lets one log line through per failureLogInterval and counts
// the ones it holds back. It is safe for concurrent use and never blocks.
type logLimiter struct {
	next       atomic.Int64 // unix nanoseconds before which lines are held back
	suppressed atomic.Int64
}

// allow reports whether a line may be logged at now and, if so, how many
// were held back since the last one.
func (l *logLimiter) allow(now time.Time) (bool, int64) {
	next := l.next.Load()
	if now.UnixNano() < next || !l.next.CompareAndSwap(next, now.Add(failureLogInterval).UnixNano()) {
		l.suppressed.Add(1)
		return false, 0
	}
	return true, l.suppressed.Swap(0)
}
