// Package openelections reads OpenElections results CSV files (the
// openelections-data-XX repositories) into an election manifest and one
// count report per reporting unit and contest.
//
// For most uses, call [Parse] on one file, or [ParseFiles] on the county
// files of one election, and submit the manifest, then the reports.
//
// # Format
//
// A file is UTF-8 CSV (RFC 4180; a leading byte-order mark and CRLF line
// ends are fine) whose first line is a header, then one row per unit,
// contest and candidate:
//
//	county,precinct,office,district,party,candidate,votes,election_day,absentee_by_mail
//	Cobb,Addison 01,U.S. House,6,R,Karen Handel,737,500,237
//
// Columns come in any order. Header names are matched ignoring case, with
// spaces, hyphens, dots and underscores alike ("Total Votes" is
// "total_votes"). For each field the first name of its list that the header
// has is used; other columns are ignored:
//
//   - county (required): county, county_name, parish
//   - precinct: precinct, precinct_name, precinct_id, precinct_code
//   - office (required): office, contest, race, office_name, contest_name
//   - district: district, district_name, dist
//   - party: party, party_name, candidate_party, party_code
//   - candidate (required): candidate, name, candidate_name, choice, choice_name
//   - votes: votes, total_votes, total, vote_total, votes_total
//
// A vote-type column is one whose name is in this list, or, failing that,
// ends in "_votes" (and is not a votes column above and has no "pct" or
// "percent" in it); its vote type ID and name are:
//
//	election_day, election_day_votes, eday                        election-day       Election Day
//	early_voting, early_vote, early_votes, early                  early-voting       Early Voting
//	advance_in_person, advanced_votes, advance_voting,
//	  advanced_voting, advance_votes                              advance-in-person  Advance in Person
//	absentee_by_mail, absentee_by_mail_votes, absentee_mail,
//	  mail_absentee                                               absentee-by-mail   Absentee by Mail
//	absentee, absentee_votes                                      absentee           Absentee
//	mail, mail_votes, mail_in, vote_by_mail, by_mail              mail               Mail
//	provisional, provisional_votes                                provisional        Provisional
//	one_stop                                                      one-stop           One Stop
//	polling                                                       polling            Polling
//	failsafe                                                      failsafe           Failsafe
//	failsafe_provisional                                          failsafe-provisional  Failsafe Provisional
//	av_counting_boards                                            av-counting-boards AV Counting Boards
//	X_votes (any other)                                           slug of X          X in title case
//
// Other numeric columns (registered_voters, total_ballots, …) are ignored.
// A header without a votes column and without vote-type columns is refused.
//
// A row with vote-type figures reports them (a blank vote-type cell is 0
// when another one is filled); if it also has votes and the vote types do
// not add up to it, that is an [importer.FindingVoteTypes] and the reports
// carry the vote types. A row whose vote-type cells are all blank, or a file
// without vote-type columns, reports its votes under the single vote type
// "total" ("Total"). Counts are whole numbers from 0 to [events.MaxVotes];
// a trailing ".0" (as pandas writes) is accepted.
//
// Roll-up rows are rows whose precinct is blank or, ignoring case, "total",
// "totals" or "county total"; every row of a file without a precinct column
// is one. Roll-ups of a county and contest that also has precinct rows are
// never counted: each is compared, in total and by vote type, with the sum
// of the county's precincts, and a difference, or a candidate with precinct
// votes but no roll-up row, is an [importer.FindingRollup]. Roll-ups of a
// county and contest without precinct rows are the county's own results: a
// county-level file reports at county level.
//
// Turnout figures are not candidates. A row whose office is a pseudo-office
// (Voters, Registered, Registered Voters, Registration, Ballots, Ballots
// Cast, Total Ballots, Total Ballots Cast, Turnout, Voter Turnout, Over
// Votes, Under Votes and their one-word spellings) goes to the turnout
// contest "turnout" ("Turnout", kind [events.KindTurnout], VoteFor 0); its
// choice is named by the candidate, or by the office when the candidate is
// blank, and ignores party and district. A row of a real contest whose
// candidate is such a figure (Registered Voters, Ballots Cast, Over Votes,
// Under Votes, Blank, Total Votes, Total, …) goes to that contest's turnout
// companion, ID "<contest>-turnout", name "<contest> (turnout)". Figure names
// are folded to fixed choices:
//
//	registered    Registered Voters  registered, registered voters, total registered voters, registration
//	ballots-cast  Ballots Cast       ballots cast, ballots, total ballots, total ballots cast, voters,
//	                                 total voters, turnout, voter turnout, times cast
//	over-votes    Over Votes         over votes, overvotes, over vote, overvote
//	under-votes   Under Votes        under votes, undervotes, under vote, undervote, blank, blanks, blank votes
//	total-votes   Total Votes        total votes, total, votes cast, total votes cast
//
// Any other candidate of a pseudo-office becomes a turnout choice named by
// its slug. Write-ins (Write-in, Write-ins, Write In, Writein, Write-in
// Votes, Write-in Totals, Total Write-ins, Scattering) are one ordinary
// choice, "write-ins" ("Write-ins"); a named write-in candidate is a
// candidate. A row with a blank candidate but a party (Pennsylvania's
// "Straight Party") is a vote for that party: its choice is the party.
//
// # IDs
//
// IDs are [importer.Slug]s of names.
//
//   - The root unit is the state, kind "state": its ID is the two-letter
//     code in lower case, from [Options].State or the OpenElections file name
//     "YYYYMMDD__st__…"; its name is the state's name ("Georgia").
//   - Counties, kind "county", parent the state: the slug of the county
//     without a trailing " County" or " Parish" ("DeKalb" gives "dekalb",
//     as package gasos does); named as first spelt in the files.
//   - Precincts, kind "precinct", parent their county: the county's ID, ":",
//     and the slug of the precinct ("Addison 01" in Cobb gives
//     "cobb:addison-01", as package clarity does; the colon keeps county
//     "a" precinct "b-c" apart from county "a-b" precinct "c"); named as
//     first spelt. Spellings with the same slug
//     are the same unit.
//   - Contests: the slug of office and district ("U.S. House" and "6" give
//     "us-house-6"; the district is left out when the office already ends
//     with it), named "U.S. House, District 6" (", District " before a
//     number, ", " before anything else). VoteFor is 1 unless
//     [Options].VoteFor says otherwise. A contest that is not in every
//     county is scoped to the counties it is in.
//   - Choices: the slug of the candidate without a trailing party tag, the
//     party column's value in parentheses or any parenthesised tag of one to
//     five capital letters ("JON OSSOFF (DEM)", "JON OSSOFF" and "Jon Ossoff"
//     all give "jon-ossoff"). The name is that in title case
//     ([importer.TitleCase]), or the first spelling with lower-case letters
//     once one is seen; the party is the first non-blank party; the aliases
//     are every exact spelling seen, in order.
//   - Vote types: as listed under Format, in the order first seen.
//
// The manifest's date is [Options].Date or the file name's YYYYMMDD; its
// name is [Options].Name or made from the state and the file name ("Georgia
// special general runoff, 2017-06-20": the words of the file name after the
// state, without county names, "precinct" and "county").
//
// There is one report per unit and contest, in the order first seen, with
// counts sorted by choice then vote type; its source is the file it comes
// from. County reports made from roll-ups come after the precinct reports.
//
// # Checks
//
// Parse refuses, with an [*importer.Error] that names the file and line
// (and column, for a bad number): a file larger than [importer.MaxFileSize],
// not UTF-8, empty, with a header only, malformed CSV, a header without the
// required columns or with one field twice, a row with a different number of
// fields than the header (a ragged row, or a truncated last line), a field
// longer than [MaxFieldLength] bytes, a name longer than
// [events.MaxNameLength] bytes, with control characters, or with '<' or '>'
// (names are plain text, not markup), a name without letters or digits, a
// missing county, office or candidate, a missing, negative, fractional or
// non-numeric count or one over [events.MaxVotes], two rows for the same
// county, precinct, contest and candidate (fusion tickets, one candidate on
// several party lines, are not supported), one unit's contest in two files,
// IDs that collide, and a manifest or report too large for one event. It
// returns no import with an error: nothing is partial. Every manifest and
// report it returns passes [events.Event.Validate].
package openelections

import (
	"bytes"
	"fmt"
	"io"
	"path/filepath"

	"github.com/election-audit/ledger/events"
	"github.com/election-audit/ledger/importer"
)

// MaxFieldLength is the longest field, in bytes, of any column.
const MaxFieldLength = 1024

// TurnoutContest is the ID of the election's turnout contest.
const TurnoutContest = "turnout"

// Options fill in what the files do not say. The zero value takes
// everything from the files and their names.
type Options struct {
	// State is the two-letter state code ("GA" or "ga"); by default it is
	// taken from the file names ("20170620__ga__…").
	State string
	// Date is the election day, YYYY-MM-DD; by default the file names'
	// YYYYMMDD.
	Date string
	// Name is the manifest's name; by default it is made from the state and
	// the file name.
	Name string
	// VoteFor is the number to elect by contest ID; 1 when absent. Every key
	// must name a contest of the files.
	VoteFor map[string]int
}

// File is one results file: its name, as used in errors and whose base name
// is its reports' source, and its bytes.
type File struct {
	Name string
	Data []byte
}

// Parse reads one OpenElections CSV file from r. file names it in errors,
// and its base name is each report's source file; election is the election
// ID used to check the events. Parse reads at most [importer.MaxFileSize]
// bytes and holds the file in memory.
//
// Errors are [*importer.Error]s, except a failure to read r (wrapped) and
// bad arguments.
func Parse(r io.Reader, file, election string, opts Options) (*importer.Import, error) {
	if file == "" {
		return nil, fmt.Errorf("couldn't import an OpenElections file: it needs a file name for the reports' source")
	}
	var buf bytes.Buffer
	if n, ok := r.(interface{ Len() int }); ok {
		buf.Grow(min(n.Len(), importer.MaxFileSize) + bytes.MinRead)
	}
	_, err := buf.ReadFrom(io.LimitReader(r, importer.MaxFileSize+1))
	data := buf.Bytes()
	if err != nil {
		return nil, fmt.Errorf("couldn't read %s: %w", file, err)
	}
	return ParseFiles([]File{{Name: file, Data: data}}, election, opts)
}

// ParseFiles reads the files of one election (typically one per county)
// into one manifest: units, contests and choices are merged across files,
// and each report's source is the file it came from. Each file is limited to
// [importer.MaxFileSize] bytes.
func ParseFiles(files []File, election string, opts Options) (*importer.Import, error) {
	if len(files) == 0 {
		return nil, fmt.Errorf("couldn't import an OpenElections election: no files")
	}
	if !events.ValidElectionID(election) {
		return nil, fmt.Errorf("couldn't import %s: %q is not a valid election ID", files[0].Name, election)
	}
	for _, f := range files {
		if f.Name == "" {
			return nil, fmt.Errorf("couldn't import an OpenElections file: it needs a file name for the reports' source")
		}
		if len(f.Data) > importer.MaxFileSize {
			return nil, &importer.Error{File: f.Name, Msg: fmt.Sprintf("larger than the limit of %d bytes (%d MiB)", importer.MaxFileSize, importer.MaxFileSize>>20)}
		}
	}
	meta, err := metadata(files, opts)
	if err != nil {
		return nil, err
	}
	b := newBuilder(meta, opts.VoteFor)
	for i, f := range files {
		if err := b.readFile(int32(i), f.Name, f.Data); err != nil {
			return nil, err
		}
		b.files[i].src = importer.SourceOf(f.Name, f.Data)
	}
	imp, err := b.finish(election)
	if err != nil {
		return nil, err
	}
	if err := importer.Check(files[0].Name, imp); err != nil {
		return nil, err
	}
	return imp, nil
}

// baseName is a file's name without directory and extension.
func baseName(file string) string {
	base := filepath.Base(file)
	if i := bytes.LastIndexByte([]byte(base), '.'); i > 0 {
		base = base[:i]
	}
	return base
}
