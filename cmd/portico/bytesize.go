package main

import (
	"fmt"

	"github.com/dustin/go-humanize"
)

// byteSize is a flag value in bytes written the way people write sizes:
// "0", "512", "10MB", "1.5GiB".
type byteSize int64

// UnmarshalText parses a size such as "10MB" or "64KiB".
func (b *byteSize) UnmarshalText(text []byte) error {
	n, err := humanize.ParseBytes(string(text))
	if err != nil {
		return fmt.Errorf("size %q: %w", text, err)
	}
	if n > 1<<62 {
		return fmt.Errorf("size %q: too large", text)
	}
	*b = byteSize(n)
	return nil
}
