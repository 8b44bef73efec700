package node_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/election-audit/ledger/audit"
	"github.com/election-audit/ledger/internal/testkeys"
	"github.com/election-audit/ledger/ledger"
	"github.com/election-audit/ledger/node"
	"github.com/election-audit/ledger/store"
)

// Issue 12, item 5: storage changed while the node is stopped must not be
// served and signed over. Keys are built from the layout in
// docs/storage.md, as someone with the disk would.

func storageKey(tag byte, election string, n uint64) []byte {
	k := append([]byte{tag}, election...)
	k = append(k, 0)
	return binary.BigEndian.AppendUint64(k, n)
}

// logNine logs a manifest and eight count reports, one submission each
// (so a checkpoint at every size), and returns the receipts.
func logNine(t *testing.T, tn *testNode) []ledger.Receipt {
	t.Helper()
	rs := tn.submit(mkEvent(t, elecMain, testManifest("GA-6 special")))
	for i := range 8 {
		rs = append(rs, tn.submit(mkEvent(t, elecMain, houseReport(allPrecincts[i%len(allPrecincts)], int64(100+i), 50, 10)))...)
	}
	if len(rs) != 9 || rs[8].Index != 8 || rs[8].TreeSize != 9 {
		t.Fatalf("receipts: %+v", rs)
	}
	return rs
}

// TestTamperedStorageRefusedAtStart: with the node stopped, each change is
// refused at start with an alarm naming the election and the index, and
// `ledger audit verify --data` (audit.Verify) names the same place. Undone,
// the node starts, and its log and checkpoints are those of the receipts:
// nothing was written over.
func TestTamperedStorageRefusedAtStart(t *testing.T) {
	tn := startNode(t, "", node.Config{})
	dir := tn.dir
	receipts := logNine(t, tn)
	v := tn.n.VerifierKey
	tn.close()

	const n = 9
	for _, tc := range []struct {
		name       string
		key        []byte
		change     func(old []byte) []byte
		index      uint64 // where the alarm and the audit point
		want       string // in the alarm
		auditWant  string // in the audit's mismatch
		auditIndex uint64
	}{
		{"tree size rewritten from 9 to 8", append([]byte{'x'}, elecMain...),
			func([]byte) []byte { return binary.BigEndian.AppendUint64(nil, n-1) },
			n - 1, "entry 8 is stored past the tree size 8", "entry 8 is stored past the tree size 8", n - 1},
		{"a byte of the last entry flipped", storageKey('e', elecMain, n-1),
			func(old []byte) []byte {
				b := bytes.Clone(old)
				b[len(b)-30] ^= 0x04
				return b
			},
			n - 1, "entry 8 hashes to", "index 8", n - 1},
		{"the stored leaf hash of the last entry flipped", storageKey('h', elecMain, uint64(tlog.StoredHashIndex(0, n-1))),
			func(old []byte) []byte {
				b := bytes.Clone(old)
				b[31] ^= 0x01
				return b
			},
			n - 1, "its stored leaf hash is", "stored hash (level 0, index 8)", n - 1},
		{"a stored hash on the right edge flipped", storageKey('h', elecMain, uint64(tlog.StoredHashIndex(3, 0))),
			func(old []byte) []byte {
				b := bytes.Clone(old)
				b[0] ^= 0x80
				return b
			},
			n, "a stored hash was changed", "stored hash (level 3, index 0)", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			old := setKey(t, dir, tc.key, tc.change)
			defer setKey(t, dir, tc.key, func([]byte) []byte { return old })

			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			n, err := node.Open(ctx, node.Config{DataDir: dir, HTTP: "-", NATSListen: "127.0.0.1:0", Authorities: testkeys.Authorities})
			if err == nil {
				n.Close(ctx)
				t.Fatal("the node started on tampered storage")
			}
			var a *ledger.StorageAlarm
			if !errors.As(err, &a) || a.Election != elecMain || a.Index != tc.index || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("node.Open: %v; want an alarm for %s at index %d saying %q", err, elecMain, tc.index, tc.want)
			}
			t.Logf("node.Open: %v", err)

			db, err := store.Open(filepath.Join(dir, "pebble"))
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			_, err = audit.Verify(db, elecMain, v)
			var me *audit.MismatchError
			if !errors.As(err, &me) || me.Index != tc.auditIndex || !strings.Contains(err.Error(), tc.auditWant) {
				t.Fatalf("audit.Verify: %v; want index %d and %q", err, tc.auditIndex, tc.auditWant)
			}
			t.Logf("audit verify: %v", err)
		})
	}

	// Undone, everything is as the receipts said, and the log grows at 9.
	tn = startNode(t, dir, node.Config{})
	cp := tn.checkpoint(elecMain)
	if cp.Size != n || string(tn.get("/v1/elections/"+elecMain+"/checkpoint")) != receipts[n-1].Checkpoint {
		t.Fatalf("the checkpoint at start is not the last receipt's")
	}
	r := tn.submit(mkEvent(t, elecMain, houseReport("dekalb-01", 7, 8, 9)))
	if r[0].Index != n {
		t.Fatalf("the next entry went to index %d, want %d", r[0].Index, n)
	}
	if got := rfc6962Root(entries(t, tn.n.Ledger, elecMain)[:n]); got != openCheckpoint(t, []byte(receipts[n-1].Checkpoint), tn.n, elecMain).Root {
		t.Fatal("entries [0, 9) no longer give the root receipted at size 9")
	}
	tn.close()
	db, err := store.Open(filepath.Join(dir, "pebble"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := audit.Verify(db, elecMain, v); err != nil {
		t.Fatalf("the restored log does not verify: %v", err)
	}
}

// setKey changes one key of a stopped node's database with Pebble itself
// and returns its old value.
func setKey(t *testing.T, dir string, key []byte, change func(old []byte) []byte) []byte {
	t.Helper()
	db, err := pebble.Open(filepath.Join(dir, "pebble"), &pebble.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := db.Close(); err != nil {
			t.Fatal(err)
		}
	}()
	v, closer, err := db.Get(key)
	if err != nil {
		t.Fatalf("key %q: %v", key, err)
	}
	old := bytes.Clone(v)
	closer.Close()
	if err := db.Set(key, change(old), pebble.Sync); err != nil {
		t.Fatal(err)
	}
	return old
}

// TestTamperedStorageStopsTheLedger: storage changed under a running node
// (here the tree size, through the node's own database) stops the state
// machine with the alarm at the next step: the submission gets no receipt,
// nothing is signed, and what the API serves stays the last committed log.
func TestTamperedStorageStopsTheLedger(t *testing.T) {
	tn := startNode(t, "", node.Config{})
	logNine(t, tn)
	before := tn.get("/v1/elections/" + elecMain + "/checkpoint")

	b := tn.n.DB.NewBatch()
	b.PutTreeSize(elecMain, 8)
	if err := b.Commit(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if rs, err := tn.c.Submit(ctx, encodeAll(t, mkEvent(t, elecMain, houseReport("dekalb-01", 1, 2, 3)))); err == nil {
		t.Fatalf("got receipts over tampered storage: %+v", rs)
	} else {
		t.Logf("submit: %v", err)
	}
	select {
	case err := <-tn.n.Done():
		var a *ledger.StorageAlarm
		if !errors.As(err, &a) || a.Election != elecMain || a.Index != 8 {
			t.Fatalf("the state machine stopped with %v, want a storage alarm for %s at 8", err, elecMain)
		}
		t.Logf("state machine: %v", err)
	case <-ctx.Done():
		t.Fatal("the state machine did not stop")
	}
	if after := tn.get("/v1/elections/" + elecMain + "/checkpoint"); !bytes.Equal(after, before) {
		t.Errorf("the served checkpoint changed:\n%s\n%s", before, after)
	}
	if _, err := tn.n.DB.Entry(elecMain, 9); err == nil {
		t.Error("entry 9 was written")
	}
	if size, _, _, err := tn.n.DB.LatestCheckpoint(elecMain); err != nil || size != 9 {
		t.Errorf("the latest stored checkpoint is at %d (%v), want 9", size, err)
	}
}
