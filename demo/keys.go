package demo

import (
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/election-audit/ledger/events"
	"github.com/election-audit/ledger/importer"
	"github.com/election-audit/ledger/keys"
)

// Counties are the county offices of the GA-06 elections, by unit ID.
var Counties = []string{"cobb", "dekalb", "fulton"}

// Keys are the signing keys of the offices in the demo: the Georgia
// Secretary of State, the elections' authority, and one per county
// election office, which reports its county's counts.
type Keys struct {
	Authority *keys.Key
	Counties  map[string]*keys.Key // by county unit ID
}

// NewKeys makes fresh keys for the offices.
func NewKeys() (*Keys, error) {
	k := &Keys{Counties: map[string]*keys.Key{}}
	var err error
	if k.Authority, err = newKey("ga-sos"); err != nil {
		return nil, err
	}
	for _, c := range Counties {
		if k.Counties[c], err = newKey(c + "-elections"); err != nil {
			return nil, err
		}
	}
	return k, nil
}

func newKey(name string) (*keys.Key, error) {
	skey, _, err := keys.Generate(name)
	if err != nil {
		return nil, err
	}
	return keys.Parse(skey)
}

// registrations are the events by which the authority registers each
// county office's key for its county: they follow the manifest, in the
// same submission. Their IDs derive from the election and the key, so a
// replay with the same keys logs nothing twice.
func (k *Keys) registrations(election string, at time.Time) []*events.Event {
	var out []*events.Event
	for _, c := range Counties {
		key := k.Counties[c].Verifier
		out = append(out, &events.Event{
			ID:       importer.DerivedID(uint64(at.UnixMilli()), "demo", election, "key.registered", key),
			Election: election,
			Body:     &events.KeyRegistration{Key: key, Units: []string{c}},
		})
	}
	return out
}

// part is events of a step that one key signs, as one submission.
type part struct {
	key *keys.Key
	evs []*events.Event
}

// split splits a step's events into submissions by who signs them: a
// county office the counts of units in its county, the authority
// everything else. Consecutive events of one signer stay together, so a
// step of one county's reports is one submission.
func (k *Keys) split(evs []*events.Event, county func(unit string) string) []part {
	var out []part
	for _, ev := range evs {
		key := k.Authority
		if r := ev.Counts(); r != nil {
			if c := k.Counties[county(r.Unit)]; c != nil {
				key = c
			}
		}
		if len(out) == 0 || out[len(out)-1].key != key {
			out = append(out, part{key: key})
		}
		out[len(out)-1].evs = append(out[len(out)-1].evs, ev)
	}
	return out
}

// Names returns the county offices' key names, in Counties' order.
func (k *Keys) Names() []string {
	out := make([]string, len(Counties))
	for i, c := range Counties {
		out[i] = k.Counties[c].Name()
	}
	return out
}

// WriteFiles writes each private key to dir/<name>.key (mode 0600), so
// that whoever ran the demo can go on signing as its offices.
func (k *Keys) WriteFiles(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	all := []*keys.Key{k.Authority}
	for _, c := range Counties {
		all = append(all, k.Counties[c])
	}
	for _, key := range all {
		if err := keys.WriteNew(filepath.Join(dir, key.Name()+".key"), key.Private()); err != nil {
			return fmt.Errorf("couldn't keep the demo's keys: %w", err)
		}
	}
	return nil
}
