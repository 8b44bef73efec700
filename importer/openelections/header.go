package openelections

import (
	"fmt"
	"regexp"
	"slices"
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
	fPrecinct:  {"precinct", "precinct_name", "ward", "ward_name", "precinct_id", "precinct_code"},
	fOffice:    {"office", "contest", "race", "office_name", "contest_name"},
	fDistrict:  {"district", "district_name", "dist"},
	fParty:     {"party", "party_name", "candidate_party", "party_code"},
	fCandidate: {"candidate", "name", "candidate_name", "choice", "choice_name"},
	fVotes:     {"votes", "total_votes", "total", "vote_total", "votes_total"},
}

// voteTypeFamily is one vote type and the column stems that name it.
type voteTypeFamily struct {
	id, name string
	stems    string
}

// voteTypeFamilies are the vote types a column is recognised as, by its
// stem: the column key without a trailing "_votes" or "_vote" and without a
// trailing number ("advance_in_person_2", "mail_48", "group3"). A number
// makes a vote type of its own within the family ("advance-in-person-2",
// "Advance in Person 2"): numbered columns are never summed into one.
var voteTypeFamilies = []voteTypeFamily{
	{"election-day", "Election Day", "election_day eday election"},
	{"early-voting", "Early Voting", "early_voting early_vote early early_in_person"},
	{"advance-in-person", "Advance in Person", "advance_in_person advanced advance advance_voting advanced_voting"},
	{"absentee-by-mail", "Absentee by Mail", "absentee_by_mail absentee_mail mail_absentee"},
	{"mail-in-absentee", "Mail-in / Absentee", "mail_in_absentee"},
	{"absentee", "Absentee", "absentee"},
	{"in-person-absentee", "In-Person Absentee", "in_person_absentee absentee_in_person"},
	{"in-person", "In Person", "in_person"},
	{"mail", "Mail", "mail mail_in vote_by_mail by_mail"},
	{"provisional", "Provisional", "provisional"},
	{"one-stop", "One Stop", "one_stop"},
	{"polling", "Polling", "polling polls"},
	{"failsafe", "Failsafe", "failsafe"},
	{"failsafe-provisional", "Failsafe Provisional", "failsafe_provisional"},
	{"av-counting-boards", "AV Counting Boards", "av_counting_boards av_counting_board avcb"},
	{"machine", "Machine", "machine"},
	{"federal", "Federal", "federal"},
	{"military", "Military", "military"},
	{"emergency", "Emergency", "emergency"},
	{"group", "Group", "group"},
}

// voteTypeStems maps a column stem to its family.
var voteTypeStems = map[string]*voteTypeFamily{}

func init() {
	for i := range voteTypeFamilies {
		for _, s := range strings.Fields(voteTypeFamilies[i].stems) {
			voteTypeStems[s] = &voteTypeFamilies[i]
		}
	}
}

// ignoredColumns are columns that are known not to hold votes (percentages,
// flags, codes, turnout figures repeated on every row): read past, named in
// the package doc. Any other column that is not a field or a vote type is
// refused, so that no vote is ever left unread.
var ignoredColumns = map[string]bool{
	"pct": true, "percent": true, "percentage": true, "vote_pct": true, "votes_pct": true, "pct_votes": true,
	"incumbent": true, "winner": true, "notes": true,
	"candidate_id": true, "party_id": true, "office_id": true,
	"county_id": true, "county_code": true, "fips": true, "county_fips": true,
}

// columnKey folds a header name: lower case, spaces, hyphens, dots and
// slashes as underscores, runs of them one, none at either end.
func columnKey(h string) string {
	var b strings.Builder
	under := false
	for _, r := range strings.ToLower(strings.TrimSpace(h)) {
		switch r {
		case ' ', '-', '_', '.', '/', '\t':
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
	// unitTotal is a second votes column ("total votes" beside "votes"):
	// the unit's total for the contest, repeated on each of its rows.
	unitTotal int
	// unnamed are the columns without a name, which must stay blank.
	unnamed []int
}

type vtColumn struct {
	col int
	vt  int32 // index in the builder's vote types
}

// numbered splits a trailing number off a column key: "advance_in_person_2"
// gives "advance_in_person" and "2", "group3" "group" and "3".
var numbered = regexp.MustCompile(`^(.*?[a-z])_?([0-9]+)$`)

// voteTypeOf returns the vote type a column key names, if it is one.
func voteTypeOf(key string) (figure, bool) {
	if slices.Contains(fieldColumns[fVotes], key) {
		return figure{}, false
	}
	stem, suffixed := strings.CutSuffix(key, "_votes")
	if !suffixed {
		stem, _ = strings.CutSuffix(key, "_vote")
	}
	num := ""
	if m := numbered.FindStringSubmatch(stem); m != nil {
		if _, ok := voteTypeStems[m[1]]; ok {
			stem, num = m[1], m[2]
		}
	}
	if f := voteTypeStems[stem]; f != nil {
		if num == "" {
			return figure{f.id, f.name}, true
		}
		return figure{f.id + "-" + num, f.name + " " + num}, true
	}
	if !suffixed || stem == "" || strings.Contains(key, "pct") || strings.Contains(key, "percent") {
		return figure{}, false
	}
	id := importer.Slug(stem)
	if id == "" {
		return figure{}, false
	}
	return figure{id, importer.TitleCase(strings.ToUpper(strings.ReplaceAll(stem, "_", " ")))}, true
}

// readHeader maps a header to fields and vote types, and refuses a column
// it does not know.
func (b *builder) readHeader(f *fileState, header []string) error {
	fail := func(format string, args ...any) error {
		return &importer.Error{File: f.name, Where: "line 1", Msg: fmt.Sprintf(format, args...)}
	}
	l := &f.layout
	l.unitTotal = -1
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
			l.unnamed = append(l.unnamed, i) // often from a trailing comma
			continue
		}
		if j, dup := keys[k]; dup {
			return fail("column %s appears twice (columns %d and %d)", quote(h), j+1, i+1)
		}
		keys[k] = i
	}
	if len(header) > 0 && strings.HasPrefix(l.names[0], "<") {
		return fail("the file looks like HTML, not CSV: %s", quote(strings.Join(header, ",")))
	}
	used := make([]bool, len(header))
	for fld := range nFields {
		l.col[fld] = -1
		for _, c := range fieldColumns[fld] {
			if i, ok := keys[c]; ok {
				l.col[fld] = i
				used[i] = true
				break
			}
		}
	}
	vtIDs := map[string]int{}
	for i, h := range l.names {
		k := columnKey(h)
		if k == "" || used[i] {
			continue
		}
		vt, ok := voteTypeOf(k)
		if id := importer.Slug(h); !ok && b.asVoteType[k] && id != "" {
			vt, ok = figure{id, importer.CleanName(h)}, true
		}
		if ok {
			if j, dup := vtIDs[vt.id]; dup {
				return fail("columns %s and %s are both vote type %q", quote(l.names[j]), quote(h), vt.id)
			}
			vtIDs[vt.id] = i
			l.voteTypes = append(l.voteTypes, vtColumn{col: i, vt: b.voteType(vt)})
			continue
		}
		switch {
		case slices.Contains(fieldColumns[fVotes], k) && l.unitTotal < 0:
			l.unitTotal = i // checked against the unit's rows
		case slices.Contains(fieldColumns[fPrecinct], k) && l.col[fPrecinct] >= 0:
			// a second precinct identifier (a code beside the name)
		case ignoredColumns[k] || strings.Contains(k, "pct") || strings.Contains(k, "percent") || b.ignore[k]:
		default:
			return fail("column %s is not one this importer knows, so its figures would go unread: "+
				"if it holds votes of a vote type, give --vote-type-column %s; if it holds no votes, give --ignore-column %s",
				quote(h), quoteArg(h), quoteArg(h))
		}
	}
	hdr := quoteMax(strings.Join(l.names, ","), 200)
	for _, fld := range []int{fOffice, fCandidate} {
		if l.col[fld] < 0 {
			return fail("header %s has no %s column (%s)", hdr, fieldNames[fld], strings.Join(fieldColumns[fld], ", "))
		}
	}
	if l.col[fCounty] < 0 && l.col[fPrecinct] >= 0 {
		return fail("header %s has a precinct column but no county column (%s)", hdr, strings.Join(fieldColumns[fCounty], ", "))
	}
	if l.col[fVotes] < 0 && len(l.voteTypes) == 0 {
		return fail("header %s has no votes column (%s) and no vote-type columns (election_day, absentee_by_mail, …)", hdr, strings.Join(fieldColumns[fVotes], ", "))
	}
	if l.unitTotal >= 0 && l.col[fVotes] < 0 {
		l.unitTotal = -1
	}
	return nil
}

// quoteArg quotes a column name for a command line, if it needs it.
func quoteArg(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-.") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
