package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/google/uuid"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/election-audit/ledger/audit"
	"github.com/election-audit/ledger/checkpoint"
	"github.com/election-audit/ledger/client"
	"github.com/election-audit/ledger/events"
	"github.com/election-audit/ledger/internal/testkeys"
	"github.com/election-audit/ledger/ledger"
	"github.com/election-audit/ledger/projections"
	"github.com/election-audit/ledger/store"
)

// TestCrashKill9 proves promises 1 and 2 of the design (nothing acknowledged
// is lost; exactly once) against the real `ledger serve` process: several
// concurrent clients submit count reports while the server is killed with
// SIGKILL at random moments and restarted on the same data directory. The
// clients sign their submissions with the authority's key, which the server
// accepts (--authority). A client that gets no receipt resubmits the same
// events, with the same IDs, until it gets one: the same signed bytes again
// (the same submission ID, so JetStream's deduplication may answer), or the
// events signed again as a new submission (so only the ledger's own
// deduplication can). At the end the log must hold every event exactly
// once, at the index its receipt named, with the verdict the client
// predicted, from a signed submission a client sent (whose bytes the ledger
// serves); the Merkle root recomputed from the entries must match the signed
// checkpoint (and every checkpoint handed out in a receipt must be a prefix
// of the final log); the stored projection must equal a fresh replay of the
// log; and every stream message must be a client's submission, each of its
// events logged from exactly one message or answered as a duplicate.
//
// Set LEDGER_CRASH_KILLS to change the number of kills (default 20, 5 with
// -short) and LEDGER_CRASH_SEED to replay a seed's choices (the interleaving
// of clients and kills still varies from run to run).
func TestCrashKill9(t *testing.T) {
	kills := 20
	if testing.Short() {
		kills = 5
	}
	if s := os.Getenv("LEDGER_CRASH_KILLS"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 {
			t.Fatalf("LEDGER_CRASH_KILLS=%q is not a positive integer", s)
		}
		kills = n
	}
	seed := uint64(time.Now().UnixNano())
	if s := os.Getenv("LEDGER_CRASH_SEED"); s != "" {
		var err error
		if seed, err = strconv.ParseUint(s, 10, 64); err != nil {
			t.Fatalf("LEDGER_CRASH_SEED=%q is not an unsigned integer", s)
		}
	}
	t.Logf("seed %d (LEDGER_CRASH_SEED=%d to reuse), %d kills", seed, seed, kills)
	began := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute+time.Duration(kills)*5*time.Second)
	defer cancel()

	srv := newServerProc(t, seed)
	built := time.Now()
	if err := srv.startHealthy(ctx); err != nil {
		t.Fatal(err)
	}
	c, err := client.New("http://"+srv.httpAddr, &http.Client{Timeout: 30 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	c = c.WithKey(testkeys.Authority)

	// The election comes first, before any kill.
	rec := &ackBook{acks: map[uuid.UUID]ackRecord{}, checkpoints: map[string]bool{}, subs: map[uuid.UUID][]uuid.UUID{}}
	manifest := crashEvent(crashManifest(), nil)
	data, err := manifest.Encode()
	if err != nil {
		t.Fatal(err)
	}
	signed, err := rec.sign(c, [][]byte{data})
	if err != nil {
		t.Fatal(err)
	}
	rs, err := c.SubmitSigned(ctx, signed)
	if err != nil {
		t.Fatalf("defining the election: %v", err)
	}
	if len(rs) != 1 || rs[0].Index != 0 || rs[0].Verdict != events.Accepted {
		t.Fatalf("manifest receipts = %+v, want one, index 0, accepted", rs)
	}
	rec.checkpoints[rs[0].Checkpoint] = true
	rec.record(manifest.ID, ackRecord{index: 0, verdict: events.Accepted, worker: -1, data: data})
	const nWorkers = 5
	tr := new(traffic)
	workers := newWorkers(t, nWorkers, seed, c, rec, tr)
	stopGen := make(chan struct{})
	var wg sync.WaitGroup
	defer func() {
		cancel() // on a failure, stop the clients before the test ends
		wg.Wait()
	}()
	for _, w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			w.run(ctx, stopGen)
		}()
	}
	var echoed, echoBatches int
	wg.Add(1)
	go func() {
		defer wg.Done()
		echoed, echoBatches = echo(ctx, t, c, rec, tr, rand.New(rand.NewPCG(seed, 0xec40)), stopGen)
	}()

	// The killer. It runs here, in the test goroutine, so that t.Fatal
	// stops everything through the deferred cleanups.
	krng := rand.New(rand.NewPCG(seed, 0xc0ffee))
	var startupKills, busyKills int
	for k := 0; k < kills; k++ {
		sleepCtx(ctx, time.Duration(50+krng.IntN(351))*time.Millisecond)
		if err := srv.checkAlive(); err != nil {
			t.Fatalf("before kill %d: %v", k+1, err)
		}
		if tr.inflight.Load() > 0 {
			busyKills++
		}
		srv.kill()
		// Sometimes kill it again while it starts: recovery must survive
		// a crash of its own.
		for krng.IntN(4) == 0 {
			if err := srv.start(); err != nil {
				t.Fatal(err)
			}
			sleepCtx(ctx, time.Duration(krng.IntN(300))*time.Millisecond)
			srv.kill()
			startupKills++
		}
		if err := srv.startHealthy(ctx); err != nil {
			t.Fatalf("restart after kill %d: %v", k+1, err)
		}
	}
	// Let the clients work against a stable server for a moment, then let
	// them finish what they have in hand: every batch they generated must
	// end with receipts.
	sleepCtx(ctx, 300*time.Millisecond)
	close(stopGen)
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
	if err := srv.checkAlive(); err != nil {
		t.Fatal(err)
	}
	killPhase := time.Since(built)

	// One clean restart: SIGTERM must shut down with exit code 0.
	if err := srv.stop(); err != nil {
		t.Fatal(err)
	}
	if err := srv.startHealthy(ctx); err != nil {
		t.Fatal(err)
	}

	var st workerStats
	generated := map[uuid.UUID]bool{manifest.ID: true}
	for _, w := range workers {
		st.add(&w.stats)
		for _, id := range w.generated {
			generated[id] = true
		}
	}
	slices.Sort(srv.startups)
	t.Logf("%d kills while serving (%d with requests in flight), %d more during start-up; %d incarnations (%d with a 100ms JetStream duplicate window); start to healthy: median %v, max %v",
		kills, busyKills, startupKills, srv.incarnation, srv.shortWindow,
		srv.startups[len(srv.startups)/2].Round(time.Millisecond), srv.startups[len(srv.startups)-1].Round(time.Millisecond))
	t.Logf("%d events generated and acknowledged (%d predicted rejected), in %d submissions (%d of one event); %d failed attempts resubmitted (%d signed again as a new submission, %d the same bytes again); %d receipts answered as duplicates, %d of them after a failed attempt",
		st.events, st.rejected, st.submissions, st.singles, st.retries, st.resigned, st.retries-st.resigned, st.duplicates, st.recovered)
	t.Logf("%d acknowledged events resubmitted alongside, in %d answered submissions (each must come back as a duplicate at its index)", echoed, echoBatches)
	t.Logf("worker submission latency: median %v, 90th percentile %v", tr.quantile(0.5).Round(time.Millisecond), tr.quantile(0.9).Round(time.Millisecond))
	t.Logf("building the binary took %v, the kill phase %v", built.Sub(began).Round(time.Millisecond), killPhase.Round(time.Millisecond))

	tallyHTTP := verifyServedLog(ctx, t, c, rec, generated, workers)
	if t.Failed() {
		t.FailNow()
	}
	if err := srv.stop(); err != nil {
		t.Fatal(err)
	}
	verifyStore(t, srv.data, tallyHTTP, rec)
	t.Logf("total %v", time.Since(began).Round(time.Millisecond))
}

const crashElection = "crash-2026"

// traffic follows the clients' submissions, for the statistics.
type traffic struct {
	inflight atomic.Int64 // submissions in progress
	mu       sync.Mutex
	latency  []time.Duration // of successful worker submissions
}

// begin marks a submission attempt as started; the returned func ends it,
// recording its latency if timed and successful.
func (tr *traffic) begin(timed bool) func(ok bool) {
	tr.inflight.Add(1)
	t0 := time.Now()
	return func(ok bool) {
		tr.inflight.Add(-1)
		if ok && timed {
			tr.mu.Lock()
			tr.latency = append(tr.latency, time.Since(t0))
			tr.mu.Unlock()
		}
	}
}

// quantile returns a quantile of the timed submissions' latency.
func (tr *traffic) quantile(q float64) time.Duration {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	if len(tr.latency) == 0 {
		return 0
	}
	l := slices.Clone(tr.latency)
	slices.Sort(l)
	return l[int(q*float64(len(l)-1))]
}

func crashManifest() *events.Manifest {
	m := &events.Manifest{
		Name: "Crash Test General", Date: "2026-11-03", Authority: testkeys.Authority.Verifier,
		VoteTypes: []events.VoteType{
			{ID: "election-day", Name: "Election Day"},
			{ID: "advance", Name: "Advance in Person"},
			{ID: "absentee", Name: "Absentee by Mail"},
		},
		Units: []events.Unit{{ID: "st", Name: "State", Kind: "state"}},
		Contests: []events.Contest{
			{ID: "gov", Name: "Governor", VoteFor: 1, Choices: []events.Choice{
				{ID: "alvarez", Name: "Ana Alvarez"}, {ID: "baker", Name: "Bo Baker"}, {ID: "chen", Name: "Cy Chen"}}},
			{ID: "h1", Name: "House 1", VoteFor: 1, Units: []string{"c1", "c2"}, Choices: []events.Choice{
				{ID: "diaz", Name: "Dee Diaz"}, {ID: "evans", Name: "Ed Evans"}}},
			{ID: "q1", Name: "Question 1", VoteFor: 1, Choices: []events.Choice{
				{ID: "yes", Name: "Yes"}, {ID: "no", Name: "No"}}},
		},
	}
	for c := 1; c <= 3; c++ {
		county := fmt.Sprintf("c%d", c)
		m.Units = append(m.Units, events.Unit{ID: county, Name: "County " + county, Kind: "county", Parent: "st"})
		for p := 1; p <= 4; p++ {
			id := fmt.Sprintf("%s-p%d", county, p)
			m.Units = append(m.Units, events.Unit{ID: id, Name: "Precinct " + id, Kind: "precinct", Parent: county})
		}
	}
	return m
}

func crashEvent(b events.Body, expected *uint64) *events.Event {
	return &events.Event{ID: uuid.Must(uuid.NewV7()), Election: crashElection, ExpectedVersion: expected, Body: b}
}

// ---- the server process ----

// serverProc runs `ledger serve` as a child process, one incarnation at a
// time, on the same data directory and HTTP address.
type serverProc struct {
	t        *testing.T
	bin      string
	data     string
	httpAddr string
	logPath  string

	// rng picks, per incarnation, JetStream's duplicate window: the default
	// (2 minutes) or the shortest the server allows, so that resubmissions
	// after a restart reach the ledger's own deduplication.
	rng *rand.Rand

	cmd         *exec.Cmd
	exited      chan struct{} // closed when cmd has exited
	incarnation int
	logStart    int64           // where the incarnation's output starts in the log
	shortWindow int             // incarnations started with the short window
	startups    []time.Duration // start to healthy, per healthy incarnation
}

// newServerProc builds the ledger binary into a new directory and returns
// a server of it, not started, killed when the test ends, whose log is
// printed if the test fails.
func newServerProc(t *testing.T, seed uint64) *serverProc {
	t.Helper()
	dir := t.TempDir()
	srv := &serverProc{
		t: t, bin: buildLedger(t, dir), data: filepath.Join(dir, "data"),
		httpAddr: freeAddr(t), logPath: filepath.Join(dir, "serve.log"),
		rng: rand.New(rand.NewPCG(seed, 0xd0d0)),
	}
	t.Cleanup(func() {
		if t.Failed() {
			srv.dumpLog()
		}
		srv.cleanup()
	})
	return srv
}

func buildLedger(t *testing.T, dir string) string {
	t.Helper()
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skipf("no go tool to build the ledger binary: %v", err)
	}
	bin := filepath.Join(dir, "ledger")
	out, err := exec.Command(goTool, "build", "-o", bin, ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go build ./cmd/ledger: %v\n%s", err, out)
	}
	return bin
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// start starts a new incarnation without waiting for it to serve.
func (s *serverProc) start() error {
	s.incarnation++
	logf, err := os.OpenFile(s.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	defer logf.Close() // the child has its own copy
	if fi, err := logf.Stat(); err == nil {
		s.logStart = fi.Size()
	}
	args := []string{"serve", "--data", s.data, "--http", s.httpAddr, "--nats-listen", "127.0.0.1:0", "--authority", testkeys.Authority.Verifier}
	if s.rng.IntN(2) == 0 {
		args = append(args, "--duplicate-window", "100ms")
		s.shortWindow++
	}
	fmt.Fprintf(logf, "=== incarnation %d at %s: %s\n", s.incarnation, time.Now().Format(time.StampMilli), strings.Join(args, " "))
	cmd := exec.Command(s.bin, args...)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("couldn't start ledger serve: %w", err)
	}
	exited := make(chan struct{})
	go func() {
		cmd.Wait()
		close(exited)
	}()
	s.cmd, s.exited = cmd, exited
	return nil
}

// startHealthy starts an incarnation and waits until /healthz answers ok. An
// incarnation that exits before it serves because the HTTP port is briefly
// taken is started again.
func (s *serverProc) startHealthy(ctx context.Context) error {
	hc, _ := client.New("http://"+s.httpAddr, &http.Client{Timeout: time.Second})
retry:
	for attempt := 0; ; attempt++ {
		if err := s.start(); err != nil {
			return err
		}
		began := time.Now()
		deadline := began.Add(60 * time.Second)
		for {
			err := hc.Health(ctx)
			if err == nil {
				s.startups = append(s.startups, time.Since(began))
				return nil
			}
			if errors.Is(err, client.ErrNotReady) {
				return fmt.Errorf("incarnation %d answers /healthz but is not ok: %v", s.incarnation, err)
			}
			select {
			case <-s.exited:
				out := s.output()
				if strings.Contains(out, "address already in use") && attempt < 50 {
					time.Sleep(100 * time.Millisecond)
					continue retry
				}
				return fmt.Errorf("incarnation %d exited (%v) before serving; its output:\n%s", s.incarnation, s.cmd.ProcessState, out)
			default:
			}
			if time.Now().After(deadline) || ctx.Err() != nil {
				return fmt.Errorf("incarnation %d did not become healthy: %v", s.incarnation, err)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
}

// checkAlive reports an incarnation that exited without being told to.
func (s *serverProc) checkAlive() error {
	select {
	case <-s.exited:
		return fmt.Errorf("incarnation %d exited on its own (%v); its output:\n%s", s.incarnation, s.cmd.ProcessState, s.output())
	default:
		return nil
	}
}

// kill sends SIGKILL and waits for the process to be gone.
func (s *serverProc) kill() {
	s.cmd.Process.Kill()
	<-s.exited
}

// stop sends SIGTERM and expects a clean exit.
func (s *serverProc) stop() error {
	if err := s.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		return fmt.Errorf("couldn't signal incarnation %d: %w", s.incarnation, err)
	}
	select {
	case <-s.exited:
	case <-time.After(30 * time.Second):
		s.kill()
		return fmt.Errorf("incarnation %d did not stop within 30s of SIGTERM", s.incarnation)
	}
	if code := s.cmd.ProcessState.ExitCode(); code != 0 {
		return fmt.Errorf("incarnation %d exited with code %d after SIGTERM, want 0; its output:\n%s", s.incarnation, code, s.output())
	}
	return nil
}

func (s *serverProc) cleanup() {
	if s.cmd == nil {
		return
	}
	select {
	case <-s.exited:
	default:
		s.kill()
	}
}

// output returns what the current incarnation wrote, at most its last 8 KiB.
func (s *serverProc) output() string {
	b, _ := os.ReadFile(s.logPath)
	b = b[min(s.logStart, int64(len(b))):]
	return string(b[max(0, len(b)-8<<10):])
}

func (s *serverProc) dumpLog() {
	b, _ := os.ReadFile(s.logPath)
	s.t.Logf("tail of the servers' log (%s):\n%s", s.logPath, b[max(0, len(b)-8<<10):])
}

// ---- the clients ----

// ackBook is every receipt the clients got, by event ID, and every
// submission they signed.
type ackBook struct {
	mu          sync.Mutex
	acks        map[uuid.UUID]ackRecord
	ids         []uuid.UUID     // the keys of acks, in the order acknowledged
	checkpoints map[string]bool // every distinct checkpoint handed out
	// subs are the event IDs of every submission signed, by submission ID,
	// whether or not it was answered.
	subs map[uuid.UUID][]uuid.UUID
}

// sign signs encoded events as one submission with c's key, and notes the
// submission before it can be sent.
func (b *ackBook) sign(c *client.Client, raw [][]byte) ([]byte, error) {
	signed, err := c.Sign(raw)
	if err != nil {
		return nil, err
	}
	sub, err := events.OpenSubmission(signed)
	if err != nil {
		return nil, fmt.Errorf("the client's own submission does not open: %w", err)
	}
	if sub.SignatureErr != nil {
		return nil, fmt.Errorf("the client's own submission: %w", sub.SignatureErr)
	}
	ids := make([]uuid.UUID, len(sub.Events))
	for i, ev := range sub.Events {
		ids[i] = ev.ID
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if _, dup := b.subs[sub.ID]; dup {
		return nil, fmt.Errorf("submission ID %s signed twice", sub.ID)
	}
	b.subs[sub.ID] = ids
	return signed, nil
}

type ackRecord struct {
	index   uint64
	verdict events.Verdict
	worker  int
	data    []byte // the event as submitted
}

// record adds a receipt; the caller holds b.mu.
func (b *ackBook) record(id uuid.UUID, a ackRecord) {
	b.acks[id] = a
	b.ids = append(b.ids, id)
}

type workerStats struct {
	events, rejected      int
	submissions, singles  int
	retries, resigned     int
	duplicates, recovered int
}

func (s *workerStats) add(o *workerStats) {
	s.events += o.events
	s.rejected += o.rejected
	s.submissions += o.submissions
	s.singles += o.singles
	s.retries += o.retries
	s.resigned += o.resigned
	s.duplicates += o.duplicates
	s.recovered += o.recovered
}

// pair is one (precinct, contest) that a single worker owns, so that it can
// predict every verdict from its own history: its events are logged in the
// order it submits them, whatever the kills.
type pair struct {
	unit, contest string
	version       uint64           // accepted count changes
	current       uuid.UUID        // the current report, Nil if none
	counts        map[string]int64 // the current report's votes by choice
	history       []uuid.UUID      // every report that was current once
}

type worker struct {
	id     int
	rng    *rand.Rand
	c      *client.Client
	book   *ackBook
	m      *events.Manifest
	pairs  []*pair
	shared [][2]string // county-level (unit, contest) any worker reports to

	generated []uuid.UUID
	lastIndex uint64
	stats     workerStats
	t         *testing.T
	tr        *traffic
}

// planned is an event with the verdict its worker predicts.
type planned struct {
	ev       *events.Event
	data     []byte
	want     events.Verdict
	conflict bool
}

func newWorkers(t *testing.T, n int, seed uint64, c *client.Client, book *ackBook, tr *traffic) []*worker {
	m := crashManifest()
	ws := make([]*worker, n)
	for i := range ws {
		ws[i] = &worker{t: t, tr: tr, id: i, rng: rand.New(rand.NewPCG(seed, uint64(i+1))), c: c, book: book, m: m,
			shared: [][2]string{{"c1", "gov"}, {"c2", "gov"}, {"c2", "h1"}, {"c3", "q1"}}}
	}
	k := 0
	for _, ct := range m.Contests {
		for _, u := range m.Units {
			if u.Kind != "precinct" || (len(ct.Units) > 0 && !slices.Contains(ct.Units, u.Parent)) {
				continue
			}
			w := ws[k%n]
			w.pairs = append(w.pairs, &pair{unit: u.ID, contest: ct.ID})
			k++
		}
	}
	return ws
}

func (w *worker) contest(id string) *events.Contest {
	for i := range w.m.Contests {
		if w.m.Contests[i].ID == id {
			return &w.m.Contests[i]
		}
	}
	panic("unknown contest " + id)
}

// report makes random absolute counts for a unit and contest.
func (w *worker) report(unit, contest string) (events.CountReport, map[string]int64) {
	r := events.CountReport{Unit: unit, Contest: contest}
	sums := map[string]int64{}
	for len(r.Counts) == 0 {
		for _, ch := range w.contest(contest).Choices {
			for _, vt := range w.m.VoteTypes {
				if w.rng.IntN(10) < 7 {
					v := w.rng.Int64N(2000)
					r.Counts = append(r.Counts, events.Count{Choice: ch.ID, VoteType: vt.ID, Votes: v})
					sums[ch.ID] += v
				}
			}
		}
	}
	if w.rng.IntN(2) == 0 {
		r.Source.Operator = fmt.Sprintf("clerk-%d", w.id)
	} else {
		r.Source.File = fmt.Sprintf("w%d-%d.csv", w.id, len(w.generated))
		h := sha256.Sum256([]byte(r.Source.File))
		r.Source.SHA256 = hex.EncodeToString(h[:])
	}
	return r, sums
}

// plan generates the next submission and updates the worker's model as if
// it were logged, which it must be, exactly once.
func (w *worker) plan() []planned {
	n := 1
	if w.rng.IntN(10) >= 3 {
		n = 1 + w.rng.IntN(50)
	}
	inBatch := map[uuid.UUID]bool{}
	out := make([]planned, 0, n)
	for len(out) < n {
		p := w.pairs[w.rng.IntN(len(w.pairs))]
		// Corrections and retractions may only name acknowledged reports:
		// the edge refuses a reference to an event not yet in the log.
		currentAcked := p.current != uuid.Nil && !inBatch[p.current]
		var stale []uuid.UUID
		for _, id := range p.history {
			if id != p.current && !inBatch[id] {
				stale = append(stale, id)
			}
		}
		var pl planned
		accept := func(id uuid.UUID, counts map[string]int64) {
			pl.want = events.Accepted
			p.version++
			p.current, p.counts = id, counts
			if id != uuid.Nil {
				p.history = append(p.history, id)
			}
		}
		switch x := w.rng.IntN(100); {
		case x < 10: // a county-level report shared by all workers: always accepted
			s := w.shared[w.rng.IntN(len(w.shared))]
			r, _ := w.report(s[0], s[1])
			pl.ev, pl.want = crashEvent(&r, nil), events.Accepted
		case x < 45: // a plain report
			r, sums := w.report(p.unit, p.contest)
			pl.ev = crashEvent(&r, nil)
			accept(pl.ev.ID, sums)
		case x < 60: // a report that expects the right version
			r, sums := w.report(p.unit, p.contest)
			v := p.version
			pl.ev = crashEvent(&r, &v)
			accept(pl.ev.ID, sums)
		case x < 67: // a report that expects a stale version: a logged conflict
			r, _ := w.report(p.unit, p.contest)
			v := p.version + 1 + uint64(w.rng.IntN(3))
			if p.version > 0 && w.rng.IntN(2) == 0 {
				v = p.version - 1
			}
			pl.ev, pl.want, pl.conflict = crashEvent(&r, &v), events.Rejected, true
		case x < 82 && currentAcked: // a correction of the current report
			r, sums := w.report(p.unit, p.contest)
			var exp *uint64
			if w.rng.IntN(2) == 0 {
				v := p.version
				exp = &v
			}
			pl.ev = crashEvent(&events.Correction{Corrects: p.current, Reason: "memory card re-read", CountReport: r}, exp)
			accept(pl.ev.ID, sums)
		case x < 90 && len(stale) > 0: // a correction or retraction of a superseded report
			target := stale[w.rng.IntN(len(stale))]
			if w.rng.IntN(2) == 0 {
				r, _ := w.report(p.unit, p.contest)
				pl.ev = crashEvent(&events.Correction{Corrects: target, Reason: "late re-read", CountReport: r}, nil)
			} else {
				pl.ev = crashEvent(&events.Retraction{Retracts: target, Reason: "entered twice", Source: events.Source{Operator: "clerk"}}, nil)
			}
			pl.want = events.Rejected
		case x >= 90 && currentAcked: // a retraction of the current report
			pl.ev = crashEvent(&events.Retraction{Retracts: p.current, Reason: "wrong precinct", Source: events.Source{Operator: "clerk"}}, nil)
			accept(uuid.Nil, nil)
		default:
			continue
		}
		if err := pl.ev.Validate(); err != nil {
			panic(fmt.Sprintf("worker %d made an invalid event: %v", w.id, err))
		}
		data, err := pl.ev.Encode()
		if err != nil {
			panic(err)
		}
		pl.data = data
		inBatch[pl.ev.ID] = true
		w.generated = append(w.generated, pl.ev.ID)
		out = append(out, pl)
	}
	return out
}

func (w *worker) run(ctx context.Context, stopGen <-chan struct{}) {
	for {
		select {
		case <-stopGen:
			return
		default:
		}
		if !w.submit(ctx, w.plan()) {
			return
		}
	}
}

// submit sends one planned submission until it gets receipts, resubmitting
// the same events after every failure, and checks the receipts. A retry
// sends the same signed bytes again, or, at random, the same events signed
// as a new submission (a new submission ID), as a client that starts over.
func (w *worker) submit(ctx context.Context, batch []planned) bool {
	w.stats.submissions++
	if len(batch) == 1 {
		w.stats.singles++
	}
	raw := make([][]byte, len(batch))
	for i, p := range batch {
		raw[i] = p.data
	}
	var signed []byte
	for attempt := 1; ; attempt++ {
		if signed == nil || w.rng.IntN(2) == 0 {
			if signed != nil {
				w.stats.resigned++
			}
			var err error
			if signed, err = w.book.sign(w.c, raw); err != nil {
				w.t.Errorf("worker %d: %v", w.id, err)
				return false
			}
		}
		end := w.tr.begin(true)
		receipts, err := w.c.SubmitSigned(ctx, signed)
		end(err == nil)
		var ce *client.Error
		switch {
		case err == nil:
			return w.check(batch, receipts, attempt)
		case errors.As(err, &ce) && ce.IsClientError():
			w.t.Errorf("worker %d: submission of %d events refused: %v", w.id, len(batch), err)
			return false
		case ctx.Err() != nil:
			w.t.Errorf("worker %d: gave up on %d events without receipts after %d attempts: %v", w.id, len(batch), attempt, err)
			return false
		}
		// Killed, restarting, or not yet logged: resubmit the same events.
		w.stats.retries++
		sleepCtx(ctx, time.Duration(20+w.rng.IntN(60))*time.Millisecond)
	}
}

func (w *worker) check(batch []planned, receipts []ledger.Receipt, attempt int) bool {
	if len(receipts) != len(batch) {
		w.t.Errorf("worker %d: %d receipts for %d events", w.id, len(receipts), len(batch))
		return false
	}
	ok := true
	w.book.mu.Lock()
	defer w.book.mu.Unlock()
	for i, r := range receipts {
		p := batch[i]
		switch {
		case r.ID != p.ev.ID || r.Election != crashElection:
			w.t.Errorf("worker %d: receipt %d is for %s in %q, want %s in %q", w.id, i, r.ID, r.Election, p.ev.ID, crashElection)
			ok = false
			continue
		case r.Verdict != p.want || r.Conflict() != p.conflict:
			w.t.Errorf("worker %d: event %s (%s) got verdict %s %q, want %s (conflict %v)", w.id, r.ID, p.ev.Type(), r.Verdict, r.Reason, p.want, p.conflict)
			ok = false
		case r.Index <= w.lastIndex:
			w.t.Errorf("worker %d: event %s logged at %d, not after its previous event at %d", w.id, r.ID, r.Index, w.lastIndex)
			ok = false
		case r.TreeSize <= r.Index || r.Checkpoint == "":
			w.t.Errorf("worker %d: receipt for %s at index %d has tree size %d and checkpoint %q", w.id, r.ID, r.Index, r.TreeSize, r.Checkpoint)
			ok = false
		}
		if prev, dup := w.book.acks[r.ID]; dup {
			w.t.Errorf("worker %d: event %s acknowledged twice (index %d, then %d)", w.id, r.ID, prev.index, r.Index)
			ok = false
		}
		w.book.record(r.ID, ackRecord{index: r.Index, verdict: r.Verdict, worker: w.id, data: p.data})
		w.book.checkpoints[r.Checkpoint] = true
		w.lastIndex = max(w.lastIndex, r.Index)
		w.stats.events++
		if p.want == events.Rejected {
			w.stats.rejected++
		}
		if r.Duplicate {
			w.stats.duplicates++
			if attempt > 1 {
				w.stats.recovered++
			}
		}
	}
	return ok
}

// echo resubmits events that were already acknowledged, as a reporter
// re-sending a file would, alongside the workers and through the kills: each
// must be answered as a duplicate with its original index and verdict. It
// returns how many events it resubmitted and answered, in how many
// submissions.
func echo(ctx context.Context, t *testing.T, c *client.Client, book *ackBook, tr *traffic, rng *rand.Rand, stop <-chan struct{}) (answered, submissions int) {
	for {
		select {
		case <-stop:
			return answered, submissions
		case <-ctx.Done():
			return answered, submissions
		case <-time.After(time.Duration(20+rng.IntN(80)) * time.Millisecond):
		}
		book.mu.Lock()
		var ids []uuid.UUID
		var raw [][]byte
		for k := 1 + rng.IntN(20); k > 0; k-- {
			id := book.ids[rng.IntN(len(book.ids))]
			if !slices.Contains(ids, id) {
				ids = append(ids, id)
				raw = append(raw, book.acks[id].data)
			}
		}
		book.mu.Unlock()
		signed, err := book.sign(c, raw)
		if err != nil {
			t.Errorf("echo: %v", err)
			return answered, submissions
		}
		end := tr.begin(false)
		receipts, err := c.SubmitSigned(ctx, signed)
		end(err == nil)
		var ce *client.Error
		switch {
		case errors.As(err, &ce) && ce.IsClientError():
			t.Errorf("echo: resubmission of %d acknowledged events refused: %v", len(raw), err)
			return answered, submissions
		case err != nil:
			continue // killed: nothing to check
		case len(receipts) != len(raw):
			t.Errorf("echo: %d receipts for %d resubmitted events", len(receipts), len(raw))
			return answered, submissions
		}
		submissions++
		book.mu.Lock()
		for i, r := range receipts {
			a := book.acks[ids[i]]
			if r.ID != ids[i] || !r.Duplicate || r.Index != a.index || r.Verdict != a.verdict {
				t.Errorf("echo: resubmitted %s (index %d, %s) answered with %s at %d, %s, duplicate %v",
					ids[i], a.index, a.verdict, r.ID, r.Index, r.Verdict, r.Duplicate)
			}
			answered++
		}
		book.mu.Unlock()
	}
}

func sleepCtx(ctx context.Context, d time.Duration) {
	select {
	case <-ctx.Done():
	case <-time.After(d):
	}
}

// ---- verification ----

// verifyServedLog checks the log as the running server serves it, and returns
// the served tally.
func verifyServedLog(ctx context.Context, t *testing.T, c *client.Client, book *ackBook, generated map[uuid.UUID]bool, workers []*worker) []byte {
	t.Helper()
	key, err := c.Key(ctx)
	if err != nil {
		t.Fatal(err)
	}
	v, origin, err := checkpoint.LogVerifier(key, crashElection)
	if err != nil {
		t.Fatalf("/v1/key %q: %v", key, err)
	}
	signed, err := c.Checkpoint(ctx, crashElection)
	if err != nil {
		t.Fatal(err)
	}
	cp, err := checkpoint.Open(signed, origin, v)
	if err != nil {
		t.Fatal(err)
	}

	var raw [][]byte
	for {
		page, err := c.Entries(ctx, crashElection, uint64(len(raw)), 1000)
		if err != nil {
			t.Fatalf("entries from %d: %v", len(raw), err)
		}
		if len(page) == 0 {
			break
		}
		raw = append(raw, page...)
	}
	n := uint64(len(raw))
	if n != cp.Size {
		t.Errorf("the log serves %d entries, its checkpoint says %d", n, cp.Size)
	}

	// Decode every entry, check the index and uniqueness, hash the tree.
	hashes := map[int64]tlog.Hash{}
	reader := tlog.HashReaderFunc(func(idx []int64) ([]tlog.Hash, error) {
		out := make([]tlog.Hash, len(idx))
		for i, x := range idx {
			h, ok := hashes[x]
			if !ok {
				return nil, fmt.Errorf("hash %d not computed", x)
			}
			out[i] = h
		}
		return out, nil
	})
	entries := make([]*events.Entry, n)
	at := map[uuid.UUID]uint64{}
	subs := map[[32]byte][]*events.Entry{} // by the submission's SHA-256
	book.mu.Lock()
	defer book.mu.Unlock()
	var accepted, rejected uint64
	for i, b := range raw {
		en, err := events.DecodeEntry(b)
		if err != nil {
			t.Fatalf("entry %d: %v", i, err)
		}
		if en.Index != uint64(i) {
			t.Errorf("entry at position %d says it is entry %d", i, en.Index)
		}
		if prev, dup := at[en.Event.ID]; dup {
			t.Errorf("event %s is logged twice, at %d and %d", en.Event.ID, prev, i)
		}
		at[en.Event.ID] = uint64(i)
		if !generated[en.Event.ID] {
			t.Errorf("entry %d holds event %s, which no client generated", i, en.Event.ID)
		}
		// From a submission a client signed, at the place it had there.
		switch sr := en.Submission; {
		case sr == nil:
			t.Errorf("entry %d names no submission", i)
		case sr.Signer != testkeys.Authority.Verifier:
			t.Errorf("entry %d: signer %q, want the authority's key", i, sr.Signer)
		case sr.Item < 0 || sr.Item >= len(book.subs[sr.ID]) || book.subs[sr.ID][sr.Item] != en.Event.ID:
			t.Errorf("entry %d (event %s) names item %d of submission %s, which no client signed so", i, en.Event.ID, sr.Item, sr.ID)
		default:
			subs[sr.SHA256] = append(subs[sr.SHA256], en)
		}
		if en.Verdict == events.Accepted {
			accepted++
		} else {
			rejected++
		}
		entries[i] = en
		hs, err := tlog.StoredHashes(int64(i), b, reader)
		if err != nil {
			t.Fatal(err)
		}
		first := tlog.StoredHashIndex(0, int64(i))
		for j, h := range hs {
			hashes[first+int64(j)] = h
		}
	}

	// The root, by tlog and by an independent RFC 6962 implementation.
	root, err := tlog.TreeHash(int64(n), reader)
	if err != nil {
		t.Fatal(err)
	}
	if root != cp.Root {
		t.Errorf("Merkle root of the %d served entries is %v, the signed checkpoint says %v", n, root, cp.Root)
	}
	if rfc := rfc6962Root(raw); rfc != [32]byte(cp.Root) {
		t.Errorf("RFC 6962 root of the %d served entries is %x, the signed checkpoint says %x", n, rfc, cp.Root[:])
	}
	// The signed submission of every entry is served, whole: its bytes
	// have the SHA-256 the entry names and carry the event where it says.
	for sum, ens := range subs {
		b, err := c.Submission(ctx, crashElection, sum)
		if err != nil {
			t.Errorf("submission %s of entry %d: %v", ens[0].Submission.ID, ens[0].Index, err)
			continue
		}
		sub, err := events.OpenSubmission(b)
		if err != nil {
			t.Errorf("submission %s of entry %d, served: %v", ens[0].Submission.ID, ens[0].Index, err)
			continue
		}
		if sub.SHA256 != sum || sub.SignatureErr != nil || sub.ID != ens[0].Submission.ID {
			t.Errorf("submission of entry %d, served: SHA-256 %x (want %x), signature %v, ID %v (want %s)",
				ens[0].Index, sub.SHA256, sum, sub.SignatureErr, sub.ID, ens[0].Submission.ID)
			continue
		}
		for _, en := range ens {
			if it := en.Submission.Item; it >= len(sub.Events) || sub.Events[it].ID != en.Event.ID || !bytes.Equal(sub.Canonical[it], must(en.Event.Encode())) {
				t.Errorf("entry %d (event %s): item %d of its submission, served, is not that event", en.Index, en.Event.ID, it)
			}
		}
	}
	// Every checkpoint ever handed out in a receipt is of a prefix of this log.
	for s := range book.checkpoints {
		old, err := checkpoint.Open([]byte(s), origin, v)
		if err != nil {
			t.Errorf("a receipt's checkpoint: %v", err)
			continue
		}
		if old.Size > n {
			t.Errorf("a receipt's checkpoint is at size %d, past the end of the log (%d)", old.Size, n)
			continue
		}
		if h, err := tlog.TreeHash(int64(old.Size), reader); err != nil || h != old.Root {
			t.Errorf("a receipt's checkpoint at size %d has root %v, the log's prefix has %v (%v): history was rewritten", old.Size, old.Root, h, err)
		}
	}
	t.Logf("log: %d entries (%d accepted, %d rejected), root %v, %d distinct receipt checkpoints checked", n, accepted, rejected, cp.Root, len(book.checkpoints))

	// Exactly once: every acknowledged event is where its receipt put it,
	// and every generated event is in the log.
	for id, a := range book.acks {
		i, ok := at[id]
		switch {
		case !ok:
			t.Errorf("acknowledged event %s (index %d, worker %d) is not in the log", id, a.index, a.worker)
		case i != a.index:
			t.Errorf("acknowledged event %s is at %d, its receipt said %d", id, i, a.index)
		case entries[i].Verdict != a.verdict:
			t.Errorf("acknowledged event %s has verdict %s, its receipt said %s", id, entries[i].Verdict, a.verdict)
		}
	}
	if len(book.acks) != len(generated) {
		t.Errorf("%d events generated, %d acknowledged", len(generated), len(book.acks))
	}
	if uint64(len(generated)) != n {
		t.Errorf("%d events generated, %d entries logged", len(generated), n)
	}
	if _, ok := entries[0].Event.Body.(*events.Manifest); !ok {
		t.Errorf("entry 0 is %s, not the manifest", entries[0].Event.Type())
	}

	// The served tally: its counters, and every worker-owned precinct as the
	// worker's own model says it stands.
	tallyJSON, err := c.Tally(ctx, crashElection, false)
	if err != nil {
		t.Fatal(err)
	}
	var tl projections.Tally
	if err := json.Unmarshal(tallyJSON, &tl); err != nil {
		t.Fatal(err)
	}
	if tl.Entries != n || tl.Accepted != accepted || tl.Rejected != rejected {
		t.Errorf("tally counts %d entries (%d accepted, %d rejected), the log %d (%d, %d)", tl.Entries, tl.Accepted, tl.Rejected, n, accepted, rejected)
	}
	units := map[[2]string]projections.UnitTally{}
	for _, ct := range tl.Contests {
		for _, u := range ct.Units {
			units[[2]string{u.ID, ct.ID}] = u
		}
	}
	for _, w := range workers {
		for _, p := range w.pairs {
			u, ok := units[[2]string{p.unit, p.contest}]
			if !ok {
				t.Errorf("tally has no unit %s in contest %s", p.unit, p.contest)
				continue
			}
			want := map[string]int64{}
			for _, ch := range w.contest(p.contest).Choices {
				want[ch.ID] = p.counts[ch.ID]
			}
			if u.Reported != (p.current != uuid.Nil) || u.Version != p.version || !maps.Equal(u.Votes, want) {
				t.Errorf("tally of %s in %s: reported %v, version %d, votes %v; worker %d expects %v, %d, %v",
					p.unit, p.contest, u.Reported, u.Version, u.Votes, w.id, p.current != uuid.Nil, p.version, want)
			}
		}
	}
	return tallyJSON
}

// verifyStore opens the stopped ledger's database and checks that the stored
// projection, a fresh replay and the served tally are the same bytes.
func verifyStore(t *testing.T, data string, tallyHTTP []byte, book *ackBook) {
	t.Helper()
	db, err := store.Open(filepath.Join(data, "pebble"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var size uint64
	found := false
	err = db.Elections(func(id string, s uint64) error {
		if id == crashElection {
			size, found = s, true
		}
		return nil
	})
	if err != nil || !found {
		t.Fatalf("election %s in the store: found %v, %v", crashElection, found, err)
	}
	replayed, err := audit.Replay(db, crashElection, size, nil)
	if err != nil {
		t.Fatal(err)
	}
	stored, err := projections.Load(crashElection, func(fn func(string, []byte) error) error { return db.Cells(crashElection, fn) })
	if err != nil {
		t.Fatal(err)
	}
	if stored.Size() != size || replayed.Size() != size {
		t.Errorf("log size %d, stored projection at %d, replay at %d", size, stored.Size(), replayed.Size())
	}
	rb, err := replayed.Tally().Encode()
	if err != nil {
		t.Fatal(err)
	}
	sb, err := stored.Tally().Encode()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(rb, sb) {
		t.Errorf("stored projection differs from a fresh replay:\nstored %s\nreplay %s", sb, rb)
	}
	if !bytes.Equal(rb, tallyHTTP) {
		t.Errorf("served tally differs from a fresh replay:\nserved %s\nreplay %s", tallyHTTP, rb)
	}
	// The event-ID index agrees with the receipts.
	book.mu.Lock()
	defer book.mu.Unlock()
	for id, a := range book.acks {
		r, err := db.Event(id)
		if err != nil || r.Election != crashElection || r.Index != a.index || r.Accepted != (a.verdict == events.Accepted) {
			t.Errorf("event index of %s = %+v, %v; receipt said index %d, %s", id, r, err, a.index, a.verdict)
		}
	}
	// What every stream message became: a submission a client signed, each
	// of its events logged from it or answered as a duplicate, nothing
	// dropped; and each logged event from exactly one message.
	pos, err := db.Position()
	if err != nil {
		t.Fatal(err)
	}
	loggedFrom := map[uuid.UUID]int{} // entries logged, by submission ID
	var dups, missing int
	var logged uint64
	for seq := uint64(1); seq <= pos; seq++ {
		r, err := db.Seq(seq)
		if errors.Is(err, store.ErrNotFound) {
			missing++
			continue
		}
		if err != nil {
			t.Fatalf("stream message %d: %v", seq, err)
		}
		ids, sent := book.subs[r.ID]
		if !sent {
			t.Errorf("stream message %d (%s) carries submission %s, which no client signed", seq, r.Outcome, r.ID)
			continue
		}
		nl, nd, ok := parseOutcome(r.Outcome)
		if !ok {
			t.Errorf("stream message %d (submission %s): %s", seq, r.ID, r.Outcome)
			continue
		}
		if nl+nd != len(ids) {
			t.Errorf("stream message %d (submission %s of %d events): %s", seq, r.ID, len(ids), r.Outcome)
		}
		loggedFrom[r.ID] += nl
		logged += uint64(nl)
		dups += nd
	}
	if logged != size {
		t.Errorf("stream messages logged %d events, the log has %d entries", logged, size)
	}
	inLog := map[uuid.UUID]int{}
	for i := uint64(0); i < size; i++ {
		b, err := db.Entry(crashElection, i)
		if err != nil {
			t.Fatalf("entry %d: %v", i, err)
		}
		en, err := events.DecodeEntry(b)
		if err != nil {
			t.Fatalf("entry %d: %v", i, err)
		}
		if en.Submission != nil {
			inLog[en.Submission.ID]++
		}
	}
	if !maps.Equal(inLog, loggedFrom) {
		for id, k := range loggedFrom {
			if inLog[id] != k {
				t.Errorf("stream messages of submission %s logged %d events, the log holds %d from it", id, k, inLog[id])
			}
		}
		for id, k := range inLog {
			if _, ok := loggedFrom[id]; !ok {
				t.Errorf("the log holds %d events from submission %s, which no stream message logged", k, id)
			}
		}
	}
	if missing > 0 {
		t.Errorf("%d of the stream messages 1..%d have no record of what they became", missing, pos)
	}
	t.Logf("store: %d entries from %d stream messages (%d submissions signed), %d events in them the ledger itself answered as duplicates; stored projection, replay and served tally are identical (%d bytes)",
		size, pos, len(book.subs), dups, len(rb))
}

// rfc6962Root computes the RFC 6962 Merkle tree hash of leaves directly
// from the definition, independently of tlog.
func rfc6962Root(leaves [][]byte) [32]byte {
	if len(leaves) == 0 {
		return sha256.Sum256(nil)
	}
	level := make([][32]byte, len(leaves))
	for i, l := range leaves {
		level[i] = sha256.Sum256(append([]byte{0}, l...))
	}
	var mth func(h [][32]byte) [32]byte
	mth = func(h [][32]byte) [32]byte {
		if len(h) == 1 {
			return h[0]
		}
		k := 1
		for k*2 < len(h) {
			k *= 2
		}
		l, r := mth(h[:k]), mth(h[k:])
		return sha256.Sum256(append(append([]byte{1}, l[:]...), r[:]...))
	}
	return mth(level)
}

// must returns b, or panics on err.
func must(b []byte, err error) []byte {
	if err != nil {
		panic(err)
	}
	return b
}

// parseOutcome reads a stream record's outcome "logged N" or "logged N,
// duplicate M": how many of the submission's events were logged from the
// message and how many were logged before.
func parseOutcome(s string) (logged, dups int, ok bool) {
	if _, err := fmt.Sscanf(s, "logged %d, duplicate %d", &logged, &dups); err == nil && s == fmt.Sprintf("logged %d, duplicate %d", logged, dups) && dups > 0 {
		return logged, dups, true
	}
	if _, err := fmt.Sscanf(s, "logged %d", &logged); err == nil && s == fmt.Sprintf("logged %d", logged) {
		return logged, 0, true
	}
	return 0, 0, false
}
