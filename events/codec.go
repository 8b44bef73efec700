package events

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strconv"
	"strings"
	"unicode/utf8"

	jsonv2 "github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"
	"github.com/google/uuid"
)

// Sizes of events and entries, in bytes.
const (
	// MaxEntrySize is the most bytes of an entry: the C2SP tlog-tiles entry
	// bundle gives each entry a 16-bit length, so every entry must fit in
	// 65,535 bytes for standard clients to read it.
	MaxEntrySize = 65_535
	// MaxEventSize is the largest canonical encoding of an event accepted:
	// an entry adds at most MaxEntryEnvelope to it. A manifest larger than
	// this is split into several events (SplitManifest).
	MaxEventSize = MaxEntrySize - MaxEntryEnvelope
	// MaxEntryEnvelope bounds what an entry holds besides its event: the
	// fields around it, a signer key of at most MaxNameLength bytes of
	// name, and a reason of at most MaxEntryReason bytes, each of them
	// escaped as \u00XX in the worst case.
	MaxEntryEnvelope = 8 << 10
)

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
	V               *int       `json:"v"`
	Type            Type       `json:"type"`
	ID              *string    `json:"id"`
	Election        *string    `json:"election"`
	ExpectedVersion *uint64    `json:"expected_version,omitempty"`
	Data            bodyHolder `json:"data"`
}

// bodyHolder decodes "data" in the same pass as the envelope when "type"
// came first (as in the canonical encoding), and keeps it raw otherwise.
type bodyHolder struct {
	typ     *Type // the envelope's type, as decoded so far
	body    Body  // decoded in the same pass
	raw     jsontext.Value
	present bool
}

func (h *bodyHolder) UnmarshalJSONFrom(dec *jsontext.Decoder) error {
	h.present = true
	if dec.PeekKind() == 'n' {
		_, err := dec.ReadToken()
		return err
	}
	if h.typ != nil && *h.typ != "" {
		if b := newBody(*h.typ); b != nil {
			h.body = b
			return jsonv2.UnmarshalDecode(dec, b, jsonv2.RejectUnknownMembers(true))
		}
	}
	raw, err := dec.ReadValue()
	h.raw = bytes.Clone(raw)
	return err
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
	ev, _, err := DecodeCanonical(data)
	return ev, err
}

// DecodeCanonical is Decode that also returns the event's canonical
// encoding, which it computes anyway, so that callers need not encode again.
// When data is already canonical, the encoding returned is data itself, not
// a copy: the caller must not modify data afterwards.
func DecodeCanonical(data []byte) (*Event, []byte, error) {
	if len(data) <= MaxEventSize {
		if ev, ok := decodeCanonicalFast(data); ok {
			return ev, data, nil
		}
	}
	ev, err := decode(data)
	if err != nil {
		return nil, nil, err
	}
	// The canonical encoding can be longer than the input (encoding/json
	// writes '<' as \u003c): refuse an event that could not be read back.
	enc, err := ev.Encode()
	if err != nil {
		return nil, nil, err
	}
	if len(enc) > MaxEventSize {
		return nil, nil, &Error{Msg: fmt.Sprintf("event's canonical encoding is %d bytes, more than the limit of %d%s", len(enc), MaxEventSize, manifestHint(enc))}
	}
	return ev, enc, nil
}

// manifestHint is what to do about a manifest too large for one event.
func manifestHint(data []byte) string {
	if bytes.Contains(data[:min(len(data), 256)], []byte(`"election.defined"`)) {
		return ": a manifest this large goes in parts (docs/events.md, Manifests in parts; events.SplitManifest, which `ledger import` uses)"
	}
	return ""
}

func decode(data []byte) (*Event, error) {
	if len(data) > MaxEventSize {
		return nil, &Error{Msg: fmt.Sprintf("event is %d bytes, more than the limit of %d%s", len(data), MaxEventSize, manifestHint(data))}
	}
	if !utf8.Valid(data) {
		// encoding/json would silently replace the bad bytes with U+FFFD.
		return nil, &Error{Msg: fmt.Sprintf("not valid UTF-8 at byte %d", invalidUTF8(data))}
	}
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, &Error{Msg: "empty event: expected a JSON object"}
	}
	var w wire
	w.Data.typ = &w.Type
	if err := strictUnmarshal(data, &w, ""); err != nil {
		return nil, err
	}
	return w.event()
}

// event checks a decoded envelope and builds the event from it.
func (w *wire) event() (*Event, error) {
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
	case !w.Data.present || (w.Data.body == nil && len(w.Data.raw) == 0):
		return nil, &Error{Field: "data", Msg: "missing: the body of the " + string(w.Type) + " event"}
	}
	body := w.Data.body
	if body == nil {
		if body = newBody(w.Type); body == nil {
			return nil, &Error{Field: "type", Msg: fmt.Sprintf("unknown event type %q: expected one of %s", w.Type, typeList())}
		}
		if err := strictUnmarshal(w.Data.raw, body, "data"); err != nil {
			return nil, err
		}
	}
	id, err := ParseID(*w.ID)
	if err != nil {
		return nil, &Error{Field: "id", Msg: err.Error()}
	}
	ev := &Event{ID: id, Election: *w.Election, ExpectedVersion: w.ExpectedVersion, Body: body}
	if err := ev.Validate(); err != nil {
		return nil, err
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

// strictUnmarshal decodes one JSON value into v with encoding/json/v2's
// strict defaults (exact-case names, no duplicate names, valid UTF-8, no
// trailing data) and unknown fields refused, and turns its errors into
// *Error. prefix is the JSON path of data within the event.
func strictUnmarshal(data []byte, v any, prefix string) error {
	if err := jsonv2.Unmarshal(data, v, jsonv2.RejectUnknownMembers(true)); err != nil {
		return jsonError(err, prefix)
	}
	return nil
}

func jsonError(err error, prefix string) error {
	var (
		syn *jsontext.SyntacticError
		sem *jsonv2.SemanticError
		ee  *Error
	)
	switch {
	case errors.As(err, &ee):
		return err
	case errors.As(err, &syn):
		field := fieldPath(prefix, syn.JSONPointer)
		switch {
		case errors.Is(syn.Err, jsontext.ErrDuplicateName):
			return &Error{Field: field, Msg: "appears twice in the same object"}
		case errors.Is(syn.Err, io.ErrUnexpectedEOF):
			return &Error{Field: prefix, Msg: "malformed JSON: unexpected end of input"}
		case strings.Contains(syn.Err.Error(), "after top-level value"):
			return &Error{Field: prefix, Msg: "unexpected data after the JSON object"}
		}
		return &Error{Field: prefix, Msg: fmt.Sprintf("malformed JSON at byte %d: %v", syn.ByteOffset, syn.Err)}
	case errors.As(err, &sem):
		field := fieldPath(prefix, sem.JSONPointer)
		switch {
		case errors.Is(sem.Err, jsonv2.ErrUnknownName):
			return &Error{Field: field, Msg: "unknown field"}
		case field == "data" && sem.JSONKind != '{' && sem.JSONKind != 0:
			return &Error{Field: field, Msg: "expected a JSON object, got " + kindName(sem.JSONKind)}
		case sem.JSONPointer == "" && sem.JSONKind != '{' && sem.JSONKind != 0:
			if prefix == "" {
				return &Error{Msg: "expected a JSON object, got " + kindName(sem.JSONKind)}
			}
			return &Error{Field: prefix, Msg: "expected a JSON object, got " + kindName(sem.JSONKind)}
		case sem.GoType != nil && sem.JSONKind != 0 && !kindFits(sem.JSONKind, sem.GoType):
			return &Error{Field: field, Msg: fmt.Sprintf("wrong type: got %s, want %s", kindName(sem.JSONKind), goTypeName(sem.GoType))}
		case sem.JSONKind == '0' && sem.GoType != nil:
			// A number that does not fit: a fraction, a negative for an
			// unsigned field, or out of range.
			return &Error{Field: field, Msg: fmt.Sprintf("got number %s, want %s", sem.JSONValue, goTypeName(sem.GoType))}
		case sem.Err != nil:
			return &Error{Field: field, Msg: "invalid value: " + sem.Err.Error()}
		}
		return &Error{Field: field, Msg: fmt.Sprintf("invalid %s for %s", kindName(sem.JSONKind), goTypeName(sem.GoType))}
	case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		return &Error{Field: prefix, Msg: "malformed JSON: unexpected end of input"}
	}
	return &Error{Field: prefix, Msg: "invalid value: " + err.Error()}
}

// fieldPath turns a JSON Pointer ("/counts/3/votes") into the path style
// of Error.Field ("data.counts[3].votes").
func fieldPath(prefix string, ptr jsontext.Pointer) string {
	var b strings.Builder
	b.WriteString(prefix)
	for tok := range ptr.Tokens() {
		if _, err := strconv.ParseUint(tok, 10, 64); err == nil && b.Len() > 0 {
			b.WriteString("[" + tok + "]")
			continue
		}
		if b.Len() > 0 {
			b.WriteByte('.')
		}
		b.WriteString(tok)
	}
	return b.String()
}

func kindName(k jsontext.Kind) string {
	switch k {
	case '"':
		return "string"
	case '0':
		return "number"
	case 't', 'f':
		return "bool"
	case 'n':
		return "null"
	case '{':
		return "object"
	case '[':
		return "array"
	}
	return "nothing"
}

// kindFits reports whether a JSON kind is the right one for a Go type, so
// that a well-typed but invalid value (an overflowing number, a bad UUID) is
// not reported as a wrong type.
func kindFits(k jsontext.Kind, t reflect.Type) bool {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t == reflect.TypeFor[uuid.UUID]() {
		return k == '"'
	}
	switch t.Kind() {
	case reflect.String:
		return k == '"'
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Float32, reflect.Float64:
		return k == '0'
	case reflect.Slice, reflect.Array:
		return k == '['
	case reflect.Struct, reflect.Map:
		return k == '{'
	case reflect.Bool:
		return k == 't' || k == 'f'
	}
	return true
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
