package audit_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/election-audit/ledger/audit"
	"github.com/election-audit/ledger/events"
	"github.com/election-audit/ledger/internal/testkeys"
	"github.com/election-audit/ledger/keys"
	"github.com/election-audit/ledger/ledger"
	"github.com/election-audit/ledger/node"
	"github.com/election-audit/ledger/store"
)

// submitAs signs events as one submission by k and submits it.
func submitAs(t *testing.T, l *ledger.Ledger, k *keys.Key, evs ...*events.Event) {
	t.Helper()
	rs, err := l.Submit(context.Background(), testkeys.MustSign(k, evs...))
	if err != nil {
		t.Fatal(err)
	}
	if len(rs) != len(evs) {
		t.Fatalf("%d receipts for %d events", len(rs), len(evs))
	}
}

func TestDiff(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	n := openNode(t, node.Config{DataDir: dir})
	const e = "t1"
	mk := func(b events.Body) *events.Event {
		return &events.Event{ID: uuid.Must(uuid.NewV7()), Election: e, Body: b}
	}
	counts := func(ossoff, handel int64) []events.Count {
		return []events.Count{{Choice: "ossoff", VoteType: "ed", Votes: ossoff}, {Choice: "handel", VoteType: "ed", Votes: handel}}
	}
	// Fulton's office reports; the authority corrects once; Fulton's
	// office retracts the correction.
	fulton := testkeys.New("fulton-elections")
	manifest := mk(&events.Manifest{Name: "T", Date: "2017-04-18",
		VoteTypes: []events.VoteType{{ID: "ed", Name: "Election Day"}},
		Units:     []events.Unit{{ID: "ga", Name: "GA", Kind: "state"}, {ID: "fulton", Name: "Fulton", Kind: "county", Parent: "ga"}},
		Contests:  []events.Contest{{ID: "h6", Name: "House 6", VoteFor: 1, Choices: []events.Choice{{ID: "ossoff", Name: "Ossoff"}, {ID: "handel", Name: "Handel"}}}}})
	register := mk(&events.KeyRegistration{Key: fulton.Verifier, Units: []string{"fulton"}})
	first := mk(&events.CountReport{Unit: "fulton", Contest: "h6", Counts: counts(100, 50), Source: events.Source{Operator: "clerk"}})
	second := mk(&events.CountReport{Unit: "fulton", Contest: "h6", Counts: counts(120, 50), Source: events.Source{Operator: "clerk"}})
	fix := mk(&events.Correction{Corrects: second.ID, Reason: "memory card re-read", CountReport: events.CountReport{Unit: "fulton", Contest: "h6", Counts: counts(120, 75), Source: events.Source{Operator: "clerk"}}})
	stale := mk(&events.Correction{Corrects: first.ID, Reason: "late", CountReport: events.CountReport{Unit: "fulton", Contest: "h6", Counts: counts(1, 1), Source: events.Source{Operator: "clerk"}}})
	pull := mk(&events.Retraction{Retracts: fix.ID, Reason: "wrong precinct", Source: events.Source{Operator: "clerk"}})
	for _, s := range []struct {
		k   *keys.Key
		evs []*events.Event
	}{
		{testkeys.Authority, []*events.Event{manifest, register}},
		{fulton, []*events.Event{first}},
		{fulton, []*events.Event{second}},
		{testkeys.Authority, []*events.Event{fix}},
		{fulton, []*events.Event{stale}},
		{fulton, []*events.Event{pull}},
	} {
		submitAs(t, n.Ledger, s.k, s.evs...)
	}
	n.Close(ctx)
	db, err := store.Open(filepath.Join(dir, "pebble"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()

	all, err := audit.Diff(db, db, e, 0, 7)
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != 7 {
		t.Fatalf("%d changes, want 7", len(all))
	}
	authority, clerk := testkeys.Authority.Verifier, fulton.Verifier
	want := []struct {
		signer   string
		replaces uuid.UUID
		counts   []audit.CountChange
		rejected bool
	}{
		{signer: authority},
		{signer: authority},
		{signer: clerk, counts: []audit.CountChange{{Choice: "ossoff", VoteType: "ed", Old: 0, New: 100}, {Choice: "handel", VoteType: "ed", Old: 0, New: 50}}},
		{signer: clerk, replaces: first.ID, counts: []audit.CountChange{{Choice: "ossoff", VoteType: "ed", Old: 100, New: 120}}},
		{signer: authority, replaces: second.ID, counts: []audit.CountChange{{Choice: "handel", VoteType: "ed", Old: 50, New: 75}}},
		{signer: clerk, replaces: first.ID, rejected: true},
		{signer: clerk, replaces: fix.ID, counts: []audit.CountChange{{Choice: "ossoff", VoteType: "ed", Old: 120, New: 0}, {Choice: "handel", VoteType: "ed", Old: 75, New: 0}}},
	}
	for i, w := range want {
		c := all[i]
		if c.Replaces != w.replaces || (c.Verdict == events.Rejected) != w.rejected || !equalCounts(c.Counts, w.counts) {
			t.Errorf("change %d = %+v, want replaces %s, rejected %v, counts %+v", i, c, w.replaces, w.rejected, w.counts)
		}
		if c.Signer != w.signer || c.Office != events.KeyName(w.signer) {
			t.Errorf("change %d: office %q, signer %q; want %q, %q", i, c.Office, c.Signer, events.KeyName(w.signer), w.signer)
		}
	}
	if all[4].Why != "memory card re-read" || all[6].Unit != "fulton" || all[6].Contest != "h6" {
		t.Errorf("correction or retraction lacks its reason or unit: %+v / %+v", all[4], all[6])
	}

	// From the middle: the state at 4 is replayed, not assumed.
	tail, err := audit.Diff(db, db, e, 4, 7)
	if err != nil {
		t.Fatal(err)
	}
	if len(tail) != 3 || !equalCounts(tail[0].Counts, want[4].counts) {
		t.Errorf("diff [4,7) = %+v", tail)
	}
	m, err := audit.ManifestOf(db, e)
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	audit.WriteChanges(&b, tail, m)
	lines := strings.Split(b.String(), "\n")
	for _, w := range []string{
		"! #4 ", "count.corrected by test-authority Fulton, House 6 (replaces " + second.ID.String() + `) because "memory card re-read"`,
		"Handel, Election Day: 50 → 75 (+25)",
		"! #5 ", "count.corrected by fulton-elections Fulton, House 6", "REJECTED: ",
		"! #6 ", "count.retracted by fulton-elections Fulton, House 6",
	} {
		if !strings.Contains(b.String(), w) {
			t.Errorf("readable diff: no %q in:\n%s", w, b.String())
		}
	}
	t.Logf("readable diff:\n%s", b.String())
	if !strings.HasPrefix(lines[0], "! #4 ") || !strings.Contains(lines[0], " by test-authority ") {
		t.Errorf("readable diff, first line %q", lines[0])
	}
	// JSON: the office by name and the signer in full.
	j, err := json.Marshal(tail[2])
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(j), `"office":"fulton-elections","signer":"`+clerk+`"`) {
		t.Errorf("JSON change: %s", j)
	}
	if _, err := audit.Diff(db, db, e, 4, 2); err == nil {
		t.Error("from > to accepted")
	}
	if _, err := audit.Diff(db, db, e, 0, 9); err == nil {
		t.Error("a range past the end accepted")
	}

	// A stored submission altered: the diff of a range holding its entry
	// fails naming that entry; without submissions to check (nil), or for
	// a range without it, the diff still reads.
	k := submissionKey(e, submissionOf(t, mustEntry(t, db, e, 5)))
	p := db.Pebble()
	orig, closer, err := p.Get(k)
	if err != nil {
		t.Fatal(err)
	}
	sub := bytes.Clone(orig)
	closer.Close()
	sub[len(sub)-10] ^= 0x01 // in its signature
	if err := p.Set(k, sub, nil); err != nil {
		t.Fatal(err)
	}
	_, err = audit.Diff(db, db, e, 4, 7)
	var me *audit.MismatchError
	if !errors.As(err, &me) || me.Index != 5 || !strings.Contains(err.Error(), "the submission was altered") {
		t.Errorf("diff over an altered submission: %v", err)
	}
	if _, err := audit.Diff(db, nil, e, 4, 7); err != nil {
		t.Errorf("diff without origins: %v", err)
	}
	if _, err := audit.Diff(db, db, e, 6, 7); err != nil {
		t.Errorf("diff of a range without the altered submission: %v", err)
	}
}

func mustEntry(t *testing.T, db *store.DB, election string, i uint64) []byte {
	t.Helper()
	b, err := db.Entry(election, i)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func equalCounts(a, b []audit.CountChange) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
