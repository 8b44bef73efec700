// Package gasos reads the Georgia Secretary of State's JSON results export
// (files such as export-2017AprSpec.json) into an election manifest and one
// count report per county and contest.
//
// For most uses, call [Parse] and submit the manifest, then the reports.
//
// # Format
//
// The export is one JSON object:
//
//	{"electionDate": "2017-04-18", "electionName": "April 18, 2017 - Special Election ",
//	 "results": {"name": "Georgia", "ballotItems": [ITEM, …]},
//	 "localResults": [{"name": "Cobb County", "ballotItems": [ITEM, …]}, …]}
//
//	ITEM:   {"id": "30600", "name": "U.S. Representative, District 6", "voteFor": 1,
//	         "ballotOptions": [OPTION, …]}
//	OPTION: {"id": "140", "name": "JON OSSOFF (DEM)", "politicalParty": "DEM", "voteCount": 125517,
//	         "groupResults": [{"groupName": "Election Day", "voteCount": 48865}, …]}
//
// "results" holds the statewide totals and defines the contests and choices;
// "localResults" holds one entry per county, and only counties report.
// Other fields (createdAt, ballotOrder, precinctResults, …) are ignored: a
// county-level export is read, precinct results are not.
//
// # IDs
//
// Stable IDs are derived from names by one rule, a slug: lower-case ASCII
// letters and digits, words joined by '-', a '.' or apostrophe after a
// letter dropped ("U.S." gives "us"), common accented letters folded, at
// most 60 bytes.
//
//   - Vote types: the slug of groupName ("Absentee by Mail" gives
//     "absentee-by-mail"), in the order first seen in the file.
//   - Units: the root "ga" (kind "state", named by results.name), then one
//     unit per localResults entry (kind "county", parent "ga"): the slug of
//     its name without a trailing " County" ("DeKalb County" gives "dekalb").
//   - Contests: the slug of the ballot item's name ("U.S. Representative,
//     District 6" gives "us-representative-district-6"). Should two items
//     give the same slug, the later one gets "-" and the slug of its file id
//     appended, or else the first free "-2", "-3", ….
//   - Choices: the slug of the candidate's name without a trailing party tag
//     that repeats politicalParty ("JON OSSOFF (DEM)" gives "jon-ossoff").
//     The choice's name is that name in title case ("Jon Ossoff") unless the
//     file already uses lower case; its aliases are the exact names the file
//     uses ("JON OSSOFF (DEM)") and the name without the party tag.
//
// A county's ballot items and options are matched to the statewide ones by
// id, or by name when the id is absent or unknown; matched by id, the names
// must still agree. A contest on the ballot in only some counties is scoped
// to them ([events.Contest] Units); one in every county is not scoped. Every
// exact spelling of a candidate's name in the file becomes an alias.
//
// # Checks
//
// Parse refuses, with an [*importer.Error] that names the file and the element, a file
// that is larger than [MaxFileSize], not UTF-8, not one JSON object, or that
// has a missing name, a negative or fractional count, two candidates with the
// same name in one contest, the same vote type twice for one candidate,
// group results that do not add up to the candidate's voteCount, a county
// contest or candidate that is not in the statewide results, statewide
// totals that differ from the sum of the counties, or a manifest or report
// too large for one event. Every manifest and report it returns passes
// [events.Event.Validate], and its encoding fits in [events.MaxEventSize].
//
// Before it returns, Parse checks that the reports, summed by contest and
// candidate, equal the counties' own voteCount figures, added apart from how
// the reports are built from groupResults ([importer.CheckTotals]); the result
// is the import's [importer.Totals].
package gasos

import (
	"fmt"
	"io"

	"github.com/election-audit/ledger/events"
	"github.com/election-audit/ledger/importer"
)

// MaxFileSize is the largest export Parse reads, in bytes.
const MaxFileSize = 64 << 20

// RootUnit is the ID of the statewide reporting unit, the root of every
// imported manifest.
const RootUnit = "ga"

// Parse reads one export from r. file names it in errors, and its base name
// is each report's source file; election is the election ID used to check
// the events. Parse reads at most [MaxFileSize] bytes and holds the file in
// memory.
func Parse(r io.Reader, file string, election string) (*importer.Import, error) {
	if file == "" {
		return nil, fmt.Errorf("couldn't import an export: it needs a file name for the reports' source")
	}
	if !events.ValidElectionID(election) {
		return nil, fmt.Errorf("couldn't import %s: %q is not a valid election ID", file, election)
	}
	data, err := io.ReadAll(io.LimitReader(r, MaxFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("couldn't read %s: %w", file, err)
	}
	if len(data) > MaxFileSize {
		return nil, &importer.Error{File: file, Msg: fmt.Sprintf("larger than the limit of %d bytes (64 MiB)", MaxFileSize)}
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
	imp := &importer.Import{Election: election, Manifest: b.m, Reports: b.reports}
	if imp.Totals, err = importer.CheckTotals(file, imp.Reports, b.stated); err != nil {
		return nil, err
	}
	if err := importer.Check(file, imp); err != nil {
		return nil, err
	}
	return imp, nil
}
