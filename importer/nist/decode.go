package nist

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/election-audit/ledger/events"
	"github.com/election-audit/ledger/importer"
)

// The wire shape Parse reads. Leaves are kept raw so that a wrong value is
// reported with the exact element it is in.
type reportWire struct {
	AtType   json.RawMessage `json:"@type"`
	Election []electionWire  `json:"Election"`
	GpUnit   []gpUnitWire    `json:"GpUnit"`
	Party    []partyWire     `json:"Party"`
}

type electionWire struct {
	AtType          json.RawMessage    `json:"@type"`
	Name            json.RawMessage    `json:"Name"`
	StartDate       json.RawMessage    `json:"StartDate"`
	EndDate         json.RawMessage    `json:"EndDate"`
	ElectionScopeID json.RawMessage    `json:"ElectionScopeId"`
	Candidate       []candidateWire    `json:"Candidate"`
	Contest         []contestWire      `json:"Contest"`
	BallotCounts    []ballotCountsWire `json:"BallotCounts"`
}

type gpUnitWire struct {
	AtID               json.RawMessage   `json:"@id"`
	AtType             json.RawMessage   `json:"@type"`
	Type               json.RawMessage   `json:"Type"`
	OtherType          json.RawMessage   `json:"OtherType"`
	Name               json.RawMessage   `json:"Name"`
	ComposingGpUnitIDs []json.RawMessage `json:"ComposingGpUnitIds"`
	VotersRegistered   json.RawMessage   `json:"VotersRegistered"`
}

type partyWire struct {
	AtID         json.RawMessage `json:"@id"`
	AtType       json.RawMessage `json:"@type"`
	Name         json.RawMessage `json:"Name"`
	Abbreviation json.RawMessage `json:"Abbreviation"`
}

type candidateWire struct {
	AtID               json.RawMessage `json:"@id"`
	AtType             json.RawMessage `json:"@type"`
	BallotName         json.RawMessage `json:"BallotName"`
	PartyID            json.RawMessage `json:"PartyId"`
	ExternalIdentifier []extIDWire     `json:"ExternalIdentifier"`
}

type extIDWire struct {
	Type      json.RawMessage `json:"Type"`
	OtherType json.RawMessage `json:"OtherType"`
	Value     json.RawMessage `json:"Value"`
}

type contestWire struct {
	AtID                json.RawMessage `json:"@id"`
	AtType              json.RawMessage `json:"@type"`
	Name                json.RawMessage `json:"Name"`
	ElectionDistrictID  json.RawMessage `json:"ElectionDistrictId"`
	ElectoralDistrictID json.RawMessage `json:"ElectoralDistrictId"` // drafts of version 2
	VotesAllowed        json.RawMessage `json:"VotesAllowed"`
	ExternalIdentifier  []extIDWire     `json:"ExternalIdentifier"`
	ContestSelection    []selectionWire `json:"ContestSelection"`
	BallotSelection     []selectionWire `json:"BallotSelection"` // drafts of version 2
}

type selectionWire struct {
	AtID         json.RawMessage   `json:"@id"`
	AtType       json.RawMessage   `json:"@type"`
	CandidateIDs []json.RawMessage `json:"CandidateIds"`
	Selection    json.RawMessage   `json:"Selection"`
	IsWriteIn    json.RawMessage   `json:"IsWriteIn"`
	VoteCounts   []countWire       `json:"VoteCounts"`
}

// countWire is a VoteCounts or a BallotCounts element: the count is Count in
// one and BallotsCast in the other.
type countWire struct {
	GpUnitID               json.RawMessage `json:"GpUnitId"`
	Type                   json.RawMessage `json:"Type"`
	OtherType              json.RawMessage `json:"OtherType"`
	Count                  json.RawMessage `json:"Count"`
	Round                  json.RawMessage `json:"Round"`
	IsSuppressedForPrivacy json.RawMessage `json:"IsSuppressedForPrivacy"`
}

type ballotCountsWire struct {
	countWire
	BallotsCast json.RawMessage `json:"BallotsCast"`
}

// textWire is an InternationalizedText.
type textWire struct {
	Text []struct {
		Content  json.RawMessage `json:"Content"`
		Language json.RawMessage `json:"Language"`
	} `json:"Text"`
}

var bom = []byte("\xef\xbb\xbf")

// decode parses the JSON structure of a report; decoding the leaves is the
// builder's job.
func decode(file string, data []byte) (*reportWire, error) {
	fail := func(where, format string, args ...any) error {
		return &importer.Error{File: file, Where: where, Msg: fmt.Sprintf(format, args...)}
	}
	if !utf8.Valid(data) {
		// encoding/json would silently replace the bad bytes with U+FFFD.
		return nil, fail("", "not valid UTF-8 at byte %d", invalidUTF8(data))
	}
	skip := 0
	if bytes.HasPrefix(data, bom) {
		skip = len(bom)
	}
	body := data[skip:]
	start := bytes.IndexFunc(body, func(r rune) bool { return !unicode.IsSpace(r) })
	switch {
	case start < 0:
		return nil, fail("", "empty file: expected a JSON object")
	case body[start] != '{':
		return nil, fail("", "expected a JSON object at byte %d, found %s", skip+start, preview(body[start:]))
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	var x reportWire
	if err := dec.Decode(&x); err != nil {
		var (
			syn *json.SyntaxError
			typ *json.UnmarshalTypeError
		)
		switch {
		case errors.As(err, &syn):
			return nil, fail("", "malformed JSON at byte %d: %v", int64(skip)+max(syn.Offset-1, 0), syn)
		case errors.As(err, &typ):
			want := "another type"
			if typ.Type != nil {
				want = jsonKind(typ.Type.Kind().String())
			}
			return nil, fail(typ.Field, "near byte %d: got a JSON %s, want %s", int64(skip)+typ.Offset, typ.Value, want)
		case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
			return nil, fail("", "truncated JSON: unexpected end of input at byte %d", len(data))
		}
		return nil, fail("", "malformed JSON: %v", err)
	}
	end := int(dec.InputOffset())
	if rest := bytes.TrimLeft(body[end:], " \t\r\n"); len(rest) > 0 {
		return nil, fail("", "unexpected data after the JSON object at byte %d", skip+len(body)-len(rest))
	}
	return &x, nil
}

func jsonKind(kind string) string {
	switch kind {
	case "slice", "array":
		return "an array"
	case "struct", "ptr", "map":
		return "an object"
	}
	return kind
}

func invalidUTF8(data []byte) int {
	for i := 0; i < len(data); {
		r, n := utf8.DecodeRune(data[i:])
		if r == utf8.RuneError && n == 1 {
			return i
		}
		i += n
	}
	return len(data)
}

// preview quotes the start of a raw value for an error message.
func preview(raw []byte) string {
	const max = 40
	if len(raw) > max {
		raw = raw[:max]
		for len(raw) > 0 && !utf8.Valid(raw) {
			raw = raw[:len(raw)-1]
		}
		return strconv.Quote(string(raw) + "…")
	}
	return strconv.Quote(string(raw))
}

// short is a number literal for an error message, cut if it is long.
func short(raw []byte) string {
	if len(raw) > 24 {
		return string(raw[:24]) + "…"
	}
	return string(raw)
}

func isNull(raw json.RawMessage) bool {
	return len(raw) == 0 || string(raw) == "null"
}

// str decodes an optional string leaf, trimmed; "" when missing or null.
// Strings are checked as names: no control characters, no markup, at most
// events.MaxNameLength bytes.
func (b *builder) str(path, field string, raw json.RawMessage) (string, error) {
	if isNull(raw) {
		return "", nil
	}
	var s string
	if raw[0] != '"' || json.Unmarshal(raw, &s) != nil {
		return "", b.errf(path, "%s: expected a string, got %s", field, preview(raw))
	}
	return b.clean(path, field, s)
}

func (b *builder) clean(path, field, s string) (string, error) {
	s = strings.TrimSpace(s)
	switch {
	case len(s) > events.MaxNameLength:
		return "", b.errf(path, "%s: longer than %d bytes", field, events.MaxNameLength)
	case strings.ContainsFunc(s, unicode.IsControl):
		return "", b.errf(path, "%s: %s contains control characters", field, strconv.Quote(s))
	case strings.ContainsAny(s, "<>"):
		return "", b.errf(path, "%s: %s contains markup ('<' or '>')", field, strconv.Quote(s))
	}
	return s, nil
}

// reqStr decodes a required string leaf.
func (b *builder) reqStr(path, field string, raw json.RawMessage) (string, error) {
	s, err := b.str(path, field, raw)
	if err == nil && s == "" {
		err = b.errf(path, "%s: missing", field)
	}
	return s, err
}

// text decodes an optional InternationalizedText (or, leniently, a plain
// string): the English text, or else the first.
func (b *builder) text(path, field string, raw json.RawMessage) (string, error) {
	if isNull(raw) {
		return "", nil
	}
	if raw[0] == '"' {
		return b.str(path, field, raw)
	}
	var t textWire
	if raw[0] != '{' || json.Unmarshal(raw, &t) != nil {
		return "", b.errf(path, "%s: expected an InternationalizedText object, got %s", field, preview(raw))
	}
	pick := -1
	for i, ls := range t.Text {
		lang, err := b.str(path, fmt.Sprintf("%s.Text[%d].Language", field, i), ls.Language)
		if err != nil {
			return "", err
		}
		if lang == "en" || strings.HasPrefix(lang, "en-") {
			pick = i
			break
		}
	}
	if pick < 0 {
		if len(t.Text) == 0 {
			return "", nil
		}
		pick = 0
	}
	return b.str(path, fmt.Sprintf("%s.Text[%d].Content", field, pick), t.Text[pick].Content)
}

// count decodes a required count: a whole number, 0 to events.MaxVotes.
func (b *builder) count(path, field string, raw json.RawMessage) (int64, error) {
	if isNull(raw) {
		return 0, b.errf(path, "%s: missing", field)
	}
	if raw[0] != '-' && (raw[0] < '0' || raw[0] > '9') {
		return 0, b.errf(path, "%s: expected a number, got %s", field, preview(raw))
	}
	n, err := strconv.ParseInt(string(raw), 10, 64)
	switch {
	case errors.Is(err, strconv.ErrRange) && raw[0] == '-':
		return 0, b.errf(path, "%s %s is negative", field, short(raw))
	case errors.Is(err, strconv.ErrRange):
		return 0, b.errf(path, "%s %s is more than the limit of %d", field, short(raw), int64(events.MaxVotes))
	case err != nil && raw[0] == '-':
		return 0, b.errf(path, "%s %s is negative", field, short(raw))
	case err != nil:
		return 0, b.errf(path, "%s %s is not a whole number", field, short(raw))
	case n < 0:
		return 0, b.errf(path, "%s %d is negative", field, n)
	case n > events.MaxVotes:
		return 0, b.errf(path, "%s %d is more than the limit of %d", field, n, int64(events.MaxVotes))
	}
	return n, nil
}
