// Package api serves the ledger over HTTP: submissions, tallies, entries,
// checkpoints, health and metrics. docs/api.md describes every route.
package api

import (
	"bytes"
	"context"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/election-audit/ledger/audit"
	"github.com/election-audit/ledger/dashboard"
	"github.com/election-audit/ledger/events"
	"github.com/election-audit/ledger/feed"
	"github.com/election-audit/ledger/ledger"
	"github.com/election-audit/ledger/store"
	"github.com/election-audit/ledger/wire"
)

// Limits and defaults.
const (
	MaxBodySize    = events.MaxSubmissionSize // a signed submission
	MaxEntriesPage = 1000
	// MaxEntriesPageBytes ends a page of entries early, after the entry that
	// reaches it (a page holds at least one entry): a page of a thousand
	// 64 KiB entries would otherwise be 64 MiB in memory per request.
	// Clients page on by the entries they got.
	MaxEntriesPageBytes = 4 << 20
	DefaultWaitTime     = 60 * time.Second // longest a submission waits for its entry
)

// Config configures the HTTP API.
type Config struct {
	Ledger      *ledger.Ledger
	VerifierKey string // the ledger key, served at /v1/key
	Gatherer    prometheus.Gatherer
	Logger      *slog.Logger
	// Limits bound what clients can take (docs/security.md); zero fields
	// take the defaults. The handler applies the write timeout, the cap
	// on change streams and the memory of request bodies; the http.Server
	// and the Listener, the rest.
	Limits Limits
	// ReadToken, if set, is the bearer token every read needs
	// ("Authorization: Bearer TOKEN"); /healthz, the dashboard's page and
	// submissions (which carry their own signatures) do not.
	ReadToken string
}

type server struct {
	Config
	hub     *feed.Hub // change streams share one reader per election
	bodies  budget    // bytes of request bodies held
	streams atomic.Int64
	tallies *tallies // whole-tally documents: shared, kept and bounded
}

// New returns the API's handler.
func New(cfg Config) http.Handler {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	cfg.Limits = cfg.Limits.WithDefaults()
	s := &server{Config: cfg, hub: feed.NewHub(cfg.Ledger, 0), tallies: newTallies(cfg.Limits)}
	s.bodies.max = cfg.Limits.MaxBodyMemory
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/submissions", s.submit)
	mux.HandleFunc("POST /v1/events", s.unsigned)
	mux.HandleFunc("GET /v1/elections/{election}/submissions/{sha256}", s.submission)
	mux.HandleFunc("GET /v1/events/{id}", s.event)
	mux.HandleFunc("GET /v1/elections", s.elections)
	mux.HandleFunc("GET /v1/elections/{election}/tally", s.tally)
	mux.HandleFunc("GET /v1/elections/{election}/checkpoint", s.checkpoint)
	mux.HandleFunc("GET /v1/elections/{election}/entries", s.entries)
	mux.HandleFunc("GET /v1/elections/{election}/entries/{index}", s.entry)
	mux.HandleFunc("GET /v1/elections/{election}/keys", s.keys())
	mux.HandleFunc("GET /v1/elections/{election}/changes", s.changes)
	mux.HandleFunc("GET /v1/elections/{election}/key", s.logKey)
	mux.HandleFunc("GET /v1/key", s.key)
	s.registerLog(mux)
	mux.HandleFunc("GET /healthz", s.health)
	// The dashboard (docs/dashboard.md), on its own paths only: a "GET /"
	// would also answer unknown paths, and GET on POST-only routes (405).
	// The series replays the log to several sizes: a whole-tally build.
	mux.Handle("GET /v1/elections/{election}/series", s.shared(docSeries, dashboard.Series(cfg.Ledger)))
	page := dashboard.Handler()
	mux.Handle("GET /{$}", page)
	mux.Handle("GET /dashboard/", page)
	if cfg.Gatherer != nil {
		mux.Handle("GET /metrics", promhttp.HandlerFor(cfg.Gatherer, promhttp.HandlerOpts{}))
	}
	var h http.Handler = mux
	if cfg.ReadToken != "" {
		h = readToken(mux, cfg.ReadToken)
	}
	return writeDeadline(h, cfg.Limits.WriteTimeout)
}

// ReadTokenCookie is the cookie that may carry the read token instead of
// the Authorization header: a browser's EventSource cannot set headers, so
// the dashboard page sets it when its user gives the token.
const ReadTokenCookie = "ledger_read_token"

// readToken requires the bearer token on reads (GET and HEAD), but for
// /healthz and the dashboard's own files: in the Authorization header, or
// in the ReadTokenCookie cookie.
func readToken(next http.Handler, token string) http.Handler {
	want := []byte("Bearer " + token)
	has := func(r *http.Request) bool {
		if subtle.ConstantTimeCompare([]byte(r.Header.Get("Authorization")), want) == 1 {
			return true
		}
		c, err := r.Cookie(ReadTokenCookie)
		if err != nil {
			return false
		}
		v, err := url.QueryUnescape(c.Value)
		return err == nil && subtle.ConstantTimeCompare([]byte(v), []byte(token)) == 1
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		open := r.URL.Path == "/healthz" || r.URL.Path == "/" || strings.HasPrefix(r.URL.Path, "/dashboard/")
		if (r.Method == http.MethodGet || r.Method == http.MethodHead) && !open && !has(r) {
			w.Header().Set("WWW-Authenticate", `Bearer realm="ledger reads"`)
			fail(w, http.StatusUnauthorized, "reads of this ledger need its read token: send \"Authorization: Bearer TOKEN\" (ask the ledger's operator)")
			return
		}
		next.ServeHTTP(w, r)
	})
}

// Problem is the body of every error response.
type Problem = wire.Problem

func writeJSON(w http.ResponseWriter, status int, v any) {
	// Encoded whole first, so that the answer has a Content-Length (the
	// client then reads it into one buffer) and not chunks.
	b, err := json.Marshal(v)
	if err != nil {
		status = http.StatusInternalServerError
		b, _ = json.Marshal(Problem{Error: "couldn't encode the answer: " + err.Error()})
	}
	b = append(b, '\n')
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(status)
	w.Write(b)
}

func fail(w http.ResponseWriter, status int, format string, args ...any) {
	writeJSON(w, status, Problem{Error: fmt.Sprintf(format, args...)})
}

// SubmitResponse is the answer to a submission: a receipt for each of
// its events, in order.
type SubmitResponse = wire.SubmitResponse

// unsigned answers the unsigned event submissions of earlier versions.
func (s *server) unsigned(w http.ResponseWriter, r *http.Request) {
	fail(w, http.StatusUnauthorized, "the ledger takes no unsigned events: sign them into a submission and POST it to /v1/submissions (`ledger submit --key FILE`, or the Go client with a key; docs/api.md)")
}

func (s *server) submit(w http.ResponseWriter, r *http.Request) {
	body, err := readBody(w, r, &s.bodies, s.Limits)
	defer s.bodies.give(int64(cap(body)))
	var mbe *http.MaxBytesError
	var ne net.Error
	switch {
	case errors.As(err, &mbe):
		fail(w, http.StatusRequestEntityTooLarge, "request body is larger than %d bytes, the most a signed submission may be (events.MaxSubmissionSize): split it into several submissions", MaxBodySize)
		return
	case errors.Is(err, errBodyMemory):
		w.Header().Set("Retry-After", "1")
		fail(w, http.StatusServiceUnavailable, "%v (%d bytes): retry in a moment", err, s.Limits.MaxBodyMemory)
		return
	case errors.As(err, &ne) && ne.Timeout():
		fail(w, http.StatusRequestTimeout, "the request body arrived too slowly (at least %d bytes/s after %v, no pause over %v, all of it within %v): send it faster, or split the submission", s.Limits.MinBodyRate, s.Limits.BodyGrace, s.Limits.BodyGrace, s.Limits.ReadTimeout)
		return
	case err != nil:
		fail(w, http.StatusBadRequest, "couldn't read request body: %v", err)
		return
	case len(bytes.TrimSpace(body)) == 0:
		fail(w, http.StatusUnauthorized, "empty request body: send a signed submission (docs/events.md)")
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), DefaultWaitTime)
	defer cancel()
	receipts, err := s.Ledger.Submit(ctx, body)
	var re *ledger.RefusedError
	switch {
	case errors.As(err, &re):
		status := http.StatusBadRequest
		switch {
		case re.Unsigned:
			status = http.StatusUnauthorized
		case re.Forbidden:
			status = http.StatusForbidden
		case re.TooLarge:
			status = http.StatusRequestEntityTooLarge
		case re.NotFound:
			status = http.StatusUnprocessableEntity
		}
		p := Problem{Error: re.Error(), Field: re.Field}
		if re.Item >= 0 {
			p.Item = &re.Item
		}
		writeJSON(w, status, p)
		return
	case errors.Is(err, context.DeadlineExceeded):
		fail(w, http.StatusGatewayTimeout, "the submission was published but not yet logged; send it again, unchanged, to get its receipts: %v", err)
		return
	case err != nil:
		s.Logger.Error("submission failed", "err", err)
		fail(w, http.StatusServiceUnavailable, "couldn't log the submission; sending it again, unchanged, is safe: %v", err)
		return
	}
	writeJSON(w, http.StatusOK, SubmitResponse{Receipts: receipts})
}

// submission serves the signed bytes of a submission that entries of an
// election came from, by the SHA-256 the entries name.
func (s *server) submission(w http.ResponseWriter, r *http.Request) {
	election, hexSum := r.PathValue("election"), r.PathValue("sha256")
	var sum [32]byte
	// The length first: hex.Decode writes past sum for a longer string.
	if len(hexSum) != 2*len(sum) || strings.ToLower(hexSum) != hexSum {
		fail(w, http.StatusBadRequest, "%q is not a SHA-256 in lower-case hex", hexSum)
		return
	}
	if _, err := hex.Decode(sum[:], []byte(hexSum)); err != nil {
		fail(w, http.StatusBadRequest, "%q is not a SHA-256 in lower-case hex", hexSum)
		return
	}
	data, err := s.Ledger.Submission(election, sum)
	switch {
	case errors.Is(err, store.ErrNotFound):
		fail(w, http.StatusNotFound, "no submission of election %q has SHA-256 %s", election, hexSum)
		return
	case err != nil:
		fail(w, http.StatusInternalServerError, "%v", err)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/plain; charset=utf-8")
	h.Set("Content-Length", strconv.Itoa(len(data)))
	h.Set("Cache-Control", "public, max-age=31536000, immutable")
	w.WriteHeader(http.StatusOK)
	w.Write(data)
}

func (s *server) elections(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]any{"elections": s.Ledger.Elections()})
}

// Tally formats (?format=).
const (
	formatJSON  = "json"
	formatTable = "table"
	formatNIST  = "nist"
)

func (s *server) tally(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	format, asOf := q.Get("format"), q.Has("as_of") || q.Has("at")
	switch {
	case format != "" && format != formatJSON && format != formatTable && format != formatNIST:
		fail(w, http.StatusBadRequest, "format: %q is not one of json, table or nist", format)
		return
	case q.Has("as_of") && q.Has("at"):
		fail(w, http.StatusBadRequest, "as_of and at both given: ask for a size or a time, not both")
		return
	case format == formatTable && asOf:
		fail(w, http.StatusBadRequest, "format=table is the current tally only: with as_of or at, ask for format=json (the as-of document) or format=nist")
		return
	case format == formatNIST:
		s.tallyNIST(w, r)
		return
	case asOf:
		s.tallyAsOf(w, r)
		return
	}
	s.tallyCurrent(w, r, format)
}

// tallyCurrent serves the current tally, as JSON or a table: built from
// the projection by one request, shared by those that come meanwhile, and
// kept until the log grows (tallies.go).
func (s *server) tallyCurrent(w http.ResponseWriter, r *http.Request, format string) {
	election := r.PathValue("election")
	_, size, err := s.Ledger.Checkpoint(election)
	if err != nil {
		s.lookupFailed(w, err)
		return
	}
	kind := docTally
	if format == formatTable {
		kind = docTable
	}
	// The tally is at least as new as the committed size read first, so
	// a request never gets one older than the log it could see.
	d, err := s.tallies.get(r.Context(), flightKey{election: election, kind: kind, size: size},
		func(uint64) (*tallyDoc, error) {
			t, err := s.Ledger.Tally(election)
			if err != nil {
				return nil, err
			}
			if kind == docTable {
				var b bytes.Buffer
				t.WriteTable(&b)
				return newDoc(t.Entries, "text/plain; charset=utf-8", b.Bytes()), nil
			}
			b, err := t.Encode()
			if err != nil {
				return nil, err
			}
			return newDoc(t.Entries, "application/json", b), nil
		})
	serveDoc(w, d, err, func(err error) { s.lookupFailed(w, err) })
}

// tallyAsOf serves the as-of document (audit.AsOf) of the log at a size
// (?as_of=N) or at a time (?at=RFC 3339), replayed from the entries, in a
// replay slot, shared by identical requests (tallies.go).
func (s *server) tallyAsOf(w http.ResponseWriter, r *http.Request) {
	election := r.PathValue("election")
	n, ok := s.sizeAsked(w, r)
	if !ok {
		return
	}
	d, err := s.tallies.get(r.Context(), flightKey{election: election, kind: docAsOf, size: n},
		func(uint64) (*tallyDoc, error) {
			doc, err := audit.TallyDocument(s.Ledger, election, n)
			if err != nil {
				return nil, err
			}
			b, err := doc.Encode()
			if err != nil {
				return nil, err
			}
			return newDoc(n, "application/json", b), nil
		})
	serveDoc(w, d, err, func(err error) { failReplay(w, err) })
}

// failReplay answers a tally replayed at a size that failed: 422 for a
// size inside a manifest in parts, before the election is defined; 500
// otherwise.
func failReplay(w http.ResponseWriter, err error) {
	status := http.StatusInternalServerError
	if errors.Is(err, audit.ErrInsideManifest) {
		status = http.StatusUnprocessableEntity
	}
	fail(w, status, "%v", err)
}

// tallyNIST serves the NIST SP 1500-100 ElectionReport (audit.NISTReport)
// of the log at a size or a time, or at its committed size: replayed from
// the entries, so the same request gives the same bytes on every replica
// of the log that shares the ledger's name, the report's issuer. It is
// built in a replay slot, shared by identical requests (tallies.go).
func (s *server) tallyNIST(w http.ResponseWriter, r *http.Request) {
	election := r.PathValue("election")
	n, ok := s.sizeAsked(w, r)
	if !ok {
		return
	}
	d, err := s.tallies.get(r.Context(), flightKey{election: election, kind: docNIST, size: n},
		func(uint64) (*tallyDoc, error) {
			b, err := audit.NISTReport(s.Ledger, election, n, s.Ledger.Name())
			if err != nil {
				return nil, err
			}
			return newDoc(n, "application/json", b), nil
		})
	serveDoc(w, d, err, func(err error) { failReplay(w, err) })
}

// sizeAsked returns the log size a tally request asks for: ?as_of=N, the
// size at ?at=TIME, or else the committed size. It answers the request
// itself, and returns false, when there is none.
func (s *server) sizeAsked(w http.ResponseWriter, r *http.Request) (uint64, bool) {
	election, q := r.PathValue("election"), r.URL.Query()
	_, size, err := s.Ledger.Checkpoint(election)
	if err != nil {
		s.lookupFailed(w, err)
		return 0, false
	}
	n := size
	switch {
	case q.Has("as_of"):
		if n, err = parseUint(q.Get("as_of"), 0); err != nil || n == 0 {
			fail(w, http.StatusBadRequest, "as_of: %q is not a log size from 1 to %d", q.Get("as_of"), size)
			return 0, false
		}
		if n > size {
			fail(w, http.StatusNotFound, "as_of: size %d is past the end of %s's log (size %d)", n, election, size)
			return 0, false
		}
	case q.Has("at"):
		t, err := time.Parse(time.RFC3339Nano, q.Get("at"))
		if err != nil {
			fail(w, http.StatusBadRequest, "at: %q is not an RFC 3339 time such as 2017-04-18T23:30:00Z", q.Get("at"))
			return 0, false
		}
		if n, err = audit.SizeAt(s.Ledger, election, size, t); err != nil {
			fail(w, http.StatusInternalServerError, "%v", err)
			return 0, false
		}
		if n == 0 {
			fail(w, http.StatusNotFound, "at: no entry of %s was recorded at or before %s", election, t.Format(time.RFC3339Nano))
			return 0, false
		}
	case n == 0:
		fail(w, http.StatusNotFound, "%s's log is empty", election)
		return 0, false
	}
	return n, true
}

func (s *server) checkpoint(w http.ResponseWriter, r *http.Request) {
	cp, _, err := s.Ledger.Checkpoint(r.PathValue("election"))
	if err != nil {
		s.lookupFailed(w, err)
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Write(cp)
}

func (s *server) entry(w http.ResponseWriter, r *http.Request) {
	idx, err := strconv.ParseUint(r.PathValue("index"), 10, 64)
	if err != nil {
		fail(w, http.StatusBadRequest, "entry index %q is not a non-negative integer", r.PathValue("index"))
		return
	}
	b, err := s.Ledger.Entry(r.PathValue("election"), idx)
	if err != nil {
		s.lookupFailed(w, err)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Write(b)
}

// entries serves a range as JSON Lines: the stored bytes of each entry, one
// per line.
func (s *server) entries(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	start, err := parseUint(q.Get("start"), 0)
	if err != nil {
		fail(w, http.StatusBadRequest, "start: %v", err)
		return
	}
	limit, err := parseUint(q.Get("limit"), MaxEntriesPage)
	if err != nil || limit == 0 || limit > MaxEntriesPage {
		fail(w, http.StatusBadRequest, "limit must be an integer from 1 to %d", MaxEntriesPage)
		return
	}
	var buf bytes.Buffer
	err = s.Ledger.Entries(r.PathValue("election"), start, start+limit, func(_ uint64, data []byte) error {
		buf.Write(data)
		buf.WriteByte('\n')
		if buf.Len() >= MaxEntriesPageBytes {
			return errPageFull
		}
		return nil
	})
	if errors.Is(err, errPageFull) {
		err = nil
	}
	if err != nil {
		s.lookupFailed(w, err)
		return
	}
	w.Header().Set("Content-Type", "application/x-ndjson")
	w.Write(buf.Bytes())
}

// errPageFull stops a page of entries at MaxEntriesPageBytes.
var errPageFull = errors.New("page full")

func parseUint(s string, def uint64) (uint64, error) {
	if s == "" {
		return def, nil
	}
	n, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%q is not a non-negative integer", s)
	}
	return n, nil
}

// EventResponse locates an event and gives its entry.
type EventResponse = wire.EventResponse

func (s *server) event(w http.ResponseWriter, r *http.Request) {
	id, err := events.ParseID(r.PathValue("id"))
	if err != nil {
		fail(w, http.StatusBadRequest, "%v", err)
		return
	}
	rec, err := s.Ledger.LookupEvent(id)
	if errors.Is(err, store.ErrNotFound) {
		fail(w, http.StatusNotFound, "event %s is not in the ledger", id)
		return
	}
	if err != nil {
		fail(w, http.StatusInternalServerError, "%v", err)
		return
	}
	// The index record and the entry are written in the same synced batch,
	// so the entry is there even if its step has not published its size.
	b, err := s.Ledger.StoredEntry(rec.Election, rec.Index)
	if err != nil {
		s.lookupFailed(w, err)
		return
	}
	writeJSON(w, http.StatusOK, EventResponse{Election: rec.Election, Index: rec.Index, Entry: b})
}

func (s *server) key(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	io.WriteString(w, s.VerifierKey+"\n")
}

// logKey serves the verifier key of an election's log: the ledger's key
// named by the log's origin, the key name of its checkpoints.
func (s *server) logKey(w http.ResponseWriter, r *http.Request) {
	k, err := s.Ledger.LogKey(r.PathValue("election"))
	if err != nil {
		s.lookupFailed(w, err)
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	io.WriteString(w, k+"\n")
}

// health answers 200 when submissions can be committed and 503 with the
// reasons otherwise (ledger.Ledger.Health: a statfs, and a stream lookup
// at most every ledger.HealthCheckTTL, so it may be polled often).
func (s *server) health(w http.ResponseWriter, r *http.Request) {
	h := s.Ledger.Health(r.Context())
	if !h.OK() {
		if h.Status == ledger.HealthUnavailable {
			w.Header().Set("Retry-After", "5")
		}
		writeJSON(w, http.StatusServiceUnavailable, h)
		return
	}
	writeJSON(w, http.StatusOK, h)
}

func (s *server) lookupFailed(w http.ResponseWriter, err error) {
	switch {
	case errors.Is(err, ledger.ErrUnknownElection), errors.Is(err, ledger.ErrOutOfRange), errors.Is(err, store.ErrNotFound):
		fail(w, http.StatusNotFound, "%v", err)
	default:
		s.Logger.Error("lookup failed", "err", err)
		fail(w, http.StatusInternalServerError, "%v", err)
	}
}
