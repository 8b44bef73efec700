package importer_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/election-audit/ledger/events"
	"github.com/election-audit/ledger/importer"
)

// TestCheckTotals: the reports must give every contest and choice exactly
// the file's own votes; a dropped report, an extra one or a changed count is
// refused, naming the first pair that differs.
func TestCheckTotals(t *testing.T) {
	c := func(choice, vt string, n int64) events.Count {
		return events.Count{Choice: choice, VoteType: vt, Votes: n}
	}
	reports := func() []*events.CountReport {
		return []*events.CountReport{
			{Unit: "north", Contest: "governor", Counts: []events.Count{c("jones", "day", 10), c("jones", "mail", 2), c("smith", "day", 7)}},
			{Unit: "south", Contest: "governor", Counts: []events.Count{c("jones", "day", 5), c("smith", "day", 0)}},
			{Unit: "north", Contest: "sheriff", Counts: []events.Count{c("lee", "day", 3)}},
		}
	}
	want := map[importer.ContestChoice]int64{
		{Contest: "governor", Choice: "jones"}: 17,
		{Contest: "governor", Choice: "smith"}: 7,
		{Contest: "sheriff", Choice: "lee"}:    3,
	}

	got, err := importer.CheckTotals("f.csv", reports(), want)
	if err != nil {
		t.Fatalf("equal totals refused: %v", err)
	}
	if w := (importer.Totals{Contests: 2, Choices: 3, Votes: 27}); got != w {
		t.Errorf("totals = %+v, want %+v", got, w)
	}

	for _, tc := range []struct {
		name   string
		change func([]*events.CountReport) []*events.CountReport
		msg    string // in the error
	}{
		{"dropped report", func(r []*events.CountReport) []*events.CountReport {
			return r[1:]
		}, `contest "governor", choice "jones" 5 votes, but the file's own rows give 17 (2 contest-choice pairs differ)`},
		{"dropped last report", func(r []*events.CountReport) []*events.CountReport {
			return r[:2]
		}, `contest "sheriff", choice "lee" 0 votes, but the file's own rows give 3 (1 contest-choice pairs differ)`},
		{"extra report", func(r []*events.CountReport) []*events.CountReport {
			return append(r, &events.CountReport{Unit: "south", Contest: "sheriff", Counts: []events.Count{c("lee", "day", 1)}})
		}, `contest "sheriff", choice "lee" 4 votes, but the file's own rows give 3`},
		{"report twice", func(r []*events.CountReport) []*events.CountReport {
			return append(r, r[2])
		}, `contest "sheriff", choice "lee" 6 votes`},
		{"unknown choice", func(r []*events.CountReport) []*events.CountReport {
			r[2].Counts = append(r[2].Counts, c("ward", "day", 0))
			return r
		}, `contest "sheriff", choice "ward" 0 votes, but the file's own rows give 0`},
		{"changed count", func(r []*events.CountReport) []*events.CountReport {
			r[0].Counts[1].Votes = 3
			return r
		}, `contest "governor", choice "jones" 18 votes, but the file's own rows give 17`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := importer.CheckTotals("f.csv", tc.change(reports()), want)
			var ie *importer.Error
			if !errors.As(err, &ie) {
				t.Fatalf("got %+v, %v; want an *importer.Error", got, err)
			}
			if ie.File != "f.csv" || !strings.Contains(ie.Msg, tc.msg) || !strings.Contains(ie.Msg, "nothing is logged") {
				t.Errorf("error %q lacks file f.csv or %q", err, tc.msg)
			}
			if got != (importer.Totals{}) {
				t.Errorf("totals %+v with an error", got)
			}
		})
	}
}
