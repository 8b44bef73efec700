package statewide

import (
	"fmt"
	"slices"
	"strings"
)

// keys maps imported contest and choice IDs back to the ballot.
type keys struct {
	turnout map[string]string // "contest/choice" of a turnout figure → "office|candidate"
	offices map[string]string // slug of a statewide office, or slug + "-*" of a district office → office
}

var ballotKeys = newKeys()

func newKeys() *keys {
	k := &keys{turnout: map[string]string{}, offices: map[string]string{}}
	for _, ct := range ballot {
		for _, cand := range ct.cands {
			if contest, choice := turnoutTarget(ct.office, cand[0]); contest != "" {
				k.turnout[contest+"/"+choice] = ct.office + "|" + cand[0]
			}
		}
		// Races: the contest ID is the office's slug, with "-" and the
		// district for district contests.
		slug := strings.ToLower(strings.NewReplacer(".", "", " ", "-").Replace(ct.office))
		if ct.district != nil {
			slug += "-*"
		}
		k.offices[slug] = ct.office
	}
	return k
}

// turnoutTarget is the turnout contest and choice a row of the ballot goes
// to, or "" for a race.
func turnoutTarget(office, cand string) (contest, choice string) {
	switch {
	case office == "Voters":
		return "turnout", map[string]string{"Registered": "registered", "Ballots Cast": "ballots-cast"}[cand]
	case cand == "Over Votes" || cand == "Under Votes":
		return "president-turnout", map[string]string{"Over Votes": "over-votes", "Under Votes": "under-votes"}[cand]
	}
	return "", ""
}

// Key is the "office|candidate" key of [Want.Votes] that votes imported
// under a contest and choice ID count toward. Its rules are independent of
// the importer's: votes imported under wrong IDs give keys that are not in
// Want.Votes.
func Key(contest, choice string) string {
	if k, ok := ballotKeys.turnout[contest+"/"+choice]; ok {
		return k
	}
	office, ok := ballotKeys.offices[contest]
	if i := strings.LastIndexByte(contest, '-'); !ok && i > 0 {
		office = ballotKeys.offices[contest[:i]+"-*"]
	}
	cand := strings.ToUpper(strings.ReplaceAll(choice, "-", " "))
	switch choice {
	case "write-ins":
		cand = "Write-ins"
	case "yes", "no":
		cand = strings.ToUpper(cand[:1]) + choice[1:]
	}
	return office + "|" + cand
}

// Diff compares imported or tallied totals with w: votes by [Key], and
// votes by vote type ID over all contests. It returns one line per
// difference (a figure that differs, is missing or should not be there),
// sorted; none if they match.
func (w Want) Diff(votes, voteTypes map[string]int64) []string {
	var out []string
	cmp := func(what string, got, want map[string]int64) {
		for k, v := range want {
			if got[k] != v {
				out = append(out, fmt.Sprintf("%s %q: got %d, want %d", what, k, got[k], v))
			}
		}
		for k, v := range got {
			if _, ok := want[k]; !ok {
				out = append(out, fmt.Sprintf("%s %q: got %d, want none", what, k, v))
			}
		}
	}
	cmp("votes", votes, w.Votes)
	cmp("vote type", voteTypes, w.VoteTypes)
	slices.Sort(out)
	return out
}
