package audit

import (
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"math/bits"
	"sync"
	"time"

	"github.com/transparency-dev/merkle/compact"
	"github.com/transparency-dev/merkle/rfc6962"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/election-audit/ledger/events"
	"github.com/election-audit/ledger/importer/nist"
	"github.com/election-audit/ledger/projections"
	"github.com/election-audit/ledger/store"
)

// ProjectionAt returns the projection of an election after entries [0, n)
// of its log, read from src: a pure function of those entries' bytes. It
// starts from the newest snapshot at or before n when src keeps them
// ([Snapshots]), else from entry 0.
//
// Each entry is checked as it is folded: a gap, an entry that does not
// decode or names another index or election, one whose fields around its
// event are not in their canonical encoding, one whose event ID an entry
// folded before it has (from the snapshot on, when it starts from one), an
// entry 0 that is not the accepted manifest, or a verdict the election's
// rules would not give comes back as a *[MismatchError] naming the entry.
func ProjectionAt(src Source, election string, n uint64) (*projections.Election, error) {
	if n == 0 {
		return nil, fmt.Errorf("couldn't compute the projection of %s at size 0: a log starts with its manifest", election)
	}
	proj, start, err := startAt(src, election, n)
	if err != nil {
		return nil, err
	}
	if err := fold(src, election, start, n, &proj, nil); err != nil {
		return nil, err
	}
	return proj, nil
}

// TallyAt returns the tally of an election after entries [0, n) of its log,
// read from src: the tally of [ProjectionAt]. For a database,
// TallyAt(db, election, n).
func TallyAt(src Source, election string, n uint64) (*projections.Tally, error) {
	proj, err := ProjectionAt(src, election, n)
	if err != nil {
		return nil, err
	}
	return proj.Tally(), nil
}

// NISTReport renders the tally of an election after entries [0, n) of its
// log, read from src, as a NIST SP 1500-100 v2 ElectionReport
// ([nist.Export]): a pure function of those entries' bytes and issuer, so
// the same request gives the same bytes on every machine. Entries are
// checked as [ProjectionAt] checks them.
//
// The report's GeneratedDate is the stream time of entry n-1 (to the
// second, UTC), never the local clock; Issuer and IssuerAbbreviation are
// issuer, the ledger's name. Its Status is the tally's (unofficial-partial,
// unofficial-complete, certified, recount, or pre-election), or
// "correction" when the latest accepted count change was a correction or a
// retraction ([projections.Election.Correcting]) and the election is
// neither certified nor under a recount, whose statuses say more.
func NISTReport(src Source, election string, n uint64, issuer string) ([]byte, error) {
	switch {
	case n == 0:
		return nil, fmt.Errorf("couldn't compute the NIST report of %s at size 0: a log starts with its manifest", election)
	case issuer == "":
		return nil, fmt.Errorf("couldn't compute the NIST report of %s: it needs an issuer", election)
	}
	// A snapshot before n, not at it: entry n-1 is read for its time.
	proj, start, err := startAt(src, election, n-1)
	if err != nil {
		return nil, err
	}
	var last time.Time
	err = fold(src, election, start, n, &proj, func(en *events.Entry) error {
		last = en.Recorded
		return nil
	})
	if err != nil {
		return nil, err
	}
	t := proj.Tally()
	return nist.Export(proj.Manifest(), t, nist.ExportOptions{
		GeneratedDate: last.UTC(),
		Issuer:        issuer, IssuerAbbreviation: issuer,
		Correction: proj.Correcting() && t.Status != "certified" && t.Status != "recount",
	})
}

// Snapshots is a [Source] that also keeps projection snapshots and the
// Merkle tree's stored hashes, as *store.DB does: an as-of tally then
// starts from the newest snapshot at or before the size asked for, and
// folds only the entries after it. `ledger audit verify` checks every
// snapshot against a replay, so a verified store gives the same document
// either way.
type Snapshots interface {
	Source
	// Snapshot returns the newest snapshot at a size of at most n, and
	// that size; 0 and nil if there is none.
	Snapshot(election string, n uint64) (size uint64, snap []byte, err error)
	// ReadHashes returns stored hashes by storage index (tlog.HashReader).
	ReadHashes(election string, indexes []int64) ([]tlog.Hash, error)
}

var _ Snapshots = (*store.DB)(nil)

// startAt returns the projection to fold [start, n) into: restored from the
// newest usable snapshot at or before n, or nil and 0 to fold from entry 0.
func startAt(src Source, election string, n uint64) (*projections.Election, uint64, error) {
	ss, ok := src.(Snapshots)
	if !ok {
		return nil, 0, nil
	}
	size, snap, err := ss.Snapshot(election, n)
	if err != nil {
		return nil, 0, fmt.Errorf("couldn't read a snapshot of %s at or before %d: %w", election, n, err)
	}
	if size == 0 {
		return nil, 0, nil
	}
	m, err := manifestOf(src, election)
	if err != nil {
		return nil, 0, err
	}
	proj, err := projections.Restore(election, m, snap)
	if errors.Is(err, projections.ErrSnapshotOutdated) {
		return nil, 0, nil
	}
	if err != nil {
		return nil, 0, &MismatchError{Election: election, Index: size, What: "stored snapshot: " + err.Error()}
	}
	if proj.Size() != size {
		return nil, 0, &MismatchError{Election: election, Index: size, What: fmt.Sprintf("stored snapshot says it is at size %d", proj.Size())}
	}
	return proj, size, nil
}

// manifests caches decoded manifests by election and the SHA-256 of the
// stored entry 0 they come from: an as-of query reads entry 0 every time,
// but decodes and checks it only once. Bounded: a few elections at a time.
var manifests = struct {
	sync.Mutex
	m map[string]cachedManifest
}{m: map[string]cachedManifest{}}

type cachedManifest struct {
	sum [32]byte
	m   *events.Manifest
}

const maxCachedManifests = 16

// ManifestOf returns the manifest of an election as its log holds it
// (entry 0, and its parts when it is in several), checked as a replay
// checks those entries. The result is shared: callers must not modify it.
func ManifestOf(src Source, election string) (*events.Manifest, error) {
	return manifestOf(src, election)
}

// manifestOf returns the manifest of an election, checked as fold checks
// the entries that hold it (entry 0, and its parts when it is in several).
// The result is shared: callers must not modify it.
func manifestOf(src Source, election string) (*events.Manifest, error) {
	var raw [][]byte
	read := func(start, end uint64) error {
		return src.Entries(election, start, end, func(_ uint64, data []byte) error {
			raw = append(raw, append([]byte(nil), data...))
			return nil
		})
	}
	if err := read(0, 1); err != nil {
		return nil, err
	}
	if len(raw) == 1 {
		// A manifest in N parts is in entries [0, N): read the others.
		if en, err := events.DecodeEntry(raw[0]); err == nil {
			if m, ok := en.Event.Body.(*events.Manifest); ok && events.ManifestEvents(m) > 1 {
				if err := read(1, uint64(events.ManifestEvents(m))); err != nil {
					return nil, err
				}
			}
		}
	}
	h := sha256.New()
	for _, r := range raw {
		leaf := tlog.RecordHash(r)
		h.Write(leaf[:])
	}
	var sum [32]byte
	h.Sum(sum[:0])
	manifests.Lock()
	c, ok := manifests.m[election]
	manifests.Unlock()
	if ok && c.sum == sum {
		return c.m, nil
	}
	some := entriesFunc(func(_ string, start, end uint64, fn func(uint64, []byte) error) error {
		for i := start; i < end && i < uint64(len(raw)); i++ {
			if err := fn(i, raw[i]); err != nil {
				return err
			}
		}
		return nil
	})
	var proj *projections.Election
	if err := fold(some, election, 0, max(uint64(len(raw)), 1), &proj, nil); err != nil {
		return nil, err
	}
	m := proj.Manifest()
	manifests.Lock()
	if len(manifests.m) >= maxCachedManifests {
		clear(manifests.m)
	}
	manifests.m[election] = cachedManifest{sum, m}
	manifests.Unlock()
	return m, nil
}

// frontier returns the compact range [0, size) of the tree from stored
// hashes: the roots of its perfect subtrees, largest first.
func frontier(ss Snapshots, election string, size uint64) (*compact.Range, error) {
	var idx []int64
	for start := uint64(0); start < size; {
		level := bits.Len64(size-start) - 1
		idx = append(idx, tlog.StoredHashIndex(level, int64(start>>level)))
		start += 1 << level
	}
	hs, err := ss.ReadHashes(election, idx)
	if err != nil {
		return nil, err
	}
	hashes := make([][]byte, len(hs))
	for i := range hs {
		hashes[i] = hs[i][:]
	}
	rf := compact.RangeFactory{Hash: rfc6962.DefaultHasher.HashChildren}
	return rf.NewRange(0, size, hashes)
}

// entriesFunc is a Source made of a function.
type entriesFunc func(election string, start, end uint64, fn func(index uint64, data []byte) error) error

func (f entriesFunc) Entries(election string, start, end uint64, fn func(index uint64, data []byte) error) error {
	return f(election, start, end, fn)
}

// folder folds one election's entries, in log order, into a fresh
// projection, checking each as it goes.
type folder struct {
	election string
	proj     *projections.Election
	start    uint64 // the index of the first entry folded
	next     uint64 // the index the next entry must have
	ids      idSet  // the event IDs of entries [start, next)
	// head takes the entries of the manifest until its last: the
	// projection is made from the whole manifest.
	head projections.ManifestHead
}

// apply checks the entry stored at index, decoded as en (or failing with
// decodeErr, which also says when the entry is not in canonical form), and
// folds it in. Its event ID, whose hash f.ids.prepare gave as idHash, must
// not be that of an entry folded before it. Past entry 0 it also
// re-decides the verdict by the election's rules (projections' Decide): an
// accepted entry the rules reject, or a rejected one they accept, is a
// fault. The reason text is not compared: it is for people.
func (f *folder) apply(index uint64, en *events.Entry, idHash uint64, decodeErr error, before func(*events.Entry) error) error {
	if index != f.next {
		return &MismatchError{Election: f.election, Index: f.next, What: "entry is missing"}
	}
	if decodeErr != nil {
		return &MismatchError{Election: f.election, Index: index, What: decodeErr.Error()}
	}
	if en.Index != index {
		return &MismatchError{Election: f.election, Index: index, What: fmt.Sprintf("entry says it is entry %d", en.Index)}
	}
	if en.Event.Election != f.election {
		return &MismatchError{Election: f.election, Index: index, What: fmt.Sprintf("entry is for election %q", en.Event.Election)}
	}
	switch first, err := f.ids.add(en.Event.ID, idHash); {
	case err != nil:
		return &MismatchError{Election: f.election, Index: index, What: err.Error()}
	case first >= 0:
		return &MismatchError{Election: f.election, Index: index, What: fmt.Sprintf("its event ID %s is logged a second time (entry %d has it): an event ID appears once in a log", en.Event.ID, f.start+uint64(first))}
	}
	if f.proj == nil {
		return f.manifest(index, en, before)
	}
	switch rj := f.proj.Decide(en.Event, en.Submission.Signer); {
	case rj == nil && en.Verdict != events.Accepted:
		return &MismatchError{Election: f.election, Index: index, What: "entry is rejected but the election's rules accept it"}
	case rj != nil && en.Verdict == events.Accepted:
		return &MismatchError{Election: f.election, Index: index, What: fmt.Sprintf("entry is accepted but the election's rules reject it: %s", rj.Reason)}
	}
	if before != nil {
		if err := before(en); err != nil {
			return err
		}
	}
	if err := f.proj.Apply(en); err != nil {
		return &MismatchError{Election: f.election, Index: index, What: err.Error()}
	}
	f.next++
	return nil
}

// manifest takes the entries that hold the manifest (projections'
// ManifestHead: entry 0, and its parts when it is in several). Once it has
// them all it folds them into the projection made from the whole manifest.
func (f *folder) manifest(index uint64, en *events.Entry, before func(*events.Entry) error) error {
	proj, err := f.head.Add(f.election, en)
	if err != nil {
		return &MismatchError{Election: f.election, Index: index, What: err.Error()}
	}
	f.next++
	if proj == nil {
		return nil
	}
	f.proj = proj
	for _, h := range f.head.Entries() {
		if before != nil {
			if err := before(h); err != nil {
				return err
			}
		}
		if err := f.proj.Apply(h); err != nil {
			return &MismatchError{Election: f.election, Index: h.Index, What: err.Error()}
		}
	}
	return nil
}

// AsOf is the canonical document of an election's tally as it stood after
// entries [0, TreeSize): the totals, and the Merkle root of exactly those
// entries, so that anyone holding a signed checkpoint at that size can tie
// the numbers to it. Its encoding (Encode) is the same bytes on every
// machine for the same log prefix.
type AsOf struct {
	Election     string             `json:"election"`
	TreeSize     uint64             `json:"tree_size"`
	Root         tlog.Hash          `json:"root"`          // RFC 6962 root of entries [0, tree_size), base64
	LastRecorded string             `json:"last_recorded"` // stream time of entry tree_size-1
	Tally        *projections.Tally `json:"tally"`
}

// Encode returns the canonical JSON of the document, newline-terminated.
func (a *AsOf) Encode() ([]byte, error) {
	b, err := json.Marshal(a)
	if err != nil {
		return nil, fmt.Errorf("couldn't encode the tally of %s at %d: %w", a.Election, a.TreeSize, err)
	}
	return append(b, '\n'), nil
}

// TallyDocument replays entries [0, n) from src and returns the as-of
// document: the tally, with the root recomputed from the entry bytes.
func TallyDocument(src Source, election string, n uint64) (*AsOf, error) {
	if n == 0 {
		return nil, fmt.Errorf("couldn't compute the tally of %s at size 0: a log starts with its manifest", election)
	}
	// A snapshot before n, not at it: entry n-1 is read for its time.
	proj, start, err := startAt(src, election, n-1)
	if err != nil {
		return nil, err
	}
	rf := compact.RangeFactory{Hash: rfc6962.DefaultHasher.HashChildren}
	tree := rf.NewEmptyRange(0)
	if start > 0 {
		if tree, err = frontier(src.(Snapshots), election, start); err != nil {
			return nil, fmt.Errorf("couldn't read the tree of %s at size %d: %w", election, start, err)
		}
	}
	hashing := entriesFunc(func(e string, start, end uint64, fn func(uint64, []byte) error) error {
		return src.Entries(e, start, end, func(i uint64, data []byte) error {
			leaf := tlog.RecordHash(data)
			if err := tree.Append(leaf[:], nil); err != nil {
				return err
			}
			return fn(i, data)
		})
	})
	var last time.Time
	err = fold(hashing, election, start, n, &proj, func(en *events.Entry) error {
		last = en.Recorded
		return nil
	})
	if err != nil {
		return nil, err
	}
	doc := &AsOf{Election: election, TreeSize: n, LastRecorded: last.UTC().Format(time.RFC3339Nano), Tally: proj.Tally()}
	r, err := tree.GetRootHash(nil)
	if err != nil {
		return nil, err
	}
	copy(doc.Root[:], r)
	return doc, nil
}

// TimeIndex is a [Source] that also keeps, at some sizes, the latest
// recorded time of the entries before them (store.DB keeps one beside each
// projection snapshot). [SizeAt] then reads only the entries after the
// last such size whose time is not after the one asked for.
type TimeIndex interface {
	// MaxRecorded calls fn for every stored point, by size.
	MaxRecorded(election string, fn func(size uint64, max time.Time) error) error
}

var _ TimeIndex = (*store.DB)(nil)

// SizeAt returns the size of the log as it stood at time t: the entries
// before the first one recorded after t. Defined by log order, so it stays
// well defined if the stream's clock ever steps back: an entry appended
// after one recorded later than t is not part of the log at t, whatever
// its own timestamp. It reads at most entries [0, size).
func SizeAt(src Source, election string, size uint64, t time.Time) (uint64, error) {
	// The latest time of a prefix only grows with the prefix: every entry
	// before the last indexed size whose latest time is not after t is
	// part of the log at t.
	start, _, err := indexedBefore(src, election, size, func(_ uint64, max time.Time) bool { return !max.After(t) })
	if err != nil {
		return 0, err
	}
	n := start
	err = src.Entries(election, start, size, func(i uint64, data []byte) error {
		rec, err := recordedOf(election, i, data)
		if err != nil {
			return err
		}
		if rec.After(t) {
			return errStop
		}
		n = i + 1
		return nil
	})
	if err != nil && err != errStop {
		return 0, err
	}
	return n, nil
}

// MaxRecordedAt returns the latest recorded time of entries [0, size).
func MaxRecordedAt(src Source, election string, size uint64) (time.Time, error) {
	start, max, err := indexedBefore(src, election, size, func(uint64, time.Time) bool { return true })
	if err != nil {
		return time.Time{}, err
	}
	err = src.Entries(election, start, size, func(i uint64, data []byte) error {
		rec, err := recordedOf(election, i, data)
		if err == nil && rec.After(max) {
			max = rec
		}
		return err
	})
	return max, err
}

// indexedBefore returns the largest indexed size of at most size whose
// point ok accepts, scanning the points in order until ok refuses one, and
// that point's time; 0 and the zero time without an index.
func indexedBefore(src Source, election string, size uint64, ok func(uint64, time.Time) bool) (uint64, time.Time, error) {
	ti, is := src.(TimeIndex)
	if !is {
		return 0, time.Time{}, nil
	}
	var at uint64
	var max time.Time
	err := ti.MaxRecorded(election, func(n uint64, m time.Time) error {
		if n > size || !ok(n, m) {
			return errStop
		}
		at, max = n, m
		return nil
	})
	if err != nil && err != errStop {
		return 0, time.Time{}, fmt.Errorf("couldn't read the time index of %s: %w", election, err)
	}
	return at, max, nil
}

// recordedOf reads an entry's recorded time without decoding the rest.
func recordedOf(election string, i uint64, data []byte) (time.Time, error) {
	var w struct {
		Recorded string `json:"recorded"`
	}
	if err := json.Unmarshal(data, &w); err != nil {
		return time.Time{}, &MismatchError{Election: election, Index: i, What: "entry does not decode: " + err.Error()}
	}
	rec, err := time.Parse(time.RFC3339Nano, w.Recorded)
	if err != nil {
		return time.Time{}, &MismatchError{Election: election, Index: i, What: "entry's recorded time does not parse: " + err.Error()}
	}
	return rec, nil
}

var errStop = errors.New("stop")
