package events

import (
	"bytes"
	"time"
)

// decodeEntryFast decodes the common case of a stored entry, a count report
// in exactly the canonical form the ledger writes, without reflection: a
// replay of a long log is mostly this. It returns ok false for anything
// else (another event type, another field order, a string with an escape or
// a non-ASCII byte, a number it does not take, a body that fails
// validation), and DecodeEntry then decodes it the strict way, which gives
// the same entry or the precise error. So this is an optimisation only: when
// it succeeds, the strict decoder succeeds with an equal entry (a fuzz test
// holds it to that).
func decodeEntryFast(data []byte) (en *Entry, ok bool) {
	p := fastParser{b: data, ok: true}
	p.lit(`{"v":1,"index":`)
	index := p.uint()
	p.lit(`,"recorded":`)
	recorded := p.str()
	p.lit(`,"verdict":`)
	verdict := Verdict(p.str())
	var reason string
	if p.opt(`,"reason":`) {
		reason = p.str()
		if reason == "" {
			return nil, false // the encoder leaves an empty reason out
		}
	}
	p.lit(`,"event":`)
	ev, ok := p.event()
	p.lit(`}`)
	if !ok || !p.ok || p.i != len(data) || (verdict != Accepted && verdict != Rejected) {
		return nil, false
	}
	t, err := time.Parse(time.RFC3339Nano, recorded)
	if err != nil {
		return nil, false
	}
	if y := t.UTC().Year(); y < 0 || y > 9999 {
		return nil, false
	}
	return &Entry{Index: index, Recorded: t.UTC(), Verdict: verdict, Reason: reason, Event: ev}, true
}

// decodeCanonicalFast decodes an event that is already in canonical form,
// the common case of a submission made by this module's encoder: a count
// report whose counts are in order. Its canonical encoding is the input
// itself. ok is false for anything else, which DecodeCanonical then decodes
// the strict way.
func decodeCanonicalFast(data []byte) (*Event, bool) {
	p := fastParser{b: data, ok: true}
	ev, ok := p.event()
	if !ok || !p.ok || p.i != len(data) {
		return nil, false
	}
	return ev, true
}

// event reads a canonical count.reported event, with its counts in
// canonical order, and validates it.
func (p *fastParser) event() (*Event, bool) {
	p.lit(`{"v":1,"type":"count.reported","id":`)
	id := p.str()
	p.lit(`,"election":`)
	election := p.str()
	var expected *uint64
	if p.opt(`,"expected_version":`) {
		x := p.uint()
		expected = &x
	}
	p.lit(`,"data":{"unit":`)
	r := &CountReport{Unit: p.str()}
	p.lit(`,"contest":`)
	r.Contest = p.str()
	p.lit(`,"counts":[`)
	r.Counts = make([]Count, 0, 8)
	for first := true; p.ok; first = false {
		if !first && !p.opt(",") {
			break
		}
		p.lit(`{"choice":`)
		c := Count{Choice: p.str()}
		p.lit(`,"vote_type":`)
		c.VoteType = p.str()
		p.lit(`,"votes":`)
		v := p.uint()
		if v > MaxVotes {
			return nil, false
		}
		c.Votes = int64(v)
		p.lit(`}`)
		if n := len(r.Counts); n > 0 && compareCount(r.Counts[n-1], c) >= 0 {
			return nil, false // out of canonical order, or twice
		}
		r.Counts = append(r.Counts, c)
	}
	p.lit(`],"source":{`)
	first := true
	for _, f := range []struct {
		key string
		dst *string
	}{{`"file":`, &r.Source.File}, {`"sha256":`, &r.Source.SHA256}, {`"version":`, &r.Source.Version}, {`"operator":`, &r.Source.Operator}} {
		sep := f.key
		if !first {
			sep = "," + f.key
		}
		if p.opt(sep) {
			if *f.dst = p.str(); *f.dst == "" {
				return nil, false // the encoder leaves empty fields out
			}
			first = false
		}
	}
	p.lit(`}}}`)
	if !p.ok {
		return nil, false
	}
	uid, err := ParseID(id)
	if err != nil || uid.String() != id {
		return nil, false // not in canonical (lower-case) form
	}
	ev := &Event{ID: uid, Election: election, ExpectedVersion: expected, Body: r}
	if ev.Validate() != nil {
		return nil, false
	}
	return ev, true
}

// fastParser reads canonical JSON; once a read fails, ok stays false and
// every later read returns a zero value.
type fastParser struct {
	b  []byte
	i  int
	ok bool
}

// lit consumes s exactly.
func (p *fastParser) lit(s string) {
	if !p.ok || !bytes.HasPrefix(p.b[p.i:], []byte(s)) {
		p.fail()
		return
	}
	p.i += len(s)
}

// opt consumes s if it comes next.
func (p *fastParser) opt(s string) bool {
	if !p.ok || !bytes.HasPrefix(p.b[p.i:], []byte(s)) {
		return false
	}
	p.i += len(s)
	return true
}

// str reads a JSON string of printable ASCII with no escapes, as the
// canonical encoding writes it.
func (p *fastParser) str() string {
	if !p.ok || p.i >= len(p.b) || p.b[p.i] != '"' {
		p.fail()
		return ""
	}
	for j := p.i + 1; j < len(p.b); j++ {
		switch c := p.b[j]; {
		case c == '"':
			s := string(p.b[p.i+1 : j])
			p.i = j + 1
			return s
		case c < 0x20 || c >= 0x7f || c == '\\' || c == '<' || c == '>' || c == '&':
			// encoding/json escapes <, > and &: not canonical as they stand.
			p.fail()
			return ""
		}
	}
	p.fail()
	return ""
}

// uint reads a JSON number that is a non-negative integer without leading
// zeros, of at most 18 digits (so it cannot overflow).
func (p *fastParser) uint() uint64 {
	if !p.ok {
		return 0
	}
	j, x := p.i, uint64(0)
	for j < len(p.b) && j-p.i < 19 && '0' <= p.b[j] && p.b[j] <= '9' {
		x = x*10 + uint64(p.b[j]-'0')
		j++
	}
	n := j - p.i
	if n == 0 || n > 18 || (n > 1 && p.b[p.i] == '0') {
		p.fail()
		return 0
	}
	p.i = j
	return x
}

func (p *fastParser) fail() {
	p.ok = false
	p.i = len(p.b)
}
