package events

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strings"
	"unicode/utf8"

	"github.com/google/uuid"
)

// MaxEventSize is the largest encoded event accepted, in bytes. It matches
// NATS's default maximum payload, so any event fits in one message.
const MaxEventSize = 1 << 20

// Error is a refused event: which field, and what is wrong with it.
type Error struct {
	Field string // JSON path of the field, "" for the whole event
	Msg   string
}

func (e *Error) Error() string {
	if e.Field == "" {
		return e.Msg
	}
	return e.Field + ": " + e.Msg
}

// wire is the JSON shape of an event.
type wire struct {
	V               *int            `json:"v"`
	Type            Type            `json:"type"`
	ID              *string         `json:"id"`
	Election        *string         `json:"election"`
	ExpectedVersion *uint64         `json:"expected_version,omitempty"`
	Data            json.RawMessage `json:"data"`
}

// wireOut is the canonical encoding of an event: fixed field order.
type wireOut struct {
	V               int       `json:"v"`
	Type            Type      `json:"type"`
	ID              uuid.UUID `json:"id"`
	Election        string    `json:"election"`
	ExpectedVersion *uint64   `json:"expected_version,omitempty"`
	Data            Body      `json:"data"`
}

// Decode parses, validates and normalises one event. Any problem comes back
// as an *Error naming the field.
func Decode(data []byte) (*Event, error) {
	if len(data) > MaxEventSize {
		return nil, &Error{Msg: fmt.Sprintf("event is %d bytes, more than the limit of %d", len(data), MaxEventSize)}
	}
	if !utf8.Valid(data) {
		// encoding/json would silently replace the bad bytes with U+FFFD.
		return nil, &Error{Msg: fmt.Sprintf("not valid UTF-8 at byte %d", invalidUTF8(data))}
	}
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, &Error{Msg: "empty event: expected a JSON object"}
	}
	var w wire
	if err := strictUnmarshal(data, &w, ""); err != nil {
		return nil, err
	}
	switch {
	case w.V == nil:
		return nil, &Error{Field: "v", Msg: "missing: the format version, 1"}
	case *w.V != FormatVersion:
		return nil, &Error{Field: "v", Msg: fmt.Sprintf("unsupported format version %d (this ledger reads version %d)", *w.V, FormatVersion)}
	case w.Type == "":
		return nil, &Error{Field: "type", Msg: "missing: one of " + typeList()}
	case w.ID == nil:
		return nil, &Error{Field: "id", Msg: "missing: a UUIDv7 chosen by the submitter"}
	case w.Election == nil:
		return nil, &Error{Field: "election", Msg: "missing: the election ID"}
	case len(w.Data) == 0 || string(w.Data) == "null":
		return nil, &Error{Field: "data", Msg: "missing: the body of the " + string(w.Type) + " event"}
	}
	body := newBody(w.Type)
	if body == nil {
		return nil, &Error{Field: "type", Msg: fmt.Sprintf("unknown event type %q: expected one of %s", w.Type, typeList())}
	}
	if err := strictUnmarshal(w.Data, body, "data"); err != nil {
		return nil, err
	}
	id, err := ParseID(*w.ID)
	if err != nil {
		return nil, &Error{Field: "id", Msg: err.Error()}
	}
	ev := &Event{ID: id, Election: *w.Election, ExpectedVersion: w.ExpectedVersion, Body: body}
	if err := ev.Validate(); err != nil {
		return nil, err
	}
	// The canonical encoding can be longer than the input (encoding/json
	// writes '<' as \u003c): refuse an event that could not be read back.
	enc, err := ev.Encode()
	if err != nil {
		return nil, err
	}
	if len(enc) > MaxEventSize {
		return nil, &Error{Msg: fmt.Sprintf("event's canonical encoding is %d bytes, more than the limit of %d", len(enc), MaxEventSize)}
	}
	return ev, nil
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

// Encode returns the canonical encoding of a valid event. Decode(Encode(e))
// gives back e, and encoding is a pure function of the event.
func (e *Event) Encode() ([]byte, error) {
	if e.Body == nil {
		return nil, &Error{Field: "data", Msg: "event has no body"}
	}
	return json.Marshal(wireOut{
		V: FormatVersion, Type: e.Body.Type(), ID: e.ID, Election: e.Election,
		ExpectedVersion: e.ExpectedVersion, Data: e.Body,
	})
}

// ParseID parses an event ID: a UUIDv7 in its canonical 36-character form.
func ParseID(s string) (uuid.UUID, error) {
	if len(s) != 36 {
		return uuid.Nil, fmt.Errorf("%q is not a UUID in canonical form (xxxxxxxx-xxxx-7xxx-xxxx-xxxxxxxxxxxx)", s)
	}
	id, err := uuid.Parse(s)
	if err != nil {
		return uuid.Nil, fmt.Errorf("%q is not a UUID: %v", s, err)
	}
	if id.Version() != 7 || id.Variant() != uuid.RFC4122 {
		return uuid.Nil, fmt.Errorf("%s is a version %d UUID; event IDs must be UUIDv7 (RFC 9562)", s, id.Version())
	}
	return id, nil
}

// MarshalJSON encodes the event canonically, so an Event can be embedded in
// other JSON documents.
func (e *Event) MarshalJSON() ([]byte, error) { return e.Encode() }

// UnmarshalJSON decodes strictly, as [Decode] does.
func (e *Event) UnmarshalJSON(data []byte) error {
	ev, err := Decode(data)
	if err != nil {
		return err
	}
	*e = *ev
	return nil
}

// strictUnmarshal decodes one JSON value into v, refusing unknown fields and
// trailing data, and turns encoding/json's errors into *Error.
func strictUnmarshal(data []byte, v any, prefix string) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return jsonError(err, prefix)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return &Error{Field: prefix, Msg: "unexpected data after the JSON object"}
	}
	return nil
}

func jsonError(err error, prefix string) error {
	var (
		syn *json.SyntaxError
		typ *json.UnmarshalTypeError
		ee  *Error
	)
	join := func(f string) string {
		switch {
		case prefix == "":
			return f
		case f == "":
			return prefix
		}
		return prefix + "." + f
	}
	switch {
	case errors.As(err, &ee):
		return err
	case errors.As(err, &syn):
		return &Error{Field: prefix, Msg: fmt.Sprintf("malformed JSON at byte %d: %v", syn.Offset, syn)}
	case errors.As(err, &typ):
		if typ.Field == "" && typ.Value == "object" && prefix == "" {
			return &Error{Msg: "expected a JSON object"}
		}
		if typ.Field == "" {
			return &Error{Field: prefix, Msg: fmt.Sprintf("expected a JSON object, got %s", typ.Value)}
		}
		return &Error{Field: join(typ.Field), Msg: fmt.Sprintf("wrong type: got %s, want %s", typ.Value, goTypeName(typ.Type))}
	case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		return &Error{Field: prefix, Msg: "malformed JSON: unexpected end of input"}
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		name := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
		return &Error{Field: join(name), Msg: "unknown field"}
	}
	// uuid parse errors and other value errors from UnmarshalText.
	return &Error{Field: prefix, Msg: "invalid value: " + err.Error()}
}

// goTypeName describes what JSON a Go type takes. It goes by kind, so that
// named types (Type, Verdict) are described as the strings they are.
func goTypeName(t reflect.Type) string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t == reflect.TypeFor[uuid.UUID]() {
		return "a UUID string"
	}
	switch t.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return "an integer"
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "a non-negative integer"
	case reflect.String:
		return "a string"
	case reflect.Slice, reflect.Array:
		return "an array"
	}
	return "an object"
}

func typeList() string {
	s := make([]string, len(Types))
	for i, t := range Types {
		s[i] = string(t)
	}
	return strings.Join(s, ", ")
}
