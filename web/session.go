package web

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"net/http"
	"sync"
	"time"
)

// sessionCookie names the page session cookie. It is HttpOnly, Secure and
// SameSite=Strict, and holds only a random session ID.
const sessionCookie = "portico_session"

// Sessions held at most, and how long a session that never logged in (one
// made to protect the login form) lasts.
const (
	maxSessions    = 10000
	anonSessionTTL = time.Hour
)

// session is one browser's state. The CSRF token is bound to it, so a form
// is accepted only from the browser its page was rendered for.
type session struct {
	id        string
	csrf      string
	tokenHash []byte // hash of the admin token at login; nil before login
	expires   time.Time
	flash     string // a message for the next page, such as "tenant added"
}

// sessions keeps page sessions in memory: a restart logs everyone out, and
// a rotated admin token ends every session (see Server.currentSession).
type sessions struct {
	ttl  time.Duration
	mu   sync.Mutex // guards byID and the sessions in it
	byID map[string]*session
}

func newSessions(ttl time.Duration) *sessions {
	return &sessions{ttl: ttl, byID: map[string]*session{}}
}

// create makes a session; tokenHash nil makes one that has not logged in.
func (ss *sessions) create(tokenHash []byte, now time.Time) *session {
	ttl := ss.ttl
	if tokenHash == nil {
		ttl = anonSessionTTL
	}
	s := &session{id: randomID(), csrf: randomID(), tokenHash: tokenHash, expires: now.Add(ttl)}
	ss.mu.Lock()
	defer ss.mu.Unlock()
	if len(ss.byID) >= maxSessions {
		ss.evict(now)
	}
	ss.byID[s.id] = s
	return s
}

// evict drops expired sessions and, when that is not enough, sessions that
// never logged in.
func (ss *sessions) evict(now time.Time) {
	for id, s := range ss.byID {
		if now.After(s.expires) {
			delete(ss.byID, id)
		}
	}
	for id, s := range ss.byID {
		if len(ss.byID) < maxSessions {
			return
		}
		if s.tokenHash == nil {
			delete(ss.byID, id)
		}
	}
}

// get returns a copy of the live session with id, or false.
func (ss *sessions) get(id string, now time.Time) (session, bool) {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	s, ok := ss.byID[id]
	if !ok {
		return session{}, false
	}
	if now.After(s.expires) {
		delete(ss.byID, id)
		return session{}, false
	}
	return *s, true
}

// delete ends the session with id.
func (ss *sessions) delete(id string) {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	delete(ss.byID, id)
}

// setFlash leaves msg for the session's next page.
func (ss *sessions) setFlash(id, msg string) {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	if s, ok := ss.byID[id]; ok {
		s.flash = msg
	}
}

// takeFlash returns and clears the session's message.
func (ss *sessions) takeFlash(id string) string {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	s, ok := ss.byID[id]
	if !ok {
		return ""
	}
	msg := s.flash
	s.flash = ""
	return msg
}

// validCSRF reports, in constant time, whether token is the session's.
func (s session) validCSRF(token string) bool {
	return token != "" && subtle.ConstantTimeCompare([]byte(token), []byte(s.csrf)) == 1
}

func randomID() string {
	b := make([]byte, 32)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// sessionCookieFor is the cookie that carries s, expiring with it.
func sessionCookieFor(s *session) *http.Cookie {
	return &http.Cookie{
		Name:     sessionCookie,
		Value:    s.id,
		Path:     "/",
		Expires:  s.expires,
		HttpOnly: true,
		Secure:   true,
		SameSite: http.SameSiteStrictMode,
	}
}

// clearedSessionCookie removes the session cookie from the browser.
func clearedSessionCookie() *http.Cookie {
	return &http.Cookie{Name: sessionCookie, Value: "", Path: "/", MaxAge: -1,
		HttpOnly: true, Secure: true, SameSite: http.SameSiteStrictMode}
}
