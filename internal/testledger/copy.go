package testledger

import (
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/election-audit/ledger/store"
)

// CopyDir copies the directory tree from into to (created as needed), the
// way a ledger's data directory must be: directories 0700, files 0600.
func CopyDir(t testing.TB, from, to string) {
	t.Helper()
	err := filepath.WalkDir(from, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(from, path)
		if err != nil {
			return err
		}
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(to, rel), 0o700)
		}
		CopyFile(t, path, filepath.Join(to, rel))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// CopyFile copies one file, mode 0600, making its directory (0700).
func CopyFile(t testing.TB, from, to string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(to), 0o700); err != nil {
		t.Fatal(err)
	}
	in, err := os.Open(from)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	out, err := os.OpenFile(to, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(out, in); err != nil {
		t.Fatal(err)
	}
	if err := out.Close(); err != nil {
		t.Fatal(err)
	}
}

// CopyStore opens a copy of the database of a stopped ledger's data
// directory, closed when the test ends: a test tampers with the copy and
// keeps the original for the next case.
func CopyStore(t testing.TB, dataDir string) *store.DB {
	t.Helper()
	cp := filepath.Join(t.TempDir(), "pebble")
	CopyDir(t, filepath.Join(dataDir, "pebble"), cp)
	db, err := store.Open(cp)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}
