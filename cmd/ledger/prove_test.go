package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/election-audit/ledger/audit"
	"github.com/election-audit/ledger/checkpoint"
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
	dataDir := t.TempDir()
	n, err := node.Open(ctx, node.Config{DataDir: dataDir, HTTP: "-", NATSListen: "127.0.0.1:0", Authorities: testkeys.Authorities})
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
	signedAt := map[uint64][]byte{}
	if err := n.DB.Checkpoints(e, func(size uint64, cp []byte) error {
		sizes[size], signedAt[size] = true, bytes.Clone(cp)
		return nil
	}); err != nil {
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

	// Saved checkpoints (as a watcher keeps them as evidence), checked
	// against a live server's proof, a saved proof, or each other.
	files := t.TempDir()
	save := func(name string, b []byte) string {
		path := filepath.Join(files, name)
		if err := os.WriteFile(path, b, 0o644); err != nil {
			t.Fatal(err)
		}
		return path
	}
	cp3, cp7, cp17 := save("3.checkpoint", signedAt[3]), save("7.checkpoint", signedAt[7]), save("17.checkpoint", signedAt[17])
	signer, err := checkpoint.LoadOrCreateKey(dataDir, node.DefaultName)
	if err != nil {
		t.Fatal(err)
	}
	forge := func(name string, size uint64) string {
		b, err := checkpoint.Sign(signer, n.Ledger.Origin(e), size, tlog.Hash{1, 2, 3})
		if err != nil {
			t.Fatal(err)
		}
		return save(name, b)
	}
	fork7, past := forge("fork7.checkpoint", 7), forge("20.checkpoint", 20)
	// The true checkpoint of size 7, signed by another key.
	otherSigner, err := checkpoint.LoadOrCreateKey(t.TempDir(), node.DefaultName)
	if err != nil {
		t.Fatal(err)
	}
	v7, _, _ := checkpoint.LogVerifier(n.VerifierKey, e)
	cp, err := checkpoint.Open(signedAt[7], n.Ledger.Origin(e), v7)
	if err != nil {
		t.Fatal(err)
	}
	b7, err := checkpoint.Sign(otherSigner, n.Ledger.Origin(e), 7, cp.Root)
	if err != nil {
		t.Fatal(err)
	}
	os7 := save("other7.checkpoint", b7)
	resp, err := http.Get(srv.URL + "/v1/elections/" + e + "/proof/consistency?from=7&to=17")
	if err != nil {
		t.Fatal(err)
	}
	raw, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("proof: %d %v", resp.StatusCode, err)
	}
	proof717 := save("proof.json", raw)
	const down = "http://127.0.0.1:1" // the checks that need no server get none
	for _, c := range []struct {
		name string
		args []string
		want []string // in the output, or the first in the error if fail
		fail bool
	}{
		{"files", []string{"--server", srv.URL, "--from-file", cp3, "--to-file", cp7, "--key", keyFile},
			[]string{"from       3, root ", "(" + cp3 + ")", "to         7, root ", "proof from " + srv.URL, "OK: the signed tree of size 3 is a prefix of the signed tree of size 7"}, false},
		{"files in either order", []string{"--server", srv.URL, "--from-file", cp17, "--to-file", cp3, "--key", keyFile},
			[]string{"OK: the signed tree of size 3 is a prefix of the signed tree of size 17"}, false},
		{"a file and the latest", []string{"--server", srv.URL, "--from-file", cp7, "--key", n.VerifierKey},
			[]string{"OK: the signed tree of size 7 is a prefix of the signed tree of size 17"}, false},
		{"a file and a size", []string{"--server", srv.URL, "--from", "3", "--to-file", cp7, "--key", n.VerifierKey},
			[]string{"OK: the signed tree of size 3 is a prefix of the signed tree of size 7"}, false},
		{"saved proof, no server", []string{"--server", down, "--from-file", cp7, "--to-file", cp17, "--proof-file", proof717, "--key", keyFile},
			[]string{"proof from " + proof717, "OK: the signed tree of size 7 is a prefix of the signed tree of size 17"}, false},
		{"saved proof and its checkpoints, no server", []string{"--server", down, "--proof-file", proof717, "--key", keyFile},
			[]string{"OK: the signed tree of size 7 is a prefix of the signed tree of size 17"}, false},
		{"one tree, no server", []string{"--server", down, "--from-file", cp7, "--to-file", cp7, "--key", keyFile},
			[]string{"OK: both are the signed tree of size 7"}, false},

		{"fork, no server", []string{"--server", down, "--from-file", cp7, "--to-file", fork7, "--key", keyFile},
			[]string{"INCONSISTENT: " + cp7 + " and " + fork7 + " both verify with the key and are of size 7", "the key signed two different histories"}, true},
		{"fork shown by the server's checkpoint", []string{"--server", srv.URL, "--from-file", fork7, "--to-file", cp17, "--key", keyFile},
			[]string{"INCONSISTENT: " + fork7 + " and the checkpoint of size 7 from " + srv.URL + " both verify"}, true},
		{"fork against a saved proof", []string{"--server", down, "--from-file", fork7, "--to-file", cp17, "--proof-file", proof717, "--key", keyFile},
			[]string{"INCONSISTENT: " + fork7 + " and the checkpoint of size 7 from " + proof717}, true},
		{"a size the ledger cannot prove", []string{"--server", srv.URL, "--from-file", cp7, "--to-file", past, "--key", keyFile},
			[]string{"proof FAILED: the ledger at " + srv.URL + " gives no proof from 7 to 20 ("}, true},
		{"tampered proof", []string{"--server", tamper.URL, "--from-file", cp3, "--to-file", cp17, "--key", keyFile},
			[]string{"proof FAILED: proof does not verify", "(proof from " + tamper.URL + ")"}, true},
		{"saved proof of other sizes", []string{"--server", down, "--from-file", cp3, "--to-file", cp17, "--proof-file", proof717, "--key", keyFile},
			[]string{"proof FAILED: " + proof717 + " is a proof from 7 to 17, not from 3 to 17"}, true},
		{"a file another key signed", []string{"--server", down, "--from-file", os7, "--to-file", cp17, "--key", keyFile},
			[]string{"proof FAILED: " + os7 + ": checkpoint of ledger.local/prove-test does not verify"}, true},
		{"files without a key", []string{"--server", srv.URL, "--from-file", cp3, "--to-file", cp7},
			[]string{"--from-file, --to-file and --proof-file need --key"}, true},
		{"a size and a file", []string{"--server", srv.URL, "--from", "3", "--from-file", cp3, "--key", keyFile},
			[]string{"--from and --from-file: pass one"}, true},
		{"neither", []string{"--server", srv.URL, "--key", keyFile},
			[]string{`required flag(s) "from" not set`}, true},
	} {
		out, err := prove(append([]string{"consistency", "--election", e}, c.args...)...)
		t.Logf("%s:\n%s%v", c.name, out, err)
		switch {
		case c.fail && err == nil:
			t.Errorf("%s: succeeded:\n%s", c.name, out)
		case c.fail:
			for _, want := range c.want {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("%s: error %q, want %q", c.name, err, want)
				}
			}
		case err != nil:
			t.Errorf("%s: %v\n%s", c.name, err, out)
		default:
			for _, want := range c.want {
				if !strings.Contains(out, want) {
					t.Errorf("%s: output lacks %q:\n%s", c.name, want, out)
				}
			}
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
	v, origin, _ := checkpoint.LogVerifier(n.VerifierKey, e)
	if _, cp, err := audit.VerifyTLogProof(tp, entry, origin, v); err != nil || cp.Size != 3 {
		t.Errorf("--out proof: size %d, %v\n%s", cp.Size, err, tp)
	}

}
