// Package testkeys gives tests fixed signing keys and a way to sign events
// into submissions. Its keys are derived from their names, so they are the
// same in every run: never use them outside tests.
package testkeys

import (
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"fmt"

	"golang.org/x/mod/sumdb/note"

	"github.com/election-audit/ledger/events"
	"github.com/election-audit/ledger/keys"
)

// New returns the test key named name: the same key for the same name.
func New(name string) *keys.Key { return derive(name, name) }

// Another returns a test key named name that is not New(name): another
// office's key under the same name.
func Another(name string) *keys.Key { return derive(name, "another\x00"+name) }

func derive(name, from string) *keys.Key {
	seed := sha256.Sum256([]byte("election-audit ledger test key\x00" + from))
	pub := ed25519.NewKeyFromSeed(seed[:]).Public().(ed25519.PublicKey)
	vkey, err := note.NewEd25519VerifierKey(name, pub)
	if err != nil {
		panic(err)
	}
	v, err := note.NewVerifier(vkey)
	if err != nil {
		panic(err)
	}
	skey := fmt.Sprintf("PRIVATE+KEY+%s+%08x+%s", name, v.KeyHash(), base64.StdEncoding.EncodeToString(append([]byte{1}, seed[:]...)))
	k, err := keys.Parse(skey)
	if err != nil {
		panic(err)
	}
	return k
}

// Authority is the election authority of the tests; Authorities lists its
// verifier key, for ledger and node configurations.
var (
	Authority   = New("test-authority")
	Authorities = []string{Authority.Verifier}
)

// Sign signs events of one election as one submission with k, each
// validated (which sorts its counts) and canonically encoded. A manifest
// among them that names no authority is given k as its authority, so that
// tests can build manifests as before keys existed.
func Sign(k *keys.Key, evs ...*events.Event) ([]byte, error) {
	if len(evs) == 0 {
		return nil, fmt.Errorf("testkeys: no events to sign")
	}
	canonical := make([][]byte, len(evs))
	for i, ev := range evs {
		if m, ok := ev.Body.(*events.Manifest); ok && m.Authority == "" {
			m.Authority = k.Verifier
		}
		if err := ev.Validate(); err != nil { // sorts the counts: canonical
			return nil, err
		}
		b, err := ev.Encode()
		if err != nil {
			return nil, err
		}
		canonical[i] = b
	}
	return k.SignSubmission(evs[0].Election, canonical)
}

// MustSign is Sign that panics on an error.
func MustSign(k *keys.Key, evs ...*events.Event) []byte {
	b, err := Sign(k, evs...)
	if err != nil {
		panic(err)
	}
	return b
}
