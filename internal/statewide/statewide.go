// Package statewide generates statewide precinct results files in the
// OpenElections CSV format, with the totals each must import to, for the
// tests and benchmarks of the importer and of the ledger.
//
// For most uses, call [Generate] with one of [Layouts] and read the file
// with package importer/openelections; then compare what was imported (or
// tallied) with the [Want] it returned.
//
// # Format
//
// A file is a header line, then for each of counties × precinctsPer
// precincts one row per candidate of every contest of a fixed ballot of 13
// contests and 40 candidates (turnout figures, write-ins, over and under
// votes and amendments included; three contests are by district, the
// district a function of the county), then, per county, a TOTAL roll-up row
// per contest and candidate that equals the sum of its precincts. 150
// counties of 17 precincts give 108,000 rows (102,000 precinct rows).
//
// Counts are pseudo-random but deterministic: the same arguments give the
// same bytes. A layout with vote-type columns fills each with 0–399 and the
// votes column, if any, with their sum; a layout without them fills the
// votes column with 0–999.
package statewide

import (
	"bytes"
	"fmt"
	"strconv"
	"strings"
)

// contest is one contest of the generated ballot.
type contest struct {
	office   string
	district func(county int) string // nil: statewide
	cands    [][2]string             // name, party
}

var ballot = []contest{
	{"Voters", nil, [][2]string{{"Registered", ""}, {"Ballots Cast", ""}}},
	{"President", nil, [][2]string{{"ANN ADAMS", "DEM"}, {"BOB BAKER", "REP"}, {"CAROL CHAVEZ", "LIB"}, {"DAN DIAZ", "GRN"}, {"Write-ins", ""}, {"Over Votes", ""}, {"Under Votes", ""}}},
	{"U.S. Senate", nil, [][2]string{{"ED EVANS", "DEM"}, {"FAY FOSTER", "REP"}, {"GUS GRAY", "LIB"}, {"Write-ins", ""}}},
	{"U.S. House", func(c int) string { return strconv.Itoa(c%14 + 1) }, [][2]string{{"HAL HILL", "DEM"}, {"IDA IRWIN", "REP"}, {"Write-ins", ""}}},
	{"Governor", nil, [][2]string{{"JAN JONES", "DEM"}, {"KIM KING", "REP"}, {"LEE LOPEZ", "LIB"}, {"Write-ins", ""}}},
	{"Lieutenant Governor", nil, [][2]string{{"MAY MOORE", "DEM"}, {"NED NASH", "REP"}, {"Write-ins", ""}}},
	{"Secretary of State", nil, [][2]string{{"OLA OWENS", "DEM"}, {"PAT PRICE", "REP"}, {"Write-ins", ""}}},
	{"State Senate", func(c int) string { return strconv.Itoa(c%56 + 1) }, [][2]string{{"QUIN QUICK", "DEM"}, {"ROY REED", "REP"}, {"Write-ins", ""}}},
	{"State House", func(c int) string { return strconv.Itoa(c + 1) }, [][2]string{{"SAM SHAW", "DEM"}, {"TIA TATE", "REP"}, {"Write-ins", ""}}},
	{"Constitutional Amendment 1", nil, [][2]string{{"Yes", ""}, {"No", ""}}},
	{"Constitutional Amendment 2", nil, [][2]string{{"Yes", ""}, {"No", ""}}},
	{"Constitutional Amendment 3", nil, [][2]string{{"Yes", ""}, {"No", ""}}},
	{"Constitutional Amendment 4", nil, [][2]string{{"Yes", ""}, {"No", ""}}},
}

// Layout is a header layout of real OpenElections files: the column names,
// each one of county, precinct, office, district, party, candidate and votes
// (in some spelling) or a vote type.
type Layout []string

// Layouts are the header layouts Generate is tested with: lower-case names
// with four vote types; title-case names, another column order and a
// "Total Votes" column; the precinct first, three vote types; and no vote
// types at all.
var Layouts = []Layout{
	{"county", "precinct", "office", "district", "party", "candidate", "votes", "election_day", "absentee_by_mail", "advance_in_person", "provisional"},
	{"County", "Precinct Name", "Office", "District", "Candidate", "Party", "Election Day", "Absentee by Mail", "Advance in Person", "Provisional", "Total Votes"},
	{"precinct", "county", "candidate", "party", "office", "district", "early_voting", "election_day", "mail", "votes"},
	{"county", "precinct", "office", "district", "candidate", "party", "votes"},
}

// voteTypeIDs are the vote type IDs package openelections gives the
// vote-type columns of Layouts.
var voteTypeIDs = map[string]string{"election_day": "election-day", "Election Day": "election-day", "absentee_by_mail": "absentee-by-mail",
	"Absentee by Mail": "absentee-by-mail", "advance_in_person": "advance-in-person", "Advance in Person": "advance-in-person",
	"provisional": "provisional", "Provisional": "provisional", "early_voting": "early-voting", "mail": "mail"}

// Want is what a generated file must import to. Roll-up (TOTAL) rows are
// not counted in Votes or VoteTypes: they repeat their precincts.
type Want struct {
	Rows      int              // data rows, roll-ups included
	Precincts int              // precinct units
	Counties  int              // county units
	Votes     map[string]int64 // "office|candidate" (as in the file) → votes
	VoteTypes map[string]int64 // vote type ID → votes over all contests ("total" when the layout has none)
}

// Generate writes a statewide precinct file under layout: counties ×
// precinctsPer precincts, every contest of the ballot in every precinct
// (district contests by county), then a TOTAL roll-up row per county,
// contest and candidate. It returns the file and what it must import to.
func Generate(layout Layout, counties, precinctsPer int) ([]byte, Want) {
	want := Want{Counties: counties, Votes: map[string]int64{}, VoteTypes: map[string]int64{}}
	var buf bytes.Buffer
	buf.WriteString(strings.Join(layout, ",") + "\n")
	var vtCols []string
	for _, col := range layout {
		switch strings.ToLower(strings.ReplaceAll(col, " ", "_")) {
		case "county", "precinct", "precinct_name", "office", "district", "party", "candidate":
		case "votes", "total_votes":
		default:
			vtCols = append(vtCols, col)
		}
	}
	seed := uint64(1)
	rnd := func(n int) int64 {
		seed = seed*6364136223846793005 + 1442695040888963407
		return int64(seed>>33) % int64(n)
	}
	fields := map[string]string{}
	write := func(county, precinct, office, district, cand, party string, vts []int64, votes int64) {
		fields["county"], fields["precinct"], fields["office"], fields["district"] = county, precinct, office, district
		fields["candidate"], fields["party"] = cand, party
		for i, col := range layout {
			if i > 0 {
				buf.WriteByte(',')
			}
			key := strings.ToLower(strings.ReplaceAll(col, " ", "_"))
			switch key {
			case "precinct_name":
				key = "precinct"
			case "votes", "total_votes":
				buf.WriteString(strconv.FormatInt(votes, 10))
				continue
			}
			if v, ok := fields[key]; ok {
				buf.WriteString(v)
				continue
			}
			for j, vc := range vtCols {
				if vc == col {
					buf.WriteString(strconv.FormatInt(vts[j], 10))
				}
			}
		}
		buf.WriteByte('\n')
		want.Rows++
	}
	vts := make([]int64, len(vtCols))
	for c := range counties {
		county := fmt.Sprintf("Countyname%03d", c)
		sums := map[string][]int64{}
		for p := range precinctsPer {
			precinct := fmt.Sprintf("PRECINCT %04d", c*precinctsPer+p)
			want.Precincts++
			for _, ct := range ballot {
				district := ""
				if ct.district != nil {
					district = ct.district(c)
				}
				for _, cand := range ct.cands {
					var total int64
					for j := range vts {
						vts[j] = rnd(400)
						total += vts[j]
					}
					if len(vts) == 0 {
						total = rnd(1000)
					}
					write(county, precinct, ct.office, district, cand[0], cand[1], vts, total)
					key := ct.office + "|" + district + "|" + cand[0]
					if sums[key] == nil {
						sums[key] = make([]int64, len(vts)+1)
					}
					sums[key][0] += total
					for j, v := range vts {
						sums[key][j+1] += v
						want.VoteTypes[voteTypeIDs[vtCols[j]]] += v
					}
					if len(vts) == 0 {
						want.VoteTypes["total"] += total
					}
					want.Votes[ct.office+"|"+cand[0]] += total
				}
			}
		}
		for _, ct := range ballot {
			district := ""
			if ct.district != nil {
				district = ct.district(c)
			}
			for _, cand := range ct.cands {
				s := sums[ct.office+"|"+district+"|"+cand[0]]
				copy(vts, s[1:])
				write(county, "TOTAL", ct.office, district, cand[0], cand[1], vts, s[0])
			}
		}
	}
	return buf.Bytes(), want
}
