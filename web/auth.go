package web

import (
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/portico-proxy/portico/certstore"
)

// Context keys the middleware sets.
const ctxSession = "portico.session"

// checkToken reports whether token is the admin token. It reads the hash
// from the store each time, so a token rotated by another process (the
// CLI) takes effect at once.
func (s *Server) checkToken(c echo.Context, token string) (certstore.TokenHash, bool, error) {
	h, err := s.deps.Tokens.AdminToken(c.Request().Context())
	if errors.Is(err, certstore.ErrNotFound) {
		return h, false, nil
	}
	if err != nil {
		return h, false, err
	}
	return h, h.Matches(token), nil
}

// limited answers 429 when the client has used up its failed attempts.
func (s *Server) limited(c echo.Context) error {
	blocked, wait := s.limiter.blocked(clientIP(c.Request()), s.now())
	if !blocked {
		return nil
	}
	c.Response().Header().Set("Retry-After", strconv.Itoa(retryAfter(wait)))
	return &problem{Status: http.StatusTooManyRequests, Type: "too-many-attempts",
		Title:  "Too many failed attempts",
		Detail: "too many failed authentication attempts from this address; wait and try again"}
}

// requireToken is middleware for the API: the request must carry the
// admin token as "Authorization: Bearer TOKEN". A wrong token counts as a
// failed attempt for the client's address; a missing one does not.
func (s *Server) requireToken(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		if err := s.limited(c); err != nil {
			return err
		}
		token, ok := bearerToken(c.Request().Header.Get(echo.HeaderAuthorization))
		if !ok {
			return unauthorized(c, "send the admin token as \"Authorization: Bearer TOKEN\"")
		}
		_, valid, err := s.checkToken(c, token)
		if err != nil {
			return err
		}
		if !valid {
			s.limiter.fail(clientIP(c.Request()), s.now())
			s.log.Warn("admin API token refused", "remote_addr", clientIP(c.Request()))
			return unauthorized(c, "the admin token is not valid")
		}
		return next(c)
	}
}

func unauthorized(c echo.Context, detail string) error {
	c.Response().Header().Set(echo.HeaderWWWAuthenticate, `Bearer realm="portico"`)
	return &problem{Status: http.StatusUnauthorized, Type: "unauthorized", Title: "Unauthorized", Detail: detail}
}

// bearerToken returns the token of an "Authorization: Bearer TOKEN"
// header.
func bearerToken(header string) (string, bool) {
	scheme, token, ok := strings.Cut(header, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	token = strings.TrimSpace(token)
	return token, token != ""
}

// currentSession returns the request's live session, or false. A session
// that logged in with a token that has since been rotated is ended.
func (s *Server) currentSession(c echo.Context) (session, bool) {
	ck, err := c.Cookie(sessionCookie)
	if err != nil {
		return session{}, false
	}
	sess, ok := s.sessions.get(ck.Value, s.now())
	if !ok || sess.tokenHash == nil {
		return sess, ok
	}
	h, err := s.deps.Tokens.AdminToken(c.Request().Context())
	if err != nil || string(h.Hash) != string(sess.tokenHash) {
		s.sessions.delete(sess.id)
		return session{}, false
	}
	return sess, true
}

// requireSession is middleware for the pages: a logged-in session, or a
// redirect to the login page that comes back here afterwards. On unsafe
// methods the form's csrf field must be the session's token.
func (s *Server) requireSession(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		sess, ok := s.currentSession(c)
		if !ok || sess.tokenHash == nil {
			if c.Request().Method != http.MethodGet {
				return &problem{Status: http.StatusUnauthorized, Type: "unauthorized", Title: "Unauthorized",
					Detail: "your session has ended; log in again"}
			}
			return c.Redirect(http.StatusSeeOther, "/login?next="+url.QueryEscape(c.Request().URL.RequestURI()))
		}
		if err := checkCSRF(c, sess); err != nil {
			return err
		}
		c.Set(ctxSession, sess)
		return next(c)
	}
}

// checkCSRF refuses an unsafe request whose form does not carry the
// session's CSRF token.
func checkCSRF(c echo.Context, sess session) error {
	switch c.Request().Method {
	case http.MethodGet, http.MethodHead, http.MethodOptions:
		return nil
	}
	if !sess.validCSRF(c.FormValue("csrf")) {
		return &problem{Status: http.StatusForbidden, Type: "csrf", Title: "Form expired",
			Detail: "the form's security token is missing or stale; reload the page and submit it again"}
	}
	return nil
}

// sessionOf returns the session requireSession found.
func sessionOf(c echo.Context) session {
	sess, _ := c.Get(ctxSession).(session)
	return sess
}
