// Package feed follows elections' logs as they grow and hands every new
// entry, with the signed checkpoint that includes it, to monitors:
// newsrooms, campaigns and observers who follow the count live. The same
// changes go out over server-sent events (package api) and on a NATS
// JetStream stream ([Publisher]), so that a monitor can attach a durable
// consumer, go offline, and resume exactly where it stopped.
//
// For most uses, call [Follow].
//
// # Guarantees
//
// A follower reads entries from the ledger's database only once they are
// committed (synced, with their signed checkpoint), in log order, from the
// index it asks for, each exactly once. It pulls at its own pace: a slow or
// stuck follower holds at most one batch of entries in memory and never
// slows the ledger down.
package feed

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	jsonv2 "github.com/go-json-experiment/json"

	"github.com/election-audit/ledger/events"
)

// Source is a ledger's committed logs, as *ledger.Ledger serves them.
type Source interface {
	// Committed returns an election's committed size and the checkpoint
	// signed at it, and a channel closed at the ledger's next commit.
	Committed(election string) (size uint64, checkpoint []byte, changed <-chan struct{}, err error)
	// Entries calls fn for entries [start, end) in order; data is valid
	// only during the call.
	Entries(election string, start, end uint64, fn func(index uint64, data []byte) error) error
}

// Change is one log entry as monitors receive it: its place in the log,
// what it is, the entry's stored bytes (the exact bytes the Merkle tree
// commits to), and a signed checkpoint that includes it.
type Change struct {
	Election   string          `json:"election"`
	Index      uint64          `json:"index"`
	Type       events.Type     `json:"type"`
	Verdict    events.Verdict  `json:"verdict"`
	TreeSize   uint64          `json:"tree_size"`  // the checkpoint's size, more than Index
	Checkpoint string          `json:"checkpoint"` // signed note (docs/storage.md)
	Entry      json.RawMessage `json:"entry"`
	// EntryOmitted is set, and Entry null, on the NATS feed when the entry
	// is too large for one NATS message; fetch it over HTTP by its index.
	EntryOmitted bool `json:"entry_omitted,omitempty"`
}

// Checkpoint is a new signed checkpoint of an election's log.
type Checkpoint struct {
	Election   string `json:"election"`
	TreeSize   uint64 `json:"tree_size"`
	Checkpoint string `json:"checkpoint"`
}

// Batch is the payload of a change message on the NATS feed: consecutive
// entries of one election's log, all of one event type, and a signed
// checkpoint that includes them all. Read it with [DecodeMessage].
type Batch struct {
	Election   string      `json:"election"`
	Type       events.Type `json:"type"`
	TreeSize   uint64      `json:"tree_size"`  // the checkpoint's size, more than every index
	Checkpoint string      `json:"checkpoint"` // signed note (docs/storage.md)
	Changes    []BatchItem `json:"changes"`    // in index order, consecutive
}

// BatchItem is one entry of a Batch.
type BatchItem struct {
	Index   uint64          `json:"index"`
	Verdict events.Verdict  `json:"verdict"`
	Entry   json.RawMessage `json:"entry"`
	// EntryOmitted is set, and Entry null, when the entry is too large for
	// one NATS message; fetch it over HTTP by its index.
	EntryOmitted bool `json:"entry_omitted,omitempty"`
}

// DecodeMessage reads a message of the NATS feed by its subject: a
// checkpoint on "<prefix>.feed.<election>.checkpoint", else a Batch, which
// it returns as Changes (at least one), as the HTTP feed gives them.
func DecodeMessage(subject string, data []byte) ([]*Change, *Checkpoint, error) {
	if strings.HasSuffix(subject, ".checkpoint") {
		var c Checkpoint
		if err := json.Unmarshal(data, &c); err != nil {
			return nil, nil, fmt.Errorf("a checkpoint message on %s does not decode: %w", subject, err)
		}
		return nil, &c, nil
	}
	var b Batch
	if err := jsonv2.Unmarshal(data, &b); err != nil {
		return nil, nil, fmt.Errorf("a change message on %s does not decode: %w", subject, err)
	}
	if len(b.Changes) == 0 {
		return nil, nil, fmt.Errorf("a change message on %s holds no changes", subject)
	}
	out := make([]*Change, len(b.Changes))
	for i, it := range b.Changes {
		if i > 0 && it.Index != b.Changes[i-1].Index+1 {
			return nil, nil, fmt.Errorf("a change message on %s skips from index %d to %d", subject, b.Changes[i-1].Index, it.Index)
		}
		out[i] = &Change{Election: b.Election, Index: it.Index, Type: b.Type, Verdict: it.Verdict,
			TreeSize: b.TreeSize, Checkpoint: b.Checkpoint, Entry: it.Entry, EntryOmitted: it.EntryOmitted}
	}
	return out, nil, nil
}

// appendBatchHeader starts a Batch's JSON with c's election, type and
// checkpoint (cpJSON, as for AppendJSON), up to the opening of changes.
func appendBatchHeader(b []byte, c *Change, cpJSON []byte) []byte {
	b = append(b, `{"election":"`...)
	b = append(b, c.Election...)
	b = append(b, `","type":"`...)
	b = append(b, c.Type...)
	b = append(b, `","tree_size":`...)
	b = strconv.AppendUint(b, c.TreeSize, 10)
	b = append(b, `,"checkpoint":`...)
	b = append(b, cpJSON...)
	return append(b, `,"changes":[`...)
}

// appendBatchItem appends c as a BatchItem's JSON.
func (c *Change) appendBatchItem(b []byte) []byte {
	b = append(b, `{"index":`...)
	b = strconv.AppendUint(b, c.Index, 10)
	b = append(b, `,"verdict":"`...)
	b = append(b, c.Verdict...)
	b = append(b, `",`...)
	return c.appendEntry(b)
}

// appendEntry appends the entry fields and closes the object.
func (c *Change) appendEntry(b []byte) []byte {
	b = append(b, `"entry":`...)
	if c.Entry == nil {
		b = append(b, "null"...)
	} else {
		b = append(b, c.Entry...)
	}
	if c.EntryOmitted {
		b = append(b, `,"entry_omitted":true`...)
	}
	return append(b, '}')
}

// BatchEntries is the most entries a follower reads at a time.
const BatchEntries = 256

// Options narrow what a follower receives.
type Options struct {
	// Types, if not empty, are the only event types whose entries are
	// handed on; checkpoints always are.
	Types []events.Type
	// Every, if not zero, is the least time between two rounds of changes:
	// the commits in between are handed on together, with the newest
	// checkpoint only. The NATS publisher uses it so that each of its
	// synced writes carries more than one step of the ledger.
	Every time.Duration
}

// Follow hands onChange every entry of an election's log from index from
// on, in order, as the log grows, and onCheckpoint each newer checkpoint
// once the entries it covers are handed on (and the current one at once,
// if the follower starts at the end of the log). It returns when ctx ends
// (with ctx's error) or a callback fails (with its error). The election
// must exist.
func Follow(ctx context.Context, src Source, election string, from uint64, opts Options, onChange func(*Change) error, onCheckpoint func(*Checkpoint) error) error {
	next := from
	var sent uint64 // the size of the last checkpoint handed on
	for {
		size, cp, changed, err := src.Committed(election)
		if err != nil {
			return err
		}
		if next > size {
			// Not an error: a monitor may resume past a log that is
			// then restored from its stream; it waits for the log.
			next = max(next, size)
		}
		if err := changes(ctx, src, election, next, size, size, cp, opts, onChange); err != nil {
			return err
		}
		next = max(next, size)
		if size > sent && size > 0 && onCheckpoint != nil {
			if err := onCheckpoint(&Checkpoint{Election: election, TreeSize: size, Checkpoint: string(cp)}); err != nil {
				return err
			}
		}
		sent = max(sent, size)
		round := time.Now()
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-changed:
		}
		if wait := opts.Every - time.Since(round); wait > 0 {
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(wait):
			}
		}
	}
}

// changes hands onChange the changes of entries [from, to) that opts keeps,
// read in batches of BatchEntries; cp, the checkpoint at size, covers them.
func changes(ctx context.Context, src Source, election string, from, to, size uint64, cp []byte, opts Options, onChange func(*Change) error) error {
	cpText := string(cp)
	for from < to {
		if err := ctx.Err(); err != nil {
			return err
		}
		end := min(to, from+BatchEntries)
		batch, err := read(src, election, from, end)
		if err != nil {
			return err
		}
		for i, data := range batch {
			// The entries are the ledger's own, handed on as stored: only
			// their index, verdict and type are read.
			en, err := events.Summarize(data)
			if err != nil {
				return fmt.Errorf("couldn't decode entry %d of %s: %w", from+uint64(i), election, err)
			}
			if len(opts.Types) > 0 && !slices.Contains(opts.Types, en.Type) {
				continue
			}
			c := &Change{Election: election, Index: en.Index, Type: en.Type, Verdict: en.Verdict,
				TreeSize: size, Checkpoint: cpText, Entry: data}
			if err := onChange(c); err != nil {
				return err
			}
		}
		from = end
	}
	return nil
}

// read copies entries [start, end): the source's bytes are valid only
// during its callback.
func read(src Source, election string, start, end uint64) ([][]byte, error) {
	out := make([][]byte, 0, end-start)
	err := src.Entries(election, start, end, func(_ uint64, data []byte) error {
		out = append(out, append([]byte(nil), data...))
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("couldn't read entries [%d, %d) of %s: %w", start, end, election, err)
	}
	if uint64(len(out)) != end-start {
		return nil, fmt.Errorf("couldn't read entries [%d, %d) of %s: %d found", start, end, election, len(out))
	}
	return out, nil
}

// ParseTypes reads a comma-separated list of event type names, refusing an
// unknown one.
func ParseTypes(list string) ([]events.Type, error) {
	if list == "" {
		return nil, nil
	}
	var out []events.Type
	for _, p := range strings.Split(list, ",") {
		if p = strings.TrimSpace(p); p == "" {
			continue
		}
		t := events.Type(p)
		if !slices.Contains(events.Types, t) {
			return nil, fmt.Errorf("%w %q: use event types (%s)", ErrUnknownType, p, typeNames())
		}
		out = append(out, t)
	}
	return out, nil
}

// ErrUnknownType is returned by ParseTypes.
var ErrUnknownType = errors.New("unknown event type")

func typeNames() string {
	names := make([]string, len(events.Types))
	for i, t := range events.Types {
		names[i] = string(t)
	}
	return strings.Join(names, ", ")
}

// AppendJSON appends the change's JSON encoding, the same bytes as
// encoding/json gives with HTML escaping off, without reflection and
// without re-validating the entry: the feed encodes every change, and the
// entry's bytes are already the ledger's own canonical JSON. cpJSON is the
// checkpoint as a JSON string (json.Marshal of c.Checkpoint), shared by the
// changes of one batch.
func (c *Change) AppendJSON(b, cpJSON []byte) []byte {
	b = append(b, `{"election":"`...)
	b = append(b, c.Election...) // election IDs need no escaping
	b = append(b, `","index":`...)
	b = strconv.AppendUint(b, c.Index, 10)
	b = append(b, `,"type":"`...)
	b = append(b, c.Type...)
	b = append(b, `","verdict":"`...)
	b = append(b, c.Verdict...)
	b = append(b, `","tree_size":`...)
	b = strconv.AppendUint(b, c.TreeSize, 10)
	b = append(b, `,"checkpoint":`...)
	b = append(b, cpJSON...)
	b = append(b, ',')
	return c.appendEntry(b)
}
