package events

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"strconv"
	"strings"

	"github.com/google/uuid"
	"golang.org/x/mod/sumdb/note"
)

// A submission is what a reporter uploads: a list of events of one
// election, signed once by one key. Its bytes are a C2SP signed note
// (https://c2sp.org/signed-note) whose text is
//
//	election-audit/ledger/submission/v1
//	<submission ID: a UUIDv7>
//	<election ID>
//	<the signer's verifier key: name+hash+base64>
//	<event 1, canonical encoding>
//	…
//	<event n, canonical encoding>
//
// followed by a blank line and exactly one signature line, by the key the
// text names. The first line separates the domain: the signature cannot be
// taken for a checkpoint's or any other message's, and the ID and the
// election are signed, so it cannot be replayed as another submission or
// into another election. docs/events.md (Submission) is the reference.

// SubmissionDomain is the first line of every submission's text.
const SubmissionDomain = "election-audit/ledger/submission/v1"

// Submission limits.
const (
	// MaxSubmissionSize is the most bytes of a signed submission: the
	// payload a stream message must be able to carry (NATS recommends at
	// most 8 MB).
	MaxSubmissionSize = 8 << 20
	// MaxSubmissionEvents is the most events of one submission.
	MaxSubmissionEvents = 10_000
)

// Submission is a parsed signed submission.
type Submission struct {
	ID       uuid.UUID
	Election string
	// Signer is the verifier key the text names, which must have made the
	// signature.
	Signer    string
	Events    []*Event
	Canonical [][]byte // each event's line: its canonical encoding (in Bytes)
	Bytes     []byte   // the signed note as received
	SHA256    [32]byte // of Bytes
	// SignatureErr is why the signature is not Signer's valid signature
	// of the text; nil when it is.
	SignatureErr error
	// Manifest is the whole manifest when the first event is an
	// election.defined: its body, or the manifest assembled from it and
	// the manifest.part events that follow it (AssembleManifest).
	Manifest *Manifest
}

// SignatureError is why a submission's signature does not verify.
type SignatureError struct{ Msg string }

func (e *SignatureError) Error() string { return e.Msg }

// ParseKey parses a verifier key in the C2SP signed-note form
// (name+hash+base64 of 0x01 and an Ed25519 public key), as `ledger keygen`
// prints it. Only the canonical spelling of a key is accepted, so that one
// key has one string.
func ParseKey(vkey string) (note.Verifier, error) {
	v, err := note.NewVerifier(vkey)
	if err != nil {
		return nil, fmt.Errorf("%q is not an Ed25519 verifier key (name+hash+base64, as `ledger keygen` prints)", clip(vkey))
	}
	if len(v.Name()) > MaxNameLength {
		return nil, fmt.Errorf("verifier key %q has a name of %d bytes, more than the limit of %d", clip(vkey), len(v.Name()), MaxNameLength)
	}
	_, rest, _ := strings.Cut(vkey, "+")
	_, b64, _ := strings.Cut(rest, "+")
	raw, _ := base64.StdEncoding.DecodeString(b64)
	if canon := fmt.Sprintf("%s+%08x+%s", v.Name(), v.KeyHash(), base64.StdEncoding.EncodeToString(raw)); canon != vkey {
		return nil, fmt.Errorf("verifier key %q is not in canonical form (%s)", clip(vkey), canon)
	}
	return v, nil
}

// KeyName returns the name of a verifier key: the office it belongs to.
func KeyName(vkey string) string {
	name, _, _ := strings.Cut(vkey, "+")
	return name
}

// SignSubmission encodes events as one submission with the given ID and
// signs it. vkey must be the verifier key of signer. Every event must be of
// election, valid, and the submission within the limits. Each event is
// validated and normalised (Event.Validate sorts its counts), so that what
// is signed is its canonical encoding.
func SignSubmission(signer note.Signer, vkey string, id uuid.UUID, election string, evs []*Event) ([]byte, error) {
	enc := make([][]byte, len(evs))
	for i, ev := range evs {
		if ev.Election != election {
			return nil, fmt.Errorf("event #%d (%s) is for election %q, the submission for %q", i+1, ev.ID, ev.Election, election)
		}
		if err := ev.Validate(); err != nil {
			return nil, fmt.Errorf("event #%d (%s): %w", i+1, ev.ID, err)
		}
		b, err := ev.Encode()
		if err != nil {
			return nil, fmt.Errorf("event #%d (%s): %w", i+1, ev.ID, err)
		}
		enc[i] = b
	}
	return SignEncoded(signer, vkey, id, election, enc)
}

// SignEncoded is SignSubmission for events already in their canonical
// encoding (as Event.Encode makes them); they are not checked again here,
// the ledger does.
func SignEncoded(signer note.Signer, vkey string, id uuid.UUID, election string, canonical [][]byte) ([]byte, error) {
	v, err := ParseKey(vkey)
	if err != nil {
		return nil, err
	}
	if v.Name() != signer.Name() || v.KeyHash() != signer.KeyHash() {
		return nil, fmt.Errorf("the signing key is %s, not the key %s", signer.Name(), clip(vkey))
	}
	switch {
	case len(canonical) == 0:
		return nil, fmt.Errorf("a submission needs at least one event")
	case len(canonical) > MaxSubmissionEvents:
		return nil, fmt.Errorf("%d events, more than the %d of one submission", len(canonical), MaxSubmissionEvents)
	}
	idStr := id.String()
	n := len(SubmissionDomain) + len(idStr) + len(election) + len(vkey) + 4
	for _, c := range canonical {
		n += len(c) + 1
	}
	var b strings.Builder
	b.Grow(n)
	for _, line := range []string{SubmissionDomain, idStr, election, vkey} {
		b.WriteString(line)
		b.WriteByte('\n')
	}
	for _, c := range canonical {
		b.Write(c)
		b.WriteByte('\n')
	}
	signed, err := note.Sign(&note.Note{Text: b.String()}, signer)
	if err != nil {
		return nil, fmt.Errorf("couldn't sign the submission: %w", err)
	}
	if len(signed) > MaxSubmissionSize {
		return nil, fmt.Errorf("the submission is %d bytes, more than the limit of %d: send fewer events in each", len(signed), MaxSubmissionSize)
	}
	return signed, nil
}

// OpenSubmission parses a signed submission and checks its signature. A
// submission that cannot be read (not a submission, an invalid event, an
// event of another election, an event that is not in its canonical
// encoding, an event ID twice) is an *Error naming the line. One that
// reads but whose signature does not verify by the key it names comes
// back whole, with SignatureErr set: the state machine logs its events as
// rejected, so that the court sees what was attempted.
func OpenSubmission(data []byte) (*Submission, error) {
	if len(data) > MaxSubmissionSize {
		return nil, &Error{Msg: fmt.Sprintf("submission is %d bytes, more than the limit of %d", len(data), MaxSubmissionSize)}
	}
	text, sigs := data, []byte(nil)
	if i := bytes.LastIndex(data, []byte("\n\n")); i >= 0 {
		text, sigs = data[:i+1], data[i+2:]
	}
	sub := &Submission{Bytes: data, SHA256: sha256.Sum256(data)}
	var verifier note.Verifier
	line := 0
	rest := text
	next := func() ([]byte, bool) {
		i := bytes.IndexByte(rest, '\n')
		if i < 0 {
			return nil, false
		}
		l := rest[:i]
		rest = rest[i+1:]
		line++
		return l, true
	}
	fail := func(format string, args ...any) (*Submission, error) {
		return nil, &Error{Field: "line " + strconv.Itoa(line), Msg: fmt.Sprintf(format, args...)}
	}
	l, ok := next()
	if !ok || string(l) != SubmissionDomain {
		return nil, &Error{Msg: "not a signed submission: its first line must be " + SubmissionDomain + " (sign events with `ledger submit --key` or the Go client)"}
	}
	if l, ok = next(); !ok {
		return fail("missing: the submission ID")
	}
	id, err := ParseID(string(l))
	if err != nil {
		return fail("submission ID: %v", err)
	}
	sub.ID = id
	if l, ok = next(); !ok || !ValidElectionID(string(l)) {
		return fail("want the election ID (1–64 of a-z, 0-9, '-', '_'), got %q", clip(string(l)))
	}
	sub.Election = string(l)
	if l, ok = next(); !ok {
		return fail("missing: the signer's verifier key")
	}
	if verifier, err = ParseKey(string(l)); err != nil {
		return fail("signer: %v", err)
	}
	sub.Signer = string(l)
	seen := map[uuid.UUID]int{}
	for len(rest) > 0 {
		if l, ok = next(); !ok {
			return fail("the text does not end with a newline")
		}
		item := len(sub.Events)
		if item == MaxSubmissionEvents {
			return fail("more than %d events: split the submission", MaxSubmissionEvents)
		}
		ev, canon, err := DecodeCanonical(l)
		if err != nil {
			if e, ok := err.(*Error); ok {
				field := "events[" + strconv.Itoa(item) + "]"
				if e.Field != "" {
					field += "." + e.Field
				}
				return nil, &Error{Field: field, Msg: e.Msg + " (line " + strconv.Itoa(line) + ")"}
			}
			return fail("event #%d: %v", item+1, err)
		}
		if !bytes.Equal(canon, l) {
			return fail("event #%d (%s) is not in its canonical encoding (docs/events.md): a signature covers exact bytes, so sign the canonical ones", item+1, ev.ID)
		}
		if ev.Election != sub.Election {
			return fail("event #%d (%s) is for election %q, the submission for %q", item+1, ev.ID, ev.Election, sub.Election)
		}
		if j, dup := seen[ev.ID]; dup {
			return fail("event ID %s is already event #%d of this submission", ev.ID, j+1)
		}
		seen[ev.ID] = item
		sub.Events = append(sub.Events, ev)
		sub.Canonical = append(sub.Canonical, l)
	}
	if len(sub.Events) == 0 {
		return fail("no events: a submission carries at least one")
	}
	if err := sub.assembleManifests(); err != nil {
		return nil, err
	}
	sub.SignatureErr = checkSignature(text, sigs, verifier)
	return sub, nil
}

// checkSignature checks that sigs is exactly one signature line, by v, of
// text.
func checkSignature(text, sigs []byte, v note.Verifier) error {
	if len(sigs) == 0 {
		return &SignatureError{"unsigned: a submission ends with a blank line and the signature of the key it names"}
	}
	line, more, ok := bytes.Cut(sigs, []byte("\n"))
	switch {
	case !ok:
		return &SignatureError{"the signature line has no line end: the submission looks cut short (send it whole, as signed)"}
	case len(more) > 0:
		return &SignatureError{"more than one signature line: a submission is signed once, by the key it names"}
	}
	name, b64, _ := strings.Cut(strings.TrimPrefix(string(line), "— "), " ")
	// Strict: one signature has one spelling, so signed bytes that verify
	// are the bytes that were signed.
	sig, err := base64.StdEncoding.Strict().DecodeString(b64)
	if !bytes.HasPrefix(line, []byte("— ")) || err != nil || len(sig) < 5 {
		return &SignatureError{"malformed signature line (want \"— <key name> <base64>\")"}
	}
	if name != v.Name() || binary.BigEndian.Uint32(sig) != v.KeyHash() {
		return &SignatureError{fmt.Sprintf("signed by %s+%08x, not by the key the submission names (%s+%08x)", clip(name), binary.BigEndian.Uint32(sig), v.Name(), v.KeyHash())}
	}
	if !v.Verify(text, sig[4:]) {
		return &SignatureError{fmt.Sprintf("the signature does not verify with %s's key: the submission was altered, or signed over other bytes", v.Name())}
	}
	return nil
}
