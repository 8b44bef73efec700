// Package nist reads and writes NIST SP 1500-100 version 2 election results
// (the Election Results Reporting Common Data Format), JSON flavour: an
// ElectionReport document as defined by the schema
// NIST_V2_election_results_reporting.json.
//
// For most uses, call [Export] to publish a tally for others' tools, and
// [Parse] to import a report into a manifest and count reports.
//
// # Format
//
// A report is one JSON object (only the fields this package reads or writes
// are shown):
//
//	{"@type": "ElectionResults.ElectionReport", "Format": "precinct-level",
//	 "Status": "unofficial-complete", "GeneratedDate": "2017-04-19T06:00:00Z",
//	 "Issuer": "…", "IssuerAbbreviation": "…", "VendorApplicationId": "…",
//	 "SequenceStart": 1, "SequenceEnd": 1,
//	 "GpUnit": [{"@type": "ElectionResults.ReportingUnit", "@id": "gpu-ga", "Type": "state",
//	             "Name": TEXT, "ComposingGpUnitIds": ["gpu-cobb", …], "VotersRegistered": 12}, …],
//	 "Party": [{"@type": "ElectionResults.Party", "@id": "par-dem", "Name": TEXT, "Abbreviation": TEXT}],
//	 "Election": [{"@type": "ElectionResults.Election", "Name": TEXT, "Type": "special",
//	   "StartDate": "2017-04-18", "EndDate": "2017-04-18", "ElectionScopeId": "gpu-ga",
//	   "Candidate": [{"@type": "ElectionResults.Candidate", "@id": "cand-jon-ossoff",
//	                  "BallotName": TEXT, "PartyId": "par-dem"}],
//	   "Contest": [{"@type": "ElectionResults.CandidateContest", "@id": "con-us-representative-district-6",
//	                "Name": "…", "ElectionDistrictId": "gpu-ga", "VotesAllowed": 1,
//	                "ContestSelection": [{"@type": "ElectionResults.CandidateSelection", "@id": "…",
//	                  "CandidateIds": ["cand-jon-ossoff"],
//	                  "VoteCounts": [{"@type": "ElectionResults.VoteCounts", "GpUnitId": "gpu-ga",
//	                                  "Type": "election-day", "Count": 48865}, …]}]}],
//	   "BallotCounts": [{"@type": "ElectionResults.BallotCounts", "GpUnitId": "gpu-ga",
//	                     "Type": "total", "BallotsCast": 1000}]}]}
//
//	TEXT: {"@type": "ElectionResults.InternationalizedText",
//	       "Text": [{"@type": "ElectionResults.LanguageString", "Language": "en", "Content": "…"}]}
//
// [Export] writes exactly this shape, indented, with everything in manifest
// order, so the same manifest, tally and options always give the same bytes.
// The mapping:
//
//   - Status: the tally's status (pre-election, unofficial-partial,
//     unofficial-complete, certified, recount), or "correction" when
//     [ExportOptions].Correction is set.
//   - Units: one ReportingUnit each. A kind that is a ReportingUnitType
//     (state, county, precinct, …) is its Type; any other kind is Type
//     "other" with the kind as OtherType. Children are ComposingGpUnitIds.
//   - Races: one CandidateContest each, VotesAllowed = vote_for, with one
//     Candidate and one CandidateSelection per choice and one Party per
//     distinct party. The contest's district (ElectionDistrictId) is its one
//     scope unit, or the root when it has none or several; several scope
//     units are kept in an ExternalIdentifier (Type "other", OtherType
//     "ledger-contest-units", their IDs separated by spaces), and Parse
//     reads the counts of their ancestors as roll-ups, checked, not reported.
//   - Counts: the district unit has one VoteCounts per vote type for each
//     choice; every other unit in the district with reported results has one,
//     Type "total". Vote types map to CountItemType: election-day →
//     election-day; advance-in-person and early → early; absentee-by-mail and
//     absentee → absentee; provisional → provisional; total → total when it
//     is the only vote type (else other/"total"); other CountItemType names
//     to themselves; anything else, or a second vote type that maps to a
//     type already used, → "other" with the vote type ID as OtherType.
//   - Turnout: of the first turnout contest, the choice "registered" becomes
//     VotersRegistered of each unit with results, and "ballots-cast" becomes
//     the election's BallotCounts, by vote type for the district unit and as a
//     total for the others, as for votes. Other turnout choices and further
//     turnout contests have no place in the format and are left out.
//   - Format: "precinct-level" when counts are given for units below a
//     contest's district, else "summary-contest".
//
// # IDs
//
// Export derives @id values from the ledger's IDs: "gpu-" + unit, "con-" +
// contest, "cand-" + choice, "par-" + the slug of the party, "sel-" +
// contest + "-" + choice. A choice ID used in two contests for different
// people gets "cand-" + contest + "-" + choice and an ExternalIdentifier
// (Type "other", OtherType "ledger-choice-id") holding the choice ID.
//
// Parse maps them back: a unit's ID is its @id without a leading "gpu-", a
// contest's without "con-", a candidate's choice ID its ledger-choice-id
// identifier or else its @id without "cand-". Other files' @ids are kept as
// they are when they are valid ledger IDs (letters, digits, '.', '_', ':',
// '-'), and slugged otherwise. A selection without a single candidate (a
// write-in, a ticket) or of a ballot measure is a choice whose ID is the
// selection's @id without "sel-". Vote types: a CountItemType is its own ID
// ("early", "absentee"); "other" gives the OtherType. Registered voters and
// ballots cast become a turnout contest "turnout" with choices "registered"
// and "ballots-cast".
//
// A round trip Parse(Export(m, t)) gives back the units, contests, choices
// (their IDs, names and parties; aliases have no place in the format) and
// every unit's totals; vote types come back under their CountItemType names.
//
// # Checks
//
// Parse refuses, with an [*importer.Error] that names the file and the JSON
// path of the element ("Election[0].Contest[2].ContestSelection[1].VoteCounts[3]"),
// a file that is larger than [importer.MaxFileSize], not UTF-8, not one JSON
// object, not an ElectionReport, or that has other than one Election, a
// duplicated @id, a reference to an unknown GpUnit, Party or Candidate, a
// GpUnit composed by two others or a cycle of ComposingGpUnitIds, an
// ElectionScopeId that is not a top-level unit, a negative, fractional or too
// large count, a count suppressed for privacy or of a later ranked-choice
// round, the same vote type twice for one selection and unit, a name that
// is too long or holds control characters or markup ('<', '>'), or a
// manifest or report too large for one event.
//
// A selection's "total" beside its other vote types is checked against
// their sum and then dropped (a difference is an [importer.Finding]); a total
// alone is kept as vote type "total". A unit's counts that differ from the
// sum of its children's, when all of them report, are a finding too. Every
// manifest and report Parse returns passes [events.Event.Validate].
//
// Before it returns, Parse checks that the reports, summed by contest and
// choice, equal the file's VoteCounts (and turnout figures) as read, summed
// apart from how they become reports ([importer.CheckTotals]); the result is
// the import's [importer.Totals].
package nist

import (
	"fmt"
	"io"

	"github.com/election-audit/ledger/events"
	"github.com/election-audit/ledger/importer"
)

// maxFileSize is the largest report Parse reads; a variable only so that a
// test can lower it.
var maxFileSize int64 = importer.MaxFileSize

// Parse reads one ElectionReport from r. file names it in errors, and its
// base name is each report's source file; election is the election ID used
// to check the events. Parse reads at most [importer.MaxFileSize] bytes and
// holds the file in memory.
func Parse(r io.Reader, file, election string) (*importer.Import, error) {
	if file == "" {
		return nil, fmt.Errorf("couldn't import a NIST report: it needs a file name for the reports' source")
	}
	if !events.ValidElectionID(election) {
		return nil, fmt.Errorf("couldn't import %s: %q is not a valid election ID", file, election)
	}
	data, err := io.ReadAll(io.LimitReader(r, maxFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("couldn't read %s: %w", file, err)
	}
	if int64(len(data)) > maxFileSize {
		return nil, &importer.Error{File: file, Msg: fmt.Sprintf("larger than the limit of %d bytes", maxFileSize)}
	}
	x, err := decode(file, data)
	if err != nil {
		return nil, err
	}
	b := newBuilder(file)
	if err := b.build(x); err != nil {
		return nil, err
	}
	src := importer.SourceOf(file, data)
	for _, rep := range b.reports {
		rep.Source = src
	}
	imp := &importer.Import{Election: election, Manifest: b.m, Reports: b.reports, Findings: b.findings}
	if imp.Totals, err = importer.CheckTotals(file, imp.Reports, b.stated); err != nil {
		return nil, err
	}
	if err := importer.Check(file, imp); err != nil {
		return nil, err
	}
	return imp, nil
}
