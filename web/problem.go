package web

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/portico-proxy/portico/certstore"
	"github.com/portico-proxy/portico/tenants"
)

// problem is an error as the client sees it, in the shape of RFC 9457
// problem details. Detail is written for a person and never holds key
// material, a file path on the server or a database message.
type problem struct {
	Type   string // a short slug, turned into a URN when sent
	Title  string
	Status int
	Detail string
	Errors []fieldIssue

	cause error // logged, never sent
}

// problemBody is a problem as sent, in RFC 9457's field order.
type problemBody struct {
	Type   string       `json:"type"`
	Title  string       `json:"title"`
	Status int          `json:"status"`
	Detail string       `json:"detail,omitempty"`
	Errors []fieldIssue `json:"errors,omitempty"`
}

// fieldIssue is one bad field of a request.
type fieldIssue struct {
	Field  string `json:"field"`
	Reason string `json:"reason"`
}

func (p *problem) Error() string { return p.Title + ": " + p.Detail }

// problemTypePrefix turns a problem's slug into its type URI.
const problemTypePrefix = "urn:portico:problem:"

// toProblem maps any error a handler returns to what the client sees. Store
// and validation errors become 4xx problems with their reason; anything
// unexpected becomes a 500 whose cause is only logged.
func toProblem(err error) *problem {
	var p *problem
	var he *echo.HTTPError
	switch {
	case errors.As(err, &p):
		return p
	case errors.As(err, &he):
		return httpErrorProblem(he)
	}
	if issues := inputIssues(err); len(issues) > 0 {
		return &problem{Status: http.StatusUnprocessableEntity, Type: "invalid-value",
			Title: "Invalid value", Detail: joinIssues(issues), Errors: issues}
	}
	switch {
	case errors.Is(err, certstore.ErrNotFound), errors.Is(err, tenants.ErrNotFound):
		return &problem{Status: http.StatusNotFound, Type: "not-found", Title: "Not found", Detail: publicMessage(err)}
	case errors.Is(err, certstore.ErrInUse):
		return &problem{Status: http.StatusConflict, Type: "keypair-in-use", Title: "Keypair in use", Detail: publicMessage(err)}
	case errors.Is(err, tenants.ErrSecondDefault):
		return &problem{Status: http.StatusConflict, Type: "second-default", Title: "Second default tenant",
			Detail: "another tenant is already the default; clear its default flag first"}
	case errors.Is(err, tenants.ErrExists), errors.Is(err, certstore.ErrExists):
		return &problem{Status: http.StatusConflict, Type: "exists", Title: "Already exists", Detail: publicMessage(err)}
	case errors.Is(err, certstore.ErrConflict):
		return &problem{Status: http.StatusConflict, Type: "managed-elsewhere", Title: "Managed by another source", Detail: publicMessage(err)}
	case errors.Is(err, tenants.ErrNoKeyPair):
		issue := fieldIssue{"certificate", "no keypair with this name"}
		return &problem{Status: http.StatusUnprocessableEntity, Type: "invalid-value", Title: "Invalid value",
			Detail: issue.Field + ": " + issue.Reason, Errors: []fieldIssue{issue}}
	}
	return &problem{Status: http.StatusInternalServerError, Type: "internal", Title: "Internal error",
		Detail: "the server could not complete the request; its log has the cause", cause: err}
}

func httpErrorProblem(he *echo.HTTPError) *problem {
	detail := http.StatusText(he.Code)
	if msg, ok := he.Message.(string); ok && msg != "" {
		detail = msg
	}
	slug := strings.ToLower(strings.ReplaceAll(http.StatusText(he.Code), " ", "-"))
	if he.Code == http.StatusRequestEntityTooLarge {
		detail = "the request body is larger than the limit"
	}
	return &problem{Status: he.Code, Type: slug, Title: http.StatusText(he.Code), Detail: detail}
}

// inputIssues collects the field problems in err, which may join several.
func inputIssues(err error) []fieldIssue {
	var out []fieldIssue
	var walk func(error)
	walk = func(e error) {
		switch e := e.(type) {
		case nil:
		case *tenants.FieldError:
			out = append(out, fieldIssue{e.Field, e.Reason})
		case *certstore.InputError:
			out = append(out, fieldIssue{e.Input, e.Reason})
		case interface{ Unwrap() []error }:
			for _, x := range e.Unwrap() {
				walk(x)
			}
		default:
			walk(errors.Unwrap(e))
		}
	}
	walk(err)
	return out
}

func joinIssues(issues []fieldIssue) string {
	parts := make([]string, len(issues))
	for i, is := range issues {
		parts[i] = is.Field + ": " + is.Reason
		if strings.HasPrefix(is.Reason, is.Field+" ") {
			parts[i] = is.Reason // "domain \"x\": ..." names its field already
		}
	}
	return strings.Join(parts, "; ")
}

// publicMessage is err's message without the package prefixes of sentinel
// errors ("certstore: ", "tenants: "), which mean nothing to a client.
func publicMessage(err error) string {
	msg := err.Error()
	for _, p := range []string{"certstore: ", "tenants: "} {
		msg = strings.ReplaceAll(msg, p, "")
	}
	return msg
}

// handleError is Echo's one error handler: API paths get problem details
// as JSON, pages an HTML error page. Server errors are logged with their
// cause; the client sees only the public message.
func (s *Server) handleError(err error, c echo.Context) {
	if c.Response().Committed {
		return
	}
	p := toProblem(err)
	if p.Status >= 500 {
		s.log.Error("admin request failed", "method", c.Request().Method, "path", c.Path(), "err", errors.Join(err, p.cause))
	}
	if isAPI(c) || !acceptsHTML(c) {
		body, _ := json.Marshal(problemBody{problemTypePrefix + p.Type, p.Title, p.Status, p.Detail, p.Errors})
		c.Response().Header().Set(echo.HeaderContentType, "application/problem+json")
		c.Response().WriteHeader(p.Status)
		c.Response().Write(append(body, '\n'))
		return
	}
	if err := s.pages.render(c, p.Status, "error.html", s.pageData(c, p.Title, p)); err != nil {
		s.log.Error("rendering error page", "err", err)
	}
}

func isAPI(c echo.Context) bool {
	return strings.HasPrefix(c.Request().URL.Path, "/api/")
}

func acceptsHTML(c echo.Context) bool {
	return strings.Contains(c.Request().Header.Get(echo.HeaderAccept), "text/html") ||
		c.Request().Method == http.MethodPost && !isAPI(c)
}

// notFound is the problem for a missing tenant or keypair.
func notFound(what, name string) *problem {
	return &problem{Status: http.StatusNotFound, Type: "not-found", Title: "Not found",
		Detail: fmt.Sprintf("no %s %q", what, name)}
}
