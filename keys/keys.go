// Package keys makes and loads the Ed25519 signing keys of election
// offices: a state's election authority and the county offices that report
// for it. A key is a C2SP signed-note key (golang.org/x/mod/sumdb/note): the
// private key file holds "PRIVATE+KEY+name+hash+base64(0x01 ‖ seed)" and a
// newline, mode 0600; the verifier key, "name+hash+base64(0x01 ‖ public
// key)", is what a manifest names and what anyone checks signatures with,
// the form the ledger's checkpoint key already has.
//
// # Guarantees
//
// A private key is written once, to a new file that only its owner can
// read, and never printed or logged by this package; a key file that group
// or others can read is refused when loaded.
package keys

import (
	"crypto/rand"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/google/uuid"
	"golang.org/x/mod/sumdb/note"

	"github.com/election-audit/ledger/checkpoint"
	"github.com/election-audit/ledger/events"
)

// Generate makes a new key named name: the private key (the file's
// contents, without the newline) and its verifier key. A name is what
// signed notes allow: no spaces, no '+', and not empty.
func Generate(name string) (skey, vkey string, err error) {
	if name == "" || strings.ContainsAny(name, "+ \t\r\n") || strings.ContainsFunc(name, func(r rune) bool { return r < 0x21 || r == 0x7f }) {
		return "", "", fmt.Errorf("key name %q: want a name without spaces or '+' (an office, like ga-sos or cobb-elections)", name)
	}
	skey, vkey, err = note.GenerateKey(rand.Reader, name)
	if err != nil {
		return "", "", fmt.Errorf("couldn't generate a key named %q: %w", name, err)
	}
	return skey, vkey, nil
}

// WriteNew writes a private key to a file that must not exist yet, mode
// 0600, synced: a key is never overwritten, since whatever it signed would
// no longer verify with the key that replaced it.
func WriteNew(path, skey string) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("%s already exists: a key is never overwritten; choose another file", path)
	}
	if err != nil {
		return fmt.Errorf("couldn't create key file: %w", err)
	}
	_, err = f.WriteString(skey + "\n")
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(path)
		return fmt.Errorf("couldn't write key file %s: %w", path, err)
	}
	if d, err := os.Open(filepath.Dir(path)); err == nil {
		d.Sync()
		d.Close()
	}
	return nil
}

// Key is a loaded signing key: what signs, and the verifier key that
// checks its signatures.
type Key struct {
	note.Signer
	Verifier string
	skey     string
}

// Private returns the private key's text, as WriteNew stores it. Never log
// or print it.
func (k *Key) Private() string { return k.skey }

// Load reads a private key file and returns its signer and verifier key. A
// file that group or others may read is refused.
func Load(path string) (note.Signer, string, error) {
	k, err := LoadKey(path)
	if err != nil {
		return nil, "", err
	}
	return k.Signer, k.Verifier, nil
}

// LoadKey reads a private key file. A file that group or others may read
// is refused.
func LoadKey(path string) (*Key, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("couldn't read key file: %w", err)
	}
	if perm := fi.Mode().Perm(); perm&0o077 != 0 {
		return nil, fmt.Errorf("key file %s may be read by others (mode %v): run chmod 600 %s", path, perm, path)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("couldn't read key file: %w", err)
	}
	k, err := Parse(string(data))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return k, nil
}

// Parse makes a Key of a private key's text ("PRIVATE+KEY+…", as Generate
// returns it and key files hold).
func Parse(skey string) (*Key, error) {
	skey = strings.TrimSpace(skey)
	s, err := note.NewSigner(skey)
	if err != nil {
		return nil, errors.New("not a signing key (made by `ledger keygen`)")
	}
	v, err := checkpoint.VerifierKey(skey)
	if err != nil {
		return nil, err
	}
	return &Key{Signer: s, Verifier: v, skey: skey}, nil
}

// SignSubmission signs canonical events of one election as one submission
// (events.SignEncoded) under a new submission ID, a UUIDv7.
func (k *Key) SignSubmission(election string, canonical [][]byte) ([]byte, error) {
	id, err := uuid.NewV7()
	if err != nil {
		return nil, err
	}
	return events.SignEncoded(k.Signer, k.Verifier, id, election, canonical)
}
