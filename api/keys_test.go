package api_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"testing"

	"github.com/election-audit/ledger/api"
	"github.com/election-audit/ledger/audit"
	"github.com/election-audit/ledger/events"
	"github.com/election-audit/ledger/internal/testkeys"
	"github.com/election-audit/ledger/internal/testledger"
	"github.com/election-audit/ledger/keys"
	"github.com/election-audit/ledger/node"
)

// TestKeysRoute: GET /v1/elections/{e}/keys lists the authority and each
// reporter key with the index of the accepted entry that registered it
// and of the one that revoked it; rejected registrations and revocations
// are not in it; it follows the log as it grows; and it agrees with the
// state machine's own view of who may sign (audit.ProjectionAt).
func TestKeysRoute(t *testing.T) {
	const election = "ga06-keys"
	ctx := context.Background()
	n, srv := testledger.Serve(t, node.Config{})
	get := func(path string) (int, []byte) {
		t.Helper()
		resp, err := http.Get(srv.URL + path)
		if err != nil {
			t.Fatalf("GET %s: %v", path, err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, b
	}
	list := func() api.KeysResponse {
		t.Helper()
		status, b := get("/v1/elections/" + election + "/keys")
		var r api.KeysResponse
		if err := json.Unmarshal(b, &r); status != http.StatusOK || err != nil {
			t.Fatalf("keys: HTTP %d, %v: %s", status, err, b)
		}
		return r
	}
	submit := func(k *keys.Key, evs ...*events.Event) []events.Verdict {
		t.Helper()
		rs, err := n.Ledger.Submit(ctx, testkeys.MustSign(k, evs...))
		if err != nil {
			t.Fatal(err)
		}
		var out []events.Verdict
		for _, r := range rs {
			out = append(out, r.Verdict)
		}
		return out
	}
	a, b, c, d := testkeys.New("office-a"), testkeys.New("office-b"), testkeys.New("office-c"), testkeys.New("office-d")
	m := manifest(3) // units ga, p-0, p-1, p-2
	reg := func(k *keys.Key, units ...string) *events.Event {
		return mkEvent(t, election, &events.KeyRegistration{Key: k.Verifier, Units: units})
	}
	revoke := func(k *keys.Key) *events.Event {
		return mkEvent(t, election, &events.KeyRevocation{Key: k.Verifier, Reason: "test"})
	}

	if v := submit(testkeys.Authority, mkEvent(t, election, m), reg(a, "p-0"), reg(b, "p-1")); !slices.Equal(v, []events.Verdict{events.Accepted, events.Accepted, events.Accepted}) {
		t.Fatalf("verdicts %v", v)
	}
	r := list()
	want := fmt.Sprintf("size 3, authority %s: %s@1 [p-0], %s@2 [p-1]", testkeys.Authority.Verifier, a.Verifier, b.Verifier)
	if got := describe(r); got != want {
		t.Fatalf("keys:\n got %s\nwant %s", got, want)
	}

	// A's report (3); A registered again (4, rejected); B revoked (5); D,
	// never registered, revoked (6, rejected); C registered (7).
	report := mkEvent(t, election, &events.CountReport{Unit: "p-0", Contest: "house", Source: events.Source{Operator: "a"},
		Counts: []events.Count{{Choice: "a", VoteType: "day", Votes: 5}}})
	if v := submit(a, report); v[0] != events.Accepted {
		t.Fatalf("A's report: %v", v)
	}
	if v := submit(testkeys.Authority, reg(a, "p-2"), revoke(b), revoke(d), reg(c, "ga")); !slices.Equal(v, []events.Verdict{events.Rejected, events.Accepted, events.Rejected, events.Accepted}) {
		t.Fatalf("verdicts %v", v)
	}
	r = list()
	want = fmt.Sprintf("size 8, authority %s: %s@1 [p-0], %s@2 [p-1] revoked@5, %s@7 [ga]", testkeys.Authority.Verifier, a.Verifier, b.Verifier, c.Verifier)
	if got := describe(r); got != want {
		t.Fatalf("keys after more entries:\n got %s\nwant %s", got, want)
	}
	if r.Keys[0].Name != "office-a" {
		t.Errorf("name %q, want office-a", r.Keys[0].Name)
	}

	// Every index names the entry it says.
	for _, k := range r.Keys {
		check := func(idx uint64, typ events.Type) {
			_, b := get(fmt.Sprintf("/v1/elections/%s/entries/%d", election, idx))
			en, err := events.DecodeEntry(b)
			if err != nil {
				t.Fatal(err)
			}
			var key string
			switch body := en.Event.Body.(type) {
			case *events.KeyRegistration:
				key = body.Key
			case *events.KeyRevocation:
				key = body.Key
			}
			if en.Verdict != events.Accepted || en.Event.Type() != typ || key != k.Key {
				t.Errorf("entry %d: %s %s of %s, want an accepted %s of %s", idx, en.Verdict, en.Event.Type(), key, typ, k.Key)
			}
		}
		check(k.Registered, events.TypeKeyRegistered)
		if k.Revoked != nil {
			check(*k.Revoked, events.TypeKeyRevoked)
		}
	}

	// The state machine agrees, key by key.
	proj, err := audit.ProjectionAt(n.Ledger, election, r.TreeSize)
	if err != nil {
		t.Fatal(err)
	}
	signers := proj.Signers()
	if signers.Authority() != r.Authority {
		t.Errorf("authority %s, the projection says %s", r.Authority, signers.Authority())
	}
	for _, k := range r.Keys {
		units, ok := signers.Reporter(k.Key)
		if ok != (k.Revoked == nil) || (ok && !slices.Equal(units, k.Units)) {
			t.Errorf("key %s: listed %v revoked %v; the projection says %v, %v", k.Name, k.Units, k.Revoked != nil, units, ok)
		}
	}
	if _, ok := signers.Reporter(d.Verifier); ok {
		t.Error("the projection has D registered")
	}

	// Errors.
	if status, b := get("/v1/elections/nowhere/keys"); status != http.StatusNotFound {
		t.Errorf("unknown election: HTTP %d: %s", status, b)
	}
	if status, b := get("/v1/elections/" + election + "/keys"); status != http.StatusOK {
		t.Errorf("again: HTTP %d: %s", status, b)
	}
}

func describe(r api.KeysResponse) string {
	s := fmt.Sprintf("size %d, authority %s:", r.TreeSize, r.Authority)
	for i, k := range r.Keys {
		if i > 0 {
			s += ","
		}
		s += fmt.Sprintf(" %s@%d %v", k.Key, k.Registered, k.Units)
		if k.Revoked != nil {
			s += fmt.Sprintf(" revoked@%d", *k.Revoked)
		}
	}
	return s
}
