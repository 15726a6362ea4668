package web

import (
	"math"
	"net"
	"net/http"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// Failed attempts allowed per client address: a burst (Config.AuthFailures),
// then one every failEvery. A client past that is refused, even with the
// right token, until it has waited.
const (
	failEvery    = 6 * time.Second
	maxTrackedIP = 10000
)

// failLimiter rate-limits failed authentication per client address. It is
// safe for concurrent use.
type failLimiter struct {
	burst int
	mu    sync.Mutex // guards byIP
	byIP  map[string]*rate.Limiter
}

func newFailLimiter(burst int) *failLimiter {
	return &failLimiter{burst: burst, byIP: map[string]*rate.Limiter{}}
}

// blocked reports whether the client at ip has no failures left, and how
// long until it has one.
func (l *failLimiter) blocked(ip string, now time.Time) (bool, time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	lim := l.byIP[ip]
	if lim == nil {
		return false, 0
	}
	tokens := lim.TokensAt(now)
	if tokens >= 1 {
		return false, 0
	}
	wait := time.Duration((1 - tokens) * float64(failEvery))
	return true, wait
}

// fail records a failed attempt by the client at ip.
func (l *failLimiter) fail(ip string, now time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	lim := l.byIP[ip]
	if lim == nil {
		if len(l.byIP) >= maxTrackedIP {
			l.prune(now)
		}
		lim = rate.NewLimiter(rate.Every(failEvery), l.burst)
		l.byIP[ip] = lim
	}
	lim.AllowN(now, 1)
}

// prune forgets clients whose allowance has fully recovered.
func (l *failLimiter) prune(now time.Time) {
	for ip, lim := range l.byIP {
		if lim.TokensAt(now) >= float64(l.burst) {
			delete(l.byIP, ip)
		}
	}
}

// clientIP is the address the request came from. Forwarding headers are
// not trusted: anyone could send them to escape the limit.
func clientIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// retryAfter formats a wait as whole seconds for the Retry-After header.
func retryAfter(d time.Duration) int {
	return int(math.Ceil(d.Seconds()))
}
