package audit_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/transparency-dev/merkle/rfc6962"
	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/election-audit/ledger/audit"
	"github.com/election-audit/ledger/broker"
	"github.com/election-audit/ledger/checkpoint"
	"github.com/election-audit/ledger/demo"
	"github.com/election-audit/ledger/events"
	"github.com/election-audit/ledger/examples"
	"github.com/election-audit/ledger/importer/formats"
	"github.com/election-audit/ledger/internal/statewide"
	"github.com/election-audit/ledger/internal/testkeys"
	"github.com/election-audit/ledger/internal/testledger"
	"github.com/election-audit/ledger/keys"
	"github.com/election-audit/ledger/node"
	"github.com/election-audit/ledger/store"
)

// TestPyVerifier runs the independent verifier in Python of docs/bundle.md
// ("An independent verifier in Python"), as the page prints it, on bundles
// of a real log with signed submissions, key registrations and every kind
// of verdict: it must agree with audit.VerifyBundle on the good ones, tally
// bytes included, and fail, as VerifyBundle does, on tampered ones.
func TestPyVerifier(t *testing.T) {
	prog := pyVerifierProgram(t)
	lg := pySignedLog(t)

	db, err := store.Open(filepath.Join(lg.dir, "pebble"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })

	// Every size the ledger signed a checkpoint at.
	var sizes []uint64
	if err := db.Checkpoints(examples.GA06AprilElection, func(s uint64, _ []byte) error {
		sizes = append(sizes, s)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if len(sizes) == 0 || sizes[len(sizes)-1] != lg.size {
		t.Fatalf("signed sizes %v, want them to end at %d", sizes, lg.size)
	}
	dir := t.TempDir()
	var full []byte
	for _, n := range sizes {
		var buf bytes.Buffer
		wrote, err := audit.WriteBundle(&buf, db, examples.GA06AprilElection, n, lg.key)
		if err != nil {
			t.Fatalf("WriteBundle at %d: %v", n, err)
		}
		info, err := audit.VerifyBundle(bytes.NewReader(buf.Bytes()), lg.key)
		if err != nil {
			t.Fatalf("VerifyBundle at %d: %v", n, err)
		}
		if info.TallySHA256 != wrote.TallySHA256 {
			t.Fatalf("at %d: VerifyBundle's tally has SHA-256 %x, WriteBundle's %x", n, info.TallySHA256, wrote.TallySHA256)
		}
		path := filepath.Join(dir, fmt.Sprintf("ga06-%d.bundle", n))
		if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		out, stderr, err := runPy(prog, path, lg.key, testkeys.Authority.Verifier)
		want := fmt.Sprintf("%s: %d entries, root %s, tally sha256 %x: OK\n", examples.GA06AprilElection, n, info.Root, info.TallySHA256)
		if err != nil || out != want {
			t.Fatalf("python3 verifier on the bundle at %d: %v\nstdout: %s\nstderr: %s\nwant stdout: %s", n, err, out, stderr, want)
		}
		if n == lg.size {
			for _, want := range []string{`"status":"recount"`, `\u003cGA-6\u003e \u0026 Senate 32 — Géorgie`, `"rejected":4,`} {
				if !strings.Contains(string(info.Tally), want) {
					t.Errorf("the tally at %d does not hold %s: %s", n, want, info.Tally)
				}
			}
			full = buf.Bytes()
			t.Logf("python3 %s: %s", filepath.Base(path), strings.TrimSpace(out))
			// The same bundle, with the election's log key required instead
			// of the ledger key; and with another election's log key,
			// which the verifier refuses.
			logKey, err := checkpoint.LogKey(lg.key, examples.GA06AprilElection)
			if err != nil {
				t.Fatal(err)
			}
			if out, stderr, err := runPy(prog, path, logKey, testkeys.Authority.Verifier); err != nil || out != want {
				t.Errorf("python3 verifier with the log key: %v\nstdout: %s\nstderr: %s", err, out, stderr)
			}
			otherLog, err := checkpoint.LogKey(lg.key, "ga06-2017-06")
			if err != nil {
				t.Fatal(err)
			}
			if out, stderr, err := runPy(prog, path, otherLog, testkeys.Authority.Verifier); err == nil || !strings.Contains(stderr, "FAILED: not the required key") {
				t.Errorf("python3 verifier with another election's log key: %v\nstdout: %s\nstderr: %s", err, out, stderr)
			}
			// The same bundle, with another authority required.
			if out, stderr, err := runPy(prog, path, lg.key, lg.state.Verifier); err == nil || !strings.Contains(stderr, "FAILED: the manifest does not name the required authority") {
				t.Errorf("python3 verifier requiring another authority: %v\nstdout: %s\nstderr: %s", err, out, stderr)
			}
		}
	}
	if !bytes.Contains(full, []byte("submissions/")) {
		t.Fatal("the bundle holds no submissions/ member")
	}

	// The tampered bundles. Entry lg.target is the first entry of the
	// submission tampered with.
	ms := pyUnpack(t, full)
	target := lg.target
	targetEntry := pyEntry(t, ms, target)
	var ref struct {
		Submission struct {
			SHA256 string `json:"sha256"`
			Signer string `json:"signer"`
		} `json:"submission"`
	}
	if err := json.Unmarshal(targetEntry, &ref); err != nil {
		t.Fatal(err)
	}
	if ref.Submission.Signer != lg.cobb.Verifier {
		t.Fatalf("entry %d is signed by %q, want the Cobb key", target, ref.Submission.Signer)
	}
	subName := "submissions/" + ref.Submission.SHA256 + ".txt"
	ledgerKey := pyLedgerSigner(t, lg.dir)

	type tamper struct {
		name   string
		bundle []byte
		index  uint64 // the entry VerifyBundle must name
		goWant string // in VerifyBundle's error, if not empty
		pyWant string // in the Python verifier's failure
	}
	// (a) The submission's bytes altered: one vote, or one byte of its
	// signature, with bundle.json as it was (the member no longer has the
	// SHA-256 it lists) or rewritten to list the member's new size and
	// SHA-256. Either way both verifiers name the entries that came in
	// it (the two of Cobb's submission), not only the member.
	altered := fmt.Sprintf("its submission %s was altered", subName)
	pyAltered := fmt.Sprintf("entries %d to %d: %s", target, target+1, altered)
	cases := []tamper{
		{
			name:   "submission vote changed, index stale",
			bundle: pyPack(t, pyEdit(t, ms, subName, pyBumpVotes)),
			index:  target, goWant: altered, pyWant: pyAltered,
		},
		{
			name:   "submission vote changed, index rewritten",
			bundle: pyPack(t, pyReindex(t, pyEdit(t, ms, subName, pyBumpVotes))),
			index:  target, goWant: altered, pyWant: pyAltered,
		},
		{
			name:   "submission signature byte, index stale",
			bundle: pyPack(t, pyEdit(t, ms, subName, pyFlipSignature)),
			index:  target, goWant: altered, pyWant: pyAltered,
		},
		{
			name:   "submission signature byte, index rewritten",
			bundle: pyPack(t, pyReindex(t, pyEdit(t, ms, subName, pyFlipSignature))),
			index:  target, goWant: altered, pyWant: pyAltered,
		},
		{
			// (b) The entry names another registered key as its signer,
			// bundle.json rewritten.
			name: "entry signer changed, index rewritten",
			bundle: pyPack(t, pyReindex(t, pyEditEntry(t, ms, target, func(en []byte) []byte {
				return bytes.Replace(en, []byte(lg.cobb.Verifier), []byte(lg.fulton.Verifier), 1)
			}))),
			// The submission's two entries came in one step: the ledger
			// signed no checkpoint between them.
			index:  target,
			pyWant: fmt.Sprintf("entries %d to %d:", target, target+1),
		},
		{
			// The same by whoever holds the ledger's key: every checkpoint
			// re-signed over the changed entries, so that only the origins
			// tell. The state-wide key may report for Cobb, so the verdict
			// stands; the submission is still Cobb's.
			name: "entry signer changed, checkpoints re-signed",
			bundle: pyPack(t, pyForge(t, ledgerKey, pyEditEntry(t, ms, target, func(en []byte) []byte {
				return bytes.Replace(en, []byte(lg.cobb.Verifier), []byte(lg.state.Verifier), 1)
			}))),
			index:  target,
			pyWant: fmt.Sprintf("entry %d:", target),
		},
		{
			// A signature byte, the member renamed to its new SHA-256 and
			// the entries pointing to it, checkpoints re-signed: only the
			// signature check tells.
			name:   "submission signature byte, entries and checkpoints re-signed",
			bundle: pyPack(t, pyForge(t, ledgerKey, pyResign(t, ms, subName))),
			index:  target,
			pyWant: fmt.Sprintf("entry %d:", target),
		},
	}
	// Verdicts the signer rules decide, turned over by whoever holds the
	// ledger's key: only re-deciding them tells.
	rejectedReason := regexp.MustCompile(`"verdict":"rejected","reason":"(?:[^"\\]|\\.)*"`)
	for _, f := range []struct {
		index uint64
		why   string
	}{{4, "a key name used twice"}, {9, "a report outside the key's scope"}, {14, "a correction by a revoked key"}, {15, "a bad signature"}, {12, "a retraction in the key's scope"}} {
		cases = append(cases, tamper{
			name: fmt.Sprintf("verdict of entry %d turned, checkpoints re-signed", f.index),
			bundle: pyPack(t, pyForge(t, ledgerKey, pyEditEntry(t, ms, f.index, func(en []byte) []byte {
				if bytes.Contains(en, []byte(`"verdict":"accepted"`)) {
					return bytes.Replace(en, []byte(`"verdict":"accepted"`), []byte(`"verdict":"rejected","reason":"forged"`), 1)
				}
				return rejectedReason.ReplaceAll(en, []byte(`"verdict":"accepted"`))
			}))),
			pyWant: fmt.Sprintf("entry %d:", f.index),
			index:  f.index,
		})
	}
	// An entry logged twice, and entries not in their canonical form
	// (logFormCases): the Python verifier names the entry too.
	for _, c := range logFormCases(t, lg, ms) {
		cases = append(cases, tamper{name: c.name + ", checkpoints re-signed", bundle: c.bundle, index: c.index, pyWant: fmt.Sprintf("entry %d:", c.index)})
	}
	for _, tc := range cases {
		t.Run(strings.ReplaceAll(tc.name, " ", "_"), func(t *testing.T) {
			_, err := audit.VerifyBundle(bytes.NewReader(tc.bundle), lg.key)
			var be *audit.BundleError
			if !errors.As(err, &be) || !be.HasIndex || be.Index != tc.index || !strings.Contains(err.Error(), tc.goWant) {
				t.Errorf("VerifyBundle: %v; want a fault of entry %d saying %q", err, tc.index, tc.goWant)
			} else {
				t.Logf("VerifyBundle: %v", err)
			}
			path := filepath.Join(t.TempDir(), "tampered.bundle")
			if err := os.WriteFile(path, tc.bundle, 0o644); err != nil {
				t.Fatal(err)
			}
			out, stderr, err := runPy(prog, path, lg.key, testkeys.Authority.Verifier)
			var ee *exec.ExitError
			if !errors.As(err, &ee) || ee.ExitCode() != 1 || !strings.HasPrefix(stderr, "FAILED: ") || !strings.Contains(stderr, tc.pyWant) {
				t.Errorf("python3 verifier: %v\nstdout: %s\nstderr: %s\nwant exit status 1 and \"FAILED: …%s…\"", err, out, stderr, tc.pyWant)
			} else {
				t.Logf("python3 verifier: %s", strings.TrimSpace(stderr))
			}
		})
	}

	// A submission member that no entry names, whose bytes are not the
	// ones its name gives (a copy of Cobb's, filed under another SHA-256,
	// before the entries): the fault is the member's.
	t.Run("altered submission of no entry", func(t *testing.T) {
		stray := "submissions/" + strings.Repeat("0", 64) + ".txt"
		at := slices.IndexFunc(ms, func(m pyMember) bool { return strings.HasPrefix(m.name, "entries/") })
		sub := slices.IndexFunc(ms, func(m pyMember) bool { return m.name == subName })
		b := pyPack(t, pyReindex(t, slices.Concat(ms[:at], []pyMember{{stray, ms[sub].data}}, ms[at:])))
		_, err := audit.VerifyBundle(bytes.NewReader(b), lg.key)
		var be *audit.BundleError
		if !errors.As(err, &be) || be.Member != stray || be.HasIndex || !strings.Contains(err.Error(), "was altered") {
			t.Errorf("VerifyBundle: %v; want a fault of member %s, altered", err, stray)
		} else {
			t.Logf("VerifyBundle: %v", err)
		}
		path := filepath.Join(t.TempDir(), "stray.bundle")
		if err := os.WriteFile(path, b, 0o644); err != nil {
			t.Fatal(err)
		}
		if out, stderr, err := runPy(prog, path, lg.key); err == nil || !strings.HasPrefix(stderr, "FAILED: "+stray+" was altered") {
			t.Errorf("python3 verifier: %v\nstdout: %s\nstderr: %s\nwant \"FAILED: %s was altered…\"", err, out, stderr, stray)
		}
	})
}

// pyVerifierProgram writes the Python program of docs/bundle.md to a file
// and returns its path. It skips the test if python3 or its cryptography
// package is missing.
func pyVerifierProgram(t *testing.T) string {
	t.Helper()
	doc, err := os.ReadFile(filepath.Join("..", "docs", "bundle.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok := strings.Cut(string(doc), "\n## An independent verifier in Python\n")
	if ok {
		_, rest, ok = strings.Cut(rest, "\n```python\n")
	}
	prog := ""
	if ok {
		prog, _, ok = strings.Cut(rest, "\n```\n")
	}
	if !ok {
		t.Fatal("docs/bundle.md has no ```python block under \"## An independent verifier in Python\"")
	}
	py, err := exec.LookPath("python3")
	if err != nil {
		t.Skip("python3 is not installed, so the Python verifier of docs/bundle.md is not run (Debian: apt-get install python3 python3-cryptography; .ci/run does)")
	}
	if out, err := exec.Command(py, "-c", "from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey").CombinedOutput(); err != nil {
		t.Skipf("python3 has no usable cryptography package (%v: %s), so the Python verifier of docs/bundle.md is not run (Debian: apt-get install python3-cryptography; .ci/run does)", err, bytes.TrimSpace(out))
	}
	path := filepath.Join(t.TempDir(), "verify_bundle.py")
	if err := os.WriteFile(path, []byte(prog+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// runPy runs the Python verifier on a bundle with the keys to require:
// the ledger's, then the election authority's.
func runPy(prog, bundle string, required ...string) (stdout, stderr string, err error) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "python3", append([]string{prog, bundle}, required...)...)
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err = cmd.Run()
	return o.String(), e.String(), err
}

// pyLog is a closed ledger's data directory holding the log pySignedLog
// made.
type pyLog struct {
	dir, key            string
	size                uint64
	cobb, fulton, state *keys.Key
	target              uint64 // the first entry of Cobb's first submission
}

// pySignedLog logs, in ga06-2017-04, every kind of entry a signed log
// has: the manifest; the registration of two county keys and a state-wide
// one, and a rejected registration of a second key under a used name;
// reports by the county keys, one by Fulton's key for DeKalb (outside its
// scope: rejected) and one by the authority; a correction and a
// retraction by county keys; the revocation of Cobb's key and a rejected
// correction by it afterwards; a submission whose signature does not
// verify; the certification, a recount order and a correction in the
// recount. Submissions the edge would refuse (403, 401)
// are published to the stream directly, as docs/events.md says they may
// reach it.
func pySignedLog(t *testing.T) *pyLog {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	const el = examples.GA06AprilElection
	evs, err := examples.GA06April()
	if err != nil {
		t.Fatal(err)
	}
	auth := testkeys.Authority
	lg := &pyLog{dir: t.TempDir(), cobb: testkeys.New("cobb-county"), fulton: testkeys.New("fulton-county"), state: testkeys.New("ga-state")}
	_, otherCobb, err := note.GenerateKey(rand.Reader, "cobb-county")
	if err != nil {
		t.Fatal(err)
	}
	n, err := node.Open(ctx, node.Config{DataDir: lg.dir, HTTP: "-", NATSListen: "-", Authorities: testkeys.Authorities})
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if n != nil {
			n.Close(context.Background())
		}
	}()
	newEvent := func(body events.Body) *events.Event {
		ev := &events.Event{ID: uuid.Must(uuid.NewV7()), Election: el, Body: body}
		if err := ev.Validate(); err != nil {
			t.Fatal(err)
		}
		return ev
	}
	report := func(i int) *events.CountReport { return evs[i].Body.(*events.CountReport) }
	changed := func(r *events.CountReport) events.CountReport {
		c := *r
		c.Counts = slices.Clone(r.Counts)
		c.Counts[0].Votes++
		return c
	}
	var entries int
	// submit submits through the edge, which accepts it.
	submit := func(k *keys.Key, evs ...*events.Event) {
		t.Helper()
		rs, err := n.Ledger.Submit(ctx, testkeys.MustSign(k, evs...))
		if err != nil {
			t.Fatalf("submission by %s: %v", k.Name(), err)
		}
		for _, r := range rs {
			if r.Duplicate || r.Index != uint64(entries) {
				t.Fatalf("receipt %+v, want entry %d", r, entries)
			}
			entries++
		}
	}
	// publish publishes signed bytes to the stream directly.
	publish := func(signed []byte) {
		t.Helper()
		sub, err := events.OpenSubmission(signed)
		if err != nil {
			t.Fatal(err)
		}
		seq, err := n.Broker.Publish(ctx, broker.Message{Election: el, ID: sub.ID.String(), Data: signed})
		if err != nil {
			t.Fatal(err)
		}
		if err := n.Ledger.WaitApplied(ctx, seq); err != nil {
			t.Fatal(err)
		}
		entries += len(sub.Events)
	}

	for _, ev := range evs {
		if err := ev.Validate(); err != nil {
			t.Fatal(err)
		}
	}
	man := evs[0].Body.(*events.Manifest)
	man.Authority = auth.Verifier
	// Names the tally encodes with escapes (<, >, &) or raw (non-ASCII).
	man.Name = "Special Election <GA-6> & Senate 32 — Géorgie"
	man.Contests[0].Choices[0].Name = "David Abroms & «Independents»"
	// IDs are case-sensitive: a verifier must not fold them to lower case.
	man.Contests = append(man.Contests, events.Contest{ID: "Measure-A", Name: "Measure A", VoteFor: 1,
		Choices: []events.Choice{{ID: "Yes", Name: "Yes"}, {ID: "No", Name: "No"}}, Units: []string{"cobb"}})
	if err := evs[0].Validate(); err != nil {
		t.Fatal(err)
	}
	submit(auth, evs[0]) // 0
	submit(auth,         // 1, 2, 3
		newEvent(&events.KeyRegistration{Key: lg.cobb.Verifier, Units: []string{"cobb"}}),
		newEvent(&events.KeyRegistration{Key: lg.fulton.Verifier, Units: []string{"fulton"}}),
		newEvent(&events.KeyRegistration{Key: lg.state.Verifier, Units: []string{"ga"}}))
	submit(auth, newEvent(&events.KeyRegistration{Key: otherCobb, Units: []string{"cobb"}})) // 4: name used
	lg.target = uint64(entries)
	submit(lg.cobb, evs[1], evs[2])               // 5, 6
	submit(lg.fulton, evs[4])                     // 7
	submit(lg.fulton, evs[5])                     // 8
	publish(testkeys.MustSign(lg.fulton, evs[3])) // 9: DeKalb, outside Fulton's scope
	dekalb := *report(3)                          //
	submit(auth, newEvent(&dekalb))               // 10: the authority reports anything
	submit(lg.cobb, newEvent(&events.Correction{  // 11
		Corrects: evs[1].ID, Reason: "hand count", CountReport: changed(report(1))}))
	submit(lg.fulton, newEvent(&events.Retraction{ // 12
		Retracts: evs[5].ID, Reason: "wrong file", Source: events.Source{Operator: "fulton-county"}}))
	submit(auth, newEvent(&events.KeyRevocation{Key: lg.cobb.Verifier, Reason: "lost laptop"})) // 13
	publish(testkeys.MustSign(lg.cobb, newEvent(&events.Correction{                             // 14: revoked
		Corrects: evs[2].ID, Reason: "late", CountReport: changed(report(2))})))
	publish(pyFlipSignature(testkeys.MustSign(lg.fulton, newEvent(&events.Correction{ // 15: bad signature
		Corrects: evs[4].ID, Reason: "late", CountReport: changed(report(4))}))))
	submit(auth, newEvent(&events.Certification{By: "Georgia Secretary of State"}))                  // 16
	submit(auth, newEvent(&events.RecountOrder{By: "Georgia Secretary of State", Reason: "margin"})) // 17
	submit(lg.fulton, newEvent(&events.Correction{                                                   // 18: in the recount
		Corrects: evs[4].ID, Reason: "recount", CountReport: changed(report(4))}))
	lg.key, lg.size = n.VerifierKey, uint64(entries)
	err = n.Close(context.Background())
	n = nil
	if err != nil {
		t.Fatal(err)
	}

	// The verdicts are the ones the scenario is about.
	db, err := store.Open(filepath.Join(lg.dir, "pebble"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	rejected := map[uint64]string{4: "key name", 9: "not authorized:", 14: "not authorized:", 15: "bad signature:"}
	got := 0
	err = db.Entries(el, 0, lg.size, func(i uint64, data []byte) error {
		got++
		en, err := events.DecodeEntry(data)
		if err != nil {
			return err
		}
		prefix, rej := rejected[i]
		switch {
		case rej && (en.Verdict != events.Rejected || !strings.HasPrefix(en.Reason, prefix)):
			return fmt.Errorf("entry %d is %s (%s), want rejected: %s…", i, en.Verdict, en.Reason, prefix)
		case !rej && en.Verdict != events.Accepted:
			return fmt.Errorf("entry %d is rejected (%s), want accepted", i, en.Reason)
		case i == 15 && en.Submission.Signer != "":
			return fmt.Errorf("entry 15 names signer %s, want none", en.Submission.Signer)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if got != 19 || lg.size != 19 {
		t.Fatalf("the log has %d entries (%d counted), want 19", got, lg.size)
	}
	return lg
}

// pyFlipSignature changes one character in the middle of the base64 of a
// signed note's last signature line: still valid base64, no longer a
// valid signature.
func pyFlipSignature(signed []byte) []byte {
	b := bytes.Clone(signed)
	i := bytes.LastIndexByte(b[:len(b)-1], ' ') + 40
	if b[i] == 'A' {
		b[i] = 'B'
	} else {
		b[i] = 'A'
	}
	return b
}

// pyBumpVotes changes the first digit of the first "votes" of a signed
// submission: its event still decodes, its signature no longer verifies.
func pyBumpVotes(signed []byte) []byte {
	b := bytes.Clone(signed)
	i := bytes.Index(b, []byte(`"votes":`))
	if i < 0 {
		panic("the submission has no vote count")
	}
	i += len(`"votes":`)
	if b[i] == '9' {
		b[i] = '8'
	} else {
		b[i]++
	}
	return b
}

// pyLedgerSigner is the checkpoint signing key of a ledger's data
// directory.
func pyLedgerSigner(t *testing.T, dir string) *checkpoint.Key {
	t.Helper()
	skey, err := os.ReadFile(filepath.Join(dir, checkpoint.PrivateKeyFile))
	if err != nil {
		t.Fatal(err)
	}
	s, err := note.NewSigner(strings.TrimSpace(string(skey)))
	if err != nil {
		t.Fatal(err)
	}
	k, err := checkpoint.LoadOrCreateKey(dir, s.Name())
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// The archive helpers below follow docs/bundle.md.

type pyMember struct {
	name string
	data []byte
}

// pyUnpack splits a bundle into its members (unpack), each a copy.
func pyUnpack(t *testing.T, b []byte) []pyMember {
	t.Helper()
	var ms []pyMember
	for _, m := range unpack(t, b) {
		ms = append(ms, pyMember{m.name, bytes.Clone(m.data)})
	}
	return ms
}

// pyPack writes members as a bundle archive (pack).
func pyPack(t *testing.T, ms []pyMember) []byte {
	t.Helper()
	out := make([]member, len(ms))
	for i, m := range ms {
		out[i] = member{name: m.name, data: m.data}
	}
	return pack(out)
}

// pyEdit returns a copy of ms with member name changed by edit.
func pyEdit(t *testing.T, ms []pyMember, name string, edit func([]byte) []byte) []pyMember {
	t.Helper()
	out := slices.Clone(ms)
	for i := range out {
		if out[i].name == name {
			out[i].data = edit(bytes.Clone(out[i].data))
			return out
		}
	}
	t.Fatalf("no member %s", name)
	return nil
}

// pyEntry returns entry i of a bundle (all in its first entries member).
func pyEntry(t *testing.T, ms []pyMember, i uint64) []byte {
	t.Helper()
	for _, m := range ms {
		if m.name == "entries/00000000000000000000.jsonl" {
			return bytes.Split(m.data, []byte("\n"))[i]
		}
	}
	t.Fatal("no entries member")
	return nil
}

// pyEditEntry returns a copy of ms with entry i changed by edit.
func pyEditEntry(t *testing.T, ms []pyMember, i uint64, edit func([]byte) []byte) []pyMember {
	t.Helper()
	return pyEdit(t, ms, "entries/00000000000000000000.jsonl", func(b []byte) []byte {
		lines := bytes.Split(b, []byte("\n"))
		was := lines[i]
		if lines[i] = edit(bytes.Clone(was)); bytes.Equal(lines[i], was) {
			t.Fatalf("entry %d is unchanged", i)
		}
		return bytes.Join(lines, []byte("\n"))
	})
}

// pyResign changes a byte of the signature of submission member name,
// renames it to its new SHA-256 and points its entries to it.
func pyResign(t *testing.T, ms []pyMember, name string) []pyMember {
	t.Helper()
	old := strings.TrimSuffix(strings.TrimPrefix(name, "submissions/"), ".txt")
	out := pyEdit(t, ms, name, pyFlipSignature)
	for i := range out {
		if out[i].name == name {
			sum := sha256.Sum256(out[i].data)
			out[i].name = "submissions/" + hex.EncodeToString(sum[:]) + ".txt"
			return pyEdit(t, out, "entries/00000000000000000000.jsonl", func(b []byte) []byte {
				return bytes.ReplaceAll(b, []byte(`"sha256":"`+old+`"`), []byte(`"sha256":"`+hex.EncodeToString(sum[:])+`"`))
			})
		}
	}
	t.Fatalf("no member %s", name)
	return nil
}

// pyIndex is bundle.json, as docs/bundle.md gives it.
type pyIndex struct {
	Format   string `json:"format"`
	Version  int    `json:"version"`
	Election string `json:"election"`
	Size     uint64 `json:"size"`
	Members  []struct {
		Name   string `json:"name"`
		Size   int    `json:"size"`
		SHA256 string `json:"sha256"`
	} `json:"members"`
}

// pyReindex rewrites bundle.json to list the members as they are.
func pyReindex(t *testing.T, ms []pyMember) []pyMember {
	t.Helper()
	out := slices.Clone(ms)
	var idx pyIndex
	if out[1].name != "bundle.json" {
		t.Fatalf("member 2 is %s", out[1].name)
	}
	if err := json.Unmarshal(out[1].data, &idx); err != nil {
		t.Fatal(err)
	}
	idx.Members = idx.Members[:0]
	for i, m := range out {
		if i == 1 {
			continue
		}
		sum := sha256.Sum256(m.data)
		idx.Members = append(idx.Members, struct {
			Name   string `json:"name"`
			Size   int    `json:"size"`
			SHA256 string `json:"sha256"`
		}{m.name, len(m.data), hex.EncodeToString(sum[:])})
	}
	b, err := json.Marshal(&idx)
	if err != nil {
		t.Fatal(err)
	}
	out[1].data = append(b, '\n')
	return out
}

// pyForge re-signs every checkpoint of a bundle over its entries as they
// are, with the ledger's own key, and rewrites bundle.json: what the
// ledger's operator could do to its own bundles.
func pyForge(t *testing.T, s *checkpoint.Key, ms []pyMember) []pyMember {
	t.Helper()
	var idx pyIndex
	if err := json.Unmarshal(ms[1].data, &idx); err != nil {
		t.Fatal(err)
	}
	var leaves [][]byte
	for _, m := range ms {
		if strings.HasPrefix(m.name, "entries/") {
			for _, en := range bytes.SplitAfter(m.data, []byte("\n")) {
				if len(en) > 0 {
					leaves = append(leaves, rfc6962.DefaultHasher.HashLeaf(bytes.TrimSuffix(en, []byte("\n"))))
				}
			}
		}
	}
	var mth func([][]byte) []byte
	mth = func(h [][]byte) []byte {
		if len(h) == 1 {
			return h[0]
		}
		k := 1
		for 2*k < len(h) {
			k *= 2
		}
		return rfc6962.DefaultHasher.HashChildren(mth(h[:k]), mth(h[k:]))
	}
	sign := func(size uint64) []byte {
		var root tlog.Hash
		copy(root[:], mth(leaves[:size]))
		b, err := checkpoint.Sign(s, s.Origin(idx.Election), size, root)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	out := pyEdit(t, ms, "checkpoint.txt", func([]byte) []byte { return sign(idx.Size) })
	out = pyEdit(t, out, "earlier-checkpoints.txt", func(b []byte) []byte {
		var again bytes.Buffer
		for _, line := range strings.Split(strings.TrimSuffix(string(b), "\n"), "\n") {
			sizeField, _, _ := strings.Cut(line, " ")
			size, err := strconv.ParseUint(sizeField, 10, 64)
			if err != nil {
				t.Fatal(err)
			}
			fmt.Fprintf(&again, "%d %s\n", size, base64.StdEncoding.EncodeToString(sign(size)))
		}
		return again.Bytes()
	})
	return pyReindex(t, out)
}

// TestPyVerifierChunks runs the Python verifier of docs/bundle.md on a
// bundle of two entries members with a submission whose entries span
// both: each submission is in the bundle once, before the entries member
// of its first entry.
func TestPyVerifierChunks(t *testing.T) {
	prog := pyVerifierProgram(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	const el = examples.GA06AprilElection
	evs, err := examples.GA06April()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	n, err := node.Open(ctx, node.Config{DataDir: dir, HTTP: "-", NATSListen: "-", Authorities: testkeys.Authorities})
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if n != nil {
			n.Close(context.Background())
		}
	}()
	cobb := testkeys.New("cobb-county")
	report := func(votes int64) *events.Event {
		ev := &events.Event{ID: uuid.Must(uuid.NewV7()), Election: el, Body: &events.CountReport{
			Unit: "cobb", Contest: "us-representative-district-6",
			Counts: []events.Count{{Choice: "david-abroms", VoteType: "election-day", Votes: votes}},
			Source: events.Source{Operator: "cobb-county"}}}
		if err := ev.Validate(); err != nil {
			t.Fatal(err)
		}
		return ev
	}
	submit := func(k *keys.Key, evs ...*events.Event) uint64 {
		t.Helper()
		rs, err := n.Ledger.Submit(ctx, testkeys.MustSign(k, evs...))
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range rs {
			if r.Verdict != events.Accepted {
				t.Fatalf("entry %d is rejected: %s", r.Index, r.Reason)
			}
		}
		return rs[len(rs)-1].TreeSize
	}
	evs[0].Body.(*events.Manifest).Authority = testkeys.Authority.Verifier
	submit(testkeys.Authority, evs[0])
	reg := &events.Event{ID: uuid.Must(uuid.NewV7()), Election: el, Body: &events.KeyRegistration{Key: cobb.Verifier, Units: []string{"cobb"}}}
	submit(testkeys.Authority, reg)
	var many []*events.Event
	for i := range audit.BundleEntriesPerFile + 100 {
		many = append(many, report(int64(i)))
	}
	submit(cobb, many...)
	size := submit(cobb, report(1_000_000))
	key := n.VerifierKey
	err = n.Close(context.Background())
	n = nil
	if err != nil {
		t.Fatal(err)
	}

	db, err := store.Open(filepath.Join(dir, "pebble"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var buf bytes.Buffer
	if _, err := audit.WriteBundle(&buf, db, el, size, key); err != nil {
		t.Fatal(err)
	}
	info, err := audit.VerifyBundle(bytes.NewReader(buf.Bytes()), key)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, m := range pyUnpack(t, buf.Bytes()) {
		if strings.HasPrefix(m.name, "submissions/") {
			names = append(names, "submissions/")
		} else if strings.HasPrefix(m.name, "entries/") {
			names = append(names, m.name)
		}
	}
	want := []string{"submissions/", "submissions/", "submissions/", "entries/00000000000000000000.jsonl", "submissions/", "entries/00000000000000004096.jsonl"}
	if !slices.Equal(names, want) {
		t.Fatalf("members %q, want %q", names, want)
	}
	path := filepath.Join(t.TempDir(), "chunks.bundle")
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	out, stderr, err := runPy(prog, path, key)
	if want := fmt.Sprintf("%s: %d entries, root %s, tally sha256 %x: OK\n", el, size, info.Root, info.TallySHA256); err != nil || out != want {
		t.Fatalf("python3 verifier: %v\nstdout: %s\nstderr: %s\nwant stdout: %s", err, out, stderr, want)
	}
	t.Logf("python3 verifier: %s", strings.TrimSpace(out))

	// The last submission moved before the first entries member, with
	// bundle.json listing it there: not where the format puts it.
	ms := pyUnpack(t, buf.Bytes())
	last := ms[len(ms)-2]
	moved := slices.Concat(ms[:7], []pyMember{last}, ms[7:len(ms)-2], ms[len(ms)-1:])
	if err := os.WriteFile(path, pyPack(t, pyReindex(t, moved)), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, stderr, err := runPy(prog, path, key); err == nil || !strings.HasPrefix(stderr, "FAILED: ") {
		t.Errorf("python3 verifier on a misplaced submission: %v\nstdout: %s\nstderr: %s", err, out, stderr)
	}
	misplaced, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := audit.VerifyBundle(bytes.NewReader(misplaced), key); err == nil || !strings.Contains(err.Error(), "not where the bundle must have it") {
		t.Errorf("VerifyBundle on a misplaced submission: %v", err)
	}

	// The submission of entries 2 to 4197, which span both entries
	// members, altered (bundle.json as it was): both name entry 2, and
	// the entries of it they can see.
	big := ms[len(fixedMembers)+2]
	if sum := strings.TrimSuffix(strings.TrimPrefix(big.name, "submissions/"), ".txt"); !bytes.Contains(pyEntry(t, ms, 2), []byte(`"sha256":"`+sum+`"`)) {
		t.Fatalf("member %s is not the submission of entry 2", big.name)
	}
	altered := pyPack(t, pyEdit(t, ms, big.name, pyFlipSignature))
	_, err = audit.VerifyBundle(bytes.NewReader(altered), key)
	var be *audit.BundleError
	wantAltered := "its submission " + big.name + " was altered"
	if !errors.As(err, &be) || !be.HasIndex || be.Index != 2 || !strings.Contains(err.Error(), wantAltered) ||
		!strings.Contains(err.Error(), "entries 2 to 4095, and maybe of entries in the next entries member") {
		t.Errorf("VerifyBundle on an altered submission: %v; want entry 2, %q and the entries of the first member", err, wantAltered)
	}
	if err := os.WriteFile(path, altered, 0o644); err != nil {
		t.Fatal(err)
	}
	wantPy := "FAILED: entries 2 to 4197: " + wantAltered
	if out, stderr, err := runPy(prog, path, key); err == nil || !strings.HasPrefix(stderr, wantPy) {
		t.Errorf("python3 verifier on an altered submission: %v\nstdout: %s\nstderr: %s\nwant %s…", err, out, stderr, wantPy)
	}
}

func fileExists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

// TestPyVerifierImported runs the Python verifier of docs/bundle.md on
// bundles of what the ledger's own tools log: both elections of the demo
// (April's race; June's runoff, which has a turnout contest), replayed by
// demo.Run with its county offices' keys, and a statewide election
// imported from a generated OpenElections precinct file as `ledger import`
// does it (turnout figures, write-ins, district contests). It must print
// the OK line with the tally's SHA-256 that audit.VerifyBundle gives.
func TestPyVerifierImported(t *testing.T) {
	prog := pyVerifierProgram(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	dk, err := demo.NewKeys()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	n, err := node.Open(ctx, node.Config{DataDir: dir, HTTP: "-", NATSListen: "-",
		Authorities: append([]string{dk.Authority.Verifier}, testkeys.Authorities...)})
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if n != nil {
			n.Close(context.Background())
		}
	}()
	res, err := demo.Run(ctx, demo.Config{Ledger: n.Ledger, DB: n.DB, Key: n.VerifierKey, Keys: dk, Out: io.Discard})
	if err != nil {
		t.Fatal(err)
	}
	type election struct{ id, authority string }
	var elections []election
	for _, r := range res {
		elections = append(elections, election{r.Election, dk.Authority.Verifier})
	}

	// Imports, signed by the test authority as `ledger import` signs: the
	// manifest alone (in parts when it is too large for one event), then
	// the reports in submissions of 1,000.
	importFile := func(id, file string, wantParts int) {
		t.Helper()
		files, err := formats.ReadFiles([]string{file})
		if err != nil {
			t.Fatal(err)
		}
		imp, err := formats.Parse(formats.OpenElections, files, id, formats.Options{})
		if err != nil {
			t.Fatal(err)
		}
		imp.Manifest.Authority = testkeys.Authority.Verifier
		evs, err := imp.EventsFor(nil)
		if err != nil {
			t.Fatal(err)
		}
		if head := events.ManifestEvents(evs[0].Body.(*events.Manifest)); head < wantParts {
			t.Fatalf("the manifest of %s is in %d events; the test wants at least %d", id, head, wantParts)
		}
		if err := testledger.Log(ctx, n.Ledger, testkeys.Authority, id, evs); err != nil {
			t.Fatalf("import of %s: %v", id, err)
		}
		elections = append(elections, election{id, testkeys.Authority.Verifier})
	}
	// A generated statewide file with turnout figures, write-ins and
	// district contests: 441 units, a manifest in parts.
	data, _ := statewide.Generate(statewide.Layouts[0], 20, 20)
	file := filepath.Join(t.TempDir(), "20261103__ga__general__precinct.csv")
	if err := os.WriteFile(file, data, 0o600); err != nil {
		t.Fatal(err)
	}
	importFile("statewide-2026", file, 2)
	// A real one as published, if the wild corpus is here: South
	// Carolina's 2020 general by precinct, 2,446 units and 179 contests,
	// whose manifest is in 8 events.
	if sc := "../../shared/data/wild/sc/20201103__sc__general__precinct.csv"; fileExists(sc) {
		importFile("sc-2020", sc, 8)
	} else {
		t.Logf("the wild corpus is not here: %s is not checked", sc)
	}
	db, key, err := testledger.Stop(context.Background(), n, dir)
	n = nil
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, e := range elections {
		size, _, err := db.TreeSize(e.id)
		if err != nil {
			t.Fatal(err)
		}
		var buf bytes.Buffer
		if _, err := audit.WriteBundle(&buf, db, e.id, size, key); err != nil {
			t.Fatalf("WriteBundle of %s at %d: %v", e.id, size, err)
		}
		info, err := audit.VerifyBundle(bytes.NewReader(buf.Bytes()), key)
		if err != nil {
			t.Fatalf("VerifyBundle of %s: %v", e.id, err)
		}
		if e.id != res[0].Election && e.id != "sc-2020" && !bytes.Contains(info.Tally, []byte(`"kind":"turnout"`)) {
			t.Errorf("the tally of %s has no turnout contest", e.id)
		}
		path := filepath.Join(t.TempDir(), e.id+".bundle")
		if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		out, stderr, err := runPy(prog, path, key, e.authority)
		want := fmt.Sprintf("%s: %d entries, root %s, tally sha256 %x: OK\n", e.id, size, info.Root, info.TallySHA256)
		if err != nil || out != want {
			t.Errorf("python3 verifier on %s: %v\nstdout: %s\nstderr: %s\nwant stdout: %s", e.id, err, out, stderr, want)
			continue
		}
		t.Logf("python3 %s: %s", filepath.Base(path), strings.TrimSpace(out))
	}
}
