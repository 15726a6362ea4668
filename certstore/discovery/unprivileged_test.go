package discovery

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/portico-proxy/portico/certstore"
)

// nobody is the user and group the unprivileged runs use.
const nobody = 65534

// helperEnv, when set, makes TestPassHelper run a pass over the folder it
// names (and the database in helperEnv_DB) and print the report.
const helperEnv = "PORTICO_DISCOVERY_TEST_HELPER"

const reportMark = "REPORT: "

// TestPassHelper is not a test of its own: passAsNobody runs this test
// binary as another user with helperEnv set, to read a tree as that user.
func TestPassHelper(t *testing.T) {
	root := os.Getenv(helperEnv)
	if root == "" {
		t.Skip("only runs as the helper process of passAsNobody")
	}
	store, err := certstore.OpenSQLite(context.Background(), os.Getenv(helperEnv+"_DB"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	rep := pass(t, newDiscoverer(t, root, store))
	out, _ := json.Marshal(rep)
	os.Stdout.WriteString(reportMark + string(out) + "\n")
}

// passAsNobody runs one pass over root into store as user and group 65534,
// by running this test binary again under setpriv. It is for the cases
// that need a file the test's user (root, in CI) can read but Portico's
// unprivileged user cannot.
func passAsNobody(t *testing.T, root string, store *certstore.SQLite) *Report {
	t.Helper()
	setpriv, err := exec.LookPath("setpriv")
	if err != nil {
		t.Skip("running as root without setpriv (util-linux): cannot show what an unprivileged user is refused")
	}
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(t.TempDir(), "discovery.test")
	copyFile(t, self, bin, 0o755)
	openPath(t, filepath.Dir(bin))
	openPath(t, root)
	dbDir := filepath.Dir(store.Path())
	openPath(t, dbDir)
	chownAll(t, dbDir)

	cmd := exec.Command(setpriv, "--reuid", "65534", "--regid", "65534", "--clear-groups",
		bin, "-test.run", "^TestPassHelper$", "-test.count", "1")
	cmd.Env = append(os.Environ(), helperEnv+"="+root, helperEnv+"_DB="+store.Path())
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("running the pass as uid %d: %v\n%s%s", nobody, err, out, stderr.Bytes())
	}
	_, line, ok := strings.Cut(string(out), reportMark)
	if !ok {
		t.Fatalf("no report from the pass as uid %d:\n%s%s", nobody, out, stderr.Bytes())
	}
	line, _, _ = strings.Cut(line, "\n")
	var rep Report
	if err := json.Unmarshal([]byte(line), &rep); err != nil {
		t.Fatal(err)
	}
	return &rep
}

// openPath lets every user reach path: it and each folder above it up to
// the temporary folder get the x bit for others (t.TempDir makes 0700
// folders), and path itself gets r too.
func openPath(t *testing.T, path string) {
	t.Helper()
	top := filepath.Clean(os.TempDir())
	for p := path; strings.HasPrefix(p, top+string(filepath.Separator)); p = filepath.Dir(p) {
		info, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		mode := info.Mode().Perm() | 0o011
		if p == path {
			mode |= 0o055
		}
		if err := os.Chmod(p, mode); err != nil {
			t.Fatal(err)
		}
	}
}

// chownAll gives dir and every file in it to user and group 65534.
func chownAll(t *testing.T, dir string) {
	t.Helper()
	err := filepath.Walk(dir, func(p string, _ os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		return os.Chown(p, nobody, nobody)
	})
	if err != nil {
		t.Fatal(err)
	}
}

func copyFile(t *testing.T, from, to string, mode os.FileMode) {
	t.Helper()
	src, err := os.Open(from)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	dst, err := os.OpenFile(to, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, mode)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(dst, src); err != nil {
		t.Fatal(err)
	}
	if err := dst.Close(); err != nil {
		t.Fatal(err)
	}
}
