//go:build !unix

package discovery

import "io/fs"

// fileID identifies a folder. Without inode numbers it is never valid, so
// link loops are caught only by the depth limit on these platforms.
type fileID struct{}

func (id fileID) valid() bool { return false }

func idOf(fs.FileInfo) fileID { return fileID{} }
