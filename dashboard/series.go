package dashboard

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
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
// at TreeSize, the committed size when the request was read.
type SeriesResponse struct {
	Election string              `json:"election"`
	TreeSize uint64              `json:"tree_size"`
	Points   []audit.SeriesPoint `json:"points"`
}

// Series serves GET /v1/elections/{election}/series?points=N&after=A: the
// share series the dashboard's chart is drawn from ([audit.Series]), each
// point the as-of tally at its size without the units. Errors have the
// API's error body, {"error": "..."}.
func Series(l *ledger.Ledger) http.Handler {
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
		pts, err := audit.Series(l, election, audit.SeriesSizes(after, size, points))
		if err != nil {
			fail(w, http.StatusInternalServerError, "%v", err)
			return
		}
		writeJSON(w, http.StatusOK, SeriesResponse{Election: election, TreeSize: size, Points: pts})
	})
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
