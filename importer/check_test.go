package importer

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/election-audit/ledger/events"
)

// TestReportBound: the bound Check uses to skip encoding a report is never
// below the report's real encoded length, for text that escapes the most
// and the largest numbers.
func TestReportBound(t *testing.T) {
	worst := strings.Repeat("\x01<>&\u2028\"\\", 8) // control bytes, HTML and separators escape
	reports := []*events.CountReport{
		{Unit: "u", Contest: "c", Counts: []events.Count{{Choice: "a", VoteType: "v", Votes: 0}}, Source: events.Source{Operator: "o"}},
		{Unit: worst, Contest: worst, Source: events.Source{File: worst, SHA256: strings.Repeat("f", 64), Version: worst, Operator: worst}},
	}
	big := &events.CountReport{Unit: "precinct-0001", Contest: "us-house-6", Source: events.Source{File: "x.csv", SHA256: strings.Repeat("0", 64)}}
	for i := range 1000 {
		big.Counts = append(big.Counts, events.Count{Choice: worst[:i%len(worst)] + "x", VoteType: "election-day", Votes: events.MaxVotes})
	}
	reports = append(reports, big)
	for i, r := range reports {
		enc, err := json.Marshal(r)
		if err != nil {
			t.Fatal(err)
		}
		if b := reportBound(r); b < len(enc) {
			t.Errorf("report %d: bound %d, encoded %d bytes", i, b, len(enc))
		}
	}
}
