package events

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/go-json-experiment/json/jsontext"
	"github.com/google/uuid"
)

// Verdict is the state machine's decision on an event, stored in its entry.
type Verdict string

// The verdicts. Rejected events are logged so that the court sees what was
// attempted; tallies ignore them.
const (
	Accepted Verdict = "accepted"
	Rejected Verdict = "rejected"
)

// Entry is one record of an election's log: an event as the ledger logged
// it. Its canonical encoding ([Entry.Encode]) is the exact byte string that
// the Merkle tree commits to.
//
// An entry holds nothing local to the node that wrote it: the index comes
// from the log, the time from the stream, the verdict from the state machine.
type Entry struct {
	Index    uint64    // position in the election's log, from 0
	Recorded time.Time // the stream's timestamp of the message, UTC
	Verdict  Verdict
	Reason   string // why it was rejected; empty when accepted
	// Submission ties the entry to the signed submission that carried its
	// event.
	Submission *SubmissionRef
	Event      *Event
}

// MaxEntryReason is the most bytes of an entry's reason: the state machine
// clips a longer one (ClipReason), so that every entry fits MaxEntrySize.
const MaxEntryReason = 1024

// ClipReason returns a rejection's reason as an entry holds it: at most
// MaxEntryReason bytes, cut at a character boundary and ended with "…"
// when cut.
func ClipReason(s string) string {
	if len(s) <= MaxEntryReason {
		return s
	}
	i := MaxEntryReason - len("…")
	for i > 0 && !utf8.RuneStart(s[i]) {
		i--
	}
	return s[:i] + "…"
}

// EntryVersion is the format version of entries, the entry's "v". Version
// 1, from before submissions were signed, had no submission, and is no
// longer read.
const EntryVersion = 2

// SubmissionRef is what an entry says of the signed submission its event
// came in: with an inclusion proof of the entry, the submission's bytes
// (which hash to SHA256) prove who reported the event.
type SubmissionRef struct {
	ID     uuid.UUID // the submission's ID
	SHA256 [32]byte  // of the submission's signed bytes
	Item   int       // the event's place in the submission, from 0
	// Signer is the verifier key whose valid signature the submission
	// carries; empty when its signature does not verify (the entry is then
	// rejected).
	Signer string
}

// entryWire is the shape DecodeEntry reads; EncodeEntry writes the same
// fields in this order.
type entryWire struct {
	V          int      `json:"v"`
	Index      uint64   `json:"index"`
	Recorded   string   `json:"recorded"`
	Verdict    Verdict  `json:"verdict"`
	Reason     string   `json:"reason,omitempty"`
	Submission *refWire `json:"submission,omitempty"`
	Event      *wire    `json:"event"` // decoded in the same pass
}

type refWire struct {
	ID     *string `json:"id"`
	SHA256 *string `json:"sha256"`
	Item   *int    `json:"item"`
	Signer string  `json:"signer,omitempty"`
}

func (w *refWire) ref() (*SubmissionRef, error) {
	switch {
	case w.ID == nil:
		return nil, &Error{Field: "submission.id", Msg: "missing"}
	case w.SHA256 == nil || !validSHA256(*w.SHA256):
		return nil, &Error{Field: "submission.sha256", Msg: "want 64 lower-case hex digits"}
	case w.Item == nil || *w.Item < 0 || *w.Item >= MaxSubmissionEvents:
		return nil, &Error{Field: "submission.item", Msg: fmt.Sprintf("want the event's place in the submission, 0 to %d", MaxSubmissionEvents-1)}
	}
	id, err := ParseID(*w.ID)
	if err != nil {
		return nil, &Error{Field: "submission.id", Msg: err.Error()}
	}
	r := &SubmissionRef{ID: id, Item: *w.Item, Signer: w.Signer}
	hex.Decode(r.SHA256[:], []byte(*w.SHA256))
	if r.Signer != "" {
		if _, err := ParseKey(r.Signer); err != nil {
			return nil, &Error{Field: "submission.signer", Msg: err.Error()}
		}
	}
	return r, nil
}

// Encode returns the canonical bytes of the entry.
func (e *Entry) Encode() ([]byte, error) {
	if e.Event == nil {
		return nil, fmt.Errorf("couldn't encode entry %d: it has no event", e.Index)
	}
	ev, err := e.Event.Encode()
	if err != nil {
		return nil, err
	}
	return e.EncodeWith(ev)
}

// EncodeWith encodes the entry around event, which must be the canonical
// encoding of e.Event (as DecodeCanonical returns it). The result is byte
// for byte what encoding/json makes of the entry's fields in order.
func (e *Entry) EncodeWith(event []byte) ([]byte, error) {
	recorded := e.Recorded.UTC()
	if y := recorded.Year(); y < 0 || y > 9999 {
		return nil, fmt.Errorf("couldn't encode entry %d: recorded time %v is outside years 0–9999", e.Index, recorded)
	}
	if e.Submission == nil {
		return nil, fmt.Errorf("couldn't encode entry %d: it has no submission", e.Index)
	}
	b := make([]byte, 0, len(event)+320+len(e.Reason))
	b = append(b, `{"v":`...)
	b = strconv.AppendInt(b, EntryVersion, 10)
	b = append(b, `,"index":`...)
	b = strconv.AppendUint(b, e.Index, 10)
	b = append(b, `,"recorded":"`...)
	b = recorded.AppendFormat(b, time.RFC3339Nano)
	b = append(b, `","verdict":`...)
	v, err := json.Marshal(e.Verdict)
	if err != nil {
		return nil, err
	}
	b = append(b, v...)
	if e.Reason != "" {
		r, err := json.Marshal(e.Reason)
		if err != nil {
			return nil, err
		}
		b = append(b, `,"reason":`...)
		b = append(b, r...)
	}
	r := e.Submission
	b = append(b, `,"submission":{"id":"`...)
	b = append(b, r.ID.String()...)
	b = append(b, `","sha256":"`...)
	b = hex.AppendEncode(b, r.SHA256[:])
	b = append(b, `","item":`...)
	b = strconv.AppendInt(b, int64(r.Item), 10)
	if r.Signer != "" {
		s, err := json.Marshal(r.Signer)
		if err != nil {
			return nil, err
		}
		b = append(b, `,"signer":`...)
		b = append(b, s...)
	}
	b = append(b, `},"event":`...)
	b = append(b, event...)
	return append(b, '}'), nil
}

// DecodeEntry parses a stored entry. It does not re-validate the event
// against an election's state: that is the replaying state machine's job.
func DecodeEntry(data []byte) (*Entry, error) {
	if en, ok := decodeEntryFast(data); ok {
		return en, nil
	}
	return decodeEntryStrict(data)
}

// decodeEntryStrict is DecodeEntry without the fast path.
func decodeEntryStrict(data []byte) (*Entry, error) {
	if !utf8.Valid(data) {
		return nil, fmt.Errorf("couldn't decode entry: not valid UTF-8 at byte %d", invalidUTF8(data))
	}
	w := entryWire{Event: new(wire)}
	w.Event.Data.typ = &w.Event.Type
	if err := strictUnmarshal(data, &w, ""); err != nil {
		return nil, fmt.Errorf("couldn't decode entry: %w", err)
	}
	switch {
	case w.V == 1:
		return nil, fmt.Errorf("couldn't decode entry %d: format 1, from before submissions were signed, which this ledger no longer reads (it reads format %d)", w.Index, EntryVersion)
	case w.V != EntryVersion:
		return nil, fmt.Errorf("couldn't decode entry: unsupported format version %d", w.V)
	case w.Submission == nil:
		return nil, fmt.Errorf("couldn't decode entry %d: %w", w.Index, &Error{Field: "submission", Msg: "missing"})
	}
	ref, err := w.Submission.ref()
	if err != nil {
		return nil, fmt.Errorf("couldn't decode entry %d: %w", w.Index, err)
	}
	t, err := time.Parse(time.RFC3339Nano, w.Recorded)
	if err != nil {
		return nil, fmt.Errorf("couldn't decode entry %d: recorded: %w", w.Index, err)
	}
	// An offset can carry the time out of the years RFC 3339 can write.
	if y := t.UTC().Year(); y < 0 || y > 9999 {
		return nil, fmt.Errorf("couldn't decode entry %d: recorded: %s is in year %d in UTC, outside 0000-9999", w.Index, w.Recorded, y)
	}
	if w.Verdict != Accepted && w.Verdict != Rejected {
		return nil, fmt.Errorf("couldn't decode entry %d: unknown verdict %q", w.Index, w.Verdict)
	}
	if w.Event == nil || (w.Event.V == nil && w.Event.Type == "" && w.Event.ID == nil && !w.Event.Data.present) {
		return nil, fmt.Errorf("couldn't decode entry %d: event: %w", w.Index, &Error{Msg: "empty event: expected a JSON object"})
	}
	ev, err := w.Event.event() // no canonical re-encoding: stored events were sized when logged
	if err != nil {
		return nil, fmt.Errorf("couldn't decode entry %d: event: %w", w.Index, err)
	}
	return &Entry{Index: w.Index, Recorded: t.UTC(), Verdict: w.Verdict, Reason: w.Reason, Submission: ref, Event: ev}, nil
}

// EntryOrigin reads from a stored entry its submission reference and the
// bytes of its event, as they stand in the entry, without decoding the
// event: what ties the entry to its signed submission. The event's bytes
// are a slice of data.
func EntryOrigin(data []byte) (*SubmissionRef, []byte, error) {
	if i := bytes.Index(data, []byte(`,"submission":{"id":`)); i > 0 && len(data) > 0 && data[len(data)-1] == '}' {
		// Quotes inside JSON strings are escaped, so this is the member.
		p := fastParser{b: data[:len(data)-1], i: i, ok: true}
		ref := p.submission()
		p.lit(`,"event":`)
		if p.ok && ref != nil {
			return ref, data[p.i : len(data)-1], nil
		}
	}
	// Not in the form the ledger writes: decode it the strict way, and
	// find the event's bytes among the entry's members.
	en, err := DecodeEntry(data)
	if err != nil {
		return nil, nil, err
	}
	dec := jsontext.NewDecoder(bytes.NewReader(data))
	if tok, err := dec.ReadToken(); err != nil || tok.Kind() != '{' {
		return nil, nil, fmt.Errorf("couldn't read entry %d: not an object", en.Index)
	}
	for dec.PeekKind() == '"' {
		tok, err := dec.ReadToken()
		if err != nil {
			return nil, nil, fmt.Errorf("couldn't read entry %d: %w", en.Index, err)
		}
		name := tok.String() // the token is valid only until the next read
		start := dec.InputOffset()
		if _, err := dec.ReadValue(); err != nil {
			return nil, nil, fmt.Errorf("couldn't read entry %d: %w", en.Index, err)
		}
		if name == "event" {
			end := dec.InputOffset()
			return en.Submission, bytes.TrimLeft(data[start:end], " \t\r\n:"), nil
		}
	}
	return nil, nil, fmt.Errorf("couldn't read entry %d: no event", en.Index)
}
