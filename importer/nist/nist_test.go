package nist_test

import (
	"bytes"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/election-audit/ledger/events"
	"github.com/election-audit/ledger/importer"
	"github.com/election-audit/ledger/importer/importertest"
	"github.com/election-audit/ledger/importer/nist"
	"github.com/election-audit/ledger/importer/nist/nisttest"
	"github.com/election-audit/ledger/internal/ga06"
	"github.com/election-audit/ledger/projections"
)

const golden = "testdata/golden/ga06-2017-04.json"

// TestGolden freezes the export of the April tally; run with -update after
// a deliberate change of format.
func TestGolden(t *testing.T) {
	imp, r := april(t)
	got := export(t, imp.Manifest, r.e.Tally(), opts)
	if *update {
		if err := os.WriteFile(golden, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("the export differs from %s; if the change is deliberate, run go test -update", golden)
	}
	for range 10 {
		if again := export(t, imp.Manifest, r.e.Tally(), opts); !bytes.Equal(again, got) {
			t.Fatal("two exports of the same tally differ")
		}
	}
}

// TestExportValidates checks exports of April in each status, of June (with
// parties) and of an election without results, against the NIST schema.
func TestExportValidates(t *testing.T) {
	s := nisttest.Schema(t)
	imp, r := april(t)
	check := func(name string, data []byte, status, format string) {
		t.Helper()
		if err := nisttest.Validate(s, data); err != nil {
			t.Errorf("%s: the export does not validate:\n%v", name, err)
		}
		for _, want := range []string{`"Status": "` + status + `"`, `"Format": "` + format + `"`} {
			if !bytes.Contains(data, []byte(want)) {
				t.Errorf("%s: no %s", name, want)
			}
		}
	}
	tl := r.e.Tally()
	importertest.Equal(t, "April status", tl.Status, "unofficial-complete")
	check("complete", export(t, imp.Manifest, tl, opts), "unofficial-complete", "precinct-level")
	co := opts
	co.Correction = true
	check("correction", export(t, imp.Manifest, tl, co), "correction", "precinct-level")
	r.body(&events.Certification{By: "Secretary of State"})
	check("certified", export(t, imp.Manifest, r.e.Tally(), opts), "certified", "precinct-level")
	r.body(&events.RecountOrder{By: "Superior Court", Reason: "petition"})
	check("recount", export(t, imp.Manifest, r.e.Tally(), opts), "recount", "precinct-level")

	jun, err := ga06.June()
	if err != nil {
		t.Fatal(err)
	}
	jdata := export(t, jun.Manifest, tallyOf(t, jun).e.Tally(), opts)
	check("june", jdata, "unofficial-complete", "precinct-level")
	for _, want := range []string{`"@id": "par-dem"`, `"PartyId": "par-rep"`, `"@id": "cand-jon-ossoff"`} {
		if !bytes.Contains(jdata, []byte(want)) {
			t.Errorf("june: no %s", want)
		}
	}
	pre := newRig(t, imp.Election, imp.Manifest)
	check("pre-election", export(t, imp.Manifest, pre.e.Tally(), opts), "pre-election", "summary-contest")

	tl2 := newRig(t, "summary", imp.Manifest)
	tl2.body(&events.CountReport{Unit: "ga", Contest: imp.Manifest.Contests[0].ID, Source: events.Source{Operator: "clerk"},
		Counts: []events.Count{{Choice: "jon-ossoff", VoteType: "election-day", Votes: 7}}})
	check("state only", export(t, imp.Manifest, tl2.e.Tally(), opts), "unofficial-partial", "summary-contest")
}

// TestSchemaRejects makes sure that the schema check can fail: broken
// documents are refused by it.
func TestSchemaRejects(t *testing.T) {
	s := nisttest.Schema(t)
	doc, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if err := nisttest.Validate(s, doc); err != nil {
		t.Fatalf("the golden file does not validate: %v", err)
	}
	for name, broken := range map[string]string{
		"status":          edit(t, string(doc), `"Status": "unofficial-complete"`, `"Status": "finished"`),
		"missing issuer":  edit(t, string(doc), `"Issuer": "Georgia Secretary of State",`, ``),
		"count type":      edit(t, string(doc), `"Type": "election-day"`, `"Type": "election-night"`),
		"count as string": edit(t, string(doc), `"Count": 1259`, `"Count": "1259"`),
		"unknown field":   edit(t, string(doc), `"SequenceStart": 1,`, `"SequenceStart": 1, "Sequence": 1,`),
		"date":            edit(t, string(doc), `"GeneratedDate": "2017-04-19T03:00:00Z"`, `"GeneratedDate": "19/04/2017"`),
		"report type":     edit(t, string(doc), `"@type": "ElectionResults.ElectionReport"`, `"@type": "ElectionResults.Report"`),
	} {
		if err := nisttest.Validate(s, []byte(broken)); err == nil {
			t.Errorf("%s: the schema accepted a broken document", name)
		}
	}
}

// TestRoundTrip exports the April and June tallies, parses the exports and
// folds them into new projections: the units, contests, choices and every
// unit's totals come back.
func TestRoundTrip(t *testing.T) {
	imp, r := april(t)
	jun, err := ga06.June()
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		imp *importer.Import
		tl  *projections.Tally
	}{{imp, r.e.Tally()}, {jun, tallyOf(t, jun).e.Tally()}} {
		t.Run(tc.imp.Election, func(t *testing.T) {
			data := export(t, tc.imp.Manifest, tc.tl, opts)
			back, err := nist.Parse(bytes.NewReader(data), "report.json", tc.imp.Election)
			if err != nil {
				t.Fatal(err)
			}
			importertest.CheckValid(t, back)
			if len(back.Findings) != 0 {
				t.Errorf("findings: %v", back.Findings)
			}
			sameManifest(t, tc.imp.Manifest, back.Manifest)
			importertest.Equal(t, "vote types", voteTypeIDs(back.Manifest), "election-day,absentee,early,provisional,total")
			mapped := map[string]string{"absentee-by-mail": "absentee", "advance-in-person": "early"}
			sameTotals(t, tc.tl, tallyOf(t, back).e.Tally(), mapped, tc.imp.Manifest)
			importertest.Equal(t, "report source", back.Reports[0].Source.File, "report.json")
		})
	}
}

func voteTypeIDs(m *events.Manifest) string {
	var ids []string
	for _, vt := range m.VoteTypes {
		ids = append(ids, vt.ID)
	}
	return strings.Join(ids, ",")
}

// sameManifest compares units, contests and choices, aliases aside.
func sameManifest(t *testing.T, want, got *events.Manifest) {
	t.Helper()
	importertest.Equal(t, "name", got.Name, want.Name)
	importertest.Equal(t, "date", got.Date, want.Date)
	importertest.Equal(t, "units", pretty(got.Units), pretty(want.Units))
	strip := func(cs []events.Contest) []events.Contest {
		out := make([]events.Contest, len(cs))
		for i, c := range cs {
			out[i] = c
			out[i].Choices = nil
			for _, ch := range c.Choices {
				ch.Aliases = nil
				out[i].Choices = append(out[i].Choices, ch)
			}
		}
		return out
	}
	importertest.Equal(t, "contests", pretty(strip(got.Contests)), pretty(strip(want.Contests)))
}

// sameTotals compares two tallies' votes: per contest, choice and unit, and
// per choice and vote type (mapped names vote types that come back under
// another ID).
func sameTotals(t *testing.T, want, got *projections.Tally, mapped map[string]string, m *events.Manifest) {
	t.Helper()
	scoped := map[string]bool{}
	for _, c := range m.Contests {
		scoped[c.ID] = len(c.Units) > 1
	}
	if len(got.Contests) != len(want.Contests) {
		t.Fatalf("%d contests, want %d", len(got.Contests), len(want.Contests))
	}
	for i, wc := range want.Contests {
		gc := got.Contests[i]
		importertest.Equal(t, wc.ID+" total votes", gc.TotalVotes, wc.TotalVotes)
		for j, wch := range wc.Choices {
			gch := gc.Choices[j]
			importertest.Equal(t, wc.ID+"/"+wch.ID+" votes", gch.Votes, wch.Votes)
			if scoped[wc.ID] || wc.Kind == events.KindTurnout && wch.ID == "registered" {
				// Vote types of a contest scoped to several units, and of
				// registered voters, come back as totals.
				continue
			}
			for vt, n := range wch.ByVoteType {
				if m, ok := mapped[vt]; ok {
					vt = m
				}
				importertest.Equal(t, wc.ID+"/"+wch.ID+"/"+vt, gch.ByVoteType[vt], n)
			}
		}
		units := map[string]projections.UnitTally{}
		for _, u := range gc.Units {
			units[u.ID] = u
		}
		for _, wu := range wc.Units {
			if wu.UnitsReported == 0 {
				continue
			}
			importertest.Equal(t, wc.ID+" unit "+wu.ID, pretty(units[wu.ID].Votes), pretty(wu.Votes))
		}
	}
}

// TestExportOptions checks the refusals and defaults of the options.
func TestExportOptions(t *testing.T) {
	imp, r := april(t)
	tl := r.e.Tally()
	for name, o := range map[string]nist.ExportOptions{
		"no date":    {Issuer: "x", IssuerAbbreviation: "x"},
		"no issuer":  {GeneratedDate: opts.GeneratedDate},
		"bad type":   {GeneratedDate: opts.GeneratedDate, Issuer: "x", IssuerAbbreviation: "x", ElectionType: "snap"},
		"other type": {GeneratedDate: opts.GeneratedDate, Issuer: "x", IssuerAbbreviation: "x", ElectionType: "other"},
		"no abbrev":  {GeneratedDate: opts.GeneratedDate, Issuer: "x"},
	} {
		if _, err := nist.Export(imp.Manifest, tl, o); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	jun, err := ga06.June()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := nist.Export(jun.Manifest, tl, opts); err == nil {
		t.Error("a tally of another manifest was accepted")
	}
	o := opts
	o.ElectionType, o.VendorApplicationID = "runoff", "vendor 1.0"
	o.GeneratedDate = time.Date(2017, 4, 19, 3, 0, 0, 999, time.FixedZone("EDT", -4*3600))
	data := export(t, imp.Manifest, tl, o)
	for _, want := range []string{`"Type": "runoff"`, `"VendorApplicationId": "vendor 1.0"`, `"GeneratedDate": "2017-04-19T03:00:00-04:00"`} {
		if !bytes.Contains(data, []byte(want)) {
			t.Errorf("no %s", want)
		}
	}
	data = export(t, imp.Manifest, tl, opts)
	for _, want := range []string{`"Type": "special"`, `"VendorApplicationId": "` + nist.DefaultVendorApplicationID + `"`} {
		if !bytes.Contains(data, []byte(want)) {
			t.Errorf("default: no %s", want)
		}
	}
}
