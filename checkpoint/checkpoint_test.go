package checkpoint

import (
	"crypto/sha256"
	"encoding/binary"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

func TestKeyLifecycle(t *testing.T) {
	dir := t.TempDir()
	k1, err := LoadOrCreateKey(dir, "ledger.test")
	if err != nil {
		t.Fatal(err)
	}
	v1 := k1.VerifierKey()
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
	if !strings.HasPrefix(v1, "ledger.test+") || k1.Name() != "ledger.test" {
		t.Errorf("the ledger key %q is not named by the ledger name", v1)
	}

	// A second start loads the same key, and rewrites a lost public key.
	os.Remove(filepath.Join(dir, PublicKeyFile))
	k2, err := LoadOrCreateKey(dir, "ledger.test")
	if err != nil || k2.VerifierKey() != v1 || !k2.Public().Equal(k1.Public()) {
		t.Fatalf("reload: %v, key %q want %q", err, k2.VerifierKey(), v1)
	}
	if pub, _ := os.ReadFile(filepath.Join(dir, PublicKeyFile)); strings.TrimSpace(string(pub)) != v1 {
		t.Errorf("public key not restored: %q", pub)
	}

	// The wrong name, a name with a "/", or a key readable by others, is
	// refused with a hint.
	if _, err := LoadOrCreateKey(dir, "other.name"); err == nil || !strings.Contains(err.Error(), "--name") {
		t.Errorf("name mismatch: %v", err)
	}
	if _, err := LoadOrCreateKey(t.TempDir(), "ledger/test"); err == nil || !strings.Contains(err.Error(), `holds a "/"`) {
		t.Errorf("a ledger name with a slash: %v", err)
	}
	os.Chmod(filepath.Join(dir, PrivateKeyFile), 0o644)
	if _, err := LoadOrCreateKey(dir, "ledger.test"); err == nil || !strings.Contains(err.Error(), "chmod 600") {
		t.Errorf("readable key: %v", err)
	}
}

// The key of the known-answer test: Ed25519 seed 00 01 … 1f. The verifier
// keys and key hashes were computed independently, with Python's hashlib
// and cryptography packages:
//
//	pub = Ed25519PrivateKey.from_private_bytes(bytes(range(32))).public_key()…
//	hashlib.sha256(name.encode() + b"\n" + b"\x01" + pub).digest()[:4].hex()
const (
	kaSigner    = "PRIVATE+KEY+ledger.test+4d15d6ea+AQABAgMEBQYHCAkKCwwNDg8QERITFBUWFxgZGhscHR4f"
	kaLedgerKey = "ledger.test+4d15d6ea+AQOhB7/zzhC+HXDdGOdLwJln5NYwm6UNXx3chmQSVTG4"
	kaLogKey    = "ledger.test/ga06-2017-04+5a72109e+AQOhB7/zzhC+HXDdGOdLwJln5NYwm6UNXx3chmQSVTG4"
	kaLogHash   = 0x5a72109e
)

func knownKey(t *testing.T) *Key {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, PrivateKeyFile), []byte(kaSigner+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	k, err := LoadOrCreateKey(dir, "ledger.test")
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// TestLogKeyHash checks the key hash of a log key, named by the log's
// origin, against computations independent of this package: the known
// answers above, SHA-256 of name, newline, 0x01 and the public key computed
// here, and golang.org/x/mod/sumdb/note's own.
func TestLogKeyHash(t *testing.T) {
	k := knownKey(t)
	const election = "ga06-2017-04"
	if got := k.VerifierKey(); got != kaLedgerKey {
		t.Errorf("ledger key %s, want %s", got, kaLedgerKey)
	}
	if got := k.LogKey(election); got != kaLogKey {
		t.Errorf("log key %s, want %s", got, kaLogKey)
	}
	s := k.LogSigner(election)
	if s.Name() != "ledger.test/ga06-2017-04" || s.KeyHash() != kaLogHash {
		t.Errorf("log signer %s, hash %08x; want ledger.test/ga06-2017-04, %08x", s.Name(), s.KeyHash(), uint32(kaLogHash))
	}
	for _, name := range []string{"ledger.test", "ledger.test/ga06-2017-04", "ledger.test/demo-2026"} {
		msg := append([]byte(name+"\n\x01"), k.Public()...)
		sum := sha256.Sum256(msg)
		want := binary.BigEndian.Uint32(sum[:4])
		var got uint32
		if name == "ledger.test" {
			got = k.LedgerSigner().KeyHash()
		} else {
			got = k.LogSigner(strings.TrimPrefix(name, "ledger.test/")).KeyHash()
		}
		vkey, err := note.NewEd25519VerifierKey(name, k.Public())
		if err != nil {
			t.Fatal(err)
		}
		v, err := note.NewVerifier(vkey)
		if err != nil {
			t.Fatal(err)
		}
		if got != want || v.KeyHash() != want {
			t.Errorf("key hash of %s: %08x; SHA-256 gives %08x, x/mod/sumdb/note %08x", name, got, want, v.KeyHash())
		}
	}
	// The hash differs from log to log, the public key does not.
	if k.LogSigner("a").KeyHash() == k.LogSigner("b").KeyHash() {
		t.Error("two logs have the same key hash")
	}
}

func TestLogVerifier(t *testing.T) {
	const election = "ga06-2017-04"
	for _, vkey := range []string{kaLedgerKey, kaLogKey, " " + kaLogKey + "\n"} {
		v, origin, err := LogVerifier(vkey, election)
		if err != nil || origin != "ledger.test/ga06-2017-04" || v.Name() != origin || v.KeyHash() != kaLogHash {
			t.Errorf("LogVerifier(%q) = %v, %q, %v", vkey, v, origin, err)
		}
		if got, err := LogKey(vkey, election); err != nil || got != kaLogKey {
			t.Errorf("LogKey(%q) = %q, %v", vkey, got, err)
		}
	}
	// Another election's log key, or a key named by a bare election.
	if _, _, err := LogVerifier(kaLogKey, "demo-2026"); err == nil ||
		!strings.Contains(err.Error(), "is the key of log ledger.test/ga06-2017-04, not of ledger.test/demo-2026") {
		t.Errorf("another election's log key: %v", err)
	}
	bare, _ := note.NewEd25519VerifierKey("/ga06-2017-04", knownKey(t).Public())
	if _, err := LogKey(bare, election); err == nil {
		t.Error("a key named /<election> was taken for a log key")
	}
	for _, bad := range []string{"", "ledger.test", kaLedgerKey[:len(kaLedgerKey)-2], strings.Replace(kaLogKey, "5a72109e", "5a72109f", 1)} {
		if _, _, err := LogVerifier(bad, election); err == nil {
			t.Errorf("LogVerifier(%q) took it", bad)
		}
	}
	if !IsLogKey(kaLogKey) || IsLogKey(kaLedgerKey) {
		t.Error("IsLogKey")
	}
}

func TestSignOpen(t *testing.T) {
	k := knownKey(t)
	const election = "ga06-2017-04"
	root := tlog.Hash(sha256.Sum256([]byte("root")))
	origin := k.Origin(election)
	if origin != Origin("ledger.test", election) {
		t.Fatalf("origin %q", origin)
	}
	signed, err := Sign(k, origin, 42, root)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(string(signed), "ledger.test/ga06-2017-04\n42\n") {
		t.Errorf("checkpoint body:\n%s", signed)
	}
	// One signature line, named by the origin (C2SP tlog-checkpoint).
	_, sigs, _ := strings.Cut(string(signed), "\n\n")
	if !strings.HasPrefix(sigs, "— ledger.test/ga06-2017-04 ") || strings.Count(sigs, "\n") != 1 {
		t.Errorf("signature lines:\n%s", sigs)
	}
	// It opens with the log verifier derived from either key.
	for _, vkey := range []string{kaLedgerKey, kaLogKey} {
		v, o, err := LogVerifier(vkey, election)
		if err != nil {
			t.Fatal(err)
		}
		c, err := Open(signed, o, v)
		if err != nil || c.Size != 42 || c.Root != root || c.Origin != origin {
			t.Fatalf("Open with %s = %+v, %v", vkey, c, err)
		}
	}
	v, _, _ := LogVerifier(kaLedgerKey, election)
	if _, err := Open(signed, Origin("ledger.test", "other"), v); err == nil {
		t.Error("a checkpoint opened for another origin")
	}
	bad := []byte(strings.Replace(string(signed), "\n42\n", "\n43\n", 1))
	if _, err := Open(bad, origin, v); err == nil {
		t.Error("a checkpoint with a changed size verified")
	}
	// Not with the ledger key itself, nor with another log's key.
	lv, _ := note.NewVerifier(kaLedgerKey)
	if _, err := Open(signed, origin, lv); err == nil {
		t.Error("a log's checkpoint verified with the ledger-name key")
	}
	ov, _, _ := LogVerifier(kaLedgerKey, "demo-2026")
	if _, err := Open(signed, origin, ov); err == nil {
		t.Error("a log's checkpoint verified with another log's key")
	}
	// Nor with another key of the same name.
	other, err := LoadOrCreateKey(t.TempDir(), "ledger.test")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Open(signed, origin, mustVerifier(t, other.LogKey(election))); err == nil {
		t.Error("a checkpoint verified with another key of the same name")
	}
	// Sign refuses an origin that is not one of the key's logs.
	for _, o := range []string{"other.ledger/" + election, "ledger.test", "ledger.test/", "ledger.test/a/b"} {
		if _, err := Sign(k, o, 1, root); err == nil {
			t.Errorf("signed a checkpoint of %q", o)
		}
	}

	// A checkpoint signed the way earlier versions did, under the ledger
	// name: it does not verify, and the error names the key name.
	old, err := SignWith(k.LedgerSigner(), origin, 42, root)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(old), "\n— ledger.test ") {
		t.Fatalf("earlier-version checkpoint:\n%s", old)
	}
	if _, err := Open(old, origin, v); err == nil || !strings.Contains(err.Error(), "signed under the key name ledger.test, not ledger.test/ga06-2017-04 (versions of the ledger before log keys") {
		t.Errorf("a checkpoint signed under the ledger name: %v", err)
	}
}

func mustVerifier(t *testing.T, vkey string) note.Verifier {
	t.Helper()
	v, err := note.NewVerifier(vkey)
	if err != nil {
		t.Fatal(err)
	}
	return v
}
