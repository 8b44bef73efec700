package projections_test

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/election-audit/ledger/events"
	"github.com/election-audit/ledger/internal/testkeys"
	"github.com/election-audit/ledger/projections"
)

// signersLog folds events one by one, each signed by the given key, as the
// state machine decides them, and returns the projection and the reasons
// ("" for accepted).
type signersLog struct {
	t       *testing.T
	p       *projections.Election
	entries []*events.Entry
}

func newSignersLog(t *testing.T, authority string) *signersLog {
	m := &events.Manifest{
		Name: "Test", Date: "2026-11-03", Authority: authority,
		VoteTypes: []events.VoteType{{ID: "day", Name: "Day"}},
		Units: []events.Unit{
			{ID: "st", Name: "State", Kind: "state"},
			{ID: "cobb", Name: "Cobb", Kind: "county", Parent: "st"},
			{ID: "fulton", Name: "Fulton", Kind: "county", Parent: "st"},
			{ID: "cobb-01", Name: "Cobb 01", Kind: "precinct", Parent: "cobb"},
			{ID: "fulton-01", Name: "Fulton 01", Kind: "precinct", Parent: "fulton"},
		},
		Contests: []events.Contest{{ID: "gov", Name: "Governor", VoteFor: 1, Choices: []events.Choice{{ID: "a", Name: "A"}, {ID: "b", Name: "B"}}}},
	}
	p, err := projections.New("test", m)
	if err != nil {
		t.Fatal(err)
	}
	l := &signersLog{t: t, p: p}
	l.entries = append(l.entries, &events.Entry{Index: 0, Verdict: events.Accepted, Event: &events.Event{ID: uuid.Must(uuid.NewV7()), Election: "test", Body: m}})
	if err := p.Apply(l.entries[0]); err != nil {
		t.Fatal(err)
	}
	return l
}

// add decides and applies one event signed by signer, and returns the
// rejection's reason, "" if accepted.
func (l *signersLog) add(signer string, body events.Body) string {
	l.t.Helper()
	ev := &events.Event{ID: uuid.Must(uuid.NewV7()), Election: "test", Body: body}
	if err := ev.Validate(); err != nil {
		l.t.Fatal(err)
	}
	en := &events.Entry{Index: l.p.Size(), Verdict: events.Accepted, Event: ev, Submission: &events.SubmissionRef{Signer: signer}}
	reason := ""
	if rj := l.p.Decide(ev, signer); rj != nil {
		en.Verdict, en.Reason, reason = events.Rejected, rj.Reason, rj.Reason
	}
	if err := l.p.Apply(en); err != nil {
		l.t.Fatal(err)
	}
	l.entries = append(l.entries, en)
	return reason
}

func govReport(unit string, a int64) *events.CountReport {
	return &events.CountReport{Unit: unit, Contest: "gov", Counts: []events.Count{{Choice: "a", VoteType: "day", Votes: a}}, Source: events.Source{Operator: "clerk"}}
}

// TestSignerRules walks the roles: the authority, a reporter in and out of
// its scope, revocation from its entry on, and the rules of registrations.
func TestSignerRules(t *testing.T) {
	auth, cobb, fulton, thief := testkeys.New("st-sos"), testkeys.New("cobb-elections"), testkeys.New("fulton-elections"), testkeys.New("thief")
	l := newSignersLog(t, auth.Verifier)
	for _, c := range []struct {
		name, signer string
		body         events.Body
		want         string // a part of the reason; "" to accept
	}{
		{"no signature", "", govReport("cobb-01", 1), projections.SignaturePrefix},
		{"unregistered key", cobb.Verifier, govReport("cobb-01", 1), "is not registered"},
		{"reporter registers", cobb.Verifier, &events.KeyRegistration{Key: cobb.Verifier, Units: []string{"cobb"}}, "only the election's authority"},
		{"authority registers cobb", auth.Verifier, &events.KeyRegistration{Key: cobb.Verifier, Units: []string{"cobb"}}, ""},
		{"registered twice", auth.Verifier, &events.KeyRegistration{Key: cobb.Verifier, Units: []string{"fulton"}}, "already registered"},
		{"unknown unit", auth.Verifier, &events.KeyRegistration{Key: fulton.Verifier, Units: []string{"dekalb"}}, `unit "dekalb" is not in election`},
		{"the authority's key", auth.Verifier, &events.KeyRegistration{Key: auth.Verifier, Units: []string{"st"}}, "needs no registration"},
		{"the authority's name", auth.Verifier, &events.KeyRegistration{Key: testkeys.Another("st-sos").Verifier, Units: []string{"st"}}, "is the authority's"},
		{"cobb's name, another key", auth.Verifier, &events.KeyRegistration{Key: testkeys.Another("cobb-elections").Verifier, Units: []string{"cobb"}}, "already used by key"},
		{"authority registers fulton", auth.Verifier, &events.KeyRegistration{Key: fulton.Verifier, Units: []string{"fulton"}}, ""},
		{"cobb in its county", cobb.Verifier, govReport("cobb", 10), ""},
		{"cobb in its precinct", cobb.Verifier, govReport("cobb-01", 5), ""},
		{"cobb for a fulton precinct", cobb.Verifier, govReport("fulton-01", 5), "may report for cobb and their sub-units, not for unit \"fulton-01\""},
		{"cobb for the state", cobb.Verifier, govReport("st", 5), "not for unit \"st\""},
		{"cobb certifies", cobb.Verifier, &events.Certification{By: "Cobb"}, "may not sign election.certified"},
		{"cobb revokes fulton", cobb.Verifier, &events.KeyRevocation{Key: fulton.Verifier, Reason: "no"}, "only the election's authority"},
		{"fulton reports", fulton.Verifier, govReport("fulton-01", 7), ""},
		{"authority revokes fulton", auth.Verifier, &events.KeyRevocation{Key: fulton.Verifier, Reason: "stolen"}, ""},
		{"revoked twice", auth.Verifier, &events.KeyRevocation{Key: fulton.Verifier, Reason: "stolen"}, "already revoked"},
		{"revoking an unknown key", auth.Verifier, &events.KeyRevocation{Key: thief.Verifier, Reason: "?"}, "not a registered reporter key"},
		{"fulton after revocation", fulton.Verifier, govReport("fulton-01", 9), "was revoked at entry"},
		{"a revoked key registered again", auth.Verifier, &events.KeyRegistration{Key: fulton.Verifier, Units: []string{"fulton"}}, "was revoked"},
		{"the authority reports anywhere", auth.Verifier, govReport("fulton-01", 8), ""},
		{"the authority certifies", auth.Verifier, &events.Certification{By: "SOS"}, ""},
	} {
		got := l.add(c.signer, c.body)
		switch {
		case c.want == "" && got != "":
			t.Errorf("%s: rejected: %s", c.name, got)
		case c.want != "" && !strings.Contains(got, c.want):
			t.Errorf("%s: reason %q, want it to contain %q", c.name, got, c.want)
		}
	}
	// The revoked key's earlier report stands: fulton-01 is at 8, the
	// authority's report, and was 7 before it, never 9.
	if _, counts, _ := l.p.Current("fulton-01", "gov"); len(counts) == 0 || counts[0].Votes != 8 {
		t.Errorf("fulton-01 counts %v, want a = 8", counts)
	}

	// The reporters survive every way a projection is stored: cells and
	// snapshots give a projection that decides alike.
	snap := l.p.Snapshot()
	r, err := projections.Restore("test", l.p.Manifest(), snap)
	if err != nil {
		t.Fatal(err)
	}
	cells := map[string][]byte{}
	var keys []string
	fresh := newSignersLog(t, auth.Verifier)
	for _, en := range l.entries[1:] {
		if err := fresh.p.Apply(en); err != nil {
			t.Fatal(err)
		}
	}
	if err := fresh.p.Flush(func(k string, v []byte) { cells[k] = bytes.Clone(v); keys = append(keys, k) }); err != nil {
		t.Fatal(err)
	}
	loaded, err := projections.Load("test", func(fn func(string, []byte) error) error {
		for _, k := range keys {
			if err := fn(k, cells[k]); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for name, p := range map[string]*projections.Election{"restored": r, "loaded": loaded} {
		if !bytes.Equal(p.Snapshot(), snap) {
			t.Errorf("%s: snapshot differs", name)
		}
		ev := &events.Event{ID: uuid.Must(uuid.NewV7()), Election: "test", Body: govReport("cobb-01", 1)}
		if rj := p.Authorize(ev, cobb.Verifier); rj != nil {
			t.Errorf("%s: cobb's key is no longer registered: %s", name, rj.Reason)
		}
		if rj := p.Authorize(ev, fulton.Verifier); rj == nil || !strings.Contains(rj.Reason, "revoked") {
			t.Errorf("%s: fulton's revoked key: %v", name, rj)
		}
	}
}

// A Signers view stays as it was when the projection goes on: the edge
// reads it while the state machine registers and revokes keys.
func TestSignersViewIsStable(t *testing.T) {
	auth, cobb := testkeys.New("st-sos"), testkeys.New("cobb-elections")
	l := newSignersLog(t, auth.Verifier)
	before := l.p.Signers()
	if got := l.add(auth.Verifier, &events.KeyRegistration{Key: cobb.Verifier, Units: []string{"cobb"}}); got != "" {
		t.Fatal(got)
	}
	after := l.p.Signers()
	if _, ok := before.Reporter(cobb.Verifier); ok {
		t.Error("a view taken before the registration sees it")
	}
	if units, ok := after.Reporter(cobb.Verifier); !ok || len(units) != 1 || units[0] != "cobb" {
		t.Errorf("the view after the registration: %v %v", units, ok)
	}
	if got := l.add(auth.Verifier, &events.KeyRevocation{Key: cobb.Verifier, Reason: "lost"}); got != "" {
		t.Fatal(got)
	}
	if _, ok := after.Reporter(cobb.Verifier); !ok {
		t.Error("a view taken before the revocation sees it")
	}
	if _, ok := l.p.Signers().Reporter(cobb.Verifier); ok {
		t.Error("the revoked key is still a reporter")
	}
}

// The golden rejected entry's reason is the state machine's own wording
// for Cobb's office reporting for DeKalb.
func TestGoldenRejectionReason(t *testing.T) {
	read := func(name string) []byte {
		b, err := os.ReadFile(filepath.Join("..", "events", "testdata", "golden", name))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	man, err := events.Decode(read("election.defined.json"))
	if err != nil {
		t.Fatal(err)
	}
	en, err := events.DecodeEntry(read("entry.rejected.json"))
	if err != nil {
		t.Fatal(err)
	}
	p, err := projections.New("ga06-2017-04", man.Body.(*events.Manifest))
	if err != nil {
		t.Fatal(err)
	}
	steps := []*events.Entry{
		{Index: 0, Verdict: events.Accepted, Event: man},
		{Index: 1, Verdict: events.Accepted, Event: &events.Event{ID: uuid.Must(uuid.NewV7()), Election: "ga06-2017-04",
			Body: &events.KeyRegistration{Key: testkeys.New("cobb-elections").Verifier, Units: []string{"cobb"}}}},
	}
	for _, s := range steps {
		if err := p.Apply(s); err != nil {
			t.Fatal(err)
		}
	}
	rj := p.Decide(en.Event, en.Submission.Signer)
	if rj == nil || rj.Reason != en.Reason {
		t.Errorf("Decide = %v, the golden entry says %q", rj, en.Reason)
	}
}
