package watch

import (
	"context"

	"github.com/election-audit/ledger/client"
	"github.com/election-audit/ledger/feed"
)

// Feed delivers an election's changes and checkpoints. It is the watcher's
// only transport-specific part.
//
// Follow calls onChange for the entries from index from on, in log order,
// and onCheckpoint for checkpoints, one call at a time, until ctx ends, a
// callback fails (Follow returns the callback's error) or the connection
// drops (an error: the watcher calls Follow again, from where it got to,
// after a backoff). A feed may repeat changes or skip some (a durable NATS
// consumer resumes at its own position): the watcher skips repeats by index
// and fetches what was skipped over HTTP.
type Feed interface {
	Follow(ctx context.Context, election string, from uint64, onChange func(*feed.Change) error, onCheckpoint func(*feed.Checkpoint) error) error
}

// SSE follows the ledger's server-sent events (GET
// /v1/elections/{e}/changes), starting at the index the watcher asks for.
type SSE struct {
	Client *client.Client
}

// Follow implements [Feed].
func (s SSE) Follow(ctx context.Context, election string, from uint64, onChange func(*feed.Change) error, onCheckpoint func(*feed.Checkpoint) error) error {
	return s.Client.Changes(ctx, election, from, nil, onChange, onCheckpoint)
}
