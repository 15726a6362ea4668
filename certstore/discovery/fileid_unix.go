//go:build unix

package discovery

import (
	"io/fs"
	"syscall"
)

// fileID identifies a file or folder on this machine whatever path reached
// it: its device and inode numbers.
type fileID struct {
	dev, ino uint64
}

func (id fileID) valid() bool { return id != fileID{} }

// idOf returns info's identity, or the zero fileID when the platform does
// not say.
func idOf(info fs.FileInfo) fileID {
	st, ok := info.Sys().(*syscall.Stat_t)
	if !ok {
		return fileID{}
	}
	return fileID{dev: uint64(st.Dev), ino: uint64(st.Ino)}
}
