package dashboard

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"

	"github.com/election-audit/ledger/audit"
	"github.com/election-audit/ledger/ledger"
	"github.com/election-audit/ledger/store"
)

// Points of a series (?points=).
const (
	DefaultSeriesPoints = 40
	MaxSeriesPoints     = 1000
)

// SeriesResponse is the answer of the series route: the race totals at up
// to ?points= log sizes in (?after=, TreeSize], evenly spaced and ending
// at TreeSize, the committed size when the request was read, and at the
// sizes before and after each turn; and the turns of entries [?after=,
// TreeSize): where a race's lead changed or a share crossed the 50% line,
// computed from every entry.
type SeriesResponse struct {
	Election string              `json:"election"`
	TreeSize uint64              `json:"tree_size"`
	Points   []audit.SeriesPoint `json:"points"`
	Turns    []Turn              `json:"turns"`
}

// Series serves GET /v1/elections/{election}/series?points=N&after=A: the
// share series the dashboard's chart is drawn from ([audit.Series]), each
// point the as-of tally at its size without the units, and the races'
// turns ([Turns]). Errors have the API's error body, {"error": "..."}.
func Series(l *ledger.Ledger) http.Handler {
	turns := NewTurns(l)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		election, q := r.PathValue("election"), r.URL.Query()
		points := DefaultSeriesPoints
		if v := q.Get("points"); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 || n > MaxSeriesPoints {
				fail(w, http.StatusBadRequest, "points: %q is not a number from 1 to %d", v, MaxSeriesPoints)
				return
			}
			points = n
		}
		var after uint64
		if v := q.Get("after"); v != "" {
			n, err := strconv.ParseUint(v, 10, 64)
			if err != nil {
				fail(w, http.StatusBadRequest, "after: %q is not a log size", v)
				return
			}
			after = n
		}
		_, size, err := l.Checkpoint(election)
		switch {
		case errors.Is(err, ledger.ErrUnknownElection), errors.Is(err, store.ErrNotFound):
			fail(w, http.StatusNotFound, "%v", err)
			return
		case err != nil:
			fail(w, http.StatusInternalServerError, "%v", err)
			return
		case size == 0:
			fail(w, http.StatusNotFound, "%s's log is empty", election)
			return
		}
		var ts []Turn
		if after < size {
			if ts, err = turns.Since(election, after, size); err != nil {
				fail(w, http.StatusInternalServerError, "%v", err)
				return
			}
		}
		pts, err := audit.Series(l, election, seriesSizes(after, size, points, ts))
		if err != nil {
			fail(w, http.StatusInternalServerError, "%v", err)
			return
		}
		if ts == nil {
			ts = []Turn{}
		}
		writeJSON(w, http.StatusOK, SeriesResponse{Election: election, TreeSize: size, Points: pts, Turns: ts})
	})
}

// seriesSizes is [audit.SeriesSizes] and, for each turn, the sizes just
// before and just after its entry, so that the chart's line passes through
// every turn.
func seriesSizes(after, size uint64, points int, turns []Turn) []uint64 {
	sizes := audit.SeriesSizes(after, size, points)
	if len(turns) == 0 {
		return sizes
	}
	for _, t := range turns {
		for _, n := range []uint64{t.Index, t.Index + 1} {
			if n > after && n <= size && n >= 1 {
				sizes = append(sizes, n)
			}
		}
	}
	slices.Sort(sizes)
	return slices.Compact(sizes)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

// fail answers with the API's error body (api.Problem).
func fail(w http.ResponseWriter, status int, format string, args ...any) {
	writeJSON(w, status, map[string]string{"error": fmt.Sprintf(format, args...)})
}
