package ledger

// A full disk, injected through the store's filesystem (store.Options.FS),
// so these tests need no root and no tmpfs: node/fulldisk_test.go fills a
// real disk. The injected disk reports no free space while it is full and
// fails every write with ENOSPC. The store refuses to write before Pebble
// sees the disk is full; were a write to reach Pebble, its failed log
// write would end this test binary (Pebble's Logger.Fatalf), so the
// injected errors make a missed check loud.

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/cockroachdb/pebble/v2/vfs/errorfs"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/election-audit/ledger/audit"
	"github.com/election-audit/ledger/broker"
	"github.com/election-audit/ledger/checkpoint"
	"github.com/election-audit/ledger/events"
	"github.com/election-audit/ledger/internal/testkeys"
	"github.com/election-audit/ledger/projections"
	"github.com/election-audit/ledger/store"
)

// fullDisk is the operating system's filesystem with a disk that fills on
// demand.
type fullDisk struct {
	*errorfs.FS
	// fillIn is the number of free-space reads that still see space before
	// the disk is full; 0: full; negative: not filling.
	fillIn atomic.Int64
}

func newFullDisk() *fullDisk {
	d := &fullDisk{}
	d.fillIn.Store(-1)
	d.FS = errorfs.Wrap(vfs.Default, errorfs.InjectorFunc(func(op errorfs.Op) error {
		if d.fillIn.Load() != 0 {
			return nil
		}
		switch op.Kind {
		case errorfs.OpCreate, errorfs.OpFileWrite, errorfs.OpFileWriteAt, errorfs.OpFilePreallocate,
			errorfs.OpFileSync, errorfs.OpFileSyncData, errorfs.OpFileSyncTo, errorfs.OpFileFlush, errorfs.OpReuseForWrite:
			return fmt.Errorf("write %s: %w", op.Path, syscall.ENOSPC)
		}
		return nil
	}))
	return d
}

// fillAfter makes the disk full after n more free-space reads: 0 fills it
// now, 1 lets a step's first check pass and its commit find the disk full.
func (d *fullDisk) fillAfter(n int64) { d.fillIn.Store(n) }

// free empties the disk again.
func (d *fullDisk) free() { d.fillIn.Store(-1) }

func (d *fullDisk) GetDiskUsage(path string) (vfs.DiskUsage, error) {
	u, err := d.FS.GetDiskUsage(path)
	for {
		n := d.fillIn.Load()
		if n == 0 {
			u.AvailBytes = 0
			return u, err
		}
		if n < 0 || d.fillIn.CompareAndSwap(n, n-1) {
			return u, err
		}
	}
}

// diskRig is a ledger over a Pebble database on an injected disk, and a
// broker on the real one.
type diskRig struct {
	t    *testing.T
	dir  string
	disk *fullDisk // nil: the real disk
	brk  *broker.Broker
	db   *store.DB
	l    *Ledger
	logs *syncBuffer
	// maxBatch is the ledger's Config.MaxBatch (0: the default).
	maxBatch int
}

func newDiskRig(t *testing.T, disk *fullDisk) *diskRig {
	t.Helper()
	r := &diskRig{t: t, dir: t.TempDir(), disk: disk, logs: &syncBuffer{}}
	js := filepath.Join(r.dir, "js")
	if err := os.MkdirAll(js, 0o700); err != nil {
		t.Fatal(err)
	}
	var err error
	if r.brk, err = broker.Open(context.Background(), broker.Config{Dir: js, Listen: "-", MinFree: -1}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(r.brk.Close)
	r.open()
	return r
}

func (r *diskRig) open() {
	r.t.Helper()
	opts := store.Options{MinFree: 1 << 20}
	if r.disk != nil {
		opts.FS = r.disk
	}
	var err error
	if r.db, err = store.OpenWith(filepath.Join(r.dir, "pebble"), opts); err != nil {
		r.t.Fatal(err)
	}
	signer, err := checkpoint.LoadOrCreateKey(r.dir, "disk.local")
	if err != nil {
		r.t.Fatal(err)
	}
	logger := slog.New(slog.NewTextHandler(r.logs, &slog.HandlerOptions{Level: slog.LevelInfo}))
	if r.l, err = Open(Config{DB: r.db, Broker: r.brk, Signer: signer, Logger: logger, Authorities: testkeys.Authorities, MaxBatch: r.maxBatch}); err != nil {
		r.t.Fatalf("Open: %v", err)
	}
}

func (r *diskRig) close() {
	r.t.Helper()
	if err := r.db.Close(); err != nil {
		r.t.Fatal(err)
	}
}

// syncBuffer is a log destination safe for concurrent writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// count is the number of log lines containing s.
func (s *syncBuffer) count(sub string) int { return strings.Count(s.String(), sub) }

// diskManifest is a small election: a state, four precincts, one contest.
func diskManifest() *events.Manifest {
	m := &events.Manifest{Name: "Disk", Date: "2026-11-03",
		VoteTypes: []events.VoteType{{ID: "ed", Name: "Election Day"}, {ID: "abs", Name: "Absentee"}},
		Units:     []events.Unit{{ID: "st", Name: "State", Kind: "state"}},
		Contests:  []events.Contest{{ID: "gov", Name: "Governor", VoteFor: 1, Choices: []events.Choice{{ID: "a", Name: "A"}, {ID: "b", Name: "B"}}}},
	}
	for i := range 4 {
		m.Units = append(m.Units, events.Unit{ID: fmt.Sprintf("p%d", i), Name: "P", Kind: "precinct", Parent: "st"})
	}
	return m
}

func diskReport(i int) *events.CountReport {
	return &events.CountReport{Unit: fmt.Sprintf("p%d", i%4), Contest: "gov", Source: events.Source{Operator: "clerk"},
		Counts: []events.Count{{Choice: "a", VoteType: "ed", Votes: int64(100 + i)}, {Choice: "b", VoteType: "abs", Votes: int64(i)}}}
}

// signEvents is the submission of one new event of election per body,
// signed by the authority, after checking that the events are valid.
func signEvents(t *testing.T, election string, bodies ...events.Body) []byte {
	t.Helper()
	evs := make([]*events.Event, len(bodies))
	for i, body := range bodies {
		evs[i] = newEvent(election, body)
		if err := evs[i].Validate(); err != nil {
			t.Fatal(err)
		}
	}
	return sign(t, testkeys.Authority, evs...)
}

// publish publishes a signed submission straight to the stream, as the
// edge would (under its submission ID), bypassing the edge's checks.
func publish(t *testing.T, ctx context.Context, brk *broker.Broker, signed []byte) uint64 {
	t.Helper()
	sub, err := events.OpenSubmission(signed)
	if err != nil {
		t.Fatal(err)
	}
	seq, err := brk.Publish(ctx, broker.Message{Election: sub.Election, ID: sub.ID.String(), Data: signed})
	if err != nil {
		t.Fatal(err)
	}
	return seq
}

// diskStream is a sequence of stream messages, the same for every rig:
// the manifest, then n reports in submissions of one, two and three
// reports in turn.
func diskStream(t *testing.T, n int) []message {
	t.Helper()
	const election = "disk"
	var out []message
	add := func(bodies ...events.Body) {
		seq := uint64(len(out) + 1)
		out = append(out, message{seq: seq, time: time.Unix(1_800_000_000+int64(seq), 0),
			subject: "ledger.submit." + election, data: signEvents(t, election, bodies...)})
	}
	add(diskManifest())
	for i, k := 0, 1; i < n; i, k = i+k, k%3+1 {
		var bodies []events.Body
		for j := i; j < min(i+k, n); j++ {
			bodies = append(bodies, diskReport(j))
		}
		add(bodies...)
	}
	return out
}

func (r *diskRig) entries(election string) [][]byte {
	r.t.Helper()
	var out [][]byte
	err := r.l.Entries(election, 0, ^uint64(0), func(_ uint64, data []byte) error {
		out = append(out, bytes.Clone(data))
		return nil
	})
	if err != nil {
		r.t.Fatal(err)
	}
	return out
}

// state is what a reader sees of the ledger: position, size, tally.
func (r *diskRig) state(election string) string {
	r.t.Helper()
	tl, err := r.l.Tally(election)
	if err != nil {
		r.t.Fatal(err)
	}
	doc, err := tl.Encode()
	if err != nil {
		r.t.Fatal(err)
	}
	_, size, err := r.l.Checkpoint(election)
	if err != nil {
		r.t.Fatal(err)
	}
	return fmt.Sprintf("position %d, size %d, tally %s", r.l.Position(), size, doc)
}

// TestFailedStepLeavesNothing fails steps on a full disk, both before they
// apply anything and at their commit, after they changed the projection in
// memory: each leaves nothing on disk (no entry of any of its submissions,
// which hold several events) and memory as of the last commit, and the
// same messages applied again give entries, tally and stored projection
// byte for byte those of a ledger whose disk never filled.
func TestFailedStepLeavesNothing(t *testing.T) {
	const reports = 60
	msgs := diskStream(t, reports) // 1 + 30 messages
	steps := [][]message{msgs[:1], msgs[1:11], msgs[11:21], msgs[21:]}
	const election = "disk"

	clean := newDiskRig(t, nil)
	for _, s := range steps {
		if err := clean.l.step(s); err != nil {
			t.Fatal(err)
		}
	}

	disk := newFullDisk()
	r := newDiskRig(t, disk)
	if err := r.l.step(steps[0]); err != nil {
		t.Fatal(err)
	}
	for i, s := range steps[1:] {
		before := r.state(election)
		_, size, _ := r.l.Checkpoint(election)
		for _, fill := range []struct {
			name  string
			after int64
		}{{"at its commit", 1}, {"before it", 0}} {
			disk.fillAfter(fill.after)
			err := r.l.step(s)
			var we *writeError
			if !errors.As(err, &we) || !errors.Is(err, syscall.ENOSPC) {
				t.Fatalf("step %d, disk full %s: %v, want a write error of no space", i+1, fill.name, err)
			}
			if !strings.Contains(err.Error(), "no space left for the ledger database (Pebble)") {
				t.Errorf("step %d: the error does not say which store: %v", i+1, err)
			}
			if got := r.state(election); got != before {
				t.Fatalf("step %d failed %s, and memory moved on:\n%s\nwant\n%s", i+1, fill.name, got, before)
			}
			disk.free()
			if _, err := r.db.Entry(election, size); !errors.Is(err, store.ErrNotFound) {
				t.Fatalf("step %d failed %s, and entry %d is stored: %v", i+1, fill.name, size, err)
			}
			if _, err := r.db.Seq(s[0].seq); !errors.Is(err, store.ErrNotFound) {
				t.Fatalf("step %d failed %s, and stream message %d has a record: %v", i+1, fill.name, s[0].seq, err)
			}
		}
		if err := r.l.step(s); err != nil {
			t.Fatalf("step %d again, with space: %v", i+1, err)
		}
	}

	if got, want := r.entries(election), clean.entries(election); len(got) != len(want) || len(got) != 1+reports {
		t.Fatalf("%d entries, want %d (and %d events)", len(got), len(want), 1+reports)
	} else {
		for i := range got {
			if !bytes.Equal(got[i], want[i]) {
				t.Fatalf("entry %d differs from the clean run's:\n%s\nwant\n%s", i, got[i], want[i])
			}
		}
	}
	if got, want := r.state(election), clean.state(election); got != want {
		t.Errorf("state differs from the clean run's:\n%s\nwant\n%s", got, want)
	}
	// The stored projection is the clean run's: a failed step's cells
	// (flushed to its discarded batch) were written by the step that
	// committed them.
	stored := func(db *store.DB) string {
		p, err := projections.Load(election, func(fn func(string, []byte) error) error { return db.Cells(election, fn) })
		if err != nil {
			t.Fatal(err)
		}
		doc, err := p.Tally().Encode()
		if err != nil {
			t.Fatal(err)
		}
		return fmt.Sprintf("size %d, %s", p.Size(), doc)
	}
	if got, want := stored(r.db), stored(clean.db); got != want {
		t.Errorf("stored projection:\n%s\nwant\n%s", got, want)
	}
	v := readKey(t, r.dir)
	if _, err := audit.Verify(r.db, election, v); err != nil {
		t.Errorf("audit.Verify: %v", err)
	}
	before := r.state(election)
	r.close()
	r.open()
	if got := r.state(election); got != before {
		t.Errorf("reopened:\n%s\nwant\n%s", got, before)
	}
	if strings.Contains(r.logs.String(), "rebuilding") {
		t.Errorf("reopening rebuilt a projection:\n%s", r.logs)
	}
	r.close()
}

func readKey(t *testing.T, dir string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "ledger.pub"))
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}

// TestStalledLedgerResumes runs the state machine on a disk that fills:
// new submissions are refused with the reason, nothing published; a
// message the stream took makes the state machine stall and retry without
// flooding the log, answering its submitter with the reason; Health and
// the metrics say so; when space returns it resumes by itself; and it stops
// at once when asked to while stalled.
func TestStalledLedgerResumes(t *testing.T) {
	disk := newFullDisk()
	r := newDiskRig(t, disk)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- r.l.Run(ctx) }()
	const election = "disk"
	if _, err := r.l.Submit(ctx, signEvents(t, election, diskManifest())); err != nil {
		t.Fatal(err)
	}
	streamLast := func() uint64 {
		t.Helper()
		s, err := r.brk.JetStream().Stream(ctx, r.brk.Stream())
		if err != nil {
			t.Fatal(err)
		}
		info, err := s.Info(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return info.State.LastSeq
	}

	disk.fillAfter(0)
	last := streamLast()
	refused := signEvents(t, election, diskReport(1))
	_, err := r.l.Submit(ctx, refused)
	var ue *UnavailableError
	if !errors.As(err, &ue) || ue.Published || !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("submitting on a full disk: %v, want an UnavailableError of no space, not published", err)
	}
	if got := streamLast(); got != last {
		t.Errorf("the refused submission was published: the stream went from %d to %d", last, got)
	}
	if h := r.l.Health(ctx); h.Status != HealthUnavailable || !strings.Contains(h.Error, "no space left") {
		t.Errorf("health on a full disk: %+v", h)
	}

	// A message the stream took (published before the disk filled).
	seq := publish(t, ctx, r.brk, signEvents(t, election, diskReport(2)))
	wctx, wcancel := context.WithTimeout(ctx, 30*time.Second)
	err = r.l.WaitApplied(wctx, seq)
	wcancel()
	if !errors.As(err, &ue) || !ue.Published || !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("waiting for a message on a full disk: %v, want an UnavailableError of no space, published", err)
	}
	h := r.l.Health(ctx)
	if h.Status != HealthUnavailable || h.StalledSince == nil || !strings.Contains(h.Error, "cannot write") {
		t.Errorf("health of a stalled ledger: %+v", h)
	}
	// Let it retry a few times: 250 ms, 500 ms, 1 s.
	deadline := time.Now().Add(30 * time.Second)
	for metricValue(t, r.l.metrics.stepFailures) < 4 {
		if time.Now().After(deadline) {
			t.Fatalf("%v failed attempts after 30 s", metricValue(t, r.l.metrics.stepFailures))
		}
		time.Sleep(50 * time.Millisecond)
	}
	if got := metricValue(t, r.l.metrics.stalled); got != 1 {
		t.Errorf("ledger_stalled = %v while stalled", got)
	}
	if n := r.logs.count("the ledger cannot write"); n != 1 {
		t.Errorf("%d log lines of the failure after 4 attempts, want 1:\n%s", n, r.logs)
	}
	if pos := r.l.Position(); pos >= seq {
		t.Fatalf("position %d while stalled before %d", pos, seq)
	}

	disk.free()
	waitApplied(t, r.l, seq)
	if h := r.l.Health(ctx); !h.OK() {
		t.Errorf("health after resuming: %+v", h)
	}
	if got := metricValue(t, r.l.metrics.stalled); got != 0 {
		t.Errorf("ledger_stalled = %v after resuming", got)
	}
	if !strings.Contains(r.logs.String(), "the ledger writes again") {
		t.Errorf("no log line of the resumption:\n%s", r.logs)
	}
	if got := len(r.entries(election)); got != 2 {
		t.Errorf("%d entries after resuming, want the manifest and the report the stream took", got)
	}
	// The refused submission goes through now.
	if _, err := r.l.Submit(ctx, refused); err != nil {
		t.Fatalf("submitting after resuming: %v", err)
	}

	// Stopped while stalled, it stops at once.
	disk.fillAfter(0)
	seq = publish(t, ctx, r.brk, signEvents(t, election, diskReport(3)))
	for r.l.Health(ctx).StalledSince == nil {
		if time.Now().After(deadline.Add(30 * time.Second)) {
			t.Fatal("not stalled")
		}
		time.Sleep(20 * time.Millisecond)
	}
	start := time.Now()
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Run: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return within 10 s of its context's end while stalled")
	}
	t.Logf("Run returned %v after its context ended, stalled", time.Since(start).Round(time.Millisecond))
	disk.free()

	// Opened again, it logs the message it stalled on.
	r.close()
	r.open()
	ctx2, cancel2 := context.WithCancel(context.Background())
	defer cancel2()
	go r.l.Run(ctx2)
	waitApplied(t, r.l, seq)
	if got := len(r.entries(election)); got != 4 {
		t.Errorf("%d entries, want 4", got)
	}
	cancel2()
}

func waitApplied(t *testing.T, l *Ledger, seq uint64) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	for {
		err := l.WaitApplied(ctx, seq)
		if err == nil {
			return
		}
		var ue *UnavailableError
		if !errors.As(err, &ue) {
			t.Fatalf("waiting for stream message %d: %v", seq, err)
		}
		select { // stalled: the state machine retries; wait for it
		case <-ctx.Done():
			t.Fatalf("stream message %d not applied within 60 s: %v", seq, err)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// TestSubmissionWhole: a submission is one stream message, and the state
// machine logs it whole or not at all. A step that cannot write leaves
// none of its events (nor its bytes); applied again, all of them are
// logged, in one step under one checkpoint. Run, which fills a step with
// up to MaxBatch events, never splits a submission across steps, even one
// of more events than MaxBatch.
func TestSubmissionWhole(t *testing.T) {
	const election = "disk"
	disk := newFullDisk()
	r := newDiskRig(t, disk)
	msgs := diskStream(t, 0)
	if err := r.l.step(msgs); err != nil {
		t.Fatal(err)
	}
	five := signEvents(t, election, diskReport(0), diskReport(1), diskReport(2), diskReport(3), diskReport(4))
	sub, err := events.OpenSubmission(five)
	if err != nil {
		t.Fatal(err)
	}
	m := message{seq: 2, time: time.Unix(1_800_000_002, 0), subject: r.brk.SubmitSubject(election), data: five}
	disk.fillAfter(1) // the step's first check passes, its commit finds the disk full
	var we *writeError
	if err := r.l.step([]message{m}); !errors.As(err, &we) {
		t.Fatalf("a step on a full disk: %v, want a write error", err)
	}
	disk.free()
	for _, ev := range sub.Events {
		if rec, err := r.db.Event(ev.ID); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("after the failed step, event %s is logged (%+v, %v)", ev.ID, rec, err)
		}
	}
	if _, err := r.db.Entry(election, 1); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("after the failed step, entry 1 is stored: %v", err)
	}
	if _, err := r.db.Submission(election, sub.SHA256); err == nil {
		t.Error("after the failed step, the submission's bytes are stored")
	}
	if _, size, _ := r.l.Checkpoint(election); size != 1 {
		t.Errorf("after the failed step, the log has %d entries, want 1", size)
	}
	if err := r.l.step([]message{m}); err != nil {
		t.Fatal(err)
	}
	for i, ev := range sub.Events {
		rec, err := r.db.Event(ev.ID)
		if err != nil || rec.Index != uint64(1+i) {
			t.Errorf("event %d of the submission: %+v, %v; want entry %d", i, rec, err, 1+i)
		}
	}
	if b, err := r.db.Submission(election, sub.SHA256); err != nil || !bytes.Equal(b, five) {
		t.Errorf("the submission's stored bytes: %v", err)
	}
	if rec, err := r.db.Seq(2); err != nil || rec.Outcome != "logged 5" || rec.ID != sub.ID {
		t.Errorf("stream message 2: %+v, %v; want submission %s, logged 5", rec, err, sub.ID)
	}
	signedAt := func() []uint64 {
		var sizes []uint64
		if err := r.db.Checkpoints(election, func(size uint64, _ []byte) error {
			sizes = append(sizes, size)
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		return sizes
	}
	if got := fmt.Sprint(signedAt()); got != "[1 6]" {
		t.Errorf("checkpoints at sizes %s, want [1 6]: the submission in one step", got)
	}
	r.close()

	// Run, with steps of at most 2 events, over the real stream: each
	// submission, of 3 or 5 events, is still one step; the lone reports
	// after them share steps.
	r = newDiskRig(t, nil)
	r.close()
	r.maxBatch = 2
	r.open()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- r.l.Run(ctx) }()
	waitApplied(t, r.l, publish(t, ctx, r.brk, signEvents(t, election, diskManifest())))
	var last uint64
	for _, b := range [][]events.Body{
		{diskReport(0), diskReport(1), diskReport(2), diskReport(3), diskReport(4)},
		{diskReport(5), diskReport(6), diskReport(7), diskReport(8), diskReport(9)},
		{diskReport(10)}, {diskReport(11)}, {diskReport(12)},
		{diskReport(13), diskReport(14), diskReport(15)},
	} {
		last = publish(t, ctx, r.brk, signEvents(t, election, b...))
	}
	waitApplied(t, r.l, last)
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	// Steps end at submission boundaries: sizes 1 (the manifest), 6 and 11
	// (the fives), then 12, 13, 14 (the lone reports, one or two a step),
	// and 17.
	sizes := signedAt()
	t.Logf("checkpoints at sizes %v", sizes)
	bounds := map[uint64]bool{1: true, 6: true, 11: true, 12: true, 13: true, 14: true, 17: true}
	for _, n := range sizes {
		if !bounds[n] {
			t.Errorf("a checkpoint at size %d (of %v): a step split a submission", n, sizes)
		}
	}
	if !slices.Contains(sizes, 11) {
		t.Errorf("no checkpoint at size 11 (of %v): a submission of five events, more than MaxBatch, shared its step", sizes)
	}
	if got := len(r.entries(election)); got != 17 {
		t.Errorf("%d entries, want 17", got)
	}
	r.close()
}

// metricValue reads a counter or gauge.
func metricValue(t *testing.T, c prometheus.Metric) float64 {
	t.Helper()
	var m dto.Metric
	if err := c.Write(&m); err != nil {
		t.Fatal(err)
	}
	if m.Counter != nil {
		return m.Counter.GetValue()
	}
	return m.Gauge.GetValue()
}

// TestHealthSeesTheStreamGone: /healthz's check of the submission stream,
// reused for HealthCheckTTL, notices a deleted stream.
func TestHealthSeesTheStreamGone(t *testing.T) {
	r := newDiskRig(t, nil)
	ctx := context.Background()
	if h := r.l.Health(ctx); !h.OK() {
		t.Fatalf("health: %+v", h)
	}
	if err := r.brk.JetStream().DeleteStream(ctx, r.brk.Stream()); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(HealthCheckTTL + 10*time.Second)
	for {
		h := r.l.Health(ctx)
		if h.Status == HealthUnavailable && strings.Contains(h.Error, "submission stream "+r.brk.Stream()) {
			t.Logf("health: %s", h.Error)
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("health %+v %v after the stream was deleted", h, HealthCheckTTL+10*time.Second)
		}
		time.Sleep(100 * time.Millisecond)
	}
	r.close()
}
