// Package importer turns official results files into ledger events: an
// election manifest and count reports that name their source file and its
// SHA-256.
//
// Each format has its own package (gasos, openelections, clarity, nist) with
// a Parse function that returns an [*Import]. This package holds what they
// share: the [Import] itself, the [Error] every parser returns for a bad
// file, the rule that derives stable IDs from names ([Slug]), the check that
// every event is valid ([Check]), and the deterministic event IDs that make
// re-importing a file a no-op ([Import.Events]).
//
// # Guarantees
//
// A parser is a pure function of the file's bytes, its name and the
// election ID: the same input gives the same manifest, the same reports in
// the same order, and so the same event IDs. A file that fails to parse
// yields an error and no events, so nothing reaches the ledger.
package importer

import (
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"maps"
	"path/filepath"
	"slices"
	"strings"

	"github.com/google/uuid"

	"github.com/election-audit/ledger/events"
)

// MaxFileSize is the largest results file a parser reads, in bytes.
const MaxFileSize = 256 << 20

// Import is what one results file (or several files of one election) holds:
// the election's manifest and the count reports, in file order.
type Import struct {
	Election string // the election ID given to the parser
	Manifest *events.Manifest
	Reports  []*events.CountReport
	// Findings are discrepancies inside the file that do not stop the
	// import (a total that differs from the sum of its vote types, a roll-up
	// row that differs from the sum of the rows it rolls up), in file order.
	// `ledger audit reconcile` prints them with the log's own findings.
	Findings []Finding
	// Totals are the file's own totals that the reports were checked to
	// add up to (zero if the parser makes no such check).
	Totals Totals
}

// Finding kinds.
const (
	// FindingVoteTypes: a row's or element's total differs from the sum of
	// its vote types. The reports carry the vote types.
	FindingVoteTypes = "vote-types-sum"
	// FindingRollup: a roll-up (a county's TOTAL row, a county's total in a
	// state file) differs from the sum of the units it rolls up. The reports
	// carry the units; the roll-up is not counted.
	FindingRollup = "rollup-sum"
)

// Finding is one discrepancy in a results file.
type Finding struct {
	Kind  string // FindingVoteTypes, FindingRollup
	File  string
	Where string // as in [Error]
	Msg   string // what differs: both figures and what they are
}

// FindingKinds summarises findings by kind, most frequent first (then by
// name): "58 vote-types-sum, 4 rollup-sum".
func FindingKinds(counts map[string]int) string {
	kinds := slices.Collect(maps.Keys(counts))
	slices.SortFunc(kinds, func(a, b string) int {
		return cmp.Or(cmp.Compare(counts[b], counts[a]), strings.Compare(a, b))
	})
	parts := make([]string, len(kinds))
	for i, k := range kinds {
		parts[i] = fmt.Sprintf("%d %s", counts[k], k)
	}
	return strings.Join(parts, ", ")
}

func (f Finding) String() string {
	return f.Kind + ": " + (&Error{File: f.File, Where: f.Where, Msg: f.Msg}).Error()
}

// Error is a problem with a results file: which file, where in it, and what
// is wrong.
type Error struct {
	File string // as given to the parser
	// Where is the line ("line 12", "line 12, column \"votes\"") or element
	// ("localResults[2].ballotItems[0]", "Contest[1]/Choice[3]"); "" for the
	// whole file.
	Where string
	Msg   string
}

// Error returns "file: where: message".
func (e *Error) Error() string {
	if e.Where == "" {
		return e.File + ": " + e.Msg
	}
	return e.File + ": " + e.Where + ": " + e.Msg
}

// SourceOf returns the source a report read from data names: the file's base
// name and the lowercase hex SHA-256 of its bytes.
func SourceOf(file string, data []byte) events.Source {
	sum := sha256.Sum256(data)
	return events.Source{File: filepath.Base(file), SHA256: hex.EncodeToString(sum[:])}
}

// checkID is the event ID used to validate bodies; a fixed UUIDv7, so that
// Check stays a pure function of its input.
var checkID = uuid.UUID{0x01, 0x5b, 0x84, 0x15, 0x9a, 0x60, 0x7d, 0x35, 0x85, 0xfc, 0x54, 0xe0, 0xf3, 0x3a, 0x4a, 0x94}

// envelope is room for an event's fields around its body (type, ID, a
// 64-byte election ID), so that a body that fits can be submitted.
const envelope = 256

// Check validates the manifest and every report as events does, and makes
// sure each fits in one event. Parsers call it last, as a backstop: their
// own checks should already refuse, with a better place in the file, what
// events would.
func Check(file string, imp *Import) error {
	if !events.ValidElectionID(imp.Election) {
		return fmt.Errorf("couldn't import %s: %q is not a valid election ID", file, imp.Election)
	}
	bodies := make([]events.Body, 0, 1+len(imp.Reports))
	bodies = append(bodies, imp.Manifest)
	for _, r := range imp.Reports {
		bodies = append(bodies, r)
	}
	what := func(i int) string {
		if i == 0 {
			return "the manifest"
		}
		r := imp.Reports[i-1]
		return fmt.Sprintf("the report for unit %q, contest %q", r.Unit, r.Contest)
	}
	for i, body := range bodies {
		ev := &events.Event{ID: checkID, Election: imp.Election, Body: body}
		if err := ev.Validate(); err != nil {
			return fmt.Errorf("couldn't import %s: %s is not a valid event: %w", file, what(i), err)
		}
		if i == 0 {
			// A manifest too large for one event is split into several.
			if _, err := events.SplitManifest(ev); err != nil {
				return &Error{File: file, Msg: err.Error()}
			}
			continue
		}
		if r, ok := body.(*events.CountReport); ok && reportBound(r)+envelope <= events.MaxEventSize {
			continue // fits, without encoding it to see
		}
		enc, err := json.Marshal(body)
		if err != nil {
			return fmt.Errorf("couldn't encode %s of %s: %w", what(i), file, err)
		}
		if len(enc)+envelope > events.MaxEventSize {
			return &Error{File: file, Msg: fmt.Sprintf("%s is %d bytes, too large for one event (limit %d)", what(i), len(enc), events.MaxEventSize-envelope)}
		}
	}
	return nil
}

// reportBound is at least the length of a count report's JSON encoding:
// every byte of text escaped as \u00XX (6 bytes), every number of 20
// digits, and room for the field names and punctuation.
func reportBound(r *events.CountReport) int {
	const escaped, number, fields = 6, 20, 64
	s := r.Source
	n := fields + escaped*(len(r.Unit)+len(r.Contest)+len(s.File)+len(s.SHA256)+len(s.Version)+len(s.Operator))
	for _, c := range r.Counts {
		n += fields + number + escaped*(len(c.Choice)+len(c.VoteType))
	}
	return n
}
