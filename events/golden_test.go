package events_test

import (
	"bytes"
	"crypto/sha256"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/election-audit/ledger/events"
	"github.com/election-audit/ledger/internal/testkeys"
)

// The offices of the golden files, with the fixed test keys of package
// testkeys: the Secretary of State is the authority, DeKalb's and Cobb's
// election offices report.
var (
	keySOS    = testkeys.New("ga-sos")
	keyDeKalb = testkeys.New("dekalb-elections")
	keyCobb   = testkeys.New("cobb-elections")
	// The submission of the golden files: DeKalb's report, alone.
	idSubmission         = uuid.MustParse("015b8415-9a60-7d35-85fc-54e0f33a4995") // 2017-04-19T02:41:00Z
	idRejectedSubmission = uuid.MustParse("015b841d-d7c0-70cd-938a-2ea64f612b36") // 2017-04-19T02:50:00Z
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/golden")

const goldenDir = "testdata/golden"

// The election of the golden files: Georgia's 6th congressional district
// special election of 18 April 2017. Counts are the official DeKalb and
// Fulton figures from data/ga06-2017/export-2017AprSpec.json.
const (
	election   = "ga06-2017-04"
	sosExport  = "export-2017AprSpec.json"
	sosSHA256  = "922fea3cb7e75b16d3f090d8b38d248e50000a56b114113bdd431149e96366fb"
	houseRace  = "us-house-6"
	senateRace = "ga-senate-32"
)

// Event IDs: UUIDv7s whose timestamps are the moments the events were made.
var (
	idManifest      = uuid.MustParse("015b582a-0300-75b3-abf2-579a5eb66403") // 2017-04-10T14:00:00Z
	idFultonFirst   = uuid.MustParse("015b83d4-99c0-7ac0-90e6-93c9a75860ed") // 2017-04-19T01:30:00Z
	idDeKalb        = uuid.MustParse("015b8415-9a60-7d35-85fc-54e0f33a4994") // 2017-04-19T02:41:00Z
	idRejected      = uuid.MustParse("015b841d-d7c0-70cd-938a-2ea64f612b35") // 2017-04-19T02:50:00Z
	idCobbWrong     = uuid.MustParse("015b8422-6ba0-76b3-9254-15909137d0b7") // 2017-04-19T02:55:00Z
	idCobbRetract   = uuid.MustParse("015b842b-9360-7014-af2c-f77a69e95865") // 2017-04-19T03:05:00Z
	idFultonCorrect = uuid.MustParse("015b8468-ea80-7726-b69f-6041cc5b87b0") // 2017-04-19T04:12:00Z
	idCertification = uuid.MustParse("015bb626-1200-700a-ac10-8553e242e3d6") // 2017-04-28T20:00:00Z
	idRecount       = uuid.MustParse("015bc486-7d80-7bee-85fb-7d10dae5e229") // 2017-05-01T15:00:00Z
	idRegister      = uuid.MustParse("015b582a-0300-75b3-abf2-579a5eb66404") // 2017-04-10T14:00:00Z
	idRevoke        = uuid.MustParse("015b8468-ea80-7726-b69f-6041cc5b87b1") // 2017-04-19T04:12:00Z
)

func ptr[T any](v T) *T { return &v }

// countRows returns the counts of one unit for Ossoff and Handel, in the
// canonical order (choice, then vote type). Each argument lists the votes
// by vote type: absentee by mail, advance in person, election day,
// provisional.
func countRows(handel, ossoff [4]int64) []events.Count {
	voteTypes := []string{"absentee-by-mail", "advance-in-person", "election-day", "provisional"}
	var c []events.Count
	for _, ch := range []struct {
		id    string
		votes [4]int64
	}{{"handel", handel}, {"ossoff", ossoff}} {
		for i, vt := range voteTypes {
			c = append(c, events.Count{Choice: ch.id, VoteType: vt, Votes: ch.votes[i]})
		}
	}
	return c
}

func goldenManifest() *events.Manifest {
	house := events.Contest{ID: houseRace, Name: "U.S. Representative, District 6", VoteFor: 1}
	for _, c := range [][2]string{
		{"abroms", "David Abroms"}, {"bhuiyan", "Mohammad Ali Bhuiyan"}, {"edwards", "Ragin Edwards"},
		{"grawert", "Keith Grawert"}, {"gray", "Bob Gray"}, {"handel", "Karen Handel"},
		{"hernandez", "Alexander Hernandez"}, {"hill", "Judson Hill"}, {"keatley", "Richard Keatley"},
		{"kremer", "Amy Kremer"}, {"levell", "Bruce Levell"}, {"llop", "William Llop"},
		{"moody", "Dan Moody"}, {"ossoff", "Jon Ossoff"}, {"pollard", "Andre Pollard"},
		{"quigg", "Rebecca Quigg"}, {"slotin", "Ron Slotin"}, {"wilson", "Kurt Wilson"},
	} {
		ch := events.Choice{ID: c[0], Name: c[1], Aliases: []string{strings.ToUpper(c[1])}}
		switch c[0] {
		case "ossoff":
			ch.Party = "DEM"
			ch.Aliases = append(ch.Aliases, "JON OSSOFF (DEM)")
		case "handel":
			ch.Party = "REP"
			ch.Aliases = append(ch.Aliases, "KAREN HANDEL (REP)")
		}
		house.Choices = append(house.Choices, ch)
	}
	senate := events.Contest{
		ID: senateRace, Name: "State Senator, District 32", VoteFor: 1,
		Units: []string{"cobb", "fulton"},
		Choices: []events.Choice{
			{ID: "beck", Name: "Hamilton Matthew Beck"},
			{ID: "campbell", Name: "Matt Campbell"},
			{ID: "daniels", Name: `Royden "Roy" Daniels`, Aliases: []string{`ROYDEN "ROY" DANIELS`}},
			{ID: "howard", Name: "Exton Howard"},
			{ID: "kirkpatrick", Name: "Kay Kirkpatrick"},
			{ID: "makris", Name: "Gus Makris"},
			{ID: "triebsch", Name: "Christine Triebsch"},
			{ID: "wiskind", Name: "Bob Wiskind"},
		},
	}
	return &events.Manifest{
		Name:      "April 18, 2017 - Special Election",
		Date:      "2017-04-18",
		Authority: keySOS.Verifier,
		VoteTypes: []events.VoteType{
			{ID: "election-day", Name: "Election Day"},
			{ID: "advance-in-person", Name: "Advance in Person"},
			{ID: "absentee-by-mail", Name: "Absentee by Mail"},
			{ID: "provisional", Name: "Provisional"},
		},
		Units: []events.Unit{
			{ID: "ga", Name: "Georgia", Kind: "state"},
			{ID: "cobb", Name: "Cobb County", Kind: "county", Parent: "ga"},
			{ID: "dekalb", Name: "DeKalb County", Kind: "county", Parent: "ga"},
			{ID: "fulton", Name: "Fulton County", Kind: "county", Parent: "ga"},
		},
		Contests: []events.Contest{house, senate},
	}
}

// dekalbReport is DeKalb County's complete count for the House race.
func dekalbReport() *events.CountReport {
	return &events.CountReport{
		Unit:    "dekalb",
		Contest: houseRace,
		Counts:  countRows([4]int64{156, 1023, 6168, 12}, [4]int64{1850, 6761, 17300, 41}),
		Source:  events.Source{File: sosExport, SHA256: sosSHA256, Version: "2017-04-19T02:40:12Z", Operator: "dekalb-elections"},
	}
}

type goldenEvent struct {
	name string // file name in testdata/golden, without .json
	ev   *events.Event
}

// goldenEvents returns one realistic event of each type, named by its type.
func goldenEvents() []goldenEvent {
	return []goldenEvent{
		{"election.defined", &events.Event{ID: idManifest, Election: election, Body: goldenManifest()}},
		{"count.reported", &events.Event{ID: idDeKalb, Election: election, ExpectedVersion: ptr[uint64](0), Body: dekalbReport()}},
		{"count.corrected", &events.Event{ID: idFultonCorrect, Election: election, ExpectedVersion: ptr[uint64](1), Body: &events.Correction{
			Corrects: idFultonFirst,
			Reason:   "memory card re-read: one card had not been uploaded & its votes were missing",
			CountReport: events.CountReport{
				Unit:    "fulton",
				Contest: houseRace,
				Counts:  countRows([4]int64{129, 4693, 14539, 45}, [4]int64{1477, 17737, 22086, 133}),
				Source:  events.Source{Operator: "fulton-elections <night desk>"},
			},
		}}},
		{"count.retracted", &events.Event{ID: idCobbRetract, Election: election, Body: &events.Retraction{
			Retracts: idCobbWrong,
			Reason:   "reported against State Senator, District 32 instead of U.S. Representative, District 6",
			Source:   events.Source{Operator: "cobb-elections"},
		}}},
		{"election.certified", &events.Event{ID: idCertification, Election: election, Body: &events.Certification{
			By:   "Georgia Secretary of State",
			Note: "No candidate received a majority; runoff between Jon Ossoff and Karen Handel on 2017-06-20.",
		}}},
		// Hypothetical: the April election had no recount.
		{"recount.ordered", &events.Event{ID: idRecount, Election: election, Body: &events.RecountOrder{
			By:     "Georgia Secretary of State",
			Reason: "Recount of Fulton County ballots requested under O.C.G.A. § 21-2-495.",
		}}},
		{"key.registered", &events.Event{ID: idRegister, Election: election, Body: &events.KeyRegistration{
			Key: keyDeKalb.Verifier, Units: []string{"dekalb"},
		}}},
		// Hypothetical: no key was revoked that night.
		{"key.revoked", &events.Event{ID: idRevoke, Election: election, Body: &events.KeyRevocation{
			Key: keyCobb.Verifier, Reason: "the key's laptop was reported stolen at 00:10; Cobb reports with its new key from now on",
		}}},
		// Hypothetical: the April manifest is small enough for one event.
		// Were it split, its second event would hold more units (a Fulton
		// precinct) and contests (turnout) like this.
		{"manifest.part", &events.Event{ID: events.ManifestPartID(idManifest, 1), Election: election, Body: &events.ManifestPart{
			Part:  1,
			Units: []events.Unit{{ID: "fulton-ss01", Name: "Sandy Springs 01", Kind: "precinct", Parent: "fulton"}},
			Contests: []events.Contest{{ID: "turnout", Name: "Turnout", Kind: events.KindTurnout,
				Choices: []events.Choice{{ID: "registered", Name: "Registered voters"}, {ID: "ballots-cast", Name: "Ballots cast"}}}},
		}}},
	}
}

// The golden submissions: DeKalb's count report signed by DeKalb's
// election office (entry.accepted), and Cobb's office reporting for DeKalb
// (entry.rejected: outside its scope). Ed25519 signatures are
// deterministic, so their bytes are fixed.
func goldenSubmissions(t *testing.T) (accepted, rejected []byte) {
	t.Helper()
	ev := &events.Event{ID: idDeKalb, Election: election, ExpectedVersion: ptr[uint64](0), Body: dekalbReport()}
	accepted, err := events.SignSubmission(keyDeKalb.Signer, keyDeKalb.Verifier, idSubmission, election, []*events.Event{ev})
	if err != nil {
		t.Fatal(err)
	}
	rejected, err = events.SignSubmission(keyCobb.Signer, keyCobb.Verifier, idRejectedSubmission, election, []*events.Event{outOfScope()})
	if err != nil {
		t.Fatal(err)
	}
	return accepted, rejected
}

// outOfScope is a report for DeKalb that Cobb's office signs.
func outOfScope() *events.Event {
	return &events.Event{ID: idRejected, Election: election, Body: &events.CountReport{
		Unit:    "dekalb",
		Contest: houseRace,
		Counts:  []events.Count{{Choice: "handel", VoteType: "election-day", Votes: 620}, {Choice: "ossoff", VoteType: "election-day", Votes: 460}},
		Source:  events.Source{Operator: "cobb-elections"},
	}}
}

func TestGoldenSubmission(t *testing.T) {
	accepted, rejected := goldenSubmissions(t)
	for _, g := range []struct {
		file   string
		bytes  []byte
		id     uuid.UUID
		signer string
		ev     *events.Event
	}{
		{"submission.accepted.txt", accepted, idSubmission, keyDeKalb.Verifier, &events.Event{ID: idDeKalb, Election: election, ExpectedVersion: ptr[uint64](0), Body: dekalbReport()}},
		{"submission.rejected.txt", rejected, idRejectedSubmission, keyCobb.Verifier, outOfScope()},
	} {
		golden := checkGoldenFile(t, g.file, g.bytes)
		sub, err := events.OpenSubmission(golden)
		if err != nil {
			t.Fatal(err)
		}
		if sub.SignatureErr != nil {
			t.Fatalf("%s: signature: %v", g.file, sub.SignatureErr)
		}
		if sub.ID != g.id || sub.Election != election || sub.Signer != g.signer || len(sub.Events) != 1 || !reflect.DeepEqual(sub.Events[0], g.ev) {
			t.Errorf("OpenSubmission(%s) = %+v", g.file, sub)
		}
		if sum := sha256.Sum256(golden); sum != sub.SHA256 {
			t.Errorf("%s: SHA-256 %x, want %x", g.file, sub.SHA256, sum)
		}
	}
}

type goldenEntry struct {
	name  string
	entry *events.Entry
}

func goldenEntries(t *testing.T) []goldenEntry {
	accepted, rejected := goldenSubmissions(t)
	cobb, _, _ := strings.Cut(strings.TrimPrefix(keyCobb.Verifier, "cobb-elections+"), "+")
	return []goldenEntry{
		{"entry.accepted", &events.Entry{
			Index:      1,
			Recorded:   time.Date(2017, 4, 19, 2, 41, 0, 271828182, time.UTC),
			Verdict:    events.Accepted,
			Submission: &events.SubmissionRef{ID: idSubmission, SHA256: sha256.Sum256(accepted), Item: 0, Signer: keyDeKalb.Verifier},
			Event:      &events.Event{ID: idDeKalb, Election: election, ExpectedVersion: ptr[uint64](0), Body: dekalbReport()},
		}},
		// The ledger refuses this at the edge (HTTP 403); it is logged
		// only if it reaches the stream another way.
		{"entry.rejected", &events.Entry{
			Index:      2,
			Recorded:   time.Date(2017, 4, 19, 2, 50, 1, 0, time.UTC),
			Verdict:    events.Rejected,
			Reason:     `not authorized: key cobb-elections+` + cobb + ` may report for cobb and their sub-units, not for unit "dekalb"`,
			Submission: &events.SubmissionRef{ID: idRejectedSubmission, SHA256: sha256.Sum256(rejected), Item: 0, Signer: keyCobb.Verifier},
			Event:      outOfScope(),
		}},
	}
}

// checkGolden compares got with the golden file name.json, or rewrites the
// file under -update, and returns the golden bytes.
func checkGolden(t *testing.T, name string, got []byte) []byte {
	t.Helper()
	return checkGoldenFile(t, name+".json", got)
}

// checkGoldenFile is checkGolden for a file name with its extension.
func checkGoldenFile(t *testing.T, file string, got []byte) []byte {
	t.Helper()
	path := filepath.Join(goldenDir, file)
	if *update {
		if err := os.MkdirAll(goldenDir, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("encoding differs from %s: the wire format changed (run go test -update if that is intended)\n got: %s\nwant: %s", path, got, want)
	}
	return want
}

func TestGoldenEvents(t *testing.T) {
	for _, g := range goldenEvents() {
		t.Run(g.name, func(t *testing.T) {
			if g.ev.Type() != events.Type(g.name) {
				t.Fatalf("golden %s holds a %s event", g.name, g.ev.Type())
			}
			got, err := g.ev.Encode()
			if err != nil {
				t.Fatal(err)
			}
			golden := checkGolden(t, g.name, got)

			dec, err := events.Decode(golden)
			if err != nil {
				t.Fatalf("Decode(golden): %v", err)
			}
			if !reflect.DeepEqual(dec, g.ev) {
				t.Errorf("Decode(golden) differs from the Go value:\n got: %+v\nwant: %+v", dec.Body, g.ev.Body)
			}
			again, err := dec.Encode()
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(again, golden) {
				t.Errorf("Encode(Decode(golden)) differs from golden:\n got: %s\nwant: %s", again, golden)
			}
			// The Go value is already valid and normal: validating it
			// changes nothing.
			if err := g.ev.Validate(); err != nil {
				t.Errorf("Validate: %v", err)
			}
			if after, _ := g.ev.Encode(); !bytes.Equal(after, golden) {
				t.Errorf("Validate changed a normal event:\n got: %s\nwant: %s", after, golden)
			}
		})
	}
}

func TestGoldenEntries(t *testing.T) {
	for _, g := range goldenEntries(t) {
		t.Run(g.name, func(t *testing.T) {
			got, err := g.entry.Encode()
			if err != nil {
				t.Fatal(err)
			}
			golden := checkGolden(t, g.name, got)

			dec, err := events.DecodeEntry(golden)
			if err != nil {
				t.Fatalf("DecodeEntry(golden): %v", err)
			}
			if !reflect.DeepEqual(dec, g.entry) {
				t.Errorf("DecodeEntry(golden) differs from the Go value:\n got: %+v\nwant: %+v", dec, g.entry)
			}
			again, err := dec.Encode()
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(again, golden) {
				t.Errorf("Encode(DecodeEntry(golden)) differs from golden:\n got: %s\nwant: %s", again, golden)
			}
		})
	}
}

// TestGoldenCoverage makes sure every event type has a golden file and no
// golden file is stale.
func TestGoldenCoverage(t *testing.T) {
	var want []string
	for _, g := range goldenEvents() {
		want = append(want, g.name+".json")
	}
	for _, g := range goldenEntries(t) {
		want = append(want, g.name+".json")
	}
	want = append(want, "submission.accepted.txt", "submission.rejected.txt")
	for _, typ := range events.Types {
		if !slices.Contains(want, string(typ)+".json") {
			t.Errorf("event type %s has no golden file", typ)
		}
	}
	files, err := filepath.Glob(filepath.Join(goldenDir, "*"))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, f := range files {
		got = append(got, filepath.Base(f))
	}
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("golden files = %v, want %v", got, want)
	}
}

// The time of an entry is written in UTC whatever the location of the
// time.Time, so the bytes do not depend on the node's time zone.
func TestEntryRecordedIsUTC(t *testing.T) {
	g := goldenEntries(t)[0]
	utc, err := g.entry.Encode()
	if err != nil {
		t.Fatal(err)
	}
	atlanta := time.FixedZone("EDT", -4*60*60)
	local := *g.entry
	local.Recorded = g.entry.Recorded.In(atlanta)
	got, err := local.Encode()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, utc) {
		t.Errorf("entry with a recorded time in EDT encodes as\n%s\nwant\n%s", got, utc)
	}
	if !bytes.Contains(got, []byte(`"recorded":"2017-04-19T02:41:00.271828182Z"`)) {
		t.Errorf("entry does not hold its time as RFC 3339 UTC with nanoseconds: %s", got)
	}
}
