package diskspace

import (
	"errors"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/cockroachdb/pebble/v2/vfs"
)

func TestFree(t *testing.T) {
	dir := t.TempDir()
	have, err := Free(vfs.Default, dir)
	if err != nil || have == 0 {
		t.Fatalf("Free(%s) = %d, %v", dir, have, err)
	}
	// Not there yet: measured at its nearest parent.
	if _, err := Free(vfs.Default, filepath.Join(dir, "a", "b")); err != nil {
		t.Errorf("a directory to come: %v", err)
	}
}

func TestNoSpaceError(t *testing.T) {
	err := error(&NoSpaceError{Store: "the ledger database (Pebble)", Dir: "/d", Free: 100 << 20, MinFree: 160 << 20, Refused: "writes are refused"})
	if !errors.Is(err, syscall.ENOSPC) {
		t.Error("not ENOSPC")
	}
	const want = "no space left for the ledger database (Pebble): the disk of /d has 100.0 MiB free, less than the 160.0 MiB kept free, so writes are refused"
	if err.Error() != want {
		t.Errorf("%q\nwant %q", err, want)
	}
	for n, s := range map[uint64]string{512: "512 B", 2048: "2.0 KiB", 3 << 30: "3.0 GiB"} {
		if got := Bytes(n); got != s {
			t.Errorf("Bytes(%d) = %q, want %q", n, got, s)
		}
	}
}
