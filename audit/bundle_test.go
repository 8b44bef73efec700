package audit_test

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/election-audit/ledger/audit"
	"github.com/election-audit/ledger/checkpoint"
	"github.com/election-audit/ledger/events"
	"github.com/election-audit/ledger/examples"
	"github.com/election-audit/ledger/internal/testkeys"
	"github.com/election-audit/ledger/keys"
	"github.com/election-audit/ledger/ledger"
	"github.com/election-audit/ledger/node"
	"github.com/election-audit/ledger/projections"
	"github.com/election-audit/ledger/store"
)

const ga06 = "ga06-2017-04"

// exampleEvents reads examples/ga06-2017-04.jsonl.
func exampleEvents(t testing.TB) []*events.Event {
	t.Helper()
	evs, err := examples.GA06April()
	if err != nil {
		t.Fatal(err)
	}
	return evs
}

// openNode opens a node that accepts the test authority's elections.
func openNode(t *testing.T, cfg node.Config) *node.Node {
	t.Helper()
	cfg.HTTP = "-"
	if cfg.Authorities == nil {
		cfg.Authorities = testkeys.Authorities
	}
	if cfg.NATSURL == "" {
		cfg.NATSListen = "127.0.0.1:0"
	}
	n, err := node.Open(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// mustSubmit signs events of one election as one submission by the test
// authority and submits it. It validates each event first, which puts it
// in its canonical form (sorted counts): a signature covers the exact
// bytes, so only canonical events may be signed.
func mustSubmit(t testing.TB, l *ledger.Ledger, evs ...*events.Event) []ledger.Receipt {
	t.Helper()
	for _, ev := range evs {
		if err := ev.Validate(); err != nil {
			t.Fatal(err)
		}
	}
	rs, err := l.Submit(context.Background(), testkeys.MustSign(testkeys.Authority, evs...))
	if err != nil {
		t.Fatal(err)
	}
	return rs
}

func closeNode(t *testing.T, n *node.Node) {
	t.Helper()
	if err := n.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
}

// ledgerDir is a closed ledger's data directory and its verifier key.
type ledgerDir struct {
	dir, key string
}

func (l ledgerDir) open(t *testing.T) *store.DB {
	t.Helper()
	db, err := store.Open(filepath.Join(l.dir, "pebble"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// exampleLedgers logs the example election one event per step (so every
// size has a signed checkpoint), then has a second ledger, with its own key
// and data directory, rebuild its log from the first one's stream.
func exampleLedgers(t *testing.T) (first, replica ledgerDir, size uint64) {
	t.Helper()
	first.dir, replica.dir = t.TempDir(), t.TempDir()
	a := openNode(t, node.Config{DataDir: first.dir})
	evs := exampleEvents(t)
	for _, ev := range evs {
		mustSubmit(t, a.Ledger, ev)
	}
	b := openNode(t, node.Config{DataDir: replica.dir, Name: "replica.local", NATSURL: a.Broker.ClientURL()})
	deadline := time.Now().Add(60 * time.Second)
	for b.Ledger.Position() != a.Ledger.Position() {
		if err := b.Ledger.Err(); err != nil {
			t.Fatalf("replica stopped: %v", err)
		}
		if time.Now().After(deadline) {
			t.Fatalf("replica at position %d after 60s, want %d", b.Ledger.Position(), a.Ledger.Position())
		}
		time.Sleep(10 * time.Millisecond)
	}
	first.key, replica.key = a.VerifierKey, b.VerifierKey
	closeNode(t, b)
	closeNode(t, a)
	return first, replica, uint64(len(evs))
}

func writeBundle(t *testing.T, db *store.DB, election string, n uint64, key string) ([]byte, *audit.BundleInfo) {
	t.Helper()
	var buf bytes.Buffer
	info, err := audit.WriteBundle(&buf, db, election, n, key)
	if err != nil {
		t.Fatalf("bundle of %s at %d: %v", election, n, err)
	}
	return buf.Bytes(), info
}

// The archive helpers below follow docs/bundle.md, not the package's code,
// so that the tests also check the specification.

type member struct {
	name string
	off  int64 // of its data in the file
	data []byte
}

// unpack splits a bundle into its members.
func unpack(t *testing.T, b []byte) []member {
	t.Helper()
	var ms []member
	for off := int64(0); ; {
		h := b[off : off+512]
		if bytes.Equal(h, make([]byte, 512)) {
			return ms
		}
		name, _, _ := bytes.Cut(h[:100], []byte{0})
		size, err := strconv.ParseInt(string(h[124:135]), 8, 64)
		if err != nil {
			t.Fatal(err)
		}
		ms = append(ms, member{string(name), off + 512, b[off+512 : off+512+size]})
		off += 512 + (size+511)/512*512
	}
}

// header is a bundle member's ustar header, from the table in docs/bundle.md.
func header(name string, size int) []byte {
	h := make([]byte, 512)
	copy(h, name)
	copy(h[100:], "0000644\x00")
	copy(h[108:], "0000000\x00")
	copy(h[116:], "0000000\x00")
	copy(h[124:], fmt.Sprintf("%011o\x00", size))
	copy(h[136:], "00000000000\x00")
	copy(h[148:], "        ")
	h[156] = '0'
	copy(h[257:], "ustar\x0000")
	copy(h[329:], "0000000\x00")
	copy(h[337:], "0000000\x00")
	sum := 0
	for _, c := range h {
		sum += int(c)
	}
	copy(h[148:], fmt.Sprintf("%06o\x00 ", sum))
	return h
}

// pack writes members as a bundle archive.
func pack(ms []member) []byte {
	var b bytes.Buffer
	for _, m := range ms {
		b.Write(header(m.name, len(m.data)))
		b.Write(m.data)
		b.Write(make([]byte, (512-len(m.data)%512)%512))
	}
	b.Write(make([]byte, 1024))
	return b.Bytes()
}

type index struct {
	Format   string `json:"format"`
	Version  int    `json:"version"`
	Election string `json:"election"`
	Size     uint64 `json:"size"`
	Members  []struct {
		Name   string `json:"name"`
		Size   int64  `json:"size"`
		SHA256 string `json:"sha256"`
	} `json:"members"`
}

// reindex rewrites bundle.json to match the other members, as someone
// without the signing key can.
func reindex(t *testing.T, ms []member) {
	t.Helper()
	var idx index
	if err := json.Unmarshal(ms[1].data, &idx); err != nil {
		t.Fatal(err)
	}
	others := append([]member{ms[0]}, ms[2:]...)
	if len(others) != len(idx.Members) {
		t.Fatalf("bundle.json lists %d members, the archive has %d besides it", len(idx.Members), len(others))
	}
	for i := range idx.Members {
		sum := sha256.Sum256(others[i].data)
		idx.Members[i].Name = others[i].name
		idx.Members[i].Size, idx.Members[i].SHA256 = int64(len(others[i].data)), hex.EncodeToString(sum[:])
	}
	b, err := json.Marshal(idx)
	if err != nil {
		t.Fatal(err)
	}
	ms[1].data = append(b, '\n')
}

func find(t *testing.T, ms []member, name string) *member {
	t.Helper()
	for i := range ms {
		if ms[i].name == name {
			return &ms[i]
		}
	}
	t.Fatalf("no member %s", name)
	return nil
}

// lines splits an entries member into entries.
func lines(data []byte) [][]byte {
	return bytes.SplitAfter(data, []byte("\n"))[:bytes.Count(data, []byte("\n"))]
}

// fixedMembers are the members every bundle begins with, in order.
var fixedMembers = []string{"README.txt", "bundle.json", "key.txt", "checkpoint.txt", "earlier-checkpoints.txt", "manifest.json", "tally.json"}

// submissionName names the member of the submission whose bytes have
// SHA-256 sum.
func submissionName(sum [32]byte) string { return "submissions/" + hex.EncodeToString(sum[:]) + ".txt" }

// wantMembers is the order of members the entries of a bundle call for:
// the fixed ones, then for each entries member the submissions its
// entries are the first to name, then it.
func wantMembers(t *testing.T, ms []member) []string {
	t.Helper()
	want := slices.Clone(fixedMembers)
	seen := map[[32]byte]bool{}
	for _, m := range ms {
		if !strings.HasPrefix(m.name, "entries/") {
			continue
		}
		for _, e := range lines(m.data) {
			ref, _, err := events.EntryOrigin(bytes.TrimSuffix(e, []byte("\n")))
			if err != nil {
				t.Fatal(err)
			}
			if !seen[ref.SHA256] {
				seen[ref.SHA256] = true
				want = append(want, submissionName(ref.SHA256))
			}
		}
		want = append(want, m.name)
	}
	return want
}

func memberNames(ms []member) []string {
	var out []string
	for _, m := range ms {
		out = append(out, m.name)
	}
	return out
}

// forge rewrites the event of entry i by change, as someone holding the
// key that signed its submission could: it signs the submission again,
// with that event changed, under the same submission ID, puts it in place
// of the original member, and makes every entry of the submission name the
// new bytes. Entries and submissions then agree with each other: only the
// ledger's signed roots can tell. The caller reindexes.
func forge(t *testing.T, ms []member, i uint64, key *keys.Key, change func(ev []byte)) {
	t.Helper()
	type at struct{ m, line int }
	var all []at
	for mi, m := range ms {
		if strings.HasPrefix(m.name, "entries/") {
			for li := range lines(m.data) {
				all = append(all, at{mi, li})
			}
		}
	}
	entry := func(a at) []byte { return bytes.TrimSuffix(lines(ms[a.m].data)[a.line], []byte("\n")) }
	ref, ev, err := events.EntryOrigin(entry(all[i]))
	if err != nil {
		t.Fatal(err)
	}
	old := slices.IndexFunc(ms, func(m member) bool { return m.name == submissionName(ref.SHA256) })
	if old < 0 {
		t.Fatalf("entry %d: its submission is not in the bundle", i)
	}
	sub, err := events.OpenSubmission(ms[old].data)
	if err != nil || sub.Signer != key.Verifier || !bytes.Equal(sub.Canonical[ref.Item], ev) {
		t.Fatalf("entry %d: its submission does not read, or is not signed by %s: %v", i, key.Name(), err)
	}
	changed := bytes.Clone(ev)
	change(changed)
	canonical := slices.Clone(sub.Canonical)
	canonical[ref.Item] = changed
	signed, err := events.SignEncoded(key.Signer, key.Verifier, sub.ID, sub.Election, canonical)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(signed)
	ms[old] = member{name: submissionName(sum), data: signed}
	rewritten := map[int][][]byte{}
	for j, a := range all {
		if _, ok := rewritten[a.m]; !ok {
			rewritten[a.m] = lines(bytes.Clone(ms[a.m].data))
		}
		r, e, err := events.EntryOrigin(entry(a))
		if err != nil {
			t.Fatal(err)
		}
		if r.SHA256 != ref.SHA256 {
			continue
		}
		en, err := events.DecodeEntry(entry(a))
		if err != nil {
			t.Fatal(err)
		}
		en.Submission.SHA256 = sum
		if uint64(j) == i {
			e = changed
		}
		b, err := en.EncodeWith(e)
		if err != nil {
			t.Fatal(err)
		}
		rewritten[a.m][a.line] = append(b, '\n')
	}
	for mi, es := range rewritten {
		ms[mi].data = bytes.Join(es, nil)
	}
}

// mth is the RFC 6962 Merkle tree hash of leaves, as docs/storage.md gives it.
func mth(leaves []tlog.Hash) tlog.Hash {
	if len(leaves) == 1 {
		return leaves[0]
	}
	k := 1
	for k*2 < len(leaves) {
		k *= 2
	}
	l, r := mth(leaves[:k]), mth(leaves[k:])
	return sha256.Sum256(append(append([]byte{1}, l[:]...), r[:]...))
}

// verifyFile writes b to a file and verifies the file.
func verifyFile(t *testing.T, b []byte, key string) (*audit.BundleInfo, error) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "bundle.tar")
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	return audit.VerifyBundle(f, key)
}

// wantFault checks err is a *BundleError for member and, if index >= 0,
// that entry.
func wantFault(t *testing.T, err error, member string, index int64) {
	t.Helper()
	var be *audit.BundleError
	if !errors.As(err, &be) {
		t.Fatalf("want a fault in %s, got %v", member, err)
	}
	if be.Member != member || (index >= 0) != be.HasIndex || (be.HasIndex && be.Index != uint64(index)) {
		t.Fatalf("want a fault in %s at entry %d, got %v", member, index, err)
	}
	t.Logf("detected: %v", err)
}

const entries0 = "entries/00000000000000000000.jsonl"

func TestBundle(t *testing.T) {
	first, replica, size := exampleLedgers(t)
	db, rdb := first.open(t), replica.open(t)

	// Every size has a checkpoint: each verifies, without the key, with
	// the ledger key, and with the election's log key (named by its
	// origin), which the bundle carries.
	logKey, err := checkpoint.LogKey(first.key, ga06)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(logKey, "ledger.local/"+ga06+"+") {
		t.Fatalf("log key %s", logKey)
	}
	bundles := map[uint64][]byte{}
	for n := uint64(1); n <= size; n++ {
		b, w := writeBundle(t, db, ga06, n, first.key)
		bundles[n] = b
		for _, key := range []string{"", first.key, logKey} {
			info, err := verifyFile(t, b, key)
			if err != nil {
				t.Fatalf("bundle at %d, key %q: %v", n, key, err)
			}
			if info.Election != ga06 || info.Size != n || info.Root != w.Root || info.Key != logKey ||
				info.Checkpoints != int(n) || info.TallySHA256 != w.TallySHA256 || !bytes.Equal(info.Tally, w.Tally) {
				t.Fatalf("bundle at %d: verified %+v, written %+v", n, info, w)
			}
		}
		want, err := audit.Replay(db, ga06, n, nil)
		if err != nil {
			t.Fatal(err)
		}
		if doc, _ := want.Tally().Encode(); !bytes.Equal(doc, w.Tally) {
			t.Fatalf("tally at %d differs from audit.Replay", n)
		}
	}

	// The final tally has the official totals.
	var tally struct {
		Entries  uint64
		Contests []struct {
			ID         string
			TotalVotes int64 `json:"total_votes"`
			Choices    []struct {
				Name  string
				Votes int64
			}
		}
	}
	if err := json.Unmarshal(find(t, unpack(t, bundles[size]), "tally.json").data, &tally); err != nil {
		t.Fatal(err)
	}
	found := false
	for _, c := range tally.Contests {
		for _, ch := range c.Choices {
			if ch.Name == "Jon Ossoff" {
				found = true
				if ch.Votes != 92673 || c.TotalVotes != 192569 {
					t.Errorf("Ossoff has %d of %d votes, want 92,673 of 192,569", ch.Votes, c.TotalVotes)
				}
			}
		}
	}
	if !found || tally.Entries != size {
		t.Errorf("tally of %d entries, Ossoff found: %v", tally.Entries, found)
	}

	// The members are what the docs say, in order: the fixed ones, each
	// submission (one per event here) before the entries, and the entries;
	// entries and submissions are stored bytes unchanged; Go's archive/tar
	// reads the archive as ustar.
	ms := unpack(t, bundles[size])
	names := wantMembers(t, ms)
	if len(names) != len(fixedMembers)+int(size)+1 || names[len(names)-1] != entries0 {
		t.Fatalf("members %v: want the fixed ones, %d submissions and %s", names, size, entries0)
	}
	if len(ms) != len(names) {
		t.Fatalf("%d members, want %d", len(ms), len(names))
	}
	for i, m := range ms {
		if m.name != names[i] {
			t.Errorf("member %d is %s, want %s", i, m.name, names[i])
		}
		if !strings.HasPrefix(m.name, "submissions/") {
			continue
		}
		sum := sha256.Sum256(m.data)
		stored, err := db.Submission(ga06, sum)
		if err != nil || m.name != submissionName(sum) || !bytes.Equal(stored, m.data) {
			t.Errorf("member %s is not the stored submission with its SHA-256 (%v)", m.name, err)
		}
	}
	es := lines(find(t, ms, entries0).data)
	leaves := make([]tlog.Hash, len(es))
	for i, e := range es {
		stored, err := db.Entry(ga06, uint64(i))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(e, append(stored, '\n')) {
			t.Errorf("entry %d is not stored bytes and a newline", i)
		}
		leaves[i] = tlog.RecordHash(stored)
	}
	cp, err := checkpoint.Open(find(t, ms, "checkpoint.txt").data, "ledger.local/"+ga06, mustVerifier(t, logKey))
	if err != nil || cp.Root != mth(leaves) {
		t.Errorf("checkpoint root %s, entries give %s (%v)", cp.Root, mth(leaves), err)
	}
	// The checkpoint's one signature line names the log key: its origin.
	if _, sigs, _ := bytes.Cut(find(t, ms, "checkpoint.txt").data, []byte("\n\n")); !bytes.HasPrefix(sigs, []byte("— ledger.local/"+ga06+" ")) || bytes.Count(sigs, []byte("\n")) != 1 {
		t.Errorf("checkpoint.txt signature lines %q", sigs)
	}
	if got := string(find(t, ms, "key.txt").data); got != logKey+"\n" {
		t.Errorf("key.txt = %q, want the log key %s", got, logKey)
	}
	if !bytes.HasSuffix(es[0], append(append([]byte(`,"event":`), find(t, ms, "manifest.json").data...), '}', '\n')) {
		t.Error("manifest.json is not the event of entry 0")
	}
	if got := bytes.Count(find(t, ms, "earlier-checkpoints.txt").data, []byte("\n")); got != int(size)-1 {
		t.Errorf("%d earlier checkpoints, want %d", got, size-1)
	}
	tr := tar.NewReader(bytes.NewReader(bundles[size]))
	for i := 0; ; i++ {
		h, err := tr.Next()
		if err == io.EOF {
			if i != len(names) {
				t.Errorf("archive/tar read %d members", i)
			}
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if h.Name != names[i] || h.Typeflag != tar.TypeReg || h.Mode != 0o644 || h.Uid != 0 || h.Gid != 0 ||
			!h.ModTime.Equal(time.Unix(0, 0)) || h.Format&tar.FormatUSTAR == 0 || h.Size != int64(len(ms[i].data)) {
			t.Errorf("archive/tar header %d: %+v", i, h)
		}
	}

	// Deterministic: the same log and N give the same bytes, whichever
	// form of the key it is written with.
	for _, n := range []uint64{1, 4, size} {
		again, _ := writeBundle(t, db, ga06, n, first.key)
		if !bytes.Equal(again, bundles[n]) {
			t.Errorf("two bundles at %d differ", n)
		}
		again, _ = writeBundle(t, db, ga06, n, logKey)
		if !bytes.Equal(again, bundles[n]) {
			t.Errorf("the bundle at %d written with the log key differs", n)
		}
	}

	// A ledger rebuilt from the same stream: same tally bytes and SHA-256,
	// same entries; its own key.
	rb, rinfo := writeBundle(t, rdb, ga06, size, replica.key)
	info, err := verifyFile(t, rb, replica.key)
	if err != nil {
		t.Fatal(err)
	}
	_, finfo := writeBundle(t, db, ga06, size, first.key)
	if !bytes.Equal(info.Tally, finfo.Tally) || info.TallySHA256 != finfo.TallySHA256 || rinfo.Root != finfo.Root {
		t.Errorf("replica's bundle: tally sha256 %x root %s, first's %x %s", info.TallySHA256, rinfo.Root, finfo.TallySHA256, finfo.Root)
	}
	rms := unpack(t, rb)
	if !slices.Equal(memberNames(rms), names) {
		t.Errorf("replica's members %v, want %v", memberNames(rms), names)
	}
	for _, name := range append([]string{"tally.json", "manifest.json"}, names[len(fixedMembers):]...) {
		if !bytes.Equal(find(t, rms, name).data, find(t, ms, name).data) {
			t.Errorf("replica's %s differs", name)
		}
	}
	t.Logf("tally at %d: sha256 %x on both ledgers", size, info.TallySHA256)

	// A bundle checked against another key is refused.
	_, err = verifyFile(t, rb, first.key)
	if !errors.Is(err, audit.ErrWrongKey) {
		t.Errorf("replica's bundle with the first ledger's key: %v", err)
	}
	wantFault(t, err, "key.txt", -1)

	// Another election's log key, of the same ledger, is refused: it is
	// not the key of this log.
	otherLog, err := checkpoint.LogKey(first.key, "demo-2026")
	if err != nil {
		t.Fatal(err)
	}
	_, err = verifyFile(t, bundles[size], otherLog)
	if !errors.Is(err, audit.ErrWrongKey) || !strings.Contains(err.Error(), "is the key of log ledger.local/demo-2026, not of ledger.local/"+ga06) {
		t.Errorf("the bundle with another election's log key: %v", err)
	}
	wantFault(t, err, "key.txt", -1)
	if _, err := audit.WriteBundle(io.Discard, db, ga06, size, otherLog); err == nil {
		t.Error("a bundle written with another election's log key")
	}

	// A bundle as versions before log keys wrote it: key.txt the ledger
	// key, every checkpoint signed under the ledger name. Refused, saying
	// so, with and without a key.
	old := unpack(t, bundles[size])
	k, err := checkpoint.LoadOrCreateKey(first.dir, "ledger.local")
	if err != nil {
		t.Fatal(err)
	}
	resign := func(signed []byte) []byte {
		c, err := checkpoint.Open(signed, "ledger.local/"+ga06, mustVerifier(t, logKey))
		if err != nil {
			t.Fatal(err)
		}
		b, err := checkpoint.SignWith(k.LedgerSigner(), c.Origin, c.Size, c.Root)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	find(t, old, "key.txt").data = []byte(first.key + "\n")
	find(t, old, "checkpoint.txt").data = resign(find(t, old, "checkpoint.txt").data)
	var earlier bytes.Buffer
	for _, line := range lines(find(t, old, "earlier-checkpoints.txt").data) {
		s, b64, _ := strings.Cut(strings.TrimSuffix(string(line), "\n"), " ")
		signed, err := base64.StdEncoding.DecodeString(b64)
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&earlier, "%s %s\n", s, base64.StdEncoding.EncodeToString(resign(signed)))
	}
	find(t, old, "earlier-checkpoints.txt").data = earlier.Bytes()
	reindex(t, old)
	_, err = verifyFile(t, pack(old), "")
	if err == nil || !strings.Contains(err.Error(), "a key named by a ledger name, not the log key of "+ga06) {
		t.Errorf("a bundle of an earlier version: %v", err)
	}
	wantFault(t, err, "key.txt", -1)
	if _, err = verifyFile(t, pack(old), first.key); !errors.Is(err, audit.ErrWrongKey) {
		t.Errorf("a bundle of an earlier version, with the ledger key: %v", err)
	}

	// Bad requests.
	var buf bytes.Buffer
	if _, err := audit.WriteBundle(&buf, db, "nope", 1, first.key); !errors.Is(err, audit.ErrUnknownElection) {
		t.Errorf("unknown election: %v", err)
	}
	if _, err := audit.WriteBundle(&buf, db, ga06, size+1, first.key); !errors.Is(err, audit.ErrPastEnd) {
		t.Errorf("past the end: %v", err)
	} else {
		t.Logf("past the end: %v", err)
	}
	if _, err := audit.WriteBundle(&buf, db, ga06, 0, first.key); err == nil {
		t.Error("size 0: no error")
	}
	if _, err := audit.WriteBundle(&buf, db, ga06, size, replica.key); err == nil {
		t.Error("bundle with another ledger's key: no error")
	}
	if buf.Len() != 0 {
		t.Errorf("failed bundles wrote %d bytes", buf.Len())
	}

	t.Run("tamper", func(t *testing.T) { testTamper(t, bundles[size], first.key, size) })
}

func mustVerifier(t *testing.T, key string) note.Verifier {
	t.Helper()
	v, err := note.NewVerifier(key)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// testTamper changes a good bundle in the ways of issue 3's tamper tests and
// more; each is detected, at the right member and entry.
func testTamper(t *testing.T, good []byte, key string, size uint64) {
	if _, err := verifyFile(t, good, key); err != nil {
		t.Fatal(err)
	}
	// edit applies f to the unpacked members, then packs them again;
	// rehash also rewrites bundle.json to match.
	edit := func(f func(ms []member), rehash bool) []byte {
		ms := unpack(t, good)
		for i := range ms {
			ms[i].data = bytes.Clone(ms[i].data)
		}
		f(ms)
		if rehash {
			reindex(t, ms)
		}
		return pack(ms)
	}
	entryAt := func(ms []member, i int) []byte { return lines(find(t, ms, entries0).data)[i] }
	setEntries := func(ms []member, es [][]byte) { find(t, ms, entries0).data = bytes.Join(es, nil) }
	// bumpVotes changes the first digit of the first "votes" of an entry:
	// it still decodes.
	bumpVotes := func(e []byte) {
		i := bytes.Index(e, []byte(`"votes":`)) + len(`"votes":`)
		if e[i] == '9' {
			e[i] = '8'
		} else {
			e[i]++
		}
	}

	t.Run("flip a byte of an entry in the file", func(t *testing.T) {
		for _, at := range []int{0, 1, 2, 3} { // several places of entry 3
			b := bytes.Clone(good)
			ms := unpack(t, good)
			m := find(t, ms, entries0)
			es := lines(m.data)
			off := m.off
			for _, e := range es[:3] {
				off += int64(len(e))
			}
			off += int64(len(es[3]) * (2*at + 1) / 8)
			b[off] ^= 0x01
			_, err := verifyFile(t, b, key)
			wantFault(t, err, entries0, 3)
		}
	})
	t.Run("change a vote count of an entry", func(t *testing.T) {
		b := edit(func(ms []member) { bumpVotes(entryAt(ms, 4)) }, false)
		_, err := verifyFile(t, b, key)
		wantFault(t, err, entries0, 4)
	})
	t.Run("rewrite an entry and recompute every hash and the tally", func(t *testing.T) {
		// Without the key of the office that signed it: its submission
		// tells.
		b := edit(func(ms []member) {
			bumpVotes(entryAt(ms, 4))
			es := lines(find(t, ms, entries0).data)
			tally, err := audit.TallyAt(lineSource(es), ga06, size)
			if err != nil {
				t.Fatal(err)
			}
			find(t, ms, "tally.json").data, _ = tally.Encode()
		}, true)
		_, err := verifyFile(t, b, key)
		wantFault(t, err, entries0, 4)
		if !strings.Contains(err.Error(), "byte for byte") {
			t.Errorf("want the entry held to its submission, got %v", err)
		}
		// With it, signing the submission again: the signed root tells.
		b = edit(func(ms []member) {
			forge(t, ms, 4, testkeys.Authority, bumpVotes)
			es := lines(find(t, ms, entries0).data)
			tally, err := audit.TallyAt(lineSource(es), ga06, size)
			if err != nil {
				t.Fatal(err)
			}
			find(t, ms, "tally.json").data, _ = tally.Encode()
		}, true)
		_, err = verifyFile(t, b, key)
		wantFault(t, err, entries0, 4)
		if !strings.Contains(err.Error(), "signed") {
			t.Errorf("want a signed-root mismatch, got %v", err)
		}
	})
	t.Run("delete an entry", func(t *testing.T) {
		for _, rehash := range []bool{false, true} {
			b := edit(func(ms []member) {
				es := lines(find(t, ms, entries0).data)
				setEntries(ms, append(es[:2:2], es[3:]...))
			}, rehash)
			_, err := verifyFile(t, b, key)
			wantFault(t, err, entries0, 2)
		}
		b := edit(func(ms []member) { // the last one
			es := lines(find(t, ms, entries0).data)
			setEntries(ms, es[:len(es)-1])
		}, true)
		_, err := verifyFile(t, b, key)
		wantFault(t, err, entries0, int64(size)-1)
	})
	t.Run("swap two entries", func(t *testing.T) {
		b := edit(func(ms []member) {
			es := lines(find(t, ms, entries0).data)
			es[2], es[4] = es[4], es[2]
			setEntries(ms, es)
		}, true)
		_, err := verifyFile(t, b, key)
		wantFault(t, err, entries0, 2)
	})
	t.Run("add an entry", func(t *testing.T) {
		b := edit(func(ms []member) {
			es := lines(find(t, ms, entries0).data)
			setEntries(ms, append(es, es[len(es)-1]))
		}, true)
		_, err := verifyFile(t, b, key)
		wantFault(t, err, entries0, -1)
	})
	t.Run("flip a byte of the checkpoint signature", func(t *testing.T) {
		b := edit(func(ms []member) {
			cp := find(t, ms, "checkpoint.txt").data
			i := bytes.LastIndexByte(cp, ' ') + 20 // inside the signature's base64
			if cp[i] == 'A' {
				cp[i] = 'B'
			} else {
				cp[i] = 'A'
			}
		}, true)
		_, err := verifyFile(t, b, key)
		wantFault(t, err, "checkpoint.txt", -1)
	})
	t.Run("flip a byte of an earlier checkpoint", func(t *testing.T) {
		b := edit(func(ms []member) { find(t, ms, "earlier-checkpoints.txt").data[30] ^= 0x01 }, true)
		_, err := verifyFile(t, b, key)
		wantFault(t, err, "earlier-checkpoints.txt", -1)
	})
	t.Run("flip a byte of the tally", func(t *testing.T) {
		for _, rehash := range []bool{false, true} {
			b := edit(func(ms []member) {
				tally := find(t, ms, "tally.json").data
				i := bytes.Index(tally, []byte(`"votes":92673`))
				tally[i+len(`"votes":9267`)] = '4'
			}, rehash)
			_, err := verifyFile(t, b, key)
			wantFault(t, err, "tally.json", -1)
		}
	})
	t.Run("flip a byte of the key", func(t *testing.T) {
		b := edit(func(ms []member) {
			k := find(t, ms, "key.txt").data
			k[len(k)-10] ^= 0x01
		}, true)
		_, err := verifyFile(t, b, "")
		if err == nil {
			t.Fatal("passed")
		}
		t.Logf("detected: %v", err)
		_, err = verifyFile(t, b, key)
		if !errors.Is(err, audit.ErrWrongKey) {
			t.Fatalf("with --key: %v", err)
		}
	})
	t.Run("a key of another ledger and checkpoints it signed", func(t *testing.T) {
		other, err := checkpoint.LoadOrCreateKey(t.TempDir(), "ledger.local")
		if err != nil {
			t.Fatal(err)
		}
		b := edit(func(ms []member) {
			find(t, ms, "key.txt").data = []byte(other.LogKey(ga06) + "\n")
			lv, origin, err := checkpoint.LogVerifier(key, ga06)
			if err != nil {
				t.Fatal(err)
			}
			cp, err := checkpoint.Open(find(t, ms, "checkpoint.txt").data, origin, lv)
			if err != nil {
				t.Fatal(err)
			}
			find(t, ms, "checkpoint.txt").data, err = checkpoint.Sign(other, cp.Origin, cp.Size, cp.Root)
			if err != nil {
				t.Fatal(err)
			}
			find(t, ms, "earlier-checkpoints.txt").data = nil
		}, true)
		if _, err := verifyFile(t, b, ""); err != nil {
			t.Fatalf("a consistent bundle by another key: %v", err) // consistent, but not ours:
		}
		_, err = verifyFile(t, b, key)
		if !errors.Is(err, audit.ErrWrongKey) {
			t.Fatalf("with --key: %v", err)
		}
	})
	t.Run("edit the README or the index", func(t *testing.T) {
		b := edit(func(ms []member) { ms[0].data[5] ^= 0x20 }, false)
		_, err := verifyFile(t, b, key)
		wantFault(t, err, "README.txt", -1)
		b = edit(func(ms []member) { ms[1].data = bytes.Replace(ms[1].data, []byte(`,"size"`), []byte(`, "size"`), 1) }, false)
		_, err = verifyFile(t, b, key)
		wantFault(t, err, "bundle.json", -1)
		b = edit(func(ms []member) { ms[1].data = bytes.Replace(ms[1].data, []byte(`"size":6,`), []byte(`"size":5,`), 1) }, false)
		_, err = verifyFile(t, b, key)
		wantFault(t, err, "checkpoint.txt", -1)
		b = edit(func(ms []member) { ms[0], ms[2] = ms[2], ms[0] }, false)
		_, err = verifyFile(t, b, key)
		wantFault(t, err, "README.txt", -1)
	})
	t.Run("truncate the file", func(t *testing.T) {
		ms := unpack(t, good)
		m := find(t, ms, entries0)
		es := lines(m.data)
		inEntry3 := int(m.off) + len(es[0]) + len(es[1]) + len(es[2]) + 10
		for _, n := range []int{0, 100, 512, 2000, inEntry3, len(good) - 1024 - 1, len(good) - 1024, len(good) - 1} {
			_, err := verifyFile(t, good[:n], key)
			if err == nil {
				t.Fatalf("truncated at %d: passed", n)
			}
			if n == inEntry3 {
				wantFault(t, err, entries0, 3)
			}
			t.Logf("truncated at %d: %v", n, err)
		}
	})
	t.Run("trailing data", func(t *testing.T) {
		_, err := verifyFile(t, append(bytes.Clone(good), 0), key)
		wantFault(t, err, "", -1)
	})
	// The submissions: entry i of this log came in the submission that is
	// member i after the fixed ones.
	subAt := func(ms []member, i int) *member { return &ms[len(fixedMembers)+i] }
	// A submission altered, with bundle.json as it was or rewritten: the
	// fault is the entry's, and names the member.
	wantAltered := func(t *testing.T, err error, ms []member) {
		t.Helper()
		wantFault(t, err, entries0, 3)
		if want := "its submission " + subAt(ms, 3).name + " was altered"; !strings.Contains(err.Error(), want) {
			t.Errorf("want %q, got %v", want, err)
		}
	}
	t.Run("flip a byte of a submission's signature", func(t *testing.T) {
		for _, rehash := range []bool{false, true} {
			b := edit(func(ms []member) {
				d := subAt(ms, 3).data
				d[len(d)-10] ^= 0x01
			}, rehash)
			_, err := verifyFile(t, b, key)
			wantAltered(t, err, unpack(t, good))
		}
	})
	t.Run("change an event in its submission", func(t *testing.T) {
		for _, rehash := range []bool{false, true} {
			b := edit(func(ms []member) { bumpVotes(subAt(ms, 3).data) }, rehash)
			_, err := verifyFile(t, b, key)
			wantAltered(t, err, unpack(t, good))
		}
	})
	t.Run("remove a submission", func(t *testing.T) {
		ms := unpack(t, good)
		ms = slices.Delete(ms, len(fixedMembers)+3, len(fixedMembers)+4)
		var idx index
		if err := json.Unmarshal(ms[1].data, &idx); err != nil {
			t.Fatal(err)
		}
		// bundle.json lists the members after it.
		idx.Members = slices.Delete(idx.Members, len(fixedMembers)+2, len(fixedMembers)+3)
		b, err := json.Marshal(idx)
		if err != nil {
			t.Fatal(err)
		}
		ms[1].data = append(b, '\n')
		_, err = verifyFile(t, pack(ms), key)
		wantFault(t, err, entries0, 3)
	})
}

// syntheticLedger writes a log of the example events straight into a
// Pebble database, signing checkpoints only at the given sizes, with a new
// key. Each event comes in its own submission, signed by the test
// authority, which the manifest names. It returns the database and the
// verifier key.
func syntheticLedger(t testing.TB, cpSizes ...uint64) (*store.DB, string) {
	t.Helper()
	evs := exampleEvents(t)
	s, err := checkpoint.LoadOrCreateKey(t.TempDir(), "synthetic.local")
	if err != nil {
		t.Fatal(err)
	}
	vkey := s.VerifierKey()
	db, err := store.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	b := db.NewBatch()
	defer b.Close()
	var leaves []tlog.Hash
	for i, ev := range evs {
		sub, err := events.OpenSubmission(testkeys.MustSign(testkeys.Authority, ev))
		if err != nil {
			t.Fatal(err)
		}
		if sub.SignatureErr != nil {
			t.Fatal(sub.SignatureErr)
		}
		b.PutSubmission(ga06, sub.SHA256, sub.Bytes)
		ref := &events.SubmissionRef{ID: sub.ID, SHA256: sub.SHA256, Item: 0, Signer: sub.Signer}
		en := &events.Entry{Index: uint64(i), Recorded: time.Date(2017, 4, 19, 2, i, 0, 0, time.UTC), Verdict: events.Accepted, Submission: ref, Event: ev}
		data, err := en.Encode()
		if err != nil {
			t.Fatal(err)
		}
		b.PutEntry(ga06, uint64(i), data)
		leaves = append(leaves, tlog.RecordHash(data))
		for _, cs := range cpSizes {
			if cs == uint64(i+1) {
				signed, err := checkpoint.Sign(s, "synthetic.local/"+ga06, cs, mth(leaves))
				if err != nil {
					t.Fatal(err)
				}
				b.PutCheckpoint(ga06, cs, signed)
			}
		}
	}
	b.PutTreeSize(ga06, uint64(len(evs)))
	if err := b.Commit(); err != nil {
		t.Fatal(err)
	}
	return db, vkey
}

func TestBundleSparseCheckpoints(t *testing.T) {
	db, key := syntheticLedger(t, 1, 3, 6)
	for n, near := range map[uint64][2]uint64{2: {1, 3}, 4: {3, 6}, 5: {3, 6}} {
		_, err := audit.WriteBundle(io.Discard, db, ga06, n, key)
		var nc *audit.NoCheckpointError
		if !errors.As(err, &nc) || nc.Before != near[0] || nc.After != near[1] {
			t.Fatalf("bundle at %d: %v", n, err)
		}
		if n == 4 {
			t.Logf("bundle at 4: %v", err)
		}
	}
	b, _ := writeBundle(t, db, ga06, 6, key)
	info, err := verifyFile(t, b, key)
	if err != nil || info.Checkpoints != 3 {
		t.Fatalf("verified %+v: %v", info, err)
	}
	// A changed entry between two signed sizes, its submission signed
	// again so that only the signed roots can tell: the fault is placed
	// between them.
	ms := unpack(t, b)
	forge(t, ms, 4, testkeys.Authority, func(e []byte) {
		i := bytes.Index(e, []byte(`"votes":`)) + len(`"votes":`)
		e[i] = '7'
	})
	reindex(t, ms)
	_, err = verifyFile(t, pack(ms), key)
	wantFault(t, err, entries0, 3)
	if !strings.Contains(err.Error(), "entries [3, 6)") {
		t.Errorf("want the range [3, 6) named: %v", err)
	}
}

// TestBundleLongLog bundles a log of more than one entries member, with
// checkpoints where the ledger's steps ended.
func TestBundleLongLog(t *testing.T) {
	if testing.Short() {
		t.Skip("long log")
	}
	const election, total = "long-2026", audit.BundleEntriesPerFile + 700
	dir := t.TempDir()
	n := openNode(t, node.Config{DataDir: dir})
	m := &events.Manifest{
		Name: "Long", Date: "2026-11-03",
		VoteTypes: []events.VoteType{{ID: "day", Name: "Election Day"}},
		Units: []events.Unit{{ID: "st", Name: "State", Kind: "state"},
			{ID: "a", Name: "A", Kind: "county", Parent: "st"}, {ID: "b", Name: "B", Kind: "county", Parent: "st"}},
		Contests: []events.Contest{{ID: "m", Name: "Measure", VoteFor: 1,
			Choices: []events.Choice{{ID: "no", Name: "No"}, {ID: "yes", Name: "Yes"}}}},
	}
	ev := func(b events.Body) *events.Event {
		return &events.Event{ID: uuid.Must(uuid.NewV7()), Election: election, Body: b}
	}
	evs := []*events.Event{ev(m)}
	for i := 1; i < total; i++ {
		evs = append(evs, ev(&events.CountReport{Unit: []string{"a", "b"}[i%2], Contest: "m",
			Counts: []events.Count{{Choice: "no", VoteType: "day", Votes: int64(i)}, {Choice: "yes", VoteType: "day", Votes: int64(2 * i)}},
			Source: events.Source{Operator: "test"}}))
	}
	for len(evs) > 0 {
		k := min(len(evs), 900)
		mustSubmit(t, n.Ledger, evs[:k]...)
		evs = evs[k:]
	}
	key := n.VerifierKey
	closeNode(t, n)
	db := ledgerDir{dir, key}.open(t)

	var sizes []uint64
	if err := db.Checkpoints(election, func(s uint64, _ []byte) error { sizes = append(sizes, s); return nil }); err != nil {
		t.Fatal(err)
	}
	b, w := writeBundle(t, db, election, total, key)
	info, err := verifyFile(t, b, key)
	if err != nil {
		t.Fatal(err)
	}
	if info.Size != total || info.Checkpoints != len(sizes) || info.Root != w.Root {
		t.Fatalf("verified %+v, written %+v, %d checkpoints", info, w, len(sizes))
	}
	ms := unpack(t, b)
	second := fmt.Sprintf("entries/%020d.jsonl", audit.BundleEntriesPerFile)
	// Steps of 900 events: submissions from entries 0, 900, …, 3600 come
	// before the first entries member, the one from 4500 before the second.
	names := memberNames(ms)
	if want := wantMembers(t, ms); !slices.Equal(names, want) {
		t.Fatalf("members %v, want %v", names, want)
	}
	first := slices.Index(names, entries0)
	if len(ms) != len(fixedMembers)+5+1+1+1 || first != len(fixedMembers)+5 || names[len(names)-1] != second ||
		len(lines(ms[first].data)) != audit.BundleEntriesPerFile || len(lines(ms[len(ms)-1].data)) != total-audit.BundleEntriesPerFile {
		t.Fatalf("members: %v", names)
	}
	t.Logf("%d entries in %d bytes, %d signed checkpoints (sizes %v…)", total, len(b), len(sizes), sizes[:min(len(sizes), 8)])

	// A size between two checkpoints is refused with the nearest ones.
	for i := 1; i < len(sizes); i++ {
		if sizes[i]-sizes[i-1] > 1 {
			_, err := audit.WriteBundle(io.Discard, db, election, sizes[i]-1, key)
			var nc *audit.NoCheckpointError
			if !errors.As(err, &nc) || nc.Before != sizes[i-1] || nc.After != sizes[i] {
				t.Fatalf("bundle at %d: %v", sizes[i]-1, err)
			}
			t.Logf("bundle at %d: %v", sizes[i]-1, err)
			break
		}
	}
	// An entry of the second member changed. As it is, its submission
	// tells, at that entry; with its submission signed again (which
	// changes the references of all the submission's entries, from 4500),
	// the signed roots tell: checkpoints are sparse here, so the fault is
	// placed between the last signed size the entries match and the first
	// they do not, in the second member.
	const changed = audit.BundleEntriesPerFile + 500
	bump := func(e []byte) {
		i := bytes.Index(e, []byte(`"votes":`)) + len(`"votes":`)
		e[i] = '0' + (e[i]-'0')%9 + 1
	}
	plain := unpack(t, b)
	for i := range plain {
		plain[i].data = bytes.Clone(plain[i].data)
	}
	bump(lines(plain[len(plain)-1].data)[changed-audit.BundleEntriesPerFile])
	reindex(t, plain)
	_, err = verifyFile(t, pack(plain), key)
	wantFault(t, err, second, changed)
	if !strings.Contains(err.Error(), "byte for byte") {
		t.Errorf("want the entry held to its submission, got %v", err)
	}
	forge(t, ms, changed, testkeys.Authority, bump)
	reindex(t, ms)
	_, err = verifyFile(t, pack(ms), key)
	var be *audit.BundleError
	if !errors.As(err, &be) || be.Member != second || !be.HasIndex || be.Index < 4500 || be.Index > changed || !strings.Contains(be.What, "entries [") {
		t.Fatalf("changed entry %d: %v", changed, err)
	}
	t.Logf("detected: %v", err)
}

// lineSource is an audit.Source of entries, each with its newline.
type lineSource [][]byte

func (s lineSource) Entries(_ string, start, end uint64, fn func(uint64, []byte) error) error {
	for i := start; i < end && i < uint64(len(s)); i++ {
		if err := fn(i, bytes.TrimSuffix(s[i], []byte("\n"))); err != nil {
			return err
		}
	}
	return nil
}

func TestTallyAt(t *testing.T) {
	db, _ := syntheticLedger(t, 6)
	var all [][]byte
	if err := db.Entries(ga06, 0, 6, func(_ uint64, data []byte) error { all = append(all, bytes.Clone(data)); return nil }); err != nil {
		t.Fatal(err)
	}
	for n := uint64(1); n <= 6; n++ {
		got, err := audit.TallyAt(db, ga06, n)
		if err != nil {
			t.Fatal(err)
		}
		want, err := audit.Replay(db, ga06, n, nil)
		if err != nil {
			t.Fatal(err)
		}
		a, _ := got.Encode()
		b, _ := want.Tally().Encode()
		if !bytes.Equal(a, b) {
			t.Errorf("tally at %d differs from audit.Replay", n)
		}
		if c, err := audit.TallyAt(lineSource(all), ga06, n); err != nil || !bytes.Equal(mustEncode(t, c), a) {
			t.Errorf("tally at %d from another source: %v", n, err)
		}
	}
	if _, err := audit.TallyAt(db, ga06, 7); err == nil {
		t.Error("past the end: no error")
	}
	if _, err := audit.TallyAt(db, ga06, 0); err == nil {
		t.Error("at 0: no error")
	}
	// A gap, an entry at the wrong place, and a verdict the rules would not
	// give, each name the index.
	var me *audit.MismatchError
	gap := append(all[:2:2], all[3:]...)
	if _, err := audit.TallyAt(lineSource(gap), ga06, 5); !errors.As(err, &me) || me.Index != 2 {
		t.Errorf("entry 2 missing: %v", err)
	}
	swapped := slices.Clone(all)
	swapped[1], swapped[2] = swapped[2], swapped[1]
	if _, err := audit.TallyAt(lineSource(swapped), ga06, 6); !errors.As(err, &me) || me.Index != 1 {
		t.Errorf("entries 1 and 2 swapped: %v", err)
	}
	rejected := slices.Clone(all)
	rejected[3] = bytes.Replace(rejected[3], []byte(`"verdict":"accepted"`), []byte(`"verdict":"rejected","reason":"x"`), 1)
	if _, err := audit.TallyAt(lineSource(rejected), ga06, 6); !errors.As(err, &me) || me.Index != 3 {
		t.Errorf("entry 3 rejected against the rules: %v", err)
	} else {
		t.Logf("entry 3 rejected against the rules: %v", err)
	}
}

func mustEncode(t *testing.T, tally *projections.Tally) []byte {
	t.Helper()
	b, err := tally.Encode()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// FuzzVerifyBundle: no input makes the verifier panic, and only the
// bundle itself passes.
func FuzzVerifyBundle(f *testing.F) {
	db, key := syntheticLedger(f, 1, 2, 3, 4, 5, 6)
	var good bytes.Buffer
	if _, err := audit.WriteBundle(&good, db, ga06, 3, key); err != nil {
		f.Fatal(err)
	}
	f.Add(good.Bytes())
	f.Add(good.Bytes()[:1536])
	f.Add([]byte{})
	f.Add(make([]byte, 1024))
	f.Add(header("README.txt", 1<<32))
	f.Fuzz(func(t *testing.T, data []byte) {
		info, err := audit.VerifyBundle(bytes.NewReader(data), "")
		if err == nil && !bytes.Equal(data, good.Bytes()) {
			// Another valid bundle needs a signature by some key: it must
			// at least be self-consistent.
			if info.Size == 0 || len(info.Tally) == 0 {
				t.Fatalf("passed with %+v", info)
			}
		}
		if err != nil {
			var be *audit.BundleError
			if !errors.As(err, &be) {
				t.Logf("not a BundleError: %v", err)
			}
		}
	})
}
