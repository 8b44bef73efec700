package node_test

// Promises 2 (exactly once), 3 (deterministic) and 6 (projections are
// disposable), end to end: a real embedded nats-server and a real Pebble
// database per node.

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/election-audit/ledger/audit"
	"github.com/election-audit/ledger/broker"
	"github.com/election-audit/ledger/events"
	"github.com/election-audit/ledger/internal/testkeys"
	"github.com/election-audit/ledger/ledger"
	"github.com/election-audit/ledger/node"
	"github.com/election-audit/ledger/projections"
	"github.com/election-audit/ledger/store"
)

// publishRaw puts a message straight on the stream, bypassing the ledger's
// edge (as a second ledger replica, a buggy tool or an old retry would), and
// returns its stream sequence. id is its Nats-Msg-Id, a submission's ID.
func publishRaw(t *testing.T, n *node.Node, election, id string, data []byte) uint64 {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	seq, err := n.Broker.Publish(ctx, broker.Message{Election: election, ID: id, Data: data})
	if err != nil {
		t.Fatalf("publishing %s straight to the stream: %v", id, err)
	}
	return seq
}

// seqOutcome is what the ledger recorded for a stream message.
func seqOutcome(t *testing.T, n *node.Node, seq uint64) store.SeqRecord {
	t.Helper()
	rec, err := n.DB.Seq(seq)
	if err != nil {
		t.Fatalf("record of stream message %d: %v", seq, err)
	}
	return rec
}

func checkReceipt(t *testing.T, what string, got, orig ledger.Receipt, dup bool) {
	t.Helper()
	if got.ID != orig.ID || got.Election != orig.Election || got.Index != orig.Index ||
		got.Verdict != orig.Verdict || got.Reason != orig.Reason || got.Duplicate != dup {
		t.Errorf("%s: receipt %+v, want index %d, verdict %s, duplicate %v (original %+v)",
			what, got, orig.Index, orig.Verdict, dup, orig)
	}
}

// TestExactlyOncePastTheDuplicateWindow resubmits events after JetStream's
// duplicate window has passed: the ledger, not the stream, recognises them.
func TestExactlyOncePastTheDuplicateWindow(t *testing.T) {
	const window = time.Second
	tn := startNode(t, "", node.Config{DuplicateWindow: window})
	r1 := mkEvent(t, elecMain, houseReport("cobb-01", 100, 90, 5))
	r2 := mkEvent(t, elecMain, houseReport("fulton-01", 200, 190, 6))
	first := signed(t, mkEvent(t, elecMain, testManifest("Main")), r1, r2)
	orig := tn.submitSigned(first)
	before := tn.observe(elecMain)
	if before.size != 3 || orig[1].Index != 1 || orig[2].Index != 2 {
		t.Fatalf("setup: %v, receipts %+v", before, orig)
	}

	time.Sleep(2 * window) // past the window; not a timing assertion

	// A resubmission over HTTP (a new submission of a logged event) is
	// answered with the original receipt, appends nothing, and is not even
	// published (documented in Ledger.Submit).
	status, rc := tn.submitOne(r1)
	if status != 200 {
		t.Errorf("resubmission: HTTP %d", status)
	}
	checkReceipt(t, "single resubmission", rc, orig[1], true)
	if rc.TreeSize != before.size {
		t.Errorf("resubmission: receipt tree size %d, want %d", rc.TreeSize, before.size)
	}
	if now := tn.observe(elecMain); !now.equal(before) {
		t.Errorf("resubmission changed the log or the stream: before %v, after %v", before, now)
	}

	// A submission mixing old and new IDs: the old ones get their
	// original receipts, only the new ones are appended, in order.
	n1 := mkEvent(t, elecMain, houseReport("cobb-02", 300, 290, 7))
	n2 := mkEvent(t, elecMain, houseReport("fulton-02", 400, 390, 8))
	pos := tn.position()
	rs := tn.submit(r2, n1, r1, n2)
	checkReceipt(t, "batch, old r2", rs[0], orig[2], true)
	checkReceipt(t, "batch, old r1", rs[2], orig[1], true)
	for i, want := range map[int]uint64{1: 3, 3: 4} {
		if rs[i].Duplicate || rs[i].Index != want || rs[i].Verdict != events.Accepted || rs[i].TreeSize != 5 {
			t.Errorf("batch, new event %d: receipt %+v, want accepted at %d of 5", i, rs[i], want)
		}
	}
	after := tn.observe(elecMain)
	if after.size != before.size+2 || after.cpSize != before.size+2 {
		t.Errorf("after the mixed batch: %v, want size %d", after, before.size+2)
	}
	// A submission is one stream message: the state machine logs only
	// the new events of it.
	if after.position != pos+1 {
		t.Errorf("after the mixed batch the stream position is %d, want %d (one submission)", after.position, pos+1)
	}

	// The first submission put on the stream again, unchanged, past the
	// window: JetStream takes it as a new message, and the state machine
	// recognises its event IDs. So does a new submission of r1 alone,
	// published straight.
	for _, c := range []struct {
		signed  []byte
		outcome string
	}{
		{first, "logged 0, duplicate 3"}, // published more than a window ago
		{signed(t, r1), "logged 0, duplicate 1"},
	} {
		id := submissionID(t, c.signed)
		pos := tn.position()
		seq := publishRaw(t, tn.n, elecMain, id.String(), c.signed)
		if seq <= pos {
			t.Fatalf("stream gave the resubmitted %s sequence %d, not past the position %d: did the duplicate window pass?", id, seq, pos)
		}
		waitPosition(t, tn.n.Ledger, seq)
		now := tn.observe(elecMain)
		if now.position != seq {
			t.Errorf("healthz position %d, want %d: the stream accepted the message", now.position, seq)
		}
		if now.size != after.size || now.root != after.root || !bytes.Equal(now.tally, after.tally) {
			t.Errorf("stream duplicate %s was logged: before %v, after %v", id, after, now)
		}
		if rec := seqOutcome(t, tn.n, seq); rec.ID != id || rec.Outcome != c.outcome {
			t.Errorf("stream message %d recorded as %+v, want %q of submission %s", seq, rec, c.outcome, id)
		}
	}
	// And the receipts still name the original positions.
	rs = tn.submit(r1, r2, n1, n2)
	for i, want := range []uint64{1, 2, 3, 4} {
		if rs[i].Index != want || !rs[i].Duplicate {
			t.Errorf("final resubmission %d: %+v, want duplicate at %d", i, rs[i], want)
		}
	}
	if got := len(entries(t, tn.n.Ledger, elecMain)); got != 5 {
		t.Errorf("log holds %d entries, want 5", got)
	}
}

// TestDuplicateWithinTheWindowStopsAtTheStream: inside the window JetStream
// itself answers with the original sequence, and nothing new reaches the
// ledger.
func TestDuplicateWithinTheWindowStopsAtTheStream(t *testing.T) {
	tn := startNode(t, "", node.Config{DuplicateWindow: 10 * time.Minute})
	r := mkEvent(t, elecMain, houseReport("cobb-01", 1, 2, 3))
	sub := signed(t, mkEvent(t, elecMain, testManifest("Main")), r)
	tn.submitSigned(sub)
	before := tn.observe(elecMain)
	seq := publishRaw(t, tn.n, elecMain, submissionID(t, sub).String(), sub)
	if seq != before.position {
		t.Errorf("republishing within the window gave sequence %d, want the original %d", seq, before.position)
	}
	if now := tn.observe(elecMain); !now.equal(before) {
		t.Errorf("before %v, after %v", before, now)
	}
}

func (o observed) equal(p observed) bool {
	return o.size == p.size && o.cpSize == p.cpSize && o.root == p.root && o.position == p.position && bytes.Equal(o.tally, p.tally)
}

// TestExactlyOnceAcrossRestarts closes the node and reopens it on the same
// data directory: resubmissions get the original receipts, nothing is
// appended, and the log is as it was.
func TestExactlyOnceAcrossRestarts(t *testing.T) {
	const window = time.Second
	dir := t.TempDir()
	cfg := node.Config{DuplicateWindow: window}
	tn := startNode(t, dir, cfg)
	r1 := mkEvent(t, elecMain, houseReport("cobb-01", 100, 90, 5))
	r2 := mkEvent(t, elecMain, houseReport("fulton-01", 200, 190, 6))
	evs := []*events.Event{mkEvent(t, elecMain, testManifest("Main")), r1, r2}
	first := signed(t, evs...)
	orig := tn.submitSigned(first)
	c := mkEvent(t, elecMain, correction(r2.ID, houseReport("fulton-01", 201, 190, 6)))
	bad := mkEvent(t, elecMain, correction(r2.ID, houseReport("fulton-01", 202, 190, 6))) // r2 is no longer current
	orig = append(orig, tn.submit(c, bad)...)
	evs = append(evs, c, bad)
	if orig[4].Verdict != events.Rejected {
		t.Fatalf("setup: correction of a superseded report: %+v", orig[4])
	}
	before := tn.observe(elecMain)
	beforeEntries := entries(t, tn.n.Ledger, elecMain)
	tn.close()

	time.Sleep(2 * window)
	tn = startNode(t, dir, cfg)
	if now := tn.observe(elecMain); !now.equal(before) {
		t.Fatalf("reopened node differs: before %v, after %v", before, now)
	}
	rs := tn.submit(evs...)
	for i := range evs {
		checkReceipt(t, fmt.Sprintf("resubmission %d after restart", i), rs[i], orig[i], true)
	}
	if now := tn.observe(elecMain); !now.equal(before) {
		t.Errorf("resubmission after restart changed the log: before %v, after %v", before, now)
	}

	// Straight to the stream as well, the first submission unchanged: the
	// message is new to JetStream, the reopened ledger knows the IDs.
	id := submissionID(t, first)
	seq := publishRaw(t, tn.n, elecMain, id.String(), first)
	if seq != before.position+1 {
		t.Fatalf("stream sequence %d, want %d", seq, before.position+1)
	}
	waitPosition(t, tn.n.Ledger, seq)
	if rec := seqOutcome(t, tn.n, seq); rec.Outcome != "logged 0, duplicate 3" || rec.ID != id {
		t.Errorf("stream message %d: %+v, want submission %s, all 3 events duplicates", seq, rec, id)
	}
	tn.close()

	// A second restart does not apply anything twice either.
	tn = startNode(t, dir, cfg)
	now := tn.observe(elecMain)
	if now.size != before.size || now.root != before.root || now.position != seq || !bytes.Equal(now.tally, before.tally) {
		t.Errorf("after the second restart: %v, want size %d, position %d", now, before.size, seq)
	}
	if got := entries(t, tn.n.Ledger, elecMain); !slices.EqualFunc(got, beforeEntries, bytes.Equal) {
		t.Errorf("entries changed across restarts")
	}
	// The log continues where it was.
	r := tn.submit(mkEvent(t, elecMain, houseReport("dekalb-01", 1, 2, 3)))[0]
	if r.Index != before.size || r.Duplicate || r.Verdict != events.Accepted {
		t.Errorf("new event after restarts: %+v, want accepted at %d", r, before.size)
	}
}

// workload drives a mixed, realistic sequence of events for one election
// through a node, tracking what the ledger accepted so that it can aim
// corrections, retractions and expected versions at real state.
type workload struct {
	t        *testing.T
	tn       *testNode
	election string
	rng      *rand.Rand
	current  map[[2]string]uuid.UUID // (unit, contest) → current report
	version  map[[2]string]uint64
	stale    []*events.Event // superseded or retracted reports
	accepted int
	rejected int
	sent     []*events.Event
	subs     [][]byte // the signed submissions sent, in order
}

func newWorkload(t *testing.T, tn *testNode, election string, seed uint64) *workload {
	w := &workload{t: t, tn: tn, election: election, rng: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)),
		current: map[[2]string]uuid.UUID{}, version: map[[2]string]uint64{}}
	return w
}

// send submits events as one signed submission and folds the receipts
// into the tracked state.
func (w *workload) send(evs ...*events.Event) []ledger.Receipt {
	w.t.Helper()
	sub := signed(w.t, evs...)
	w.subs = append(w.subs, sub)
	rs := w.tn.submitSigned(sub)
	if len(rs) != len(evs) {
		w.t.Fatalf("%d receipts for %d events", len(rs), len(evs))
	}
	for i, ev := range evs {
		w.sent = append(w.sent, ev)
		if rs[i].Duplicate {
			continue
		}
		if rs[i].Verdict != events.Accepted {
			w.rejected++
			continue
		}
		w.accepted++
		var key [2]string
		var id uuid.UUID
		switch b := ev.Body.(type) {
		case *events.CountReport:
			key, id = [2]string{b.Unit, b.Contest}, ev.ID
		case *events.Correction:
			key, id = [2]string{b.Unit, b.Contest}, ev.ID
		case *events.Retraction:
			for k, cur := range w.current {
				if cur == b.Retracts {
					key = k
				}
			}
		default:
			continue
		}
		if old, ok := w.current[key]; ok && old != uuid.Nil {
			w.stale = append(w.stale, w.find(old))
		}
		w.current[key] = id
		w.version[key]++
	}
	return rs
}

func (w *workload) find(id uuid.UUID) *events.Event {
	for _, ev := range w.sent {
		if ev.ID == id {
			return ev
		}
	}
	w.t.Fatalf("event %s was never sent", id)
	return nil
}

func (w *workload) ev(body events.Body) *events.Event { return mkEvent(w.t, w.election, body) }

func (w *workload) votes() int64 { return w.rng.Int64N(5000) }

// keys returns the (unit, contest) pairs with a current report, sorted.
func (w *workload) keys() [][2]string {
	var ks [][2]string
	for k, id := range w.current {
		if id != uuid.Nil {
			ks = append(ks, k)
		}
	}
	slices.SortFunc(ks, func(a, b [2]string) int {
		if a[0] != b[0] {
			return cmpStr(a[0], b[0])
		}
		return cmpStr(a[1], b[1])
	})
	return ks
}

func cmpStr(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func (w *workload) reportFor(unit, contest string) *events.CountReport {
	if contest == senate {
		return senateReport(unit, w.votes(), w.votes())
	}
	return houseReport(unit, w.votes(), w.votes(), w.votes())
}

// round sends precinct reports, then corrections and rejected attempts.
func (w *workload) round() {
	var batch []*events.Event
	for _, u := range allPrecincts {
		if w.rng.IntN(10) < 7 {
			batch = append(batch, w.ev(w.reportFor(u, house)))
		}
	}
	for _, u := range senatePrecincts {
		if w.rng.IntN(10) < 5 {
			batch = append(batch, w.ev(w.reportFor(u, senate)))
		}
	}
	if w.rng.IntN(4) == 0 { // a county-level report
		batch = append(batch, w.ev(w.reportFor([]string{"cobb", "fulton", "dekalb"}[w.rng.IntN(3)], house)))
	}
	if len(batch) > 0 {
		w.send(batch...)
	}
	ks := w.keys()
	if len(ks) == 0 {
		return
	}
	batch = batch[:0]
	// A correction of a current report, with the right expected version.
	k := ks[w.rng.IntN(len(ks))]
	batch = append(batch, withVersion(w.ev(correction(w.current[k], w.reportFor(k[0], k[1]))), w.version[k]))
	// A stale expected version: rejected.
	k2 := ks[w.rng.IntN(len(ks))]
	if k2 != k {
		batch = append(batch, withVersion(w.ev(w.reportFor(k2[0], k2[1])), w.version[k2]-1))
	}
	// A correction of a superseded report: rejected.
	if len(w.stale) > 0 {
		s := w.stale[w.rng.IntN(len(w.stale))]
		old := s.Counts()
		batch = append(batch, w.ev(correction(s.ID, w.reportFor(old.Unit, old.Contest))))
	}
	w.send(batch...)
}

// run sends the manifest, rounds of reports, a retraction, certification,
// rejected changes after it, a recount and a second certification.
func (w *workload) run(rounds int) {
	w.send(w.ev(testManifest("Election " + w.election)))
	for range rounds {
		w.round()
	}
	ks := w.keys()
	k := ks[w.rng.IntN(len(ks))]
	w.send(w.ev(retraction(w.current[k])))
	w.send(w.ev(testManifest("Again"))) // rejected
	w.send(w.ev(certification()))
	ks = w.keys()
	k = ks[0]
	w.send(w.ev(w.reportFor("dekalb-01", house)), w.ev(correction(w.current[k], w.reportFor(k[0], k[1])))) // rejected: certified
	w.send(w.ev(recountOrder()))
	w.send(w.ev(correction(w.current[k], w.reportFor(k[0], k[1])))) // accepted under the recount
	w.send(w.ev(certification()))
}

func waitSamePosition(t *testing.T, want uint64, l *ledger.Ledger) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for l.Position() != want {
		if err := l.Err(); err != nil {
			t.Fatalf("replica stopped: %v", err)
		}
		if time.Now().After(deadline) {
			t.Fatalf("replica at position %d after 60s, want %d", l.Position(), want)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// sameLedger compares what two nodes logged: every entry's bytes, the
// checkpoint roots (each verified with its node's own key), the tallies and
// what each stream message became.
func sameLedger(t *testing.T, label string, a, b *node.Node, elections []string) {
	t.Helper()
	if a.Ledger.Position() != b.Ledger.Position() {
		t.Fatalf("%s: positions %d and %d", label, a.Ledger.Position(), b.Ledger.Position())
	}
	ea, eb := a.Ledger.Elections(), b.Ledger.Elections()
	if !slices.Equal(ea, eb) {
		t.Errorf("%s: elections\n%+v\n%+v", label, ea, eb)
	}
	for _, el := range elections {
		xa, xb := entries(t, a.Ledger, el), entries(t, b.Ledger, el)
		if len(xa) != len(xb) {
			t.Errorf("%s: %s has %d and %d entries", label, el, len(xa), len(xb))
		}
		for i := range min(len(xa), len(xb)) {
			if !bytes.Equal(xa[i], xb[i]) {
				t.Errorf("%s: %s entry %d differs:\n%s\n%s", label, el, i, xa[i], xb[i])
				break
			}
		}
		cpa, sa, err := a.Ledger.Checkpoint(el)
		if err != nil {
			t.Fatal(err)
		}
		cpb, sb, err := b.Ledger.Checkpoint(el)
		if err != nil {
			t.Fatal(err)
		}
		ca, cb := openCheckpoint(t, cpa, a, el), openCheckpoint(t, cpb, b, el)
		if bytes.Equal(cpa, cpb) {
			t.Errorf("%s: %s: both nodes hold the same signed checkpoint bytes; they should have different keys", label, el)
		}
		if ca.Size != uint64(len(xa)) || cb.Size != uint64(len(xb)) || sa != ca.Size || sb != cb.Size {
			t.Errorf("%s: %s: checkpoint sizes %d, %d for %d, %d entries", label, el, ca.Size, cb.Size, len(xa), len(xb))
		}
		if ca.Root != cb.Root {
			t.Errorf("%s: %s: roots differ at size %d: %v, %v", label, el, ca.Size, ca.Root, cb.Root)
		}
		if want := rfc6962Root(xa); ca.Root != want {
			t.Errorf("%s: %s: checkpoint root %v is not the RFC 6962 root %x of the stored entries", label, el, ca.Root, want)
		}
		ta, err := a.Ledger.Tally(el)
		if err != nil {
			t.Fatal(err)
		}
		tb, err := b.Ledger.Tally(el)
		if err != nil {
			t.Fatal(err)
		}
		ja, _ := ta.Encode()
		jb, _ := tb.Encode()
		if !bytes.Equal(ja, jb) {
			t.Errorf("%s: %s: tallies differ:\n%s\n%s", label, el, ja, jb)
		}
	}
	for seq := uint64(1); seq <= a.Ledger.Position(); seq++ {
		ra, rb := seqOutcome(t, a, seq), seqOutcome(t, b, seq)
		if ra != rb {
			t.Errorf("%s: stream message %d became %+v and %+v", label, seq, ra, rb)
		}
	}
}

// TestReplicasAreIdentical feeds two ledgers the same stream, and a third
// that starts later from nothing, and compares them byte for byte.
func TestReplicasAreIdentical(t *testing.T) {
	const window = time.Second
	a := startNode(t, "", node.Config{Name: "ledger-a", DuplicateWindow: window, MaxBatch: 50})
	b := startNode(t, "", node.Config{Name: "ledger-b", NATSURL: a.n.Broker.ClientURL(), DuplicateWindow: window, MaxBatch: 7})

	w1 := newWorkload(t, a, elecMain, 1)
	w2 := newWorkload(t, a, elecOther, 2)
	w1.send(w1.ev(testManifest("Main")))
	w2.send(w2.ev(testManifest("Other")))
	for range 12 {
		w1.round()
		w2.round()
	}
	w1.send(w1.ev(retraction(w1.current[w1.keys()[0]])))

	// Messages only something bypassing the edge could publish: the ledger
	// drops them, the same way everywhere.
	publishRaw(t, a.n, elecMain, uuid.Must(uuid.NewV7()).String(), []byte(`{"v":1,"type":"count.reported"`))
	orphan := signed(t, mkEvent(t, "no-such-election", houseReport("cobb-01", 1, 2, 3)))
	publishRaw(t, a.n, "no-such-election", submissionID(t, orphan).String(), orphan)
	// Submissions only something bypassing the edge could publish, whose
	// events the ledger logs as rejected, the same way everywhere: one
	// whose signature does not verify, and one by a key that may not
	// report.
	badSig := signed(t, w1.ev(w1.reportFor("dekalb-01", house)))
	badSig = []byte(sub(t, string(badSig), `"operator":"county-clerk"`, `"operator":"county-clerc"`))
	publishRaw(t, a.n, elecMain, submissionID(t, badSig).String(), badSig)
	unauthorized := testkeys.MustSign(testkeys.New("stranger"), w1.ev(w1.reportFor("dekalb-01", house)))
	publishRaw(t, a.n, elecMain, submissionID(t, unauthorized).String(), unauthorized)
	w1.rejected += 2
	// A resubmission past the duplicate window, twice on the stream: w1's
	// second submission, unchanged.
	time.Sleep(2 * window)
	old := w1.subs[1]
	publishRaw(t, a.n, elecMain, submissionID(t, old).String(), old)

	// Finish: certification, rejected changes, recount.
	w1.send(w1.ev(testManifest("Again")))
	w1.send(w1.ev(certification()))
	k := w1.keys()[0]
	w1.send(w1.ev(w1.reportFor("dekalb-01", house)), w1.ev(correction(w1.current[k], w1.reportFor(k[0], k[1]))))
	w1.send(w1.ev(recountOrder()))
	w1.send(w1.ev(correction(w1.current[k], w1.reportFor(k[0], k[1]))))
	w1.send(w1.ev(certification()))
	for range 3 {
		w2.round()
	}

	total := w1.accepted + w1.rejected + w2.accepted + w2.rejected
	if total < 200 || w1.rejected < 5 || w2.rejected < 5 {
		t.Fatalf("workload too small: %d logged, %d and %d rejected", total, w1.rejected, w2.rejected)
	}
	t.Logf("%d events logged (%d rejected) in two elections, stream position %d", total, w1.rejected+w2.rejected, a.n.Ledger.Position())
	for _, w := range []*workload{w1, w2} {
		tl, err := a.n.Ledger.Tally(w.election)
		if err != nil {
			t.Fatal(err)
		}
		if tl.Accepted != uint64(w.accepted) || tl.Rejected != uint64(w.rejected) {
			t.Errorf("%s: tally counts %d accepted, %d rejected; the receipts said %d and %d", w.election, tl.Accepted, tl.Rejected, w.accepted, w.rejected)
		}
	}
	if st := a.observe(elecMain); !bytes.Contains(st.tally, []byte(`"status":"certified"`)) {
		t.Errorf("main election is not certified: %s", st.tally)
	}
	reasons := map[string]int{}
	for _, data := range entries(t, a.n.Ledger, elecMain) {
		en := decodeEntry(t, data)
		for _, p := range []string{projections.SignaturePrefix, projections.UnauthorizedPrefix} {
			if strings.HasPrefix(en.Reason, p) {
				reasons[p]++
				if en.Verdict != events.Rejected || (p == projections.SignaturePrefix) != (en.Submission.Signer == "") {
					t.Errorf("entry %d: %s, %q, signer %q", en.Index, en.Verdict, en.Reason, en.Submission.Signer)
				}
			}
		}
	}
	if reasons[projections.SignaturePrefix] != 1 || reasons[projections.UnauthorizedPrefix] != 1 {
		t.Errorf("entries rejected for a bad signature and an unauthorized signer: %v, want one each", reasons)
	}

	pos := a.n.Ledger.Position()
	waitSamePosition(t, pos, b.n.Ledger)
	sameLedger(t, "A and B", a.n, b.n, []string{elecMain, elecOther})

	// A replica started later on an empty directory catches up from zero.
	c := startNode(t, "", node.Config{Name: "ledger-c", NATSURL: a.n.Broker.ClientURL(), DuplicateWindow: window})
	waitSamePosition(t, pos, c.n.Ledger)
	sameLedger(t, "A and C", a.n, c.n, []string{elecMain, elecOther})

	// The dropped messages and the stream duplicate were seen by all.
	dups, drops := 0, 0
	for seq := uint64(1); seq <= pos; seq++ {
		switch rec := seqOutcome(t, c.n, seq); {
		case strings.HasPrefix(rec.Outcome, "logged 0, duplicate "):
			dups++
		case strings.HasPrefix(rec.Outcome, "dropped: "):
			drops++
		}
	}
	if dups != 1 || drops != 2 {
		t.Errorf("stream records: %d duplicates and %d drops, want 1 and 2", dups, drops)
	}
	c.close()
	b.close()
}

// collectCells returns every projection cell of an election as key, value
// pairs in key order.
func collectCells(t *testing.T, db *store.DB, election string) [][2]string {
	t.Helper()
	var out [][2]string
	if err := db.Cells(election, func(k string, v []byte) error {
		out = append(out, [2]string{k, string(v)})
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return out
}

func loadTally(t *testing.T, db *store.DB, election string) ([]byte, error) {
	t.Helper()
	p, err := projections.Load(election, func(fn func(string, []byte) error) error { return db.Cells(election, fn) })
	if err != nil {
		return nil, err
	}
	return p.Tally().Encode()
}

func storeSize(t *testing.T, db *store.DB, election string) uint64 {
	t.Helper()
	var size uint64
	found := false
	if err := db.Elections(func(id string, s uint64) error {
		if id == election {
			size, found = s, true
		}
		return nil
	}); err != nil || !found {
		t.Fatalf("election %s in the store: found %v, %v", election, found, err)
	}
	return size
}

// TestProjectionsAreDisposable: rebuilding the projection from the log
// gives byte-identical cells and tally; dropping it and reopening the node
// rebuilds it automatically.
func TestProjectionsAreDisposable(t *testing.T) {
	dir := t.TempDir()
	tn := startNode(t, dir, node.Config{MaxBatch: 5})
	w := newWorkload(t, tn, elecMain, 7)
	w.run(10)
	w2 := newWorkload(t, tn, elecOther, 8)
	w2.run(3)
	want := map[string][]byte{}
	for _, el := range []string{elecMain, elecOther} {
		want[el] = tn.tally(el)
		tl, _ := tn.n.Ledger.Tally(el)
		if b, _ := tl.Encode(); !bytes.Equal(b, want[el]) {
			t.Fatalf("%s: HTTP tally and Ledger.Tally differ", el)
		}
	}
	t.Logf("main: %d accepted, %d rejected", w.accepted, w.rejected)
	tn.close()

	db, err := store.Open(filepath.Join(dir, "pebble"))
	if err != nil {
		t.Fatal(err)
	}
	size := storeSize(t, db, elecMain)
	cells := collectCells(t, db, elecMain)
	otherCells := collectCells(t, db, elecOther)
	if len(cells) < 10 {
		t.Fatalf("only %d projection cells", len(cells))
	}
	if got, err := loadTally(t, db, elecMain); err != nil || !bytes.Equal(got, want[elecMain]) {
		t.Fatalf("tally loaded from the stored cells differs (%v):\n%s\n%s", err, got, want[elecMain])
	}

	// Replay alone gives the same tally and touches nothing.
	var done []uint64
	p, err := audit.Replay(db, elecMain, size, func(n uint64) { done = append(done, n) })
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := p.Tally().Encode(); !bytes.Equal(got, want[elecMain]) {
		t.Errorf("replayed tally differs:\n%s\n%s", got, want[elecMain])
	}
	if len(done) == 0 || done[len(done)-1] != size {
		t.Errorf("replay progress %v, want it to end at %d", done, size)
	}
	if _, err := audit.Replay(db, elecMain, size+1, nil); err == nil {
		t.Errorf("replay of %d entries from a log of %d: no error", size+1, size)
	}

	// Rebuild replaces the cells with identical ones.
	p, err = ledger.Rebuild(db, elecMain, size, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := p.Tally().Encode(); !bytes.Equal(got, want[elecMain]) {
		t.Errorf("rebuilt tally differs")
	}
	rebuilt := collectCells(t, db, elecMain)
	if !slices.Equal(rebuilt, cells) {
		t.Errorf("rebuilt cells differ: %d cells before, %d after", len(cells), len(rebuilt))
		for i := range min(len(cells), len(rebuilt)) {
			if cells[i] != rebuilt[i] {
				t.Errorf("first difference at cell %d: %q=%x, rebuilt %q=%x", i, cells[i][0], cells[i][1], rebuilt[i][0], rebuilt[i][1])
				break
			}
		}
	}
	if got, err := loadTally(t, db, elecMain); err != nil || !bytes.Equal(got, want[elecMain]) {
		t.Errorf("tally loaded after the rebuild differs (%v)", err)
	}
	if got := collectCells(t, db, elecOther); !slices.Equal(got, otherCells) {
		t.Errorf("rebuilding %s changed %s's cells", elecMain, elecOther)
	}

	// Drop the projection entirely; mark the other one as of an older schema.
	b := db.NewBatch()
	b.DeleteCells(elecMain)
	b.PutCell(elecOther, "meta", []byte(`{"schema":0,"size":1,"accepted":1,"rejected":0,"certified":false,"recount":false}`))
	if err := b.Commit(); err != nil {
		t.Fatal(err)
	}
	if got := collectCells(t, db, elecMain); len(got) != 0 {
		t.Fatalf("%d cells left after DeleteCells", len(got))
	}
	if _, err := loadTally(t, db, elecMain); !errors.Is(err, projections.ErrOutdated) {
		t.Fatalf("Load of a deleted projection: %v, want ErrOutdated", err)
	}
	if _, err := loadTally(t, db, elecOther); !errors.Is(err, projections.ErrOutdated) {
		t.Fatalf("Load of an old-schema projection: %v, want ErrOutdated", err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	// Reopening the node rebuilds both from the log.
	tn = startNode(t, dir, node.Config{})
	for _, el := range []string{elecMain, elecOther} {
		if got := tn.tally(el); !bytes.Equal(got, want[el]) {
			t.Errorf("%s: tally after the automatic rebuild differs:\n%s\n%s", el, got, want[el])
		}
	}
	tn.close()
	db, err = store.Open(filepath.Join(dir, "pebble"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if got := collectCells(t, db, elecMain); !slices.Equal(got, cells) {
		t.Errorf("cells after the automatic rebuild differ from the original ones (%d vs %d)", len(got), len(cells))
	}
	if got := collectCells(t, db, elecOther); !slices.Equal(got, otherCells) {
		t.Errorf("%s: cells after the automatic rebuild differ from the original ones", elecOther)
	}
}

// A replica that attaches to an existing stream must not reconfigure it.
func TestReplicaKeepsTheSharedStream(t *testing.T) {
	a := startNode(t, "", node.Config{DuplicateWindow: 5 * time.Second})
	ctx := context.Background()
	s, err := a.n.Broker.JetStream().Stream(ctx, a.n.Broker.Stream())
	if err != nil {
		t.Fatal(err)
	}
	startNode(t, "", node.Config{Name: "replica", NATSURL: a.n.Broker.ClientURL()}) // default window
	info, err := s.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if info.Config.Duplicates != 5*time.Second {
		t.Errorf("opening a replica changed the stream's duplicate window from 5s to %v", info.Config.Duplicates)
	}
}
