package audit_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/election-audit/ledger/audit"
	"github.com/election-audit/ledger/broker"
	"github.com/election-audit/ledger/checkpoint"
	"github.com/election-audit/ledger/events"
	"github.com/election-audit/ledger/examples"
	"github.com/election-audit/ledger/internal/testkeys"
	"github.com/election-audit/ledger/internal/testledger"
	"github.com/election-audit/ledger/node"
)

// TestVerifyRoles: audit.Verify re-decides every verdict with the signer's
// role and scope, from the registrations in the log. The ledger logs
// rejected what a key may not make (DeKalb's office reporting for Cobb; a
// reporter key certifying); a store in which one such verdict was turned
// to "accepted", its hashes and checkpoints made again with the ledger's
// key, is refused, naming the entry. Each entry is still held by its
// signed submission; only the roles tell.
func TestVerifyRoles(t *testing.T) {
	const e = examples.GA06AprilElection
	ctx := context.Background()
	dir := t.TempDir()
	n, err := node.Open(ctx, node.Config{DataDir: dir, HTTP: "-", NATSListen: "127.0.0.1:0", Authorities: testkeys.Authorities})
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if n != nil {
			n.Close(ctx)
		}
	}()
	// submit signs events as one submission by key and puts it on the
	// stream directly, past the ledger's edge (which refuses a key's
	// events outside its role with 403), as a buggy tool with the
	// ledger's NATS credentials could; the ledger logs them.
	submit := func(key string, evs ...*events.Event) {
		t.Helper()
		for _, ev := range evs {
			if err := ev.Validate(); err != nil {
				t.Fatal(err)
			}
		}
		k := testkeys.Authority
		if key != "" {
			k = testkeys.New(key)
		}
		signed := testkeys.MustSign(k, evs...)
		sub, err := events.OpenSubmission(signed)
		if err != nil {
			t.Fatal(err)
		}
		seq, err := n.Broker.Publish(ctx, broker.Message{Election: e, ID: sub.ID.String(), Data: signed})
		if err != nil {
			t.Fatal(err)
		}
		if err := n.Ledger.WaitApplied(ctx, seq); err != nil {
			t.Fatal(err)
		}
	}
	event := func(body events.Body) *events.Event {
		return &events.Event{ID: uuid.Must(uuid.NewV7()), Election: e, Body: body}
	}
	evs, err := examples.GA06April()
	if err != nil {
		t.Fatal(err)
	}
	cobb := *evs[1].Body.(*events.CountReport)
	if cobb.Unit != "cobb" {
		t.Fatalf("example event 1 is for %s", cobb.Unit)
	}
	// Entries 0-5: the April example; 6: DeKalb's office registered for
	// DeKalb; 7: its report for Cobb; 8: its certification; 9: the
	// authority's certification.
	submit("", evs...)
	submit("", event(&events.KeyRegistration{Key: testkeys.New("dekalb-elections").Verifier, Units: []string{"dekalb"}}))
	submit("dekalb-elections", event(&cobb))
	submit("dekalb-elections", event(&events.Certification{By: "DeKalb", Note: "not its to make"}))
	submit("", event(&events.Certification{By: "the test", Note: "all counted"}))
	const size = 10
	for i, want := range map[uint64]events.Verdict{6: events.Accepted, 7: events.Rejected, 8: events.Rejected, 9: events.Accepted} {
		data, err := n.DB.Entry(e, i)
		if err != nil {
			t.Fatal(err)
		}
		if en, err := events.DecodeEntry(data); err != nil || en.Verdict != want {
			t.Fatalf("entry %d: %v %+v, want %s", i, err, en, want)
		}
	}
	v := n.VerifierKey
	if err := n.Close(ctx); err != nil {
		t.Fatal(err)
	}
	n = nil
	signer, err := checkpoint.LoadOrCreateKey(dir, node.DefaultName)
	if err != nil {
		t.Fatal(err)
	}

	for _, tc := range []struct {
		name  string
		index uint64 // the entry turned, 0 for none
		want  string // in the rules' reason
	}{
		{"resigned unchanged", 0, ""},
		{"a report outside its scope", 7, `may report for dekalb and their sub-units, not for unit "cobb"`},
		{"a reporter certifying", 8, "may not sign election.certified events"},
	} {
		t.Run(strings.ReplaceAll(tc.name, " ", "_"), func(t *testing.T) {
			db := testledger.CopyStore(t, dir)
			if tc.index > 0 {
				testledger.TurnVerdict(t, db.Pebble(), e, tc.index)
			}
			testledger.Resign(t, db.Pebble(), signer, e, size)
			_, err := audit.Verify(db, e, v)
			if tc.index == 0 {
				if err != nil {
					t.Fatalf("the store signed again unchanged: %v", err)
				}
				return
			}
			want := fmt.Sprintf("index %d: entry is accepted but the election's rules reject it: not authorized: ", tc.index)
			var me *audit.MismatchError
			if !errors.As(err, &me) || me.Index != tc.index || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("audit.Verify: %v; want %q…%q", err, want, tc.want)
			}
			t.Logf("audit.Verify: %v", err)
		})
	}
}
