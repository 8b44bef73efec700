package gasos

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/election-audit/ledger/events"
	"github.com/election-audit/ledger/importer"
)

// The wire shape of an export. Leaves are kept raw so that a wrong value is
// reported with the exact element it is in, not encoding/json's dotted path.
type exportWire struct {
	ElectionDate json.RawMessage `json:"electionDate"`
	ElectionName json.RawMessage `json:"electionName"`
	Results      *areaWire       `json:"results"`
	LocalResults []areaWire      `json:"localResults"`
}

type areaWire struct {
	Name        json.RawMessage `json:"name"`
	BallotItems []itemWire      `json:"ballotItems"`
}

type itemWire struct {
	ID            json.RawMessage `json:"id"`
	Name          json.RawMessage `json:"name"`
	VoteFor       json.RawMessage `json:"voteFor"`
	BallotOptions []optionWire    `json:"ballotOptions"`
}

type optionWire struct {
	ID             json.RawMessage `json:"id"`
	Name           json.RawMessage `json:"name"`
	PoliticalParty json.RawMessage `json:"politicalParty"`
	VoteCount      json.RawMessage `json:"voteCount"`
	GroupResults   []groupWire     `json:"groupResults"`
}

type groupWire struct {
	GroupName json.RawMessage `json:"groupName"`
	VoteCount json.RawMessage `json:"voteCount"`
}

// decode parses the JSON structure of an export; decoding the leaves is the
// builder's job.
func decode(file string, data []byte) (*exportWire, error) {
	var x exportWire
	if err := importer.DecodeJSON(file, data, &x); err != nil {
		var typ *importer.JSONTypeError
		if errors.As(err, &typ) {
			field := typ.Field
			if field == "" {
				field = "the file"
			}
			return nil, &importer.Error{File: file, Msg: fmt.Sprintf("%s near byte %d: got a JSON %s, want %s", field, typ.Offset, typ.Got, typ.Want)}
		}
		return nil, err
	}
	return &x, nil
}

// text decodes an optional string leaf, trimmed. A missing or null value is "".
func (b *builder) text(path, field string, raw json.RawMessage) (string, error) {
	if importer.IsNull(raw) {
		return "", nil
	}
	var s string
	if raw[0] != '"' || json.Unmarshal(raw, &s) != nil {
		return "", b.errf(path, "%s: expected a string, got %s", field, importer.Preview(raw))
	}
	s = strings.TrimSpace(s)
	if p := importer.TextProblem(s); p != "" {
		return "", b.errf(path, "%s: %s", field, p)
	}
	return s, nil
}

// name decodes a required string leaf.
func (b *builder) name(path, field string, raw json.RawMessage) (string, error) {
	s, err := b.text(path, field, raw)
	if err == nil && s == "" {
		err = b.errf(path, "%s: missing", field)
	}
	return s, err
}

// id decodes a ballot item's or option's id, a string or a number in the
// file; "" when absent.
func (b *builder) id(path string, raw json.RawMessage) (string, error) {
	if len(raw) > 0 && (raw[0] == '-' || '0' <= raw[0] && raw[0] <= '9') {
		return string(raw), nil
	}
	return b.text(path, "id", raw)
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
	case err != nil:
		return 0, b.errf(path, "%s %s is not a whole number", field, importer.Short(string(raw)))
	case n < 0:
		return 0, b.errf(path, "%s %d is negative", field, n)
	case n > events.MaxVotes:
		return 0, b.errf(path, "%s %d is more than the limit of %d", field, n, int64(events.MaxVotes))
	}
	return n, nil
}
