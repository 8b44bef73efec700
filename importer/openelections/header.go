package openelections

import (
	"fmt"
	"strings"

	"github.com/election-audit/ledger/importer"
)

// The fields a row is read from, indexes into columns.
const (
	fCounty = iota
	fPrecinct
	fOffice
	fDistrict
	fParty
	fCandidate
	fVotes
	nFields
)

var fieldNames = [nFields]string{"county", "precinct", "office", "district", "party", "candidate", "votes"}

// fieldColumns lists the header names of each field, preferred first.
var fieldColumns = [nFields][]string{
	fCounty:    {"county", "county_name", "parish"},
	fPrecinct:  {"precinct", "precinct_name", "precinct_id", "precinct_code"},
	fOffice:    {"office", "contest", "race", "office_name", "contest_name"},
	fDistrict:  {"district", "district_name", "dist"},
	fParty:     {"party", "party_name", "candidate_party", "party_code"},
	fCandidate: {"candidate", "name", "candidate_name", "choice", "choice_name"},
	fVotes:     {"votes", "total_votes", "total", "vote_total", "votes_total"},
}

// voteTypeColumns maps known vote-type column names to vote types.
var voteTypeColumns = map[string]figure{}

func init() {
	for _, vt := range []struct {
		id, name string
		columns  string
	}{
		{"election-day", "Election Day", "election_day election_day_votes eday"},
		{"early-voting", "Early Voting", "early_voting early_vote early_votes early"},
		{"advance-in-person", "Advance in Person", "advance_in_person advanced_votes advance_voting advanced_voting advance_votes"},
		{"absentee-by-mail", "Absentee by Mail", "absentee_by_mail absentee_by_mail_votes absentee_mail mail_absentee"},
		{"absentee", "Absentee", "absentee absentee_votes"},
		{"mail", "Mail", "mail mail_votes mail_in vote_by_mail by_mail"},
		{"provisional", "Provisional", "provisional provisional_votes"},
		{"one-stop", "One Stop", "one_stop"},
		{"polling", "Polling", "polling"},
		{"failsafe", "Failsafe", "failsafe"},
		{"failsafe-provisional", "Failsafe Provisional", "failsafe_provisional"},
		{"av-counting-boards", "AV Counting Boards", "av_counting_boards"},
	} {
		for _, c := range strings.Fields(vt.columns) {
			voteTypeColumns[c] = figure{vt.id, vt.name}
		}
	}
}

// columnKey folds a header name: lower case, spaces, hyphens and dots as
// underscores, runs of them one, none at either end.
func columnKey(h string) string {
	var b strings.Builder
	under := false
	for _, r := range strings.ToLower(strings.TrimSpace(h)) {
		switch r {
		case ' ', '-', '_', '.', '\t':
			under = true
			continue
		}
		if under && b.Len() > 0 {
			b.WriteByte('_')
		}
		under = false
		b.WriteRune(r)
	}
	return b.String()
}

// layout is where a file's fields are: column indexes, -1 when absent.
type layout struct {
	col       [nFields]int
	names     []string // the header as written, trimmed
	voteTypes []vtColumn
}

type vtColumn struct {
	col int
	vt  int32 // index in the builder's vote types
}

// voteTypeOf returns the vote type a column name gives, if it is one.
func voteTypeOf(key string) (figure, bool) {
	if vt, ok := voteTypeColumns[key]; ok {
		return vt, true
	}
	for _, c := range fieldColumns[fVotes] {
		if key == c {
			return figure{}, false
		}
	}
	stem, ok := strings.CutSuffix(key, "_votes")
	if !ok || stem == "" || strings.Contains(key, "pct") || strings.Contains(key, "percent") {
		return figure{}, false
	}
	id := importer.Slug(stem)
	if id == "" {
		return figure{}, false
	}
	return figure{id, importer.TitleCase(strings.ToUpper(strings.ReplaceAll(stem, "_", " ")))}, true
}

// readHeader maps a header to fields and vote types.
func (b *builder) readHeader(f *fileState, header []string) error {
	fail := func(format string, args ...any) error {
		return &importer.Error{File: f.name, Where: "line 1", Msg: fmt.Sprintf(format, args...)}
	}
	l := &f.layout
	l.names = make([]string, len(header))
	keys := make(map[string]int, len(header))
	for i, h := range header {
		h = strings.TrimSpace(h)
		if len(h) > MaxFieldLength {
			return fail("column %d of the header is longer than %d bytes", i+1, MaxFieldLength)
		}
		l.names[i] = h
		k := columnKey(h)
		if k == "" {
			continue // an unnamed column, often from a trailing comma
		}
		if j, dup := keys[k]; dup {
			return fail("column %s appears twice (columns %d and %d)", quote(h), j+1, i+1)
		}
		keys[k] = i
	}
	if len(header) > 0 && strings.HasPrefix(l.names[0], "<") {
		return fail("the file looks like HTML, not CSV: %s", quote(strings.Join(header, ",")))
	}
	for fld := range nFields {
		l.col[fld] = -1
		for _, c := range fieldColumns[fld] {
			if i, ok := keys[c]; ok {
				l.col[fld] = i
				break
			}
		}
	}
	vtIDs := map[string]int{}
	for i, h := range l.names {
		k := columnKey(h)
		if k == "" || i == l.col[fVotes] {
			continue
		}
		vt, ok := voteTypeOf(k)
		if !ok {
			continue
		}
		if j, dup := vtIDs[vt.id]; dup {
			return fail("columns %s and %s are both vote type %q", quote(l.names[j]), quote(h), vt.id)
		}
		vtIDs[vt.id] = i
		l.voteTypes = append(l.voteTypes, vtColumn{col: i, vt: b.voteType(vt)})
	}
	hdr := quoteMax(strings.Join(l.names, ","), 200)
	for _, fld := range []int{fCounty, fOffice, fCandidate} {
		if l.col[fld] < 0 {
			return fail("header %s has no %s column (%s)", hdr, fieldNames[fld], strings.Join(fieldColumns[fld], ", "))
		}
	}
	if l.col[fVotes] < 0 && len(l.voteTypes) == 0 {
		return fail("header %s has no votes column (%s) and no vote-type columns (election_day, absentee_by_mail, …)", hdr, strings.Join(fieldColumns[fVotes], ", "))
	}
	return nil
}
