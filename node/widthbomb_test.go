package node_test

// Issue 12, item 1: memory bounded by what was reported, never by what was
// declared. A manifest whose contest is 7,000 choices × 7,000 vote types
// (362 KB) took the server to 5.9 GB on one report; 12,000 × 12,000 was
// killed under 2 GiB on every restart, re-applying the same stream message.

import (
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/election-audit/ledger/events"
	"github.com/election-audit/ledger/internal/testkeys"
	"github.com/election-audit/ledger/node"
)

// bombManifest is a manifest event written by hand as an attacker would:
// units precincts under a root, vts vote types, and contests contests of
// choices choices each, voted everywhere. Compact: 7,000 × 7,000 is 362 KB.
func bombManifest(election string, units, vts, contests, choices int) (uuid.UUID, []byte) {
	id := uuid.Must(uuid.NewV7())
	var b strings.Builder
	fmt.Fprintf(&b, `{"v":1,"type":"election.defined","id":%q,"election":%q,"data":{"name":"Bomb","date":"2026-11-03","vote_types":[`, id, election)
	for i := range vts {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"id":"v%d","name":"v"}`, i)
	}
	b.WriteString(`],"units":[{"id":"r","name":"r","kind":"r"}`)
	for i := range units {
		fmt.Fprintf(&b, `,{"id":"p%d","name":"p","kind":"p","parent":"r"}`, i)
	}
	b.WriteString(`],"contests":[`)
	for c := range contests {
		if c > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"id":"k%d","name":"k","vote_for":1,"choices":[`, c)
		for i := range choices {
			if i > 0 {
				b.WriteByte(',')
			}
			fmt.Fprintf(&b, `{"id":"c%d","name":"c"}`, i)
		}
		b.WriteString(`]}`)
	}
	b.WriteString(`]}}`)
	return id, []byte(b.String())
}

// TestWidthBombRefused: over HTTP the width bomb, signed by the authority
// into a submission, is refused with 400 and the limit named; published
// straight to the stream it is dropped with the reason; the node restarts
// cleanly over it, also when it replays the stream from the start, and
// serves.
func TestWidthBombRefused(t *testing.T) {
	tn := startNode(t, "", node.Config{})
	for _, b := range []struct {
		choices, vts int
		field, msg   string
	}{
		// Larger than an event: refused for their size (and a manifest's
		// parts cannot carry them: vote types are all in the first event,
		// a contest is never cut).
		{7000, 7000, "events[0]", "bytes, more than the limit of 57343: a manifest this large goes in parts"},
		{12000, 12000, "events[0]", "bytes, more than the limit of 57343: a manifest this large goes in parts"},
		{7000, 1, "events[0]", "bytes, more than the limit of 57343: a manifest this large goes in parts"},
		{1000, 1, "events[0].data.contests[0].choices", "1000 choices, more than the limit of 500 per contest"},
		{500, 40, "events[0].data.contests[0].choices", "500 choices × 40 vote types = 20000 cells, more than the limit of 600 cells per contest"},
	} {
		_, data := bombManifest("bomb", 1, b.vts, 1, b.choices)
		status, body := tn.do(http.MethodPost, "/v1/submissions", "text/plain; charset=utf-8", signLines(t, "bomb", data))
		var p struct{ Error, Field string }
		if err := json.Unmarshal(body, &p); err != nil || status != http.StatusBadRequest || p.Field != b.field || !strings.Contains(p.Error, b.msg) {
			t.Errorf("%d × %d (%d bytes): HTTP %d %s; want 400, field %s, %q", b.choices, b.vts, len(data), status, body, b.field, b.msg)
		}
	}
	if tn.size("bomb") != 0 {
		t.Fatal("a refused manifest defined its election")
	}

	// Straight to the submission stream, bypassing the edge: the state
	// machine drops it with the reason, deterministically, and goes on.
	m := mkEvent(t, elecMain, testManifest("Main"))
	r1 := mkEvent(t, elecMain, houseReport("cobb-01", 100, 90, 5))
	tn.submit(m, r1)
	_, data := bombManifest("bomb", 1, 7000, 1, 7000)
	sub := signLines(t, "bomb", data)
	seq := publishRaw(t, tn.n, "bomb", submissionID(t, sub).String(), sub)
	_, data2 := bombManifest("bomb2", 1, 12000, 1, 12000)
	sub2 := signLines(t, "bomb2", data2)
	seq2 := publishRaw(t, tn.n, "bomb2", submissionID(t, sub2).String(), sub2)
	waitPosition(t, tn.n.Ledger, seq2)
	// The same words each time: the message's size and the limit.
	wantDrop := map[uint64]string{
		seq:  fmt.Sprintf("dropped: not a submission the ledger can read: events[0]: event is %d bytes, more than the limit of 57343", len(data)),
		seq2: fmt.Sprintf("dropped: not a submission the ledger can read: events[0]: event is %d bytes, more than the limit of 57343", len(data2)),
	}
	for s, want := range wantDrop {
		if rec := seqOutcome(t, tn.n, s); !strings.HasPrefix(rec.Outcome, want+": a manifest this large goes in parts") {
			t.Errorf("stream message %d: %q, want %q", s, rec.Outcome, want)
		}
	}
	r2 := mkEvent(t, elecMain, houseReport("fulton-01", 200, 190, 6))
	if rs := tn.submit(r2); rs[0].Index != 2 || rs[0].Verdict != events.Accepted {
		t.Fatalf("after the bombs: %+v", rs[0])
	}
	before := tn.observe(elecMain)
	dir, last := tn.dir, tn.position()
	tn.close()

	// Reopened on the same directory: it starts and serves.
	tn = startNode(t, dir, node.Config{})
	if got := tn.observe(elecMain); got.String() != before.String() {
		t.Errorf("reopened: %v, want %v", got, before)
	}
	tn.close()

	// With its database gone, the ledger replays the whole stream: the
	// bombs again, dropped again for the same reason, and the same log.
	if err := os.Rename(filepath.Join(dir, "pebble"), filepath.Join(dir, "pebble.old")); err != nil {
		t.Fatal(err)
	}
	tn = startNode(t, dir, node.Config{})
	waitPosition(t, tn.n.Ledger, last)
	if got := tn.observe(elecMain); got.String() != before.String() {
		t.Errorf("replayed from the stream: %v, want %v", got, before)
	}
	for s, want := range wantDrop {
		if rec := seqOutcome(t, tn.n, s); !strings.HasPrefix(rec.Outcome, want+": a manifest this large goes in parts") {
			t.Errorf("replayed, stream message %d: %q, want %q", s, rec.Outcome, want)
		}
	}
	if rs := tn.submit(mkEvent(t, elecMain, houseReport("dekalb-01", 50, 40, 3))); rs[0].Index != 3 {
		t.Errorf("after the replay: %+v", rs[0])
	}
}

// sampleHeap samples the heap in use until stop is called, and returns the
// highest figures seen.
func sampleHeap() (stop func() (inuse, sys uint64)) {
	var inuse, sys atomic.Uint64
	done, quit := make(chan struct{}), make(chan struct{})
	sample := func() {
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		if ms.HeapInuse > inuse.Load() {
			inuse.Store(ms.HeapInuse)
		}
		if ms.Sys > sys.Load() {
			sys.Store(ms.Sys)
		}
	}
	go func() {
		defer close(done)
		for {
			sample()
			select {
			case <-quit:
				return
			case <-time.After(2 * time.Millisecond):
			}
		}
	}()
	return func() (uint64, uint64) {
		close(quit)
		<-done
		sample()
		return inuse.Load(), sys.Load()
	}
}

// TestManifestAtTheLimits submits manifests just under the limits (the two
// shapes whose tally is largest: wide contests, and many units shown by
// narrow ones), each signed by the authority it names, one report each,
// and reads the tally over HTTP: the heap stays modest.
func TestManifestAtTheLimits(t *testing.T) {
	tn := startNode(t, "", node.Config{})
	for _, s := range []struct {
		name                         string
		units, vts, contests, choice int
	}{
		// 500 choices (MaxChoices) of one vote type on 3,967 units:
		// 500 + 3,967 × 504 = 1,999,868 tally numbers.
		{"wide", 3966, 1, 1, 500},
		// 19 contests of one choice on 20,000 units: 19 × (1 + 20,000 × 5) =
		// 1,900,019 tally numbers.
		{"tall", 19999, 1, 19, 1},
	} {
		t.Run(s.name, func(t *testing.T) {
			election := "limits-" + s.name
			_, data := bombManifest(election, s.units, s.vts, s.contests, s.choice)
			// Naming its authority, in the events that carry it: parts.
			var m events.Manifest
			if err := json.Unmarshal(data[strings.Index(string(data), `"data":`)+len(`"data":`):len(data)-1], &m); err != nil {
				t.Fatal(err)
			}
			m.Authority = testkeys.Authority.Verifier
			parts, err := events.SplitManifest(mkEvent(t, election, &m))
			if err != nil {
				t.Fatal(err)
			}
			sub := signed(t, parts...)
			if len(sub) > events.MaxSubmissionSize || len(parts) < 2 {
				t.Fatalf("submission of %d bytes, %d events", len(sub), len(parts))
			}
			runtime.GC()
			var base runtime.MemStats
			runtime.ReadMemStats(&base)
			stop := sampleHeap()

			status, body := tn.do(http.MethodPost, "/v1/submissions", "text/plain; charset=utf-8", sub)
			if status != http.StatusOK {
				t.Fatalf("manifest of %d bytes: HTTP %d %s", len(data), status, body)
			}
			ev := mkEvent(t, election, report("p7", "k0", cnt("c0", "v0", 42)))
			if status, r := tn.submitOne(ev); status != http.StatusOK || r.Verdict != events.Accepted {
				t.Fatalf("report: HTTP %d %+v", status, r)
			}
			// The document is hashed as it arrives, not held.
			resp, err := tn.srv.Client().Get(tn.srv.URL + "/v1/elections/" + election + "/tally")
			if err != nil {
				t.Fatal(err)
			}
			h := sha256.New()
			n, err := io.Copy(h, resp.Body)
			resp.Body.Close()
			if err != nil || resp.StatusCode != http.StatusOK {
				t.Fatalf("tally: HTTP %d, %v", resp.StatusCode, err)
			}

			inuse, sys := stop()
			t.Logf("%s: manifest %d KB, tally %d MB; heap in use %d MB before, peak %d MB; Sys peak %d MB",
				s.name, len(data)>>10, n>>20, base.HeapInuse>>20, inuse>>20, sys>>20)
			if inuse-base.HeapInuse > 256<<20 {
				t.Errorf("%s: the heap grew by %d MB, want under 256 MB", s.name, (inuse-base.HeapInuse)>>20)
			}
			// The tally says what was reported.
			if tl := tn.get("/v1/elections/" + election + "/tally?format=table"); !strings.Contains(string(tl), "42 votes") {
				t.Errorf("%s: table %.300s", s.name, tl)
			}
		})
	}
}
