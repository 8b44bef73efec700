package watch

import (
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/election-audit/ledger/audit/logcheck"
	"github.com/election-audit/ledger/events"
)

// TestWriteChangeNames: the readable lines name units, contests, choices
// and vote types as the manifest does, and show the IDs it has no name
// for; numbers have thousands separators.
func TestWriteChangeNames(t *testing.T) {
	m := &events.Manifest{
		VoteTypes: []events.VoteType{{ID: "election-day", Name: "Election Day"}},
		Units:     []events.Unit{{ID: "ga", Name: "Georgia"}, {ID: "dekalb", Name: "DeKalb County", Parent: "ga"}},
		Contests: []events.Contest{{ID: "us-representative-district-6", Name: "U.S. Representative, District 6",
			Choices: []events.Choice{{ID: "jon-ossoff", Name: "Jon Ossoff"}, {ID: "karen-handel", Name: "Karen Handel"}}}},
	}
	at := time.Date(2017, 4, 19, 2, 0, 0, 0, time.UTC)
	report := events.CountReport{Unit: "dekalb", Contest: "us-representative-district-6"}
	old := uuid.MustParse("015b83dd-c180-7d4e-a78e-714f12322487")
	for _, tc := range []struct {
		name string
		c    logcheck.Change
		body events.Body
		want string
	}{
		{"correction", logcheck.Change{Type: events.TypeCountCorrected, Unit: "dekalb", Contest: "us-representative-district-6", Office: "dekalb-elections",
			Counts: []logcheck.CountChange{{Choice: "jon-ossoff", VoteType: "election-day", Old: 8605, New: 8650}, {Choice: "karen-handel", VoteType: "election-day", Old: 12004, New: 10}}},
			&events.Correction{Corrects: old, Reason: "typo", CountReport: report},
			"!! #13    2017-04-19T02:00:00Z  count.corrected     by dekalb-elections  CORRECTION  DeKalb County, U.S. Representative, District 6  because \"typo\" (corrects " + old.String() + ")\n" +
				"!!        Jon Ossoff, Election Day 8,605 → 8,650 (+45)\n" +
				"!!        Karen Handel, Election Day 12,004 → 10 (-11,994)\n"},
		{"retraction", logcheck.Change{Type: events.TypeCountRetracted, Unit: "dekalb", Contest: "us-representative-district-6", Office: "dekalb-elections",
			Counts: []logcheck.CountChange{{Choice: "jon-ossoff", VoteType: "election-day", Old: 8605}}},
			&events.Retraction{Retracts: old, Reason: "wrong county"},
			"!! #13    2017-04-19T02:00:00Z  count.retracted     by dekalb-elections  RETRACTION  DeKalb County, U.S. Representative, District 6  because \"wrong county\" (withdraws " + old.String() + ")\n" +
				"!!        Jon Ossoff, Election Day 8,605 → 0 (-8,605)\n"},
		{"rejected retraction", logcheck.Change{Type: events.TypeCountRetracted, Office: "dekalb-elections", Verdict: events.Rejected, Rejected: "not current"},
			&events.Retraction{Retracts: old, Reason: "again"},
			"!! #13    2017-04-19T02:00:00Z  count.retracted     by dekalb-elections  RETRACTION  a report that is not current  because \"again\" (withdraws " + old.String() + ")  REJECTED: not current\n"},
		{"IDs the manifest does not name", logcheck.Change{Type: events.TypeCountCorrected, Unit: "cobb", Contest: "senate", Office: "cobb-elections",
			Counts: []logcheck.CountChange{{Choice: "someone", VoteType: "mail", Old: 1, New: 2}}},
			&events.Correction{Corrects: old, Reason: "typo", CountReport: events.CountReport{Unit: "cobb", Contest: "senate"}},
			"!! #13    2017-04-19T02:00:00Z  count.corrected     by cobb-elections  CORRECTION  cobb, senate  because \"typo\" (corrects " + old.String() + ")\n" +
				"!!        someone, mail 1 → 2 (+1)\n"},
		{"registration", logcheck.Change{Type: events.TypeKeyRegistered, Office: "ga-sos"},
			&events.KeyRegistration{Key: "dekalb-elections+68c08e3a+AAAA", Units: []string{"dekalb", "ga"}},
			"#13    2017-04-19T02:00:00Z  key.registered      by ga-sos  KEY dekalb-elections+68c08e3a may report for DeKalb County; Georgia\n"},
	} {
		t.Run(strings.ReplaceAll(tc.name, " ", "_"), func(t *testing.T) {
			c := tc.c
			c.Index, c.Recorded = 13, at
			if c.Verdict == "" {
				c.Verdict = events.Accepted
			}
			var b strings.Builder
			var l logcheck.Labels
			if err := writeChange(&b, &c, &events.Entry{Event: &events.Event{Body: tc.body}}, l.Use(m)); err != nil {
				t.Fatal(err)
			}
			if b.String() != tc.want {
				t.Errorf("got:\n%s\nwant:\n%s", b.String(), tc.want)
			}
		})
	}
}
