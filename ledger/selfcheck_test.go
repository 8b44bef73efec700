package ledger

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/election-audit/ledger/audit"
	"github.com/election-audit/ledger/broker"
	"github.com/election-audit/ledger/checkpoint"
	"github.com/election-audit/ledger/events"
	"github.com/election-audit/ledger/internal/testkeys"
	"github.com/election-audit/ledger/store"
)

// The self-check tests build one real log on Pebble (9 entries, signed at
// sizes 1, 2, 4, 5, 8 and 9: steps of 1, 1, 2, 1, 3 and 1 entries), then
// change a copy of its files the way someone with the disk but not the key
// could, with the ledger stopped (caught by Open) or running (caught by
// the step, before it signs).

const (
	scElection = "sc-2026"
	scOther    = "sa-2026"
)

type scFixture struct {
	brk    *broker.Broker
	signer *checkpoint.Key
	key    string        // the ledger key
	v      note.Verifier // the log key of scElection
	dir    string        // the pristine database
	size   uint64
}

func newSCFixture(t *testing.T) *scFixture {
	t.Helper()
	dir := t.TempDir()
	signer, err := checkpoint.LoadOrCreateKey(dir, "selfcheck.local")
	if err != nil {
		t.Fatal(err)
	}
	v, _, err := checkpoint.LogVerifier(signer.VerifierKey(), scElection)
	if err != nil {
		t.Fatal(err)
	}
	brk, err := openBroker(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { brk.Close() })
	f := &scFixture{brk: brk, signer: signer, key: signer.VerifierKey(), v: v, dir: filepath.Join(dir, "pebble")}
	l, db := f.open(t, f.dir)
	defer db.Close()
	if err := f.step(l, scManifest()); err != nil {
		t.Fatal(err)
	}
	for _, n := range []int{1, 2, 1, 3, 1} {
		var bodies []events.Body
		for range n {
			bodies = append(bodies, scReport(int(l.elections[scElection].size)))
		}
		if err := f.step(l, bodies...); err != nil {
			t.Fatal(err)
		}
	}
	// Another election, before this one in ID order, so that Open meets it
	// first.
	if err := f.stepIn(l, scOther, scManifest(), scReport(1)); err != nil {
		t.Fatal(err)
	}
	f.size = l.elections[scElection].committed
	if f.size != 9 {
		t.Fatalf("the fixture's log has %d entries, want 9", f.size)
	}
	return f
}

// openBroker starts an embedded NATS server storing under dir/js.
func openBroker(ctx context.Context, dir string) (*broker.Broker, error) {
	js := filepath.Join(dir, "js")
	if err := os.MkdirAll(js, 0o700); err != nil {
		return nil, err
	}
	return broker.Open(ctx, broker.Config{Dir: js, Listen: "127.0.0.1:0"})
}

func scManifest() *events.Manifest {
	m := &events.Manifest{Name: "Self-check", Date: "2026-11-03",
		VoteTypes: []events.VoteType{{ID: "ed", Name: "Election Day"}},
		Units:     []events.Unit{{ID: "state", Name: "State", Kind: "state"}},
		Contests:  []events.Contest{{ID: "gov", Name: "Governor", VoteFor: 1, Choices: []events.Choice{{ID: "a", Name: "A"}, {ID: "b", Name: "B"}}}}}
	for i := range 20 {
		m.Units = append(m.Units, events.Unit{ID: fmt.Sprintf("p%d", i), Name: "P", Kind: "precinct", Parent: "state"})
	}
	return m
}

func scReport(i int) *events.CountReport {
	return &events.CountReport{Unit: fmt.Sprintf("p%d", i%20), Contest: "gov", Source: events.Source{Operator: "clerk"},
		Counts: []events.Count{{Choice: "a", VoteType: "ed", Votes: int64(100 + i)}, {Choice: "b", VoteType: "ed", Votes: int64(i)}}}
}

// open opens a ledger on a Pebble directory, failing the test on error.
func (f *scFixture) open(t *testing.T, dir string) (*Ledger, *store.DB) {
	t.Helper()
	l, db, err := f.tryOpen(dir)
	if err != nil {
		t.Fatal(err)
	}
	return l, db
}

func (f *scFixture) tryOpen(dir string) (*Ledger, *store.DB, error) {
	db, err := store.Open(dir)
	if err != nil {
		return nil, nil, err
	}
	l, err := Open(Config{DB: db, Broker: f.brk, Signer: f.signer, Authorities: testkeys.Authorities})
	if err != nil {
		db.Close()
		return nil, nil, err
	}
	return l, db, nil
}

// step applies events, one signed submission (stream message) each, in
// one step.
func (f *scFixture) step(l *Ledger, bodies ...events.Body) error {
	return f.stepIn(l, scElection, bodies...)
}

func (f *scFixture) stepIn(l *Ledger, election string, bodies ...events.Body) error {
	msgs := make([]message, len(bodies))
	seq := l.Position()
	for i, body := range bodies {
		seq++
		data, err := testkeys.Sign(testkeys.Authority, newEvent(election, body))
		if err != nil {
			return err
		}
		msgs[i] = message{seq: seq, time: time.Unix(1_800_000_000+int64(seq), 0), subject: f.brk.SubmitSubject(election), data: data}
	}
	return l.step(msgs)
}

// copyDB copies the pristine database into a new directory.
func (f *scFixture) copyDB(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "pebble")
	if err := os.CopyFS(dir, os.DirFS(f.dir)); err != nil {
		t.Fatal(err)
	}
	return dir
}

// tamper changes a stopped ledger's database through Pebble itself, with
// keys built from the layout in docs/storage.md.
func tamper(t *testing.T, dir string, fn func(db *pebble.DB)) {
	t.Helper()
	db, err := pebble.Open(dir, &pebble.Options{})
	if err != nil {
		t.Fatal(err)
	}
	fn(db)
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
}

func scKey(tag byte, n uint64) []byte {
	k := append([]byte{tag}, scElection...)
	k = append(k, 0)
	return binary.BigEndian.AppendUint64(k, n)
}

func sizeKey() []byte { return append([]byte{'x'}, scElection...) }

func mustGet(t *testing.T, db *pebble.DB, k []byte) []byte {
	t.Helper()
	v, closer, err := db.Get(k)
	if err != nil {
		t.Fatalf("key %q: %v", k, err)
	}
	defer closer.Close()
	return bytes.Clone(v)
}

func mustSet(t *testing.T, db *pebble.DB, k, v []byte) {
	t.Helper()
	if err := db.Set(k, v, pebble.Sync); err != nil {
		t.Fatal(err)
	}
}

func flip(t *testing.T, db *pebble.DB, k []byte, at int) {
	t.Helper()
	v := mustGet(t, db, k)
	if at < 0 {
		at += len(v)
	}
	v[at] ^= 0x01
	mustSet(t, db, k, v)
}

// wantAlarm checks that err is a StorageAlarm for the election at index,
// whose text says want.
func wantAlarm(t *testing.T, err error, index uint64, want string) {
	t.Helper()
	var a *StorageAlarm
	if !errors.As(err, &a) {
		t.Fatalf("got %v, want a storage alarm", err)
	}
	if a.Election != scElection || a.Index != index || !strings.Contains(a.Error(), want) {
		t.Fatalf("got %q, want an alarm for %s at index %d saying %q", err, scElection, index, want)
	}
	if !strings.HasPrefix(a.Error(), "ALARM: ") {
		t.Errorf("the alarm does not read as one: %q", a.Error())
	}
}

// wantMismatch checks that audit.Verify (what `ledger audit verify --data`
// runs) names the index.
func (f *scFixture) wantMismatch(t *testing.T, dir string, index uint64, want string) {
	t.Helper()
	db, err := store.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	_, err = audit.Verify(db, scElection, f.key)
	var me *audit.MismatchError
	if !errors.As(err, &me) || me.Election != scElection || me.Index != index || !strings.Contains(err.Error(), want) {
		t.Fatalf("audit.Verify: got %v, want a mismatch at index %d saying %q", err, index, want)
	}
}

// TestSelfCheckAtStart: Open refuses a log whose tree size, entries, stored
// hashes and latest signed checkpoint disagree, naming the election and
// the index, and audit.Verify names the same place; an untouched copy opens.
func TestSelfCheckAtStart(t *testing.T) {
	f := newSCFixture(t)
	const n = 9
	last := scKey('h', uint64(tlog.StoredHashIndex(0, n-1)))
	for _, tc := range []struct {
		name        string
		tamper      func(t *testing.T, db *pebble.DB)
		index       uint64 // where Open's alarm points
		want        string
		auditIndex  uint64 // where audit.Verify points
		auditWanted string
	}{
		{"tree size rewritten from 9 to 8", func(t *testing.T, db *pebble.DB) {
			mustSet(t, db, sizeKey(), binary.BigEndian.AppendUint64(nil, n-1))
		}, n - 1, "entry 8 is stored past the tree size 8", n - 1, "entry 8 is stored past the tree size 8"},
		{"tree size rewritten to 8 and entry 8 and its hashes deleted", func(t *testing.T, db *pebble.DB) {
			mustSet(t, db, sizeKey(), binary.BigEndian.AppendUint64(nil, n-1))
			db.Delete(scKey('e', n-1), pebble.Sync)
			db.DeleteRange(scKey('h', uint64(tlog.StoredHashCount(n-1))), scKey('h', 1<<40), pebble.Sync)
		}, n - 1, "the tree size 8 is behind a checkpoint signed at size 9", n - 1, "the tree size 8 is behind a checkpoint signed at size 9"},
		{"a byte of the last entry flipped", func(t *testing.T, db *pebble.DB) {
			flip(t, db, scKey('e', n-1), -20)
		}, n - 1, "entry 8 hashes to", n - 1, "index 8"},
		{"the stored hash of the last entry flipped", func(t *testing.T, db *pebble.DB) {
			flip(t, db, last, 0)
		}, n - 1, "its stored leaf hash is", n - 1, "stored hash (level 0, index 8)"},
		{"a stored hash on the tree's right edge flipped", func(t *testing.T, db *pebble.DB) {
			flip(t, db, scKey('h', uint64(tlog.StoredHashIndex(3, 0))), 5) // covers entries [0, 8)
		}, n, "a stored hash was changed", 0, "stored hash (level 3, index 0)"},
		{"the latest checkpoint deleted", func(t *testing.T, db *pebble.DB) {
			db.Delete(scKey('c', n), pebble.Sync)
		}, n - 1, "entries [8, 9) were never signed", n, "no signed checkpoint covers the whole log"},
		{"the latest checkpoint replaced by one of another key", func(t *testing.T, db *pebble.DB) {
			other, err := checkpoint.LoadOrCreateKey(t.TempDir(), "selfcheck.local")
			if err != nil {
				t.Fatal(err)
			}
			root, err := checkpointRoot(scElection, n, mustGet(t, db, scKey('c', n)), "selfcheck.local/"+scElection)
			if err != nil {
				t.Fatal(err)
			}
			forged, err := checkpoint.Sign(other, "selfcheck.local/"+scElection, n, root)
			if err != nil {
				t.Fatal(err)
			}
			mustSet(t, db, scKey('c', n), forged)
		}, n, "not the one this ledger's key signs", n, "does not verify"},
		{"an entry written past the tree size", func(t *testing.T, db *pebble.DB) {
			mustSet(t, db, scKey('e', n+3), mustGet(t, db, scKey('e', n-1)))
		}, n + 3, "entry 12 is stored past the tree size 9", n + 3, "entry 12 is stored past"},
		{"a hash written past the tree", func(t *testing.T, db *pebble.DB) {
			mustSet(t, db, scKey('h', uint64(tlog.StoredHashIndex(0, n))), make([]byte, 32))
		}, n, "stored past the tree of size 9", n, "stored past the tree of size 9"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := f.copyDB(t)
			tamper(t, dir, func(db *pebble.DB) { tc.tamper(t, db) })
			_, _, err := f.tryOpen(dir)
			wantAlarm(t, err, tc.index, tc.want)
			t.Logf("Open: %v", err)
			f.wantMismatch(t, dir, tc.auditIndex, tc.auditWanted)
		})
	}

	// The check runs on every election before Open writes anything: the
	// projection of another election, which Open would rebuild, is not.
	t.Run("nothing written on an alarm", func(t *testing.T) {
		dir := f.copyDB(t)
		cells := append([]byte{'p'}, scOther...)
		cells = append(cells, 0)
		end := append(bytes.Clone(cells[:len(cells)-1]), 1)
		tamper(t, dir, func(db *pebble.DB) {
			mustSet(t, db, sizeKey(), binary.BigEndian.AppendUint64(nil, n-1))
			if err := db.DeleteRange(cells, end, pebble.Sync); err != nil {
				t.Fatal(err)
			}
		})
		_, _, err := f.tryOpen(dir)
		wantAlarm(t, err, n-1, "entry 8 is stored past the tree size 8")
		tamper(t, dir, func(db *pebble.DB) {
			it, err := db.NewIter(&pebble.IterOptions{LowerBound: cells, UpperBound: end})
			if err != nil {
				t.Fatal(err)
			}
			defer it.Close()
			if it.First() {
				t.Errorf("Open wrote %s's projection (%q) before it refused to start", scOther, it.Key())
			}
		})
	})

	t.Run("untouched", func(t *testing.T) {
		dir := f.copyDB(t)
		l, db := f.open(t, dir)
		defer db.Close()
		if err := f.step(l, scReport(9)); err != nil {
			t.Fatal(err)
		}
		if _, err := audit.Verify(db, scElection, f.key); err != nil {
			t.Fatal(err)
		}
	})

	// The start check is bounded: a change deep in the log is the full
	// audit's to find. The ledger goes on signing the roots its stored
	// hashes give, which are those of the entries it logged, so its
	// checkpoints stay consistent with each other; the changed entry fails
	// its inclusion proof and audit.Verify names it.
	t.Run("a byte of an early entry flipped", func(t *testing.T) {
		dir := f.copyDB(t)
		tamper(t, dir, func(db *pebble.DB) { flip(t, db, scKey('e', 3), -20) })
		l, db := f.open(t, dir)
		before, err := db.Checkpoint(scElection, n)
		if err != nil {
			t.Fatal(err)
		}
		if err := f.step(l, scReport(9)); err != nil {
			t.Fatal(err)
		}
		after, err := db.Checkpoint(scElection, n+1)
		if err != nil {
			t.Fatal(err)
		}
		c9, err := checkpoint.Open(before, l.Origin(scElection), f.v)
		if err != nil {
			t.Fatal(err)
		}
		c10, err := checkpoint.Open(after, l.Origin(scElection), f.v)
		if err != nil {
			t.Fatal(err)
		}
		proof, err := tlog.ProveTree(n+1, n, db.HashReader(scElection))
		if err != nil {
			t.Fatal(err)
		}
		if err := tlog.CheckTree(proof, n+1, c10.Root, n, c9.Root); err != nil {
			t.Errorf("the checkpoint at 10 is not consistent with the one at 9: %v", err)
		}
		db.Close()
		f.wantMismatch(t, dir, 3, "index 3")
	})

	// A data directory written by a version before log keys: every
	// checkpoint signed by the same key, but under the ledger name. Not
	// the tamper alarm: an error that says what it is.
	t.Run("checkpoints signed under the ledger name", func(t *testing.T) {
		dir := f.copyDB(t)
		origin := "selfcheck.local/" + scElection
		tamper(t, dir, func(db *pebble.DB) {
			for s := uint64(1); s <= n; s++ {
				b, closer, err := db.Get(scKey('c', s))
				if errors.Is(err, pebble.ErrNotFound) {
					continue // no step ended at this size
				} else if err != nil {
					t.Fatal(err)
				}
				signed, err := checkpoint.Open(bytes.Clone(b), origin, f.v)
				closer.Close()
				if err != nil {
					t.Fatal(err)
				}
				old, err := checkpoint.SignWith(f.signer.LedgerSigner(), origin, s, signed.Root)
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Contains(old, []byte("\n\n— selfcheck.local ")) {
					t.Fatalf("not signed under the ledger name:\n%s", old)
				}
				mustSet(t, db, scKey('c', s), old)
			}
		})
		_, _, err := f.tryOpen(dir)
		var ek *EarlierKeyNameError
		var alarm *StorageAlarm
		if !errors.As(err, &ek) || errors.As(err, &alarm) || ek.Election != scElection || ek.KeyName != "selfcheck.local" || ek.Origin != origin {
			t.Fatalf("Open: %v; want an EarlierKeyNameError of %s", err, scElection)
		}
		for _, want := range []string{
			"written by an earlier version of the ledger, whose checkpoints carry the key name selfcheck.local",
			"names each log's key by its origin (\"— selfcheck.local/" + scElection + " …\"",
			"start with a new data directory",
		} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("Open: %v; want it to say %q", err, want)
			}
		}
		t.Logf("Open: %v", err)
		// The audit says why the checkpoints do not verify.
		f.wantMismatch(t, dir, 1, "signed under the key name selfcheck.local, not selfcheck.local/"+scElection)
	})
}

// TestSelfCheckBeforeSigning: with the ledger running, storage changed
// under it makes the next step fail with an alarm before it signs; nothing
// of the step is committed.
func TestSelfCheckBeforeSigning(t *testing.T) {
	f := newSCFixture(t)
	const n = 9
	for _, tc := range []struct {
		name   string
		tamper func(t *testing.T, b *store.Batch, db *store.DB)
		index  uint64
		want   string
	}{
		{"tree size rewritten from 9 to 8", func(t *testing.T, b *store.Batch, _ *store.DB) {
			b.PutTreeSize(scElection, n-1)
		}, n - 1, "the stored tree size is 8; the ledger committed 9"},
		{"an entry written at the next index", func(t *testing.T, b *store.Batch, db *store.DB) {
			e, err := db.Entry(scElection, 2)
			if err != nil {
				t.Fatal(err)
			}
			b.PutEntry(scElection, n, e)
		}, n, "entry 9 is stored past the tree size 9"},
		{"a stored hash on the right edge flipped", func(t *testing.T, b *store.Batch, db *store.DB) {
			hs, err := db.ReadHashes(scElection, []int64{tlog.StoredHashIndex(3, 0)})
			if err != nil {
				t.Fatal(err)
			}
			hs[0][7] ^= 1
			b.PutHashes(scElection, tlog.StoredHashIndex(3, 0), hs)
		}, n, "the stored hashes no longer give the root the ledger signed at size 9"},
		{"the latest checkpoint replaced", func(t *testing.T, b *store.Batch, db *store.DB) {
			cp, err := db.Checkpoint(scElection, 8)
			if err != nil {
				t.Fatal(err)
			}
			b.PutCheckpoint(scElection, n, cp)
		}, n, "not the one the ledger signed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := f.copyDB(t)
			l, db := f.open(t, dir)
			defer db.Close()
			b := db.NewBatch()
			tc.tamper(t, b, db)
			if err := b.Commit(); err != nil {
				t.Fatal(err)
			}
			pos := l.Position()
			cpSize, cp, _, err := db.LatestCheckpoint(scElection)
			if err != nil {
				t.Fatal(err)
			}
			entries := map[uint64][]byte{}
			for _, i := range []uint64{n - 1, n} {
				if e, err := db.Entry(scElection, i); err == nil {
					entries[i] = e
				}
			}

			err = f.step(l, scReport(20), scReport(21))
			wantAlarm(t, err, tc.index, tc.want)
			t.Logf("step: %v", err)

			// Nothing committed: no checkpoint, no entry, no position.
			if l.Position() != pos {
				t.Errorf("position moved from %d to %d", pos, l.Position())
			}
			if p, err := db.Position(); err != nil || p != pos {
				t.Errorf("stored position %d (%v), want %d", p, err, pos)
			}
			gotSize, gotCP, _, err := db.LatestCheckpoint(scElection)
			if err != nil || gotSize != cpSize || !bytes.Equal(gotCP, cp) {
				t.Errorf("latest checkpoint changed: size %d → %d (%v)", cpSize, gotSize, err)
			}
			for _, i := range []uint64{n - 1, n, n + 1} {
				e, err := db.Entry(scElection, i)
				if (err == nil) != (entries[i] != nil) || !bytes.Equal(e, entries[i]) {
					t.Errorf("entry %d changed", i)
				}
			}
		})
	}

	// An election whose tree size record is gone is not loaded; a new
	// manifest for it must not be logged over its entries.
	t.Run("tree size record deleted", func(t *testing.T) {
		dir := f.copyDB(t)
		tamper(t, dir, func(db *pebble.DB) {
			if err := db.Delete(sizeKey(), pebble.Sync); err != nil {
				t.Fatal(err)
			}
		})
		l, db := f.open(t, dir)
		defer db.Close()
		entry0, err := db.Entry(scElection, 0)
		if err != nil {
			t.Fatal(err)
		}
		err = f.step(l, scManifest())
		wantAlarm(t, err, 0, "entry 0 is stored past the tree size 0")
		if e, err := db.Entry(scElection, 0); err != nil || !bytes.Equal(e, entry0) {
			t.Errorf("entry 0 was overwritten (%v)", err)
		}
	})
}

// TestSelfCheckRun: with Run consuming the real stream, storage changed
// under it stops Run with the alarm at the next step; the submitter gets
// no receipt and the stream message is not logged.
func TestSelfCheckRun(t *testing.T) {
	dir := t.TempDir()
	signer, err := checkpoint.LoadOrCreateKey(dir, "selfcheck.local")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	brk, err := openBroker(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	defer brk.Close()
	db, err := store.Open(filepath.Join(dir, "pebble"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	l, err := Open(Config{DB: db, Broker: brk, Signer: signer, Authorities: testkeys.Authorities})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- l.Run(ctx) }()
	submit := func(body events.Body) ([]Receipt, error) {
		ev := newEvent(scElection, body)
		if err := ev.Validate(); err != nil {
			t.Fatal(err)
		}
		return l.Submit(ctx, sign(t, testkeys.Authority, ev))
	}
	if _, err := submit(scManifest()); err != nil {
		t.Fatal(err)
	}
	for i := 1; i < 9; i++ {
		if _, err := submit(scReport(i)); err != nil {
			t.Fatal(err)
		}
	}
	size, _, _, err := l.Committed(scElection)
	if err != nil || size != 9 {
		t.Fatalf("committed %d entries (%v), want 9", size, err)
	}
	pos := l.Position()

	b := db.NewBatch()
	b.PutTreeSize(scElection, size-1)
	if err := b.Commit(); err != nil {
		t.Fatal(err)
	}
	if r, err := submit(scReport(30)); err == nil {
		t.Fatalf("got a receipt over tampered storage: %+v", r)
	} else {
		t.Logf("submit: %v", err)
	}
	select {
	case err := <-done:
		wantAlarm(t, err, size-1, "the stored tree size is 8; the ledger committed 9")
	case <-ctx.Done():
		t.Fatal("Run did not stop")
	}
	wantAlarm(t, l.Err(), size-1, "the stored tree size is 8")
	if e, err := db.Entry(scElection, size); err == nil {
		t.Errorf("entry %d was written: %s", size, e)
	}
	if got, _, _, err := db.LatestCheckpoint(scElection); err != nil || got != size {
		t.Errorf("latest checkpoint at %d (%v), want %d", got, err, size)
	}
	if got, _, _, _ := l.Committed(scElection); got != size {
		t.Errorf("committed size %d, want %d", got, size)
	}
	if p, _ := db.Position(); p != pos {
		t.Errorf("stored position %d, want %d", p, pos)
	}
}
