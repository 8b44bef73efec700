package events

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"strconv"

	"github.com/google/uuid"
)

// A manifest too large for one event (MaxEventSize: real statewide
// manifests are hundreds of kilobytes) is carried by several, all in one
// submission and so logged as consecutive entries of one signed upload:
// its election.defined event, with Parts = N and the first units and
// contests, then N-1 manifest.part events with the rest, in order. The
// manifest is the first event's, with the parts' units and contests
// appended in order (AssembleManifest). Only the whole is checked against
// the rules of a manifest; each part alone is checked for what it says of
// itself.

// SplitManifest returns the events that carry the manifest of ev, an
// election.defined event: ev itself when its encoding fits MaxEventSize,
// or else its election.defined event (the same ID, Parts set, the first
// units and contests) followed by manifest.part events, as few as fit.
// Units come first, then contests, each in order. A part's ID is derived
// from ev's ID and the part's number (ManifestPartID), so that splitting
// the same manifest again gives the same events.
func SplitManifest(ev *Event) ([]*Event, error) {
	m, ok := ev.Body.(*Manifest)
	if !ok {
		return nil, fmt.Errorf("event %s is a %s, not an %s", ev.ID, ev.Type(), TypeElectionDefined)
	}
	if m.Parts > 1 {
		return nil, fmt.Errorf("the manifest of %s is split already (%d parts)", ev.Election, m.Parts)
	}
	enc, err := ev.Encode()
	if err != nil {
		return nil, err
	}
	if len(enc) <= MaxEventSize {
		return []*Event{ev}, nil
	}
	// The size of each event without its units and contests, with room
	// for the widest part number; then each unit or contest and a comma.
	head := *m
	head.Units, head.Contests, head.Parts = nil, nil, MaxManifestParts
	fixed, err := (&Event{ID: ev.ID, Election: ev.Election, Body: &head}).Encode()
	if err != nil {
		return nil, err
	}
	partFixed, err := (&Event{ID: ev.ID, Election: ev.Election, Body: &ManifestPart{Part: MaxManifestParts}}).Encode()
	if err != nil {
		return nil, err
	}
	// Room for the two arrays' names and brackets, when a part has both.
	const arrays = len(`,"units":[],"contests":[]`)
	// Items are the units, then the contests; parts take them in order,
	// as many as fit. cuts[k] is the item part k starts with.
	nu := len(m.Units)
	cuts := []int{0}
	room := MaxEventSize - len(fixed) - arrays
	for i := range nu + len(m.Contests) {
		var item any
		kind, at := "unit", i
		if i < nu {
			item = m.Units[i]
		} else {
			item, kind, at = m.Contests[i-nu], "contest", i-nu
		}
		b, err := json.Marshal(item)
		if err != nil {
			return nil, err
		}
		n := len(b) + 1 // and a comma
		if n > room {
			room = MaxEventSize - len(partFixed) - arrays
			if n > room {
				return nil, fmt.Errorf("the manifest of %s cannot be split into events of at most %d bytes: %s %d alone takes %d", ev.Election, MaxEventSize, kind, at, len(b))
			}
			cuts = append(cuts, i)
		}
		room -= n
	}
	parts := len(cuts)
	cuts = append(cuts, nu+len(m.Contests))
	if parts > MaxManifestParts {
		return nil, fmt.Errorf("the manifest of %s needs %d events, more than the limit of %d", ev.Election, parts, MaxManifestParts)
	}
	out := make([]*Event, parts)
	for k := range parts {
		from, to := cuts[k], cuts[k+1]
		units, contests := m.Units[min(from, nu):min(to, nu)], m.Contests[max(from, nu)-nu:max(to, nu)-nu]
		if k == 0 {
			first := *m
			first.Parts, first.Units, first.Contests = parts, units, contests
			out[0] = &Event{ID: ev.ID, Election: ev.Election, Body: &first}
		} else {
			out[k] = &Event{ID: ManifestPartID(ev.ID, k), Election: ev.Election, Body: &ManifestPart{Part: k, Units: units, Contests: contests}}
		}
		b, err := out[k].Encode()
		switch {
		case err != nil:
			return nil, err
		case len(b) > MaxEventSize: // the sizes above are at least the encoding's: never
			return nil, fmt.Errorf("part %d of the manifest of %s is %d bytes, more than the limit of %d", k, ev.Election, len(b), MaxEventSize)
		}
	}
	if _, err := AssembleManifest(out); err != nil {
		return nil, err
	}
	return out, nil
}

// ManifestPartID derives the event ID of part k of the manifest whose
// election.defined event has ID id: a UUIDv7 whose bytes 0 to 5 are id's
// (its timestamp) and 6 to 15 the first 10 bytes of SHA-256("election-audit
// ledger manifest part\x00" || id || k as 4 bytes, big-endian), with the
// version and variant bits set over them.
func ManifestPartID(id uuid.UUID, k int) uuid.UUID {
	h := sha256.New()
	h.Write([]byte("election-audit ledger manifest part\x00"))
	h.Write(id[:])
	h.Write(binary.BigEndian.AppendUint32(nil, uint32(k)))
	var out uuid.UUID
	copy(out[:6], id[:6])
	copy(out[6:], h.Sum(nil))
	out[6] = 0x70 | out[6]&0x0f // version 7
	out[8] = 0x80 | out[8]&0x3f // RFC 4122 variant
	return out
}

// AssembleManifest returns the manifest carried by evs: an election.defined
// event and, when its Parts is N > 1, the N-1 manifest.part events that
// follow it, all of one election. The result is checked as a whole, as a
// manifest in one event is, and has Parts as the first event says; evs
// are not modified.
func AssembleManifest(evs []*Event) (*Manifest, error) {
	if len(evs) == 0 {
		return nil, fmt.Errorf("no events")
	}
	first, ok := evs[0].Body.(*Manifest)
	if !ok {
		return nil, fmt.Errorf("event %s is a %s, not an %s", evs[0].ID, evs[0].Type(), TypeElectionDefined)
	}
	n := max(first.Parts, 1)
	if len(evs) != n {
		return nil, fmt.Errorf("the manifest of %s is in %d events, not %d", evs[0].Election, n, len(evs))
	}
	if n == 1 {
		return first, nil
	}
	m := *first
	units, contests := len(first.Units), len(first.Contests)
	for k, ev := range evs[1:] {
		p, ok := ev.Body.(*ManifestPart)
		switch {
		case !ok:
			return nil, fmt.Errorf("event %s follows part %d of the manifest of %s, which has %d parts, but is a %s, not a %s", ev.ID, k, evs[0].Election, n, ev.Type(), TypeManifestPart)
		case p.Part != k+1:
			return nil, fmt.Errorf("event %s is part %d of the manifest of %s where part %d belongs", ev.ID, p.Part, evs[0].Election, k+1)
		case ev.Election != evs[0].Election:
			return nil, fmt.Errorf("event %s is part %d of the manifest of %s, but is for election %q", ev.ID, p.Part, evs[0].Election, ev.Election)
		}
		units += len(p.Units)
		contests += len(p.Contests)
	}
	m.Units = make([]Unit, 0, units)
	m.Contests = make([]Contest, 0, contests)
	m.Units = append(m.Units, first.Units...)
	m.Contests = append(m.Contests, first.Contests...)
	for _, ev := range evs[1:] {
		p := ev.Body.(*ManifestPart)
		m.Units = append(m.Units, p.Units...)
		m.Contests = append(m.Contests, p.Contests...)
	}
	v := &validator{}
	v.push("manifest")
	m.validateWhole(v)
	if v.err != nil {
		return nil, fmt.Errorf("the manifest of %s, assembled from its %d parts: %w", evs[0].Election, n, v.err)
	}
	return &m, nil
}

// ManifestEvents returns how many events carry a manifest whose
// election.defined event has body m: 1, or its Parts.
func ManifestEvents(m *Manifest) int { return max(m.Parts, 1) }

// assembleManifests checks that every manifest.part of a submission follows
// its election.defined event as Parts says, assembles each manifest in
// several parts, and keeps the first event's in sub.Manifest.
func (sub *Submission) assembleManifests() error {
	for i := 0; i < len(sub.Events); i++ {
		ev := sub.Events[i]
		switch b := ev.Body.(type) {
		case *ManifestPart:
			return &Error{Field: "events[" + strconv.Itoa(i) + "]", Msg: fmt.Sprintf("event #%d (%s) is part %d of a manifest, but does not follow its %s event and the parts before it in this submission", i+1, ev.ID, b.Part, TypeElectionDefined)}
		case *Manifest:
			n := ManifestEvents(b)
			if i+n > len(sub.Events) {
				return &Error{Field: "events[" + strconv.Itoa(i) + "]", Msg: fmt.Sprintf("event #%d (%s) is a manifest in %d parts, but only %d events follow it in this submission: a manifest's parts are submitted together", i+1, ev.ID, n, len(sub.Events)-i-1)}
			}
			m, err := AssembleManifest(sub.Events[i : i+n])
			if err != nil {
				return &Error{Field: "events[" + strconv.Itoa(i) + "]", Msg: err.Error()}
			}
			if i == 0 {
				sub.Manifest = m
			}
			i += n - 1
		}
	}
	return nil
}
