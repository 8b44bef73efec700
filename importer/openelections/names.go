package openelections

import (
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/election-audit/ledger/events"
	"github.com/election-audit/ledger/importer"
)

// meta is what the manifest takes from the options and the file names.
type meta struct {
	state, stateName, date, name string
	derived                      bool // name is the file name's words, to finish
	primary                      bool // each party's race is a contest of its own
}

// fileNamePattern is the OpenElections naming convention,
// "YYYYMMDD__st__words…" (older files use single underscores).
var fileNamePattern = regexp.MustCompile(`^([0-9]{8})__?([a-zA-Z]{2})(?:_|$)(.*)$`)

// metadata works out the state, date and name of the election.
func metadata(files []File, opts Options) (meta, error) {
	var m meta
	m.state = strings.ToLower(strings.TrimSpace(opts.State))
	if m.state != "" && !isStateCode(m.state) {
		return m, fmt.Errorf("couldn't import %s: Options.State %q is not a two-letter state code", files[0].Name, opts.State)
	}
	m.date = strings.TrimSpace(opts.Date)
	if m.date != "" {
		if _, err := time.Parse(time.DateOnly, m.date); err != nil {
			return m, fmt.Errorf("couldn't import %s: Options.Date %q is not a date (YYYY-MM-DD)", files[0].Name, opts.Date)
		}
	}
	var words []string
	for i, f := range files {
		sub := fileNamePattern.FindStringSubmatch(baseName(f.Name))
		if sub == nil {
			if m.state == "" || m.date == "" {
				return m, &importer.Error{File: f.Name, Msg: "the file name does not follow the OpenElections convention YYYYMMDD__st__…csv: give the state and date (--state and --date; Options.State and Date)"}
			}
			continue
		}
		date, state := sub[1], strings.ToLower(sub[2])
		if t, err := time.Parse("20060102", date); err == nil {
			date = t.Format(time.DateOnly)
		} else if m.date == "" {
			return m, &importer.Error{File: f.Name, Msg: fmt.Sprintf("the file name's date %q is not a date (YYYYMMDD): give the date (--date; Options.Date)", date)}
		}
		if opts.State == "" {
			if m.state != "" && state != m.state {
				return m, &importer.Error{File: f.Name, Msg: fmt.Sprintf("the file name's state %q differs from %q of %s", state, m.state, files[0].Name)}
			}
			m.state = state
		}
		if opts.Date != "" && date != m.date && len(date) == len(time.DateOnly) {
			// The file says which day it is of: an option may not move it.
			return m, &importer.Error{File: f.Name, Msg: fmt.Sprintf("the file name says the election was on %s, but --date (Options.Date) says %s: "+
				"import it into an election of %s, or, if the file is misnamed, rename it (its SHA-256, not its name, identifies its reports)", date, m.date, date)}
		}
		if opts.Date == "" {
			if m.date != "" && date != m.date {
				return m, &importer.Error{File: f.Name, Msg: fmt.Sprintf("the file name's date %s differs from %s of %s", date, m.date, files[0].Name)}
			}
			m.date = date
		}
		if i == 0 {
			for _, w := range strings.Split(sub[3], "_") {
				if strings.EqualFold(w, "primary") {
					m.primary = true
				}
				switch strings.ToLower(w) {
				case "", "precinct", "county", "results":
				default:
					words = append(words, w)
				}
			}
		}
	}
	if opts.Primary != nil {
		m.primary = *opts.Primary
	}
	m.stateName = stateNames[m.state]
	if m.stateName == "" {
		m.stateName = strings.ToUpper(m.state)
	}
	m.name = strings.TrimSpace(opts.Name)
	if m.name == "" {
		// the county words are dropped once the counties are known
		m.name, m.derived = strings.Join(words, " "), true
	} else if len(m.name) > events.MaxNameLength || strings.ContainsFunc(m.name, isControl) {
		return m, fmt.Errorf("couldn't import %s: Options.Name is longer than %d bytes or has control characters", files[0].Name, events.MaxNameLength)
	}
	return m, nil
}

func isStateCode(s string) bool {
	return len(s) == 2 && 'a' <= s[0] && s[0] <= 'z' && 'a' <= s[1] && s[1] <= 'z'
}

var stateNames = map[string]string{
	"al": "Alabama", "ak": "Alaska", "az": "Arizona", "ar": "Arkansas", "ca": "California",
	"co": "Colorado", "ct": "Connecticut", "de": "Delaware", "dc": "District of Columbia",
	"fl": "Florida", "ga": "Georgia", "hi": "Hawaii", "id": "Idaho", "il": "Illinois",
	"in": "Indiana", "ia": "Iowa", "ks": "Kansas", "ky": "Kentucky", "la": "Louisiana",
	"me": "Maine", "md": "Maryland", "ma": "Massachusetts", "mi": "Michigan", "mn": "Minnesota",
	"ms": "Mississippi", "mo": "Missouri", "mt": "Montana", "ne": "Nebraska", "nv": "Nevada",
	"nh": "New Hampshire", "nj": "New Jersey", "nm": "New Mexico", "ny": "New York",
	"nc": "North Carolina", "nd": "North Dakota", "oh": "Ohio", "ok": "Oklahoma", "or": "Oregon",
	"pa": "Pennsylvania", "ri": "Rhode Island", "sc": "South Carolina", "sd": "South Dakota",
	"tn": "Tennessee", "tx": "Texas", "ut": "Utah", "vt": "Vermont", "va": "Virginia",
	"wa": "Washington", "wv": "West Virginia", "wi": "Wisconsin", "wy": "Wyoming",
	"pr": "Puerto Rico", "gu": "Guam", "vi": "U.S. Virgin Islands", "as": "American Samoa",
	"mp": "Northern Mariana Islands",
}

// words folds a name for matching against the lists below: lower case,
// every run of other characters than letters and digits one space.
func words(s string) string {
	var b strings.Builder
	b.Grow(len(s))
	space := false
	for _, r := range strings.ToLower(s) {
		if 'a' <= r && r <= 'z' || '0' <= r && r <= '9' || r >= 0x80 {
			if space && b.Len() > 0 {
				b.WriteByte(' ')
			}
			space = false
			b.WriteRune(r)
			continue
		}
		space = true
	}
	return b.String()
}

// pseudoOffices are offices that carry turnout figures, not a race.
var pseudoOffices = map[string]bool{
	"voters": true, "registered": true, "registered voters": true, "registration": true,
	"ballots": true, "ballots cast": true, "total ballots": true, "total ballots cast": true,
	"turnout": true, "voter turnout": true, "over votes": true, "overvotes": true,
	"under votes": true, "undervotes": true,
}

// pseudoPrefixes start the names of pseudo-offices that qualify a turnout
// figure ("Ballots Cast Total", "Ballots Cast Blank", "Registered Voters Total").
var pseudoPrefixes = []string{"ballots cast ", "registered voters ", "total ballots cast ", "voter turnout "}

// isPseudoOffice reports whether a folded office name carries turnout
// figures rather than a race.
func isPseudoOffice(folded string) bool {
	if pseudoOffices[folded] {
		return true
	}
	for _, p := range pseudoPrefixes {
		if strings.HasPrefix(folded, p) {
			return true
		}
	}
	return false
}

// figure is a fixed turnout choice.
type figure struct{ id, name string }

var (
	registered  = figure{"registered", "Registered Voters"}
	ballotsCast = figure{"ballots-cast", "Ballots Cast"}
	overVotes   = figure{"over-votes", "Over Votes"}
	underVotes  = figure{"under-votes", "Under Votes"}
	totalVotes  = figure{"total-votes", "Total Votes"}
	writeIns    = figure{"write-ins", "Write-ins"}
)

// figures maps folded candidate (or pseudo-office) names to turnout choices.
var figures = map[string]figure{
	"registered": registered, "registered voters": registered, "total registered voters": registered,
	"registration": registered,
	"ballots cast": ballotsCast, "ballots": ballotsCast, "total ballots": ballotsCast,
	"total ballots cast": ballotsCast, "voters": ballotsCast, "total voters": ballotsCast,
	"turnout": ballotsCast, "voter turnout": ballotsCast, "times cast": ballotsCast,
	"over votes": overVotes, "overvotes": overVotes, "over vote": overVotes, "overvote": overVotes,
	"under votes": underVotes, "undervotes": underVotes, "under vote": underVotes,
	"undervote": underVotes, "blank": underVotes, "blanks": underVotes, "blank votes": underVotes,
	"total votes": totalVotes, "total": totalVotes, "votes cast": totalVotes, "total votes cast": totalVotes,
}

// writeInNames are the folded spellings of the write-ins choice. Other
// names of write-in lines ("Write-In Totals", "Scattering", "Unresolved
// Write-In") stay choices of their own: a file may list two of them for one
// unit, one the total of the other, and folding them would add both.
var writeInNames = map[string]bool{
	"write in": true, "write ins": true, "writein": true, "writeins": true,
	"write in votes": true,
}

// rollupPrecincts are the folded precinct names of roll-up rows.
var rollupPrecincts = map[string]bool{"total": true, "totals": true, "county total": true, "county totals": true, "grand total": true}

// nonpartisan are the folded party codes of nonpartisan candidates, whose
// race is not split by party in a primary.
var nonpartisan = map[string]bool{"np": true, "non": true, "nonpartisan": true, "non partisan": true, "nop": true}

// isRollup reports whether a precinct name is that of a roll-up row:
// blank, or "Total", "TOTALS:", "County Total", ….
func isRollup(name string) bool {
	w := words(name)
	return strings.TrimSpace(name) == "" || w != "" && rollupPrecincts[w]
}

// stripParty removes a trailing party tag: the party column's value in
// parentheses, or any parenthesised tag of one to five capital letters.
func stripParty(name, party string) string {
	name = importer.StripParty(name, party)
	n := len(name)
	if n < 4 || name[n-1] != ')' {
		return name
	}
	open := strings.LastIndexByte(name, '(')
	if open < 1 || n-2-open < 1 || n-2-open > 5 {
		return name
	}
	for i := open + 1; i < n-1; i++ {
		if name[i] < 'A' || name[i] > 'Z' {
			return name
		}
	}
	if s := strings.TrimSpace(name[:open]); s != "" {
		return s
	}
	return name
}

// countyID is the ID of a county: the slug of its name without " County"
// or " Parish".
func countyID(name string) string {
	for _, suffix := range []string{" county", " parish"} {
		if n := len(name) - len(suffix); n > 0 && strings.EqualFold(name[n:], suffix) {
			name = name[:n]
			break
		}
	}
	return importer.Slug(name)
}

// contestName joins an office and its district.
func contestName(office, district string) (id, name string) {
	id = importer.Slug(office)
	if district == "" {
		return id, office
	}
	d := importer.Slug(district)
	if d != "" && (id == d || strings.HasSuffix(id, "-"+d)) {
		return id, office
	}
	id = importer.Slug(office + " " + district)
	if strings.Trim(district, "0123456789") == "" {
		return id, office + ", District " + district
	}
	return id, office + ", " + district
}

func isControl(r rune) bool {
	return r < 0x20 || 0x7f <= r && r < 0xa0 || r == '\u2028' || r == '\u2029'
}

// checkText returns what is wrong with a name, or "".
func checkText(s string) string {
	switch {
	case len(s) > events.MaxNameLength:
		return fmt.Sprintf("longer than %d bytes", events.MaxNameLength)
	case strings.ContainsFunc(s, isControl):
		return fmt.Sprintf("%s contains control characters", quote(s))
	case strings.ContainsAny(s, "<>"):
		return fmt.Sprintf("%s contains '<' or '>': names must be plain text, not markup", quote(s))
	}
	return ""
}

// quote quotes a value for a message, cut if it is long.
func quote(s string) string { return quoteMax(s, 40) }

func quoteMax(s string, max int) string {
	if len(s) > max {
		cut := max
		for cut > 0 && s[cut]&0xc0 == 0x80 {
			cut--
		}
		return fmt.Sprintf("%q", s[:cut]+"…")
	}
	return fmt.Sprintf("%q", s)
}
