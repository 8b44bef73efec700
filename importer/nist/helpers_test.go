package nist_test

import (
	"encoding/json"
	"flag"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/election-audit/ledger/events"
	"github.com/election-audit/ledger/importer"
	"github.com/election-audit/ledger/importer/nist"
	"github.com/election-audit/ledger/internal/ga06"
	"github.com/election-audit/ledger/projections"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/golden")

// opts are the export options of the golden file.
var opts = nist.ExportOptions{
	GeneratedDate:      time.Date(2017, 4, 19, 3, 0, 0, 0, time.UTC),
	Issuer:             "Georgia Secretary of State",
	IssuerAbbreviation: "GA",
}

// rig folds events into a projection as the ledger's state machine does.
type rig struct {
	t testing.TB
	e *projections.Election
	n uint64
}

func newRig(t testing.TB, election string, m *events.Manifest) *rig {
	t.Helper()
	e, err := projections.New(election, m)
	if err != nil {
		t.Fatal(err)
	}
	r := &rig{t: t, e: e}
	r.apply(&events.Event{ID: fixedID(0), Election: election, Body: m})
	return r
}

// fixedID is a UUIDv7 that depends only on n, so tallies are reproducible.
func fixedID(n byte) uuid.UUID {
	return uuid.MustParse("01890000-0000-7000-8000-0000000000" + string("0123456789abcdef"[n>>4]) + string("0123456789abcdef"[n&15]))
}

func (r *rig) apply(ev *events.Event) {
	r.t.Helper()
	if err := ev.Validate(); err != nil {
		r.t.Fatalf("invalid event: %v", err)
	}
	if r.n > 0 {
		if rj := r.e.Check(ev); rj != nil {
			r.t.Fatalf("%s rejected: %s", ev.Type(), rj.Reason)
		}
	}
	en := &events.Entry{Index: r.n, Recorded: time.Date(2017, 4, 18, 20, 0, int(r.n), 0, time.UTC), Verdict: events.Accepted, Event: ev}
	if err := r.e.Apply(en); err != nil {
		r.t.Fatal(err)
	}
	r.n++
}

func (r *rig) body(b events.Body) {
	r.t.Helper()
	r.apply(&events.Event{ID: fixedID(byte(100 + r.n)), Election: r.e.ID(), Body: b})
}

// tallyOf folds an import's reports into a projection.
func tallyOf(t testing.TB, imp *importer.Import) *rig {
	t.Helper()
	evs, err := imp.Events(true)
	if err != nil {
		t.Fatal(err)
	}
	r := newRig(t, imp.Election, imp.Manifest)
	for _, ev := range evs[1:] {
		r.apply(ev)
	}
	return r
}

func april(t testing.TB) (*importer.Import, *rig) {
	t.Helper()
	imp, err := ga06.April()
	if err != nil {
		t.Fatal(err)
	}
	return imp, tallyOf(t, imp)
}

func export(t testing.TB, m *events.Manifest, tl *projections.Tally, o nist.ExportOptions) []byte {
	t.Helper()
	b, err := nist.Export(m, tl, o)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// edit replaces each old string of the golden-like document by its new one;
// every old string must occur.
func edit(t testing.TB, doc string, pairs ...string) string {
	t.Helper()
	for i := 0; i < len(pairs); i += 2 {
		if !strings.Contains(doc, pairs[i]) {
			t.Fatalf("edit: %q is not in the document", pairs[i])
		}
		doc = strings.Replace(doc, pairs[i], pairs[i+1], 1)
	}
	return doc
}

func pretty(v any) string {
	b, _ := json.MarshalIndent(v, "", "  ")
	return string(b)
}

// entry wraps an event as the log's accepted entry at index i.
func entry(i uint64, ev *events.Event) *events.Entry {
	return &events.Entry{Index: i, Recorded: time.Date(2017, 6, 20, 20, 0, int(i), 0, time.UTC), Verdict: events.Accepted, Event: ev}
}
