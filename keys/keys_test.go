package keys_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/mod/sumdb/note"

	"github.com/election-audit/ledger/keys"
)

func TestKeyLifecycle(t *testing.T) {
	skey, vkey, err := keys.Generate("cobb-elections")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(vkey, "cobb-elections+") || strings.Contains(vkey, "PRIVATE") {
		t.Fatalf("verifier key %q", vkey)
	}
	path := filepath.Join(t.TempDir(), "cobb.key")
	if err := keys.WriteNew(path, skey); err != nil {
		t.Fatal(err)
	}
	if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o600 {
		t.Errorf("mode %v, want 0600", fi.Mode().Perm())
	}
	if err := keys.WriteNew(path, skey); err == nil || !strings.Contains(err.Error(), "never overwritten") {
		t.Errorf("overwrote a key: %v", err)
	}
	s, got, err := keys.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if got != vkey {
		t.Errorf("loaded verifier key %q, want %q", got, vkey)
	}
	// What the key signs, its verifier key checks.
	msg, err := note.Sign(&note.Note{Text: "report\n"}, s)
	if err != nil {
		t.Fatal(err)
	}
	v, err := note.NewVerifier(vkey)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := note.Open(msg, note.VerifierList(v)); err != nil {
		t.Errorf("signature does not verify with the printed key: %v", err)
	}
	os.Chmod(path, 0o640)
	if _, _, err := keys.Load(path); err == nil || !strings.Contains(err.Error(), "chmod 600") {
		t.Errorf("loaded a key others may read: %v", err)
	}
	junk := filepath.Join(t.TempDir(), "junk")
	os.WriteFile(junk, []byte("not a key\n"), 0o600)
	if _, _, err := keys.Load(junk); err == nil || !strings.Contains(err.Error(), "not a signing key") {
		t.Errorf("junk: %v", err)
	}
	for _, bad := range []string{"", "two words", "a+b", "tab\there"} {
		if _, _, err := keys.Generate(bad); err == nil {
			t.Errorf("name %q accepted", bad)
		}
	}
}
