// Package checkpoint signs and opens the ledger's checkpoints: C2SP
// tlog-checkpoint bodies in C2SP signed notes, with Ed25519 keys.
//
// # Format
//
// A checkpoint is a signed note whose text is
//
//	<origin>\n<tree size, decimal>\n<base64 RFC 6962 root hash>\n
//
// followed by a blank line and one signature line per signer. The origin of
// an election's log is "<ledger name>/<election ID>"; the key name is the
// ledger name. See https://c2sp.org/tlog-checkpoint and
// https://c2sp.org/signed-note.
package checkpoint

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/transparency-dev/formats/log"
	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/election-audit/ledger/internal/atomicfile"
)

// Key file names inside the data directory.
const (
	PrivateKeyFile = "ledger.key" // the note signer key, mode 0600
	PublicKeyFile  = "ledger.pub" // the note verifier key, for anyone
)

// Origin returns the checkpoint origin of an election's log.
func Origin(ledgerName, election string) string { return ledgerName + "/" + election }

// Sign returns the signed checkpoint of a tree.
func Sign(s note.Signer, origin string, size uint64, root tlog.Hash) ([]byte, error) {
	body := log.Checkpoint{Origin: origin, Size: size, Hash: root[:]}.Marshal()
	signed, err := note.Sign(&note.Note{Text: string(body)}, s)
	if err != nil {
		return nil, fmt.Errorf("couldn't sign checkpoint of %s at size %d: %w", origin, size, err)
	}
	return signed, nil
}

// Checkpoint is an opened, verified checkpoint.
type Checkpoint struct {
	Origin string
	Size   uint64
	Root   tlog.Hash
}

// Open verifies a signed checkpoint against a verifier and an expected
// origin, and returns its content.
func Open(signed []byte, origin string, v note.Verifier) (Checkpoint, error) {
	cp, _, _, err := log.ParseCheckpoint(signed, origin, v)
	if err != nil {
		return Checkpoint{}, fmt.Errorf("checkpoint of %s does not verify: %w", origin, err)
	}
	if len(cp.Hash) != tlog.HashSize {
		return Checkpoint{}, fmt.Errorf("checkpoint of %s has a %d-byte root hash", origin, len(cp.Hash))
	}
	var c Checkpoint
	c.Origin, c.Size = cp.Origin, cp.Size
	copy(c.Root[:], cp.Hash)
	return c, nil
}

// LoadOrCreateKey returns the ledger's signing key from dir, creating it
// (mode 0600) with the given name on first start, and the verifier key that
// others use to check its signatures.
func LoadOrCreateKey(dir, name string) (note.Signer, string, error) {
	path := filepath.Join(dir, PrivateKeyFile)
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		skey, vkey, err := note.GenerateKey(rand.Reader, name)
		if err != nil {
			return nil, "", fmt.Errorf("couldn't generate signing key: %w", err)
		}
		// The public key first: a crash between the two leaves no private
		// key, and the next start makes a new pair.
		if err := atomicfile.WriteFile(filepath.Join(dir, PublicKeyFile), []byte(vkey+"\n"), 0o644); err != nil {
			return nil, "", err
		}
		if err := atomicfile.WriteFile(path, []byte(skey+"\n"), 0o600); err != nil {
			return nil, "", err
		}
		data = []byte(skey)
	} else if err != nil {
		return nil, "", fmt.Errorf("couldn't read signing key: %w", err)
	}
	if fi, err := os.Stat(path); err == nil && fi.Mode().Perm()&0o077 != 0 {
		return nil, "", fmt.Errorf("signing key %s is readable by others (mode %v): run chmod 600 %s", path, fi.Mode().Perm(), path)
	}
	s, err := note.NewSigner(strings.TrimSpace(string(data)))
	if err != nil {
		return nil, "", fmt.Errorf("signing key %s is not a note signer key: %w", path, err)
	}
	if s.Name() != name {
		return nil, "", fmt.Errorf("signing key %s is named %q but the ledger is named %q: pass --name %s or use a new data directory", path, s.Name(), name, s.Name())
	}
	vkey, err := VerifierKey(strings.TrimSpace(string(data)))
	if err != nil {
		return nil, "", err
	}
	pub := filepath.Join(dir, PublicKeyFile)
	if got, err := os.ReadFile(pub); err != nil || strings.TrimSpace(string(got)) != vkey {
		if err := atomicfile.WriteFile(pub, []byte(vkey+"\n"), 0o644); err != nil {
			return nil, "", err
		}
	}
	return s, vkey, nil
}

// VerifierKey derives the public verifier key from a note signer key.
func VerifierKey(skey string) (string, error) {
	// PRIVATE+KEY+name+hash+base64(alg||priv): the verifier key is
	// name+hash+base64(alg||pub).
	s, err := note.NewSigner(skey)
	if err != nil {
		return "", err
	}
	parts := strings.SplitN(skey, "+", 5) // the base64 key itself may contain "+"
	raw, err := base64.StdEncoding.DecodeString(parts[len(parts)-1])
	if err != nil || len(raw) != 1+ed25519.SeedSize || raw[0] != 1 {
		return "", errors.New("signing key is not an Ed25519 note key")
	}
	pub := ed25519.NewKeyFromSeed(raw[1:]).Public().(ed25519.PublicKey)
	return note.NewEd25519VerifierKey(s.Name(), pub)
}
