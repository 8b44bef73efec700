package importer

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"runtime"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/election-audit/ledger/events"
)

// Events returns the import as events ready to submit: the manifest first
// (unless withManifest is false, when the election already has one), then
// the reports in order.
//
// Event IDs are deterministic UUIDv7s, so that submitting the same import
// twice appends nothing the second time: the ledger answers with the
// original entries. The 48-bit time field is the election day (midnight UTC)
// from the manifest; the other 74 bits come from SHA-256 over the election
// ID and, for the manifest, its canonical encoding, or, for a report, its
// source file's SHA-256, its position in the import and its unit and
// contest. Two different files therefore never share an event ID, and a
// file imported again maps to the same IDs.
func (imp *Import) Events(withManifest bool) ([]*events.Event, error) {
	day, err := time.Parse(time.DateOnly, imp.Manifest.Date)
	if err != nil {
		return nil, fmt.Errorf("couldn't derive event IDs for %s: the manifest's date %q: %w", imp.Election, imp.Manifest.Date, err)
	}
	ms := uint64(day.UnixMilli())
	out := make([]*events.Event, 0, 1+len(imp.Reports))
	if withManifest {
		enc, err := json.Marshal(imp.Manifest)
		if err != nil {
			return nil, fmt.Errorf("couldn't encode the manifest of %s: %w", imp.Election, err)
		}
		out = append(out, &events.Event{ID: DerivedID(ms, imp.Election, "manifest", string(enc)), Election: imp.Election, Body: imp.Manifest})
	}
	var idx [8]byte
	for i, r := range imp.Reports {
		binary.BigEndian.PutUint64(idx[:], uint64(i))
		id := DerivedID(ms, imp.Election, "report", r.Source.SHA256, r.Source.File, string(idx[:]), r.Unit, r.Contest)
		out = append(out, &events.Event{ID: id, Election: imp.Election, Body: r})
	}
	return out, nil
}

// DerivedID is a deterministic UUIDv7: its time field is ms (Unix
// milliseconds) and its other 74 bits come from SHA-256 over
// "election-audit ledger import id v1\x00" and the parts, each prefixed by
// its 8-byte big-endian length so that no two lists collide. Anything that
// must submit the same events again with the same IDs (imports, the demo)
// derives them this way.
func DerivedID(ms uint64, parts ...string) uuid.UUID {
	h := sha256.New()
	h.Write([]byte("election-audit ledger import id v1\x00"))
	var n [8]byte
	for _, p := range parts {
		binary.BigEndian.PutUint64(n[:], uint64(len(p)))
		h.Write(n[:])
		h.Write([]byte(p))
	}
	var sum [32]byte
	h.Sum(sum[:0])
	var id uuid.UUID
	copy(id[6:], sum[:10])
	id[0], id[1], id[2] = byte(ms>>40), byte(ms>>32), byte(ms>>24)
	id[3], id[4], id[5] = byte(ms>>16), byte(ms>>8), byte(ms)
	id[6] = 0x70 | id[6]&0x0f // version 7
	id[8] = 0x80 | id[8]&0x3f // RFC 4122 variant
	return id
}

// EventsFor returns the events that log the import in an election whose
// manifest is existing (nil if the election is not in the ledger yet): all
// of [Import.Events] for a new election, or else the reports alone, bound
// to the existing manifest with [Bind].
func (imp *Import) EventsFor(existing *events.Manifest) ([]*events.Event, error) {
	if existing == nil {
		return imp.Events(true)
	}
	bound, err := Bind(existing, imp)
	if err != nil {
		return nil, err
	}
	return bound.Events(false)
}

// Independent reports whether no two reports of the import are for the same
// unit and contest, so that the order in which they are logged does not
// change what the tally becomes.
func (imp *Import) Independent() bool {
	seen := make(map[[2]string]bool, len(imp.Reports))
	for _, r := range imp.Reports {
		k := [2]string{r.Unit, r.Contest}
		if seen[k] {
			return false
		}
		seen[k] = true
	}
	return true
}

// Encode encodes events (Event.Encode) on every core, in order: the
// encodings of a large import, like parsing it, come before anything is
// submitted.
func Encode(evs []*events.Event) ([][]byte, error) {
	out := make([][]byte, len(evs))
	workers := min(runtime.GOMAXPROCS(0), max(1, len(evs)/64))
	errs := make([]error, workers)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < len(evs); i += workers {
				var err error
				if out[i], err = evs[i].Encode(); err != nil {
					errs[w] = fmt.Errorf("couldn't encode event %d (%s): %w", i, evs[i].ID, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}
