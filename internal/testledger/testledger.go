// Package testledger gives tests a real node (Open, Serve), logs events
// in it as `ledger import` sends them (Log), and stops it for an offline
// audit (Stop).
package testledger

import (
	"context"
	"fmt"
	"net/http/httptest"
	"path/filepath"
	"testing"

	"github.com/election-audit/ledger/events"
	"github.com/election-audit/ledger/importer"
	"github.com/election-audit/ledger/internal/testkeys"
	"github.com/election-audit/ledger/keys"
	"github.com/election-audit/ledger/ledger"
	"github.com/election-audit/ledger/node"
	"github.com/election-audit/ledger/store"
)

// Log submits evs, all of election, to l, signed by k: the manifest first
// when evs start with one (with its parts, when it is in several), then
// submissions of up to 1,000 events. Every event must come back accepted
// and not a duplicate.
func Log(ctx context.Context, l *ledger.Ledger, k *keys.Key, election string, evs []*events.Event) error {
	raw, err := importer.Encode(evs)
	if err != nil {
		return err
	}
	head := 0
	if m, ok := evs[0].Body.(*events.Manifest); ok {
		head = events.ManifestEvents(m)
	}
	var chunks [][][]byte
	if head > 0 {
		chunks = append(chunks, raw[:head])
	}
	for rest := raw[head:]; len(rest) > 0; {
		n := min(len(rest), 1000)
		chunks, rest = append(chunks, rest[:n]), rest[n:]
	}
	for _, c := range chunks {
		signed, err := k.SignSubmission(election, c)
		if err != nil {
			return err
		}
		rs, err := l.Submit(ctx, signed)
		if err != nil {
			return err
		}
		for _, r := range rs {
			if r.Duplicate || r.Verdict != events.Accepted {
				return fmt.Errorf("event %s: %s (duplicate %v): %s", r.ID, r.Verdict, r.Duplicate, r.Reason)
			}
		}
	}
	return nil
}

// Stop closes a node and opens its database alone, for an offline audit
// of what it logged. It returns the database and the node's ledger key.
func Stop(ctx context.Context, n *node.Node, dataDir string) (*store.DB, string, error) {
	key := n.VerifierKey
	if err := n.Close(ctx); err != nil {
		return nil, "", err
	}
	db, err := store.Open(filepath.Join(dataDir, "pebble"))
	if err != nil {
		return nil, "", err
	}
	return db, key, nil
}

// Open opens a node for a test: cfg with a new data directory, no HTTP
// listener, the embedded NATS on a free loopback port and, unless cfg
// names some, the test authorities (testkeys.Authorities). It is closed
// when the test ends.
func Open(t testing.TB, cfg node.Config) *node.Node {
	t.Helper()
	cfg.DataDir, cfg.HTTP, cfg.NATSListen = t.TempDir(), "-", "127.0.0.1:0"
	if cfg.Authorities == nil {
		cfg.Authorities = testkeys.Authorities
	}
	n, err := node.Open(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.Close(context.Background()) })
	return n
}

// Serve is Open with the node's HTTP API on a test server, closed when the
// test ends.
func Serve(t testing.TB, cfg node.Config) (*node.Node, *httptest.Server) {
	t.Helper()
	n := Open(t, cfg)
	srv := httptest.NewServer(n.Handler)
	t.Cleanup(srv.Close)
	return n, srv
}
