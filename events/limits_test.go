package events_test

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/election-audit/ledger/events"
)

// limitsManifest is a valid manifest: a root with units-1 precincts, vts
// vote types, and contests voted everywhere with choices choices each.
func limitsManifest(units, vts, contests, choices int) *events.Manifest {
	m := &events.Manifest{Name: "Limits", Date: "2026-11-03"}
	for i := range vts {
		m.VoteTypes = append(m.VoteTypes, events.VoteType{ID: fmt.Sprintf("vt%d", i), Name: "Vote type"})
	}
	m.Units = append(m.Units, events.Unit{ID: "root", Name: "State", Kind: "state"})
	for i := 1; i < units; i++ {
		m.Units = append(m.Units, events.Unit{ID: fmt.Sprintf("p%d", i), Name: "Precinct", Kind: "precinct", Parent: "root"})
	}
	for c := range contests {
		m.Contests = append(m.Contests, events.Contest{ID: fmt.Sprintf("c%d", c), Name: "Contest", VoteFor: 1, Choices: limitsChoices(choices)})
	}
	return m
}

func limitsChoices(n int) []events.Choice {
	out := make([]events.Choice, n)
	for i := range out {
		out[i] = events.Choice{ID: fmt.Sprintf("ch%d", i), Name: "Choice"}
	}
	return out
}

// chain is a manifest whose units are a line of depth levels.
func chain(depth int) *events.Manifest {
	m := limitsManifest(1, 1, 1, 2)
	for i := 1; i < depth; i++ {
		m.Units = append(m.Units, events.Unit{ID: fmt.Sprintf("u%d", i), Name: "Unit", Kind: "level", Parent: m.Units[i-1].ID})
	}
	return m
}

// limitsEvent wraps a manifest in an event.
func limitsEvent(m *events.Manifest) *events.Event {
	return &events.Event{ID: uuid.MustParse("015b582a-0300-75b3-abf2-579a5eb66403"), Election: "limits", Body: m}
}

// longChoices returns n choices whose IDs are long bytes, but for the
// first extra ones, one byte longer.
func longChoices(n, long, extra int) []events.Choice {
	out := make([]events.Choice, n)
	for i := range out {
		id := fmt.Sprintf("ch%0*d", long-2, i)
		if i < extra {
			id += "x"
		}
		out[i] = events.Choice{ID: id, Name: "Choice"}
	}
	return out
}

// tallyFill adds contests voted in one precinct (p1, so each shows 2 units)
// whose tally numbers add up to exactly n, n ≥ 33, with one vote type: a
// contest of k choices adds k + 2 × (k + 4) = 3k + 8. It uses as few
// contests as keep each at most 400 choices.
func tallyFill(m *events.Manifest, n int) {
	c := 1
	for (n-8*c)%3 != 0 || (n-8*c)/3 > 400*c {
		c++
	}
	total := (n - 8*c) / 3
	ks := make([]int, c)
	for i := range ks {
		ks[i] = total / c
		if i < total%c {
			ks[i]++
		}
	}
	for i, k := range ks {
		m.Contests = append(m.Contests, events.Contest{ID: fmt.Sprintf("fill%d", i), Name: "Contest", VoteFor: 1, Units: []string{"p1"}, Choices: limitsChoices(k)})
	}
}

// tallyManifest has a tally of exactly n numbers (one vote type): two
// contests of 495 choices voted in all 1,999 units give 2 × (495 + 1,999
// × 499) = 1,995,992, and tallyFill the rest.
func tallyManifest(n int) *events.Manifest {
	m := limitsManifest(1999, 1, 2, 495)
	tallyFill(m, n-1_995_992)
	return m
}

// TestManifestLimits checks each limit of a manifest: a manifest at the
// limit is valid, one past it is refused with an error that names the
// field and the limit.
func TestManifestLimits(t *testing.T) {
	for _, tc := range []struct {
		name      string
		at, over  func() *events.Manifest
		field     string
		msg       string // the whole message
		substring bool   // msg is part of the message
	}{
		{
			name:  "units",
			at:    func() *events.Manifest { return limitsManifest(events.MaxUnits, 1, 1, 2) },
			over:  func() *events.Manifest { return limitsManifest(events.MaxUnits+1, 1, 1, 2) },
			field: "data.units", msg: "50001 reporting units, more than the limit of 50000",
		},
		{
			name:  "depth",
			at:    func() *events.Manifest { return chain(events.MaxUnitDepth) },
			over:  func() *events.Manifest { return chain(events.MaxUnitDepth + 1) },
			field: "data.units[16].parent", msg: `unit "u16" would be at depth 17 of the unit tree (the root is at 1), more than the limit of 16`,
		},
		{
			name:  "contests",
			at:    func() *events.Manifest { return limitsManifest(1, 1, events.MaxContests, 1) },
			over:  func() *events.Manifest { return limitsManifest(1, 1, events.MaxContests+1, 1) },
			field: "data.contests", msg: "10001 contests, more than the limit of 10000",
		},
		{
			name:  "choices",
			at:    func() *events.Manifest { return limitsManifest(2, 1, 1, events.MaxChoices) },
			over:  func() *events.Manifest { return limitsManifest(2, 1, 1, events.MaxChoices+1) },
			field: "data.contests[0].choices", msg: "501 choices, more than the limit of 500 per contest",
		},
		{
			name:  "vote types",
			at:    func() *events.Manifest { return limitsManifest(2, events.MaxVoteTypes, 1, 2) },
			over:  func() *events.Manifest { return limitsManifest(2, events.MaxVoteTypes+1, 1, 2) },
			field: "data.vote_types", msg: "65 vote types, more than the limit of 64",
		},
		{
			name:  "cells of a contest",
			at:    func() *events.Manifest { return limitsManifest(2, 15, 1, 40) }, // 600 cells
			over:  func() *events.Manifest { return limitsManifest(2, 15, 1, 41) },
			field: "data.contests[0].choices", msg: "41 choices × 15 vote types = 615 cells, more than the limit of 600 cells per contest",
		},
		{
			name: "bytes of a contest's report",
			at: func() *events.Manifest { // 40,959 bytes of counts: 400 cells of 102 bytes, and 159 more
				m := limitsManifest(2, 1, 1, 0)
				m.VoteTypes[0].ID = strings.Repeat("v", 27)
				m.Contests[0].Choices = longChoices(400, 27, 159)
				return m
			},
			over: func() *events.Manifest {
				m := limitsManifest(2, 1, 1, 0)
				m.VoteTypes[0].ID = strings.Repeat("v", 27)
				m.Contests[0].Choices = longChoices(400, 27, 160)
				return m
			},
			field: "data.contests[0].choices", msg: "a report of this contest's 400 cells (400 choices × 1 vote types) needs 40960 bytes of counts, more than the 40959 that fit in one event: shorten its choice and vote type IDs, or split the contest",
		},
		{
			name:  "tally numbers",
			at:    func() *events.Manifest { return tallyManifest(events.MaxTallyNumbers) },
			over:  func() *events.Manifest { return tallyManifest(events.MaxTallyNumbers + 1) },
			field: "data.contests[6]", msg: "the tally would hold 2000001 numbers (choices × vote types + units shown × (choices + 4), summed over contests), more than the limit of 2000000", substring: true,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := limitsEvent(tc.at()).Validate(); err != nil {
				t.Errorf("at the limit: %v", err)
			}
			err := limitsEvent(tc.over()).Validate()
			var e *events.Error
			if !errors.As(err, &e) {
				t.Fatalf("past the limit: got %v, want an *events.Error", err)
			}
			if e.Field != tc.field || e.Msg != tc.msg && !(tc.substring && strings.Contains(e.Msg, tc.msg)) {
				t.Errorf("past the limit:\n got %s: %s\nwant %s: %s", e.Field, e.Msg, tc.field, tc.msg)
			}
		})
	}
}

// TestTallyNumbersOfScopedContests checks how the tally's size counts the
// units of a contest with a scope: the units in it and their ancestors,
// each once, however the scope's units nest. Contests voted everywhere
// bring the tally near the limit; the scoped contest, last, takes it past,
// and the refusal says how many units it counted.
func TestTallyNumbersOfScopedContests(t *testing.T) {
	// root ⊃ a ⊃ {a1, a2 ⊃ {a21, a22}}, root ⊃ b ⊃ b1.
	base := limitsManifest(1, 1, 0, 0)
	for _, u := range [][2]string{{"a", "root"}, {"a1", "a"}, {"a2", "a"}, {"a21", "a2"}, {"a22", "a2"}, {"b", "root"}, {"b1", "b"}} {
		base.Units = append(base.Units, events.Unit{ID: u[0], Name: "Unit", Kind: "unit", Parent: u[1]})
	}
	const k = events.MaxChoices
	everywhere := k + 8*(k+4) // a contest of k choices voted in all 8 units
	fillers := (events.MaxTallyNumbers - 1) / everywhere
	before := fillers * everywhere
	for _, tc := range []struct {
		scope []string
		shown int
	}{
		{[]string{"root"}, 8},
		{[]string{"a2"}, 5},              // a2, a21, a22, and a, root
		{[]string{"a2", "a21"}, 5},       // a21 is in a2's subtree
		{[]string{"a21", "a2"}, 5},       // in either order
		{[]string{"a1", "a21", "b1"}, 7}, // a1, a21, b1, and a2, a, b, root
		{[]string{"a", "b"}, 8},
		{[]string{"a22", "b"}, 6}, // a22, b, b1, and a2, a, root
	} {
		m := *base
		m.Contests = limitsManifest(1, 1, fillers, k).Contests
		m.Contests = append(m.Contests, events.Contest{ID: "scoped", Name: "Scoped", VoteFor: 1, Units: tc.scope, Choices: limitsChoices(k)})
		want := fmt.Sprintf("with this contest (%d choices, shown on %d units) the tally would hold %d numbers", k, tc.shown, before+k+tc.shown*(k+4))
		if err := limitsEvent(&m).Validate(); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("scope %v: got %v, want %q", tc.scope, err, want)
		}
	}
}

// TestWidthBomb decodes the manifests of issue 12 (a 7,000 × 7,000 contest
// and variants, a few hundred kilobytes each): each is refused, naming the
// limit, before anything is derived from it; those larger than an event
// for their size. (A contest larger than an event cannot be split into
// manifest parts either: SplitManifest does not cut a contest.)
func TestWidthBomb(t *testing.T) {
	bomb := func(choices, vts int) []byte {
		var b strings.Builder
		b.WriteString(`{"v":1,"type":"election.defined","id":"015b582a-0300-75b3-abf2-579a5eb66403","election":"bomb","data":{"name":"Bomb","date":"2026-11-03","vote_types":[`)
		for i := range vts {
			if i > 0 {
				b.WriteByte(',')
			}
			fmt.Fprintf(&b, `{"id":"v%d","name":"v"}`, i)
		}
		b.WriteString(`],"units":[{"id":"r","name":"r","kind":"r"},{"id":"p","name":"p","kind":"p","parent":"r"}],"contests":[{"id":"c","name":"c","vote_for":1,"choices":[`)
		for i := range choices {
			if i > 0 {
				b.WriteByte(',')
			}
			fmt.Fprintf(&b, `{"id":"c%d","name":"c"}`, i)
		}
		b.WriteString(`]}]}}`)
		return []byte(b.String())
	}
	const hint = ": a manifest this large goes in parts (docs/events.md, Manifests in parts; events.SplitManifest, which `ledger import` uses)"
	for _, tc := range []struct {
		choices, vts int
		field, msg   string
	}{
		{7000, 7000, "", "event is 362082 bytes, more than the limit of 57343" + hint},
		{12000, 12000, "", "event is 626082 bytes, more than the limit of 57343" + hint},
		{7000, 1, "", "event is 181215 bytes, more than the limit of 57343" + hint},
		{1000, 64, "data.contests[0].choices", "1000 choices, more than the limit of 500 per contest"},
		{500, 64, "data.contests[0].choices", "500 choices × 64 vote types = 32000 cells, more than the limit of 600 cells per contest"},
		{500, 1, "", ""},
	} {
		data := bomb(tc.choices, tc.vts)
		if tc.msg == "" {
			if _, err := events.Decode(data); err != nil {
				t.Errorf("%d choices × %d vote types (%d bytes): %v", tc.choices, tc.vts, len(data), err)
			}
			continue
		}
		_, err := events.Decode(data)
		var e *events.Error
		if !errors.As(err, &e) || e.Field != tc.field || e.Msg != tc.msg {
			t.Errorf("%d choices × %d vote types (%d bytes): got %v, want %s: %s", tc.choices, tc.vts, len(data), err, tc.field, tc.msg)
		}
	}
}

// TestStoredManifestPastTheLimits: the limits are rules of the format, so
// a stored entry whose manifest breaks them (one logged before they
// existed) no longer decodes; replay and audit name the limit. See
// docs/events.md, Compatibility.
func TestStoredManifestPastTheLimits(t *testing.T) {
	data, err := limitsEvent(limitsManifest(2, events.MaxVoteTypes+1, 1, 2)).Encode()
	if err != nil {
		t.Fatal(err)
	}
	entry := `{"v":2,"index":0,"recorded":"2026-11-03T20:00:00Z","verdict":"accepted","submission":{"id":"019a4b1c-0000-7000-8000-000000000000","sha256":"` + strings.Repeat("0", 64) + `","item":0},"event":` + string(data) + `}`
	if _, err := events.DecodeEntry([]byte(entry)); err == nil || !strings.Contains(err.Error(), "more than the limit of 64") {
		t.Errorf("DecodeEntry of a stored manifest past the limits: %v", err)
	}
}

// TestLongValuesClipped: a refusal quotes at most 128 bytes of a value,
// so that it is never much longer than the rules it cites.
func TestLongValuesClipped(t *testing.T) {
	long := strings.Repeat("x", events.MaxEventSize/2)
	for _, data := range []string{
		sub(validManifest, `"date":"2017-04-18"`, `"date":"`+long+`"`),
		sub(validManifest, `"units":["cobb","fulton"]`, `"units":["cobb","`+long+`"]`),
		sub(validManifest, `"parent":"ga"},{"id":"fulton"`, `"parent":"`+long+`"},{"id":"fulton"`),
		sub(validReport, `"election":"ga06-2017-04"`, `"election":"`+long+`"`),
	} {
		_, err := events.Decode([]byte(data))
		if err == nil || len(err.Error()) > 512 || !strings.Contains(err.Error(), strings.Repeat("x", 128)+"…") {
			t.Errorf("got %.600v (%d bytes), want a refusal quoting 128 bytes of the value", err, len(fmt.Sprint(err)))
		}
	}
}

// TestLimitsDocumented: the table of limits in docs/events.md gives every
// limit its value in the code.
func TestLimitsDocumented(t *testing.T) {
	doc, err := os.ReadFile(filepath.Join("..", "docs", "events.md"))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]int64{
		"MaxEventSize": events.MaxEventSize, "MaxEntrySize": events.MaxEntrySize, "MaxEntryReason": events.MaxEntryReason,
		"MaxIDLength": events.MaxIDLength, "MaxNameLength": events.MaxNameLength, "MaxReasonLength": events.MaxReasonLength,
		"MaxCountRows": events.MaxCountRows, "MaxVotes": events.MaxVotes, "MaxVoteFor": events.MaxVoteFor,
		"MaxUnits": events.MaxUnits, "MaxUnitDepth": events.MaxUnitDepth, "MaxContests": events.MaxContests,
		"MaxChoices": events.MaxChoices, "MaxVoteTypes": events.MaxVoteTypes, "MaxContestCells": events.MaxContestCells,
		"MaxReportCounts": events.MaxReportCounts, "MaxManifestParts": events.MaxManifestParts,
		"MaxTallyNumbers": events.MaxTallyNumbers, "MaxScopeUnits": events.MaxScopeUnits,
		"MaxSubmissionSize": events.MaxSubmissionSize, "MaxSubmissionEvents": events.MaxSubmissionEvents,
	}
	_, table, _ := strings.Cut(string(doc), "\n## Limits\n")
	table, _, _ = strings.Cut(table, "\n### ")
	row := regexp.MustCompile("(?m)^\\| [^\\n]* \\| `(Max[A-Za-z]+)` \\| ([0-9][0-9 ]*)")
	seen := map[string]bool{}
	for _, m := range row.FindAllStringSubmatch(table, -1) {
		name, value := m[1], strings.ReplaceAll(strings.TrimSpace(m[2]), " ", "")
		v, ok := want[name]
		switch {
		case !ok:
			t.Errorf("docs/events.md lists %s, which the test does not know", name)
		case value != strconv.FormatInt(v, 10):
			t.Errorf("docs/events.md gives %s as %s; the code says %d", name, value, v)
		}
		seen[name] = true
	}
	for name := range want {
		if !seen[name] {
			t.Errorf("docs/events.md's table of limits has no row for %s", name)
		}
	}
	if want := fmt.Sprintf("`MaxEntryEnvelope` = %d", events.MaxEntryEnvelope); !strings.Contains(table, want) {
		t.Errorf("docs/events.md does not say %s", want)
	}
}
