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
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/cockroachdb/pebble/v2/vfs/errorfs"
	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"golang.org/x/mod/sumdb/note"

	"github.com/election-audit/ledger/audit"
	"github.com/election-audit/ledger/broker"
	"github.com/election-audit/ledger/checkpoint"
	"github.com/election-audit/ledger/events"
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
	signer, _, err := checkpoint.LoadOrCreateKey(r.dir, "disk.local")
	if err != nil {
		r.t.Fatal(err)
	}
	logger := slog.New(slog.NewTextHandler(r.logs, &slog.HandlerOptions{Level: slog.LevelInfo}))
	if r.l, err = Open(Config{DB: r.db, Broker: r.brk, Signer: signer, Logger: logger}); err != nil {
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

func encodeEvent(t *testing.T, election string, body events.Body) (*events.Event, []byte) {
	t.Helper()
	ev := &events.Event{ID: uuid.Must(uuid.NewV7()), Election: election, Body: body}
	if err := ev.Validate(); err != nil {
		t.Fatal(err)
	}
	b, err := ev.Encode()
	if err != nil {
		t.Fatal(err)
	}
	return ev, b
}

// stream is a sequence of stream messages, the same for every rig.
func diskStream(t *testing.T, n int) []message {
	t.Helper()
	const election = "disk"
	var out []message
	add := func(body events.Body) {
		_, data := encodeEvent(t, election, body)
		seq := uint64(len(out) + 1)
		out = append(out, message{seq: seq, time: time.Unix(1_800_000_000+int64(seq), 0),
			subject: "ledger.submit." + election, data: data})
	}
	add(diskManifest())
	for i := range n {
		add(diskReport(i))
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
// memory: each leaves nothing on disk and memory as of the last commit, and
// the same messages applied again give entries, tally and stored
// projection byte for byte those of a ledger whose disk never filled.
func TestFailedStepLeavesNothing(t *testing.T) {
	msgs := diskStream(t, 60)
	steps := [][]message{msgs[:1], msgs[1:21], msgs[21:41], msgs[41:]}
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

	if got, want := r.entries(election), clean.entries(election); len(got) != len(want) || len(got) != len(msgs) {
		t.Fatalf("%d entries, want %d (and %d messages)", len(got), len(want), len(msgs))
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
	v, err := note.NewVerifier(readKey(t, r.dir))
	if err != nil {
		t.Fatal(err)
	}
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
	manifest, _ := encodeEvent(t, election, diskManifest())
	if _, err := r.l.Submit(ctx, []*events.Event{manifest}); err != nil {
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
	ev, _ := encodeEvent(t, election, diskReport(1))
	_, err := r.l.Submit(ctx, []*events.Event{ev})
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
	_, data := encodeEvent(t, election, diskReport(2))
	seq, err := r.brk.Publish(ctx, []broker.Message{{Election: election, ID: "taken-" + uuid.NewString(), Data: data}})
	if err != nil {
		t.Fatal(err)
	}
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
	if _, err := r.l.Submit(ctx, []*events.Event{ev}); err != nil {
		t.Fatalf("submitting after resuming: %v", err)
	}

	// Stopped while stalled, it stops at once.
	disk.fillAfter(0)
	_, data = encodeEvent(t, election, diskReport(3))
	if seq, err = r.brk.Publish(ctx, []broker.Message{{Election: election, ID: "taken-" + uuid.NewString(), Data: data}}); err != nil {
		t.Fatal(err)
	}
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

// TestAtomicBatches: the state machine applies an atomic batch only whole,
// and drops, with the reason, one the stream holds without its commit.
func TestAtomicBatches(t *testing.T) {
	seq := uint64(0)
	m := func(batch string, place uint64, commit bool) message {
		seq++
		return message{seq: seq, batch: batch, batchSeq: place, commit: commit}
	}
	type step struct {
		in    message
		ready []uint64 // sequences ready after it
		drops []uint64 // those of them dropped
	}
	steps := []step{
		{m("", 0, false), []uint64{1}, nil},
		{m("A", 1, false), nil, nil},
		{m("A", 2, false), nil, nil},
		{m("A", 3, true), []uint64{2, 3, 4}, nil},
		{m("B", 1, false), nil, nil},
		{m("B", 2, false), nil, nil},
		{m("", 0, false), []uint64{5, 6, 7}, []uint64{5, 6}}, // B cut by a lone message
		{m("C", 1, false), nil, nil},
		{m("D", 1, false), []uint64{8}, []uint64{8}},    // C cut by another batch
		{m("D", 3, true), []uint64{9, 10}, []uint64{9}}, // D cut by a gap; a lone commit is a batch of one
		{m("E", 7, false), nil, nil},                    // resumed inside a batch
		{m("E", 8, true), []uint64{11, 12}, nil},
		{m("F", 1, true), []uint64{13}, nil},
	}
	var b batcher
	for i, s := range steps {
		got := b.add(nil, s.in)
		var seqs, drops []uint64
		for _, g := range got {
			seqs = append(seqs, g.seq)
			if g.drop != "" {
				drops = append(drops, g.seq)
			}
		}
		if fmt.Sprint(seqs) != fmt.Sprint(s.ready) || fmt.Sprint(drops) != fmt.Sprint(s.drops) {
			t.Errorf("message %d (%d): ready %v, dropped %v; want %v, %v", i, s.in.seq, seqs, drops, s.ready, s.drops)
		}
	}
	if b.waiting() != 0 {
		t.Errorf("%d messages held at the end", b.waiting())
	}

	// In a step, the cut batch's messages are dropped with the reason and
	// the rest logged.
	r := newDiskRig(t, nil)
	const election = "disk"
	var msgs []message
	add := func(body events.Body, batch string, place uint64, commit bool) {
		_, data := encodeEvent(t, election, body)
		s := uint64(len(msgs) + 1)
		msgs = append(msgs, message{seq: s, time: time.Unix(1_800_000_000+int64(s), 0), subject: r.brk.SubmitSubject(election),
			data: data, batch: batch, batchSeq: place, commit: commit})
	}
	add(diskManifest(), "", 0, false)
	add(diskReport(0), "X", 1, false)
	add(diskReport(1), "X", 2, false) // cut: its commit never came
	add(diskReport(2), "Y", 1, false)
	add(diskReport(3), "Y", 2, true)
	var bt batcher
	var ready []message
	for _, m := range msgs {
		ready = bt.add(ready, m)
	}
	if err := r.l.step(ready); err != nil {
		t.Fatal(err)
	}
	for s, want := range map[uint64]string{1: "logged", 2: "dropped: message 1 of atomic batch X, which the stream holds without its commit (stream message 4 follows it)",
		3: "dropped: message 2 of atomic batch X", 4: "logged", 5: "logged"} {
		rec, err := r.db.Seq(s)
		if err != nil || !strings.HasPrefix(rec.Outcome, want) {
			t.Errorf("stream message %d: %q, %v; want %q", s, rec.Outcome, err, want)
		}
	}
	if got := len(r.entries(election)); got != 3 {
		t.Errorf("%d entries, want 3: the manifest and batch Y", got)
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
