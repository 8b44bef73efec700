package nist

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"

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

// decode parses the JSON structure of a report; decoding the leaves is the
// builder's job.
func decode(file string, data []byte) (*reportWire, error) {
	var x reportWire
	if err := importer.DecodeJSON(file, data, &x); err != nil {
		var typ *importer.JSONTypeError
		if errors.As(err, &typ) {
			return nil, &importer.Error{File: file, Where: typ.Field, Msg: fmt.Sprintf("near byte %d: got a JSON %s, want %s", typ.Offset, typ.Got, typ.Want)}
		}
		return nil, err
	}
	return &x, nil
}

// str decodes an optional string leaf, trimmed; "" when missing or null.
// Strings are checked as names: no control characters, no markup, at most
// events.MaxNameLength bytes.
func (b *builder) str(path, field string, raw json.RawMessage) (string, error) {
	if importer.IsNull(raw) {
		return "", nil
	}
	var s string
	if raw[0] != '"' || json.Unmarshal(raw, &s) != nil {
		return "", b.errf(path, "%s: expected a string, got %s", field, importer.Preview(raw))
	}
	return b.clean(path, field, s)
}

// clean trims a string and checks it as a name.
func (b *builder) clean(path, field, s string) (string, error) {
	s = strings.TrimSpace(s)
	if p := importer.NameProblem(s); p != "" {
		return "", b.errf(path, "%s: %s", field, p)
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
	if importer.IsNull(raw) {
		return "", nil
	}
	if raw[0] == '"' {
		return b.str(path, field, raw)
	}
	var t textWire
	if raw[0] != '{' || json.Unmarshal(raw, &t) != nil {
		return "", b.errf(path, "%s: expected an InternationalizedText object, got %s", field, importer.Preview(raw))
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
	if importer.IsNull(raw) {
		return 0, b.errf(path, "%s: missing", field)
	}
	if raw[0] != '-' && (raw[0] < '0' || raw[0] > '9') {
		return 0, b.errf(path, "%s: expected a number, got %s", field, importer.Preview(raw))
	}
	n, err := strconv.ParseInt(string(raw), 10, 64)
	switch {
	case errors.Is(err, strconv.ErrRange) && raw[0] == '-':
		return 0, b.errf(path, "%s %s is negative", field, importer.Short(string(raw)))
	case errors.Is(err, strconv.ErrRange):
		return 0, b.errf(path, "%s %s is more than the limit of %d", field, importer.Short(string(raw)), int64(events.MaxVotes))
	case err != nil && raw[0] == '-':
		return 0, b.errf(path, "%s %s is negative", field, importer.Short(string(raw)))
	case err != nil:
		return 0, b.errf(path, "%s %s is not a whole number", field, importer.Short(string(raw)))
	case n < 0:
		return 0, b.errf(path, "%s %d is negative", field, n)
	case n > events.MaxVotes:
		return 0, b.errf(path, "%s %d is more than the limit of %d", field, n, int64(events.MaxVotes))
	}
	return n, nil
}
