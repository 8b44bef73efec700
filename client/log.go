package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"

	"github.com/google/uuid"

	"github.com/election-audit/ledger/events"
	"github.com/election-audit/ledger/wire"
)

func logPath(election string) string { return "/v1/elections/" + url.PathEscape(election) }

// CheckpointAt returns the checkpoint the ledger signed at a tree size; an
// *Error with Status 404 if it signed none at that size.
func (c *Client) CheckpointAt(ctx context.Context, election string, size uint64) ([]byte, error) {
	return c.get(ctx, fmt.Sprintf("%s/checkpoints/%d", logPath(election), size))
}

func inclusionQuery(election string, index, size uint64, format string) string {
	q := url.Values{"index": {fmt.Sprint(index)}}
	if size > 0 {
		q.Set("size", fmt.Sprint(size))
	}
	if format != "" {
		q.Set("format", format)
	}
	return logPath(election) + "/proof/inclusion?" + q.Encode()
}

// InclusionProof returns the inclusion proof of entry index in the tree of
// size entries; size 0 means the latest committed size. The proof is not
// verified: see audit.CheckInclusion.
func (c *Client) InclusionProof(ctx context.Context, election string, index, size uint64) (*wire.InclusionResponse, error) {
	b, err := c.get(ctx, inclusionQuery(election, index, size, ""))
	if err != nil {
		return nil, err
	}
	var p wire.InclusionResponse
	if err := json.Unmarshal(b, &p); err != nil {
		return nil, fmt.Errorf("couldn't decode the inclusion proof: %w", err)
	}
	return &p, nil
}

// TLogProof returns the inclusion proof of entry index as a C2SP tlog-proof
// (https://c2sp.org/tlog-proof); size 0 means the latest committed size,
// and any other size must have a signed checkpoint. The proof is not
// verified: see audit.VerifyTLogProof.
func (c *Client) TLogProof(ctx context.Context, election string, index, size uint64) ([]byte, error) {
	return c.get(ctx, inclusionQuery(election, index, size, "tlog-proof"))
}

// ConsistencyProof returns the consistency proof between the trees of from
// and to entries; to 0 means the latest committed size. The proof is not
// verified: see audit.CheckConsistency.
func (c *Client) ConsistencyProof(ctx context.Context, election string, from, to uint64) (*wire.ConsistencyResponse, error) {
	q := url.Values{"from": {fmt.Sprint(from)}}
	if to > 0 {
		q.Set("to", fmt.Sprint(to))
	}
	b, err := c.get(ctx, logPath(election)+"/proof/consistency?"+q.Encode())
	if err != nil {
		return nil, err
	}
	var p wire.ConsistencyResponse
	if err := json.Unmarshal(b, &p); err != nil {
		return nil, fmt.Errorf("couldn't decode the consistency proof: %w", err)
	}
	return &p, nil
}

// TileURL returns the C2SP tlog-tiles URL prefix of an election's log (with
// a trailing slash), for a tlog client such as filippo.io/torchwood.
func (c *Client) TileURL(election string) string {
	return c.base + logPath(election) + "/tlog/"
}

// Manifest returns an election's manifest, the body of entry 0 of its log
// (with its parts', entries 1 to N-1, when it is in N parts:
// events.AssembleManifest), or nil if the ledger has no such election.
func (c *Client) Manifest(ctx context.Context, election string) (*events.Manifest, error) {
	es, err := c.Entries(ctx, election, 0, 1)
	var ce *Error
	if errors.As(err, &ce) && ce.Status == http.StatusNotFound {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	if len(es) == 0 {
		return nil, nil
	}
	en, err := events.DecodeEntry(es[0])
	if err != nil {
		return nil, fmt.Errorf("couldn't read the manifest of %s: entry 0: %w", election, err)
	}
	m, ok := en.Event.Body.(*events.Manifest)
	if !ok || en.Verdict != events.Accepted {
		return nil, fmt.Errorf("couldn't read the manifest of %s: entry 0 is not an accepted manifest", election)
	}
	n := events.ManifestEvents(m)
	if n == 1 {
		return m, nil
	}
	// A manifest in parts: entries 1 to n-1 hold the rest.
	evs := []*events.Event{en.Event}
	err = Source{Client: c, Ctx: ctx}.Entries(election, 1, uint64(n), func(i uint64, data []byte) error {
		en, err := events.DecodeEntry(data)
		if err != nil {
			return fmt.Errorf("entry %d: %w", i, err)
		}
		if en.Verdict != events.Accepted {
			return fmt.Errorf("entry %d, part %d of the manifest, is not accepted", i, i)
		}
		evs = append(evs, en.Event)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("couldn't read the manifest of %s: %w", election, err)
	}
	if m, err = events.AssembleManifest(evs); err != nil {
		return nil, fmt.Errorf("couldn't read the manifest of %s: %w", election, err)
	}
	return m, nil
}

// Event returns the logged entry of an event, by its ID, or nil if the
// ledger has no such event (GET /v1/events/{id}).
func (c *Client) Event(ctx context.Context, id uuid.UUID) (*events.Entry, error) {
	b, status, err := c.do(ctx, http.MethodGet, "/v1/events/"+id.String(), "", nil)
	switch {
	case err != nil:
		return nil, err
	case status == http.StatusNotFound:
		return nil, nil
	case status != http.StatusOK:
		return nil, asError(status, b)
	}
	var er wire.EventResponse
	if err := json.Unmarshal(b, &er); err != nil {
		return nil, fmt.Errorf("couldn't decode the ledger's answer for event %s: %w", id, err)
	}
	en, err := events.DecodeEntry(er.Entry)
	if err != nil {
		return nil, fmt.Errorf("couldn't decode the ledger's entry %d for event %s: %w", er.Index, id, err)
	}
	return en, nil
}
