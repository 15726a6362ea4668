//go:build unix

package discovery

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"slices"
	"strings"
	"syscall"
)

// This file reads files and folders with plain system calls. os.Open
// registers every file with the runtime's poller, which costs three more
// system calls per file and fails for regular files anyway; a pass over a
// large tree is mostly system calls, so they are kept to the needed ones.

// readLimited reads a file of at most maxFileSize bytes.
func readLimited(path string) ([]byte, error) {
	fd, err := open(path, 0)
	if err != nil {
		return nil, err
	}
	defer syscall.Close(fd)
	var st syscall.Stat_t
	if err := fstat(fd, &st); err != nil {
		return nil, &fs.PathError{Op: "stat", Path: path, Err: err}
	}
	if st.Mode&syscall.S_IFMT != syscall.S_IFREG {
		return nil, fmt.Errorf("not a regular file")
	}
	if st.Size > maxFileSize {
		return nil, fmt.Errorf("%d bytes is too large for a PEM keypair", st.Size)
	}

	// Room for one byte more than the size, to see the end in one read.
	buf := make([]byte, 0, st.Size+1)
	for {
		if len(buf) == cap(buf) {
			if len(buf) > maxFileSize {
				return nil, fmt.Errorf("larger than %d bytes: too large for a PEM keypair", maxFileSize)
			}
			buf = slices.Grow(buf, 4096)
		}
		n, err := syscall.Read(fd, buf[len(buf):cap(buf)])
		if errors.Is(err, syscall.EINTR) {
			continue
		}
		if err != nil {
			return nil, &fs.PathError{Op: "read", Path: path, Err: err}
		}
		if n == 0 {
			return buf, nil
		}
		buf = buf[:len(buf)+n]
	}
}

// readDir reads a folder's entries, ordered by name.
func readDir(path string) ([]os.DirEntry, error) {
	fd, err := open(path, syscall.O_DIRECTORY)
	if err != nil {
		if errors.Is(err, syscall.ENOTDIR) {
			return nil, errors.New("not a folder")
		}
		return nil, err
	}
	// A descriptor handed to os.NewFile is not registered with the poller.
	f := os.NewFile(uintptr(fd), path)
	defer f.Close()
	entries, err := f.ReadDir(-1)
	if err != nil {
		return nil, err
	}
	slices.SortFunc(entries, func(a, b os.DirEntry) int { return strings.Compare(a.Name(), b.Name()) })
	return entries, nil
}

// open opens path for reading, following links, without blocking on a
// FIFO or making a terminal the controlling one.
func open(path string, flags int) (int, error) {
	for {
		fd, err := syscall.Open(path, syscall.O_RDONLY|syscall.O_CLOEXEC|syscall.O_NOCTTY|syscall.O_NONBLOCK|flags, 0)
		if errors.Is(err, syscall.EINTR) {
			continue
		}
		if err != nil {
			return -1, &fs.PathError{Op: "open", Path: path, Err: err}
		}
		return fd, nil
	}
}

func fstat(fd int, st *syscall.Stat_t) error {
	for {
		err := syscall.Fstat(fd, st)
		if !errors.Is(err, syscall.EINTR) {
			return err
		}
	}
}
