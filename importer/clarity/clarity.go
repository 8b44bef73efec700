// Package clarity reads the "detail.xml" results files of Clarity (Scytl)
// Election Night Reporting, the format Georgia and many other states and
// counties publish, into an election manifest and one count report per
// reporting unit and contest.
//
// For most uses, call [Parse] and submit the manifest, then the reports.
//
// # Format
//
// A file is one XML document in UTF-8 (or US-ASCII), root ElectionResult:
//
//	<ElectionResult>
//	  <Timestamp>11/6/2020 1:05:50 PM EST</Timestamp>
//	  <ElectionName>November 3,2020-General Election</ElectionName>
//	  <ElectionDate>11/3/2020</ElectionDate>
//	  <Region>Atkinson</Region>
//	  <VoterTurnout totalVoters="4799" ballotsCast="3172" voterTurnout="66.10">
//	    <Precincts><Precinct name="Axson" totalVoters="742" ballotsCast="527" …/> …</Precincts>
//	  </VoterTurnout>
//	  <Contest key="1" text="President of the United States" voteFor="1" isQuestion="false" …>
//	    <VoteType name="Undervotes" votes="15"> <Precinct name="Axson" votes="0"/> … </VoteType>
//	    <Choice key="1" text="Donald J. Trump (I) (Rep)" party="NP" totalVotes="2300">
//	      <VoteType name="Election Day Votes" votes="716">
//	        <Precinct name="Axson" votes="194"/> …
//	      </VoteType> …
//	    </Choice> …
//	  </Contest> …
//	</ElectionResult>
//
// That is a county-level file: its leaves are Precinct elements and its
// turnout element is VoterTurnout with Precincts. A state-level file has
// County leaves instead, an ElectionVoterTurnout with Counties, and a
// ParticipatingCounties list of County elements in each Contest. One file
// has County leaves or Precinct leaves, never both, and which it has, seen
// in the turnout element or else in the contests, makes it state-level or
// county-level. The turnout element is optional: without it, the units are
// those the contests name (ParticipatingCounties and the leaves under each
// Choice's VoteTypes), in the order first seen.
//
// Timestamp, ElectionName, ElectionDate (M/D/YYYY, or YYYY-MM-DD) and Region
// are required and must come before the first result. Timestamp is copied
// as written into every report's [events.Source] Version; ElectionName
// (cleaned, see Names) is the manifest's name and ElectionDate its date.
//
// Every County or Precinct element of a Choice's VoteType is one unit's
// votes for that choice and vote type, and every unit is reported: the
// VoteType's votes and the Choice's totalVotes are roll-ups, compared with
// the sums of their parts but not counted. VoteType elements directly under
// a Contest (Undervotes, Overvotes) are not votes for a choice and are
// skipped, as are attributes and elements not named here (voterTurnout,
// precinctsReporting, precinctsReportingPercent, countiesParticipating, …).
//
// Turnout: when the turnout element (VoterTurnout or ElectionVoterTurnout)
// carries totalVoters and ballotsCast, the manifest gets a contest of Kind
// [events.KindTurnout], VoteFor 0, with choices "registered" (totalVoters)
// and "ballots-cast" (ballotsCast), reported per County or Precinct under
// the single vote type [TurnoutVoteType]. Without those attributes (as in
// some statewide files) there is no turnout contest, and the element only
// lists units.
//
// A question (isQuestion="true") is a contest like any other, its options
// (Yes, No) its choices.
//
// # Names
//
// Every name (ElectionName, Region, unit, contest, choice, party and vote
// type names) is read as published, after XML's own decoding, and cleaned
// by [importer.CleanName] before it becomes a label or an ID: HTML entities
// decoded (text written "AT&amp;amp;T" in the XML reads "AT&amp;T", and is
// cleaned to "AT&T"), tags such as "<br>" or "<b>" (written "&lt;br&gt;" in
// the XML) a space, and runs of white space, tabs and line breaks
// included, one space, trimmed. So "Amendment #1<br>Provides" is named
// "Amendment #1 Provides", with ID "amendment-1-provides". The text as
// published stays in the source file and, for a choice, in its aliases.
//
// # IDs
//
// Stable IDs are derived from names by [importer.Slug] (lower-case ASCII
// letters and digits, words joined by '-', at most 60 bytes):
//
//   - Root unit: [Options] Root if set, or else the slug of Region without a
//     trailing " County": "GA" gives "ga", "Cobb" and "Cobb County" give
//     "cobb". Its kind is "state" in a state-level file, "county" in a
//     county-level file, and its name is Region.
//   - Counties (state-level file): the slug of the name without a trailing
//     " County", the rule of package importer/gasos, so "DeKalb" gives
//     "dekalb" in both; kind "county", parent the root. A county-level file
//     of Cobb therefore has root "cobb", the ID of Cobb in the state file.
//   - Precincts (county-level file): the root ID, ':' and the slug of the
//     name ("cobb:smyrna-1a"), so that precincts of different counties
//     never share an ID; kind "precinct", parent the root.
//   - Vote types: the slug of the VoteType name ("Election Day" gives
//     "election-day", "Absentee by Mail Votes" "absentee-by-mail-votes"), in
//     the order first seen; [TurnoutVoteType] comes last, when used.
//   - Contests: the slug of text ("U.S. Representative, District 6" gives
//     "us-representative-district-6"); should two contests give the same
//     slug, the later one gets "-" and the slug of its key appended, or else
//     the first free "-2", "-3", …. The turnout contest is [TurnoutContest].
//   - Choices: the slug of text without a leading party code and without
//     a trailing party tag that repeats party. A party code is 2 to 5
//     capital letters followed by " - " ("REP - Donald J. Trump", as in
//     files without a party attribute), or by a space when they are the
//     party attribute ("DEM Lindsay Powell" with party "DEM"); it becomes
//     the choice's party when there is no party attribute, and is kept in
//     the text when the attribute names another party, when it is YES, NO
//     or FOR, or when what follows does not start with a letter. So "REP -
//     Donald J. Trump" gives "donald-j-trump", party "REP", the ID an
//     OpenElections file of the same county gives "Donald J. Trump". A tag
//     is removed as in "JON OSSOFF (DEM)" with party "DEM", which gives
//     "jon-ossoff"; "Joseph R. Biden (Dem)" with party "NP" keeps its tag.
//     The name is the text without code and tag, in title case unless it
//     has lower-case letters already ([importer.TitleCase]). The aliases
//     are, without repeats: the text as published (trimmed, and only if it
//     is a valid alias: at most [events.MaxNameLength] bytes, no control
//     characters), the cleaned text, and the cleaned text without code
//     and tag.
//   - VoteFor is voteFor, or 1 when the attribute is absent. It may exceed
//     the number of choices: a contest for two seats may list one write-in
//     line and nothing else.
//
// Units are listed in the order first seen. A contest whose units (its
// ParticipatingCounties if given, or else the units it reports) are not all
// of the file's counties or precincts is scoped to them ([events.Contest]
// Units).
//
// Reports come in file order: the turnout, then each contest, and within
// one the units in the order of its first VoteType. Each report's counts
// are every (choice, vote type) of its contest, sorted as events requires.
//
// # Checks
//
// Parse refuses, with an [*importer.Error] naming the file, the element
// ("ElectionResult/Contest[3]/Choice[1]/VoteType[2]/County[5]", indices
// counting same-named siblings from 1) and its line:
//
//   - a file larger than [importer.MaxFileSize], not valid UTF-8, in UTF-16,
//     or whose XML declaration names an encoding other than UTF-8 or
//     US-ASCII; anything that is not well-formed XML, a truncated document,
//     a root other than ElectionResult, or data after it;
//   - any DTD or other <!…> declaration: entities are never expanded, and
//     only XML's five predefined entities and character references are read;
//   - a missing Timestamp, ElectionName, ElectionDate or Region, or one given
//     twice; a date that is not M/D/YYYY or YYYY-MM-DD;
//   - names (of the election, region, units, contests, choices, parties,
//     vote types) that contain control characters other than tabs and line
//     breaks as published, or that, once cleaned (see Names), are empty,
//     longer than [events.MaxNameLength] bytes, contain control characters
//     or markup ('<' or '>' that is not part of a tag, as in "a < b"), or
//     have no letter or digit to make an ID from; a Timestamp with control
//     characters or markup; any attribute or text longer than
//     [MaxValueLength] bytes, or an element with more than [MaxAttrs]
//     attributes;
//   - votes and turnout figures that are not a whole number written in
//     decimal digits (negative, fractional, "1e3", empty), or exceed
//     [events.MaxVotes]; a voteFor below 1 or above [events.MaxVoteFor];
//     an isQuestion other than true or false; turnout figures on some
//     elements only (the turnout element and every unit in it carry both
//     totalVoters and ballotsCast, or none does);
//   - duplicates: a County or Precinct twice under one VoteType or in one
//     turnout list or ParticipatingCounties, a VoteType twice in a Choice, two
//     Choices of a contest with the same ID, two turnout elements;
//   - an incomplete grid: every Choice of a Contest must have the same
//     VoteTypes, and every VoteType the same Counties or Precincts, as the
//     contest's first. A missing one is an error, not a zero: a zero is
//     written as votes="0", and a hole means a damaged file;
//   - County and Precinct leaves in one file; a unit outside its contest's
//     ParticipatingCounties; a unit whose ID is the root's; a contest with no
//     choices, more than [events.MaxCountRows] choices × vote types, or a
//     manifest or report too large for one event.
//
// Discrepancies that do not stop the import become [importer.Finding]s, in
// file order: [importer.FindingVoteTypes] when a Choice's totalVotes
// differs from the sum of its VoteTypes' votes, and [importer.FindingRollup]
// when a VoteType's votes differ from the sum of its Counties or Precincts,
// or the turnout element's totalVoters or ballotsCast from the sum of its
// units'.
//
// Nothing is partial: an error returns no import. Every manifest and report
// Parse returns passes [events.Event.Validate] ([importer.Check]).
//
// Parse holds the file in memory once and streams it through
// [encoding/xml]; what else it keeps grows linearly with the file.
package clarity

import (
	"fmt"
	"io"

	"github.com/election-audit/ledger/events"
	"github.com/election-audit/ledger/importer"
)

// Limits of a file Parse reads, besides [importer.MaxFileSize].
const (
	MaxValueLength = 4096 // bytes of one attribute value or element text
	MaxAttrs       = 64   // attributes of one element
)

// IDs and names of the turnout contest.
const (
	TurnoutContest  = "turnout"
	TurnoutVoteType = "total" // the only vote type of turnout figures
	Registered      = "registered"
	BallotsCast     = "ballots-cast"
)

// Options change how Parse names things. The zero value, or nil, is the
// default.
type Options struct {
	// Root is the ID of the root unit. Empty means the slug of Region
	// without a trailing " County" (see the package doc). It must be a slug:
	// importer.Slug(Root) == Root.
	Root string
}

// Parse reads one detail.xml from r. file names it in errors, and its base
// name is each report's source file; election is the election ID used to
// check the events. Parse reads at most [importer.MaxFileSize] bytes.
func Parse(r io.Reader, file, election string, opts *Options) (*importer.Import, error) {
	if file == "" {
		return nil, fmt.Errorf("couldn't import a Clarity file: it needs a file name for the reports' source")
	}
	if !events.ValidElectionID(election) {
		return nil, fmt.Errorf("couldn't import %s: %q is not a valid election ID", file, election)
	}
	var o Options
	if opts != nil {
		o = *opts
	}
	if o.Root != "" && importer.Slug(o.Root) != o.Root {
		return nil, fmt.Errorf("couldn't import %s: root unit ID %q is not a slug (want %q)", file, o.Root, importer.Slug(o.Root))
	}
	data, err := io.ReadAll(io.LimitReader(r, importer.MaxFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("couldn't read %s: %w", file, err)
	}
	if len(data) > importer.MaxFileSize {
		return nil, &importer.Error{File: file, Msg: fmt.Sprintf("larger than the limit of %d bytes", importer.MaxFileSize)}
	}
	p := newParser(file, data, o)
	if err := p.parse(); err != nil {
		return nil, err
	}
	imp := p.result(election, importer.SourceOf(file, data))
	if imp.Totals, err = importer.CheckTotals(file, imp.Reports, p.stated); err != nil {
		return nil, err
	}
	if err := importer.Check(file, imp); err != nil {
		return nil, err
	}
	return imp, nil
}
