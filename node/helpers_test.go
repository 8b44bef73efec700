package node_test

// Shared helpers for the promise tests (promises_test.go, badinput_test.go):
// a node with its HTTP API, event builders and a snapshot of what a client
// can observe of the log.

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/election-audit/ledger/api"
	"github.com/election-audit/ledger/checkpoint"
	"github.com/election-audit/ledger/client"
	"github.com/election-audit/ledger/events"
	"github.com/election-audit/ledger/internal/testkeys"
	"github.com/election-audit/ledger/ledger"
	"github.com/election-audit/ledger/node"
)

// The election most tests use, and its manifest: a state, three counties,
// precincts, two vote types, a district-wide contest and one limited to two
// counties.
const (
	elecMain  = "ga06-test"
	elecOther = "ga-other"
	house     = "us-house-6"
	senate    = "ga-senate-32" // only cobb and fulton vote in it
	voteDay   = "election-day"
	voteMail  = "absentee-by-mail"
)

func testManifest(name string) *events.Manifest {
	return &events.Manifest{
		Name: name, Date: "2017-04-18",
		VoteTypes: []events.VoteType{{ID: voteDay, Name: "Election Day"}, {ID: voteMail, Name: "Absentee by Mail"}},
		Units: []events.Unit{
			{ID: "ga", Name: "Georgia", Kind: "state"},
			{ID: "cobb", Name: "Cobb County", Kind: "county", Parent: "ga"},
			{ID: "fulton", Name: "Fulton County", Kind: "county", Parent: "ga"},
			{ID: "dekalb", Name: "DeKalb County", Kind: "county", Parent: "ga"},
			{ID: "cobb-01", Name: "Cobb 01", Kind: "precinct", Parent: "cobb"},
			{ID: "cobb-02", Name: "Cobb 02", Kind: "precinct", Parent: "cobb"},
			{ID: "fulton-01", Name: "Fulton 01", Kind: "precinct", Parent: "fulton"},
			{ID: "fulton-02", Name: "Fulton 02", Kind: "precinct", Parent: "fulton"},
			{ID: "dekalb-01", Name: "DeKalb 01", Kind: "precinct", Parent: "dekalb"},
		},
		Contests: []events.Contest{
			{ID: house, Name: "U.S. Representative, District 6", VoteFor: 1, Choices: []events.Choice{
				{ID: "ossoff", Name: "Jon Ossoff", Party: "DEM"},
				{ID: "handel", Name: "Karen Handel", Party: "REP"},
				{ID: "gray", Name: "Bob Gray", Party: "REP"},
			}},
			{ID: senate, Name: "State Senator, District 32", VoteFor: 1, Units: []string{"cobb", "fulton"}, Choices: []events.Choice{
				{ID: "kirkpatrick", Name: "Kay Kirkpatrick"},
				{ID: "triebsch", Name: "Christine Triebsch"},
			}},
		},
	}
}

// precincts of testManifest, and those in the senate contest's scope.
var (
	allPrecincts    = []string{"cobb-01", "cobb-02", "fulton-01", "fulton-02", "dekalb-01"}
	senatePrecincts = []string{"cobb-01", "cobb-02", "fulton-01", "fulton-02"}
)

func cnt(choice, voteType string, votes int64) events.Count {
	return events.Count{Choice: choice, VoteType: voteType, Votes: votes}
}

func operator(name string) events.Source { return events.Source{Operator: name} }

func report(unit, contest string, counts ...events.Count) *events.CountReport {
	return &events.CountReport{Unit: unit, Contest: contest, Counts: counts, Source: operator("county-clerk")}
}

// houseReport is a report for the house contest with ossoff/handel/gray
// election-day votes a, b, c and absentee votes a/10, b/10, c/10.
func houseReport(unit string, a, b, c int64) *events.CountReport {
	return report(unit, house,
		cnt("ossoff", voteDay, a), cnt("handel", voteDay, b), cnt("gray", voteDay, c),
		cnt("ossoff", voteMail, a/10), cnt("handel", voteMail, b/10), cnt("gray", voteMail, c/10))
}

func senateReport(unit string, k, tr int64) *events.CountReport {
	return report(unit, senate, cnt("kirkpatrick", voteDay, k), cnt("triebsch", voteDay, tr))
}

func correction(of uuid.UUID, r *events.CountReport) *events.Correction {
	return &events.Correction{Corrects: of, Reason: "memory card re-read", CountReport: *r}
}

func retraction(of uuid.UUID) *events.Retraction {
	return &events.Retraction{Retracts: of, Reason: "reported against the wrong contest", Source: operator("county-clerk")}
}

func certification() *events.Certification {
	return &events.Certification{By: "Georgia Secretary of State"}
}

func recountOrder() *events.RecountOrder {
	return &events.RecountOrder{By: "Georgia Secretary of State", Reason: "margin under 0.5%"}
}

// mkEvent returns a valid (validated, normalised) event with a fresh UUIDv7.
func mkEvent(t testing.TB, election string, body events.Body) *events.Event {
	t.Helper()
	ev := &events.Event{ID: uuid.Must(uuid.NewV7()), Election: election, Body: body}
	if err := ev.Validate(); err != nil {
		t.Fatalf("test event is invalid: %v", err)
	}
	return ev
}

func withVersion(ev *events.Event, v uint64) *events.Event {
	ev.ExpectedVersion = &v
	return ev
}

func encode(t testing.TB, ev *events.Event) []byte {
	t.Helper()
	b, err := ev.Encode()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func encodeAll(t testing.TB, evs ...*events.Event) [][]byte {
	t.Helper()
	out := make([][]byte, len(evs))
	for i, ev := range evs {
		out[i] = encode(t, ev)
	}
	return out
}

// signed signs events of one election as one submission by the test
// authority (testkeys.Sign: a manifest without an authority gets the test
// authority's key).
func signed(t testing.TB, evs ...*events.Event) []byte {
	t.Helper()
	b, err := testkeys.Sign(testkeys.Authority, evs...)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// signLines signs lines, as they are, as the events of one submission of
// election by the test authority, under a new submission ID. The lines are
// not checked (events.SignEncoded), so that a test can sign what the
// ledger must refuse: invalid or non-canonical events.
func signLines(t testing.TB, election string, lines ...[]byte) []byte {
	t.Helper()
	b, err := events.SignEncoded(testkeys.Authority.Signer, testkeys.Authority.Verifier, uuid.Must(uuid.NewV7()), election, lines)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// submissionID is the ID of a signed submission, the Nats-Msg-Id it is
// published with: its second line, read without opening the submission,
// which may hold events the ledger refuses.
func submissionID(t testing.TB, signed []byte) uuid.UUID {
	t.Helper()
	lines := bytes.SplitN(signed, []byte("\n"), 3)
	if len(lines) < 3 || string(lines[0]) != events.SubmissionDomain {
		t.Fatalf("not a submission: %.100q", signed)
	}
	id, err := events.ParseID(string(lines[1]))
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// testNode is a running node with its HTTP API served by httptest.
type testNode struct {
	t    testing.TB
	dir  string
	cfg  node.Config
	n    *node.Node
	srv  *httptest.Server
	c    *client.Client
	once sync.Once
}

// startNode opens a node on dir (a new temporary directory if empty) with an
// embedded NATS server on a free loopback port unless cfg.NATSURL is set.
// The node is closed at the end of the test.
func startNode(t testing.TB, dir string, cfg node.Config) *testNode {
	t.Helper()
	if dir == "" {
		dir = t.TempDir()
	}
	cfg.DataDir, cfg.HTTP = dir, "-"
	if cfg.Authorities == nil {
		cfg.Authorities = testkeys.Authorities
	}
	if cfg.NATSURL == "" {
		cfg.NATSListen = "127.0.0.1:0"
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	n, err := node.Open(ctx, cfg)
	if err != nil {
		t.Fatalf("node.Open(%s): %v", dir, err)
	}
	tn := &testNode{t: t, dir: dir, cfg: cfg, n: n, srv: httptest.NewServer(n.Handler)}
	tn.c, err = client.New(tn.srv.URL, tn.srv.Client())
	if err != nil {
		t.Fatal(err)
	}
	tn.c = tn.c.WithKey(testkeys.Authority)
	t.Cleanup(tn.close)
	return tn
}

// close stops the HTTP server and the node; it is safe to call twice.
func (tn *testNode) close() {
	tn.once.Do(func() {
		tn.srv.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := tn.n.Close(ctx); err != nil {
			tn.t.Errorf("closing node %s: %v", tn.dir, err)
		}
		select {
		case err := <-tn.n.Done():
			if err != nil {
				tn.t.Errorf("state machine of %s stopped with %v", tn.dir, err)
			}
		default:
		}
	})
}

// do sends a request to the node's API and returns the status and body.
func (tn *testNode) do(method, path, ctype string, body []byte) (int, []byte) {
	tn.t.Helper()
	req, err := http.NewRequest(method, tn.srv.URL+path, bytes.NewReader(body))
	if err != nil {
		tn.t.Fatal(err)
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	resp, err := tn.srv.Client().Do(req)
	if err != nil {
		tn.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		tn.t.Fatalf("%s %s: reading body: %v", method, path, err)
	}
	return resp.StatusCode, b
}

func (tn *testNode) get(path string) []byte {
	tn.t.Helper()
	status, b := tn.do(http.MethodGet, path, "", nil)
	if status != http.StatusOK {
		tn.t.Fatalf("GET %s: HTTP %d: %s", path, status, b)
	}
	return b
}

// submit signs events of one election as one submission by the test
// authority, sends it, and fails the test if it is refused.
func (tn *testNode) submit(evs ...*events.Event) []ledger.Receipt {
	tn.t.Helper()
	rs := tn.submitSigned(signed(tn.t, evs...))
	if len(rs) != len(evs) {
		tn.t.Fatalf("%d receipts for %d events", len(rs), len(evs))
	}
	return rs
}

// submitSigned sends a signed submission and fails the test if it is
// refused.
func (tn *testNode) submitSigned(signed []byte) []ledger.Receipt {
	tn.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	rs, err := tn.c.SubmitSigned(ctx, signed)
	if err != nil {
		tn.t.Fatalf("submitting %d bytes: %v", len(signed), err)
	}
	return rs
}

// submitOne POSTs one event, signed by the test authority, to
// /v1/submissions and returns the HTTP status and the event's receipt.
func (tn *testNode) submitOne(ev *events.Event) (int, ledger.Receipt) {
	tn.t.Helper()
	status, b := tn.do(http.MethodPost, "/v1/submissions", "text/plain; charset=utf-8", signed(tn.t, ev))
	var resp api.SubmitResponse
	if err := json.Unmarshal(b, &resp); err != nil || len(resp.Receipts) != 1 || resp.Receipts[0].Verdict == "" {
		tn.t.Fatalf("submitting %s: HTTP %d, not one receipt: %s", ev.Type(), status, b)
	}
	return status, resp.Receipts[0]
}

// position is the stream position from /healthz.
func (tn *testNode) position() uint64 {
	tn.t.Helper()
	var h struct {
		Status   string `json:"status"`
		Position uint64 `json:"position"`
	}
	if err := json.Unmarshal(tn.get("/healthz"), &h); err != nil || h.Status != "ok" {
		tn.t.Fatalf("healthz: %+v %v", h, err)
	}
	return h.Position
}

// size is an election's log size from /v1/elections (0 if it is not there).
func (tn *testNode) size(election string) uint64 {
	tn.t.Helper()
	var r struct {
		Elections []ledger.ElectionInfo `json:"elections"`
	}
	if err := json.Unmarshal(tn.get("/v1/elections"), &r); err != nil {
		tn.t.Fatal(err)
	}
	for _, e := range r.Elections {
		if e.ID == election {
			return e.Size
		}
	}
	return 0
}

// checkpointAt opens the election's latest checkpoint from the API with
// the node's verifier key.
func (tn *testNode) checkpoint(election string) checkpoint.Checkpoint {
	tn.t.Helper()
	return openCheckpoint(tn.t, tn.get("/v1/elections/"+election+"/checkpoint"), tn.n, election)
}

func openCheckpoint(t testing.TB, signed []byte, n *node.Node, election string) checkpoint.Checkpoint {
	t.Helper()
	v, origin, err := checkpoint.LogVerifier(n.VerifierKey, election)
	if err != nil {
		t.Fatal(err)
	}
	if origin != n.Ledger.Origin(election) {
		t.Fatalf("log key origin %s, the ledger's %s", origin, n.Ledger.Origin(election))
	}
	cp, err := checkpoint.Open(signed, origin, v)
	if err != nil {
		t.Fatalf("checkpoint of %s: %v\n%s", election, err, signed)
	}
	return cp
}

func (tn *testNode) tally(election string) []byte {
	tn.t.Helper()
	return tn.get("/v1/elections/" + election + "/tally")
}

// observed is what a client sees of an election's log.
type observed struct {
	size     uint64 // from /v1/elections
	cpSize   uint64 // from the signed checkpoint
	root     [32]byte
	position uint64 // /healthz
	tally    []byte
}

func (tn *testNode) observe(election string) observed {
	tn.t.Helper()
	cp := tn.checkpoint(election)
	return observed{
		size: tn.size(election), cpSize: cp.Size, root: cp.Root,
		position: tn.position(), tally: tn.tally(election),
	}
}

func (o observed) String() string {
	return fmt.Sprintf("size %d, checkpoint size %d, position %d, tally %d bytes (sha256 %x)",
		o.size, o.cpSize, o.position, len(o.tally), sha256.Sum256(o.tally))
}

// entries returns the stored bytes of all of an election's entries.
func entries(t testing.TB, l *ledger.Ledger, election string) [][]byte {
	t.Helper()
	var out [][]byte
	err := l.Entries(election, 0, ^uint64(0), func(i uint64, data []byte) error {
		if i != uint64(len(out)) {
			return fmt.Errorf("entry %d comes at position %d", i, len(out))
		}
		out = append(out, slices.Clone(data))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// rfc6962Root computes the Merkle tree hash of RFC 6962 §2.1 over entries,
// independently of golang.org/x/mod/sumdb/tlog.
func rfc6962Root(leaves [][]byte) [32]byte {
	if len(leaves) == 0 {
		return sha256.Sum256(nil)
	}
	if len(leaves) == 1 {
		return sha256.Sum256(append([]byte{0}, leaves[0]...))
	}
	k := 1
	for k*2 < len(leaves) {
		k *= 2
	}
	l, r := rfc6962Root(leaves[:k]), rfc6962Root(leaves[k:])
	return sha256.Sum256(append(append([]byte{1}, l[:]...), r[:]...))
}

// entry decodes a stored entry.
func decodeEntry(t testing.TB, b []byte) *events.Entry {
	t.Helper()
	en, err := events.DecodeEntry(b)
	if err != nil {
		t.Fatal(err)
	}
	return en
}

// waitPosition polls until l's position reaches pos.
func waitPosition(t testing.TB, l *ledger.Ledger, pos uint64) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := l.WaitApplied(ctx, pos); err != nil {
		t.Fatalf("waiting for position %d: %v", pos, err)
	}
}
