package openelections

import (
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"

	"github.com/election-audit/ledger/events"
	"github.com/election-audit/ledger/importer"
)

// fileState is what the builder knows of the file it is reading.
type fileState struct {
	idx    int32
	name   string
	layout layout
	vals   []vtVal // scratch for one row's figures
}

// readFile reads one file's rows into the builder.
func (b *builder) readFile(idx int32, name string, data []byte) error {
	f := &fileState{idx: idx, name: name}
	b.files = append(b.files, fileInfo{name: name})
	if !utf8.Valid(data) {
		off := importer.InvalidUTF8(data)
		line := bytes.Count(data[:off], []byte("\n")) + 1
		col := off - (bytes.LastIndexByte(data[:off], '\n') + 1) + 1
		return &importer.Error{File: name, Where: fmt.Sprintf("line %d", line), Msg: fmt.Sprintf(
			"not valid UTF-8 at byte %d (byte %d of the line): save the file as UTF-8 (it looks like Latin-1 or Windows-1252)", off, col)}
	}
	data = bytes.TrimPrefix(data, importer.BOM) // written by some Windows tools; harmless
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
		if err := b.row(f, rec, line, r); err != nil {
			return err
		}
		rows++
	}
	if rows == 0 {
		return &importer.Error{File: name, Where: "line 1", Msg: "no rows after the header"}
	}
	return nil
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

// row reads one data row.
func (b *builder) row(f *fileState, rec []string, line int, r *csv.Reader) error {
	l := &f.layout
	for i, s := range rec {
		if len(s) > MaxFieldLength {
			return b.colErr(f, r, line, i, "longer than %d bytes", MaxFieldLength)
		}
	}
	c, err := b.county(f, r, line, rec[l.col[fCounty]])
	if err != nil {
		return err
	}
	unit := int32(-1)
	if pc := l.col[fPrecinct]; pc >= 0 {
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
	o, err := b.office(f, r, line, rec[l.col[fOffice]], district)
	if err != nil {
		return err
	}
	t, err := b.choice(f, r, line, o, rec[l.col[fCandidate]], party)
	if err != nil {
		return err
	}

	vals := f.vals[:0]
	byType := false
	var sum int64
	for _, vc := range l.voteTypes {
		n, blank, msg := parseCount(rec[vc.col])
		if msg != "" {
			return b.colErr(f, r, line, vc.col, "%s", msg)
		}
		byType = byType || !blank
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
	switch {
	case !byType && !hasVotes:
		if vc := l.col[fVotes]; vc >= 0 {
			return b.colErr(f, r, line, vc, "missing: the row has no votes")
		}
		return &importer.Error{File: f.name, Where: fmt.Sprintf("line %d", line), Msg: "no votes: every vote-type column is blank"}
	case !byType:
		vals = append(vals[:0], vtVal{b.voteType(figure{"total", "Total"}), votes})
	case hasVotes && sum != votes:
		b.findings = append(b.findings, finding{file: f.idx, line: int32(line), Finding: importer.Finding{
			Kind: importer.FindingVoteTypes, File: f.name, Where: fmt.Sprintf("line %d", line),
			Msg: fmt.Sprintf("%s: the vote types sum to %d, but %s is %d; the reports carry the vote types",
				b.describe(c, unit, t), sum, l.names[l.col[fVotes]], votes)}})
	}
	f.vals = vals
	return b.add(f, line, c, unit, t, vals, votes, hasVotes, byType)
}

// colErr is an error in one field of a row.
func (b *builder) colErr(f *fileState, r *csv.Reader, line, col int, format string, args ...any) error {
	if r != nil {
		line, _ = r.FieldPos(col)
	}
	return &importer.Error{File: f.name, Where: fmt.Sprintf("line %d, column %q", line, f.layout.names[col]), Msg: fmt.Sprintf(format, args...)}
}

// parseCount reads a count: blank, or a whole number from 0 to
// events.MaxVotes, optionally followed by ".0". msg says what is wrong.
func parseCount(s string) (n int64, blank bool, msg string) {
	if len(s) > 0 && (s[0] == ' ' || s[len(s)-1] == ' ' || s[0] == '\t' || s[len(s)-1] == '\t') {
		s = strings.TrimSpace(s)
	}
	if s == "" {
		return 0, true, ""
	}
	digits := s
	if i := strings.IndexByte(s, '.'); i > 0 && strings.Trim(s[i+1:], "0") == "" && i+1 < len(s) {
		digits = s[:i]
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

// isFraction reports whether s is a decimal number with a fractional part.
func isFraction(s string) bool {
	s = strings.TrimPrefix(s, "-")
	i := strings.IndexByte(s, '.')
	if i < 0 || i == len(s)-1 {
		return false
	}
	return strings.Trim(s[:i], "0123456789") == "" && strings.Trim(s[i+1:], "0123456789") == ""
}
