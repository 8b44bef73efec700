package gasos_test

import (
	"bytes"
	"errors"
	"io/fs"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/election-audit/ledger/events"
	"github.com/election-audit/ledger/importer"
	"github.com/election-audit/ledger/importer/gasos"
	"github.com/election-audit/ledger/internal/ga06"
)

func readEmbedded(t testing.TB, file string) []byte {
	t.Helper()
	b, err := fs.ReadFile(ga06.Files(), file)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func parseEmbedded(t *testing.T, file, election string) *importer.Import {
	t.Helper()
	imp, err := gasos.Parse(bytes.NewReader(readEmbedded(t, file)), file, election)
	if err != nil {
		t.Fatal(err)
	}
	checkValid(t, imp)
	return imp
}

// checkValid submits every body as events would: wrapped in an event,
// validated, encoded and decoded back.
func checkValid(t testing.TB, imp *importer.Import) {
	t.Helper()
	bodies := []events.Body{imp.Manifest}
	for _, r := range imp.Reports {
		bodies = append(bodies, r)
	}
	for i, body := range bodies {
		ev := &events.Event{ID: uuid.Must(uuid.NewV7()), Election: imp.Election, Body: body}
		before, err := ev.Encode()
		if err != nil {
			t.Fatalf("body %d: %v", i, err)
		}
		if err := ev.Validate(); err != nil {
			t.Fatalf("body %d (%s) is invalid: %v", i, body.Type(), err)
		}
		enc, err := ev.Encode()
		if err != nil {
			t.Fatalf("body %d: %v", i, err)
		}
		if !bytes.Equal(enc, before) {
			t.Errorf("body %d: Validate changed it: Parse must return bodies already normalised", i)
		}
		back, err := events.Decode(enc)
		if err != nil {
			t.Fatalf("body %d does not decode: %v", i, err)
		}
		if !reflect.DeepEqual(back.Body, body) {
			t.Errorf("body %d changed in an encode/decode round trip", i)
		}
	}
}

// totals sums an import's counts by choice, unit and vote type for one
// contest.
type totals struct {
	all                    int64
	choice, unit, voteType map[string]int64
}

func sum(imp *importer.Import, contest string) totals {
	s := totals{choice: map[string]int64{}, unit: map[string]int64{}, voteType: map[string]int64{}}
	for _, r := range imp.Reports {
		if r.Contest != contest {
			continue
		}
		for _, c := range r.Counts {
			s.all += c.Votes
			s.choice[c.Choice] += c.Votes
			s.unit[r.Unit] += c.Votes
			s.voteType[c.VoteType] += c.Votes
		}
	}
	return s
}

func wantEqual[T comparable](t *testing.T, what string, got, want T) {
	t.Helper()
	if got != want {
		t.Errorf("%s = %v, want %v", what, got, want)
	}
}

func contest(t *testing.T, m *events.Manifest, id string) *events.Contest {
	t.Helper()
	i := slices.IndexFunc(m.Contests, func(c events.Contest) bool { return c.ID == id })
	if i < 0 {
		t.Fatalf("no contest %q", id)
	}
	return &m.Contests[i]
}

func choice(t *testing.T, c *events.Contest, id string) *events.Choice {
	t.Helper()
	i := slices.IndexFunc(c.Choices, func(ch events.Choice) bool { return ch.ID == id })
	if i < 0 {
		t.Fatalf("no choice %q in %q", id, c.ID)
	}
	return &c.Choices[i]
}

const house = "us-representative-district-6"

// TestApril checks the official totals of the 18 April 2017 special
// election (data/SOURCES.md in internal/ga06).
func TestApril(t *testing.T) {
	imp := parseEmbedded(t, ga06.AprilFile, ga06.AprilElection)
	m := imp.Manifest
	wantEqual(t, "name", m.Name, "April 18, 2017 - Special Election")
	wantEqual(t, "date", m.Date, "2017-04-18")
	wantEqual(t, "vote types", fmtVoteTypes(m.VoteTypes), "election-day=Election Day, absentee-by-mail=Absentee by Mail, advance-in-person=Advance in Person, provisional=Provisional")
	wantEqual(t, "units", fmtUnits(m.Units), "ga=Georgia(state), cobb=Cobb County(county<ga), dekalb=DeKalb County(county<ga), fulton=Fulton County(county<ga)")
	wantEqual(t, "contests", len(m.Contests), 2)

	h := contest(t, m, house)
	wantEqual(t, "house name", h.Name, "U.S. Representative, District 6")
	wantEqual(t, "house vote for", h.VoteFor, 1)
	wantEqual(t, "house choices", len(h.Choices), 18)
	wantEqual(t, "house units", len(h.Units), 0) // in every county
	ossoff := choice(t, h, "jon-ossoff")
	wantEqual(t, "ossoff name", ossoff.Name, "Jon Ossoff")
	if !slices.Contains(ossoff.Aliases, "JON OSSOFF") {
		t.Errorf("ossoff aliases %q lack JON OSSOFF", ossoff.Aliases)
	}

	s := sum(imp, house)
	wantEqual(t, "house total", s.all, 192_569)
	for id, want := range map[string]int64{
		"jon-ossoff": 92_673, "karen-handel": 38_071, "bob-gray": 20_802, "dan-moody": 17_028,
		"judson-hill": 16_870, "kurt-wilson": 1_820, "david-abroms": 1_639,
	} {
		wantEqual(t, id, s.choice[id], want)
	}
	wantEqual(t, "choices with votes", len(s.choice), 18)
	for id, want := range map[string]int64{"cobb": 61_229, "dekalb": 44_299, "fulton": 87_041} {
		wantEqual(t, id, s.unit[id], want)
	}
	for id, want := range map[string]int64{
		"election-day": 135_302, "advance-in-person": 50_262, "absentee-by-mail": 6_583, "provisional": 422,
	} {
		wantEqual(t, id, s.voteType[id], want)
	}

	sen := contest(t, m, "state-senator-district-32")
	wantEqual(t, "senate choices", len(sen.Choices), 8)
	wantEqual(t, "senate units", strings.Join(sen.Units, ","), "cobb,fulton")
	daniels := choice(t, sen, "royden-roy-daniels")
	wantEqual(t, "daniels name", daniels.Name, `Royden "Roy" Daniels`)

	// One report per county and ballot item, in file order.
	var got []string
	for _, r := range imp.Reports {
		got = append(got, r.Unit+"/"+r.Contest)
		wantEqual(t, r.Unit+"/"+r.Contest+" source file", r.Source.File, ga06.AprilFile)
		wantEqual(t, r.Unit+"/"+r.Contest+" source sha256", r.Source.SHA256, "922fea3cb7e75b16d3f090d8b38d248e50000a56b114113bdd431149e96366fb")
	}
	wantEqual(t, "reports", strings.Join(got, " "), "cobb/"+house+" cobb/state-senator-district-32 dekalb/"+house+" fulton/"+house+" fulton/state-senator-district-32")
}

// TestJune checks the runoff's official totals and that names with party
// tags map to the same IDs as in April.
func TestJune(t *testing.T) {
	imp := parseEmbedded(t, ga06.JuneFile, ga06.JuneElection)
	m := imp.Manifest
	wantEqual(t, "name", m.Name, "June 20, 2017 - Special Runoff")
	wantEqual(t, "date", m.Date, "2017-06-20")
	h := contest(t, m, house)
	wantEqual(t, "choices", len(h.Choices), 2)
	ossoff := choice(t, h, "jon-ossoff")
	wantEqual(t, "ossoff name", ossoff.Name, "Jon Ossoff")
	wantEqual(t, "ossoff party", ossoff.Party, "DEM")
	wantEqual(t, "ossoff aliases", strings.Join(ossoff.Aliases, "|"), "JON OSSOFF (DEM)|JON OSSOFF")
	wantEqual(t, "handel party", choice(t, h, "karen-handel").Party, "REP")
	s := sum(imp, house)
	wantEqual(t, "handel", s.choice["karen-handel"], 134_799)
	wantEqual(t, "ossoff", s.choice["jon-ossoff"], 125_517)
	wantEqual(t, "reports", len(imp.Reports), 3)
}

// TestDeterministic parses twice and expects the same result.
func TestDeterministic(t *testing.T) {
	a := parseEmbedded(t, ga06.AprilFile, "a")
	b := parseEmbedded(t, ga06.AprilFile, "a")
	if !reflect.DeepEqual(a, b) {
		t.Error("two parses of the same file differ")
	}
}

func fmtVoteTypes(vts []events.VoteType) string {
	var s []string
	for _, v := range vts {
		s = append(s, v.ID+"="+v.Name)
	}
	return strings.Join(s, ", ")
}

func fmtUnits(us []events.Unit) string {
	var s []string
	for _, u := range us {
		k := u.Kind
		if u.Parent != "" {
			k += "<" + u.Parent
		}
		s = append(s, u.ID+"="+u.Name+"("+k+")")
	}
	return strings.Join(s, ", ")
}

func asError(t *testing.T, err error) *importer.Error {
	t.Helper()
	var e *importer.Error
	if !errors.As(err, &e) {
		t.Fatalf("error %v (%T) is not a *importer.Error", err, err)
	}
	return e
}
