package discovery

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"sort"

	"github.com/portico-proxy/portico/certstore"
)

// source is the files of one folder that give to one keypair name.
type source struct {
	name string
	dir  string
	cert *file // the file holding the certificates; nil when none does
	key  *file // the file holding the key, when it is not cert itself

	// problem says why the files do not make a keypair; problemPath names
	// the file at fault.
	problem, problemPath string
	// extra are files that also give to the name in the same folder and
	// lost to cert or key; they are reported as conflicts.
	extra []*file
}

// origin is the path a keypair made from s is recorded as coming from.
func (s *source) origin() string {
	if s.cert != nil {
		return s.cert.path
	}
	return s.problemPath
}

// holds reports whether path is one of the files s uses.
func (s *source) holds(path string) bool {
	return s.cert != nil && s.cert.path == path || s.key != nil && s.key.path == path
}

// input is the store input for s. It is only meaningful when s has no
// problem.
func (s *source) input() certstore.Input {
	in := certstore.Input{
		Name:       s.name,
		Source:     certstore.SourceDiscovered,
		Origin:     s.cert.path,
		Cert:       s.cert.data,
		CertFrom:   s.cert.path,
		OnlySource: certstore.SourceDiscovered,
	}
	if s.key != nil {
		in.Key, in.KeyFrom = s.key.data, s.key.path
	}
	return in
}

// digest is a hash over the paths and content digests of s's files: equal
// digests mean the same input.
func (s *source) digest() string {
	h := sha256.New()
	for _, f := range []*file{s.cert, s.key} {
		if f == nil {
			h.Write([]byte{0})
			continue
		}
		fmt.Fprintf(h, "%d:%s", len(f.path), f.path)
		h.Write(f.sum[:])
	}
	return hex.EncodeToString(h.Sum(nil))
}

// load reads the content of s's files that the walk knew without reading.
func (s *source) load() error {
	for _, f := range []*file{s.cert, s.key} {
		if f == nil {
			continue
		}
		if err := f.load(); err != nil {
			return fmt.Errorf("%s: cannot read file: %s", f.path, describeErr(err))
		}
	}
	return nil
}

// groupSources turns the files of a walk into sources, by name; each
// name's sources are ordered by folder, so the first is the one used.
func groupSources(files []file) map[string][]*source {
	type at struct{ dir, name string }
	bySource := map[at][]*file{}
	var order []at
	for i := range files {
		f := &files[i]
		k := at{f.dir, f.name}
		if _, ok := bySource[k]; !ok {
			order = append(order, k)
		}
		bySource[k] = append(bySource[k], f)
	}

	out := map[string][]*source{}
	for _, k := range order {
		out[k.name] = append(out[k.name], pairFiles(k.name, k.dir, bySource[k]))
	}
	for _, srcs := range out {
		sort.SliceStable(srcs, func(i, j int) bool { return srcs[i].dir < srcs[j].dir })
	}
	return out
}

// pairFiles makes one source from the files of one folder that give to
// name, in file name order. Which file is the certificate and which the
// key is decided by their PEM blocks: the first file holding certificates
// is the certificate; the key is in that file or the first file holding
// only a key.
func pairFiles(name, dir string, files []*file) *source {
	s := &source{name: name, dir: dir}
	var keys []*file
	for _, f := range files {
		switch {
		case f.certs && s.cert == nil:
			s.cert = f
		case f.certs:
			s.extra = append(s.extra, f)
		default:
			keys = append(keys, f)
		}
	}

	switch {
	case s.cert == nil:
		s.problem, s.problemPath = "private key without a certificate", keys[0].path
		s.extra = append(s.extra, keys[1:]...)
	case s.cert.keys:
		s.extra = append(s.extra, keys...)
	case len(keys) == 0:
		s.problem, s.problemPath = "certificate without a private key", s.cert.path
	default:
		s.key = keys[0]
		s.extra = append(s.extra, keys[1:]...)
	}
	return s
}
