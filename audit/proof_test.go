package audit

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/transparency-dev/merkle/proof"
	"github.com/transparency-dev/merkle/rfc6962"
	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/election-audit/ledger/checkpoint"
)

// memLog is an in-memory log with tlog's stored hashes, as the ledger
// stores them.
type memLog struct {
	entries [][]byte
	hashes  []tlog.Hash
}

func newMemLog(t testing.TB, n int) *memLog {
	t.Helper()
	l := &memLog{}
	for i := range n {
		e := fmt.Appendf(nil, `{"index":%d,"pad":%q}`, i, strings.Repeat("x", i%7))
		hs, err := tlog.StoredHashes(int64(i), e, l)
		if err != nil {
			t.Fatal(err)
		}
		l.entries = append(l.entries, e)
		l.hashes = append(l.hashes, hs...)
	}
	return l
}

func (l *memLog) ReadHashes(idx []int64) ([]tlog.Hash, error) {
	out := make([]tlog.Hash, len(idx))
	for i, x := range idx {
		if x < 0 || x >= int64(len(l.hashes)) {
			return nil, fmt.Errorf("no hash %d", x)
		}
		out[i] = l.hashes[x]
	}
	return out, nil
}

// sized bounds the reader to the tree of size n, as ledger.LogView does.
func (l *memLog) sized(n uint64) tlog.HashReader {
	lim := tlog.StoredHashCount(int64(n))
	return tlog.HashReaderFunc(func(idx []int64) ([]tlog.Hash, error) {
		for _, x := range idx {
			if x >= lim {
				return nil, fmt.Errorf("hash %d is outside the tree of size %d", x, n)
			}
		}
		return l.ReadHashes(idx)
	})
}

type testSigner struct {
	k *checkpoint.Key
	v note.Verifier // of log "<name>/e"
}

func newTestSigner(t testing.TB, name string) testSigner {
	t.Helper()
	k, err := checkpoint.LoadOrCreateKey(t.TempDir(), name)
	if err != nil {
		t.Fatal(err)
	}
	v, _, err := checkpoint.LogVerifier(k.VerifierKey(), "e")
	if err != nil {
		t.Fatal(err)
	}
	return testSigner{k, v}
}

// checkpointAt signs and opens the checkpoint of l at size n.
func (ts testSigner) checkpointAt(t testing.TB, l *memLog, n uint64) ([]byte, checkpoint.Checkpoint) {
	t.Helper()
	root, err := tlog.TreeHash(int64(n), l)
	if err != nil {
		t.Fatal(err)
	}
	signed, err := checkpoint.Sign(ts.k, "test/e", n, root)
	if err != nil {
		t.Fatal(err)
	}
	cp, err := checkpoint.Open(signed, "test/e", ts.v)
	if err != nil {
		t.Fatal(err)
	}
	return signed, cp
}

func hashBytes(hs []tlog.Hash) [][]byte {
	out := make([][]byte, len(hs))
	for i := range hs {
		out[i] = hs[i][:]
	}
	return out
}

func TestInclusionProofs(t *testing.T) {
	l := newMemLog(t, 70)
	ts := newTestSigner(t, "test")
	for size := uint64(1); size <= 70; size++ {
		_, cp := ts.checkpointAt(t, l, size)
		for index := range size {
			p, err := ProveInclusion(l.sized(size), size, index)
			if err != nil {
				t.Fatalf("ProveInclusion(%d, %d): %v", size, index, err)
			}
			if p.LeafHash != tlog.RecordHash(l.entries[index]) || p.Root != cp.Root {
				t.Fatalf("proof of %d at %d: leaf %s root %s", index, size, p.LeafHash, p.Root)
			}
			if err := CheckInclusion(p, cp); err != nil {
				t.Fatalf("CheckInclusion(%d, %d): %v", index, size, err)
			}
			// An implementation independent of tlog agrees.
			if err := proof.VerifyInclusion(rfc6962.DefaultHasher, index, size, p.LeafHash[:], hashBytes(p.Hashes), cp.Root[:]); err != nil {
				t.Fatalf("merkle/proof.VerifyInclusion(%d, %d): %v", index, size, err)
			}
			// Every single flipped byte is caught.
			if size%9 == 0 || index == size-1 {
				for i := range p.Hashes {
					bad := *p
					bad.Hashes = append([]tlog.Hash(nil), p.Hashes...)
					bad.Hashes[i][i%32] ^= 1
					if err := CheckInclusion(&bad, cp); !errors.Is(err, ErrProofFailed) {
						t.Fatalf("proof of %d at %d with hash %d flipped: %v", index, size, i, err)
					}
				}
				bad := *p
				bad.LeafHash[0] ^= 0x80
				if err := CheckInclusion(&bad, cp); !errors.Is(err, ErrProofFailed) {
					t.Fatalf("proof of %d at %d with leaf flipped: %v", index, size, err)
				}
			}
		}
	}
}

func TestInclusionProofMismatches(t *testing.T) {
	l := newMemLog(t, 20)
	ts := newTestSigner(t, "test")
	_, cp10 := ts.checkpointAt(t, l, 10)
	_, cp11 := ts.checkpointAt(t, l, 11)
	p, err := ProveInclusion(l, 10, 3)
	if err != nil {
		t.Fatal(err)
	}
	if err := CheckInclusion(p, cp11); !errors.Is(err, ErrProofFailed) || !strings.Contains(err.Error(), "size 10") {
		t.Errorf("proof at 10 against checkpoint at 11: %v", err)
	}
	// A proof that claims the root of another tree fails even if its path
	// is right for that tree.
	bad := *p
	bad.Size, bad.Root = 11, cp11.Root
	if err := CheckInclusion(&bad, cp11); !errors.Is(err, ErrProofFailed) {
		t.Errorf("size-10 path against size-11 root: %v", err)
	}
	for _, c := range []struct{ size, index uint64 }{{10, 10}, {0, 0}, {10, 1 << 63}, {1 << 63, 0}} {
		if _, err := ProveInclusion(l, c.size, c.index); err == nil {
			t.Errorf("ProveInclusion(size %d, index %d) succeeded", c.size, c.index)
		}
	}
	if _, err := ProveInclusion(l.sized(10), 11, 3); err == nil {
		t.Error("ProveInclusion read past a bounded reader")
	}
	_ = cp10
}

func TestConsistencyProofs(t *testing.T) {
	l := newMemLog(t, 40)
	ts := newTestSigner(t, "test")
	cps := make([]checkpoint.Checkpoint, 41)
	for n := uint64(1); n <= 40; n++ {
		_, cps[n] = ts.checkpointAt(t, l, n)
	}
	for to := uint64(1); to <= 40; to++ {
		for from := uint64(1); from <= to; from++ {
			p, err := ProveConsistency(l.sized(to), from, to)
			if err != nil {
				t.Fatalf("ProveConsistency(%d, %d): %v", from, to, err)
			}
			if err := CheckConsistency(p, cps[from], cps[to]); err != nil {
				t.Fatalf("CheckConsistency(%d, %d): %v", from, to, err)
			}
			if err := proof.VerifyConsistency(rfc6962.DefaultHasher, from, to, hashBytes(p.Hashes), cps[from].Root[:], cps[to].Root[:]); err != nil {
				t.Fatalf("merkle/proof.VerifyConsistency(%d, %d): %v", from, to, err)
			}
			for i := range p.Hashes {
				bad := *p
				bad.Hashes = append([]tlog.Hash(nil), p.Hashes...)
				bad.Hashes[i][31-i%32] ^= 4
				if err := CheckConsistency(&bad, cps[from], cps[to]); !errors.Is(err, ErrProofFailed) {
					t.Fatalf("consistency %d→%d with hash %d flipped: %v", from, to, i, err)
				}
			}
			if from > 1 && from < to {
				// The proof does not fit another pair of checkpoints.
				if err := CheckConsistency(p, cps[from-1], cps[to]); !errors.Is(err, ErrProofFailed) {
					t.Fatalf("consistency %d→%d against checkpoint %d: %v", from, to, from-1, err)
				}
			}
		}
	}
	for _, c := range [][2]uint64{{0, 5}, {6, 5}, {1, 1 << 63}} {
		if _, err := ProveConsistency(l, c[0], c[1]); err == nil {
			t.Errorf("ProveConsistency(%d, %d) succeeded", c[0], c[1])
		}
	}
}

func TestTLogProof(t *testing.T) {
	l := newMemLog(t, 13)
	ts := newTestSigner(t, "test")
	signed, cp := ts.checkpointAt(t, l, 13)
	p, err := ProveInclusion(l, 13, 6)
	if err != nil {
		t.Fatal(err)
	}
	tp := &TLogProof{Index: 6, Hashes: p.Hashes, Checkpoint: signed}
	text := tp.Marshal()
	want := TLogProofHeader + "\nindex 6\n"
	for _, h := range p.Hashes {
		want += h.String() + "\n"
	}
	want += "\n" + string(signed)
	if string(text) != want {
		t.Fatalf("Marshal:\n%s\nwant:\n%s", text, want)
	}
	got, gotCP, err := VerifyTLogProof(text, l.entries[6], "test/e", ts.v)
	if err != nil {
		t.Fatal(err)
	}
	if gotCP != cp || got.Index != 6 || len(got.Hashes) != len(p.Hashes) || !bytes.Equal(got.Checkpoint, signed) {
		t.Errorf("VerifyTLogProof = %+v, %+v", got, gotCP)
	}
	// Extra data survives a round trip.
	tp.Extra = []byte("context")
	rt, err := ParseTLogProof(tp.Marshal())
	if err != nil || string(rt.Extra) != "context" || !bytes.Equal(rt.Marshal(), tp.Marshal()) {
		t.Errorf("round trip with extra: %+v, %v", rt, err)
	}

	other := newTestSigner(t, "test")
	fails := map[string]func() error{
		"another entry": func() error { _, _, err := VerifyTLogProof(text, l.entries[5], "test/e", ts.v); return err },
		"another key":   func() error { _, _, err := VerifyTLogProof(text, l.entries[6], "test/e", other.v); return err },
		"another log":   func() error { _, _, err := VerifyTLogProof(text, l.entries[6], "test/f", ts.v); return err },
		"flipped hash": func() error {
			b := bytes.Replace(text, []byte(p.Hashes[1].String()), []byte(flip(p.Hashes[1]).String()), 1)
			_, _, err := VerifyTLogProof(b, l.entries[6], "test/e", ts.v)
			return err
		},
		"another index": func() error {
			b := bytes.Replace(text, []byte("index 6\n"), []byte("index 7\n"), 1)
			_, _, err := VerifyTLogProof(b, l.entries[6], "test/e", ts.v)
			return err
		},
		"a hash missing": func() error {
			b := bytes.Replace(text, []byte(p.Hashes[0].String()+"\n"), nil, 1)
			_, _, err := VerifyTLogProof(b, l.entries[6], "test/e", ts.v)
			return err
		},
	}
	for name, f := range fails {
		if err := f(); err == nil {
			t.Errorf("%s: verified", name)
		}
	}
}

func flip(h tlog.Hash) tlog.Hash {
	h[7] ^= 1
	return h
}

func TestParseTLogProofErrors(t *testing.T) {
	cp := "o\n1\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n\n— o sig\n"
	h := "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="
	for name, in := range map[string]string{
		"empty":            "",
		"wrong header":     "c2sp.org/tlog-proof@v2\nindex 0\n\n" + cp,
		"no index":         TLogProofHeader + "\n" + h + "\n\n" + cp,
		"leading zero":     TLogProofHeader + "\nindex 01\n\n" + cp,
		"negative index":   TLogProofHeader + "\nindex -1\n\n" + cp,
		"bad extra":        TLogProofHeader + "\nextra !!\nindex 0\n\n" + cp,
		"short hash":       TLogProofHeader + "\nindex 0\nAAAA\n\n" + cp,
		"no checkpoint":    TLogProofHeader + "\nindex 0\n" + h + "\n\n",
		"no empty line":    TLogProofHeader + "\nindex 0\n" + h + "\n",
		"index after hash": TLogProofHeader + "\n" + h + "\nindex 0\n\n" + cp,
	} {
		if p, err := ParseTLogProof([]byte(in)); err == nil {
			t.Errorf("%s: parsed as %+v", name, p)
		}
	}
}

// FuzzParseTLogProof: no panic, and what parses marshals back to the input.
func FuzzParseTLogProof(f *testing.F) {
	f.Add([]byte(TLogProofHeader + "\nindex 5\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n\no\n6\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n\n— o x\n"))
	f.Add([]byte(TLogProofHeader + "\nextra AQID\nindex 0\n\ncp"))
	f.Fuzz(func(t *testing.T, in []byte) {
		p, err := ParseTLogProof(in)
		if err != nil {
			return
		}
		if out := p.Marshal(); !bytes.Equal(out, in) {
			t.Fatalf("Marshal(Parse(%q)) = %q", in, out)
		}
	})
}
