package ledger

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/election-audit/ledger/broker"
	"github.com/election-audit/ledger/events"
	"github.com/election-audit/ledger/internal/testkeys"
	"github.com/election-audit/ledger/keys"
	"github.com/election-audit/ledger/projections"
)

// signersManifest is an election of two counties of two precincts each.
func signersManifest() *events.Manifest {
	return &events.Manifest{Name: "Signers", Date: "2026-11-03",
		VoteTypes: []events.VoteType{{ID: "ed", Name: "Election Day"}},
		Units: []events.Unit{{ID: "ga", Name: "Georgia", Kind: "state"},
			{ID: "cobb", Name: "Cobb", Kind: "county", Parent: "ga"},
			{ID: "cobb-1", Name: "Cobb 1", Kind: "precinct", Parent: "cobb"},
			{ID: "cobb-2", Name: "Cobb 2", Kind: "precinct", Parent: "cobb"},
			{ID: "fulton", Name: "Fulton", Kind: "county", Parent: "ga"},
			{ID: "fulton-1", Name: "Fulton 1", Kind: "precinct", Parent: "fulton"},
			{ID: "fulton-2", Name: "Fulton 2", Kind: "precinct", Parent: "fulton"}},
		Contests: []events.Contest{{ID: "gov", Name: "Governor", VoteFor: 1, Choices: []events.Choice{{ID: "a", Name: "A"}, {ID: "b", Name: "B"}}}},
	}
}

// TestStreamSignatures: the state machine, not only the edge, decides who
// may sign what. Submissions are published straight to the stream with
// the broker, bypassing the edge's checks, and each verdict and reason is
// read back from the log: the authority's submission is accepted; a
// report signed by an unregistered key, by a revoked key (whose earlier
// report stays accepted), by a Cobb reporter for a Fulton precinct, and a
// certification signed by a reporter are rejected "not authorized: …"; a
// replay of a logged submission's bytes logs nothing twice; a manifest
// signed by a key other than the authority it names, or naming an
// authority the ledger does not accept, is dropped and defines nothing;
// an altered submission's events are rejected "bad signature: …". Opened
// again, the ledger decides the same from its storage.
func TestStreamSignatures(t *testing.T) {
	const election = "sig-2026"
	r := newDiskRig(t, nil)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- r.l.Run(ctx) }()

	auth := testkeys.Authority
	cobb := testkeys.New("cobb-reporter")
	fulton := testkeys.New("fulton-reporter") // registered, then revoked
	stranger := testkeys.New("stranger")      // never registered
	mallory := testkeys.New("mallory")
	src := events.Source{Operator: "clerk"}
	report := func(unit string, votes int64) *events.Event {
		return newEvent(election, &events.CountReport{Unit: unit, Contest: "gov", Source: src,
			Counts: []events.Count{{Choice: "a", VoteType: "ed", Votes: votes}}})
	}

	// publishAs publishes a submission raw under a Nats-Msg-Id of the
	// caller's choice, waits until the state machine applied it, and
	// returns its stream sequence.
	publishAs := func(signed []byte, msgID string) uint64 {
		t.Helper()
		sub, err := events.OpenSubmission(signed)
		if err != nil {
			t.Fatal(err)
		}
		seq, err := r.brk.Publish(ctx, broker.Message{Election: sub.Election, ID: msgID, Data: signed})
		if err != nil {
			t.Fatal(err)
		}
		waitApplied(t, r.l, seq)
		return seq
	}
	// send publishes a submission raw, under its own ID as the edge would,
	// and checks the outcome in its sequence record.
	send := func(signed []byte, outcome string) uint64 {
		t.Helper()
		id := submissionID(t, signed)
		seq := publishAs(signed, id.String())
		rec, err := r.db.Seq(seq)
		if err != nil {
			t.Fatalf("stream message %d: %v", seq, err)
		}
		if rec.ID != id || !strings.HasPrefix(rec.Outcome, outcome) {
			t.Errorf("stream message %d: submission %s, %q; want submission %s, %q", seq, rec.ID, rec.Outcome, id, outcome)
		}
		return seq
	}
	// entry reads back the entry of an event and checks its verdict, the
	// start of its reason and a part of it, and the signer it names.
	entry := func(what string, ev *events.Event, verdict events.Verdict, prefix, part string, signer *keys.Key) *events.Entry {
		t.Helper()
		rec, err := r.l.LookupEvent(ev.ID)
		if err != nil {
			t.Fatalf("%s: event %s is not logged: %v", what, ev.ID, err)
		}
		data, err := r.l.Entry(election, rec.Index)
		if err != nil {
			t.Fatalf("%s: entry %d: %v", what, rec.Index, err)
		}
		en, err := events.DecodeEntry(data)
		if err != nil {
			t.Fatal(err)
		}
		if en.Event.ID != ev.ID || en.Verdict != verdict || !strings.HasPrefix(en.Reason, prefix) || !strings.Contains(en.Reason, part) {
			t.Errorf("%s: entry %d (%s) is %s (%q), want %s (%q…%q)", what, rec.Index, en.Event.ID, en.Verdict, en.Reason, verdict, prefix, part)
		}
		want := ""
		if signer != nil {
			want = signer.Verifier
		}
		if en.Submission == nil || en.Submission.Signer != want {
			t.Errorf("%s: entry %d names submission %+v, want signer %q", what, rec.Index, en.Submission, want)
		}
		return en
	}
	size := func() uint64 {
		t.Helper()
		_, n, err := r.l.Checkpoint(election)
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	const denied = projections.UnauthorizedPrefix

	// The authority defines the election, registers a reporter key for
	// Cobb and one for Fulton, and reports a Cobb precinct itself.
	manifest := newEvent(election, signersManifest())
	send(sign(t, auth, manifest), "logged 1")
	entry("manifest", manifest, events.Accepted, "", "", auth)
	regCobb := newEvent(election, &events.KeyRegistration{Key: cobb.Verifier, Units: []string{"cobb"}})
	regFulton := newEvent(election, &events.KeyRegistration{Key: fulton.Verifier, Units: []string{"fulton"}})
	authReport := report("cobb-1", 10)
	authSub := sign(t, auth, regCobb, regFulton, authReport)
	authSeq := send(authSub, "logged 3")
	for _, ev := range []*events.Event{regCobb, regFulton, authReport} {
		entry("the authority's submission", ev, events.Accepted, "", "", auth)
	}

	// The Fulton reporter reports, is revoked, and reports again.
	early := report("fulton-1", 20)
	send(sign(t, fulton, early), "logged 1")
	entry("a report of a registered key", early, events.Accepted, "", "", fulton)
	revoke := newEvent(election, &events.KeyRevocation{Key: fulton.Verifier, Reason: "laptop stolen"})
	send(sign(t, auth, revoke), "logged 1")
	entry("the revocation", revoke, events.Accepted, "", "", auth)
	late := report("fulton-2", 30)
	send(sign(t, fulton, late), "logged 1")
	entry("a report of a revoked key", late, events.Rejected, denied, "was revoked", fulton)
	entry("the revoked key's earlier report", early, events.Accepted, "", "", fulton)

	// A key that was never registered.
	strange := report("cobb-2", 40)
	send(sign(t, stranger, strange), "logged 1")
	entry("a report of an unregistered key", strange, events.Rejected, denied, "is not registered", stranger)

	// The Cobb reporter, in its scope and out of it, in one submission.
	inScope, outOfScope := report("cobb-2", 50), report("fulton-2", 60)
	send(sign(t, cobb, inScope, outOfScope), "logged 2")
	entry("a Cobb report of the Cobb key", inScope, events.Accepted, "", "", cobb)
	entry("a Fulton report of the Cobb key", outOfScope, events.Rejected, denied, `not for unit "fulton-2"`, cobb)

	// A reporter may not certify.
	certify := newEvent(election, &events.Certification{By: "Cobb reporter"})
	send(sign(t, cobb, certify), "logged 1")
	entry("a certification of a reporter key", certify, events.Rejected, denied, "may not sign election.certified", cobb)

	// A replay of the authority's submission, byte for byte: under its
	// own ID the stream drops it within its duplicate window; under
	// another, the stream takes it and the state machine logs nothing
	// again.
	n := size()
	if seq := publishAs(authSub, submissionID(t, authSub).String()); seq != authSeq {
		t.Errorf("the replay under its own ID is stream message %d, want the original's %d", seq, authSeq)
	}
	replaySeq := publishAs(authSub, "replay-"+uuid.NewString())
	if rec, err := r.db.Seq(replaySeq); err != nil || rec.Outcome != "logged 0, duplicate 3" {
		t.Errorf("the replay: %+v, %v; want logged 0, duplicate 3", rec, err)
	}
	if got := size(); got != n {
		t.Errorf("the replay took the log from %d to %d entries", n, got)
	}
	for _, ev := range []*events.Event{regCobb, regFulton, authReport} {
		en := entry("the replayed submission", ev, events.Accepted, "", "", auth)
		if en.Submission.ID != submissionID(t, authSub) {
			t.Errorf("entry of %s names submission %s", ev.ID, en.Submission.ID)
		}
	}

	// Manifests that must define nothing: one signed by a key other than
	// the authority it names, one naming an authority the ledger does not
	// accept; then a report for the first election, signed by the
	// authority.
	forged := &events.Manifest{}
	*forged = *signersManifest()
	forged.Authority = auth.Verifier
	send(sign(t, mallory, newEvent("forged", forged)), `dropped: the manifest of election "forged" is signed by mallory, not by the authority it names`)
	send(sign(t, mallory, newEvent("unaccepted", signersManifest())), `dropped: the manifest of election "unaccepted" names authority mallory, which this ledger does not accept`)
	send(sign(t, auth, newEvent("forged", &events.CountReport{Unit: "cobb-1", Contest: "gov", Source: src,
		Counts: []events.Count{{Choice: "a", VoteType: "ed", Votes: 1}}})), `dropped: election "forged" is not defined`)
	for _, id := range []string{"forged", "unaccepted"} {
		if _, _, err := r.l.Checkpoint(id); !errors.Is(err, ErrUnknownElection) {
			t.Errorf("election %s: %v, want it unknown", id, err)
		}
	}
	if got := r.l.Elections(); len(got) != 1 || got[0].ID != election {
		t.Errorf("elections %+v, want only %s", got, election)
	}

	// A submission altered after it was signed.
	altered := report("cobb-1", 11)
	signed := sign(t, auth, altered)
	if strings.Count(string(signed), `"votes":11`) != 1 {
		t.Fatalf("no one place to alter in %s", signed)
	}
	send([]byte(strings.Replace(string(signed), `"votes":11`, `"votes":99`, 1)), "logged 1")
	en := entry("an altered submission", altered, events.Rejected, projections.SignaturePrefix, "altered", nil)
	if c := en.Event.Counts(); c == nil || c.Counts[0].Votes != 99 {
		t.Errorf("the altered entry logs %+v, want the altered counts as received", c)
	}

	// The tally counts the accepted reports only: Cobb 1 by the authority
	// (10), Fulton 1 by the revoked key before its revocation (20), Cobb 2
	// by the Cobb key (50).
	tl, err := r.l.Tally(election)
	if err != nil {
		t.Fatal(err)
	}
	if got := tl.Contests[0].TotalVotes; got != 80 {
		doc, _ := tl.Encode()
		t.Errorf("%d votes for governor, want 80: %s", got, doc)
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Run: %v", err)
	}

	// Reopened, the ledger knows the keys from its storage: the Cobb key
	// still reports for Cobb, the revoked key is still refused.
	r.close()
	r.open()
	ctx, cancel = context.WithCancel(context.Background())
	defer cancel()
	go func() { done <- r.l.Run(ctx) }()
	again, revokedAgain := report("cobb-1", 12), report("fulton-1", 21)
	send(sign(t, cobb, again), "logged 1")
	entry("a Cobb report of the Cobb key, reopened", again, events.Accepted, "", "", cobb)
	send(sign(t, fulton, revokedAgain), "logged 1")
	entry("a report of the revoked key, reopened", revokedAgain, events.Rejected, denied, "was revoked", fulton)
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Run, reopened: %v", err)
	}
	r.close()
}
