package api

// The verifiable-log routes: checkpoints at a size, inclusion and
// consistency proofs (JSON, and C2SP tlog-proof), and the C2SP tlog-tiles
// read API. Every request reads one ledger.LogView, so all it answers
// describes one committed tree.

import (
	"compress/gzip"
	"encoding/binary"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"golang.org/x/mod/sumdb/tlog"

	"github.com/election-audit/ledger/audit"
	"github.com/election-audit/ledger/ledger"
	"github.com/election-audit/ledger/wire"
)

// Tile geometry of C2SP tlog-tiles: tiles of height 8, 256 hashes wide.
const (
	TileHeight = 8
	TileWidth  = 1 << TileHeight
	// MaxBundleEntrySize is the largest entry an entry bundle can hold: its
	// length prefix is a big-endian uint16.
	MaxBundleEntrySize = 1<<16 - 1
)

// Cache-Control values of the log routes.
const (
	cacheImmutable = "public, max-age=31536000, immutable"
	cacheNone      = "no-cache"
)

// InclusionProof is the JSON answer of the inclusion proof route.
type InclusionProof = wire.InclusionResponse

// ConsistencyProof is the JSON answer of the consistency proof route.
type ConsistencyProof = wire.ConsistencyResponse

// registerLog adds the proof and C2SP tlog-tiles routes.
func (s *server) registerLog(mux *http.ServeMux) {
	mux.HandleFunc("GET /v1/elections/{election}/checkpoints/{size}", s.checkpointAt)
	mux.HandleFunc("GET /v1/elections/{election}/proof/inclusion", s.inclusionProof)
	mux.HandleFunc("GET /v1/elections/{election}/proof/consistency", s.consistencyProof)
	mux.HandleFunc("GET /v1/elections/{election}/tlog/checkpoint", s.tlogCheckpoint)
	mux.HandleFunc("GET /v1/elections/{election}/tlog/tile/{path...}", s.tlogTile)
}

// view returns the election's committed log, or answers the request with
// the error.
func (s *server) view(w http.ResponseWriter, r *http.Request) *ledger.LogView {
	v, err := s.Ledger.View(r.PathValue("election"))
	if err != nil {
		s.lookupFailed(w, err)
		return nil
	}
	return v
}

// logFailed answers a LogView error: 404 for what is not there (yet).
func (s *server) logFailed(w http.ResponseWriter, err error) {
	if errors.Is(err, ledger.ErrNoCheckpoint) {
		fail(w, http.StatusNotFound, "%v", err)
		return
	}
	s.lookupFailed(w, err)
}

func (s *server) checkpointAt(w http.ResponseWriter, r *http.Request) {
	size, err := strconv.ParseUint(r.PathValue("size"), 10, 64)
	if err != nil {
		fail(w, http.StatusBadRequest, "tree size %q is not a non-negative integer", r.PathValue("size"))
		return
	}
	v := s.view(w, r)
	if v == nil {
		return
	}
	cp, err := v.CheckpointAt(size)
	if err != nil {
		s.logFailed(w, err)
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Write(cp)
}

// parseTreeSize parses an optional size parameter: the view's size if absent.
// It answers the request and returns false if the size is not usable.
func parseTreeSize(w http.ResponseWriter, v *ledger.LogView, name, s string) (uint64, bool) {
	if s == "" {
		return v.Size, true
	}
	n, err := strconv.ParseUint(s, 10, 64)
	switch {
	case err != nil:
		fail(w, http.StatusBadRequest, "%s: %q is not a non-negative integer", name, s)
		return 0, false
	case n == 0:
		fail(w, http.StatusBadRequest, "%s: must be at least 1: there is no proof in an empty tree", name)
		return 0, false
	case n > v.Size:
		fail(w, http.StatusNotFound, "%s: %d is past the end of %s's log (size %d)", name, n, v.Election, v.Size)
		return 0, false
	}
	return n, true
}

func (s *server) inclusionProof(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	format := q.Get("format")
	if format != "" && format != "json" && format != "tlog-proof" {
		fail(w, http.StatusBadRequest, "format: %q is not json or tlog-proof", format)
		return
	}
	is := q.Get("index")
	if is == "" {
		fail(w, http.StatusBadRequest, "index: missing: the 0-based index of the entry to prove")
		return
	}
	index, err := strconv.ParseUint(is, 10, 64)
	if err != nil {
		fail(w, http.StatusBadRequest, "index: %q is not a non-negative integer", is)
		return
	}
	v := s.view(w, r)
	if v == nil {
		return
	}
	size, ok := parseTreeSize(w, v, "size", q.Get("size"))
	if !ok {
		return
	}
	switch {
	case index >= v.Size:
		fail(w, http.StatusNotFound, "index: entry %d is past the end of %s's log (size %d)", index, v.Election, v.Size)
		return
	case index >= size:
		fail(w, http.StatusBadRequest, "index: entry %d is not in the tree of size %d (the index must be less than the size)", index, size)
		return
	}
	cp, err := v.CheckpointAt(size)
	if err != nil && !errors.Is(err, ledger.ErrNoCheckpoint) {
		s.logFailed(w, err)
		return
	}
	if format == "tlog-proof" && cp == nil {
		fail(w, http.StatusNotFound, "size: no signed checkpoint was issued at size %d of %s, and a tlog-proof must carry the checkpoint of its tree: omit size for the latest (%d), use a size with a checkpoint, or ask for format=json", size, v.Election, v.Size)
		return
	}
	p, err := audit.ProveInclusion(v.Hashes(), size, index)
	if err != nil {
		s.Logger.Error("inclusion proof failed", "election", v.Election, "index", index, "size", size, "err", err)
		fail(w, http.StatusInternalServerError, "%v", err)
		return
	}
	if format == "tlog-proof" {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Write((&audit.TLogProof{Index: index, Hashes: p.Hashes, Checkpoint: cp}).Marshal())
		return
	}
	writeJSON(w, http.StatusOK, InclusionProof{InclusionProof: *p, Checkpoint: string(cp)})
}

func (s *server) consistencyProof(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	if q.Get("from") == "" {
		fail(w, http.StatusBadRequest, "from: missing: the size of the older tree")
		return
	}
	v := s.view(w, r)
	if v == nil {
		return
	}
	from, ok := parseTreeSize(w, v, "from", q.Get("from"))
	if !ok {
		return
	}
	to, ok := parseTreeSize(w, v, "to", q.Get("to"))
	if !ok {
		return
	}
	if from > to {
		fail(w, http.StatusBadRequest, "from: %d is greater than to (%d): a consistency proof goes from an older, smaller tree to a newer one", from, to)
		return
	}
	resp := ConsistencyProof{}
	for _, c := range []struct {
		size uint64
		dst  *string
	}{{from, &resp.FromCheckpoint}, {to, &resp.ToCheckpoint}} {
		cp, err := v.CheckpointAt(c.size)
		if err != nil && !errors.Is(err, ledger.ErrNoCheckpoint) {
			s.logFailed(w, err)
			return
		}
		*c.dst = string(cp)
	}
	p, err := audit.ProveConsistency(v.Hashes(), from, to)
	if err != nil {
		s.Logger.Error("consistency proof failed", "election", v.Election, "from", from, "to", to, "err", err)
		fail(w, http.StatusInternalServerError, "%v", err)
		return
	}
	resp.ConsistencyProof = *p
	writeJSON(w, http.StatusOK, resp)
}

func (s *server) tlogCheckpoint(w http.ResponseWriter, r *http.Request) {
	v := s.view(w, r)
	if v == nil {
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", cacheNone)
	w.Write(v.Checkpoint)
}

// tlogTile serves hash tiles, tile/<L>/<N>[.p/<W>], and entry bundles,
// tile/entries/<N>[.p/<W>], of the committed tree.
func (s *server) tlogTile(w http.ResponseWriter, r *http.Request) {
	path := "tile/" + r.PathValue("path")
	t, err := parseTilePath(path)
	if err != nil {
		fail(w, http.StatusBadRequest, "%v", err)
		return
	}
	v := s.view(w, r)
	if v == nil {
		return
	}
	if !tileInTree(t, v.Size) {
		w.Header().Set("Cache-Control", cacheNone)
		what := "tile"
		if t.L == -1 {
			what = "entry bundle"
		}
		fail(w, http.StatusNotFound, "%s %s is not in %s's log of size %d: a full tile is served once the log covers all 256 of its hashes or entries, a partial one (.p/W) once it covers the first W", what, path, v.Election, v.Size)
		return
	}
	var data []byte
	if t.L == -1 {
		data, err = entryBundle(v, t)
		var big *bundleEntryError
		if errors.As(err, &big) {
			fail(w, http.StatusUnprocessableEntity, "%v", err)
			return
		}
	} else {
		data, err = tlog.ReadTileData(t, v.Hashes())
	}
	if err != nil {
		s.Logger.Error("reading tile failed", "election", v.Election, "tile", path, "err", err)
		fail(w, http.StatusInternalServerError, "couldn't read %s: %v", path, err)
		return
	}
	// A tile's bytes never change, partial or full: the hashes and entries
	// below the committed size are final, and a partial tile of width W is
	// always the first W hashes of its full tile.
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("Cache-Control", cacheImmutable)
	if t.L == -1 {
		w.Header().Add("Vary", "Accept-Encoding")
		if acceptsGzip(r.Header.Get("Accept-Encoding")) {
			w.Header().Set("Content-Encoding", "gzip")
			zw := gzip.NewWriter(w)
			zw.Write(data)
			zw.Close()
			return
		}
	}
	w.Header().Set("Content-Length", strconv.Itoa(len(data)))
	w.Write(data)
}

// parseTilePath parses a C2SP tlog-tiles path, strictly: level 0–63 and
// widths 1–255 without leading zeros, the index in 3-digit groups with all
// but the last prefixed by x. Entry bundles have L = -1.
func parseTilePath(path string) (tlog.Tile, error) {
	// The C2SP path is the sumdb one without the height, and "entries" for
	// "data"; tlog.ParseTilePath accepts only the canonical encoding.
	sumdb := ""
	if rest, ok := strings.CutPrefix(path, "tile/entries/"); ok {
		sumdb = "tile/8/data/" + rest
	} else if rest, ok := strings.CutPrefix(path, "tile/"); ok && !strings.HasPrefix(rest, "data/") {
		sumdb = "tile/8/" + rest
	}
	t, err := tlog.ParseTilePath(sumdb)
	if sumdb == "" || err != nil || t.N < 0 || t.L > 63 {
		return tlog.Tile{}, fmt.Errorf("malformed tile path %q: want tile/L/N or tile/L/N.p/W for a hash tile, tile/entries/N or tile/entries/N.p/W for an entry bundle, with L from 0 to 63, N in 3-digit groups (1234067 is x001/x234/067) and W from 1 to 255, without leading zeros (https://c2sp.org/tlog-tiles)", path)
	}
	return t, nil
}

// tileInTree reports whether the tree of size n holds every hash of t: the
// tile spans leaves [start, (N·256 + W)·256^L) with L ≥ 0 (entry bundles
// count as level 0).
func tileInTree(t tlog.Tile, n uint64) bool {
	l := max(t.L, 0)
	if l >= 8 { // 256^8 = 2^64 leaves: more than any log
		return false
	}
	units := n >> (8 * uint(l)) // whole level-l subtrees in the tree
	return uint64(t.N) <= units/TileWidth && uint64(t.N)*TileWidth+uint64(t.W) <= units
}

// bundleEntryError is an entry too large for an entry bundle.
type bundleEntryError struct {
	index uint64
	size  int
}

func (e *bundleEntryError) Error() string {
	return fmt.Sprintf("entry %d is %d bytes, more than the %d bytes a tlog-tiles entry bundle can hold (its length prefix is 2 bytes): read it from /v1/elections/{election}/entries/%d and check it against the level-0 hash tile", e.index, e.size, MaxBundleEntrySize, e.index)
}

// entryBundle encodes entries [N·256, N·256+W) as an entry bundle: each
// entry's stored bytes after their length as a big-endian uint16.
func entryBundle(v *ledger.LogView, t tlog.Tile) ([]byte, error) {
	start := uint64(t.N) * TileWidth
	end := start + uint64(t.W)
	var out []byte
	next := start
	err := v.Entries(start, end, func(i uint64, data []byte) error {
		if i != next {
			return fmt.Errorf("entry %d of %s is missing from the database", next, v.Election)
		}
		if len(data) > MaxBundleEntrySize {
			return &bundleEntryError{index: i, size: len(data)}
		}
		out = binary.BigEndian.AppendUint16(out, uint16(len(data)))
		out = append(out, data...)
		next++
		return nil
	})
	if err == nil && next != end {
		err = fmt.Errorf("entry %d of %s is missing from the database", next, v.Election)
	}
	return out, err
}

// acceptsGzip reports whether an Accept-Encoding header allows gzip.
func acceptsGzip(h string) bool {
	for _, part := range strings.Split(h, ",") {
		coding, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		if !strings.EqualFold(strings.TrimSpace(coding), "gzip") {
			continue
		}
		q := strings.ReplaceAll(params, " ", "")
		return q != "q=0" && q != "q=0.0" && q != "q=0.00" && q != "q=0.000"
	}
	return false
}
