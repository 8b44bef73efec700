package watch_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/google/uuid"
	"golang.org/x/mod/sumdb/note"

	"github.com/election-audit/ledger/checkpoint"
	"github.com/election-audit/ledger/client"
	"github.com/election-audit/ledger/demo"
	"github.com/election-audit/ledger/events"
	"github.com/election-audit/ledger/examples"
	"github.com/election-audit/ledger/internal/testkeys"
	"github.com/election-audit/ledger/node"
	"github.com/election-audit/ledger/store"
	"github.com/election-audit/ledger/watch"
)

const april = examples.GA06AprilElection

// syncBuffer is a bytes.Buffer safe for a watcher and a test to share.
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

// startNode opens a ledger in dir with its HTTP API and embedded NATS on
// loopback ports, which accepts the test authority's elections.
func startNode(t *testing.T, dir string) *node.Node {
	t.Helper()
	return startNodeOf(t, dir, testkeys.Authorities)
}

// startNodeOf is startNode for the elections of other authorities.
func startNodeOf(t *testing.T, dir string, authorities []string) *node.Node {
	t.Helper()
	ctx := context.Background()
	n, err := node.Open(ctx, node.Config{DataDir: dir, HTTP: "127.0.0.1:0", NATSListen: "127.0.0.1:0", Authorities: authorities})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.Close(ctx) })
	return n
}

// sameKeyNode opens a second ledger that signs with the key of the ledger
// in dir: what a compromised or misbehaving operator could run.
func sameKeyNode(t *testing.T, dir string) *node.Node {
	t.Helper()
	other := t.TempDir()
	key, err := os.ReadFile(filepath.Join(dir, "ledger.key"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(other, "ledger.key"), key, 0o600); err != nil {
		t.Fatal(err)
	}
	return startNode(t, other)
}

// history is the April example (manifest and five county reports) and a
// correction of DeKalb's report.
func history(t *testing.T) []*events.Event {
	t.Helper()
	evs, err := examples.GA06April()
	if err != nil {
		t.Fatal(err)
	}
	dekalb := evs[3].Body.(*events.CountReport)
	if dekalb.Unit != "dekalb" {
		t.Fatalf("example event 3 is for %s", dekalb.Unit)
	}
	right := *dekalb
	right.Counts = slices.Clone(dekalb.Counts)
	for i, c := range right.Counts {
		if c.Choice == "karen-handel" && c.VoteType == "election-day" {
			right.Counts[i].Votes += 45
		}
	}
	return append(evs, event(t, &events.Correction{Corrects: evs[3].ID, Reason: "memory card re-read", CountReport: right}))
}

func event(t *testing.T, body events.Body) *events.Event {
	t.Helper()
	id, err := uuid.NewV7()
	if err != nil {
		t.Fatal(err)
	}
	return &events.Event{ID: id, Election: april, Body: body}
}

func certification(t *testing.T) *events.Event {
	return event(t, &events.Certification{By: "the test", Note: "all counted"})
}

// submit signs events as one submission by the test authority (after
// validating them, which puts them in their canonical form) and checks
// that all are accepted.
func submit(t *testing.T, n *node.Node, evs []*events.Event) {
	t.Helper()
	for _, ev := range evs {
		if err := ev.Validate(); err != nil {
			t.Fatal(err)
		}
	}
	rs, err := n.Ledger.Submit(context.Background(), testkeys.MustSign(testkeys.Authority, evs...))
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range rs {
		if r.Verdict != events.Accepted {
			t.Fatalf("event %d: %s: %s", i, r.Verdict, r.Reason)
		}
	}
}

type run struct {
	out, alarm *syncBuffer
	err        error
}

// watchOnce runs a watcher with Once until it is caught up.
func watchOnce(t *testing.T, n *node.Node, stateDir string, opts func(*watch.Config)) run {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	r := run{out: &syncBuffer{}, alarm: &syncBuffer{}}
	cfg := watch.Config{Election: april, Key: n.VerifierKey, Client: httpClient(t, n), StateDir: stateDir,
		Out: r.out, Alarm: r.alarm, Once: true, MaxBackoff: 500 * time.Millisecond}
	if opts != nil {
		opts(&cfg)
	}
	w, err := watch.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	r.err = w.Run(ctx)
	if ctx.Err() != nil {
		t.Fatalf("the watcher did not catch up: %v\n%s", r.err, r.out)
	}
	return r
}

// watchLive starts a watcher without Once, calls then, waits until the
// output contains until, stops it as Ctrl-C does, and returns the output.
func watchLive(t *testing.T, n *node.Node, stateDir string, opts func(*watch.Config), then func(), until string) string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	out := &syncBuffer{}
	cfg := watch.Config{Election: april, Key: n.VerifierKey, Client: httpClient(t, n), StateDir: stateDir, Out: out, Alarm: out}
	if opts != nil {
		opts(&cfg)
	}
	w, err := watch.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	then()
	deadline := time.Now().Add(30 * time.Second)
	for !strings.Contains(out.String(), until) {
		select {
		case err := <-done:
			t.Fatalf("the watcher stopped: %v\n%s", err, out)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("live watcher printed:\n%s", out)
		}
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("stopped watcher: %v", err)
	}
	return out.String()
}

func httpClient(t *testing.T, n *node.Node) *client.Client {
	t.Helper()
	c, err := client.New("http://"+n.HTTPAddr(), nil)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// indexes returns the entry indexes of the readable change lines, in order.
func indexes(out string) []string {
	var got []string
	for _, line := range strings.Split(out, "\n") {
		line = strings.TrimPrefix(line, "!! ")
		if strings.HasPrefix(line, "#") {
			got = append(got, strings.Fields(line)[0])
		}
	}
	return got
}

func checkClean(t *testing.T, r run, want []string, size string) {
	t.Helper()
	if r.err != nil {
		t.Fatalf("watcher: %v\n%s", r.err, r.alarm)
	}
	if r.alarm.String() != "" {
		t.Fatalf("alarm on a clean history:\n%s", r.alarm)
	}
	if got := indexes(r.out.String()); !slices.Equal(got, want) {
		t.Fatalf("printed entries %v, want %v:\n%s", got, want, r.out)
	}
	if size != "" && !strings.Contains(r.out.String(), "== checkpoint "+size+" verified") {
		t.Fatalf("checkpoint %s not reported verified:\n%s", size, r.out)
	}
}

// checkCorrection checks the lines of history's correction: the unit,
// contest, choice and vote type by their names in the manifest, as reports
// print them, and the office that made it.
func checkCorrection(t *testing.T, out string) {
	t.Helper()
	for _, want := range []string{
		"!! #6 ", "count.corrected     by test-authority  CORRECTION  DeKalb County, U.S. Representative, District 6  because \"memory card re-read\"",
		"\n!!        Karen Handel, Election Day 6,168 → 6,213 (+45)\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("correction: no %q in:\n%s", want, out)
		}
	}
	for _, id := range []string{"dekalb", "us-representative-district-6", "karen-handel", "election-day"} {
		if strings.Contains(out, " "+id+" ") {
			t.Errorf("correction: the ID %s where the manifest has a name:\n%s", id, out)
		}
	}
}

// TestWatchCleanHTTP follows a clean history over server-sent events: every
// entry is printed once, in order, the correction with old → new and its
// reason, and no alarm; a second run resumes after the last entry printed.
func TestWatchCleanHTTP(t *testing.T) {
	dir := t.TempDir()
	n := startNode(t, dir)
	submit(t, n, history(t))
	state := t.TempDir()

	r := watchOnce(t, n, state, nil)
	checkClean(t, r, []string{"#0", "#1", "#2", "#3", "#4", "#5", "#6"}, "7")
	checkCorrection(t, r.out.String())
	if !strings.Contains(r.out.String(), "Jon Ossoff ") || !strings.Contains(r.out.String(), "the first checkpoint this watcher accepted") {
		t.Errorf("output:\n%s", r.out)
	}
	t.Logf("output:\n%s", r.out)

	// Live: the watcher follows until stopped (Ctrl-C), and resumes.
	out := watchLive(t, n, state, nil, func() { submit(t, n, []*events.Event{certification(t)}) }, "== checkpoint 8 verified")
	if got := indexes(out); !slices.Equal(got, []string{"#7"}) || !strings.Contains(out, "consistent with 7") ||
		!strings.Contains(out, "election.certified") {
		t.Fatalf("resumed watcher printed %v:\n%s", got, out)
	}

	// JSON lines.
	submit(t, n, []*events.Event{event(t, &events.RecountOrder{By: "a court", Reason: "a petition"})})
	r = watchOnce(t, n, state, func(c *watch.Config) { c.JSON = true })
	lines := strings.Split(strings.TrimSpace(r.out.String()), "\n")
	if r.err != nil || len(lines) != 2 || !strings.HasPrefix(lines[0], `{"kind":"change","election":"ga06-2017-04","index":8,`) ||
		!strings.HasPrefix(lines[1], `{"kind":"checkpoint","election":"ga06-2017-04","size":9,`) || !strings.Contains(lines[1], `"previous":8`) {
		t.Fatalf("--json: %v\n%s", r.err, r.out)
	}
}

// TestWatchCleanNATS follows the same history on the NATS change feed with
// a durable consumer, and resumes.
func TestWatchCleanNATS(t *testing.T) {
	n := startNode(t, t.TempDir())
	submit(t, n, history(t))
	// Without the monitor's key the embedded server refuses the watcher:
	// an error, not a reconnection loop.
	w, err := watch.New(watch.Config{Election: april, Key: n.VerifierKey, Client: httpClient(t, n), StateDir: t.TempDir(),
		Out: &syncBuffer{}, Alarm: &syncBuffer{}, Feed: watch.NATS{URL: n.Broker.MonitorURL()}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	err = w.Run(ctx)
	cancel()
	w.Close()
	if err == nil || !strings.Contains(err.Error(), "refused the credentials") {
		t.Fatalf("following the NATS feed without the monitor key: %v", err)
	}
	state := t.TempDir()
	viaNATS := func(c *watch.Config) {
		c.Feed = watch.NATS{URL: n.Broker.MonitorURL(), NKeyFile: n.Broker.MonitorKeyFile()}
	}
	r := watchOnce(t, n, state, viaNATS)
	checkClean(t, r, []string{"#0", "#1", "#2", "#3", "#4", "#5", "#6"}, "7")
	checkCorrection(t, r.out.String())

	submit(t, n, []*events.Event{certification(t)})
	r = watchOnce(t, n, state, viaNATS)
	checkClean(t, r, []string{"#7"}, "8")

	// Live, on the feed.
	out := watchLive(t, n, state, viaNATS, func() {
		submit(t, n, []*events.Event{event(t, &events.RecountOrder{By: "a court", Reason: "a petition"})})
		time.Sleep(100 * time.Millisecond)
		submit(t, n, []*events.Event{certification(t)})
	}, "== checkpoint 10 verified")
	if got := indexes(out); !slices.Equal(got, []string{"#8", "#9"}) {
		t.Fatalf("live on NATS: printed %v:\n%s", got, out)
	}

	// A lost state (and a consumer that has moved on): the watcher fetches
	// what the consumer skips over HTTP and prints everything again.
	r = watchOnce(t, n, t.TempDir(), viaNATS)
	checkClean(t, r, []string{"#0", "#1", "#2", "#3", "#4", "#5", "#6", "#7", "#8", "#9"}, "10")
}

// TestWatchFork serves the watcher a forked history: a second ledger with
// the same signing key and another history of the same election. The
// watcher raises the alarm, keeps both checkpoints, and raises it again on
// the next run; a shorter history raises a rollback alarm.
func TestWatchFork(t *testing.T) {
	dirA := t.TempDir()
	a := startNode(t, dirA)
	submit(t, a, history(t))
	state := t.TempDir()
	checkClean(t, watchOnce(t, a, state, nil), []string{"#0", "#1", "#2", "#3", "#4", "#5", "#6"}, "7")
	accepted, err := os.ReadFile(watch.StatePath(state, april))
	if err != nil {
		t.Fatal(err)
	}

	for _, tc := range []struct {
		name  string
		evs   func() []*events.Event
		kind  watch.Kind
		size  uint64
		proof bool
	}{
		{"longer", func() []*events.Event { return append(history(t), certification(t)) }, watch.KindFork, 8, true},
		{"same size", func() []*events.Event { return history(t) }, watch.KindFork, 7, false},
		{"shorter", func() []*events.Event { return history(t)[:6] }, watch.KindRollback, 6, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := sameKeyNode(t, dirA)
			if b.VerifierKey != a.VerifierKey {
				t.Fatal("the second ledger has another key")
			}
			submit(t, b, tc.evs())
			for try := range 2 {
				before := entriesOf(t, state)
				viaNATS := func(c *watch.Config) {
					if try == 1 {
						c.Feed = watch.NATS{URL: b.Broker.MonitorURL(), NKeyFile: b.Broker.MonitorKeyFile()}
					}
				}
				r := watchOnce(t, b, state, viaNATS)
				var alarm *watch.AlarmError
				if !errors.As(r.err, &alarm) {
					t.Fatalf("run %d: no alarm: %v\n%s", try, r.err, r.out)
				}
				if alarm.Kind != tc.kind || alarm.Accepted.Size != 7 || alarm.Presented == nil || alarm.Presented.Size != tc.size {
					t.Fatalf("run %d: alarm %+v", try, alarm)
				}
				if !strings.Contains(r.alarm.String(), "!! ALARM: "+strings.ToUpper(string(tc.kind))) || !strings.Contains(r.alarm.String(), "accepted before:  size 7") {
					t.Fatalf("run %d: alarm text:\n%s", try, r.alarm)
				}
				if got := indexes(r.out.String()); len(got) != 0 {
					t.Fatalf("run %d: printed entries of the forked history: %v", try, got)
				}
				acc, err1 := os.ReadFile(filepath.Join(alarm.Evidence, "accepted.checkpoint"))
				pres, err2 := os.ReadFile(filepath.Join(alarm.Evidence, "presented.checkpoint"))
				_, err3 := os.Stat(filepath.Join(alarm.Evidence, "alarm.json"))
				if err := errors.Join(err1, err2, err3); err != nil {
					t.Fatal(err)
				}
				_, cpB, _, _ := b.Ledger.Committed(april)
				if !bytes.Equal(pres, cpB) || !bytes.Contains(accepted, []byte(strings.ReplaceAll(string(acc), "\n", `\n`))) {
					t.Fatalf("evidence: accepted\n%s\npresented\n%s", acc, pres)
				}
				if _, err := os.Stat(filepath.Join(alarm.Evidence, "proof.json")); (err == nil) != tc.proof {
					t.Errorf("proof.json: %v", err)
				}
				if after := entriesOf(t, state); after != before {
					t.Fatalf("the alarm changed the state:\n%s\n%s", before, after)
				}
			}
		})
	}
	// The honest ledger still checks out.
	checkClean(t, watchOnce(t, a, state, nil), nil, "")

	// A fork on the feed, mid-run: the change stream comes from a forked
	// ledger while proofs come from the honest one.
	submit(t, a, []*events.Event{certification(t)})
	b := sameKeyNode(t, dirA)
	submit(t, b, append(history(t), certification(t)))
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	out := &syncBuffer{}
	w, err := watch.New(watch.Config{Election: april, Key: a.VerifierKey, Client: httpClient(t, a), Feed: watch.SSE{Client: httpClient(t, b)},
		StateDir: state, Out: out, Alarm: out})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	err = w.Run(ctx)
	var alarm *watch.AlarmError
	if !errors.As(err, &alarm) || alarm.Kind != watch.KindFork || alarm.Accepted.Size != 8 || alarm.Presented.Size != 8 ||
		!strings.Contains(out.String(), "== checkpoint 8 verified") || !strings.Contains(out.String(), "!! ALARM: FORK") {
		t.Fatalf("fork on the feed: %v\n%s", err, out)
	}
}

func entriesOf(t *testing.T, state string) string {
	t.Helper()
	b, err := os.ReadFile(watch.StatePath(state, april))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestWatchWrongKey: a checkpoint signed by another key raises the
// signature alarm.
func TestWatchWrongKey(t *testing.T) {
	a := startNode(t, t.TempDir())
	b := startNode(t, t.TempDir())
	submit(t, b, history(t)[:2])
	r := watchOnce(t, b, t.TempDir(), func(c *watch.Config) { c.Key = a.VerifierKey })
	var alarm *watch.AlarmError
	if !errors.As(r.err, &alarm) || alarm.Kind != watch.KindSignature || alarm.Presented == nil || alarm.Presented.Size != 2 {
		t.Fatalf("alarm %+v: %v", alarm, r.err)
	}
}

// TestWatchStateLocked: a second watcher of the same election and state
// directory is refused while the first holds it, and not after it is
// closed; another election's state is independent.
func TestWatchStateLocked(t *testing.T) {
	_, vkey, err := note.GenerateKey(nil, "ledger.test")
	if err != nil {
		t.Fatal(err)
	}
	c, err := client.New("http://127.0.0.1:1", nil)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	open := func(election string) (*watch.Watcher, error) {
		return watch.New(watch.Config{Election: election, Key: vkey, Client: c, StateDir: dir})
	}
	w1, err := open(april)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := open(april); err == nil || !strings.Contains(err.Error(), "another watcher is using the state") {
		t.Fatalf("a second watcher of the same state: %v", err)
	}
	other, err := open("another-election")
	if err != nil {
		t.Fatalf("another election's watcher: %v", err)
	}
	other.Close()
	if err := w1.Close(); err != nil {
		t.Fatal(err)
	}
	w2, err := open(april)
	if err != nil {
		t.Fatalf("after the first closed: %v", err)
	}
	w2.Close()
}

// TestWatchDemo watches the April night of `ledger demo` over server-sent
// events while it is replayed: DeKalb's mistyped report and its
// correction show as old → new with the reason.
func TestWatchDemo(t *testing.T) {
	if testing.Short() {
		t.Skip("replays the demo")
	}
	keys, err := demo.NewKeys()
	if err != nil {
		t.Fatal(err)
	}
	n := startNodeOf(t, t.TempDir(), []string{keys.Authority.Verifier})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if _, err := demo.Run(ctx, demo.Config{Ledger: n.Ledger, DB: n.DB, Key: n.VerifierKey, Keys: keys, Out: io.Discard}); err != nil {
		t.Fatal(err)
	}
	size, _, _, err := n.Ledger.Committed(april)
	if err != nil {
		t.Fatal(err)
	}
	r := watchOnce(t, n, t.TempDir(), nil)
	want := make([]string, size)
	for i := range want {
		want[i] = "#" + strconv.FormatUint(uint64(i), 10)
	}
	checkClean(t, r, want, strconv.FormatUint(size, 10))
	// Each county's office signs its own reports; the authority the rest.
	for _, line := range strings.Split(r.out.String(), "\n") {
		f := strings.Fields(strings.TrimPrefix(line, "!! "))
		if len(f) < 5 || !strings.HasPrefix(f[0], "#") {
			continue
		}
		office := f[4]
		switch typ := f[2]; {
		case f[3] != "by":
			t.Errorf("no office: %q", line)
		case typ == "count.reported" && office != strings.ToLower(f[5])+"-elections": // "Cobb County, …" by cobb-elections
			t.Errorf("a report for %s by %s: %q", f[5], office, line)
		case typ == "election.defined" && office != "ga-sos":
			t.Errorf("the manifest by %s: %q", office, line)
		}
	}
	var corr []string
	for _, line := range strings.Split(r.out.String(), "\n") {
		if strings.HasPrefix(line, "!!") {
			corr = append(corr, line)
		}
	}
	// Names as the dashboard shows them: "DeKalb County, U.S.
	// Representative, District 6 … Jon Ossoff, Election Day 8,605 → 8,650".
	if len(corr) != 2 || !strings.Contains(corr[0], "count.corrected     by dekalb-elections  CORRECTION  DeKalb County, U.S. Representative, District 6  because ") ||
		!strings.Contains(corr[0], "data entry error") || corr[1] != "!!        Jon Ossoff, Election Day 8,605 → 8,650 (+45)" {
		t.Fatalf("the correction:\n%s", strings.Join(corr, "\n"))
	}
	t.Logf("%s", strings.Join(corr, "\n"))
}

// TestWatchOrigins: every line names the office that signed the entry's
// submission, and every entry is held to that submission. A ledger whose
// stored submission of one entry was altered, or lost, raises the
// invalid-entry alarm naming that entry, for a new watcher and for one
// that printed it before; the entries before it are printed, it is not.
func TestWatchOrigins(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	open := func() *node.Node {
		n, err := node.Open(ctx, node.Config{DataDir: dir, HTTP: "127.0.0.1:0", NATSListen: "127.0.0.1:0", Authorities: testkeys.Authorities})
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	n := open()
	// The April example by the authority (entries 0-5); DeKalb's office
	// registered (6) and correcting its own report (7).
	evs := history(t)
	submit(t, n, evs[:6])
	dekalb := testkeys.New("dekalb-elections")
	submit(t, n, []*events.Event{event(t, &events.KeyRegistration{Key: dekalb.Verifier, Units: []string{"dekalb"}})})
	if err := evs[6].Validate(); err != nil {
		t.Fatal(err)
	}
	rs, err := n.Ledger.Submit(ctx, testkeys.MustSign(dekalb, evs[6]))
	if err != nil || len(rs) != 1 || rs[0].Verdict != events.Accepted {
		t.Fatalf("DeKalb's correction: %v %+v", err, rs)
	}

	state := t.TempDir()
	r := watchOnce(t, n, state, nil)
	checkClean(t, r, []string{"#0", "#1", "#2", "#3", "#4", "#5", "#6", "#7"}, "8")
	lines := map[string]string{}
	for _, line := range strings.Split(r.out.String(), "\n") {
		if f := strings.Fields(strings.TrimPrefix(line, "!! ")); len(f) > 0 && strings.HasPrefix(f[0], "#") {
			lines[f[0]] = line
		}
	}
	for i, want := range []string{
		"election.defined    by test-authority  ", "count.reported      by test-authority  Cobb County, U.S. Representative, District 6: Jon Ossoff ", "", "", "", "",
		"key.registered      by test-authority  KEY dekalb-elections+", "count.corrected     by dekalb-elections  CORRECTION  DeKalb County, U.S. Representative, District 6  because ",
	} {
		if line := lines["#"+strconv.Itoa(i)]; !strings.Contains(line, want) || !strings.Contains(line, " by ") {
			t.Errorf("entry %d: no %q in %q", i, want, line)
		}
	}
	if !strings.HasSuffix(lines["#6"], " may report for DeKalb County") {
		t.Errorf("the registration: %q", lines["#6"])
	}
	r = watchOnce(t, n, t.TempDir(), func(c *watch.Config) { c.JSON = true })
	if r.err != nil || !strings.Contains(r.out.String(), `"index":7,`) ||
		!strings.Contains(r.out.String(), `"verdict":"accepted","office":"dekalb-elections","signer":"`+dekalb.Verifier+`"`) {
		t.Fatalf("--json: %v\n%s", r.err, r.out)
	}
	if err := n.Close(ctx); err != nil {
		t.Fatal(err)
	}

	// The stored submissions of entry 7, then of entries 0-5, as an
	// attacker with the disk but not the signing keys could change them.
	tamper := func(index uint64, change func(db *pebble.DB, k []byte)) {
		t.Helper()
		db, err := store.Open(filepath.Join(dir, "pebble"))
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		data, err := db.Entry(april, index)
		if err != nil {
			t.Fatal(err)
		}
		en, err := events.DecodeEntry(data)
		if err != nil {
			t.Fatal(err)
		}
		k := append(append(append([]byte{'u'}, april...), 0), en.Submission.SHA256[:]...) // docs/storage.md
		change(db.Pebble(), k)
	}
	for _, tc := range []struct {
		name   string
		index  uint64
		change func(db *pebble.DB, k []byte)
		want   string
		served bool // the evidence holds the bytes served
	}{
		{"altered", 7, func(db *pebble.DB, k []byte) {
			v, closer, err := db.Get(k)
			if err != nil {
				t.Fatal(err)
			}
			b := bytes.Clone(v)
			closer.Close()
			b[len(b)-10] ^= 0x01 // in its signature
			if err := db.Set(k, b, pebble.Sync); err != nil {
				t.Fatal(err)
			}
		}, "the submission was altered", true},
		{"lost", 0, func(db *pebble.DB, k []byte) {
			if err := db.Delete(k, pebble.Sync); err != nil {
				t.Fatal(err)
			}
		}, "is missing", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tamper(tc.index, tc.change)
			n := open()
			defer n.Close(ctx)
			for _, st := range []string{t.TempDir(), state} { // a new watcher, and the one that printed it
				before, _ := os.ReadFile(watch.StatePath(st, april))
				r := watchOnce(t, n, st, nil)
				var alarm *watch.AlarmError
				if !errors.As(r.err, &alarm) || alarm.Kind != watch.KindInvalidEntry {
					t.Fatalf("no invalid-entry alarm: %v\n%s%s", r.err, r.out, r.alarm)
				}
				prefix := "entry " + strconv.FormatUint(tc.index, 10) + ": "
				if !strings.HasPrefix(alarm.Detail, prefix) || !strings.Contains(alarm.Detail, tc.want) ||
					!strings.Contains(r.alarm.String(), "!! ALARM: INVALID-ENTRY") || !strings.Contains(r.alarm.String(), tc.want) {
					t.Fatalf("alarm %q, want %q…%q:\n%s", alarm.Detail, prefix, tc.want, r.alarm)
				}
				if st != state {
					var want []string
					for i := range tc.index {
						want = append(want, "#"+strconv.FormatUint(i, 10))
					}
					if got := indexes(r.out.String()); !slices.Equal(got, want) {
						t.Errorf("printed %v, want %v", got, want)
					}
				} else if got := indexes(r.out.String()); len(got) != 0 {
					t.Errorf("the resumed watcher printed %v", got)
				}
				if after, _ := os.ReadFile(watch.StatePath(st, april)); st == state && !bytes.Equal(after, before) {
					t.Errorf("the alarm changed the state")
				}
				entry, err := os.ReadFile(filepath.Join(alarm.Evidence, "entry-"+strconv.FormatUint(tc.index, 10)+".json"))
				if err != nil || !bytes.HasPrefix(entry, []byte(`{"v":2,"index":`+strconv.FormatUint(tc.index, 10)+`,`)) {
					t.Errorf("evidence: the entry: %v %q", err, entry)
				}
				sub, err := os.ReadFile(filepath.Join(alarm.Evidence, "entry-"+strconv.FormatUint(tc.index, 10)+".submission"))
				if tc.served != (err == nil) || (tc.served && !bytes.HasPrefix(sub, []byte("election-audit/ledger/submission/v1\n"))) {
					t.Errorf("evidence: the submission served: %v %q", err, sub)
				}
				t.Logf("%s", r.alarm)
			}
		})
	}
}

// rotated serves n's API as if its operator had changed the ledger's key:
// the latest checkpoint signed again with a new key of the same name (under
// the log's origin), which GET /v1/key serves (and the election's log key,
// GET /v1/elections/{election}/key). It returns a client of it and the new
// ledger key.
func rotated(t *testing.T, n *node.Node) (*client.Client, string) {
	t.Helper()
	k, err := checkpoint.LoadOrCreateKey(t.TempDir(), node.DefaultName)
	if err != nil {
		t.Fatal(err)
	}
	vkey := k.VerifierKey()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		election, _, _ := strings.Cut(strings.TrimPrefix(r.URL.Path, "/v1/elections/"), "/")
		switch {
		case r.URL.Path == "/v1/key":
			io.WriteString(w, vkey+"\n")
		case strings.HasSuffix(r.URL.Path, "/key"):
			io.WriteString(w, k.LogKey(election)+"\n")
		case strings.HasSuffix(r.URL.Path, "/checkpoint"):
			rec := httptest.NewRecorder()
			n.Handler.ServeHTTP(rec, r)
			old, _, err := checkpoint.LogVerifier(n.VerifierKey, election)
			if err != nil {
				t.Errorf("rotated: %v", err)
				return
			}
			cp, err := note.Open(rec.Body.Bytes(), note.VerifierList(old))
			if err != nil {
				t.Errorf("rotated: %v", err)
				return
			}
			signed, err := note.Sign(&note.Note{Text: cp.Text}, k.LogSigner(election))
			if err != nil {
				t.Errorf("rotated: %v", err)
				return
			}
			w.Write(signed)
		default:
			n.Handler.ServeHTTP(w, r)
		}
	}))
	t.Cleanup(srv.Close)
	c, err := client.New(srv.URL, nil)
	if err != nil {
		t.Fatal(err)
	}
	return c, vkey
}

// TestWatchKeyChange: a ledger that no longer signs with the key the
// state was kept with raises the key-changed alarm, whether the run is
// given the new key (as --trust-server-key fetches it) or still the old
// one, and keeps both keys and both checkpoints as evidence; the state is
// left as it was. Naming the new key (AcceptNewKey) still holds its
// checkpoints to the accepted one: a rewritten history under a new key is
// a fork, a rotation that extends the history is accepted, and the state
// keeps the new key from then on.
func TestWatchKeyChange(t *testing.T) {
	dirA := t.TempDir()
	a := startNode(t, dirA)
	submit(t, a, history(t))
	state := t.TempDir()
	checkClean(t, watchOnce(t, a, state, nil), []string{"#0", "#1", "#2", "#3", "#4", "#5", "#6"}, "7")
	oldKey := a.VerifierKey
	before := entriesOf(t, state)
	// The watcher holds each key as the election's log key, named by its
	// origin, whichever form it was given.
	logKey := func(vkey string) string {
		t.Helper()
		lk, err := checkpoint.LogKey(vkey, april)
		if err != nil {
			t.Fatal(err)
		}
		return lk
	}
	if !strings.Contains(before, `"key": "`+logKey(oldKey)+`"`) && !strings.Contains(before, `"key":"`+logKey(oldKey)+`"`) {
		t.Fatalf("the state does not keep the log key %s:\n%s", logKey(oldKey), before)
	}

	// Another ledger, another key, another history of the election.
	c := startNode(t, t.TempDir())
	submit(t, c, append(history(t), certification(t)))
	keyAlarm := func(t *testing.T, r run, newKey string) {
		t.Helper()
		var alarm *watch.AlarmError
		if !errors.As(r.err, &alarm) || alarm.Kind != watch.KindKeyChanged || alarm.Accepted.Size != 7 || alarm.Presented == nil || alarm.Presented.Size != 8 {
			t.Fatalf("no key-changed alarm: %v\n%s%s", r.err, r.out, r.alarm)
		}
		if !strings.Contains(r.alarm.String(), "!! ALARM: KEY-CHANGED") || !strings.Contains(alarm.Detail, "--accept-key") ||
			!strings.Contains(alarm.Detail, logKey(oldKey)) || !strings.Contains(alarm.Detail, logKey(newKey)) {
			t.Fatalf("alarm text:\n%s", r.alarm)
		}
		for name, want := range map[string]string{"accepted-key.pub": logKey(oldKey) + "\n", "new-key.pub": logKey(newKey) + "\n"} {
			if b, err := os.ReadFile(filepath.Join(alarm.Evidence, name)); err != nil || string(b) != want {
				t.Errorf("evidence %s: %q, %v", name, b, err)
			}
		}
		for _, name := range []string{"accepted.checkpoint", "presented.checkpoint", "alarm.json"} {
			if _, err := os.Stat(filepath.Join(alarm.Evidence, name)); err != nil {
				t.Error(err)
			}
		}
		if got := indexes(r.out.String()); len(got) != 0 {
			t.Errorf("printed %v", got)
		}
		if after := entriesOf(t, state); after != before {
			t.Fatalf("the alarm changed the state:\n%s\n%s", before, after)
		}
	}
	t.Run("new key given", func(t *testing.T) {
		for range 2 {
			keyAlarm(t, watchOnce(t, c, state, func(cfg *watch.Config) { cfg.Key = c.VerifierKey }), c.VerifierKey)
			keyAlarm(t, watchOnce(t, c, state, func(cfg *watch.Config) { cfg.Key = logKey(c.VerifierKey) }), c.VerifierKey)
		}
	})
	t.Run("old key given", func(t *testing.T) {
		keyAlarm(t, watchOnce(t, c, state, nil), c.VerifierKey)
	})
	t.Run("new key named, history rewritten", func(t *testing.T) {
		r := watchOnce(t, c, state, func(cfg *watch.Config) { cfg.Key, cfg.AcceptNewKey = c.VerifierKey, true })
		var alarm *watch.AlarmError
		if !errors.As(r.err, &alarm) || alarm.Kind != watch.KindFork || alarm.Accepted.Size != 7 || alarm.Presented.Size != 8 {
			t.Fatalf("no fork alarm: %v\n%s%s", r.err, r.out, r.alarm)
		}
		if after := entriesOf(t, state); after != before {
			t.Fatalf("the alarm changed the state")
		}
	})

	// The operator of A changes its key; the log goes on.
	submit(t, a, []*events.Event{certification(t)})
	rc, newKey := rotated(t, a)
	viaRotated := func(key string, accept bool) func(*watch.Config) {
		return func(cfg *watch.Config) { cfg.Client, cfg.Key, cfg.AcceptNewKey = rc, key, accept }
	}
	t.Run("rotated, not named", func(t *testing.T) {
		keyAlarm(t, watchOnce(t, a, state, viaRotated(newKey, false)), newKey)
		keyAlarm(t, watchOnce(t, a, state, viaRotated(oldKey, false)), newKey)
	})
	t.Run("rotated, another key named", func(t *testing.T) {
		r := watchOnce(t, a, state, viaRotated(c.VerifierKey, true))
		var alarm *watch.AlarmError
		if !errors.As(r.err, &alarm) || alarm.Kind != watch.KindSignature {
			t.Fatalf("no signature alarm: %v\n%s%s", r.err, r.out, r.alarm)
		}
	})
	t.Run("rotated, another election's log key named", func(t *testing.T) {
		other, err := checkpoint.LogKey(newKey, "ga06-2017-06")
		if err != nil {
			t.Fatal(err)
		}
		_, err = watch.New(watch.Config{Election: april, Key: other, AcceptNewKey: true, Client: rc, StateDir: t.TempDir()})
		if err == nil || !strings.Contains(err.Error(), "is the key of log ledger.local/ga06-2017-06, not of ledger.local/"+april) {
			t.Fatalf("another election's log key: %v", err)
		}
	})
	// The new key named as the election's log key: the same as naming the
	// ledger key it derives from.
	r := watchOnce(t, a, state, viaRotated(logKey(newKey), true))
	checkClean(t, r, []string{"#7"}, "8")
	if st := entriesOf(t, state); !strings.Contains(st, logKey(newKey)) || strings.Contains(st, logKey(oldKey)) {
		t.Fatalf("the state does not keep the new key:\n%s", st)
	}
	checkClean(t, watchOnce(t, a, state, viaRotated(newKey, false)), nil, "")
	// The state's key now is the new one: the old one is a wrong key, as
	// the ledger still signs with the state's.
	r = watchOnce(t, a, state, viaRotated(oldKey, false))
	var alarm *watch.AlarmError
	if r.err == nil || errors.As(r.err, &alarm) || !strings.Contains(r.err.Error(), "the ledger still signs with it") {
		t.Fatalf("the old key after the rotation: %v", r.err)
	}
}

// TestWatchEarlierState: a state kept by a version of the watcher before
// log keys holds the ledger key, and a checkpoint the ledger signed under
// its name. It goes on working, given either form of the key: the watcher
// derives the log key, checks the ledger's new checkpoints with it, and
// keeps the log key from then on.
func TestWatchEarlierState(t *testing.T) {
	for _, form := range []string{"ledger key", "log key"} {
		t.Run(strings.ReplaceAll(form, " ", "_"), func(t *testing.T) {
			dir := t.TempDir()
			n := startNode(t, dir)
			submit(t, n, history(t))
			k, err := checkpoint.LoadOrCreateKey(dir, node.DefaultName)
			if err != nil {
				t.Fatal(err)
			}
			logKey := k.LogKey(april)
			key := n.VerifierKey
			if form == "log key" {
				key = logKey
			}
			state := t.TempDir()
			checkClean(t, watchOnce(t, n, state, nil), []string{"#0", "#1", "#2", "#3", "#4", "#5", "#6"}, "7")

			// The state as the earlier version wrote it.
			path := watch.StatePath(state, april)
			b, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			var st watch.State
			if err := json.Unmarshal(b, &st); err != nil {
				t.Fatal(err)
			}
			if st.Key != logKey {
				t.Fatalf("the state keeps %s, want the log key %s", st.Key, logKey)
			}
			v, origin, err := checkpoint.LogVerifier(logKey, april)
			if err != nil {
				t.Fatal(err)
			}
			cp, err := checkpoint.Open([]byte(st.Checkpoint), origin, v)
			if err != nil {
				t.Fatal(err)
			}
			old, err := checkpoint.SignWith(k.LedgerSigner(), origin, cp.Size, cp.Root)
			if err != nil {
				t.Fatal(err)
			}
			st.Key, st.Checkpoint = n.VerifierKey, string(old)
			if b, err = json.MarshalIndent(&st, "", "  "); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(path, append(b, '\n'), 0o644); err != nil {
				t.Fatal(err)
			}

			// The log grows; the watcher checks the new checkpoint, signed
			// under the log key, against the one the earlier state
			// accepted under the ledger name.
			submit(t, n, []*events.Event{certification(t)})
			checkClean(t, watchOnce(t, n, state, func(cfg *watch.Config) { cfg.Key = key }), []string{"#7"}, "8")
			if got := entriesOf(t, state); !strings.Contains(got, `"key": "`+logKey+`"`) || strings.Contains(got, "\\n\\n— ledger.local ") {
				t.Fatalf("the state does not keep the log key and its checkpoint:\n%s", got)
			}
			checkClean(t, watchOnce(t, n, state, nil), nil, "")
		})
	}
}

// TestWatchOnceTimeout: with Once, a ledger that is down from the start,
// goes away after the first answer, or stops answering, ends the run with
// ErrTimeout after Timeout without progress, instead of retrying forever.
func TestWatchOnceTimeout(t *testing.T) {
	n := startNode(t, t.TempDir())
	submit(t, n, history(t))

	// A port nothing listens on.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	down := "http://" + l.Addr().String()
	l.Close()

	// A server that answers the latest checkpoint, then goes away.
	var gone atomic.Bool
	var away *httptest.Server
	away = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if gone.Load() {
			panic(http.ErrAbortHandler)
		}
		n.Handler.ServeHTTP(w, r)
		if strings.HasSuffix(r.URL.Path, "/checkpoint") {
			gone.Store(true)
			go away.Close()
		}
	}))
	defer away.Close()

	// A server that accepts requests and never answers.
	stop := make(chan struct{})
	hang := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-stop:
		}
	}))
	defer hang.Close()
	defer close(stop)

	for _, tc := range []struct {
		name, url, want, done string
	}{
		{"down", down, "couldn't reach the ledger", "nothing was verified"},
		{"going away", away.URL, "couldn't reach the ledger", "0 of the 7 entries of the signed checkpoint accepted were checked"},
		{"not answering", hang.URL, "the ledger did not answer", "nothing was verified"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := client.New(tc.url, nil)
			if err != nil {
				t.Fatal(err)
			}
			out := &syncBuffer{}
			w, err := watch.New(watch.Config{Election: april, Key: n.VerifierKey, Client: c, StateDir: t.TempDir(), Out: out, Alarm: out,
				Once: true, Timeout: time.Second, MaxBackoff: 200 * time.Millisecond})
			if err != nil {
				t.Fatal(err)
			}
			defer w.Close()
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			start := time.Now()
			err = w.Run(ctx)
			took := time.Since(start)
			if ctx.Err() != nil || !errors.Is(err, watch.ErrTimeout) || !strings.Contains(err.Error(), "could not check the ledger: no progress with "+april+" in 1s") ||
				!strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), tc.done) {
				t.Fatalf("after %s: %v", took, err)
			}
			if took < time.Second || took > 10*time.Second {
				t.Errorf("gave up after %s, want about 1s", took)
			}
			if got := indexes(out.String()); len(got) != 0 {
				t.Errorf("printed %v", got)
			}
			t.Logf("after %s: %v", took.Round(time.Millisecond), err)
		})
	}

	// A ledger that answers slowly but steadily is not given up on: the
	// deadline is on progress, not on the run.
	steady := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(250 * time.Millisecond)
		n.Handler.ServeHTTP(w, r)
	}))
	defer steady.Close()
	c, err := client.New(steady.URL, nil)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	r := watchOnce(t, n, t.TempDir(), func(cfg *watch.Config) { cfg.Client, cfg.Timeout = c, 400*time.Millisecond })
	checkClean(t, r, []string{"#0", "#1", "#2", "#3", "#4", "#5", "#6"}, "7")
	if took := time.Since(start); took < 400*time.Millisecond {
		t.Errorf("the run took %s: not longer than the timeout", took)
	}
}

// TestWatchUnknownElection: an election the ledger does not have is an
// error that lists the ones it has.
func TestWatchUnknownElection(t *testing.T) {
	n := startNode(t, t.TempDir())
	submit(t, n, history(t)[:1])
	r := watchOnce(t, n, t.TempDir(), func(cfg *watch.Config) { cfg.Election = "ga06-2017-4" })
	if r.err == nil || !strings.Contains(r.err.Error(), `unknown election "ga06-2017-4"; the elections it has: ga06-2017-04 (`) {
		t.Fatalf("unknown election: %v", r.err)
	}
	empty := startNode(t, t.TempDir())
	r = watchOnce(t, empty, t.TempDir(), nil)
	if r.err == nil || !strings.Contains(r.err.Error(), `unknown election "ga06-2017-04"; the ledger has no elections yet`) {
		t.Fatalf("no elections: %v", r.err)
	}
}

// TestWatchManifestInParts follows an election whose manifest is in parts
// (entries 0 to N-1): each part is printed and checked, the reports after
// it fold from the whole manifest, and a second run, which folds the
// entries printed before again, resumes cleanly.
func TestWatchManifestInParts(t *testing.T) {
	n := startNode(t, t.TempDir())
	m := &events.Manifest{Name: "Parts", Date: "2017-04-18", Authority: testkeys.Authority.Verifier,
		VoteTypes: []events.VoteType{{ID: "day", Name: "Election Day"}},
		Units:     []events.Unit{{ID: "ga", Name: "Georgia", Kind: "state"}}}
	for i := range 1500 {
		m.Units = append(m.Units, events.Unit{ID: fmt.Sprintf("p%04d", i), Name: fmt.Sprintf("Precinct number %d of the state", i), Kind: "precinct", Parent: "ga"})
	}
	m.Contests = []events.Contest{{ID: "gov", Name: "Governor", VoteFor: 1, Choices: []events.Choice{{ID: "x", Name: "Xavier X"}, {ID: "y", Name: "Yolanda Y"}}}}
	evs, err := events.SplitManifest(event(t, m))
	if err != nil {
		t.Fatal(err)
	}
	k := len(evs)
	if k < 2 {
		t.Fatalf("the manifest is in %d event", k)
	}
	report := func(unit string, x, y int64) *events.Event {
		return event(t, &events.CountReport{Unit: unit, Contest: "gov", Source: events.Source{Operator: "test"},
			Counts: []events.Count{{Choice: "x", VoteType: "day", Votes: x}, {Choice: "y", VoteType: "day", Votes: y}}})
	}
	submit(t, n, append(evs, report("p0007", 40, 2)))
	state := t.TempDir()
	r := watchOnce(t, n, state, nil)
	var want []string
	for i := range k + 1 {
		want = append(want, fmt.Sprintf("#%d", i))
	}
	checkClean(t, r, want, fmt.Sprint(k+1))
	for _, w := range []string{fmt.Sprintf("part 1 of %d: 0 contests", k), fmt.Sprintf("manifest part %d of %d: 1 more contests", k, k), "Xavier X "} {
		if !strings.Contains(r.out.String(), w) {
			t.Errorf("no %q in:\n%s", w, r.out)
		}
	}
	submit(t, n, []*events.Event{report("p0008", 1, 50)})
	r = watchOnce(t, n, state, nil)
	checkClean(t, r, []string{fmt.Sprintf("#%d", k+1)}, fmt.Sprint(k+2))
}
