package web

import (
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"
)

// loginData is the login page's own data.
type loginData struct {
	Next  string
	Error string
}

// loginForm shows the login form. It makes a session that has not logged
// in, so the form carries a CSRF token like every other form.
func (s *Server) loginForm(c echo.Context) error {
	sess, ok := s.currentSession(c)
	if ok && sess.tokenHash != nil {
		return c.Redirect(http.StatusSeeOther, safeNext(c.QueryParam("next")))
	}
	if !ok {
		created := s.sessions.create(nil, s.now())
		c.SetCookie(sessionCookieFor(created))
		sess = *created
	}
	c.Set(ctxSession, sess)
	return s.page(c, http.StatusOK, "login.html", "Log in", "", loginData{Next: safeNext(c.QueryParam("next"))})
}

// login checks the token from the form. On success the pre-login session
// is replaced by a new one (a new ID, so a planted cookie gains nothing),
// bound to the current token.
func (s *Server) login(c echo.Context) error {
	sess, ok := s.currentSession(c)
	if !ok {
		return s.loginForm(c) // the session expired: show a fresh form
	}
	if err := checkCSRF(c, sess); err != nil {
		return err
	}
	c.Set(ctxSession, sess)
	next := safeNext(c.FormValue("next"))
	if err := s.limited(c); err != nil {
		return s.page(c, http.StatusTooManyRequests, "login.html", "Log in", "",
			loginData{Next: next, Error: toProblem(err).Detail})
	}

	h, valid, err := s.checkToken(c, strings.TrimSpace(c.FormValue("token")))
	if err != nil {
		return err
	}
	if !valid {
		s.limiter.fail(clientIP(c.Request()), s.now())
		s.log.Warn("admin login refused", "remote_addr", clientIP(c.Request()))
		return s.page(c, http.StatusUnauthorized, "login.html", "Log in", "",
			loginData{Next: next, Error: "That is not the admin token."})
	}

	s.sessions.delete(sess.id)
	fresh := s.sessions.create(h.Hash, s.now())
	c.SetCookie(sessionCookieFor(fresh))
	s.log.Info("admin logged in", "remote_addr", clientIP(c.Request()))
	return c.Redirect(http.StatusSeeOther, next)
}

// logout ends the session.
func (s *Server) logout(c echo.Context) error {
	s.sessions.delete(sessionOf(c).id)
	c.SetCookie(clearedSessionCookie())
	return c.Redirect(http.StatusSeeOther, "/login")
}

// safeNext keeps a post-login redirect on this site: a local path, never
// "//host" or a full URL.
func safeNext(next string) string {
	if !strings.HasPrefix(next, "/") || strings.HasPrefix(next, "//") || strings.HasPrefix(next, "/\\") ||
		strings.HasPrefix(next, "/login") {
		return "/tenants"
	}
	return next
}
