package discovery

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"
	"syscall"
)

// maxFileSize bounds the files discovery reads: a certificate chain with
// its key is a few kilobytes, so anything much larger is not one.
const maxFileSize = 1 << 20

// content is what a file's PEM block headers say it holds. It is read from
// the "-----BEGIN TYPE-----" lines alone; certstore.ParseKeyPair does the
// real decoding and validation later.
type content struct {
	certs  bool     // at least one CERTIFICATE block
	keys   bool     // at least one block whose type ends in PRIVATE KEY
	blocks bool     // at least one PEM block of any type
	other  []string // the types of the blocks that are neither
}

var beginMark = []byte("-----BEGIN ")

// scanContent reads the PEM block types in data.
func scanContent(data []byte) content {
	var c content
	for {
		i := bytes.Index(data, beginMark)
		if i < 0 {
			return c
		}
		data = data[i+len(beginMark):]
		end := bytes.Index(data, []byte("-----"))
		if end < 0 || bytes.IndexByte(data[:end], '\n') >= 0 {
			continue
		}
		typ := string(data[:end])
		data = data[end:]
		c.blocks = true
		switch {
		case typ == "CERTIFICATE":
			c.certs = true
		case strings.HasSuffix(typ, "PRIVATE KEY"):
			c.keys = true
		default:
			c.other = append(c.other, typ)
		}
	}
}

// describeErr turns a file-system error into a short reason for a report
// line: the path is printed beside it, so it is left out here.
func describeErr(err error) string {
	switch {
	case errors.Is(err, syscall.ELOOP):
		return "symbolic link loop"
	case errors.Is(err, fs.ErrPermission):
		return fmt.Sprintf("permission denied (Portico runs as uid %d, gid %d)", os.Geteuid(), os.Getegid())
	case errors.Is(err, fs.ErrNotExist):
		return "does not exist"
	}
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err.Error()
	}
	return err.Error()
}
