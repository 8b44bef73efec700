package gasos

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

var bom = []byte("\xef\xbb\xbf")

// decode parses the JSON structure of an export; decoding the leaves is the
// builder's job.
func decode(file string, data []byte) (*exportWire, error) {
	fail := func(format string, args ...any) error {
		return &importer.Error{File: file, Msg: fmt.Sprintf(format, args...)}
	}
	if !utf8.Valid(data) {
		// encoding/json would silently replace the bad bytes with U+FFFD.
		return nil, fail("not valid UTF-8 at byte %d", invalidUTF8(data))
	}
	skip := 0
	if bytes.HasPrefix(data, bom) {
		skip = len(bom) // written by some Windows tools; harmless
	}
	body := data[skip:]
	start := bytes.IndexFunc(body, func(r rune) bool { return !unicode.IsSpace(r) })
	switch {
	case start < 0:
		return nil, fail("empty file: expected a JSON object")
	case body[start] != '{':
		return nil, fail("expected a JSON object at byte %d, found %s", skip+start, preview(body[start:]))
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	var x exportWire
	if err := dec.Decode(&x); err != nil {
		var (
			syn *json.SyntaxError
			typ *json.UnmarshalTypeError
		)
		switch {
		case errors.As(err, &syn):
			// Offset counts the bytes read, the bad one included.
			return nil, fail("malformed JSON at byte %d: %v", int64(skip)+max(syn.Offset-1, 0), syn)
		case errors.As(err, &typ):
			field := typ.Field
			if field == "" {
				field = "the file"
			}
			want := "another type"
			if typ.Type != nil {
				want = jsonKind(typ.Type.Kind().String())
			}
			return nil, fail("%s near byte %d: got a JSON %s, want %s", field, int64(skip)+typ.Offset, typ.Value, want)
		case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
			return nil, fail("truncated JSON: unexpected end of input at byte %d", len(data))
		}
		return nil, fail("malformed JSON: %v", err)
	}
	end := int(dec.InputOffset())
	if rest := bytes.TrimLeft(body[end:], " \t\r\n"); len(rest) > 0 {
		return nil, fail("unexpected data after the JSON object at byte %d", skip+len(body)-len(rest))
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

// invalidUTF8 returns the offset of the first byte of data that is not
// valid UTF-8.
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

// text decodes an optional string leaf, trimmed. A missing or null value is "".
func (b *builder) text(path, field string, raw json.RawMessage) (string, error) {
	if isNull(raw) {
		return "", nil
	}
	var s string
	if raw[0] != '"' || json.Unmarshal(raw, &s) != nil {
		return "", b.errf(path, "%s: expected a string, got %s", field, preview(raw))
	}
	s = strings.TrimSpace(s)
	switch {
	case len(s) > events.MaxNameLength:
		return "", b.errf(path, "%s: longer than %d bytes", field, events.MaxNameLength)
	case strings.ContainsFunc(s, unicode.IsControl):
		return "", b.errf(path, "%s: %s contains control characters", field, strconv.Quote(s))
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
	case err != nil:
		return 0, b.errf(path, "%s %s is not a whole number", field, short(raw))
	case n < 0:
		return 0, b.errf(path, "%s %d is negative", field, n)
	case n > events.MaxVotes:
		return 0, b.errf(path, "%s %d is more than the limit of %d", field, n, int64(events.MaxVotes))
	}
	return n, nil
}
