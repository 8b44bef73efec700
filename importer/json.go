package importer

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"unicode"
	"unicode/utf8"
)

// JSONTypeError is a JSON value of the wrong type for its place in a file.
// [DecodeJSON] returns it, rather than an [*Error], so that each format can
// say where the value is in its own words.
type JSONTypeError struct {
	File   string
	Field  string // encoding/json's dotted path of Go field names; "" for the whole file
	Offset int64  // in the file, as given to DecodeJSON
	Got    string // the JSON type found: "string", "number", …
	Want   string // what the field holds: "an array", "an object", "string", …
}

func (e *JSONTypeError) Error() string {
	field := e.Field
	if field == "" {
		field = "the file"
	}
	return fmt.Sprintf("%s: %s near byte %d: got a JSON %s, want %s", e.File, field, e.Offset, e.Got, e.Want)
}

// DecodeJSON decodes data, which must be one JSON object (after an optional
// [BOM] and white space) and nothing else, into v, a struct of the format's
// wire shape. A value of the wrong type gives a [*JSONTypeError]; any other
// problem (not UTF-8, not an object, malformed, truncated, data after the
// object) an [*Error] for the whole file. Offsets in messages count from
// the start of data.
func DecodeJSON(file string, data []byte, v any) error {
	fail := func(format string, args ...any) error {
		return &Error{File: file, Msg: fmt.Sprintf(format, args...)}
	}
	if !utf8.Valid(data) {
		// encoding/json would silently replace the bad bytes with U+FFFD.
		return fail("not valid UTF-8 at byte %d", InvalidUTF8(data))
	}
	skip := 0
	if bytes.HasPrefix(data, BOM) {
		skip = len(BOM)
	}
	body := data[skip:]
	start := bytes.IndexFunc(body, func(r rune) bool { return !unicode.IsSpace(r) })
	switch {
	case start < 0:
		return fail("empty file: expected a JSON object")
	case body[start] != '{':
		return fail("expected a JSON object at byte %d, found %s", skip+start, Preview(body[start:]))
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(v); err != nil {
		var (
			syn *json.SyntaxError
			typ *json.UnmarshalTypeError
		)
		switch {
		case errors.As(err, &syn):
			// Offset counts the bytes read, the bad one included.
			return fail("malformed JSON at byte %d: %v", int64(skip)+max(syn.Offset-1, 0), syn)
		case errors.As(err, &typ):
			want := "another type"
			if typ.Type != nil {
				want = jsonKind(typ.Type.Kind().String())
			}
			return &JSONTypeError{File: file, Field: typ.Field, Offset: int64(skip) + typ.Offset, Got: typ.Value, Want: want}
		case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
			return fail("truncated JSON: unexpected end of input at byte %d", len(data))
		}
		return fail("malformed JSON: %v", err)
	}
	end := int(dec.InputOffset())
	if rest := bytes.TrimLeft(body[end:], " \t\r\n"); len(rest) > 0 {
		return fail("unexpected data after the JSON object at byte %d", skip+len(body)-len(rest))
	}
	return nil
}

// jsonKind words a Go kind as the JSON it decodes from.
func jsonKind(kind string) string {
	switch kind {
	case "slice", "array":
		return "an array"
	case "struct", "ptr", "map":
		return "an object"
	}
	return kind
}

// IsNull reports whether a raw JSON value is absent or null.
func IsNull(raw json.RawMessage) bool {
	return len(raw) == 0 || string(raw) == "null"
}
