package audit_test

import (
	"bufio"
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/mod/sumdb/note"

	"github.com/election-audit/ledger/audit"
	"github.com/election-audit/ledger/events"
	"github.com/election-audit/ledger/node"
	"github.com/election-audit/ledger/store"
)

// ledgerWithExample logs examples/ga06-2017-04.jsonl in a fresh ledger,
// closes it, and returns its data directory and verifier.
func ledgerWithExample(t *testing.T) (string, note.Verifier, uint64) {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	n, err := node.Open(ctx, node.Config{DataDir: dir, HTTP: "-", NATSListen: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.Open("../examples/ga06-2017-04.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var evs []*events.Event
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, events.MaxEventSize)
	for sc.Scan() {
		ev, err := events.Decode(sc.Bytes())
		if err != nil {
			t.Fatal(err)
		}
		evs = append(evs, ev)
	}
	// One step per event, so that there are several checkpoints.
	for _, ev := range evs {
		if _, err := n.Ledger.Submit(ctx, []*events.Event{ev}); err != nil {
			t.Fatal(err)
		}
	}
	v, err := note.NewVerifier(n.VerifierKey)
	if err != nil {
		t.Fatal(err)
	}
	if err := n.Close(ctx); err != nil {
		t.Fatal(err)
	}
	return dir, v, uint64(len(evs))
}

func TestVerify(t *testing.T) {
	dir, v, size := ledgerWithExample(t)
	db, err := store.Open(filepath.Join(dir, "pebble"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	res, err := audit.Verify(db, "ga06-2017-04", v)
	if err != nil {
		t.Fatal(err)
	}
	if res.Size != size || res.Checkpoints != int(size) {
		t.Errorf("verified size %d with %d checkpoints, want %d and %d", res.Size, res.Checkpoints, size, size)
	}
	if _, err := audit.Verify(db, "nope", v); !errors.Is(err, audit.ErrUnknownElection) {
		t.Errorf("unknown election: %v", err)
	}

	// Flip one byte of a stored entry: found at that index.
	orig, err := db.Entry("ga06-2017-04", 3)
	if err != nil {
		t.Fatal(err)
	}
	bad := append([]byte(nil), orig...)
	bad[len(bad)/2] ^= 1
	b := db.NewBatch()
	b.PutEntry("ga06-2017-04", 3, bad)
	if err := b.Commit(); err != nil {
		t.Fatal(err)
	}
	_, err = audit.Verify(db, "ga06-2017-04", v)
	var me *audit.MismatchError
	if !errors.As(err, &me) || me.Index != 3 {
		t.Fatalf("flipped entry 3: got %v", err)
	}
	t.Logf("detected: %v", err)
}
