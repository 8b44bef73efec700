package importer

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/election-audit/ledger/events"
)

// Events returns the import as events ready to submit: the manifest first
// (unless withManifest is false, when the election already has one), in
// several events when it is too large for one (events.SplitManifest), then
// the reports in order.
//
// Event IDs are deterministic UUIDv7s, so that submitting the same import
// twice appends nothing the second time: the ledger answers with the
// original entries. The 48-bit time field is the election day (midnight UTC)
// from the manifest; the other 74 bits are SHA-256 (domain
// "election-audit ledger import id v2") over the election ID and, for the
// manifest, its canonical encoding, or, for a report, what it reports and
// nothing else: the source file's SHA-256, the unit, the contest and every
// count (choice, vote type, votes) in canonical order. A report's ID does
// not depend on its position, on the other files imported with it or on the
// file's name, so that any subset of files, in any order, imported again
// maps to the IDs of the first time; two different files never share one.
//
// A renamed byte-identical file is the same source: its reports have the
// IDs of the original's, and importing it logs nothing new. Its reports
// still name the new file, so a ledger that holds the original's refuses
// them as different content under a logged ID, unless the caller gives them
// the logged name first (`ledger import` does: docs/importers.md).
//
// A report identical to the one just before it for the same unit and
// contest (the same file given twice) is left out: it would change
// nothing. One identical to an earlier report with a different one in
// between is an error, since leaving it out would change the result.
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
		// A manifest too large for one event goes in parts, which the
		// client submits together.
		parts, err := events.SplitManifest(&events.Event{ID: derivedID(importDomain, ms, imp.Election, "manifest", string(enc)), Election: imp.Election, Body: imp.Manifest})
		if err != nil {
			return nil, fmt.Errorf("couldn't split the manifest of %s into events: %w", imp.Election, err)
		}
		out = append(out, parts...)
	}
	ids := reportIDs(ms, imp.Election, imp.Reports)
	seen := make(map[uuid.UUID]int, len(imp.Reports)) // ID → report index
	last := make(map[[2]string]uuid.UUID, len(imp.Reports))
	for i, r := range imp.Reports {
		id := ids[i]
		k := [2]string{r.Unit, r.Contest}
		if j, ok := seen[id]; ok {
			if last[k] == id {
				continue // the same report again: changes nothing
			}
			return nil, fmt.Errorf("couldn't derive event IDs for %s: report %d (unit %q, contest %q, from %s) is report %d again, after a different report for the same unit and contest: it cannot have report %d's ID, and leaving it out would change the tally",
				imp.Election, i+1, r.Unit, r.Contest, r.Source.File, j+1, j+1)
		}
		seen[id] = i
		last[k] = id
		out = append(out, &events.Event{ID: id, Election: imp.Election, Body: r})
	}
	return out, nil
}

// reportIDs derives the reports' IDs on every core: hashing the counts of a
// large import, like parsing it, comes before anything is submitted.
func reportIDs(ms uint64, election string, reports []*events.CountReport) []uuid.UUID {
	ids := make([]uuid.UUID, len(reports))
	onEveryCore(len(reports), 256, func(w, workers int) error {
		h := newIDHash(importDomain)
		for i := w; i < len(reports); i += workers {
			ids[i] = reportID(h, ms, election, reports[i])
		}
		return nil
	})
	return ids
}

// importDomain separates the IDs of [Import.Events] from others derived
// with the same construction; v1 also hashed a report's file name and
// position in the import.
const importDomain = "election-audit ledger import id v2\x00"

// reportID derives a report's event ID from what it reports: the parts are
// the election, "report", the source's SHA-256 (hex), the unit, the
// contest, the number of counts (8 bytes, big-endian), then for each count
// in canonical order (by choice, then vote type) its choice, its vote type
// and its votes (8 bytes, big-endian). Each part is length-prefixed, so no
// two reports share a list of parts.
func reportID(h *idHash, ms uint64, election string, r *events.CountReport) uuid.UUID {
	counts := r.Counts
	if !slices.IsSortedFunc(counts, compareCount) {
		counts = slices.Clone(counts)
		slices.SortFunc(counts, compareCount)
	}
	h.reset(importDomain)
	h.parts(election, "report", r.Source.SHA256, r.Unit, r.Contest)
	h.uint(uint64(len(counts)))
	for _, c := range counts {
		h.parts(c.Choice, c.VoteType)
		h.uint(uint64(c.Votes))
	}
	return h.id(ms)
}

func compareCount(a, b events.Count) int {
	if c := strings.Compare(a.Choice, b.Choice); c != 0 {
		return c
	}
	return strings.Compare(a.VoteType, b.VoteType)
}

// DerivedID is a deterministic UUIDv7: its time field is ms (Unix
// milliseconds) and its other 74 bits come from SHA-256 over
// "election-audit ledger import id v1\x00" and the parts, each prefixed by
// its 8-byte big-endian length so that no two lists collide. Anything that
// must submit the same events again with the same IDs (the demo) derives
// them this way; [Import.Events] does the same under its own domain, v2.
func DerivedID(ms uint64, parts ...string) uuid.UUID {
	return derivedID("election-audit ledger import id v1\x00", ms, parts...)
}

func derivedID(domain string, ms uint64, parts ...string) uuid.UUID {
	h := newIDHash(domain)
	h.parts(parts...)
	return h.id(ms)
}

// idHash is the SHA-256 of a domain and length-prefixed parts, gathered in
// one buffer so that the many short parts of a report are hashed at once.
type idHash struct {
	buf []byte
}

func newIDHash(domain string) *idHash {
	return &idHash{buf: append(make([]byte, 0, 512), domain...)}
}

// reset starts again with domain, keeping the buffer.
func (h *idHash) reset(domain string) {
	h.buf = append(h.buf[:0], domain...)
}

func (h *idHash) parts(parts ...string) {
	for _, p := range parts {
		h.buf = binary.BigEndian.AppendUint64(h.buf, uint64(len(p)))
		h.buf = append(h.buf, p...)
	}
}

// uint adds v as a part of 8 bytes, big-endian.
func (h *idHash) uint(v uint64) {
	h.buf = binary.BigEndian.AppendUint64(h.buf, 8)
	h.buf = binary.BigEndian.AppendUint64(h.buf, v)
}

// id is a UUIDv7 with time field ms and the hash's first 74 bits.
func (h *idHash) id(ms uint64) uuid.UUID {
	sum := sha256.Sum256(h.buf)
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
	err := onEveryCore(len(evs), 64, func(w, workers int) error {
		for i := w; i < len(evs); i += workers {
			var err error
			if out[i], err = evs[i].Encode(); err != nil {
				return fmt.Errorf("couldn't encode event %d (%s): %w", i, evs[i].ID, err)
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// onEveryCore runs work(w, workers) for w in [0, workers) on as many
// goroutines as there are cores, but with at least perWorker of the n items
// each; work w takes items w, w+workers, …. It returns the first error, by
// worker.
func onEveryCore(n, perWorker int, work func(w, workers int) error) error {
	workers := min(runtime.GOMAXPROCS(0), max(1, n/perWorker))
	errs := make([]error, workers)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() { errs[w] = work(w, workers) })
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}
