package web

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/portico-proxy/portico/certstore"
)

// certificateJSON is a keypair as the API shows it: its description and
// who uses it, never its private key.
type certificateJSON struct {
	Name        string      `json:"name"`
	Source      string      `json:"source"`
	Origin      string      `json:"origin"`
	Status      string      `json:"status"`
	Subject     string      `json:"subject"`
	Issuer      string      `json:"issuer"`
	DNSNames    []string    `json:"dns_names"`
	NotBefore   time.Time   `json:"not_before"`
	NotAfter    time.Time   `json:"not_after"`
	DaysLeft    int         `json:"days_left"`
	Fingerprint string      `json:"fingerprint"`
	KeyType     string      `json:"key_type"`
	HasKey      bool        `json:"has_key"`
	UsedBy      []string    `json:"used_by"`
	ACME        *acmeTenant `json:"acme,omitempty"`
	UpdatedAt   time.Time   `json:"updated_at"`
}

func (s *Server) toCertificateJSON(k certstore.KeyPair, usedBy []string, acme map[string]acmeTenant) certificateJSON {
	out := certificateJSON{
		Name: k.Name, Source: string(k.Source), Origin: k.Origin, Status: k.Status,
		Subject: k.Subject, Issuer: k.Issuer, DNSNames: k.DNSNames,
		NotBefore: k.NotBefore, NotAfter: k.NotAfter, DaysLeft: daysLeft(k.NotAfter, s.now()),
		Fingerprint: k.Fingerprint, KeyType: k.KeyType, HasKey: k.HasKey,
		UsedBy: append([]string{}, usedBy...), UpdatedAt: k.UpdatedAt,
	}
	if out.DNSNames == nil {
		out.DNSNames = []string{}
	}
	if k.Source == certstore.SourceACME {
		for _, d := range usedBy {
			if a, ok := acme[d]; ok {
				out.ACME = &a
				break
			}
		}
	}
	return out
}

// daysLeft is the whole days from now until notAfter, negative once it
// has passed.
func daysLeft(notAfter, now time.Time) int {
	d := notAfter.Sub(now)
	days := int(d / (24 * time.Hour))
	if d < 0 && d%(24*time.Hour) != 0 {
		days--
	}
	return days
}

// keyPairUsers returns the domains of the tenants serving each keypair.
func (s *Server) keyPairUsers(ctx context.Context) (map[string][]string, error) {
	ts, err := s.deps.Store.Tenants(ctx)
	if err != nil {
		return nil, err
	}
	used := map[string][]string{}
	for _, t := range ts {
		if t.Certificate != "" {
			used[t.Certificate] = append(used[t.Certificate], t.Domain)
		}
	}
	return used, nil
}

// acmeByDomain is the ACME state of each ACME tenant, by domain.
func (s *Server) acmeByDomain(ctx context.Context) map[string]acmeTenant {
	st, err := s.acmeState(ctx)
	if err != nil {
		s.log.Warn("reading ACME state", "err", err)
		return nil
	}
	out := make(map[string]acmeTenant, len(st.Tenants))
	for _, a := range st.Tenants {
		out[a.Domain] = a
	}
	return out
}

func (s *Server) apiListCertificates(c echo.Context) error {
	ctx := c.Request().Context()
	kps, err := s.deps.Store.KeyPairs(ctx)
	if err != nil {
		return err
	}
	used, err := s.keyPairUsers(ctx)
	if err != nil {
		return err
	}
	acme := s.acmeByDomain(ctx)
	out := make([]certificateJSON, 0, len(kps))
	for _, k := range kps {
		out = append(out, s.toCertificateJSON(k, used[k.Name], acme))
	}
	return c.JSON(http.StatusOK, out)
}

func (s *Server) apiGetCertificate(c echo.Context) error {
	ctx := c.Request().Context()
	k, err := s.deps.Store.KeyPair(ctx, pathParam(c, "name"))
	if err != nil {
		return err
	}
	used, err := s.keyPairUsers(ctx)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, s.toCertificateJSON(k, used[k.Name], s.acmeByDomain(ctx)))
}

// chainPEM answers with the keypair's certificate chain as a PEM file: the
// leaf, then its chain, and never the key. The API and the pages share it.
func (s *Server) chainPEM(c echo.Context) error {
	k, err := s.deps.Store.KeyPair(c.Request().Context(), pathParam(c, "name"))
	if err != nil {
		return err
	}
	c.Response().Header().Set(echo.HeaderContentDisposition,
		fmt.Sprintf(`attachment; filename="%s.pem"`, fileName(k.Name)))
	return c.Blob(http.StatusOK, "application/x-pem-file", k.ChainPEM)
}

// fileName makes a keypair name safe as a download's file name.
func fileName(name string) string {
	return strings.Map(func(r rune) rune {
		if r == '-' || r == '_' || r == '.' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' {
			return r
		}
		return '_'
	}, name)
}

// certificateImport is the body of POST /api/v1/certificates.
type certificateImport struct {
	Name        string `json:"name"`
	Certificate string `json:"certificate"` // PEM chain; may also hold the key
	PrivateKey  string `json:"private_key"` // optional PEM key
}

// importResult answers an import or a generation.
type importResult struct {
	Outcome     string          `json:"outcome"` // created, updated or unchanged
	Certificate certificateJSON `json:"certificate"`
	Warnings    []string        `json:"warnings,omitempty"` // such as an expired certificate
}

func (s *Server) apiImportCertificate(c echo.Context) error {
	var in certificateImport
	if err := decodeJSON(c, &in); err != nil {
		return err
	}
	kp, outcome, err := s.importKeyPair(c.Request().Context(), in.Name, []byte(in.Certificate), []byte(in.PrivateKey))
	if err != nil {
		return err
	}
	return s.keyPairWritten(c, kp, outcome)
}

// importKeyPair validates and stores a keypair with source api, with the
// same rules and idempotency as `portico import-certificate`. Inputs are
// named by their API fields in errors. The API and the pages share it.
func (s *Server) importKeyPair(ctx context.Context, name string, cert, key []byte) (certstore.KeyPair, certstore.Outcome, error) {
	in := certstore.Input{Name: name, Source: certstore.SourceAPI, Cert: cert, CertFrom: "certificate"}
	if len(strings.TrimSpace(string(cert))) == 0 {
		return certstore.KeyPair{}, "", &certstore.InputError{Input: "certificate", Reason: "no certificate given"}
	}
	if len(strings.TrimSpace(string(key))) > 0 {
		in.Key, in.KeyFrom = key, "private_key"
	}
	kp, outcome, err := s.deps.Store.PutKeyPair(ctx, in)
	if err != nil {
		return kp, outcome, err
	}
	if outcome != certstore.Unchanged {
		s.log.Info("keypair imported through the admin listener", "keypair", kp, "outcome", string(outcome),
			"not_after", kp.NotAfter)
	}
	if problem := kp.ValidityProblem(s.now()); problem != "" {
		s.log.Warn("imported keypair is not valid now", "keypair", kp, "problem", problem)
	}
	return kp, outcome, nil
}

// keyPairWritten answers a write: 201 for a new keypair, 200 otherwise.
func (s *Server) keyPairWritten(c echo.Context, kp certstore.KeyPair, outcome certstore.Outcome) error {
	used, err := s.keyPairUsers(c.Request().Context())
	if err != nil {
		return err
	}
	status := http.StatusOK
	if outcome == certstore.Created {
		status = http.StatusCreated
		c.Response().Header().Set(echo.HeaderLocation, "/api/v1/certificates/"+pathEscape(kp.Name))
	}
	var warnings []string
	if problem := kp.ValidityProblem(s.now()); problem != "" {
		warnings = append(warnings, problem)
	}
	return c.JSON(status, importResult{string(outcome), s.toCertificateJSON(kp, used[kp.Name], nil), warnings})
}

// certificateGenerate is the body of POST /api/v1/certificates/generate,
// with the CLI's defaults for what is left out.
type certificateGenerate struct {
	Name    string   `json:"name"`
	Domains []string `json:"domains"`
	Days    *int     `json:"days"`     // default 365
	KeyType string   `json:"key_type"` // default ecdsa-p256
}

func (s *Server) apiGenerateCertificate(c echo.Context) error {
	var in certificateGenerate
	if err := decodeJSON(c, &in); err != nil {
		return err
	}
	days := 365
	if in.Days != nil {
		days = *in.Days
	}
	kp, outcome, err := s.generateKeyPair(c.Request().Context(),
		certstore.Generate{Name: in.Name, Names: in.Domains, Days: days, KeyType: in.KeyType})
	if err != nil {
		return err
	}
	return s.keyPairWritten(c, kp, outcome)
}

// generateKeyPair makes a self-signed keypair as `portico certificate
// generate` does. The API and the pages share it.
func (s *Server) generateKeyPair(ctx context.Context, g certstore.Generate) (certstore.KeyPair, certstore.Outcome, error) {
	if g.LongValidity() {
		s.log.Warn("certificate valid longer than a year; browsers reject such server certificates", "days", g.Days)
	}
	kp, outcome, err := certstore.GenerateKeyPair(ctx, s.deps.Store, g, s.now())
	if err != nil {
		return kp, outcome, err
	}
	s.log.Info("self-signed keypair generated through the admin listener", "keypair", kp, "not_after", kp.NotAfter)
	return kp, outcome, nil
}

func (s *Server) apiDeleteCertificate(c echo.Context) error {
	if err := s.deleteKeyPair(c.Request().Context(), pathParam(c, "name")); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}

// deleteKeyPair deletes a keypair no tenant uses; while one does, the
// problem names them. The API and the pages share it.
func (s *Server) deleteKeyPair(ctx context.Context, name string) error {
	if name == certstore.DefaultKeyPairName || name == s.cfg.Certificate {
		return &problem{Status: http.StatusConflict, Type: "keypair-in-use", Title: "Keypair in use",
			Detail: fmt.Sprintf("keypair %q is served by Portico itself (the fallback or the admin listener)", name)}
	}
	err := s.deps.Store.DeleteKeyPair(ctx, name)
	if errors.Is(err, certstore.ErrInUse) {
		used, _ := s.keyPairUsers(ctx)
		return &problem{Status: http.StatusConflict, Type: "keypair-in-use", Title: "Keypair in use",
			Detail: fmt.Sprintf("keypair %q is served by %s; point those tenants elsewhere first",
				name, strings.Join(used[name], ", "))}
	}
	if err != nil {
		return err
	}
	s.log.Info("keypair deleted through the admin listener", "keypair", name)
	return nil
}
