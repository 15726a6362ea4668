package web

import (
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/portico-proxy/portico/certstore"
)

// certRow is a keypair on the certificates and certificate pages.
type certRow struct {
	certstore.KeyPair
	Expiry expiry
	UsedBy []string
	ACME   *acmeTenant
}

func (s *Server) certificatesPage(c echo.Context) error {
	ctx := c.Request().Context()
	kps, err := s.deps.Store.KeyPairs(ctx)
	if err != nil {
		return err
	}
	used, err := s.keyPairUsers(ctx)
	if err != nil {
		return err
	}
	rows := make([]certRow, 0, len(kps))
	for _, k := range kps {
		rows = append(rows, certRow{KeyPair: k, Expiry: newExpiry(k.NotAfter, s.now()), UsedBy: used[k.Name]})
	}
	return s.page(c, http.StatusOK, "certificates.html", "Certificates", "certificates", rows)
}

func (s *Server) certificatePage(c echo.Context) error {
	ctx := c.Request().Context()
	k, err := s.deps.Store.KeyPair(ctx, pathParam(c, "name"))
	if err != nil {
		return err
	}
	used, err := s.keyPairUsers(ctx)
	if err != nil {
		return err
	}
	cj := s.toCertificateJSON(k, used[k.Name], s.acmeByDomain(ctx))
	row := certRow{KeyPair: k, Expiry: newExpiry(k.NotAfter, s.now()), UsedBy: used[k.Name], ACME: cj.ACME}
	return s.page(c, http.StatusOK, "certificate.html", k.Name, "certificates", row)
}

func (s *Server) deleteCertificateForm(c echo.Context) error {
	name := pathParam(c, "name")
	if err := s.deleteKeyPair(c.Request().Context(), name); err != nil {
		return err
	}
	return s.redirectWith(c, "/certificates", fmt.Sprintf("Deleted keypair %q.", name))
}

// importForm is the import page's data. The private key is never put back
// into the page: after a failure it must be given again.
type importFormData struct {
	Name        string
	Certificate string
	KeyGiven    bool
	Problem     *problem
}

func (s *Server) importPage(c echo.Context) error {
	return s.page(c, http.StatusOK, "import.html", "Import a certificate", "import", importFormData{})
}

func (s *Server) importForm(c echo.Context) error {
	f := importFormData{Name: strings.TrimSpace(c.FormValue("name"))}
	cert, err := pastedOrUploaded(c, "certificate")
	if err != nil {
		return s.formFailed(c, err, func(p *problem) error { return s.showImport(c, f, p) })
	}
	key, err := pastedOrUploaded(c, "private_key")
	if err != nil {
		return s.formFailed(c, err, func(p *problem) error { return s.showImport(c, f, p) })
	}
	f.KeyGiven = len(key) > 0
	kp, outcome, err := s.importKeyPair(c.Request().Context(), f.Name, cert, key)
	if err != nil {
		// Put back a pasted certificate (public) but never the key.
		if !strings.Contains(string(cert), "PRIVATE KEY") {
			f.Certificate = string(cert)
		}
		return s.formFailed(c, err, func(p *problem) error { return s.showImport(c, f, p) })
	}
	return s.redirectWith(c, "/certificates/"+pathEscape(kp.Name),
		fmt.Sprintf("Keypair %q %s.", kp.Name, outcome))
}

func (s *Server) showImport(c echo.Context, f importFormData, p *problem) error {
	f.Problem = p
	return s.page(c, p.Status, "import.html", "Import a certificate", "import", f)
}

// pastedOrUploaded returns the PEM given for field: pasted into the text
// area of that name or uploaded as field_file, not both.
func pastedOrUploaded(c echo.Context, field string) ([]byte, error) {
	pasted := c.FormValue(field)
	fh, err := c.FormFile(field + "_file")
	if err != nil || fh.Size == 0 {
		return []byte(pasted), nil
	}
	if strings.TrimSpace(pasted) != "" {
		return nil, &certstore.InputError{Input: field, Reason: "paste it or upload a file, not both"}
	}
	return readUpload(fh, field)
}

func readUpload(fh *multipart.FileHeader, field string) ([]byte, error) {
	f, err := fh.Open()
	if err != nil {
		return nil, &certstore.InputError{Input: field, Reason: "the uploaded file could not be read"}
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxBodySize+1))
	if err != nil {
		return nil, &certstore.InputError{Input: field, Reason: "the uploaded file could not be read"}
	}
	if len(b) > maxBodySize {
		return nil, &certstore.InputError{Input: field, Reason: fmt.Sprintf("the uploaded file is larger than %d bytes", maxBodySize)}
	}
	return b, nil
}

// generateFormData is the generate page's data.
type generateFormData struct {
	Name     string
	Domains  string
	Days     string
	KeyType  string
	KeyTypes []string
	Problem  *problem
}

func (s *Server) generatePage(c echo.Context) error {
	return s.page(c, http.StatusOK, "generate.html", "Generate a self-signed certificate", "import",
		generateFormData{Days: "365", KeyType: certstore.KeyTypes[0], KeyTypes: certstore.KeyTypes})
}

func (s *Server) generateForm(c echo.Context) error {
	f := generateFormData{
		Name:     strings.TrimSpace(c.FormValue("name")),
		Domains:  c.FormValue("domains"),
		Days:     strings.TrimSpace(c.FormValue("days")),
		KeyType:  c.FormValue("key_type"),
		KeyTypes: certstore.KeyTypes,
	}
	days, err := strconv.Atoi(f.Days)
	if err != nil {
		days = 0 // reported as "must be positive"
	}
	kp, _, err := s.generateKeyPair(c.Request().Context(), certstore.Generate{
		Name: f.Name, Names: strings.FieldsFunc(f.Domains, func(r rune) bool { return r == ',' || r == ' ' || r == '\n' || r == '\r' || r == '\t' }),
		Days: days, KeyType: f.KeyType,
	})
	if err != nil {
		return s.formFailed(c, err, func(p *problem) error {
			f.Problem = p
			return s.page(c, p.Status, "generate.html", "Generate a self-signed certificate", "import", f)
		})
	}
	return s.redirectWith(c, "/certificates/"+pathEscape(kp.Name), fmt.Sprintf("Generated keypair %q.", kp.Name))
}

// discoveryPage shows the last discovery pass, or that discovery is not
// configured.
func (s *Server) discoveryPage(c echo.Context) error {
	var data struct {
		Configured bool
		Report     *DiscoveryReport
	}
	if s.deps.Discovery != nil {
		data.Configured = true
		if r, ok := s.deps.Discovery.LastDiscovery(); ok {
			data.Report = &r
		}
	}
	return s.page(c, http.StatusOK, "discovery.html", "Discovery", "discovery", data)
}

// statusPage shows the status document for people.
func (s *Server) statusPage(c echo.Context) error {
	st, err := s.status(c.Request().Context())
	if err != nil {
		return err
	}
	return s.page(c, http.StatusOK, "status.html", "Status", "status", st)
}
