package discovery

import (
	"crypto/sha256"
	"time"
)

// stamp identifies one version of a file's content without reading it.
type stamp struct {
	dev, ino     uint64
	size         int64
	mtime, ctime time.Time
}

// settle is how old a file's last change must be, when it is read, for its
// stamp to be trusted on the next pass. A file changed again within the
// same clock tick as an earlier change could keep its stamp; one that has
// been still for this long when it was read cannot have changed since
// without a new stamp.
const settle = 2 * time.Second

// known is what a pass learnt of a file that holds a certificate or key:
// its stamp, the digest of its content, and what the content holds. The
// next pass trusts it for a file with the same stamp instead of reading it
// again, which is most of the cost of a pass over a large tree that did not
// change.
type known struct {
	stamp   stamp
	sum     [sha256.Size]byte
	linkDir string // for a link, when watching: the folder its target is in
	content
}

// trusted reports whether k may stand for a file read at readAt: the file
// had been still for settle by then.
func (k known) trusted(readAt time.Time) bool {
	return readAt.Sub(k.stamp.mtime) >= settle && readAt.Sub(k.stamp.ctime) >= settle
}
