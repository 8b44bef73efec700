package checkpoint

import (
	"crypto/sha256"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

func TestKeyLifecycle(t *testing.T) {
	dir := t.TempDir()
	s1, v1, err := LoadOrCreateKey(dir, "ledger.test")
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(filepath.Join(dir, PrivateKeyFile))
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("private key mode %v, want 0600", fi.Mode().Perm())
	}
	pub, err := os.ReadFile(filepath.Join(dir, PublicKeyFile))
	if err != nil || strings.TrimSpace(string(pub)) != v1 {
		t.Fatalf("public key file %q, %v; want %q", pub, err, v1)
	}

	// A second start loads the same key, and rewrites a lost public key.
	os.Remove(filepath.Join(dir, PublicKeyFile))
	s2, v2, err := LoadOrCreateKey(dir, "ledger.test")
	if err != nil || v2 != v1 || s2.KeyHash() != s1.KeyHash() {
		t.Fatalf("reload: %v, key %q want %q", err, v2, v1)
	}
	if pub, _ := os.ReadFile(filepath.Join(dir, PublicKeyFile)); strings.TrimSpace(string(pub)) != v1 {
		t.Errorf("public key not restored: %q", pub)
	}

	// The wrong name, or a key readable by others, is refused with a hint.
	if _, _, err := LoadOrCreateKey(dir, "other.name"); err == nil || !strings.Contains(err.Error(), "--name") {
		t.Errorf("name mismatch: %v", err)
	}
	os.Chmod(filepath.Join(dir, PrivateKeyFile), 0o644)
	if _, _, err := LoadOrCreateKey(dir, "ledger.test"); err == nil || !strings.Contains(err.Error(), "chmod 600") {
		t.Errorf("readable key: %v", err)
	}
}

func TestSignOpen(t *testing.T) {
	s, vkey, err := LoadOrCreateKey(t.TempDir(), "ledger.test")
	if err != nil {
		t.Fatal(err)
	}
	v, err := note.NewVerifier(vkey)
	if err != nil {
		t.Fatal(err)
	}
	root := tlog.Hash(sha256.Sum256([]byte("root")))
	origin := Origin("ledger.test", "ga06-2017-04")
	signed, err := Sign(s, origin, 42, root)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(string(signed), "ledger.test/ga06-2017-04\n42\n") {
		t.Errorf("checkpoint body:\n%s", signed)
	}
	c, err := Open(signed, origin, v)
	if err != nil || c.Size != 42 || c.Root != root || c.Origin != origin {
		t.Fatalf("Open = %+v, %v", c, err)
	}
	if _, err := Open(signed, Origin("ledger.test", "other"), v); err == nil {
		t.Error("a checkpoint opened for another origin")
	}
	bad := []byte(strings.Replace(string(signed), "\n42\n", "\n43\n", 1))
	if _, err := Open(bad, origin, v); err == nil {
		t.Error("a checkpoint with a changed size verified")
	}
	_, other, _ := LoadOrCreateKey(t.TempDir(), "ledger.test")
	ov, _ := note.NewVerifier(other)
	if _, err := Open(signed, origin, ov); err == nil {
		t.Error("a checkpoint verified with another key of the same name")
	}
}
