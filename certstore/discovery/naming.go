package discovery

import (
	"path/filepath"
	"strings"
)

// The file names that take their folder's name: certbot's lineage files and
// a Kubernetes TLS secret's keys.
var folderNamed = map[string]bool{
	"fullchain.pem": true,
	"privkey.pem":   true,
	"tls.crt":       true,
	"tls.key":       true,
}

// certbotInternals are the folders of a certbot configuration folder (one
// that holds both live/ and renewal/) that never hold a served keypair:
// account keys, certificate requests, old keys, renewal settings and hooks.
var certbotInternals = map[string]bool{
	"accounts":      true,
	"csr":           true,
	"keys":          true,
	"renewal":       true,
	"renewal-hooks": true,
}

// keyPairName returns the keypair a file gives to: for fullchain.pem,
// privkey.pem, tls.crt and tls.key the name of the folder holding it
// (folder is that folder's base name), and for any other file its own name
// without the extension.
func keyPairName(folder, file string) string {
	if folderNamed[file] {
		return folder
	}
	name := strings.TrimSuffix(file, filepath.Ext(file))
	if name == "" {
		return file
	}
	return name
}

// folderRules are the skip rules that depend on a folder's other entries.
type folderRules struct {
	// certbotLineage: the folder has fullchain.pem or privkey.pem, so
	// cert.pem and chain.pem add nothing. Either name is enough, as certbot
	// replaces the links one at a time during a renewal.
	certbotLineage bool
	// kubeSecret: the folder has tls.crt or tls.key, so ca.crt is the
	// issuer, not a keypair.
	kubeSecret  bool
	certbotRoot bool // a certbot configuration folder: skip its internals
}

// rulesFor reads the folder-wide skip rules from the names in a folder.
func rulesFor(names []string) folderRules {
	var r folderRules
	var live, renewal bool
	for _, n := range names {
		switch n {
		case "fullchain.pem", "privkey.pem":
			r.certbotLineage = true
		case "tls.crt", "tls.key":
			r.kubeSecret = true
		case "live":
			live = true
		case "renewal":
			renewal = true
		}
	}
	r.certbotRoot = live && renewal
	return r
}

// skipByName returns why an entry of a folder is skipped without a report
// line (only a debug log) whatever it is, or "".
func (r folderRules) skipByName(name string) string {
	switch {
	case strings.HasPrefix(name, "."):
		return "hidden"
	case name == "README":
		return "README"
	case r.certbotLineage && (name == "cert.pem" || name == "chain.pem"):
		return "part of fullchain.pem"
	case r.certbotLineage && strings.HasPrefix(name, "previous_") && strings.HasSuffix(name, ".pem"):
		// certbot keeps the old links as previous_*.pem while it renews.
		return "certbot's copy during a renewal"
	case r.kubeSecret && name == "ca.crt":
		return "issuer of tls.crt"
	}
	return ""
}

// skipFolder returns why the folder entry name is skipped without a report
// line, or "".
func (r folderRules) skipFolder(name string) string {
	switch {
	case name == "archive":
		return "archive folder (certbot history)"
	case r.certbotRoot && certbotInternals[name]:
		return "certbot internal folder"
	}
	return ""
}
