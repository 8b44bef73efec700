// Package wire holds the JSON shapes of the ledger's HTTP API that both
// sides use: the server (packages ledger, api and audit, which alias them)
// and the Go client. It depends on nothing heavier than the event format,
// so that a program that only talks to a ledger (a monitor, a reporter's
// tool) does not link the ledger's database or message broker.
package wire

import (
	"encoding/json"
	"strings"
	"time"

	"github.com/google/uuid"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/election-audit/ledger/events"
	"github.com/election-audit/ledger/projections"
)

// DefaultIdleTimeout is how long the ledger's HTTP server keeps an idle
// keep-alive connection; clients drop theirs sooner.
const DefaultIdleTimeout = 60 * time.Second

// ConflictPrefix starts the reason of every rejection for a stale expected
// version.
const ConflictPrefix = projections.ConflictPrefix

// Receipt is the answer to one submitted event, given once its entry is
// synced to disk.
type Receipt struct {
	ID       uuid.UUID      `json:"id"`
	Election string         `json:"election"`
	Index    uint64         `json:"index"`
	Verdict  events.Verdict `json:"verdict"`
	Reason   string         `json:"reason,omitempty"`
	// Duplicate is set when the event ID was logged before this submission:
	// the receipt is the original one, and nothing was appended.
	Duplicate  bool   `json:"duplicate"`
	TreeSize   uint64 `json:"tree_size"`
	Checkpoint string `json:"checkpoint"` // signed, includes the entry
}

// Conflict reports whether the event was rejected for a stale expected
// version.
func (r *Receipt) Conflict() bool {
	return r.Verdict == events.Rejected && strings.HasPrefix(r.Reason, ConflictPrefix)
}

// ElectionInfo is one election in GET /v1/elections.
type ElectionInfo struct {
	ID     string `json:"id"`
	Name   string `json:"name"`
	Size   uint64 `json:"size"`
	Status string `json:"status"`
}

// Problem is the body of every error response.
type Problem struct {
	Error string `json:"error"`
	Item  *int   `json:"item,omitempty"`  // the 0-based position of the event at fault
	Field string `json:"field,omitempty"` // the JSON path at fault
}

// SubmitResponse is the answer to a submission: a receipt for each of its
// events, in order.
type SubmitResponse struct {
	Receipts []Receipt `json:"receipts"`
}

// EventResponse is the answer of GET /v1/events/{id}: where the event was
// logged, and its entry's stored bytes.
type EventResponse struct {
	Election string          `json:"election"`
	Index    uint64          `json:"index"`
	Entry    json.RawMessage `json:"entry"`
}

// InclusionProof proves that entry Index is in the tree of Size entries,
// whose root is Root: the RFC 6962 §2.1.1 audit path of the leaf hash.
type InclusionProof struct {
	Index    uint64      `json:"index"`
	Size     uint64      `json:"size"`
	LeafHash tlog.Hash   `json:"leaf_hash"`
	Hashes   []tlog.Hash `json:"hashes"`
	Root     tlog.Hash   `json:"root"`
}

// ConsistencyProof proves that the tree of From entries (root FromRoot) is
// a prefix of the tree of To entries (root ToRoot). Hashes is the RFC 6962
// §2.1.2 consistency proof.
type ConsistencyProof struct {
	From     uint64      `json:"from"`
	To       uint64      `json:"to"`
	Hashes   []tlog.Hash `json:"hashes"`
	FromRoot tlog.Hash   `json:"from_root"`
	ToRoot   tlog.Hash   `json:"to_root"`
}

// InclusionResponse is the JSON answer of the inclusion proof route.
type InclusionResponse struct {
	InclusionProof
	// Checkpoint is the signed checkpoint at Size, if one was signed there.
	Checkpoint string `json:"checkpoint,omitempty"`
}

// ConsistencyResponse is the JSON answer of the consistency proof route.
type ConsistencyResponse struct {
	ConsistencyProof
	// The signed checkpoints at From and To, where one was signed.
	FromCheckpoint string `json:"from_checkpoint,omitempty"`
	ToCheckpoint   string `json:"to_checkpoint,omitempty"`
}
