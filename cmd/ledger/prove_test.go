package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"golang.org/x/mod/sumdb/note"

	"github.com/election-audit/ledger/audit"
	"github.com/election-audit/ledger/client"
	"github.com/election-audit/ledger/events"
	"github.com/election-audit/ledger/internal/testkeys"
	"github.com/election-audit/ledger/node"
)

// TestAuditProve runs `ledger audit prove` against a real node: proofs
// verify, and a server that tampers with a proof, a key that did not sign
// and a size without a checkpoint are each refused with a clear error.
func TestAuditProve(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	n, err := node.Open(ctx, node.Config{DataDir: t.TempDir(), HTTP: "-", NATSListen: "127.0.0.1:0", Authorities: testkeys.Authorities})
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close(context.Background())
	srv := httptest.NewServer(n.Handler)
	defer srv.Close()
	c, err := client.New(srv.URL, srv.Client())
	if err != nil {
		t.Fatal(err)
	}
	c = c.WithKey(testkeys.Authority)
	const e = "prove-test"
	mk := func(b events.Body) []byte {
		ev := &events.Event{ID: uuid.Must(uuid.NewV7()), Election: e, Body: b}
		if err := ev.Validate(); err != nil {
			t.Fatal(err)
		}
		enc, err := ev.Encode()
		if err != nil {
			t.Fatal(err)
		}
		return enc
	}
	report := func(votes int64) []byte {
		return mk(&events.CountReport{Unit: "p1", Contest: "c", Source: events.Source{Operator: "clerk"},
			Counts: []events.Count{{Choice: "a", VoteType: "day", Votes: votes}}})
	}
	batches := [][][]byte{{mk(&events.Manifest{
		Name: "Prove", Date: "2026-11-03", Authority: testkeys.Authority.Verifier,
		VoteTypes: []events.VoteType{{ID: "day", Name: "Day"}},
		Units:     []events.Unit{{ID: "st", Name: "State", Kind: "state"}, {ID: "p1", Name: "P1", Kind: "precinct", Parent: "st"}},
		Contests:  []events.Contest{{ID: "c", Name: "C", VoteFor: 1, Choices: []events.Choice{{ID: "a", Name: "A"}}}},
	})}}
	for i := range 6 {
		batches = append(batches, [][]byte{report(int64(i))})
	}
	var big [][]byte
	for i := range 9 {
		big = append(big, report(int64(100+i)))
	}
	batches = append(batches, big, [][]byte{report(7)})
	for _, b := range batches {
		if _, err := c.Submit(ctx, b); err != nil {
			t.Fatal(err)
		}
	}
	sizes := map[uint64]bool{}
	if err := n.DB.Checkpoints(e, func(size uint64, _ []byte) error { sizes[size] = true; return nil }); err != nil {
		t.Fatal(err)
	}
	noCP := uint64(0)
	for s := uint64(1); s <= 17; s++ {
		if !sizes[s] {
			noCP = s
			break
		}
	}
	if !sizes[17] || !sizes[3] || !sizes[7] || noCP == 0 {
		t.Fatalf("checkpoints at %v", sizes)
	}
	keyFile := filepath.Join(t.TempDir(), "ledger.pub")
	os.WriteFile(keyFile, []byte(n.VerifierKey+"\n"), 0o644)
	_, otherKey, err := note.GenerateKey(nil, "ledger.local")
	if err != nil {
		t.Fatal(err)
	}

	// A server that flips one byte of the first hash of every proof.
	tamper := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := httptest.NewRecorder()
		n.Handler.ServeHTTP(rec, r)
		body := rec.Body.Bytes()
		if strings.Contains(r.URL.Path, "/proof/") && rec.Code == http.StatusOK {
			var m map[string]any
			if err := json.Unmarshal(body, &m); err != nil {
				t.Errorf("tamper: %v", err)
			}
			if hs, _ := m["hashes"].([]any); len(hs) > 0 {
				h, _ := base64.StdEncoding.DecodeString(hs[0].(string))
				h[3] ^= 1
				hs[0] = base64.StdEncoding.EncodeToString(h)
			}
			body, _ = json.Marshal(m)
		}
		w.Header().Set("Content-Type", rec.Header().Get("Content-Type"))
		w.WriteHeader(rec.Code)
		w.Write(body)
	}))
	defer tamper.Close()

	prove := func(args ...string) (string, error) {
		var out, errb bytes.Buffer
		code := run(ctx, append([]string{"audit", "prove"}, args...), strings.NewReader(""), &out, &errb)
		if code != exitOK {
			if code != exitError {
				t.Errorf("%v: exit %d, want %d", args, code, exitError)
			}
			return out.String(), fmt.Errorf("exit %d: %s", code, errb.String())
		}
		return out.String(), nil
	}
	proofFile := filepath.Join(t.TempDir(), "entry.tlog-proof")
	for _, c := range []struct {
		name string
		args []string
		want string // in the output, or in the error if fail
		fail bool
	}{
		{"inclusion", []string{"inclusion", "--server", srv.URL, "--election", e, "--index", "3", "--key", n.VerifierKey}, "OK: entry 3 is in the signed tree of size 17", false},
		{"inclusion names who signed it", []string{"inclusion", "--server", srv.URL, "--election", e, "--index", "3", "--key", n.VerifierKey}, "signed by  test-authority (test-authority+", false},
		{"inclusion of the last", []string{"inclusion", "--server", srv.URL, "--election", e, "--index", "16", "--key", keyFile}, "OK: entry 16 is in the signed tree of size 17", false},
		{"inclusion at a size", []string{"inclusion", "--server", srv.URL, "--election", e, "--index", "0", "--size", "3", "--out", proofFile}, "OK: entry 0 is in the signed tree of size 3", false},
		{"inclusion in a tree of 1", []string{"inclusion", "--server", srv.URL, "--election", e, "--index", "0", "--size", "1"}, "proof      (none)", false},
		{"consistency", []string{"consistency", "--server", srv.URL, "--election", e, "--from", "3", "--to", "7", "--key", n.VerifierKey}, "OK: the signed tree of size 3 is a prefix of the signed tree of size 7", false},
		{"consistency to the latest", []string{"consistency", "--server", srv.URL, "--election", e, "--from", "7"}, "OK: the signed tree of size 7 is a prefix of the signed tree of size 17", false},
		{"consistency with itself", []string{"consistency", "--server", srv.URL, "--election", e, "--from", "17", "--to", "17"}, "OK", false},

		{"tampered inclusion", []string{"inclusion", "--server", tamper.URL, "--election", e, "--index", "5", "--key", n.VerifierKey}, "proof FAILED: proof does not verify", true},
		{"tampered consistency", []string{"consistency", "--server", tamper.URL, "--election", e, "--from", "3", "--to", "17", "--key", n.VerifierKey}, "proof FAILED: proof does not verify", true},
		{"another key", []string{"inclusion", "--server", srv.URL, "--election", e, "--index", "5", "--key", otherKey}, "proof FAILED: checkpoint of ledger.local/prove-test does not verify", true},
		{"not a key", []string{"inclusion", "--server", srv.URL, "--election", e, "--index", "5", "--key", "nonsense"}, "--key: not a verifier key", true},
		{"size without checkpoint", []string{"inclusion", "--server", srv.URL, "--election", e, "--index", "0", "--size", fmt.Sprint(noCP)}, fmt.Sprintf("no signed checkpoint was issued at size %d", noCP), true},
		{"consistency without checkpoint", []string{"consistency", "--server", srv.URL, "--election", e, "--from", fmt.Sprint(noCP)}, fmt.Sprintf("no signed checkpoint was issued at size %d", noCP), true},
		{"index past the end", []string{"inclusion", "--server", srv.URL, "--election", e, "--index", "17"}, "entry 17 is past the end of prove-test's log (size 17)", true},
		{"from after to", []string{"consistency", "--server", srv.URL, "--election", e, "--from", "7", "--to", "3"}, "from: 7 is greater than to (3)", true},
		{"unknown election", []string{"inclusion", "--server", srv.URL, "--election", "nope", "--index", "0"}, `unknown election "nope"`, true},
		{"no index", []string{"inclusion", "--server", srv.URL, "--election", e}, `required flag(s) "index" not set`, true},
	} {
		out, err := prove(c.args...)
		switch {
		case c.fail && err == nil:
			t.Errorf("%s: succeeded:\n%s", c.name, out)
		case c.fail && !strings.Contains(err.Error(), c.want):
			t.Errorf("%s: error %q, want %q", c.name, err, c.want)
		case !c.fail && err != nil:
			t.Errorf("%s: %v\n%s", c.name, err, out)
		case !c.fail && !strings.Contains(out, c.want):
			t.Errorf("%s: output lacks %q:\n%s", c.name, c.want, out)
		}
	}

	// The tlog-proof written by --out verifies offline with the entry.
	tp, err := os.ReadFile(proofFile)
	if err != nil {
		t.Fatal(err)
	}
	entry, err := n.Ledger.Entry(e, 0)
	if err != nil {
		t.Fatal(err)
	}
	v, _ := note.NewVerifier(n.VerifierKey)
	if _, cp, err := audit.VerifyTLogProof(tp, entry, n.Ledger.Origin(e), v); err != nil || cp.Size != 3 {
		t.Errorf("--out proof: size %d, %v\n%s", cp.Size, err, tp)
	}

}
