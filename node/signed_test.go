package node_test

// Hostile attempts at writing: each is made against a real node (embedded
// JetStream, Pebble, the HTTP API) and must be refused with the expected
// status and message, leaving every log, the stream and the tallies as
// they were; those published straight to the stream must be logged as
// rejected with the reason, or dropped. docs/security.md lists them.

import (
	"bytes"
	"encoding/json"
	"net/http"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"golang.org/x/mod/sumdb/note"

	"github.com/election-audit/ledger/api"
	"github.com/election-audit/ledger/audit"
	"github.com/election-audit/ledger/events"
	"github.com/election-audit/ledger/internal/testkeys"
	"github.com/election-audit/ledger/keys"
	"github.com/election-audit/ledger/node"
	"github.com/election-audit/ledger/store"
)

func TestHostileSubmissions(t *testing.T) {
	var (
		auth     = testkeys.Authority
		auth2    = testkeys.New("other-authority") // accepted: defines elecOther
		rogue    = testkeys.New("rogue-authority") // not accepted by the operator
		cobb     = testkeys.New("cobb-elections")
		fulton   = testkeys.New("fulton-elections")
		oldKey   = testkeys.New("dekalb-old")
		thief    = testkeys.New("thief")
		cobbTwin = testkeys.Another("cobb-elections") // Cobb's name, another key
	)
	tn := startNode(t, "", node.Config{Authorities: []string{auth.Verifier, auth2.Verifier}})
	sign := func(k *keys.Key, evs ...*events.Event) []byte { return testkeys.MustSign(k, evs...) }
	ev := func(election string, body events.Body) *events.Event { return mkEvent(t, election, body) }

	// The elections: elecMain by the test authority, with Cobb's and
	// Fulton's offices registered and an old DeKalb key revoked; elecOther
	// by another authority.
	mMain := testManifest("Main")
	mMain.Authority = auth.Verifier
	setup := tn.submitSigned(sign(auth,
		ev(elecMain, mMain),
		ev(elecMain, &events.KeyRegistration{Key: cobb.Verifier, Units: []string{"cobb"}}),
		ev(elecMain, &events.KeyRegistration{Key: fulton.Verifier, Units: []string{"fulton"}}),
		ev(elecMain, &events.KeyRegistration{Key: oldKey.Verifier, Units: []string{"dekalb"}}),
	))
	oldReport := ev(elecMain, houseReport("dekalb-01", 5, 6, 7))
	setup = append(setup, tn.submitSigned(sign(oldKey, oldReport))...)
	setup = append(setup, tn.submitSigned(sign(auth, ev(elecMain, &events.KeyRevocation{Key: oldKey.Verifier, Reason: "laptop stolen"})))...)
	cobbReport := ev(elecMain, houseReport("cobb-01", 1200, 950, 31))
	cobbSub := sign(cobb, cobbReport)
	setup = append(setup, tn.submitSigned(cobbSub)...)
	fultonReport := ev(elecMain, houseReport("fulton-01", 2200, 1950, 12))
	setup = append(setup, tn.submitSigned(sign(fulton, fultonReport))...)
	mOther := testManifest("Other")
	mOther.Authority = auth2.Verifier
	setup = append(setup, tn.submitSigned(sign(auth2, ev(elecOther, mOther)))...)
	for i, r := range setup {
		if r.Verdict != events.Accepted || r.Duplicate {
			t.Fatalf("setup receipt %d: %+v", i, r)
		}
	}

	// Byte surgery on signed submissions.
	text := func(b []byte) []byte { tx, _, _ := bytes.Cut(b, []byte("\n\n")); return tx }
	sigLine := func(b []byte) []byte { _, s, _ := bytes.Cut(b, []byte("\n\n")); return s }
	join := func(parts ...[]byte) []byte { return bytes.Join(parts, nil) }
	replace := func(b []byte, old, new string) []byte {
		t.Helper()
		if !bytes.Contains(b, []byte(old)) {
			t.Fatalf("%q is not in the submission", old)
		}
		return bytes.Replace(b, []byte(old), []byte(new), 1)
	}
	// signText signs arbitrary text as a note with k.
	signText := func(k *keys.Key, tx string) []byte {
		b, err := note.Sign(&note.Note{Text: tx}, k.Signer)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	cobbPrecinct := func() *events.Event { return ev(elecMain, houseReport("cobb-02", 300, 200, 10)) }
	byCobb := sign(cobb, cobbPrecinct())
	byThief := sign(thief, cobbPrecinct())
	// A submission of 10,001 events, signed as a note: more than one may hold.
	var many strings.Builder
	many.WriteString(events.SubmissionDomain + "\n" + uuid.Must(uuid.NewV7()).String() + "\n" + elecMain + "\n" + auth.Verifier + "\n")
	for range events.MaxSubmissionEvents + 1 {
		many.Write(encode(t, cobbPrecinct()))
		many.WriteByte('\n')
	}
	// Cobb's valid submission moved into another election: the events say
	// elecOther, and so does the header, but the signature is over elecMain.
	intoOther := bytes.ReplaceAll(cobbSub, []byte(elecMain), []byte(elecOther))
	cp := tn.get("/v1/elections/" + elecMain + "/checkpoint")

	type attempt struct {
		name   string
		body   []byte
		status int
		msg    string
	}
	attempts := []attempt{
		// Not a submission at all.
		{"a bare event, unsigned", encode(t, cobbPrecinct()), 401, "unsigned: bare events, not a signed submission"},
		{"JSON Lines, unsigned", join(encode(t, cobbPrecinct()), []byte("\n"), encode(t, cobbPrecinct())), 401, "unsigned: bare events, not a signed submission"},
		{"the ledger's own signed checkpoint", cp, 400, "not a signed submission"},
		{"a note signed by the authority in another domain", signText(auth, "election-audit/ledger/submission/v0\n"+string(text(byCobb)[len(events.SubmissionDomain)+1:])+"\n"), 400, "not a signed submission"},
		{"an event line not in canonical form", signText(cobb, strings.Replace(string(text(byCobb)), `{"v":1,`, `{ "v":1,`, 1)+"\n"), 400, "canonical"},
		{}, // an event of another election inside: below
		{"10,001 events", signText(auth, many.String()), 400, "more than 10000 events"},
		{"a submission past 8 MiB", append(bytes.Clone(byCobb), bytes.Repeat([]byte("x"), events.MaxSubmissionSize)...), 413, "8388608"},

		// Signatures that do not verify.
		{"no signature", append(text(byCobb), '\n'), 401, "unsigned"},
		{"an empty signature block", append(text(byCobb), '\n', '\n'), 401, "unsigned"},
		{"a signature over other bytes", replace(byCobb, `"votes":300`, `"votes":3000`), 401, "does not verify"},
		{"a signature over another submission ID", replace(byCobb, string(submissionID(t, byCobb).String()[:8]), "00000000"), 401, "does not verify"},
		{"Cobb's submission replayed into another election", intoOther, 401, "does not verify"},
		{"the thief's signature on a submission naming Cobb's key", join(replace(text(byThief), thief.Verifier, cobb.Verifier), []byte("\n\n"), sigLine(byThief)), 401, "not by the key the submission names"},
		{"Cobb's signature on a submission naming the authority", join(replace(text(byCobb), cobb.Verifier, auth.Verifier), []byte("\n\n"), sigLine(byCobb)), 401, "not by the key the submission names"},
		{"two signatures", join(byCobb, sigLine(byThief)), 401, "more than one signature line"},
		{"a garbled signature", join(text(byCobb), []byte("\n\n— cobb-elections !!!!\n")), 401, "malformed signature line"},
		{"a signature with other padding bits", join(text(byCobb), []byte("\n\n"), bytes.Replace(sigLine(byCobb), []byte("=\n"), []byte("\n"), 1)), 401, "malformed signature line"},
		{"a truncated signature", byCobb[:len(byCobb)-20], 401, "the signature line has no line end: the submission looks cut short"},
		{"the ledger's checkpoint signature on a submission", join(text(byCobb), []byte("\n\n"), sigLine(cp)), 401, "not by the key the submission names"},

		// Valid signatures by keys that may not.
		{"a valid signature by an unknown key", byThief, 403, "is not registered"},
		{"a key with Cobb's name but another public key", sign(cobbTwin, cobbPrecinct()), 403, "is not registered"},
		{"a revoked key", sign(oldKey, ev(elecMain, houseReport("dekalb-01", 50, 60, 70))), 403, "was revoked"},
		{"Cobb's key for a Fulton precinct", sign(cobb, ev(elecMain, houseReport("fulton-02", 1, 2, 3))), 403, "may report for cobb and their sub-units, not for unit \"fulton-02\""},
		{"Cobb's key for Fulton County", sign(cobb, ev(elecMain, houseReport("fulton", 1, 2, 3))), 403, "not for unit \"fulton\""},
		{"Cobb's key for the state", sign(cobb, ev(elecMain, houseReport("ga", 1, 2, 3))), 403, "not for unit \"ga\""},
		{"Cobb's key correcting Fulton's report", sign(cobb, ev(elecMain, correction(fultonReport.ID, houseReport("fulton-01", 1, 1, 1)))), 403, "not for unit \"fulton-01\""},
		{"Cobb's key retracting Fulton's report", sign(cobb, ev(elecMain, retraction(fultonReport.ID))), 403, "not for unit \"fulton-01\""},
		{"Cobb's key: its precinct, then Fulton's", sign(cobb, cobbPrecinct(), ev(elecMain, houseReport("fulton-02", 1, 2, 3))), 403, "event #2"},
		{"a reporter key on a certification", sign(cobb, ev(elecMain, certification())), 403, "may not sign election.certified"},
		{"a reporter key on a recount order", sign(cobb, ev(elecMain, recountOrder())), 403, "may not sign recount.ordered"},
		{"a reporter key registering a key", sign(cobb, ev(elecMain, &events.KeyRegistration{Key: thief.Verifier, Units: []string{"ga"}})), 403, "may not sign key.registered"},
		{"a revocation signed by a reporter", sign(cobb, ev(elecMain, &events.KeyRevocation{Key: fulton.Verifier, Reason: "rival"})), 403, "may not sign key.revoked"},
		{"a reporter key on a manifest", sign(cobb, ev("ga-new", func() *events.Manifest { m := testManifest("New"); m.Authority = auth.Verifier; return m }())), 403, "signed by cobb-elections"},
		{"a reporter key naming itself authority", sign(cobb, ev("ga-new", func() *events.Manifest { m := testManifest("New"); m.Authority = cobb.Verifier; return m }())), 403, "not one this ledger accepts"},
		{"an authority the operator does not accept", sign(rogue, ev("ga-new", func() *events.Manifest { m := testManifest("New"); m.Authority = rogue.Verifier; return m }())), 403, "not one this ledger accepts"},
		{"the authority signing a manifest naming another", sign(auth, ev("ga-new", func() *events.Manifest { m := testManifest("New"); m.Authority = auth2.Verifier; return m }())), 403, "signed by test-authority"},
		{"the authority of one election reporting in another", sign(auth, ev(elecOther, houseReport("cobb-01", 1, 2, 3))), 403, "is not registered for election \"ga-other\""},
		{"Cobb's key in an election it is not registered in", sign(cobb, ev(elecOther, houseReport("cobb-01", 1, 2, 3))), 403, "is not registered for election \"ga-other\""},
		{"the ledger's own checkpoint key", func() []byte {
			k := testkeys.New("ledger.local") // the operator's key is another; its name alone gives nothing
			return sign(k, cobbPrecinct())
		}(), 403, "is not registered"},
		{"a key registered twice to widen its scope", sign(cobb, ev(elecMain, &events.KeyRegistration{Key: cobb.Verifier, Units: []string{"ga"}})), 403, "may not sign key.registered"},

		// Valid signatures on what the election does not have.
		{"the authority registering a key for an unknown unit", sign(auth, ev(elecMain, &events.KeyRegistration{Key: thief.Verifier, Units: []string{"atlantis"}})), 422, "unit \"atlantis\" is not in election"},
		{"Cobb's key for an unknown unit", sign(cobb, ev(elecMain, houseReport("cobb-99", 1, 2, 3))), 422, "unit \"cobb-99\" is not in election"},
		{"a logged event ID with other content", sign(cobb, func() *events.Event {
			e := ev(elecMain, houseReport("cobb-01", 1, 2, 3))
			e.ID = cobbReport.ID
			return e
		}()), 422, "with different content"},
	}
	// An event of another election inside a signed submission: signed as
	// lines, since SignSubmission refuses to make it.
	attempts[5] = attempt{"an event of another election inside", func() []byte {
		b, err := events.SignEncoded(cobb.Signer, cobb.Verifier, uuid.Must(uuid.NewV7()), elecMain,
			[][]byte{encode(t, cobbPrecinct()), encode(t, ev(elecOther, houseReport("cobb-01", 1, 2, 3)))})
		if err != nil {
			t.Fatal(err)
		}
		return b
	}(), 400, "is for election \"ga-other\""}

	for _, a := range attempts {
		t.Run(a.name, func(t *testing.T) {
			before := observeAll(tn)
			status, body := tn.do(http.MethodPost, "/v1/submissions", "text/plain; charset=utf-8", a.body)
			if status != a.status {
				t.Errorf("HTTP %d, want %d: %.300s", status, a.status, body)
			}
			if !bytes.Contains(body, []byte(`"error"`)) {
				t.Errorf("no error body: %.300s", body)
			}
			var p api.Problem
			if err := json.Unmarshal(body, &p); err != nil || !strings.Contains(p.Error, a.msg) {
				t.Errorf("error %q does not contain %q (%v)", p.Error, a.msg, err)
			}
			if after := observeAll(tn); !reflect.DeepEqual(after, before) {
				t.Errorf("the logs or the stream changed:\nbefore %v / %v\nafter  %v / %v", before[0], before[1], after[0], after[1])
			}
		})
	}

	// A replayed old submission: the same bytes again are answered with
	// the original receipts, and nothing is logged twice.
	t.Run("an old submission replayed", func(t *testing.T) {
		before := observeAll(tn)
		rs := tn.submitSigned(cobbSub)
		if len(rs) != 1 || !rs[0].Duplicate || rs[0].ID != cobbReport.ID || rs[0].Verdict != events.Accepted {
			t.Errorf("receipts %+v, want the original, as a duplicate", rs)
		}
		if after := observeAll(tn); !reflect.DeepEqual(after, before) {
			t.Errorf("the log changed: before %v, after %v", before[0], after[0])
		}
	})

	// What reaches the stream without the edge (someone holding the
	// ledger's NATS password) is logged as rejected with the reason, or
	// dropped, never accepted.
	for _, s := range []struct {
		name, reason string
		body         []byte
		logged       bool
	}{
		{"straight to the stream: an unknown key", "not authorized: key thief+", sign(thief, cobbPrecinct()), true},
		{"straight to the stream: altered bytes", "bad signature:", replace(sign(cobb, cobbPrecinct()), `"votes":300`, `"votes":3000`), true},
		{"straight to the stream: Cobb for Fulton", "not authorized: key cobb-elections+", sign(cobb, ev(elecMain, houseReport("fulton-02", 1, 2, 3))), true},
		{"straight to the stream: a reporter certifying", "not authorized: key cobb-elections may not sign election.certified", sign(cobb, ev(elecMain, certification())), true},
		{"straight to the stream: a revoked key", "was revoked at entry", sign(oldKey, ev(elecMain, houseReport("dekalb-01", 50, 60, 70))), true},
		{"straight to the stream: an unaccepted authority's manifest", "which this ledger does not accept", sign(rogue, ev("ga-new", func() *events.Manifest { m := testManifest("New"); m.Authority = rogue.Verifier; return m }())), false},
	} {
		t.Run(s.name, func(t *testing.T) {
			before := tn.observe(elecMain)
			id := submissionID(t, s.body)
			seq := publishRaw(t, tn.n, strings.SplitN(string(s.body), "\n", 4)[2], id.String(), s.body)
			waitPosition(t, tn.n.Ledger, seq)
			after := tn.observe(elecMain)
			rec := seqOutcome(t, tn.n, seq)
			if !s.logged {
				if after.size != before.size || after.root != before.root || !bytes.Equal(after.tally, before.tally) || !strings.HasPrefix(rec.Outcome, "dropped: ") || !strings.Contains(rec.Outcome, s.reason) {
					t.Errorf("outcome %q (before %v, after %v), want dropped: …%s", rec.Outcome, before, after, s.reason)
				}
				if tn.size("ga-new") != 0 {
					t.Error("the election was defined")
				}
				return
			}
			if after.size != before.size+1 || rec.Outcome != "logged 1" {
				t.Fatalf("outcome %q, sizes %d → %d: want one entry", rec.Outcome, before.size, after.size)
			}
			en := decodeEntry(t, entries(t, tn.n.Ledger, elecMain)[before.size])
			if en.Verdict != events.Rejected || !strings.Contains(en.Reason, s.reason) {
				t.Errorf("entry %d: %s %q, want rejected: …%s", en.Index, en.Verdict, en.Reason, s.reason)
			}
			if !bytes.Equal(after.tally[bytes.Index(after.tally, []byte(`"contests"`)):], before.tally[bytes.Index(before.tally, []byte(`"contests"`)):]) {
				t.Error("a rejected entry changed the totals")
			}
		})
	}

	// A raw NATS publish to the submission subject, without credentials,
	// against an external server with the documented configuration.
	t.Run("a raw NATS publish without credentials, external server", func(t *testing.T) {
		t.Setenv("LEDGER_NATS_PASSWORD", "ledger-secret")
		t.Setenv("MONITOR_NATS_PASSWORD", "monitor-secret")
		opts, err := server.ProcessConfigFile("../deploy/nats.conf")
		if err != nil {
			t.Fatal(err)
		}
		opts.Host, opts.Port, opts.StoreDir, opts.NoLog, opts.NoSigs = "127.0.0.1", -1, t.TempDir(), true, true
		opts.Cluster = server.ClusterOpts{}
		srv, err := server.NewServer(opts)
		if err != nil {
			t.Fatal(err)
		}
		go srv.Start()
		defer srv.Shutdown()
		if !srv.ReadyForConnections(10 * time.Second) {
			t.Fatal("the server did not start")
		}
		nc, err := nats.Connect(srv.ClientURL(), nats.MaxReconnects(0))
		if err == nil {
			defer nc.Close()
			perr := nc.Publish("ledger.submit."+elecMain, byThief)
			ferr := nc.FlushTimeout(2 * time.Second)
			t.Fatalf("an anonymous client connected (publish: %v, flush: %v)", perr, ferr)
		}
		if !strings.Contains(strings.ToLower(err.Error()), "authorization violation") {
			t.Errorf("connecting without credentials: %v, want an authorization violation", err)
		}
		mon, err := nats.Connect(srv.ClientURL(), nats.UserInfo("monitor", "monitor-secret"), nats.MaxReconnects(0))
		if err != nil {
			t.Fatal(err)
		}
		defer mon.Close()
		errs := make(chan error, 1)
		mon.SetErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) { errs <- err })
		mon.Publish("ledger.submit."+elecMain, byThief)
		mon.Flush()
		select {
		case err := <-errs:
			if !strings.Contains(strings.ToLower(err.Error()), "permissions violation") {
				t.Errorf("the monitor's publish: %v, want a permissions violation", err)
			}
		case <-time.After(5 * time.Second):
			t.Error("the monitor published to the submission subject without a permissions violation")
		}
	})

	// After it all, the log holds only what was allowed, and verifies.
	for i, b := range entries(t, tn.n.Ledger, elecMain) {
		en := decodeEntry(t, b)
		if en.Verdict == events.Accepted && en.Submission.Signer == "" {
			t.Errorf("entry %d is accepted without a signer", i)
		}
		if en.Verdict == events.Accepted && en.Submission.Signer != auth.Verifier && en.Event.Counts() == nil {
			t.Errorf("entry %d (%s) is accepted, signed by %s", i, en.Event.Type(), events.KeyName(en.Submission.Signer))
		}
	}
	tn.close()
	db, err := store.Open(filepath.Join(tn.dir, "pebble"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	v := tn.n.VerifierKey
	for _, e := range []string{elecMain, elecOther} {
		if _, err := audit.Verify(db, e, v); err != nil {
			t.Errorf("audit.Verify(%s): %v", e, err)
		}
	}
}
