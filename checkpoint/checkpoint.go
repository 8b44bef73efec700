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
// an election's log is "<ledger name>/<election ID>".
//
// # Keys
//
// A ledger has one Ed25519 key pair ([Key]), named by the ledger name: the
// ledger key, whose verifier key is DATA/ledger.pub and GET /v1/key. Each
// election's log is signed with that Ed25519 key under the key name the
// C2SP tlog-checkpoint spec asks for, the log's origin: its log key is
// "<ledger name>/<election>+<key hash>+<base64 key>", the key hash computed
// from that name (the first 4 bytes, big-endian, of SHA-256(name || "\n" ||
// 0x01 || public key)), so it differs from log to log while the public key
// is the ledger's. Signature lines read "— <ledger name>/<election> …".
//
// Whoever checks a checkpoint may trust either key: [LogVerifier] derives
// the log key of an election from the ledger key, and takes a log key only
// for its own election. See https://c2sp.org/tlog-checkpoint and
// https://c2sp.org/signed-note.
package checkpoint

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
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

// Origin returns the checkpoint origin of an election's log, which is also
// the name of the log's key.
func Origin(ledgerName, election string) string { return ledgerName + "/" + election }

// Key is a ledger's Ed25519 key pair and name. It signs each election's
// checkpoints under the log's origin.
type Key struct {
	name string
	priv ed25519.PrivateKey
}

// Name returns the ledger name: the name of the ledger key, and the first
// part of every origin.
func (k *Key) Name() string { return k.name }

// Public returns the Ed25519 public key.
func (k *Key) Public() ed25519.PublicKey { return k.priv.Public().(ed25519.PublicKey) }

// VerifierKey returns the ledger key: the verifier key named by the ledger
// name (DATA/ledger.pub, GET /v1/key).
func (k *Key) VerifierKey() string {
	vkey, err := note.NewEd25519VerifierKey(k.name, k.Public())
	if err != nil {
		panic(err) // the public key has the right size
	}
	return vkey
}

// Origin returns the origin of an election's log: the name of its key.
func (k *Key) Origin(election string) string { return Origin(k.name, election) }

// LogSigner returns the signer of an election's checkpoints: the ledger's
// Ed25519 key, named by the log's origin.
func (k *Key) LogSigner(election string) note.Signer { return k.signer(k.Origin(election)) }

// LogKey returns the verifier key of an election's log: the public key,
// named by the log's origin.
func (k *Key) LogKey(election string) string {
	vkey, err := note.NewEd25519VerifierKey(k.Origin(election), k.Public())
	if err != nil {
		panic(err)
	}
	return vkey
}

// LedgerSigner returns a signer named by the ledger name, as versions of
// the ledger before log keys signed every log's checkpoints. It is for
// recognising such checkpoints, not for signing new ones.
func (k *Key) LedgerSigner() note.Signer { return k.signer(k.name) }

func (k *Key) signer(name string) note.Signer {
	return &signer{name: name, hash: keyHash(name, k.Public()), priv: k.priv}
}

// signer is a note.Signer of an Ed25519 key under a name of its own.
type signer struct {
	name string
	hash uint32
	priv ed25519.PrivateKey
}

func (s *signer) Name() string                    { return s.name }
func (s *signer) KeyHash() uint32                 { return s.hash }
func (s *signer) Sign(msg []byte) ([]byte, error) { return ed25519.Sign(s.priv, msg), nil }

// algEd25519 is the signed-note algorithm byte of Ed25519 keys.
const algEd25519 = 1

// keyHash is the C2SP signed-note key hash of an Ed25519 key under a name:
// the first 4 bytes, big-endian, of SHA-256(name || "\n" || 0x01 || pub).
func keyHash(name string, pub ed25519.PublicKey) uint32 {
	h := sha256.New()
	h.Write([]byte(name))
	h.Write([]byte{'\n', algEd25519})
	h.Write(pub)
	return binary.BigEndian.Uint32(h.Sum(nil))
}

// Sign returns the checkpoint of a tree of the log with the given origin,
// which must be one of k's logs ("<k.Name()>/<election>"), signed under
// the origin.
func Sign(k *Key, origin string, size uint64, root tlog.Hash) ([]byte, error) {
	election, ok := strings.CutPrefix(origin, k.name+"/")
	if !ok || election == "" || strings.Contains(election, "/") {
		return nil, fmt.Errorf("couldn't sign checkpoint of %s: it is not a log of ledger %s", origin, k.name)
	}
	return SignWith(k.LogSigner(election), origin, size, root)
}

// SignWith returns the checkpoint of a tree signed by any note signer,
// whatever its name. The ledger signs with [Sign]; this is for tests and
// tools that need another signer.
func SignWith(s note.Signer, origin string, size uint64, root tlog.Hash) ([]byte, error) {
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
// origin, and returns its content. For a log's checkpoints, v and origin
// are those [LogVerifier] returns: the key's name is the origin.
func Open(signed []byte, origin string, v note.Verifier) (Checkpoint, error) {
	cp, _, _, err := log.ParseCheckpoint(signed, origin, v)
	if err != nil {
		if names := signatureNames(signed); len(names) > 0 && !contains(names, v.Name()) {
			why := ""
			if i := strings.LastIndexByte(v.Name(), '/'); i > 0 && contains(names, v.Name()[:i]) {
				why = " (versions of the ledger before log keys signed every log under the ledger name; a log's key is now named by its origin)"
			}
			return Checkpoint{}, fmt.Errorf("checkpoint of %s does not verify: it is signed under the key name %s, not %s%s: %w",
				origin, strings.Join(names, ", "), v.Name(), why, err)
		}
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

// signatureNames returns the key names of a signed note's signature lines,
// without checking anything else.
func signatureNames(signed []byte) []string {
	i := bytes.LastIndex(signed, []byte("\n\n"))
	if i < 0 {
		return nil
	}
	var names []string
	for _, line := range strings.Split(string(signed[i+2:]), "\n") {
		rest, ok := strings.CutPrefix(line, "— ")
		if name, _, ok2 := strings.Cut(rest, " "); ok && ok2 && name != "" {
			names = append(names, name)
		}
	}
	return names
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// IsLogKey reports whether a verifier key is named like a log key: its
// name holds a "/" ("<ledger name>/<election>"), which a ledger name never
// does.
func IsLogKey(vkey string) bool {
	name, _, _ := strings.Cut(strings.TrimSpace(vkey), "+")
	return strings.Contains(name, "/")
}

// LogVerifier returns the verifier of an election's checkpoints, and the
// log's origin, from a verifier key its user trusts: either the ledger key
// (a name without "/", the ledger name), from whose public key it derives
// the log key "<ledger name>/<election>", or that log key itself, whose
// name must be "<ledger name>/<election>" for this election. The
// verifier's name is the origin.
func LogVerifier(vkey, election string) (note.Verifier, string, error) {
	lkey, err := LogKey(vkey, election)
	if err != nil {
		return nil, "", err
	}
	v, err := note.NewVerifier(lkey)
	if err != nil {
		return nil, "", err
	}
	return v, v.Name(), nil
}

// LogKey returns the verifier key of an election's log (named by the
// log's origin) from either the ledger key or the log key itself, as
// [LogVerifier] takes them.
func LogKey(vkey, election string) (string, error) {
	vkey = strings.TrimSpace(vkey)
	v, err := note.NewVerifier(vkey)
	if err != nil {
		return "", fmt.Errorf("%q is not a verifier key (name+hash+base64): %w", clip(vkey), err)
	}
	if election == "" || strings.Contains(election, "/") {
		return "", fmt.Errorf("%q is not an election ID", election)
	}
	name := v.Name()
	if i := strings.LastIndexByte(name, '/'); i >= 0 {
		// A log key: of this election's log, or refused.
		if name[:i] == "" || name[i+1:] != election {
			return "", fmt.Errorf("the key %s is the key of log %s, not of %s: give the key of %s, or the ledger key", clip(vkey), name, Origin(name[:i], election), Origin(name[:i], election))
		}
		return vkey, nil
	}
	pub, err := ed25519Public(vkey)
	if err != nil {
		return "", err
	}
	return note.NewEd25519VerifierKey(Origin(name, election), pub)
}

// LedgerKey returns the ledger key of a log key: the same public key,
// named by the ledger name (the log key's name up to its last "/"). Given
// a ledger key, it returns it. Versions of the ledger before log keys
// signed every checkpoint under the ledger key's name.
func LedgerKey(vkey string) (string, error) {
	vkey = strings.TrimSpace(vkey)
	v, err := note.NewVerifier(vkey)
	if err != nil {
		return "", fmt.Errorf("%q is not a verifier key (name+hash+base64): %w", clip(vkey), err)
	}
	i := strings.LastIndexByte(v.Name(), '/')
	if i < 0 {
		return vkey, nil
	}
	if i == 0 {
		return "", fmt.Errorf("the key %s is named %s, with no ledger name before the election", clip(vkey), v.Name())
	}
	pub, err := ed25519Public(vkey)
	if err != nil {
		return "", err
	}
	return note.NewEd25519VerifierKey(v.Name()[:i], pub)
}

// ed25519Public returns the public key of an Ed25519 verifier key.
func ed25519Public(vkey string) (ed25519.PublicKey, error) {
	parts := strings.SplitN(vkey, "+", 3) // the base64 key itself may contain "+"
	if len(parts) == 3 {
		raw, err := base64.StdEncoding.DecodeString(parts[2])
		if err == nil && len(raw) == 1+ed25519.PublicKeySize && raw[0] == algEd25519 {
			return ed25519.PublicKey(raw[1:]), nil
		}
	}
	return nil, fmt.Errorf("%q is not an Ed25519 verifier key", clip(vkey))
}

func clip(s string) string {
	if len(s) > 120 {
		return s[:120] + "…"
	}
	return s
}

// LoadOrCreateKey returns the ledger's key from dir, creating it (mode
// 0600, and its verifier key, the ledger key, in ledger.pub) with the given
// name on first start.
func LoadOrCreateKey(dir, name string) (*Key, error) {
	if strings.Contains(name, "/") {
		return nil, fmt.Errorf("the ledger name %q holds a \"/\": it is the first part of each log's origin, <ledger name>/<election>, and may not", name)
	}
	path := filepath.Join(dir, PrivateKeyFile)
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		skey, vkey, err := note.GenerateKey(rand.Reader, name)
		if err != nil {
			return nil, fmt.Errorf("couldn't generate signing key: %w", err)
		}
		// The public key first: a crash between the two leaves no private
		// key, and the next start makes a new pair.
		if err := atomicfile.WriteFile(filepath.Join(dir, PublicKeyFile), []byte(vkey+"\n"), 0o644); err != nil {
			return nil, err
		}
		if err := atomicfile.WriteFile(path, []byte(skey+"\n"), 0o600); err != nil {
			return nil, err
		}
		data = []byte(skey)
	} else if err != nil {
		return nil, fmt.Errorf("couldn't read signing key: %w", err)
	}
	if fi, err := os.Stat(path); err == nil && fi.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("signing key %s is readable by others (mode %v): run chmod 600 %s", path, fi.Mode().Perm(), path)
	}
	skey := strings.TrimSpace(string(data))
	s, err := note.NewSigner(skey)
	if err != nil {
		return nil, fmt.Errorf("signing key %s is not a note signer key: %w", path, err)
	}
	if s.Name() != name {
		return nil, fmt.Errorf("signing key %s is named %q but the ledger is named %q: pass --name %s or use a new data directory", path, s.Name(), name, s.Name())
	}
	seed, err := ed25519Seed(skey)
	if err != nil {
		return nil, fmt.Errorf("signing key %s: %w", path, err)
	}
	k := &Key{name: name, priv: ed25519.NewKeyFromSeed(seed)}
	vkey := k.VerifierKey()
	pub := filepath.Join(dir, PublicKeyFile)
	if got, err := os.ReadFile(pub); err != nil || strings.TrimSpace(string(got)) != vkey {
		if err := atomicfile.WriteFile(pub, []byte(vkey+"\n"), 0o644); err != nil {
			return nil, err
		}
	}
	return k, nil
}

// ed25519Seed returns the Ed25519 seed of a note signer key,
// PRIVATE+KEY+name+hash+base64(alg||seed).
func ed25519Seed(skey string) ([]byte, error) {
	parts := strings.SplitN(skey, "+", 5) // the base64 key itself may contain "+"
	raw, err := base64.StdEncoding.DecodeString(parts[len(parts)-1])
	if err != nil || len(raw) != 1+ed25519.SeedSize || raw[0] != algEd25519 {
		return nil, errors.New("signing key is not an Ed25519 note key")
	}
	return raw[1:], nil
}

// VerifierKey derives the public verifier key from a note signer key.
func VerifierKey(skey string) (string, error) {
	// PRIVATE+KEY+name+hash+base64(alg||priv): the verifier key is
	// name+hash+base64(alg||pub).
	s, err := note.NewSigner(skey)
	if err != nil {
		return "", err
	}
	seed, err := ed25519Seed(skey)
	if err != nil {
		return "", err
	}
	pub := ed25519.NewKeyFromSeed(seed).Public().(ed25519.PublicKey)
	return note.NewEd25519VerifierKey(s.Name(), pub)
}
