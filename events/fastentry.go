package events

import (
	"bytes"
	"encoding/hex"
	"hash/maphash"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
)

// A Decoder decodes stored entries as [DecodeEntry] does, but shares one
// copy of the strings that repeat from entry to entry (election, unit,
// contest, choice and vote type IDs, sources) instead of allocating them
// for every entry: most of a long replay's allocations. Its table is a
// fixed array of internSlots strings, so its memory does not grow. The
// zero value is ready to use; a Decoder is not safe for concurrent use.
type Decoder struct {
	strs *internTable
}

// internSlots is the size of a Decoder's table (a power of two).
const internSlots = 1 << 12

// internTable is a direct-mapped cache of strings by a hash of their bytes:
// a lookup is one hash and one comparison, and a miss replaces the slot.
type internTable struct {
	seed  maphash.Seed
	slots [internSlots]string
}

func (t *internTable) intern(b []byte) string {
	if len(b) > 64 {
		return string(b)
	}
	slot := &t.slots[maphash.Bytes(t.seed, b)&(internSlots-1)]
	if *slot != string(b) { // compares without allocating
		*slot = string(b)
	}
	return *slot
}

// DecodeEntry is [DecodeEntry].
func (d *Decoder) DecodeEntry(data []byte) (*Entry, error) {
	if d.strs == nil {
		d.strs = &internTable{seed: maphash.MakeSeed()}
	}
	p := fastParser{b: data, ok: true, strs: d.strs}
	if en, ok := p.entry(); ok {
		return en, nil
	}
	return decodeEntryStrict(data)
}

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
	return p.entry()
}

func (p *fastParser) entry() (en *Entry, ok bool) {
	index, rawRecorded, verdict := p.entryHead()
	recorded, ok := parseUTC(rawRecorded)
	var reason string
	if p.opt(`,"reason":`) {
		reason = p.str()
		if reason == "" {
			return nil, false // the encoder leaves an empty reason out
		}
	}
	ref := p.submission()
	p.lit(`,"event":`)
	ev, evOK := p.event()
	p.lit(`}`)
	if !ok || !evOK || !p.ok || p.i != len(p.b) {
		return nil, false
	}
	return &Entry{Index: index, Recorded: recorded, Verdict: verdict, Reason: reason, Submission: ref, Event: ev}, true
}

// submission reads an entry's submission reference.
func (p *fastParser) submission() *SubmissionRef {
	p.lit(`,"submission":{"id":`)
	id, idOK := parseCanonicalID(p.raw())
	p.lit(`,"sha256":`)
	sum := p.raw()
	p.lit(`,"item":`)
	item := p.uint()
	r := &SubmissionRef{ID: id, Item: int(item)}
	if p.opt(`,"signer":`) {
		r.Signer = p.str()
	}
	p.lit(`}`)
	if !p.ok || !idOK || len(sum) != 66 || !validSHA256(string(sum[1:65])) || item >= MaxSubmissionEvents {
		p.fail()
		return nil
	}
	hex.Decode(r.SHA256[:], sum[1:65])
	if r.Signer != "" && !knownKey(r.Signer) {
		p.fail()
		return nil
	}
	return r
}

// validKeys caches the verifier keys ParseKey accepted, for the fast
// decoder: a log has a few signers, each on many entries. It stops growing
// at maxValidKeys; keys past that are parsed each time.
var (
	validKeys    sync.Map // string → struct{}
	validKeysLen atomic.Int64
)

const maxValidKeys = 1 << 12

func knownKey(s string) bool {
	if _, ok := validKeys.Load(s); ok {
		return true
	}
	if _, err := ParseKey(s); err != nil {
		return false
	}
	if validKeysLen.Add(1) <= maxValidKeys {
		validKeys.Store(s, struct{}{})
	}
	return true
}

// entryHead reads the start of a stored entry, up to its verdict: the
// index, the recorded time as its quoted bytes, and the verdict.
func (p *fastParser) entryHead() (index uint64, recorded []byte, verdict Verdict) {
	p.lit(`{"v":2,"index":`)
	index = p.uint()
	p.lit(`,"recorded":`)
	recorded = p.raw()
	p.lit(`,"verdict":`)
	switch {
	case p.opt(`"accepted"`):
		verdict = Accepted
	case p.opt(`"rejected"`):
		verdict = Rejected
	default:
		p.fail()
	}
	return index, recorded, verdict
}

// parseUTC parses the recorded time as the ledger writes it, RFC 3339 in
// UTC with 0 to 9 fraction digits ("2017-04-19T02:40:12.5Z"), without
// allocating. It refuses anything else (an offset, a leap second, an
// impossible date), which the strict decoder then reads or rejects with
// time.Parse.
func parseUTC(b []byte) (time.Time, bool) {
	if len(b) < 22 || b[0] != '"' || b[len(b)-1] != '"' || b[len(b)-2] != 'Z' {
		return time.Time{}, false
	}
	b = b[1 : len(b)-2] // 2017-04-19T02:40:12[.5]
	num := func(at, n int) int {
		x := 0
		for _, c := range b[at : at+n] {
			if c < '0' || c > '9' {
				return -1
			}
			x = x*10 + int(c-'0')
		}
		return x
	}
	if len(b) < 19 || b[4] != '-' || b[7] != '-' || b[10] != 'T' || b[13] != ':' || b[16] != ':' {
		return time.Time{}, false
	}
	y, mo, d, h, mi, sec := num(0, 4), num(5, 2), num(8, 2), num(11, 2), num(14, 2), num(17, 2)
	if y < 0 || mo < 1 || mo > 12 || d < 1 || h < 0 || h > 23 || mi < 0 || mi > 59 || sec < 0 || sec > 59 {
		return time.Time{}, false
	}
	if d > daysIn(time.Month(mo), y) {
		return time.Time{}, false
	}
	ns := 0
	if frac := b[19:]; len(frac) > 0 {
		if len(frac) < 2 || len(frac) > 10 || frac[0] != '.' {
			return time.Time{}, false
		}
		if ns = num(20, len(frac)-1); ns < 0 {
			return time.Time{}, false
		}
		for range 10 - len(frac) {
			ns *= 10
		}
	}
	return time.Date(y, time.Month(mo), d, h, mi, sec, ns, time.UTC), true
}

func daysIn(m time.Month, year int) int {
	if m == time.February {
		if year%4 == 0 && (year%100 != 0 || year%400 == 0) {
			return 29
		}
		return 28
	}
	return 31 - int(m-1)%7%2
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
	uid, idOK := parseCanonicalID(p.raw())
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
	if !idOK {
		return nil, false
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
	b    []byte
	i    int
	ok   bool
	strs *internTable // if not nil, strings are shared through it (Decoder)
}

// parseCanonicalID parses a quoted UUIDv7 in canonical (lower-case) form,
// as ParseID would, without allocating.
func parseCanonicalID(b []byte) (uuid.UUID, bool) {
	if len(b) != 38 || b[0] != '"' || b[37] != '"' {
		return uuid.Nil, false
	}
	b = b[1:37]
	for i, c := range b {
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return uuid.Nil, false
			}
		default:
			if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
				return uuid.Nil, false // upper case is not canonical
			}
		}
	}
	id, err := uuid.ParseBytes(b)
	if err != nil || id.Version() != 7 || id.Variant() != uuid.RFC4122 {
		return uuid.Nil, false
	}
	return id, true
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
			b := p.b[p.i+1 : j]
			p.i = j + 1
			if p.strs == nil {
				return string(b)
			}
			return p.strs.intern(b)
		case c < 0x20 || c >= 0x7f || c == '\\' || c == '<' || c == '>' || c == '&':
			// encoding/json escapes <, > and &: not canonical as they stand.
			p.fail()
			return ""
		}
	}
	p.fail()
	return ""
}

// raw reads a JSON string as str does and returns it with its quotes,
// without allocating; the slice is the parser's input.
func (p *fastParser) raw() []byte {
	start := p.i
	if !p.ok || p.i >= len(p.b) || p.b[p.i] != '"' {
		p.fail()
		return nil
	}
	for j := p.i + 1; j < len(p.b); j++ {
		switch c := p.b[j]; {
		case c == '"':
			p.i = j + 1
			return p.b[start:p.i]
		case c < 0x20 || c >= 0x7f || c == '\\' || c == '<' || c == '>' || c == '&':
			p.fail()
			return nil
		}
	}
	p.fail()
	return nil
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

// Summary is what a stored entry says of itself up front: its index,
// verdict and event type.
type Summary struct {
	Index   uint64
	Verdict Verdict
	Type    Type
}

// Summarize reads an entry's Summary from the start of its canonical form,
// without decoding the rest, and decodes the whole entry (DecodeEntry) only
// when the start is not in the form the ledger writes. It is for readers
// of the ledger's own database, such as the change feed, that hand the
// stored bytes on as they are: it does not check the event.
func Summarize(data []byte) (Summary, error) {
	p := fastParser{b: data, ok: true}
	index, _, verdict := p.entryHead()
	if p.opt(`,"reason":`) {
		p.raw()
	}
	p.submission()
	p.lit(`,"event":{"v":1,"type":`)
	t := p.raw()
	if p.ok {
		for _, known := range Types {
			if len(t) == len(known)+2 && string(t[1:len(t)-1]) == string(known) {
				return Summary{index, verdict, known}, nil
			}
		}
	}
	en, err := DecodeEntry(data)
	if err != nil {
		return Summary{}, err
	}
	return Summary{en.Index, en.Verdict, en.Event.Type()}, nil
}
