package feed_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/election-audit/ledger/events"
	"github.com/election-audit/ledger/feed"
	"github.com/election-audit/ledger/internal/testkeys"
	"github.com/election-audit/ledger/node"
)

// TestHubSlowSubscriber runs a fast and a slow subscriber through a hub
// whose ring holds only a few frames while events are logged: the slow one
// falls off the ring, reads from the database, and catches up; both get
// every change once, in order, and the ring never holds more than its bound.
func TestHubSlowSubscriber(t *testing.T) {
	ctx := context.Background()
	n, err := node.Open(ctx, node.Config{DataDir: t.TempDir(), HTTP: "-", NATSListen: "127.0.0.1:0", Authorities: testkeys.Authorities})
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close(ctx)
	const election, total = "hub-2026", 1500
	ev := func(b events.Body) *events.Event {
		return &events.Event{ID: uuid.Must(uuid.NewV7()), Election: election, Body: b}
	}
	m := &events.Manifest{Name: "Hub", Date: "2026-11-03",
		VoteTypes: []events.VoteType{{ID: "day", Name: "Day"}},
		Units:     []events.Unit{{ID: "st", Name: "State", Kind: "state"}, {ID: "a", Name: "A", Kind: "county", Parent: "st"}},
		Contests:  []events.Contest{{ID: "m", Name: "M", VoteFor: 1, Choices: []events.Choice{{ID: "no", Name: "No"}, {ID: "yes", Name: "Yes"}}}}}
	if _, err := n.Ledger.Submit(ctx, testkeys.MustSign(testkeys.Authority, ev(m))); err != nil {
		t.Fatal(err)
	}
	hub := feed.NewHub(n.Ledger, 8<<10) // a few frames
	sctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	done := errors.New("done")
	var wg sync.WaitGroup
	for _, pause := range []time.Duration{0, 2 * time.Millisecond} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			next := uint64(0)
			err := hub.Subscribe(sctx, election, 0, feed.Options{}, func(f *feed.Frame) error {
				if f.Index != next {
					t.Errorf("pause %v: got %d, want %d", pause, f.Index, next)
					return done
				}
				next++
				time.Sleep(pause)
				return nil
			}, func(c *feed.CheckpointFrame) error {
				if c.TreeSize == total {
					return done
				}
				return nil
			}, nil, 0)
			if !errors.Is(err, done) || next != total {
				t.Errorf("pause %v: stopped at %d: %v", pause, next, err)
			}
		}()
	}
	for i := 1; i < total; i += 50 {
		var evs []*events.Event
		for j := i; j < min(i+50, total); j++ {
			evs = append(evs, ev(&events.CountReport{Unit: "a", Contest: "m",
				Counts: []events.Count{{Choice: "no", VoteType: "day", Votes: int64(j)}, {Choice: "yes", VoteType: "day", Votes: 1}},
				Source: events.Source{Operator: "test"}}))
		}
		if _, err := n.Ledger.Submit(ctx, testkeys.MustSign(testkeys.Authority, evs...)); err != nil {
			t.Fatal(err)
		}
	}
	wg.Wait()
}
