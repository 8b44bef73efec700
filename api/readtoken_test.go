package api_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/election-audit/ledger/api"
	"github.com/election-audit/ledger/client"
	"github.com/election-audit/ledger/events"
	"github.com/election-audit/ledger/internal/testkeys"
	"github.com/election-audit/ledger/internal/testledger"
	"github.com/election-audit/ledger/node"
)

// With a read token, every read needs it, but /healthz, the dashboard's
// page and signed submissions (which carry their own signatures) do not.
func TestReadToken(t *testing.T) {
	const election, token = "ga06-token", "s3cret-token"
	ctx := context.Background()
	_, srv := testledger.Serve(t, node.Config{ReadToken: token})

	m := &events.Manifest{Name: "Token", Date: "2026-11-03",
		VoteTypes: []events.VoteType{{ID: "day", Name: "Day"}},
		Units:     []events.Unit{{ID: "st", Name: "State", Kind: "state"}},
		Contests:  []events.Contest{{ID: "gov", Name: "Governor", VoteFor: 1, Choices: []events.Choice{{ID: "a", Name: "A"}}}}}
	anon, err := client.New(srv.URL, srv.Client())
	if err != nil {
		t.Fatal(err)
	}
	rs, err := anon.SubmitSigned(ctx, testkeys.MustSign(testkeys.Authority, &events.Event{ID: uuid.Must(uuid.NewV7()), Election: election, Body: m}))
	if err != nil || len(rs) != 1 || rs[0].Verdict != events.Accepted {
		t.Fatalf("a signed submission without the read token: %v %+v", err, rs)
	}
	for _, path := range []string{"/v1/elections", "/v1/elections/" + election + "/tally", "/v1/elections/" + election + "/entries", "/v1/elections/" + election + "/key", "/v1/key"} {
		// The header, or the dashboard's cookie (URL-encoded, as the page
		// writes it).
		for _, auth := range []string{"", "Bearer wrong", "Bearer " + token, "cookie wrong", "cookie " + token, "cookie s3cret%2Dtoken"} {
			req, _ := http.NewRequest(http.MethodGet, srv.URL+path, nil)
			if c, ok := strings.CutPrefix(auth, "cookie "); ok {
				req.AddCookie(&http.Cookie{Name: api.ReadTokenCookie, Value: c})
			} else if auth != "" {
				req.Header.Set("Authorization", auth)
			}
			resp, err := srv.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			want := http.StatusUnauthorized
			if strings.HasSuffix(auth, " "+token) || auth == "cookie s3cret%2Dtoken" {
				want = http.StatusOK
			}
			if resp.StatusCode != want {
				t.Errorf("GET %s with %q: HTTP %d, want %d", path, auth, resp.StatusCode, want)
			}
		}
	}
	for _, path := range []string{"/healthz", "/"} {
		resp, err := srv.Client().Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Errorf("GET %s without the token: HTTP %d, want 200", path, resp.StatusCode)
		}
	}
	// The Go client sends it.
	var ce *client.Error
	if _, err := anon.Tally(ctx, election, false); !errors.As(err, &ce) || ce.Status != http.StatusUnauthorized {
		t.Errorf("a tally without the token: %v", err)
	}
	if _, err := anon.WithReadToken(token).Tally(ctx, election, false); err != nil {
		t.Errorf("a tally with the token: %v", err)
	}
}
