package audit

// The share series: an election's race totals at several log sizes,
// computed in one fold pass, for charts of each choice's share over the
// log (the dashboard's, package dashboard).

import (
	"fmt"
	"slices"
	"time"

	"github.com/election-audit/ledger/events"
	"github.com/election-audit/ledger/projections"
)

// SeriesPoint is the totals of an election's races as they stood after
// entries [0, TreeSize): for each contest, what the as-of tally at TreeSize
// ([TallyAt]) says, without the units. Turnout contests are left out: they
// have no shares.
type SeriesPoint struct {
	TreeSize     uint64          `json:"tree_size"`
	LastRecorded string          `json:"last_recorded"` // stream time of entry tree_size-1
	Contests     []SeriesContest `json:"contests"`
}

// SeriesContest is one race's totals at a point of a series.
type SeriesContest struct {
	ID            string         `json:"id"`
	UnitsReported int64          `json:"units_reported"`
	UnitsTotal    int64          `json:"units_total"`
	TotalVotes    int64          `json:"total_votes"`
	Choices       []SeriesChoice `json:"choices"` // manifest order
}

// SeriesChoice is one choice's votes and share (two decimals, as in the
// tally) at a point of a series.
type SeriesChoice struct {
	ID    string `json:"id"`
	Votes int64  `json:"votes"`
	Share string `json:"share"`
}

// Series returns the race totals of an election at each of sizes (strictly
// increasing, each at least 1), read from src in one pass in log order:
// each entry it needs is folded once, and when src keeps snapshots
// ([Snapshots]) it skips ahead to the newest one before a point whenever
// that saves more than [SeriesSkip] entries, so that a few points spread
// over a long log cost about as much as a few as-of tallies. Entries are
// checked as [ProjectionAt] checks them, so each point equals the as-of
// tally at its size.
func Series(src Source, election string, sizes []uint64) ([]SeriesPoint, error) {
	if len(sizes) > 0 && sizes[0] == 0 {
		return nil, fmt.Errorf("couldn't compute the series of %s at size 0: a log starts with its manifest", election)
	}
	for i := 1; i < len(sizes); i++ {
		if sizes[i] <= sizes[i-1] {
			return nil, fmt.Errorf("couldn't compute the series of %s: sizes %d and %d are not increasing", election, sizes[i-1], sizes[i])
		}
	}
	if len(sizes) > 0 && sizes[0] < events.MaxManifestParts {
		// A size inside a manifest in parts has no tally: the first point
		// is where the election is defined.
		m, err := manifestOf(src, election)
		if err != nil {
			return nil, fmt.Errorf("couldn't compute the series of %s: %w", election, err)
		}
		if k := uint64(events.ManifestEvents(m)); sizes[0] < k {
			i := 0
			for i < len(sizes) && sizes[i] < k {
				i++
			}
			if i == len(sizes) || sizes[i] != k {
				i--
				sizes = slices.Clone(sizes)
				sizes[i] = k
			}
			sizes = sizes[i:]
		}
	}
	ss, snapshots := src.(Snapshots)
	var proj *projections.Election
	var pos uint64 // proj stands after entries [0, pos)
	var last time.Time
	out := make([]SeriesPoint, 0, len(sizes))
	for _, n := range sizes {
		// Entry n-1 is folded for every point, for its time: a snapshot
		// before n, not at it.
		if snapshots && n-1 > pos+SeriesSkip {
			at, _, err := ss.Snapshot(election, n-1)
			if err != nil {
				return nil, fmt.Errorf("couldn't read a snapshot of %s at or before %d: %w", election, n-1, err)
			}
			if at > pos+SeriesSkip {
				p, start, err := startAt(src, election, n-1)
				if err != nil {
					return nil, err
				}
				if start > pos {
					proj, pos = p, start
				}
			}
		}
		err := fold(src, election, pos, n, &proj, func(en *events.Entry) error {
			last = en.Recorded
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("couldn't compute the series of %s: %w", election, err)
		}
		pos = n
		out = append(out, seriesPoint(proj, n, last))
	}
	return out, nil
}

// SeriesSkip is how many entries [Series] folds rather than read a
// snapshot: a snapshot is worth restoring only to skip many entries.
const SeriesSkip = 512

func seriesPoint(proj *projections.Election, size uint64, last time.Time) SeriesPoint {
	t := proj.Tally()
	p := SeriesPoint{TreeSize: size, LastRecorded: last.UTC().Format(time.RFC3339Nano), Contests: []SeriesContest{}}
	for _, c := range t.Contests {
		if c.Kind == events.KindTurnout {
			continue
		}
		sc := SeriesContest{ID: c.ID, UnitsReported: c.UnitsReported, UnitsTotal: c.UnitsTotal,
			TotalVotes: c.TotalVotes, Choices: make([]SeriesChoice, 0, len(c.Choices))}
		for _, ch := range c.Choices {
			sc.Choices = append(sc.Choices, SeriesChoice{ID: ch.ID, Votes: ch.Votes, Share: ch.Share})
		}
		p.Contests = append(p.Contests, sc)
	}
	return p
}

// SeriesSizes picks at most points log sizes in (after, size], evenly
// spaced and ending at size: every size when there are no more than points
// of them. It returns none when after ≥ size.
func SeriesSizes(after, size uint64, points int) []uint64 {
	if after >= size || points <= 0 {
		return nil
	}
	span := size - after
	if span <= uint64(points) {
		out := make([]uint64, 0, span)
		for s := after + 1; s <= size; s++ {
			out = append(out, s)
		}
		return out
	}
	out := make([]uint64, 0, points)
	for i := uint64(1); i <= uint64(points); i++ {
		// Rounded up, so the last is size; distinct, since span > points.
		out = append(out, after+(i*span+uint64(points)-1)/uint64(points))
	}
	return slices.Compact(out)
}
