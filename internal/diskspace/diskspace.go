// Package diskspace measures the free space of a store's disk and says,
// with one error type, that a store keeps space free and refuses to write:
// the ledger database (package store) and the embedded stream store
// (package broker) both do.
package diskspace

import (
	"fmt"
	"os"
	"path/filepath"
	"syscall"

	"github.com/cockroachdb/pebble/v2/vfs"
)

// NoSpaceError says that a store's disk has less free space than the store
// keeps, so that it refused to write: nothing was written.
// errors.Is(err, syscall.ENOSPC) holds for it.
type NoSpaceError struct {
	Store   string // which store: "the ledger database (Pebble)"
	Dir     string
	Free    uint64 // bytes free on the disk, for this process
	MinFree uint64 // bytes the store keeps free
	Refused string // what is refused: "writes are refused"
}

func (e *NoSpaceError) Error() string {
	return fmt.Sprintf("no space left for %s: the disk of %s has %s free, less than the %s kept free, so %s",
		e.Store, e.Dir, Bytes(e.Free), Bytes(e.MinFree), e.Refused)
}

// Unwrap makes errors.Is(err, syscall.ENOSPC) hold.
func (e *NoSpaceError) Unwrap() error { return syscall.ENOSPC }

// Free returns the bytes free, for this process, on the disk that holds
// dir, or that will hold it: a directory that does not exist yet is
// measured at its nearest parent. One statfs(2).
func Free(fs vfs.FS, dir string) (uint64, error) {
	for {
		u, err := fs.GetDiskUsage(dir)
		if err == nil {
			return u.AvailBytes, nil
		}
		parent := filepath.Dir(dir)
		if !os.IsNotExist(err) || parent == dir {
			return 0, err
		}
		dir = parent
	}
}

// Bytes formats a size for people: "12.0 MiB".
func Bytes(n uint64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := uint64(unit), 0
	for m := n / unit; m >= unit && exp < 4; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTP"[exp])
}
