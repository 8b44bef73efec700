package bench

import (
	"context"
	"sync"

	"github.com/election-audit/ledger/events"
	"github.com/election-audit/ledger/importer"
	"github.com/election-audit/ledger/keys"
	"github.com/election-audit/ledger/ledger"
	"github.com/election-audit/ledger/node"
)

// benchKey is the authority of the benchmarks' elections: it signs every
// submission, as an election office would. A fresh key each run.
var benchKey = sync.OnceValue(func() *keys.Key {
	skey, _, err := keys.Generate("bench-authority")
	if err != nil {
		panic(err)
	}
	k, err := keys.Parse(skey)
	if err != nil {
		panic(err)
	}
	return k
})

// openNode opens a node that accepts the bench authority.
func openNode(ctx context.Context, cfg node.Config) (*node.Node, error) {
	cfg.Authorities = append(cfg.Authorities, benchKey().Verifier)
	return node.Open(ctx, cfg)
}

// submit signs events of one election as one submission with the bench
// key, as a reporter's client does, and submits it in-process.
func submit(ctx context.Context, l *ledger.Ledger, evs []*events.Event) ([]ledger.Receipt, error) {
	canonical, err := importer.Encode(evs)
	if err != nil {
		return nil, err
	}
	return submitEncoded(ctx, l, evs[0].Election, canonical)
}

// submitEncoded is submit for events in their canonical encoding.
func submitEncoded(ctx context.Context, l *ledger.Ledger, election string, canonical [][]byte) ([]ledger.Receipt, error) {
	signed, err := benchKey().SignSubmission(election, canonical)
	if err != nil {
		return nil, err
	}
	return l.Submit(ctx, signed)
}
