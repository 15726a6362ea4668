package web

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"

	"github.com/labstack/echo/v4"
)

// maxBodySize bounds a JSON request: a certificate chain with its key is a
// few kilobytes.
const maxBodySize = 1 << 20

// decodeJSON reads the request body into v strictly: JSON content type, one
// object, no unknown fields, no trailing data. Errors are 400, 413 or 415
// problems that name the field or the byte at fault.
func decodeJSON(c echo.Context, v any) error {
	r := c.Request()
	if mt, _, err := mime.ParseMediaType(r.Header.Get(echo.HeaderContentType)); err != nil || mt != echo.MIMEApplicationJSON {
		return &problem{Status: http.StatusUnsupportedMediaType, Type: "unsupported-media-type",
			Title: "Unsupported media type", Detail: "send the request body as application/json"}
	}
	body, err := io.ReadAll(http.MaxBytesReader(c.Response(), r.Body, maxBodySize))
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return &problem{Status: http.StatusRequestEntityTooLarge, Type: "too-large", Title: "Request too large",
			Detail: fmt.Sprintf("the request body is larger than %d bytes", maxBodySize)}
	}
	if err != nil {
		return badBody("the request body could not be read")
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return badBody(jsonErrorDetail(err))
	}
	if dec.More() {
		return badBody("the request body holds more than one JSON value")
	}
	return nil
}

func badBody(detail string) *problem {
	return &problem{Status: http.StatusBadRequest, Type: "bad-request-body", Title: "Invalid request body", Detail: detail}
}

// jsonErrorDetail explains a decoding error without quoting the body.
func jsonErrorDetail(err error) string {
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.Is(err, io.EOF):
		return "the request body is empty; send a JSON object"
	case errors.Is(err, io.ErrUnexpectedEOF):
		return "the request body is not valid JSON: it ends too early"
	case errors.As(err, &se):
		return fmt.Sprintf("the request body is not valid JSON (at byte %d)", se.Offset)
	case errors.As(err, &te):
		if te.Field == "" {
			return fmt.Sprintf("the request body must be a JSON object, not %s", te.Value)
		}
		return fmt.Sprintf("field %q must be %s, not %s", te.Field, jsonTypeName(te.Type.Kind().String()), te.Value)
	}
	if field, ok := unknownField(err.Error()); ok {
		return fmt.Sprintf("unknown field %s", field)
	}
	return "the request body is not valid JSON"
}

func jsonTypeName(kind string) string {
	switch kind {
	case "bool":
		return "a boolean"
	case "string":
		return "a string"
	case "slice":
		return "an array"
	case "struct", "map":
		return "an object"
	}
	return "a number"
}

// unknownField picks the field name out of encoding/json's "json: unknown
// field \"x\"" error, which has no type of its own.
func unknownField(msg string) (string, bool) {
	const prefix = "json: unknown field "
	if len(msg) > len(prefix) && msg[:len(prefix)] == prefix {
		return msg[len(prefix):], true
	}
	return "", false
}

// pathParam returns the named path parameter, unescaped.
func pathParam(c echo.Context, name string) string {
	v := c.Param(name)
	if c.Request().URL.RawPath != "" {
		if u, err := url.PathUnescape(v); err == nil {
			return u
		}
	}
	return v
}

// pathEscape escapes a keypair name or domain for a URL path.
func pathEscape(s string) string { return url.PathEscape(s) }
