package openelections

import (
	"bytes"
	"cmp"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"unicode/utf8"

	"golang.org/x/text/encoding/charmap"

	"github.com/election-audit/ledger/events"
	"github.com/election-audit/ledger/importer"
)

// fileState is what the builder knows of the file it is reading.
type fileState struct {
	idx    int32
	name   string
	layout layout
	vals   []vtVal // scratch for one row's figures
	party  string  // the row's party, trimmed
	// size is the file's length after decoding; open is set when its last
	// line has no line end.
	size int64
	open bool
	// disagree counts the rows whose vote types do not sum to their votes;
	// disagreeAt holds the first few.
	disagree   int
	disagreeAt []string
	// unitTotals are the unit-total column's figures by unit and contest.
	unitTotals map[[2]int32]*unitTotal
}

// unitTotal is one unit's contest total as a unit-total column gives it,
// and the sum of the rows that carry it.
type unitTotal struct {
	line       int
	total, sum int64
	what       string
}

// decode returns a file's text as UTF-8 with LF or CRLF line ends: a file
// that is not valid UTF-8 is read as Windows-1252 (the encoding of Latin-1
// files as Windows writes them), and lone CRs (old Mac line ends) become LF.
func decode(data []byte) (text []byte, win1252 bool, err error) {
	if !utf8.Valid(data) {
		for i, c := range data {
			switch c {
			case 0x81, 0x8d, 0x8f, 0x90, 0x9d: // undefined in Windows-1252
				return nil, false, fmt.Errorf("byte %d (0x%02x) is neither UTF-8 nor Windows-1252: save the file as UTF-8", i, c)
			}
		}
		if data, err = charmap.Windows1252.NewDecoder().Bytes(data); err != nil {
			return nil, false, err
		}
		win1252 = true
	}
	data = bytes.TrimPrefix(data, importer.BOM) // written by some Windows tools; harmless
	if loneCR(data) {
		out := make([]byte, len(data))
		for j, c := range data {
			if c == '\r' && (j+1 == len(data) || data[j+1] != '\n') {
				c = '\n'
			}
			out[j] = c
		}
		data = out
	}
	return data, win1252, nil
}

// loneCR reports whether data has a CR that is not followed by LF.
func loneCR(data []byte) bool {
	for {
		i := bytes.IndexByte(data, '\r')
		if i < 0 {
			return false
		}
		if i+1 == len(data) || data[i+1] != '\n' {
			return true
		}
		data = data[i+2:]
	}
}

// readFile reads one file's rows into the builder.
func (b *builder) readFile(idx int32, name string, raw []byte, src events.Source) error {
	f := &fileState{idx: idx, name: name, unitTotals: map[[2]int32]*unitTotal{}}
	b.files = append(b.files, fileInfo{name: name, src: src})
	data, win1252, err := decode(raw)
	if err != nil {
		return &importer.Error{File: name, Msg: fmt.Sprintf("not UTF-8, and couldn't be read as Windows-1252 (Latin-1) either: %v", err)}
	}
	b.files[idx].win1252 = win1252
	f.size = int64(len(data))
	f.open = len(data) > 0 && data[len(data)-1] != '\n'
	r := csv.NewReader(bytes.NewReader(data))
	r.FieldsPerRecord = -1 // checked here, for a better message
	r.ReuseRecord = true
	header, err := r.Read()
	if errors.Is(err, io.EOF) {
		return &importer.Error{File: name, Msg: "empty file: expected a header line (county,precinct,office,district,party,candidate,votes)"}
	}
	if err != nil {
		return csvError(name, err)
	}
	header = append([]string(nil), header...)
	if err := b.readHeader(f, header); err != nil {
		return err
	}
	rows := 0
	for {
		rec, err := r.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return csvError(name, err)
		}
		line, _ := r.FieldPos(0)
		if len(rec) != len(header) {
			why := "a ragged row (an unquoted comma in a name?)"
			if len(rec) < len(header) {
				why = "a ragged row, or a truncated file"
			}
			return &importer.Error{File: name, Where: fmt.Sprintf("line %d", line), Msg: fmt.Sprintf(
				"%d fields, but the header has %d: %s", len(rec), len(header), why)}
		}
		last := f.open && r.InputOffset() == f.size
		if err := b.row(f, rec, line, r, last); err != nil {
			return err
		}
		rows++
	}
	if rows == 0 {
		return &importer.Error{File: name, Where: "line 1", Msg: "no rows after the header"}
	}
	if f.disagree > 0 && b.prefer == "" {
		more := ""
		if n := f.disagree - len(f.disagreeAt); n > 0 {
			more = fmt.Sprintf(", and %d more", n)
		}
		return &importer.Error{File: name, Where: f.disagreeAt[0][:strings.IndexByte(f.disagreeAt[0], ':')], Msg: fmt.Sprintf(
			"the file contradicts itself: in %d row(s) the vote-type columns do not sum to %s (%s%s). "+
				"Nothing is logged. To log the %s column of every row, give --prefer %s; to log the vote-type columns "+
				"(each difference listed as a finding), give --prefer %s",
			f.disagree, quote(f.layout.names[f.layout.col[fVotes]]), strings.Join(f.disagreeAt, "; "), more,
			f.layout.names[f.layout.col[fVotes]], PreferVotes, PreferVoteTypes)}
	}
	return b.checkUnitTotals(f)
}

// checkUnitTotals compares each unit's unit-total figure with its rows.
func (b *builder) checkUnitTotals(f *fileState) error {
	var bad []*unitTotal
	for _, ut := range f.unitTotals {
		if ut.total != ut.sum {
			bad = append(bad, ut)
		}
	}
	if len(bad) == 0 {
		return nil
	}
	slices.SortFunc(bad, func(x, y *unitTotal) int { return cmp.Compare(x.line, y.line) })
	ut := bad[0]
	return &importer.Error{File: f.name, Where: fmt.Sprintf("line %d", ut.line), Msg: fmt.Sprintf(
		"%s: column %s gives the unit's total as %d, but its rows sum to %d (%d unit(s) disagree): a row is missing or counted twice",
		ut.what, quote(f.layout.names[f.layout.unitTotal]), ut.total, ut.sum, len(bad))}
}

func csvError(file string, err error) error {
	var pe *csv.ParseError
	if !errors.As(err, &pe) {
		return &importer.Error{File: file, Msg: fmt.Sprintf("malformed CSV: %v", err)}
	}
	msg := fmt.Sprintf("malformed CSV at byte %d of the line: %v", pe.Column, pe.Err)
	if errors.Is(pe.Err, csv.ErrQuote) {
		msg += " (a quoted field that is never closed, or a truncated file?)"
	}
	return &importer.Error{File: file, Where: fmt.Sprintf("line %d", pe.Line), Msg: msg}
}

// vtVal is one figure of a row: a vote type and its votes.
type vtVal struct {
	vt int32
	n  int64
}

// row reads one data row; last is set for a last line without a line end.
func (b *builder) row(f *fileState, rec []string, line int, r *csv.Reader, last bool) error {
	l := &f.layout
	for i, s := range rec {
		if len(s) > MaxFieldLength {
			return b.colErr(f, r, line, i, "longer than %d bytes", MaxFieldLength)
		}
	}
	for _, i := range l.unnamed {
		if strings.TrimSpace(rec[i]) != "" {
			return b.colErr(f, r, line, i, "%s is in a column without a name: which figure is it? Name the column in the header", quote(rec[i]))
		}
	}
	c, err := b.county(f, r, line, rec)
	if err != nil {
		return err
	}
	unit := int32(-1)
	if pc := l.col[fPrecinct]; pc >= 0 && c != b.state {
		if unit, err = b.precinct(f, r, line, c, rec[pc]); err != nil {
			return err
		}
	}
	district, party := "", ""
	if dc := l.col[fDistrict]; dc >= 0 {
		district = rec[dc]
	}
	if pc := l.col[fParty]; pc >= 0 {
		party = rec[pc]
	}
	f.party = strings.TrimSpace(party)
	o, err := b.office(f, r, line, rec[l.col[fOffice]], district)
	if err != nil {
		return err
	}
	t, err := b.choice(f, r, line, o, rec[l.col[fCandidate]], party)
	if err != nil {
		return err
	}

	vals := f.vals[:0]
	byType, blankType := false, -1
	var sum int64
	for _, vc := range l.voteTypes {
		n, blank, msg := parseCount(rec[vc.col])
		if msg != "" {
			return b.colErr(f, r, line, vc.col, "%s", msg)
		}
		byType = byType || !blank
		if blank && blankType < 0 {
			blankType = vc.col
		}
		sum += n
		vals = append(vals, vtVal{vc.vt, n})
	}
	var votes int64
	hasVotes := false
	if vc := l.col[fVotes]; vc >= 0 {
		n, blank, msg := parseCount(rec[vc])
		if msg != "" {
			return b.colErr(f, r, line, vc, "%s", msg)
		}
		votes, hasVotes = n, !blank
	}
	if last {
		if err := b.lastLine(f, r, line, rec, byType, byType && hasVotes && sum == votes, blankType); err != nil {
			return err
		}
	}
	// What the file states the row's votes are, summed apart from the
	// reports to check them: its votes column, unless it disagrees with the
	// vote types and those are preferred.
	stated := sum
	if hasVotes && (sum == votes || !byType || b.prefer != PreferVoteTypes) {
		stated = votes
	}
	switch {
	case !byType && !hasVotes:
		if vc := l.col[fVotes]; vc >= 0 {
			return b.colErr(f, r, line, vc, "missing: the row has no votes")
		}
		return &importer.Error{File: f.name, Where: fmt.Sprintf("line %d", line), Msg: "no votes: every vote-type column is blank"}
	case hasVotes && byType && sum != votes:
		f.disagree++
		if len(f.disagreeAt) < 3 {
			f.disagreeAt = append(f.disagreeAt, fmt.Sprintf("line %d: %s: vote types %d, %s %d",
				line, b.describe(c, unit, t), sum, l.names[l.col[fVotes]], votes))
		}
		// Whichever side is logged, the difference stays a finding: a
		// preference chooses the numbers, it does not make them agree.
		carried, side := "the vote types", PreferVoteTypes
		if b.prefer == PreferVotes {
			carried, side = l.names[l.col[fVotes]], PreferVotes
			vals = append(vals[:0], vtVal{b.voteType(figure{"total", "Total"}), votes})
		}
		b.findings = append(b.findings, finding{file: f.idx, line: int32(line), Finding: importer.Finding{
			Kind: importer.FindingVoteTypes, File: f.name, Where: fmt.Sprintf("line %d", line),
			Msg: fmt.Sprintf("%s: the vote types sum to %d, but %s is %d; the reports carry %s (--prefer %s)",
				b.describe(c, unit, t), sum, l.names[l.col[fVotes]], votes, carried, side)}})
	case !byType, hasVotes && b.prefer == PreferVotes:
		vals = append(vals[:0], vtVal{b.voteType(figure{"total", "Total"}), votes})
	}
	if l.unitTotal >= 0 && !t.contest.isTurnout() {
		if err := b.addUnitTotal(f, r, line, rec, c, unit, t, votes); err != nil {
			return err
		}
	}
	f.vals = vals
	return b.add(f, line, c, unit, t, vals, votes, hasVotes, byType, stated)
}

// lastLine refuses a last line without a line end that may have been cut:
// one whose last field is a count that nothing in the row confirms, a
// blank vote type beside filled ones, or a field that is not a count (a
// name, a district, a precinct), which nothing confirms.
func (b *builder) lastLine(f *fileState, r *csv.Reader, line int, rec []string, byType, agree bool, blankType int) error {
	l := &f.layout
	lastCol := len(rec) - 1
	isCount := lastCol == l.col[fVotes]
	for _, vc := range l.voteTypes {
		isCount = isCount || vc.col == lastCol
	}
	switch {
	case isCount && !byType && strings.TrimSpace(rec[lastCol]) == "" && lastCol != l.col[fVotes]:
		return nil // a blank vote type in a row that reports votes alone: not read as a count
	case byType && blankType == lastCol:
		return b.colErr(f, r, line, lastCol, "the file's last line has no line end and its last vote-type cell is blank while others are filled: "+
			"the file looks cut short. Check it is whole (its size and SHA-256 against the publisher's)")
	case isCount && agree:
		return nil // the vote types and the votes confirm each other
	case b.trustLastLine:
		return nil
	case !isCount:
		// A cut inside a name, a district or a precinct would move the
		// row's votes to another contest, choice or unit.
		return b.colErr(f, r, line, lastCol, "the file's last line has no line end and ends in a field (%s) that nothing in the file confirms: "+
			"the file may have been cut inside it, which would put the row's votes under another name. Check the file is whole (its size and SHA-256 against the publisher's), then give --trust-last-line",
			quote(rec[lastCol]))
	}
	return b.colErr(f, r, line, lastCol, "the file's last line has no line end and ends in a count (%s) that nothing in the file confirms: "+
		"the file may have been cut inside it. Check the file is whole (its size and SHA-256 against the publisher's), then give --trust-last-line",
		quote(rec[lastCol]))
}

// addUnitTotal records a row's votes under its unit's contest total.
func (b *builder) addUnitTotal(f *fileState, r *csv.Reader, line int, rec []string, c *county, unit int32, t target, votes int64) error {
	col := f.layout.unitTotal
	n, blank, msg := parseCount(rec[col])
	if msg != "" {
		return b.colErr(f, r, line, col, "%s", msg)
	}
	if blank {
		return nil
	}
	u := unit
	if u < 0 {
		u = -1 - c.idx // a county's roll-up rows
	}
	key := [2]int32{u, t.contest.idx}
	ut := f.unitTotals[key]
	if ut == nil {
		where := b.units[c.unit].Name
		if unit >= 0 {
			where += ", " + b.units[unit].Name
		}
		ut = &unitTotal{line: line, total: n, what: where + ", " + t.contest.name}
		f.unitTotals[key] = ut
	} else if ut.total != n {
		return b.colErr(f, r, line, col, "%d, but line %d gives %s, %s total %d: the unit's total differs between its rows",
			n, ut.line, ut.what, "its", ut.total)
	}
	ut.sum += votes
	return nil
}

// colErr is an error in one field of a row.
func (b *builder) colErr(f *fileState, r *csv.Reader, line, col int, format string, args ...any) error {
	if r != nil {
		line, _ = r.FieldPos(col)
	}
	return &importer.Error{File: f.name, Where: fmt.Sprintf("line %d, column %q", line, f.layout.names[col]), Msg: fmt.Sprintf(format, args...)}
}

// parseCount reads a count: blank, or a whole number from 0 to
// events.MaxVotes, optionally followed by ".0" (as pandas writes), and
// optionally with thousands separators ("8,502", and "4 ,063" with a stray
// space beside the comma). msg says what is wrong.
func parseCount(s string) (n int64, blank bool, msg string) {
	if len(s) > 0 && (s[0] == ' ' || s[len(s)-1] == ' ' || s[0] == '\t' || s[len(s)-1] == '\t') {
		s = strings.TrimSpace(s)
	}
	if s == "" {
		return 0, true, ""
	}
	digits := s
	if strings.IndexByte(s, ',') > 0 {
		var ok bool
		if digits, ok = thousands(s); !ok {
			return 0, false, fmt.Sprintf("%s is not a number (a comma is read only as a thousands separator, as in 8,502)", quote(s))
		}
	}
	if i := strings.IndexByte(digits, '.'); i > 0 && strings.Trim(digits[i+1:], "0") == "" && i+1 < len(digits) {
		digits = digits[:i]
	}
	neg := digits[0] == '-'
	if neg {
		digits = digits[1:]
	}
	if digits == "" {
		return 0, false, fmt.Sprintf("%s is not a number", quote(s))
	}
	for i := 0; i < len(digits); i++ {
		if c := digits[i]; c < '0' || c > '9' {
			if isFraction(s) {
				return 0, false, fmt.Sprintf("%s is not a whole number", quote(s))
			}
			return 0, false, fmt.Sprintf("%s is not a number", quote(s))
		}
		if i >= 10 {
			if neg {
				return 0, false, fmt.Sprintf("%s is negative", quote(s))
			}
			return 0, false, fmt.Sprintf("%s is more than the limit of %d", quote(s), int64(events.MaxVotes))
		}
		n = n*10 + int64(digits[i]-'0')
	}
	switch {
	case neg && n != 0:
		return 0, false, fmt.Sprintf("%s is negative", quote(s))
	case n > events.MaxVotes:
		return 0, false, fmt.Sprintf("%s is more than the limit of %d", quote(s), int64(events.MaxVotes))
	}
	return n, false, ""
}

// thousands removes the thousands separators of a number: one to three
// digits, then groups of exactly three, each after a comma that may have a
// space on either side. ok is false for anything else ("1,2", "12,3456").
func thousands(s string) (digits string, ok bool) {
	groups := strings.Split(s, ",")
	var b strings.Builder
	for i, g := range groups {
		if i > 0 {
			g = strings.TrimPrefix(g, " ")
		}
		if i < len(groups)-1 {
			g = strings.TrimSuffix(g, " ")
		}
		if i == len(groups)-1 {
			if j := strings.IndexByte(g, '.'); j >= 0 && strings.Trim(g[j+1:], "0") == "" {
				g = g[:j]
			}
		}
		if g == "" || strings.Trim(g, "0123456789") != "" || len(g) > 3 || i > 0 && len(g) != 3 {
			return "", false
		}
		b.WriteString(g)
	}
	return b.String(), true
}

// isFraction reports whether s is a decimal number with a fractional part.
func isFraction(s string) bool {
	s = strings.TrimPrefix(s, "-")
	i := strings.IndexByte(s, '.')
	if i < 0 || i == len(s)-1 {
		return false
	}
	return strings.Trim(s[:i], "0123456789") == "" && strings.Trim(s[i+1:], "0123456789") == ""
}
