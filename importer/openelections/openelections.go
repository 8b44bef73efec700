// Package openelections reads OpenElections results CSV files (the
// openelections-data-XX repositories) into an election manifest and one
// count report per reporting unit and contest.
//
// For most uses, call [Parse] on one file, or [ParseFiles] on the county
// files of one election, and submit the manifest, then the reports.
//
// # Format
//
// A file is CSV (RFC 4180) whose first line is a header, then one row per
// unit, contest and candidate:
//
//	county,precinct,office,district,party,candidate,votes,election_day,absentee_by_mail
//	Cobb,Addison 01,U.S. House,6,R,Karen Handel,737,500,237
//
// Text is UTF-8; a file that is not valid UTF-8 is read as Windows-1252
// (Latin-1 as Windows writes it), and refused if it has a byte that
// Windows-1252 does not define either. A leading byte-order mark is skipped.
// Lines end in LF, CRLF, or CR alone (old Mac files).
//
// # Columns
//
// Every column is read, or the file is refused naming it: no column is
// left unread, so no vote is. Header names are matched ignoring case, with
// spaces, hyphens, dots, slashes and underscores alike ("Total Votes" is
// "total_votes", "mail_in_/_absentee" is "mail_in_absentee"). For each
// field the first name of its list that the header has is used:
//
//   - county: county, county_name, parish (none: every row is the state's)
//   - precinct: precinct, precinct_name, ward, ward_name, precinct_id,
//     precinct_code (a second one, a code beside the name, is read past)
//   - office (required): office, contest, race, office_name, contest_name
//   - district: district, district_name, dist
//   - party: party, party_name, candidate_party, party_code
//   - candidate (required): candidate, name, candidate_name, choice, choice_name
//   - votes: votes, total_votes, total, vote_total, votes_total; a second
//     column of this list beside the votes column (Wisconsin's "total
//     votes") is the unit's total for the contest, repeated on each of its
//     rows: it must equal the sum of the unit's rows, or the file is refused.
//
// A vote-type column is recognised by family: its name without a trailing
// "_votes" or "_vote" and without a trailing number is one of these stems.
// A number makes a vote type of its own in the family ("advance_in_person_2"
// is "advance-in-person-2", "Advance in Person 2"; "mail_48" is "mail-48";
// "group3" is "group-3"): numbered columns are never summed into one.
//
//	election_day, eday, election                          election-day          Election Day
//	early_voting, early_vote, early, early_in_person      early-voting          Early Voting
//	advance_in_person, advanced, advance, advance_voting,
//	  advanced_voting                                     advance-in-person     Advance in Person
//	absentee_by_mail, absentee_mail, mail_absentee        absentee-by-mail      Absentee by Mail
//	mail_in_absentee                                      mail-in-absentee      Mail-in / Absentee
//	absentee                                              absentee              Absentee
//	in_person_absentee, absentee_in_person                in-person-absentee    In-Person Absentee
//	in_person                                             in-person             In Person
//	mail, mail_in, vote_by_mail, by_mail                  mail                  Mail
//	provisional                                           provisional           Provisional
//	one_stop                                              one-stop              One Stop
//	polling, polls                                        polling               Polling
//	failsafe                                              failsafe              Failsafe
//	failsafe_provisional                                  failsafe-provisional  Failsafe Provisional
//	av_counting_boards, av_counting_board, avcb           av-counting-boards    AV Counting Boards
//	machine, federal, military, emergency                 machine, …            Machine, …
//	group (Iowa's opaque numbered groups)                 group-N               Group N
//	X_votes (any other)                                   slug of X             X in title case
//
// Columns that hold no votes are read past: pct, percent, percentage and
// any name with "pct" or "percent" in it, incumbent, winner, notes,
// candidate_id, party_id, office_id, county_id, county_code, fips,
// county_fips, and the columns named in [Options] IgnoreColumns. A column
// without a name (from a trailing comma) must be blank on every row. The
// columns named in [Options] VoteTypeColumns are vote types, ID the slug of
// the name. Any other column refuses the file, naming it and both options.
//
// # Votes
//
// A row with vote-type figures reports them (a blank vote-type cell is 0
// when another one is filled). If it also has votes, the two must agree: a
// file with rows whose vote types do not sum to their votes contradicts
// itself and is refused, naming the first rows, unless [Options] Prefer
// says which side to log (the votes column, as vote type "total"; or the
// vote types, each difference an [importer.FindingVoteTypes]). A row whose
// vote-type cells are all blank, or a file without vote-type columns,
// reports its votes under the single vote type "total" ("Total").
//
// Counts are whole numbers from 0 to [events.MaxVotes]; a trailing ".0" (as
// pandas writes) is accepted, and so are thousands separators ("8,502", and
// "4 ,063" with a space beside the comma), but only in groups of three.
//
// The reports are checked, before anything is returned, to add up to the
// file's own totals: for every contest and choice, the votes its rows give
// (the votes column, or the vote types where those are preferred), summed
// apart from how rows become reports ([importer.CheckTotals]). The result is
// the import's [importer.Totals].
//
// # A cut file
//
// A file cut short is refused wherever the cut can be seen: inside a quoted
// field (an open quote), inside a row (too few fields), or in a last line
// without a line end. Such a last line is accepted only when its last field
// is a count the row confirms (its vote types sum to its votes), when its
// last field is a blank vote type in a row that reports votes alone, or with
// [Options] TrustLastLine; a blank last vote-type cell beside filled ones is
// always refused. A last field that is not a count (a district, a name, a
// precinct) is never confirmed: cut, it would move the row's votes. A cut that falls exactly on a line
// end cannot be seen: the file then reads as the rows before it.
//
// # Roll-ups, turnout and write-ins
//
// Roll-up rows are rows whose precinct is blank or, ignoring case and
// punctuation, "total", "totals", "county total", "county totals" or
// "grand total"; every row of a file without a precinct column is one.
// Roll-ups of a county and contest that also has precinct rows are never
// counted: each is compared, in total and by vote type, with the sum of the
// county's precincts, and a difference, or a candidate with precinct votes
// but no roll-up row, is an [importer.FindingRollup]. Roll-ups of a county
// and contest without precinct rows are the county's own results: a
// county-level file reports at county level.
//
// A row whose county is blank (and precinct blank or a roll-up name) is a
// statewide roll-up: compared likewise with the sum of the counties, or,
// for a contest that has no county rows, the state's own results. So are
// the rows of a file without a county column (a statewide file).
//
// Turnout figures are not candidates. A row whose office is a pseudo-office
// (Voters, Registered, Registered Voters, Registration, Ballots, Ballots
// Cast, Total Ballots, Total Ballots Cast, Turnout, Voter Turnout, Over
// Votes, Under Votes and their one-word spellings, or a name that starts
// with "Ballots Cast", "Registered Voters", "Total Ballots Cast" or "Voter
// Turnout" and goes on, as in "Ballots Cast Blank") goes to the turnout
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
// its slug. Write-ins spelt Write-in, Write-ins, Write In, Writein or
// Write-in Votes are one ordinary choice, "write-ins" ("Write-ins"); other
// names of write-in lines (Write-In Totals, Scattering, Unresolved
// Write-In) are choices of their own, since a file may list two of them for
// one unit, one the total of the other. A named write-in candidate is a
// candidate. A row with a blank candidate but a party (Pennsylvania's
// "Straight Party") is a vote for that party: its choice is the party.
//
// A candidate on several party lines (New York's fusion tickets: "Andrew
// M. Cuomo" on the DEM and the WOR line of one precinct) is a choice per
// line, "andrew-m-cuomo-dem" ("Andrew M. Cuomo (DEM)") and
// "andrew-m-cuomo-wor": the lines are never added together.
//
// A row with a blank office is refused (which contest are its votes of?),
// unless [Options] BlankOffice: then each such row is a contest of its own,
// "unassigned-<the file's SHA-256, first 8 hex digits>-<line>".
//
// In a primary ([Options] Primary, by default when a file name has the word
// "primary"), each party's race is a contest of its own: "Governor" with
// party DEM is contest "governor-dem", "Governor (DEM)". Rows with a blank
// or nonpartisan party (NP, NON, Nonpartisan) stay in the office's contest.
//
// Names are cleaned before they become labels and IDs
// ([importer.CleanName]: HTML entities decoded, tags removed, "<br>" a
// space, white space collapsed); a candidate's spelling as published is
// kept among the choice's aliases.
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
//     [Options].VoteFor says otherwise.
//   - Local offices: an office that several counties fill separately is a
//     contest per county. Two counties' rows of one office are one contest
//     when they have a named candidate in common (not a write-in line, not
//     Yes, No, For or Against); where the counties make several groups that
//     share none, each group is a contest of its own, ID the office's and
//     the lowest county ID of the group ("sheriff-cobb"), name the office's
//     and the group's county names ("Sheriff (Cobb)"), and a county whose
//     rows name no candidate stands alone. The race's turnout companion is
//     split with it ("sheriff-cobb-turnout"). An office whose counties all
//     share candidates, or name none, stays one contest, and so does a
//     federal or statewide office, the legislature and straight party (a
//     name with President, Senate, Senator, Congress, U.S. House, U.S.
//     Representative, United States, Governor, Secretary of State, Attorney
//     General, "of State", State Treasurer, State Auditor, Auditor General,
//     Comptroller, Supreme Court, Straight Party, State House, State
//     Representative, State Assembly, General Assembly, House of Delegates
//     or House of Representatives), even where counties spell its
//     candidates apart.
//   - Scope: a contest's units are those that vote in it, learned from the
//     rows. A county all of whose precincts have rows for the contest (or
//     that reports it at county level) is in scope whole; of a county it
//     covers in part, the precincts with rows are. A contest with rows in
//     every precinct of every county (or a statewide row) has no scope: the
//     whole election. So reconciliation names as unreported only units that
//     should have reported.
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
// (and column, for a bad value): a file larger than [importer.MaxFileSize],
// neither UTF-8 nor Windows-1252, empty, with a header only, malformed CSV;
// a header without the required columns, with one field twice, with a
// column it does not know, or with a precinct column but no county column;
// a row with a different number of fields than the header (a ragged row, or
// a truncated last line), or a value in an unnamed column; a field longer
// than [MaxFieldLength] bytes; a name longer than [events.MaxNameLength]
// bytes, with control characters, or with '<' or '>' left after cleaning
// (names are plain text, not markup); a name without letters or digits; a
// missing county (on a precinct row), office or candidate; a missing,
// negative, fractional or non-numeric count or one over [events.MaxVotes];
// vote types that contradict the votes column (unless Prefer); a unit-total
// column that differs from its unit's rows; a last line that may have been
// cut inside a count; two rows for the same county, precinct, contest,
// candidate and party (a file that lists one race twice); one unit's
// contest in two files; IDs that collide; and a manifest or report too
// large for one event. It returns no import with an error: nothing is
// partial. Every manifest and report it returns passes
// [events.Event.Validate].
package openelections

import (
	"bytes"
	"errors"
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
	// Prefer says which side to log when a row's vote-type columns do not
	// sum to its votes column: "" refuses the file, naming the rows;
	// [PreferVotes] logs the votes column (vote type "total") of every row
	// that has one; [PreferVoteTypes] logs the vote-type columns. Either
	// way each difference is listed as a finding.
	Prefer string
	// TrustLastLine accepts a last line without a line end that ends in a
	// count nothing in the file confirms (see Checks).
	TrustLastLine bool
	// Primary says whether the files are of a primary, where each party's
	// race for an office is a contest of its own ("Governor (DEM)"); by
	// default, whether the file names have the word "primary".
	Primary *bool
	// BlankOffice logs each row without an office as a contest of its own,
	// ID "unassigned-<the file's SHA-256, first 8 hex digits>-<line>",
	// instead of refusing the file: such rows are votes of a contest the
	// file does not name, and nothing says which.
	BlankOffice bool
	// VoteTypeColumns are header names (matched as columns are) of columns
	// that hold votes of a vote type the importer does not know by name:
	// each is a vote type, ID the slug of its name.
	VoteTypeColumns []string
	// IgnoreColumns are header names (matched as columns are) of columns
	// that hold no votes and are to be read past.
	IgnoreColumns []string
}

// Prefer values.
const (
	PreferVotes     = "votes"
	PreferVoteTypes = "vote-types"
)

// UnassignedContest starts the IDs of the contests of rows without an
// office (see [Options] BlankOffice).
const UnassignedContest = "unassigned"

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
	switch opts.Prefer {
	case "", PreferVotes, PreferVoteTypes:
	default:
		return nil, fmt.Errorf("couldn't import %s: Options.Prefer is %q; use %q or %q", files[0].Name, opts.Prefer, PreferVotes, PreferVoteTypes)
	}
	files, srcs := distinct(files)
	fusion := map[string]bool{}
	var b *builder
read:
	for {
		b = newBuilder(meta, opts)
		b.fusion = fusion
		for i, f := range files {
			err := b.readFile(int32(i), f.Name, f.Data, srcs[i])
			var fe *fusionError
			switch {
			case errors.As(err, &fe) && !fusion[fe.key]:
				fusion[fe.key] = true // read again, with a choice per party line
				continue read
			case err != nil:
				return nil, err
			}
		}
		break
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

// distinct drops a file whose bytes are those of an earlier one (the same
// file given twice, or a renamed copy): it is the same source, whose
// reports would be the same events. It returns each kept file's source.
func distinct(files []File) ([]File, []events.Source) {
	seen := make(map[string]bool, len(files))
	out := files[:0:0]
	var srcs []events.Source
	for _, f := range files {
		src := importer.SourceOf(f.Name, f.Data)
		if !seen[src.SHA256] {
			seen[src.SHA256] = true
			out = append(out, f)
			srcs = append(srcs, src)
		}
	}
	return out, srcs
}

// baseName is a file's name without directory and extension.
func baseName(file string) string {
	base := filepath.Base(file)
	if i := bytes.LastIndexByte([]byte(base), '.'); i > 0 {
		base = base[:i]
	}
	return base
}
