package node_test

// A full disk is an outage, not a crash (issue 12, item 6), on a real disk:
// a small tmpfs, filled during ingest. Mounting one needs root; without it
// these tests skip, and ledger/fulldisk_test.go, which injects a full disk
// through the store's filesystem, still runs (the embedded JetStream
// writes through the os package, so nothing short of a real disk fills
// its side).

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/election-audit/ledger/audit"
	"github.com/election-audit/ledger/broker"
	"github.com/election-audit/ledger/events"
	"github.com/election-audit/ledger/internal/testkeys"
	"github.com/election-audit/ledger/internal/testledger"
	"github.com/election-audit/ledger/ledger"
	"github.com/election-audit/ledger/node"
	"github.com/election-audit/ledger/store"
)

// mountTmpfs mounts a tmpfs of the given size (mode 0700) on dir, creating
// it, and unmounts it at the end of the test; it skips the test when it
// cannot.
func mountTmpfs(t *testing.T, dir, size string) {
	t.Helper()
	if runtime.GOOS != "linux" || os.Geteuid() != 0 {
		t.Skip("skipped: filling a real disk needs root on Linux, to mount a small tmpfs (mount -t tmpfs); ledger/fulldisk_test.go injects a full disk without it")
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size="+size+",mode=0700", "tmpfs", dir).CombinedOutput(); err != nil {
		t.Skipf("skipped: couldn't mount a tmpfs on %s (%v: %s); ledger/fulldisk_test.go injects a full disk without it", dir, err, bytes.TrimSpace(out))
	}
	t.Cleanup(func() {
		if out, err := exec.Command("umount", dir).CombinedOutput(); err != nil {
			t.Errorf("umount %s: %v: %s", dir, err, out)
			exec.Command("umount", "-l", dir).Run()
		}
	})
}

// fill writes a file until the disk is full, and returns the error that
// stopped it (ENOSPC).
func fill(path string) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	defer f.Close()
	buf := bytes.Repeat([]byte{0xa5}, 4<<20)
	for {
		if _, err := f.Write(buf); err != nil {
			return err
		}
	}
}

func freeSpace(t *testing.T, dir string) uint64 {
	t.Helper()
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		t.Fatal(err)
	}
	return st.Bavail * uint64(st.Bsize)
}

// logBuffer collects a node's log.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) count(s string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Count(l.b.String(), s)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// sent is one submission and its answer.
type sent struct {
	ids    []uuid.UUID
	status int
	body   []byte
}

// reports returns n count reports and their IDs.
func reports(t *testing.T, n int, a int64) ([]*events.Event, []uuid.UUID) {
	t.Helper()
	var evs []*events.Event
	var ids []uuid.UUID
	for i := range n {
		ev := mkEvent(t, elecMain, houseReport(allPrecincts[i%len(allPrecincts)], a+int64(i), int64(900+i), int64(i)))
		evs = append(evs, ev)
		ids = append(ids, ev.ID)
	}
	return evs, ids
}

// sendReports submits n count reports as one signed submission.
func sendReports(t *testing.T, tn *testNode, n int) sent {
	t.Helper()
	evs, ids := reports(t, n, 1000)
	s := sent{ids: ids}
	s.status, s.body = tn.do(http.MethodPost, "/v1/submissions", "text/plain; charset=utf-8", signed(t, evs...))
	return s
}

type health struct {
	status int
	ledger.Health
}

func getHealth(t *testing.T, tn *testNode) health {
	t.Helper()
	var h health
	var b []byte
	h.status, b = tn.do(http.MethodGet, "/healthz", "", nil)
	if err := json.Unmarshal(b, &h.Health); err != nil {
		t.Fatalf("/healthz: HTTP %d, %v: %s", h.status, err, b)
	}
	return h
}

// checkWhole checks that each submission is in the log whole or not at
// all, that each receipt names the entry that holds its event, and that
// every entry after the manifest holds an event of one of the submissions.
// It returns how many events of each submission are logged.
func checkWhole(t *testing.T, tn *testNode, reqs []sent) []int {
	t.Helper()
	owner := map[uuid.UUID]int{}
	for i, r := range reqs {
		for _, id := range r.ids {
			owner[id] = i
		}
	}
	logged := make([]int, len(reqs))
	at := map[uuid.UUID]uint64{}
	for i, data := range entries(t, tn.n.Ledger, elecMain) {
		en := decodeEntry(t, data)
		if i == 0 {
			continue // the manifest
		}
		r, ok := owner[en.Event.ID]
		if !ok {
			t.Errorf("entry %d holds event %s, of no submission", i, en.Event.ID)
			continue
		}
		logged[r]++
		at[en.Event.ID] = uint64(i)
	}
	for i, r := range reqs {
		if n := logged[i]; n != 0 && n != len(r.ids) {
			t.Errorf("submission %d (HTTP %d): %d of its %d events are logged: %s", i, r.status, n, len(r.ids), r.body)
		}
		if r.status != http.StatusOK {
			continue
		}
		var resp struct{ Receipts []ledger.Receipt }
		if err := json.Unmarshal(r.body, &resp); err != nil || len(resp.Receipts) != len(r.ids) {
			t.Errorf("submission %d: HTTP 200 without its %d receipts (%v): %s", i, len(r.ids), err, r.body)
			continue
		}
		for j, rc := range resp.Receipts {
			if idx, ok := at[r.ids[j]]; rc.ID != r.ids[j] || !ok || idx != rc.Index {
				t.Errorf("submission %d, event %d: receipt %+v, but the event is logged at %d (%v)", i, j, rc, idx, ok)
			}
		}
	}
	return logged
}

func streamLastSeq(t *testing.T, tn *testNode) uint64 {
	t.Helper()
	ctx := context.Background()
	s, err := tn.n.Broker.JetStream().Stream(ctx, tn.n.Broker.Stream())
	if err != nil {
		t.Fatal(err)
	}
	info, err := s.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return info.State.LastSeq
}

func verifyLog(t *testing.T, db *store.DB, verifierKey string) {
	t.Helper()
	v := verifierKey
	if _, err := audit.Verify(db, elecMain, v); err != nil {
		t.Errorf("audit.Verify: %v", err)
	}
}

// waitHealthy polls /healthz until it answers 200.
func waitHealthy(t *testing.T, tn *testNode) {
	t.Helper()
	deadline := time.Now().Add(90 * time.Second)
	for {
		h := getHealth(t, tn)
		if h.status == http.StatusOK && h.OK() {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("/healthz still %d after 90 s: %+v", h.status, h.Health)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// TestFullDiskDuringIngest fills the disk that holds the whole data
// directory (Pebble and the embedded JetStream) while submissions come in:
// they get 503 with the reason, never a reset connection; /healthz says
// 503 and why; no submission is logged in part; once the disk has space
// again the ledger resumes by itself, and its log verifies, is the log a
// ledger replaying the stream afresh writes, and opens again.
func TestFullDiskDuringIngest(t *testing.T) {
	disk := filepath.Join(t.TempDir(), "disk")
	mountTmpfs(t, disk, "512m")
	data := filepath.Join(disk, "data")
	logs := &logBuffer{}
	tn := startNode(t, data, node.Config{Logger: slog.New(slog.NewTextHandler(logs, nil))})
	tn.submit(mkEvent(t, elecMain, testManifest("Full disk")))
	const perRequest = 20
	var reqs []sent
	for range 5 {
		r := sendReports(t, tn, perRequest)
		if r.status != http.StatusOK {
			t.Fatalf("before the disk fills: HTTP %d: %s", r.status, r.body)
		}
		reqs = append(reqs, r)
	}
	t.Logf("%d MiB free before filling", freeSpace(t, disk)>>20)

	// Fill the disk while submitting, and go on until submissions are
	// refused after it is full.
	filler := filepath.Join(disk, "filler")
	filled := make(chan error, 1)
	go func() { filled <- fill(filler) }()
	var fillErr error
	isFull := false
	refused := 0
	deadline := time.Now().Add(3 * time.Minute)
	for refused < 5 {
		if time.Now().After(deadline) {
			t.Fatalf("submissions not refused 3 minutes after the disk filled (%d refused)", refused)
		}
		if !isFull {
			select {
			case fillErr = <-filled:
				isFull = true
				t.Logf("disk full: %v; %d MiB free", fillErr, freeSpace(t, disk)>>20)
			default:
			}
		}
		r := sendReports(t, tn, perRequest)
		reqs = append(reqs, r)
		switch r.status {
		case http.StatusOK:
		case http.StatusServiceUnavailable:
			if isFull {
				refused++
			}
			if !strings.Contains(string(r.body), "no space left") {
				t.Errorf("HTTP 503 without the reason: %s", r.body)
			}
		default:
			t.Fatalf("HTTP %d: %s", r.status, r.body)
		}
	}
	if !errors.Is(fillErr, syscall.ENOSPC) {
		t.Fatalf("the filler stopped with %v, not a full disk", fillErr)
	}
	t.Logf("last refusal: %s", reqs[len(reqs)-1].body)
	h := getHealth(t, tn)
	if h.status != http.StatusServiceUnavailable || h.Status != ledger.HealthUnavailable || !strings.Contains(h.Error, "no space left") {
		t.Errorf("/healthz on a full disk: HTTP %d, %+v", h.status, h.Health)
	}
	t.Logf("/healthz: %d %+v", h.status, h.Health)
	checkWhole(t, tn, reqs)

	// Space again: the ledger resumes by itself.
	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	waitHealthy(t, tn)
	for range 3 {
		r := sendReports(t, tn, perRequest)
		if r.status != http.StatusOK {
			t.Fatalf("after the disk has space again: HTTP %d: %s", r.status, r.body)
		}
		reqs = append(reqs, r)
	}
	waitLogged(t, tn.n.Ledger, streamLastSeq(t, tn))
	logged := checkWhole(t, tn, reqs)
	for i, r := range reqs {
		// Answered 503 after it was published: logged once the ledger could.
		if r.status == http.StatusServiceUnavailable && strings.Contains(string(r.body), "the submission was published, but") && logged[i] != len(r.ids) {
			t.Errorf("submission %d was published before the ledger stalled, and is not logged: %s", i, r.body)
		}
	}
	verifyLog(t, tn.n.DB, tn.n.VerifierKey)
	if n := logs.count("the ledger cannot write"); n > 3 {
		t.Errorf("%d log lines of the ledger's failure to write, in minutes", n)
	}
	t.Logf("%d submissions, %d answered 503; log lines of stalls: %d", len(reqs), countStatus(reqs, 503), logs.count("the ledger cannot write"))

	// A ledger replaying the stream afresh writes the same entries.
	want := entries(t, tn.n.Ledger, elecMain)
	tn.close()
	fresh := filepath.Join(t.TempDir(), "replay")
	testledger.CopyDir(t, filepath.Join(data, "jetstream"), filepath.Join(fresh, "jetstream"))
	for _, f := range []string{"ledger.key", "ledger.pub", broker.MonitorKeyFile} {
		testledger.CopyFile(t, filepath.Join(data, f), filepath.Join(fresh, f))
	}
	replay := startNode(t, fresh, node.Config{})
	waitLogged(t, replay.n.Ledger, streamLastSeq(t, replay))
	got := entries(t, replay.n.Ledger, elecMain)
	if len(got) != len(want) {
		t.Errorf("the replay logged %d entries, the ledger %d", len(got), len(want))
	}
	for i := range min(len(got), len(want)) {
		if !bytes.Equal(got[i], want[i]) {
			t.Fatalf("entry %d differs from a replay of the stream:\n%s\nreplay:\n%s", i, want[i], got[i])
		}
	}
	replay.close()

	// Opened again, it verifies.
	again := startNode(t, data, node.Config{})
	if got := len(entries(t, again.n.Ledger, elecMain)); got != len(want) {
		t.Errorf("reopened: %d entries, want %d", got, len(want))
	}
	verifyLog(t, again.n.DB, again.n.VerifierKey)
	again.close()
}

// waitLogged waits until l has applied stream message seq, through stalls.
func waitLogged(t *testing.T, l *ledger.Ledger, seq uint64) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	for {
		err := l.WaitApplied(ctx, seq)
		var ue *ledger.UnavailableError
		switch {
		case err == nil:
			return
		case !errors.As(err, &ue):
			t.Fatalf("waiting for stream message %d: %v", seq, err)
		}
		select { // stalled: it retries by itself
		case <-ctx.Done():
			t.Fatalf("stream message %d not applied within 90 s: %v", seq, err)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func countStatus(reqs []sent, status int) int {
	n := 0
	for _, r := range reqs {
		if r.status == status {
			n++
		}
	}
	return n
}

// TestFullDatabaseDisk fills only the ledger database's disk (a tmpfs on
// data/pebble), so that the stream takes a submission the state machine
// cannot write: it stalls without crashing, answers 503 with the reason,
// says so on /healthz, retries with a bounded log, and resumes by itself
// when space returns. Stalled again, the node closes promptly, and
// opened with space it logs what it stalled on.
func TestFullDatabaseDisk(t *testing.T) {
	data := filepath.Join(t.TempDir(), "data")
	mountTmpfs(t, filepath.Join(data, "pebble"), "320m")
	logs := &logBuffer{}
	tn := startNode(t, data, node.Config{Logger: slog.New(slog.NewTextHandler(logs, nil))})
	tn.submit(mkEvent(t, elecMain, testManifest("Full database disk")))
	reqs := []sent{sendReports(t, tn, 10)}
	if reqs[0].status != http.StatusOK {
		t.Fatalf("HTTP %d: %s", reqs[0].status, reqs[0].body)
	}
	filler := filepath.Join(data, "pebble", "filler")
	if err := fill(filler); !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("filling: %v", err)
	}

	// The edge refuses, naming the store.
	r := sendReports(t, tn, 10)
	reqs = append(reqs, r)
	if r.status != http.StatusServiceUnavailable || !strings.Contains(string(r.body), "no space left for the ledger database (Pebble)") {
		t.Fatalf("submitting on a full database disk: HTTP %d: %s", r.status, r.body)
	}
	// A submission the stream took as the disk filled: the state machine
	// stalls on it.
	var taken []byte // the last submission published straight
	publishTaken := func() (sent, uint64) {
		t.Helper()
		evs, ids := reports(t, 10, 0)
		s := sent{status: http.StatusServiceUnavailable, body: []byte("published straight to the stream"), ids: ids}
		taken = signed(t, evs...)
		seq, err := tn.n.Broker.Publish(context.Background(), broker.Message{Election: elecMain, ID: submissionID(t, taken).String(), Data: taken})
		if err != nil {
			t.Fatal(err)
		}
		return s, seq
	}
	takenSent, seq := publishTaken()
	reqs = append(reqs, takenSent)
	waitStalled := func() health {
		t.Helper()
		deadline := time.Now().Add(60 * time.Second)
		for {
			h := getHealth(t, tn)
			if h.StalledSince != nil {
				return h
			}
			if time.Now().After(deadline) {
				t.Fatalf("not stalled after 60 s: %+v", h.Health)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	h := waitStalled()
	_, raw := tn.do(http.MethodGet, "/healthz", "", nil)
	t.Logf("/healthz while stalled: %s", raw)
	if h.status != http.StatusServiceUnavailable || !strings.Contains(h.Error, "cannot write") || !strings.Contains(h.Error, "no space left for the ledger database (Pebble)") {
		t.Errorf("/healthz of a stalled ledger: HTTP %d, %+v", h.status, h.Health)
	}
	// Resubmitting the taken submission: refused, with the reason.
	if status, body := tn.do(http.MethodPost, "/v1/submissions", "text/plain; charset=utf-8", taken); status != http.StatusServiceUnavailable ||
		!strings.Contains(string(body), "cannot write") || !strings.Contains(string(body), "no space left") {
		t.Errorf("resubmitting while stalled: HTTP %d: %s", status, body)
	}
	time.Sleep(2 * time.Second) // some retries
	if n := logs.count("the ledger cannot write"); n != 1 {
		t.Errorf("%d log lines of the failure to write, want 1:\n%s", n, logs)
	}
	if got := tn.n.Ledger.Position(); got >= seq {
		t.Fatalf("position %d while stalled before %d", got, seq)
	}
	checkWhole(t, tn, reqs)

	// Space again: it resumes by itself.
	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	waitLogged(t, tn.n.Ledger, seq)
	waitHealthy(t, tn)
	if !strings.Contains(logs.String(), "the ledger writes again") {
		t.Errorf("no log line of the resumption:\n%s", logs)
	}
	if logged := checkWhole(t, tn, reqs); logged[2] != len(takenSent.ids) {
		t.Errorf("%d of the taken submission's events logged after resuming", logged[2])
	}
	r = sendReports(t, tn, 10)
	if r.status != http.StatusOK {
		t.Fatalf("after resuming: HTTP %d: %s", r.status, r.body)
	}
	reqs = append(reqs, r)
	verifyLog(t, tn.n.DB, tn.n.VerifierKey)

	// Stalled again, the node closes promptly.
	if err := fill(filler); !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("filling: %v", err)
	}
	takenSent, seq = publishTaken()
	reqs = append(reqs, takenSent)
	waitStalled()
	start := time.Now()
	tn.close()
	if d := time.Since(start); d > 30*time.Second {
		t.Errorf("closing a stalled node took %v", d)
	} else {
		t.Logf("a stalled node closed in %v", d.Round(time.Millisecond))
	}

	// Opened with space, it logs what it stalled on, whole.
	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	again := startNode(t, data, node.Config{})
	waitLogged(t, again.n.Ledger, seq)
	if logged := checkWhole(t, again, reqs); logged[len(reqs)-1] != len(takenSent.ids) {
		t.Errorf("%d of the taken submission's events logged after reopening", logged[len(reqs)-1])
	}
	verifyLog(t, again.n.DB, again.n.VerifierKey)
	again.close()
}

// TestStreamDiskRefusesASubmissionWhole was the "99 of 100" of issue 12:
// the embedded JetStream's disk filling in the middle of an atomic batch.
// A submission is now one stream message, so there are no batches to cut:
// the stream stores a submission whole or not at all. Submissions are
// published straight to JetStream, as if the disk filled between the
// edge's check of its space and the write, until the disk refuses one,
// which leaves the stream with a write error that refuses everything
// after, even once the disk has space. The ledger logs every submission
// whole or not at all; the node says why it takes nothing; once the disk
// has space the node reloads JetStream (a health check does it), and
// takes submissions again.
func TestStreamDiskRefusesASubmissionWhole(t *testing.T) {
	data := filepath.Join(t.TempDir(), "data")
	jsDir := filepath.Join(data, "jetstream")
	mountTmpfs(t, jsDir, "320m")
	logs := &logBuffer{}
	tn := startNode(t, data, node.Config{NoFeed: true, Logger: slog.New(slog.NewTextHandler(logs, nil))})
	tn.submit(mkEvent(t, elecMain, testManifest("A full stream disk")))
	reqs := []sent{sendReports(t, tn, 20)}
	if reqs[0].status != http.StatusOK {
		t.Fatalf("HTTP %d: %s", reqs[0].status, reqs[0].body)
	}

	// Fill the stream's disk to 128 KiB free, then publish submissions of
	// 100 reports (70 KB) until one is refused.
	filler := filepath.Join(jsDir, "filler")
	fillTo(t, filler, jsDir, 128<<10)
	ctx := context.Background()
	refused := -1
	for attempt := 0; attempt < 100 && refused < 0; attempt++ {
		evs, ids := reports(t, 100, int64(attempt))
		s := sent{status: -1, body: []byte("published straight to JetStream"), ids: ids}
		sub := signed(t, evs...)
		m := nats.NewMsg(tn.n.Broker.SubmitSubject(elecMain))
		m.Header.Set(jetstream.MsgIDHeader, submissionID(t, sub).String())
		m.Data = sub
		before := streamLastSeq(t, tn)
		pctx, cancel := context.WithTimeout(ctx, 3*time.Second)
		_, err := tn.n.Broker.JetStream().PublishMsg(pctx, m)
		cancel()
		reqs = append(reqs, s)
		after := streamLastSeq(t, tn)
		switch {
		case err == nil && after == before+1:
			t.Logf("submission %d stored", attempt)
		case err == nil:
			t.Fatalf("submission %d acknowledged, but the stream went from %d to %d messages", attempt, before, after)
		case after != before:
			t.Fatalf("submission %d refused (%v), but the stream went from %d to %d messages", attempt, err, before, after)
		default:
			refused = len(reqs) - 1
			t.Logf("submission %d refused whole: %v", attempt, err)
		}
	}
	if refused < 0 {
		t.Fatal("no submission was refused in 100 attempts")
	}
	// The refused submission is not logged, and the node says why it
	// takes nothing.
	time.Sleep(500 * time.Millisecond)
	if logged := checkWhole(t, tn, reqs); logged[refused] != 0 {
		t.Errorf("%d events of the refused submission are logged", logged[refused])
	}
	h := getHealth(t, tn)
	if h.status != http.StatusServiceUnavailable {
		t.Errorf("/healthz with a full stream disk: HTTP %d, %+v", h.status, h.Health)
	}
	t.Logf("/healthz: %+v", h.Health)
	r := sendReports(t, tn, 20)
	reqs = append(reqs, r)
	if r.status != http.StatusServiceUnavailable || !strings.Contains(string(r.body), "no space left for the stream store (JetStream)") {
		t.Errorf("submitting with a full stream disk: HTTP %d: %s", r.status, r.body)
	}

	// Space again: the node takes submissions, and logs them whole.
	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	waitHealthy(t, tn)
	if !strings.Contains(logs.String(), "reloading the embedded JetStream") {
		t.Errorf("no log line of a JetStream reload:\n%s", logs)
	}
	r = sendReports(t, tn, 20)
	reqs = append(reqs, r)
	if r.status != http.StatusOK {
		t.Fatalf("after the disk has space again: HTTP %d: %s", r.status, r.body)
	}
	waitLogged(t, tn.n.Ledger, streamLastSeq(t, tn))
	if logged := checkWhole(t, tn, reqs); logged[refused] != 0 {
		t.Errorf("%d events of the refused submission are logged", logged[refused])
	}
	verifyLog(t, tn.n.DB, tn.n.VerifierKey)
	tn.close()
	again := startNode(t, data, node.Config{NoFeed: true})
	checkWhole(t, again, reqs)
	verifyLog(t, again.n.DB, again.n.VerifierKey)
	again.close()
}

// fillTo writes a file until the disk of dir has at most leave bytes free.
func fillTo(t *testing.T, path, dir string, leave uint64) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	buf := make([]byte, 4<<20)
	for {
		free := freeSpace(t, dir)
		if free <= leave {
			return
		}
		n := min(uint64(len(buf)), free-leave)
		if _, err := f.Write(buf[:n]); err != nil {
			t.Fatalf("filling to %d bytes free: %v", leave, err)
		}
	}
}

// TestStartOnFullDisk: on a disk without the space the database keeps
// free, the node does not start, at once, and says why; it used to spin in
// Pebble's open, writing errors, deaf to SIGTERM.
func TestStartOnFullDisk(t *testing.T) {
	disk := filepath.Join(t.TempDir(), "disk")
	mountTmpfs(t, disk, "512m")
	data := filepath.Join(disk, "data")
	tn := startNode(t, data, node.Config{})
	tn.submit(mkEvent(t, elecMain, testManifest("Start on a full disk")))
	if r := sendReports(t, tn, 10); r.status != http.StatusOK {
		t.Fatalf("HTTP %d: %s", r.status, r.body)
	}
	tn.close()
	filler := filepath.Join(disk, "filler")
	if err := fill(filler); !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("filling: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	start := time.Now()
	n, err := node.Open(ctx, node.Config{DataDir: data, HTTP: "-", NATSListen: "127.0.0.1:0", Authorities: testkeys.Authorities})
	if err == nil {
		n.Close(ctx)
		t.Fatal("the node opened on a full disk")
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("refusing to open took %v", d)
	}
	var nse *store.NoSpaceError
	if !errors.As(err, &nse) || !strings.Contains(err.Error(), "free space and start again") {
		t.Errorf("opening on a full disk: %v, want a store.NoSpaceError that says what to do", err)
	}
	t.Logf("node.Open on a full disk: %v", err)
	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	again := startNode(t, data, node.Config{})
	if got := len(entries(t, again.n.Ledger, elecMain)); got != 11 {
		t.Errorf("%d entries after starting with space, want 11", got)
	}
	verifyLog(t, again.n.DB, again.n.VerifierKey)
}
