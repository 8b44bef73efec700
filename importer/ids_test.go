package importer_test

import (
	"bytes"
	"io/fs"
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/election-audit/ledger/events"
	"github.com/election-audit/ledger/importer"
	"github.com/election-audit/ledger/importer/gasos"
	"github.com/election-audit/ledger/importer/openelections"
	"github.com/election-audit/ledger/internal/ga06"
)

// The GA-06 files are read from internal/ga06 (embedded): the same bytes as
// ../shared/data/ga06-2017 (their SHA256SUMS), always present.

func runoffFile(t *testing.T, name string) openelections.File {
	t.Helper()
	data, err := fs.ReadFile(ga06.Files(), name)
	if err != nil {
		t.Fatal(err)
	}
	return openelections.File{Name: name, Data: data}
}

func parseCSVs(t *testing.T, files ...openelections.File) *importer.Import {
	t.Helper()
	imp, err := openelections.ParseFiles(files, ga06.JuneElection, openelections.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return imp
}

func parseSOS(t *testing.T, f openelections.File, election string) *importer.Import {
	t.Helper()
	imp, err := gasos.Parse(bytes.NewReader(f.Data), f.Name, election)
	if err != nil {
		t.Fatal(err)
	}
	return imp
}

// reportIDs returns the IDs of the count reports among evs, and fails the
// test if two share one.
func reportIDs(t *testing.T, what string, evs []*events.Event) map[uuid.UUID]*events.CountReport {
	t.Helper()
	out := map[uuid.UUID]*events.CountReport{}
	for _, ev := range evs {
		r, ok := ev.Body.(*events.CountReport)
		if !ok {
			continue
		}
		if _, dup := out[ev.ID]; dup {
			t.Fatalf("%s: two reports with ID %s", what, ev.ID)
		}
		out[ev.ID] = r
	}
	return out
}

func sameIDs(t *testing.T, what string, got, want map[uuid.UUID]*events.CountReport) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("%s: %d report IDs, want %d", what, len(got), len(want))
	}
	n := 0
	for id, r := range got {
		if _, ok := want[id]; !ok {
			if n++; n <= 3 {
				t.Errorf("%s: report for %s, %s from %s has ID %s, not one of the first import's", what, r.Unit, r.Contest, r.Source.File, id)
			}
		}
	}
}

// TestEventIDsByContent: a report's event ID depends on what it reports and
// the file's bytes, not on its position, on the other files imported with
// it or on the file's name. The runoff's three precinct files imported
// together, each alone (bound to the manifest the three logged), in another
// order, and a renamed copy give the same IDs; so do the state's export
// merged before or after them.
func TestEventIDsByContent(t *testing.T) {
	var csvs []openelections.File
	for _, name := range ga06.PrecinctFiles {
		csvs = append(csvs, runoffFile(t, name))
	}
	three := parseCSVs(t, csvs...)
	evs, err := three.EventsFor(nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := evs[0].Body.(*events.Manifest); !ok {
		t.Fatalf("event 0 is a %s, want the manifest", evs[0].Body.Type())
	}
	want := reportIDs(t, "three files", evs)
	if len(want) != len(three.Reports) {
		t.Fatalf("%d report IDs for %d reports", len(want), len(three.Reports))
	}

	// Each file alone, bound to the election the three made.
	union := map[uuid.UUID]*events.CountReport{}
	for _, f := range csvs {
		evs, err := parseCSVs(t, f).EventsFor(three.Manifest)
		if err != nil {
			t.Fatalf("%s alone: %v", f.Name, err)
		}
		got := reportIDs(t, f.Name+" alone", evs)
		if len(got) != len(evs) {
			t.Errorf("%s alone: %d events, %d of them reports: want reports only", f.Name, len(evs), len(got))
		}
		for id, r := range got {
			w, ok := want[id]
			if !ok {
				t.Fatalf("%s alone: report for %s, %s has ID %s, not one of the three files'", f.Name, r.Unit, r.Contest, id)
			}
			if w.Unit != r.Unit || w.Contest != r.Contest || !slices.Equal(w.Counts, r.Counts) || w.Source != r.Source {
				t.Fatalf("%s alone: ID %s is %+v, but was %+v", f.Name, id, r, w)
			}
		}
		maps.Copy(union, got)
	}
	sameIDs(t, "each file alone", union, want)

	// Another order: as a new election, and bound to the first's.
	other := parseCSVs(t, csvs[2], csvs[0], csvs[1])
	evs, err = other.EventsFor(nil)
	if err != nil {
		t.Fatal(err)
	}
	sameIDs(t, "another order", reportIDs(t, "another order", evs), want)
	evs, err = other.EventsFor(three.Manifest)
	if err != nil {
		t.Fatal(err)
	}
	sameIDs(t, "another order, bound", reportIDs(t, "another order, bound", evs), want)

	// A renamed byte-identical copy is the same source: the same IDs. Its
	// reports name the new file, which is why `ledger import` gives them
	// the name the ledger logged before it submits them.
	cobb := parseCSVs(t, csvs[0])
	cobbEvs, err := cobb.EventsFor(three.Manifest)
	if err != nil {
		t.Fatal(err)
	}
	renamed := openelections.File{Name: "results (1).csv", Data: csvs[0].Data}
	imp, err := openelections.ParseFiles([]openelections.File{renamed}, ga06.JuneElection, openelections.Options{State: "ga", Date: "2017-06-20"})
	if err != nil {
		t.Fatal(err)
	}
	evs, err = imp.EventsFor(three.Manifest)
	if err != nil {
		t.Fatal(err)
	}
	got := reportIDs(t, "renamed copy", evs)
	sameIDs(t, "renamed copy", got, reportIDs(t, "cobb", cobbEvs))
	for _, r := range got {
		if r.Source.File != renamed.Name || r.Source.SHA256 != cobb.Reports[0].Source.SHA256 {
			t.Fatalf("renamed copy: source %+v", r.Source)
		}
	}

	// The state's export with them: merged after or before them, alone,
	// or the precinct files alone, bound to the election all four made.
	sos := parseSOS(t, runoffFile(t, ga06.JuneFile), ga06.JuneElection)
	merged, err := importer.Merge(three, sos)
	if err != nil {
		t.Fatal(err)
	}
	evs, err = merged.EventsFor(nil)
	if err != nil {
		t.Fatal(err)
	}
	all := reportIDs(t, "files and export", evs)
	if len(all) != len(three.Reports)+len(sos.Reports) {
		t.Fatalf("files and export: %d report IDs, want %d", len(all), len(three.Reports)+len(sos.Reports))
	}
	sosFirst, err := importer.Merge(sos, other)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		what string
		imp  *importer.Import
		want int
	}{
		{"export, then files, bound", sosFirst, len(all)},
		{"export alone, bound", sos, len(sos.Reports)},
		{"files alone, bound", three, len(three.Reports)},
	} {
		evs, err := c.imp.EventsFor(merged.Manifest)
		if err != nil {
			t.Fatalf("%s: %v", c.what, err)
		}
		got := reportIDs(t, c.what, evs)
		if len(got) != c.want {
			t.Errorf("%s: %d report IDs, want %d", c.what, len(got), c.want)
		}
		for id, r := range got {
			if all[id] == nil {
				t.Fatalf("%s: report for %s, %s from %s has ID %s, not one of the first import's", c.what, r.Unit, r.Contest, r.Source.File, id)
			}
		}
	}
}

// TestEventIDsOfCounts: an ID changes with each thing a report reports,
// and with nothing else.
func TestEventIDsOfCounts(t *testing.T) {
	report := func() *events.CountReport {
		return &events.CountReport{Unit: "u", Contest: "c", Counts: []events.Count{
			{Choice: "a", VoteType: "day", Votes: 10}, {Choice: "a", VoteType: "mail", Votes: 2}, {Choice: "b", VoteType: "day", Votes: 7},
		}, Source: events.Source{File: "f.csv", SHA256: strings.Repeat("ab", 32)}}
	}
	id := func(r *events.CountReport) uuid.UUID {
		t.Helper()
		imp := &importer.Import{Election: "e-2026", Manifest: &events.Manifest{Date: "2026-11-03"}, Reports: []*events.CountReport{r}}
		evs, err := imp.Events(false)
		if err != nil || len(evs) != 1 {
			t.Fatalf("Events: %v, %d events", err, len(evs))
		}
		return evs[0].ID
	}
	base := id(report())
	if base.Version() != 7 || base.Variant() != uuid.RFC4122 {
		t.Fatalf("ID %s is not a UUIDv7", base)
	}
	same := map[string]func(r *events.CountReport){
		"another file name": func(r *events.CountReport) { r.Source.File = "g.csv" },
		"counts in another order": func(r *events.CountReport) {
			r.Counts[0], r.Counts[2] = r.Counts[2], r.Counts[0]
		},
	}
	for what, change := range same {
		r := report()
		change(r)
		if got := id(r); got != base {
			t.Errorf("%s: ID %s, want %s", what, got, base)
		}
	}
	differ := map[string]func(r *events.CountReport){
		"unit":            func(r *events.CountReport) { r.Unit = "v" },
		"contest":         func(r *events.CountReport) { r.Contest = "d" },
		"file's SHA-256":  func(r *events.CountReport) { r.Source.SHA256 = strings.Repeat("cd", 32) },
		"a vote":          func(r *events.CountReport) { r.Counts[1].Votes++ },
		"a choice":        func(r *events.CountReport) { r.Counts[2].Choice = "c" },
		"a vote type":     func(r *events.CountReport) { r.Counts[1].VoteType = "early" },
		"a count less":    func(r *events.CountReport) { r.Counts = r.Counts[:2] },
		"parts run on":    func(r *events.CountReport) { r.Counts[0].Choice, r.Counts[0].VoteType = "ad", "ay" },
		"an ID's letters": func(r *events.CountReport) { r.Unit, r.Contest = "uc", "" },
	}
	seen := map[uuid.UUID]string{base: "the report"}
	for what, change := range differ {
		r := report()
		change(r)
		got := id(r)
		if prev, ok := seen[got]; ok {
			t.Errorf("%s: ID %s, the same as %s's", what, got, prev)
		}
		seen[got] = what
	}
}

// TestEventsRepeated: the same file given twice logs its reports once; a
// report repeated after a different one for the same unit and contest is
// an error, since leaving it out would change the tally.
func TestEventsRepeated(t *testing.T) {
	sos := parseSOS(t, runoffFile(t, ga06.JuneFile), ga06.JuneElection)
	twice, err := importer.Merge(sos, sos)
	if err != nil {
		t.Fatal(err)
	}
	once, err := sos.EventsFor(nil)
	if err != nil {
		t.Fatal(err)
	}
	evs, err := twice.EventsFor(nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(evs) != len(once) {
		t.Fatalf("the export twice: %d events, want %d", len(evs), len(once))
	}
	r1 := &events.CountReport{Unit: "u", Contest: "c", Counts: []events.Count{{Choice: "a", VoteType: "total", Votes: 1}},
		Source: events.Source{File: "f.csv", SHA256: strings.Repeat("ab", 32)}}
	r2 := &events.CountReport{Unit: "u", Contest: "c", Counts: []events.Count{{Choice: "a", VoteType: "total", Votes: 2}}, Source: r1.Source}
	imp := &importer.Import{Election: "e-2026", Manifest: &events.Manifest{Date: "2026-11-03"}, Reports: []*events.CountReport{r1, r2, r1}}
	if _, err := imp.Events(false); err == nil || !strings.Contains(err.Error(), "report 3 (unit \"u\", contest \"c\", from f.csv) is report 1 again") {
		t.Fatalf("a report repeated after another: %v", err)
	}
}

// TestBindDate: files of another election are refused, naming both dates
// and the file, even where their contests and candidates would match; and
// files of two dates do not merge.
func TestBindDate(t *testing.T) {
	april := parseSOS(t, runoffFile(t, ga06.AprilFile), ga06.AprilElection)
	june := parseSOS(t, runoffFile(t, ga06.JuneFile), ga06.AprilElection)
	if april.Manifest.Date != "2017-04-18" || june.Manifest.Date != "2017-06-20" {
		t.Fatalf("dates %s and %s", april.Manifest.Date, june.Manifest.Date)
	}
	const msg = "export-2017JunSpecRun.json with election ga06-2017-04: the files are of an election on 2017-06-20, but election ga06-2017-04 is on 2017-04-18"
	if _, err := importer.Bind(april.Manifest, june); err == nil || !strings.Contains(err.Error(), msg) {
		t.Errorf("Bind: %v", err)
	}
	if _, err := june.EventsFor(april.Manifest); err == nil || !strings.Contains(err.Error(), msg) {
		t.Errorf("EventsFor: %v", err)
	}
	if _, err := importer.Merge(april, june); err == nil || !strings.Contains(err.Error(),
		"export-2017AprSpec.json (an election on 2017-04-18) with export-2017JunSpecRun.json (an election on 2017-06-20)") {
		t.Errorf("Merge: %v", err)
	}
	// The same date binds.
	if _, err := april.EventsFor(april.Manifest); err != nil {
		t.Errorf("binding the April export to its own manifest: %v", err)
	}
}
