package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/election-audit/ledger/client"
	"github.com/election-audit/ledger/events"
	"github.com/election-audit/ledger/internal/testkeys"
)

// TestCrashManifestInParts kills the real `ledger serve` with SIGKILL while
// it takes a statewide manifest in parts (one submission, several entries),
// at a random moment after the request is sent, and restarts it. The
// submission is sent again, the same bytes, until it is answered. Each
// election must then be defined whole or not at all: its manifest's events
// are entries 0 to N-1, in order, accepted, each once; and `ledger audit
// verify` finds every log sound after a clean stop.
func TestCrashManifestInParts(t *testing.T) {
	kills := 6
	if testing.Short() {
		kills = 3
	}
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d, %d kills", seed, kills)
	rng := rand.New(rand.NewPCG(seed, 0x9a475))
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	srv := newServerProc(t, seed)
	if err := srv.startHealthy(ctx); err != nil {
		t.Fatal(err)
	}
	c, err := client.New("http://"+srv.httpAddr, &http.Client{Timeout: 30 * time.Second})
	if err != nil {
		t.Fatal(err)
	}

	type defined struct {
		election string
		parts    []*events.Event
	}
	var all []defined
	unanswered, logged := 0, 0 // first attempts the kill cut off; of those, manifests they logged all the same
	for k := range kills {
		election := fmt.Sprintf("parts-%d", k)
		m := &events.Manifest{Name: "Crash in parts", Date: "2026-11-03", Authority: testkeys.Authority.Verifier,
			VoteTypes: []events.VoteType{{ID: "election-day", Name: "Election Day"}},
			Units:     []events.Unit{{ID: "st", Name: "State", Kind: "state"}}}
		for i := range 3000 {
			m.Units = append(m.Units, events.Unit{ID: fmt.Sprintf("precinct-%04d", i), Name: fmt.Sprintf("Precinct %d of the state", i), Kind: "precinct", Parent: "st"})
		}
		m.Contests = []events.Contest{{ID: "gov", Name: "Governor", VoteFor: 1, Choices: []events.Choice{{ID: "a", Name: "A"}, {ID: "b", Name: "B"}}}}
		parts, err := events.SplitManifest(&events.Event{ID: uuid.Must(uuid.NewV7()), Election: election, Body: m})
		if err != nil {
			t.Fatal(err)
		}
		if len(parts) < 3 {
			t.Fatalf("the manifest is in %d events; the test wants at least 3", len(parts))
		}
		signed, err := testkeys.Sign(testkeys.Authority, parts...)
		if err != nil {
			t.Fatal(err)
		}
		// Sent, and the server killed while it may be taking it.
		sent := make(chan error, 1)
		go func() {
			_, err := c.SubmitSigned(ctx, signed)
			sent <- err
		}()
		sleepCtx(ctx, time.Duration(rng.IntN(20))*time.Millisecond)
		srv.kill()
		cut := <-sent != nil
		if cut {
			unanswered++
		}
		if err := srv.startHealthy(ctx); err != nil {
			t.Fatalf("restart after kill %d: %v", k+1, err)
		}
		// The same bytes again, until answered.
		var rs []wireReceipt
		for attempt := 0; ; attempt++ {
			got, err := c.SubmitSigned(ctx, signed)
			if err == nil {
				for _, r := range got {
					rs = append(rs, wireReceipt{r.Index, string(r.Verdict)})
				}
				if cut && got[0].Duplicate {
					logged++ // by the attempt the kill cut off: across the crash
				}
				break
			}
			if attempt == 50 || ctx.Err() != nil {
				t.Fatalf("%s: no receipts after %d attempts: %v", election, attempt+1, err)
			}
			sleepCtx(ctx, 100*time.Millisecond)
		}
		for i, r := range rs {
			if r.index != uint64(i) || r.verdict != string(events.Accepted) {
				t.Fatalf("%s: receipt %d is %+v, want index %d, accepted", election, i, r, i)
			}
		}
		all = append(all, defined{election, parts})
	}

	// Every log holds its manifest whole, once, as its first entries.
	for _, d := range all {
		es, err := c.Entries(ctx, d.election, 0, 1000)
		if err != nil {
			t.Fatal(err)
		}
		if len(es) != len(d.parts) {
			t.Errorf("%s: %d entries, want the manifest's %d", d.election, len(es), len(d.parts))
			continue
		}
		for i, data := range es {
			en, err := events.DecodeEntry(data)
			if err != nil {
				t.Fatal(err)
			}
			if en.Event.ID != d.parts[i].ID || en.Verdict != events.Accepted || en.Submission.Item != i {
				t.Errorf("%s: entry %d is %s (%s, item %d), want part %d of the manifest, accepted", d.election, i, en.Event.ID, en.Verdict, en.Submission.Item, i)
			}
		}
	}
	if err := srv.stop(); err != nil {
		t.Fatal(err)
	}
	key, err := os.ReadFile(filepath.Join(srv.data, "ledger.pub"))
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range all {
		out, err := exec.Command(srv.bin, "audit", "verify", "--data", srv.data, "--election", d.election, "--key", strings.TrimSpace(string(key))).CombinedOutput()
		if err != nil || !strings.Contains(string(out), ": OK") {
			t.Errorf("audit verify %s: %v\n%s", d.election, err, out)
		}
	}
	t.Logf("%d manifests of %d events each defined across %d kills (%d first attempts cut off by the kill, %d of them logged all the same, found so when sent again); %d incarnations",
		len(all), len(all[0].parts), kills, unanswered, logged, srv.incarnation)
}

type wireReceipt struct {
	index   uint64
	verdict string
}
