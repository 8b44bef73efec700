// Package client is a Go client of the ledger's HTTP API (docs/api.md).
package client

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	jsonv2 "github.com/go-json-experiment/json"

	"github.com/election-audit/ledger/events"
	"github.com/election-audit/ledger/keys"
	"github.com/election-audit/ledger/wire"
)

// DefaultURL is where `ledger serve` listens by default.
const DefaultURL = "http://127.0.0.1:8080"

// Client talks to one ledger.
type Client struct {
	base string
	http *http.Client
	key  *keys.Key // signs submissions; nil for a reader
	// token, if set, is sent as "Authorization: Bearer <token>" on every
	// request: the read token of a ledger whose reads are not public.
	token string
}

// WithReadToken returns a client that sends token as the bearer token of
// its requests (`ledger serve --read-token`).
func (c *Client) WithReadToken(token string) *Client {
	cc := *c
	cc.token = token
	return &cc
}

// WithKey returns a client that signs its submissions with k.
func (c *Client) WithKey(k *keys.Key) *Client {
	cc := *c
	cc.key = k
	return &cc
}

// New returns a client for the ledger at base (such as DefaultURL).
func New(base string, hc *http.Client) (*Client, error) {
	u, err := url.Parse(base)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("server %q is not an http:// or https:// URL", base)
	}
	if hc == nil {
		hc = defaultHTTP
	}
	return &Client{base: strings.TrimRight(base, "/"), http: hc}, nil
}

// defaultHTTP is http.DefaultClient's transport keeping more idle
// connections per host than its 2: SubmitAll sends several requests at a
// time, and with 2 kept it would dial anew for the others each round. It
// drops an idle connection before the ledger would (wire.DefaultIdleTimeout,
// against the transport's 90 s), so as never to send a submission on a
// connection the ledger is closing: that one would fail unanswered.
var defaultHTTP = func() *http.Client {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConnsPerHost = 64
	t.IdleConnTimeout = wire.DefaultIdleTimeout / 2
	return &http.Client{Transport: t}
}()

// Error is an error response from the ledger.
type Error struct {
	Status  int
	Problem wire.Problem
}

func (e *Error) Error() string {
	return fmt.Sprintf("ledger refused (HTTP %d): %s", e.Status, e.Problem.Error)
}

// IsClientError reports whether the ledger refused the request itself (4xx),
// so that retrying it unchanged cannot help.
func (e *Error) IsClientError() bool { return e.Status >= 400 && e.Status < 500 }

func (c *Client) do(ctx context.Context, method, path, ctype string, body []byte) ([]byte, int, error) {
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, bytes.NewReader(body))
	if err != nil {
		return nil, 0, err
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, 0, fmt.Errorf("couldn't reach the ledger at %s (is `ledger serve` running?): %w", c.base, err)
	}
	defer resp.Body.Close()
	var b []byte
	if n := resp.ContentLength; n > 0 && n <= preallocAnswer {
		// Receipts for a thousand events are ~400 KB: read them into one
		// buffer of the announced size, not a doubling series.
		b = make([]byte, n)
		_, err = io.ReadFull(resp.Body, b)
	} else {
		// A larger (or unannounced) answer grows as its bytes arrive: an
		// announced length is not an allocation.
		b, err = io.ReadAll(io.LimitReader(resp.Body, maxAnswer+1))
		if err == nil && len(b) > maxAnswer {
			err = fmt.Errorf("longer than %d bytes", maxAnswer)
		}
	}
	if err != nil {
		return nil, resp.StatusCode, fmt.Errorf("couldn't read the ledger's answer: %w", err)
	}
	return b, resp.StatusCode, nil
}

// maxAnswer bounds an answer; answers up to preallocAnswer are read into a
// buffer of their Content-Length.
const (
	maxAnswer      = 64 << 20
	preallocAnswer = 4 << 20
)

func asError(status int, b []byte) error {
	e := &Error{Status: status}
	if json.Unmarshal(b, &e.Problem) != nil || e.Problem.Error == "" {
		e.Problem.Error = strings.TrimSpace(string(b))
	}
	return e
}

// ErrNoKey is returned when a client without a key submits.
var ErrNoKey = errors.New("no signing key: the ledger takes only signed submissions (load one with keys.LoadKey and use Client.WithKey; make one with `ledger keygen`)")

// Submit signs encoded events of one election (one JSON object each) as
// one submission with the client's key, sends it, and returns a receipt
// per event. An event whose verdict is "rejected" still has its receipt,
// with no error.
func (c *Client) Submit(ctx context.Context, evs [][]byte) ([]wire.Receipt, error) {
	signed, err := c.Sign(evs)
	if err != nil {
		return nil, err
	}
	rs, err := c.SubmitSigned(ctx, signed)
	if err == nil && len(rs) != len(evs) {
		err = fmt.Errorf("the ledger returned %d receipts for %d events", len(rs), len(evs))
	}
	return rs, err
}

// Sign makes one signed submission of encoded events of one election, in
// the client's key, after putting each in its canonical encoding (which
// is what a signature covers).
func (c *Client) Sign(evs [][]byte) ([]byte, error) {
	if c.key == nil {
		return nil, ErrNoKey
	}
	if len(evs) == 0 {
		return nil, errors.New("no events to submit")
	}
	canonical, decoded, _, err := canonicalize(evs)
	if err != nil {
		return nil, err
	}
	election := decoded[0].Election
	for i, ev := range decoded {
		if ev.Election != election {
			return nil, fmt.Errorf("event #%d (%s) is for election %q, event #1 for %q: a submission is for one election", i+1, ev.ID, ev.Election, election)
		}
	}
	return c.key.SignSubmission(election, canonical)
}

// canonicalize decodes encoded events and puts each in its canonical
// encoding, which is what a signature covers. An event that does not
// decode is an error naming it, from 1, and bad is its index.
func canonicalize(evs [][]byte) (canonical [][]byte, decoded []*events.Event, bad int, err error) {
	canonical, decoded = make([][]byte, len(evs)), make([]*events.Event, len(evs))
	for i, e := range evs {
		ev, enc, err := events.DecodeCanonical(bytes.TrimSpace(e))
		if err != nil {
			return nil, nil, i, fmt.Errorf("event #%d: %w", i+1, err)
		}
		canonical[i], decoded[i] = enc, ev
	}
	return canonical, decoded, -1, nil
}

// SubmitSigned sends one signed submission (events.OpenSubmission) and
// returns a receipt per event.
func (c *Client) SubmitSigned(ctx context.Context, signed []byte) ([]wire.Receipt, error) {
	b, status, err := c.do(ctx, http.MethodPost, "/v1/submissions", "text/plain; charset=utf-8", signed)
	if err != nil {
		return nil, err
	}
	if status != http.StatusOK {
		return nil, asError(status, b)
	}
	var r wire.SubmitResponse
	// json/v2: a thousand receipts decode in a third of encoding/json's time.
	if err := jsonv2.Unmarshal(b, &r); err != nil {
		return nil, fmt.Errorf("couldn't decode receipts: %w", err)
	}
	return r.Receipts, nil
}

// SubmitOne signs and sends one event.
func (c *Client) SubmitOne(ctx context.Context, ev []byte) (*wire.Receipt, error) {
	rs, err := c.Submit(ctx, [][]byte{ev})
	if err != nil {
		return nil, err
	}
	return &rs[0], nil
}

// Submission returns the signed bytes of a submission of an election by
// their SHA-256, as an entry names it.
func (c *Client) Submission(ctx context.Context, election string, sha256 [32]byte) ([]byte, error) {
	return c.get(ctx, "/v1/elections/"+url.PathEscape(election)+"/submissions/"+hex.EncodeToString(sha256[:]))
}

// get fetches a path and returns the body of a 200 answer.
func (c *Client) get(ctx context.Context, path string) ([]byte, error) {
	b, status, err := c.do(ctx, http.MethodGet, path, "", nil)
	if err != nil {
		return nil, err
	}
	if status != http.StatusOK {
		return nil, asError(status, b)
	}
	return b, nil
}

// Tally returns an election's current tally: canonical JSON, or a table
// when table is set.
func (c *Client) Tally(ctx context.Context, election string, table bool) ([]byte, error) {
	p := "/v1/elections/" + url.PathEscape(election) + "/tally"
	if table {
		p += "?format=table"
	}
	return c.get(ctx, p)
}

// TallyAsOf returns the as-of document (audit.AsOf) of an election's log
// at a size (asOf > 0) or, when asOf is 0, at the time at (RFC 3339).
func (c *Client) TallyAsOf(ctx context.Context, election string, asOf uint64, at string) ([]byte, error) {
	q := url.Values{}
	if asOf > 0 {
		q.Set("as_of", fmt.Sprint(asOf))
	} else {
		q.Set("at", at)
	}
	return c.get(ctx, "/v1/elections/"+url.PathEscape(election)+"/tally?"+q.Encode())
}

// TallyNIST returns the NIST SP 1500-100 v2 ElectionReport (JSON) of an
// election's tally: as the log stood at a size (asOf > 0), or at the time
// at (RFC 3339) when asOf is 0 and at is set, or else at its current size.
// The ledger computes it by replaying the entries (audit.NISTReport): the
// same request gives the same bytes.
func (c *Client) TallyNIST(ctx context.Context, election string, asOf uint64, at string) ([]byte, error) {
	q := url.Values{"format": {"nist"}}
	switch {
	case asOf > 0:
		q.Set("as_of", fmt.Sprint(asOf))
	case at != "":
		q.Set("at", at)
	}
	return c.get(ctx, "/v1/elections/"+url.PathEscape(election)+"/tally?"+q.Encode())
}

// Checkpoint returns an election's latest signed checkpoint.
func (c *Client) Checkpoint(ctx context.Context, election string) ([]byte, error) {
	return c.get(ctx, "/v1/elections/"+url.PathEscape(election)+"/checkpoint")
}

// Key returns the ledger's checkpoint verifier key.
func (c *Client) Key(ctx context.Context) (string, error) {
	b, err := c.get(ctx, "/v1/key")
	return strings.TrimSpace(string(b)), err
}

// Entries returns the stored bytes of entries [start, start+limit).
func (c *Client) Entries(ctx context.Context, election string, start, limit uint64) ([][]byte, error) {
	b, err := c.get(ctx, fmt.Sprintf("/v1/elections/%s/entries?start=%d&limit=%d", url.PathEscape(election), start, limit))
	if err != nil {
		return nil, err
	}
	var out [][]byte
	for _, line := range bytes.Split(b, []byte("\n")) {
		if len(line) > 0 {
			out = append(out, line)
		}
	}
	return out, nil
}

// ErrNotReady is returned by Health when the ledger answers but is not ok.
var ErrNotReady = errors.New("ledger is not healthy")

// Health checks /healthz.
func (c *Client) Health(ctx context.Context) error {
	b, status, err := c.do(ctx, http.MethodGet, "/healthz", "", nil)
	if err != nil {
		return err
	}
	if status != http.StatusOK {
		return fmt.Errorf("%w: %s", ErrNotReady, strings.TrimSpace(string(b)))
	}
	return nil
}

// Elections lists the ledger's elections.
func (c *Client) Elections(ctx context.Context) ([]wire.ElectionInfo, error) {
	b, err := c.get(ctx, "/v1/elections")
	if err != nil {
		return nil, err
	}
	var r struct {
		Elections []wire.ElectionInfo `json:"elections"`
	}
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, fmt.Errorf("couldn't decode the election list: %w", err)
	}
	return r.Elections, nil
}
