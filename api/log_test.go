package api_test

// Tests of the verifiable-log routes on a real node (embedded nats-server,
// Pebble in a temporary directory): every proof is checked with
// github.com/transparency-dev/merkle, independently of the tlog code that
// made it, and the tlog-tiles API is read with filippo.io/torchwood.

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"filippo.io/torchwood"
	"github.com/google/uuid"
	"github.com/transparency-dev/merkle/proof"
	"github.com/transparency-dev/merkle/rfc6962"
	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/election-audit/ledger/api"
	"github.com/election-audit/ledger/audit"
	"github.com/election-audit/ledger/checkpoint"
	"github.com/election-audit/ledger/client"
	"github.com/election-audit/ledger/events"
	"github.com/election-audit/ledger/internal/testkeys"
	"github.com/election-audit/ledger/node"
)

const logElection = "ga06-log"

// logSize is the size the test log grows to: two full level-0 tiles, a
// partial one of width 88, and a partial level-1 tile of width 2.
const logSize = 600

// logNode is a node with an election of logSize entries, appended one at a
// time and then in batches, so that it has checkpoints at many sizes.
type logNode struct {
	t   *testing.T
	n   *node.Node
	srv *httptest.Server
	c   *client.Client
	v   note.Verifier // logElection's log key
	// entries are the stored entries, as /v1/elections/{e}/entries gives them.
	entries [][]byte
	// checkpoints maps each size with a signed checkpoint to it, opened.
	checkpoints map[uint64]checkpoint.Checkpoint
	signed      map[uint64][]byte
}

// TestLog builds one log and runs the tests of the log routes on it; they
// only read it, except the last, which grows another election.
func TestLog(t *testing.T) {
	ln := startLogNode(t)
	for _, c := range []struct {
		name string
		fn   func(*testing.T, *logNode)
	}{
		{"LogKey", testLogKey},
		{"CheckpointAtSize", testCheckpointAtSize},
		{"InclusionProofsVerifyIndependently", testInclusionProofsVerifyIndependently},
		{"ConsistencyProofsVerifyIndependently", testConsistencyProofsVerifyIndependently},
		{"TilesWithTorchwood", testTilesWithTorchwood},
		{"Tiles", testTiles},
		{"BadRequests", testLogBadRequests},
		{"BigManifestInBundles", testBigManifestInBundles},
		{"EntriesPageBytes", testEntriesPageBytes},
		{"ProofsWhileGrowing", testProofsWhileGrowing},
	} {
		t.Run(c.name, func(t *testing.T) {
			ln.t = t
			c.fn(t, ln)
		})
	}
}

func startLogNode(t *testing.T) *logNode {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	n, err := node.Open(ctx, node.Config{DataDir: t.TempDir(), HTTP: "-", NATSListen: "127.0.0.1:0", Authorities: testkeys.Authorities})
	if err != nil {
		t.Fatal(err)
	}
	ln := &logNode{t: t, n: n, srv: httptest.NewServer(n.Handler), signed: map[uint64][]byte{}, checkpoints: map[uint64]checkpoint.Checkpoint{}}
	t.Cleanup(func() {
		ln.srv.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := n.Close(ctx); err != nil {
			t.Errorf("closing node: %v", err)
		}
	})
	if ln.c, err = client.New(ln.srv.URL, ln.srv.Client()); err != nil {
		t.Fatal(err)
	}
	ln.c = ln.c.WithKey(testkeys.Authority)
	if ln.v, _, err = checkpoint.LogVerifier(n.VerifierKey, logElection); err != nil {
		t.Fatal(err)
	}
	evs := []*events.Event{mkEvent(t, logElection, manifest(5))}
	for i := 1; i < logSize; i++ {
		unit := fmt.Sprintf("p-%d", i%5)
		evs = append(evs, mkEvent(t, logElection, &events.CountReport{
			Unit: unit, Contest: "house", Source: events.Source{Operator: "clerk"},
			Counts: []events.Count{{Choice: "a", VoteType: "day", Votes: int64(i)}, {Choice: "b", VoteType: "day", Votes: int64(2 * i)}},
		}))
	}
	// One at a time up to 16, then batches of 16 up to 528, then the rest.
	for len(evs) > 0 {
		size := ln.size()
		k := 1
		switch {
		case size >= 528:
			k = len(evs)
		case size >= 16:
			k = 16
		}
		ln.submit(evs[:k]...)
		evs = evs[k:]
	}
	if got := ln.size(); got != logSize {
		t.Fatalf("log size %d, want %d", got, logSize)
	}
	for start := uint64(0); start < logSize; start += 1000 {
		es, err := ln.c.Entries(ctx, logElection, start, 1000)
		if err != nil {
			t.Fatal(err)
		}
		ln.entries = append(ln.entries, es...)
	}
	// Which sizes have a checkpoint, from the database, to check the route.
	err = n.DB.Checkpoints(logElection, func(size uint64, signed []byte) error {
		cp, err := checkpoint.Open(signed, n.Ledger.Origin(logElection), ln.v)
		if err != nil {
			return err
		}
		ln.checkpoints[size], ln.signed[size] = cp, slices.Clone(signed)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(ln.checkpoints) < 40 {
		t.Fatalf("only %d checkpoints", len(ln.checkpoints))
	}
	return ln
}

// testLogKey: GET /v1/elections/{election}/key serves the election's log
// key, the ledger key named by the log's origin; the checkpoint the ledger
// serves verifies with it, and its one signature line names the origin
// (C2SP tlog-checkpoint), not the ledger name.
func testLogKey(t *testing.T, ln *logNode) {
	origin := ln.n.Ledger.Origin(logElection)
	status, hdr, b := ln.get("/v1/elections/" + logElection + "/key")
	want, err := checkpoint.LogKey(ln.n.VerifierKey, logElection)
	if err != nil {
		t.Fatal(err)
	}
	if status != http.StatusOK || hdr.Get("Content-Type") != "text/plain; charset=utf-8" || string(b) != want+"\n" {
		t.Fatalf("GET .../key: HTTP %d, %s, %q; want %q", status, hdr.Get("Content-Type"), b, want+"\n")
	}
	if !strings.HasPrefix(want, origin+"+") {
		t.Fatalf("the log key %s is not named by the origin %s", want, origin)
	}
	if got := ln.getOK("/v1/key"); string(got) != ln.n.VerifierKey+"\n" || !strings.HasPrefix(string(got), ln.n.Ledger.Name()+"+") {
		t.Errorf("GET /v1/key = %q, want the ledger key %s", got, ln.n.VerifierKey)
	}

	signed := ln.getOK("/v1/elections/" + logElection + "/checkpoint")
	v, err := note.NewVerifier(strings.TrimSpace(string(b)))
	if err != nil {
		t.Fatal(err)
	}
	cp, err := checkpoint.Open(signed, v.Name(), v)
	if err != nil || cp.Origin != origin || cp.Size != logSize {
		t.Fatalf("the served checkpoint with the served log key: %+v, %v", cp, err)
	}
	_, sigs, _ := strings.Cut(string(signed), "\n\n")
	if !strings.HasPrefix(sigs, "— "+origin+" ") || strings.Count(sigs, "\n") != 1 {
		t.Errorf("the checkpoint's signature lines: %q, want one by %s", sigs, origin)
	}
	// The ledger key itself, under the ledger name, does not verify it;
	// the log key derived from it does.
	lv, err := note.NewVerifier(ln.n.VerifierKey)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := checkpoint.Open(signed, origin, lv); err == nil {
		t.Error("the checkpoint verifies with the ledger key under the ledger name")
	}
	if _, err := checkpoint.Open(signed, origin, ln.v); err != nil {
		t.Errorf("the checkpoint with the log key derived from the ledger key: %v", err)
	}

	// An election the ledger does not have: 404, as the other routes.
	status, hdr, b = ln.get("/v1/elections/nope/key")
	var p api.Problem
	if status != http.StatusNotFound || hdr.Get("Content-Type") != "application/json" || json.Unmarshal(b, &p) != nil || !strings.Contains(p.Error, "unknown election") {
		t.Errorf("GET /v1/elections/nope/key: HTTP %d, %s", status, b)
	}
}

func (ln *logNode) size() uint64 {
	_, size, err := ln.n.Ledger.Checkpoint(logElection)
	if err != nil {
		return 0
	}
	return size
}

// submit signs events of one election as one submission by the test
// authority (which becomes the authority of a manifest among them), sends
// it, and fails the test unless every event is accepted.
func (ln *logNode) submit(evs ...*events.Event) {
	ln.t.Helper()
	signed, err := testkeys.Sign(testkeys.Authority, evs...)
	if err != nil {
		ln.t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	rs, err := ln.c.SubmitSigned(ctx, signed)
	if err != nil {
		ln.t.Fatalf("submitting %d events: %v", len(evs), err)
	}
	if len(rs) != len(evs) {
		ln.t.Fatalf("%d receipts for %d events", len(rs), len(evs))
	}
	for _, r := range rs {
		if r.Verdict != events.Accepted {
			ln.t.Fatalf("receipt %+v", r)
		}
	}
}

// get returns the status, Content-Type and body of GET path.
func (ln *logNode) get(path string, hdr ...string) (int, http.Header, []byte) {
	ln.t.Helper()
	req, err := http.NewRequest(http.MethodGet, ln.srv.URL+path, nil)
	if err != nil {
		ln.t.Fatal(err)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	// The default transport would ask for gzip and decode it silently.
	tr := &http.Transport{DisableCompression: true}
	defer tr.CloseIdleConnections()
	resp, err := (&http.Client{Transport: tr}).Do(req)
	if err != nil {
		ln.t.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		ln.t.Fatal(err)
	}
	return resp.StatusCode, resp.Header, b
}

func (ln *logNode) getOK(path string) []byte {
	ln.t.Helper()
	status, _, b := ln.get(path)
	if status != http.StatusOK {
		ln.t.Fatalf("GET %s: HTTP %d: %s", path, status, b)
	}
	return b
}

func manifest(precincts int) *events.Manifest {
	m := &events.Manifest{
		Name: "Log test", Date: "2017-04-18",
		VoteTypes: []events.VoteType{{ID: "day", Name: "Election Day"}},
		Units:     []events.Unit{{ID: "ga", Name: "Georgia", Kind: "state"}},
		Contests: []events.Contest{{ID: "house", Name: "House 6", VoteFor: 1, Choices: []events.Choice{
			{ID: "a", Name: "Candidate A"}, {ID: "b", Name: "Candidate B"}}}},
	}
	for i := range precincts {
		m.Units = append(m.Units, events.Unit{ID: fmt.Sprintf("p-%d", i), Name: fmt.Sprintf("Precinct %d of a county with a long name, to make the manifest big", i), Kind: "precinct", Parent: "ga"})
	}
	return m
}

func mkEvent(t testing.TB, election string, body events.Body) *events.Event {
	t.Helper()
	ev := &events.Event{ID: uuid.Must(uuid.NewV7()), Election: election, Body: body}
	if err := ev.Validate(); err != nil {
		t.Fatalf("test event is invalid: %v", err)
	}
	return ev
}

func leafHash(entry []byte) []byte {
	h := sha256.Sum256(append([]byte{0}, entry...))
	return h[:]
}

// rootOf is the RFC 6962 root of entries, computed without tlog.
func rootOf(entries [][]byte) []byte {
	if len(entries) == 1 {
		return leafHash(entries[0])
	}
	k := 1
	for k*2 < len(entries) {
		k *= 2
	}
	h := sha256.Sum256(slices.Concat([]byte{1}, rootOf(entries[:k]), rootOf(entries[k:])))
	return h[:]
}

func hashBytes(hs []tlog.Hash) [][]byte {
	out := make([][]byte, len(hs))
	for i := range hs {
		out[i] = slices.Clone(hs[i][:])
	}
	return out
}

// proveIndexes picks the indexes to prove in a tree of size n: all of them
// in small trees and the latest, and the edges of tiles and subtrees in
// the others.
func proveIndexes(n uint64) []uint64 {
	if n <= 64 || n == logSize {
		out := make([]uint64, n)
		for i := range out {
			out[i] = uint64(i)
		}
		return out
	}
	var out []uint64
	for _, i := range []uint64{0, 1, 2, 63, 127, 128, 255, 256, 257, 511, 512, n / 2, n - 2, n - 1} {
		if i < n && !slices.Contains(out, i) {
			out = append(out, i)
		}
	}
	return out
}

func testCheckpointAtSize(t *testing.T, ln *logNode) {
	for size := uint64(1); size <= logSize; size++ {
		status, h, b := ln.get(fmt.Sprintf("/v1/elections/%s/checkpoints/%d", logElection, size))
		want, ok := ln.signed[size]
		switch {
		case ok && (status != http.StatusOK || !bytes.Equal(b, want) || h.Get("Content-Type") != "text/plain; charset=utf-8"):
			t.Fatalf("checkpoint at %d: HTTP %d %s: %s", size, status, h.Get("Content-Type"), b)
		case !ok && (status != http.StatusNotFound || !strings.Contains(string(b), "no signed checkpoint")):
			t.Fatalf("checkpoint at %d, where none was signed: HTTP %d: %s", size, status, b)
		}
		if ok && ln.checkpoints[size].Root != tlog.Hash(rootOf(ln.entries[:size])) {
			t.Fatalf("checkpoint at %d signs root %s, the entries give %x", size, ln.checkpoints[size].Root, rootOf(ln.entries[:size]))
		}
	}
}

func testInclusionProofsVerifyIndependently(t *testing.T, ln *logNode) {
	proved := 0
	for size, cp := range ln.checkpoints {
		for _, index := range proveIndexes(size) {
			path := fmt.Sprintf("/v1/elections/%s/proof/inclusion?index=%d&size=%d", logElection, index, size)
			var p api.InclusionProof
			if err := json.Unmarshal(ln.getOK(path), &p); err != nil {
				t.Fatal(err)
			}
			if p.Index != index || p.Size != size || p.Checkpoint != string(ln.signed[size]) {
				t.Fatalf("%s: got index %d size %d checkpoint %q", path, p.Index, p.Size, p.Checkpoint)
			}
			// The proof is about the entry's stored bytes...
			if !bytes.Equal(p.LeafHash[:], leafHash(ln.entries[index])) {
				t.Fatalf("%s: leaf hash %s is not the hash of entry %d", path, p.LeafHash, index)
			}
			// ...and leads to the signed root, by an implementation that is
			// not tlog.
			hs := hashBytes(p.Hashes)
			if err := proof.VerifyInclusion(rfc6962.DefaultHasher, index, size, p.LeafHash[:], hs, cp.Root[:]); err != nil {
				t.Fatalf("%s: %v", path, err)
			}
			if len(hs) > 0 {
				hs[len(hs)-1][index%32] ^= 1
				if err := proof.VerifyInclusion(rfc6962.DefaultHasher, index, size, p.LeafHash[:], hs, cp.Root[:]); err == nil {
					t.Fatalf("%s: verifies with a flipped byte", path)
				}
			}
			bad := slices.Clone(p.LeafHash[:])
			bad[5] ^= 0x10
			if err := proof.VerifyInclusion(rfc6962.DefaultHasher, index, size, bad, hashBytes(p.Hashes), cp.Root[:]); err == nil {
				t.Fatalf("%s: verifies with a flipped leaf hash", path)
			}

			// The C2SP tlog-proof form carries the same proof and the
			// checkpoint, and verifies offline.
			text := ln.getOK(path + "&format=tlog-proof")
			tp, got, err := audit.VerifyTLogProof(text, ln.entries[index], ln.n.Ledger.Origin(logElection), ln.v)
			if err != nil {
				t.Fatalf("%s&format=tlog-proof: %v\n%s", path, err, text)
			}
			if got != cp || !slices.Equal(tp.Hashes, p.Hashes) || tp.Index != index {
				t.Fatalf("%s: the tlog-proof differs from the JSON proof:\n%s", path, text)
			}
			tampered := bytes.Replace(text, []byte(fmt.Sprintf("index %d\n", index)), []byte(fmt.Sprintf("index %d\n", index^1)), 1)
			if _, _, err := audit.VerifyTLogProof(tampered, ln.entries[index], ln.n.Ledger.Origin(logElection), ln.v); err == nil && size > 1 {
				t.Fatalf("%s: tlog-proof with another index verifies", path)
			}
			proved++
		}
	}
	// The default size is the latest, with its checkpoint.
	var p api.InclusionProof
	if err := json.Unmarshal(ln.getOK("/v1/elections/"+logElection+"/proof/inclusion?index=7"), &p); err != nil {
		t.Fatal(err)
	}
	if p.Size != logSize || p.Checkpoint != string(ln.signed[logSize]) || p.Root != ln.checkpoints[logSize].Root {
		t.Errorf("default size: %+v", p)
	}
	// At a size without a checkpoint the JSON proof has none, and leads to
	// the root computed from the entries.
	for size := uint64(17); size < 32; size++ {
		if _, ok := ln.signed[size]; ok {
			continue
		}
		var p api.InclusionProof
		if err := json.Unmarshal(ln.getOK(fmt.Sprintf("/v1/elections/%s/proof/inclusion?index=3&size=%d", logElection, size)), &p); err != nil {
			t.Fatal(err)
		}
		if p.Checkpoint != "" || !bytes.Equal(p.Root[:], rootOf(ln.entries[:size])) {
			t.Errorf("size %d without checkpoint: %+v", size, p)
		}
		if err := proof.VerifyInclusion(rfc6962.DefaultHasher, 3, size, leafHash(ln.entries[3]), hashBytes(p.Hashes), rootOf(ln.entries[:size])); err != nil {
			t.Errorf("size %d without checkpoint: %v", size, err)
		}
	}
	t.Logf("%d inclusion proofs at %d checkpoints verified", proved, len(ln.checkpoints))
}

func testConsistencyProofsVerifyIndependently(t *testing.T, ln *logNode) {
	sizes := make([]uint64, 0, len(ln.checkpoints))
	for s := range ln.checkpoints {
		sizes = append(sizes, s)
	}
	slices.Sort(sizes)
	pairs := 0
	for i, from := range sizes {
		for _, to := range sizes[i:] {
			path := fmt.Sprintf("/v1/elections/%s/proof/consistency?from=%d&to=%d", logElection, from, to)
			var p api.ConsistencyProof
			if err := json.Unmarshal(ln.getOK(path), &p); err != nil {
				t.Fatal(err)
			}
			a, b := ln.checkpoints[from], ln.checkpoints[to]
			if p.From != from || p.To != to || p.FromRoot != a.Root || p.ToRoot != b.Root ||
				p.FromCheckpoint != string(ln.signed[from]) || p.ToCheckpoint != string(ln.signed[to]) {
				t.Fatalf("%s: %+v", path, p)
			}
			hs := hashBytes(p.Hashes)
			if err := proof.VerifyConsistency(rfc6962.DefaultHasher, from, to, hs, a.Root[:], b.Root[:]); err != nil {
				t.Fatalf("%s: %v", path, err)
			}
			if err := audit.CheckConsistency(&p.ConsistencyProof, a, b); err != nil {
				t.Fatalf("%s: audit.CheckConsistency: %v", path, err)
			}
			for k := range hs {
				bad := slices.Clone(hs)
				bad[k] = slices.Clone(bad[k])
				bad[k][(k*7)%32] ^= 0x40
				if err := proof.VerifyConsistency(rfc6962.DefaultHasher, from, to, bad, a.Root[:], b.Root[:]); err == nil {
					t.Fatalf("%s: verifies with hash %d flipped", path, k)
				}
			}
			pairs++
		}
	}
	// to defaults to the latest size.
	var p api.ConsistencyProof
	if err := json.Unmarshal(ln.getOK("/v1/elections/"+logElection+"/proof/consistency?from=3"), &p); err != nil {
		t.Fatal(err)
	}
	if p.To != logSize || p.ToRoot != ln.checkpoints[logSize].Root {
		t.Errorf("default to: %+v", p)
	}
	t.Logf("%d consistency proofs verified", pairs)
}

// TestTilesWithTorchwood reads the log through the tlog-tiles API with
// filippo.io/torchwood, a third-party tlog client.
func testTilesWithTorchwood(t *testing.T, ln *logNode) {
	ctx := context.Background()
	f, err := torchwood.NewTileFetcher(ln.c.TileURL(logElection), torchwood.WithHTTPClient(ln.srv.Client()))
	if err != nil {
		t.Fatal(err)
	}
	signed, err := f.ReadEndpoint(ctx, "checkpoint")
	if err != nil {
		t.Fatal(err)
	}
	n, err := note.Open(signed, note.VerifierList(ln.v))
	if err != nil {
		t.Fatalf("checkpoint signature: %v", err)
	}
	cp, err := torchwood.ParseCheckpoint(n.Text)
	if err != nil {
		t.Fatal(err)
	}
	if cp.Origin != ln.n.Ledger.Origin(logElection) || cp.N != logSize || cp.Hash != ln.checkpoints[logSize].Root {
		t.Fatalf("torchwood checkpoint %+v", cp)
	}

	// Read the log at the latest checkpoint and at older ones: a client that
	// verified an older checkpoint needs its partial tiles (C2SP: "Logs MUST
	// serve partial tiles corresponding to tree sizes for which a
	// checkpoint was produced").
	sizes := slices.Sorted(maps.Keys(ln.checkpoints))
	trees := []tlog.Tree{cp.Tree}
	for _, size := range []uint64{sizes[0], sizes[4], sizes[len(sizes)/4], sizes[len(sizes)/2], sizes[len(sizes)*3/4]} {
		trees = append(trees, tlog.Tree{N: int64(size), Hash: ln.checkpoints[size].Root})
	}
	for _, tree := range trees {
		t.Logf("reading the tree of size %d through torchwood", tree.N)
		tc, err := torchwood.NewClient(f, torchwood.WithTimeout(time.Minute))
		if err != nil {
			t.Fatal(err)
		}
		var got [][]byte
		// Entries may stop before a partial entry bundle; resuming with the
		// same tree yields the rest.
		for int64(len(got)) < tree.N {
			before := len(got)
			for i, e := range tc.Entries(ctx, tree, int64(len(got))) {
				if i != int64(len(got)) {
					t.Fatalf("tree %d: torchwood yielded entry %d at position %d", tree.N, i, len(got))
				}
				got = append(got, slices.Clone(e))
			}
			if err := tc.Err(); err != nil {
				t.Fatalf("tree %d: torchwood: %v", tree.N, err)
			}
			if len(got) == before {
				t.Fatalf("tree %d: torchwood stopped at %d entries", tree.N, len(got))
			}
		}
		for i := range got {
			if !bytes.Equal(got[i], ln.entries[i]) {
				t.Fatalf("tree %d: entry %d through tiles differs from /entries:\n%s\n%s", tree.N, i, got[i], ln.entries[i])
			}
		}
		// Each entry's inclusion, through tiles only.
		step := int64(1)
		if tree.N != logSize {
			step = 7
		}
		for i := int64(0); i < tree.N; i += step {
			e, rp, err := tc.Entry(ctx, tree, i)
			if err != nil {
				t.Fatalf("tree %d: torchwood Entry(%d): %v", tree.N, i, err)
			}
			if !bytes.Equal(e, ln.entries[i]) {
				t.Fatalf("tree %d: entry %d differs", tree.N, i)
			}
			if err := proof.VerifyInclusion(rfc6962.DefaultHasher, uint64(i), uint64(tree.N), leafHash(e), hashBytes(rp), tree.Hash[:]); err != nil {
				t.Fatalf("tree %d: proof of %d built from tiles: %v", tree.N, i, err)
			}
		}
	}
}

func testTiles(t *testing.T, ln *logNode) {
	base := "/v1/elections/" + logElection + "/tlog/"
	leaves := func(lo, hi int) []byte {
		var b []byte
		for _, e := range ln.entries[lo:hi] {
			b = append(b, leafHash(e)...)
		}
		return b
	}
	bundle := func(lo, hi int) []byte {
		var b []byte
		for _, e := range ln.entries[lo:hi] {
			b = append(b, byte(len(e)>>8), byte(len(e)))
			b = append(b, e...)
		}
		return b
	}
	level1 := func(n int) []byte {
		var b []byte
		for i := range n {
			b = append(b, rootOf(ln.entries[i*256:(i+1)*256])...)
		}
		return b
	}
	for _, c := range []struct {
		path  string
		want  []byte
		cache string
	}{
		{"tile/0/000", leaves(0, 256), "public, max-age=31536000, immutable"},
		{"tile/0/001", leaves(256, 512), "public, max-age=31536000, immutable"},
		{"tile/0/002.p/88", leaves(512, 600), "public, max-age=31536000, immutable"},
		{"tile/0/002.p/16", leaves(512, 528), "public, max-age=31536000, immutable"}, // an older checkpoint's
		{"tile/0/000.p/48", leaves(0, 48), "public, max-age=31536000, immutable"},
		{"tile/1/000.p/2", level1(2), "public, max-age=31536000, immutable"},
		{"tile/1/000.p/1", level1(1), "public, max-age=31536000, immutable"},
		{"tile/entries/000", bundle(0, 256), "public, max-age=31536000, immutable"},
		{"tile/entries/001", bundle(256, 512), "public, max-age=31536000, immutable"},
		{"tile/entries/002.p/88", bundle(512, 600), "public, max-age=31536000, immutable"},
		{"tile/entries/000.p/3", bundle(0, 3), "public, max-age=31536000, immutable"},
		{"checkpoint", ln.signed[logSize], "no-cache"},
	} {
		status, h, b := ln.get(base + c.path)
		if status != http.StatusOK || !bytes.Equal(b, c.want) {
			t.Errorf("%s: HTTP %d, %d bytes, want %d bytes: %.200s", c.path, status, len(b), len(c.want), b)
			continue
		}
		if got := h.Get("Cache-Control"); got != c.cache {
			t.Errorf("%s: Cache-Control %q, want %q", c.path, got, c.cache)
		}
		ct := "application/octet-stream"
		if c.path == "checkpoint" {
			ct = "text/plain; charset=utf-8"
		}
		if got := h.Get("Content-Type"); got != ct {
			t.Errorf("%s: Content-Type %q, want %q", c.path, got, ct)
		}
	}
	// Entry bundles are gzipped for clients that accept it.
	status, h, b := ln.get(base+"tile/entries/001", "Accept-Encoding", "gzip, identity")
	if status != http.StatusOK || h.Get("Content-Encoding") != "gzip" {
		t.Fatalf("gzip bundle: HTTP %d, Content-Encoding %q", status, h.Get("Content-Encoding"))
	}
	zr, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	if plain, err := io.ReadAll(zr); err != nil || !bytes.Equal(plain, bundle(256, 512)) {
		t.Errorf("gunzipped bundle differs: %v", err)
	}
	if _, h, _ := ln.get(base+"tile/entries/001", "Accept-Encoding", "gzip;q=0"); h.Get("Content-Encoding") != "" {
		t.Errorf("gzip;q=0 got Content-Encoding %q", h.Get("Content-Encoding"))
	}
}

// testBigManifestInBundles: a manifest too large for one event goes in
// parts, each entry within a bundle's 2-byte length prefix, so the entry
// bundle of a statewide manifest is served whole and each of its entries
// is the logged one, byte for byte; filippo.io/torchwood reads them all
// under the checkpoint, verified with the election's log key.
func testBigManifestInBundles(t *testing.T, ln *logNode) {
	const big = "ga06-big"
	m := manifest(1000)
	m.Authority = testkeys.Authority.Verifier
	parts, err := events.SplitManifest(mkEvent(t, big, m))
	if err != nil {
		t.Fatal(err)
	}
	if len(parts) < 2 {
		t.Fatalf("a manifest of 1,000 precincts is in %d event", len(parts))
	}
	ln.submit(parts...)
	// A tally inside the manifest's entries: the election is not defined
	// there yet.
	for _, q := range []string{"as_of=1", "format=nist&as_of=1"} {
		if status, _, b := ln.get("/v1/elections/" + big + "/tally?" + q); status != http.StatusUnprocessableEntity || !strings.Contains(string(b), fmt.Sprintf("the election is defined at size %d", len(parts))) {
			t.Errorf("tally?%s: HTTP %d %s", q, status, b)
		}
	}
	status, _, b := ln.get(fmt.Sprintf("/v1/elections/%s/tlog/tile/entries/000.p/%d", big, len(parts)))
	if status != http.StatusOK {
		t.Fatalf("bundle of the manifest's %d entries: HTTP %d: %s", len(parts), status, b)
	}
	for i := range parts {
		e, err := ln.n.Ledger.Entry(big, uint64(i))
		if err != nil {
			t.Fatal(err)
		}
		if len(b) < 2 {
			t.Fatalf("bundle ends before entry %d", i)
		}
		n := int(b[0])<<8 | int(b[1])
		if len(b) < 2+n {
			t.Fatalf("bundle ends inside entry %d", i)
		}
		if !bytes.Equal(b[2:2+n], e) {
			t.Errorf("entry %d of the bundle is not the logged entry", i)
		}
		b = b[2+n:]
	}
	if len(b) != 0 {
		t.Errorf("%d bytes after the entries", len(b))
	}

	// A third-party tlog client reads them through the tiles, under the
	// checkpoint signed with the election's log key.
	ctx := context.Background()
	f, err := torchwood.NewTileFetcher(ln.c.TileURL(big), torchwood.WithHTTPClient(ln.srv.Client()))
	if err != nil {
		t.Fatal(err)
	}
	signed, err := f.ReadEndpoint(ctx, "checkpoint")
	if err != nil {
		t.Fatal(err)
	}
	v, _, err := checkpoint.LogVerifier(ln.n.VerifierKey, big)
	if err != nil {
		t.Fatal(err)
	}
	opened, err := note.Open(signed, note.VerifierList(v))
	if err != nil {
		t.Fatalf("checkpoint of %s: %v", big, err)
	}
	cp, err := torchwood.ParseCheckpoint(opened.Text)
	if err != nil {
		t.Fatal(err)
	}
	tc, err := torchwood.NewClient(f, torchwood.WithTimeout(time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	read := 0
	for i, e := range tc.Entries(ctx, cp.Tree, 0) {
		want, err := ln.n.Ledger.Entry(big, uint64(i))
		if err != nil || !bytes.Equal(e, want) {
			t.Fatalf("torchwood's entry %d of %s is not the logged one (%v)", i, big, err)
		}
		read++
	}
	if err := tc.Err(); err != nil || read != len(parts) || cp.N != int64(len(parts)) {
		t.Errorf("torchwood read %d entries of the tree of size %d (%v), want the manifest's %d", read, cp.N, err, len(parts))
	}
}

// testEntriesPageBytes: a page of large entries ends at
// api.MaxEntriesPageBytes, and a client paging on by what it got reads them
// all.
func testEntriesPageBytes(t *testing.T, ln *logNode) {
	const wide = "ga06-wide"
	m := manifest(1)
	c := events.Contest{ID: "wide", Name: "Wide", VoteFor: 1}
	var vts []events.VoteType
	for i := range 9 { // with manifest's own, 10 vote types: 600 cells, the limit
		vts = append(vts, events.VoteType{ID: fmt.Sprintf("type-%d", i), Name: fmt.Sprintf("Type %d", i)})
	}
	for i := range 60 {
		c.Choices = append(c.Choices, events.Choice{ID: fmt.Sprintf("choice-%04d", i), Name: fmt.Sprintf("Choice %d", i)})
	}
	m.VoteTypes = append(m.VoteTypes, vts...)
	m.Contests = append(m.Contests, c)
	evs := []*events.Event{mkEvent(t, wide, m)}
	for n := range 200 {
		r := &events.CountReport{Unit: "p-0", Contest: "wide", Source: events.Source{Operator: "clerk"}}
		for _, ch := range c.Choices {
			for _, vt := range vts {
				r.Counts = append(r.Counts, events.Count{Choice: ch.ID, VoteType: vt.ID, Votes: int64(n)})
			}
		}
		evs = append(evs, mkEvent(t, wide, r))
	}
	// Each report is about 36 KB (as large as a report gets: a whole
	// contest of the largest): 200 of them pass a page's bytes.
	for i := 0; i < len(evs); i += 100 {
		ln.submit(evs[i:min(i+100, len(evs))]...)
	}
	ctx := context.Background()
	page, err := ln.c.Entries(ctx, wide, 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	bytes := 0
	for _, e := range page {
		bytes += len(e) + 1
	}
	if len(page) >= len(evs) || bytes < api.MaxEntriesPageBytes || bytes-len(page[len(page)-1])-1 >= api.MaxEntriesPageBytes {
		t.Errorf("a page of %d entries, %d bytes: want it to end with the entry that reaches %d bytes", len(page), bytes, api.MaxEntriesPageBytes)
	}
	n := 0
	err = client.Source{Client: ln.c, Ctx: ctx}.Entries(wide, 0, uint64(len(evs)), func(i uint64, data []byte) error {
		if i != uint64(n) {
			t.Errorf("entry %d came as %d", i, n)
		}
		n++
		return nil
	})
	if err != nil || n != len(evs) {
		t.Errorf("paging read %d of %d entries: %v", n, len(evs), err)
	}
}

func testLogBadRequests(t *testing.T, ln *logNode) {
	e := "/v1/elections/" + logElection
	noCP := uint64(0)
	for s := uint64(17); s < logSize; s++ {
		if _, ok := ln.signed[s]; !ok {
			noCP = s
			break
		}
	}
	if noCP == 0 {
		t.Fatal("every size has a checkpoint")
	}
	for _, c := range []struct {
		path   string
		status int
		want   string // in the error message
	}{
		{"/v1/elections/nope/checkpoints/1", 404, `unknown election "nope"`},
		{e + "/checkpoints/x", 400, `tree size "x" is not a non-negative integer`},
		{e + "/checkpoints/0", 404, "no signed checkpoint at size 0"},
		{e + fmt.Sprintf("/checkpoints/%d", noCP), 404, fmt.Sprintf("no signed checkpoint at size %d", noCP)},
		{e + "/checkpoints/601", 404, "size 601 is past the end of ga06-log's log (size 600)"},

		{"/v1/elections/nope/proof/inclusion?index=0", 404, `unknown election "nope"`},
		{e + "/proof/inclusion", 400, "index: missing"},
		{e + "/proof/inclusion?index=-1", 400, `index: "-1" is not a non-negative integer`},
		{e + "/proof/inclusion?index=abc", 400, `index: "abc" is not a non-negative integer`},
		{e + "/proof/inclusion?index=600", 404, "index: entry 600 is past the end of ga06-log's log (size 600)"},
		{e + "/proof/inclusion?index=18446744073709551615", 404, "past the end"},
		{e + "/proof/inclusion?index=0&size=601", 404, "size: 601 is past the end of ga06-log's log (size 600)"},
		{e + "/proof/inclusion?index=0&size=0", 400, "size: must be at least 1"},
		{e + "/proof/inclusion?index=0&size=1x", 400, `size: "1x" is not a non-negative integer`},
		{e + "/proof/inclusion?index=10&size=10", 400, "index: entry 10 is not in the tree of size 10"},
		{e + "/proof/inclusion?index=0&format=xml", 400, `format: "xml" is not json or tlog-proof`},
		{e + fmt.Sprintf("/proof/inclusion?index=0&size=%d&format=tlog-proof", noCP), 404, fmt.Sprintf("no signed checkpoint was issued at size %d", noCP)},

		{"/v1/elections/nope/proof/consistency?from=1", 404, `unknown election "nope"`},
		{e + "/proof/consistency", 400, "from: missing"},
		{e + "/proof/consistency?from=5&to=4", 400, "from: 5 is greater than to (4)"},
		{e + "/proof/consistency?from=0&to=4", 400, "from: must be at least 1"},
		{e + "/proof/consistency?from=1&to=601", 404, "to: 601 is past the end"},
		{e + "/proof/consistency?from=601", 404, "from: 601 is past the end"},
		{e + "/proof/consistency?from=x", 400, `from: "x" is not a non-negative integer`},

		{"/v1/elections/nope/tlog/checkpoint", 404, `unknown election "nope"`},
		{"/v1/elections/nope/tlog/tile/0/000", 404, `unknown election "nope"`},
		{e + "/tlog/tile/0/0", 400, `malformed tile path "tile/0/0"`},
		{e + "/tlog/tile/0/x000/001", 400, "malformed tile path"},
		{e + "/tlog/tile/00/000", 400, "malformed tile path"},
		{e + "/tlog/tile/64/000", 400, "L from 0 to 63"},
		{e + "/tlog/tile/-1/000", 400, "malformed tile path"},
		{e + "/tlog/tile/0/000.p/0", 400, "W from 1 to 255"},
		{e + "/tlog/tile/0/000.p/256", 400, "malformed tile path"},
		{e + "/tlog/tile/0/000.p/07", 400, "malformed tile path"},
		{e + "/tlog/tile/entries/abc", 400, `malformed tile path "tile/entries/abc"`},
		{e + "/tlog/tile/data/000", 400, "malformed tile path"},
		{e + "/tlog/tile/8/0/000", 400, "malformed tile path"},
		{e + "/tlog/tile/", 400, "malformed tile path"},
		{e + "/tlog/tile/0/002", 404, "tile tile/0/002 is not in ga06-log's log of size 600"},
		{e + "/tlog/tile/0/002.p/89", 404, "not in ga06-log's log of size 600"},
		{e + "/tlog/tile/0/003.p/1", 404, "not in ga06-log's log"},
		{e + "/tlog/tile/1/000", 404, "not in ga06-log's log"},
		{e + "/tlog/tile/1/000.p/3", 404, "not in ga06-log's log"},
		{e + "/tlog/tile/2/000.p/1", 404, "not in ga06-log's log"},
		{e + "/tlog/tile/63/x999/x999/x999/x999/x999/999", 404, "not in ga06-log's log"},
		{e + "/tlog/tile/0/x999/x999/x999/x999/x999/x999/999", 400, "malformed tile path"}, // N past int64
		{e + "/tlog/tile/entries/002", 404, "entry bundle tile/entries/002 is not in ga06-log's log"},
		{e + "/tlog/tile/entries/x001/000", 404, "not in ga06-log's log"},
	} {
		status, h, b := ln.get(c.path)
		var p api.Problem
		if err := json.Unmarshal(b, &p); err != nil || h.Get("Content-Type") != "application/json" {
			t.Errorf("GET %s: HTTP %d, not a JSON error (%s): %.200s", c.path, status, h.Get("Content-Type"), b)
			continue
		}
		if status != c.status || !strings.Contains(p.Error, c.want) {
			t.Errorf("GET %s: HTTP %d %q, want %d and %q", c.path, status, p.Error, c.status, c.want)
		}
	}
}

// TestProofsWhileGrowing: proofs and tiles asked for while the log grows
// describe one committed tree each, and still verify.
func testProofsWhileGrowing(t *testing.T, ln *logNode) {
	const grow = "ga06-grow"
	ln.submit(mkEvent(t, grow, manifest(3)))
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := range 40 {
			ev := mkEvent(t, grow, &events.CountReport{Unit: "p-1", Contest: "house", Source: events.Source{Operator: "clerk"},
				Counts: []events.Count{{Choice: "a", VoteType: "day", Votes: int64(i)}}})
			b, _ := ev.Encode()
			if _, err := ln.c.Submit(context.Background(), [][]byte{b}); err != nil {
				t.Errorf("submit: %v", err)
				return
			}
		}
	}()
	gv, origin, err := checkpoint.LogVerifier(ln.n.VerifierKey, grow)
	if err != nil {
		t.Fatal(err)
	}
	for {
		select {
		case <-done:
			return
		default:
		}
		var p api.InclusionProof
		if err := json.Unmarshal(ln.getOK("/v1/elections/"+grow+"/proof/inclusion?index=0"), &p); err != nil {
			t.Fatal(err)
		}
		cp, err := checkpoint.Open([]byte(p.Checkpoint), origin, gv)
		if err != nil {
			t.Fatal(err)
		}
		if err := audit.CheckInclusion(&p.InclusionProof, cp); err != nil {
			t.Fatalf("while growing, at size %d: %v", p.Size, err)
		}
	}
}
