//go:build linux

package discovery

import (
	"io/fs"
	"syscall"
	"time"
)

// stampOf returns what identifies one version of a file's content without
// reading it, from its (followed) information: device, inode, size, and
// modification and change times. Writing to a file or replacing it always
// changes one of them; ok is false when the platform does not say.
func stampOf(info fs.FileInfo) (s stamp, ok bool) {
	st, ok := info.Sys().(*syscall.Stat_t)
	if !ok {
		return stamp{}, false
	}
	return stamp{
		dev:   uint64(st.Dev),
		ino:   uint64(st.Ino),
		size:  st.Size,
		mtime: time.Unix(st.Mtim.Unix()),
		ctime: time.Unix(st.Ctim.Unix()),
	}, true
}
