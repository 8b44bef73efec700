package audit

import (
	"bytes"
	"encoding/hex"
	"fmt"
	"hash/maphash"
	"math"
	"time"
	"unsafe"

	"github.com/google/uuid"

	"github.com/election-audit/ledger/events"
)

// Two properties of a log that no single entry's decoding shows, checked as
// entries are folded (docs/events.md, "Entry"):
//
//   - every entry is in canonical form: its bytes are the canonical encoding
//     of what they decode to, so that one entry has one byte string, and one
//     leaf hash. The fold checks the entry's own fields, around its event
//     (envelopeFault); that the event is in its canonical encoding is the
//     origin check's (logcheck.MatchSubmission): its bytes are the line of
//     its signed submission, and events.OpenSubmission takes only
//     canonical lines.
//     Checking the event again in the fold would cost a replay a fifth of
//     its speed for nothing a verifier does not check already;
//   - an event ID appears once in a log: the ledger logs an ID at most once
//     in the whole ledger, so within one election's log too (idSet).

// envelopeFault returns "" if data, which decodes to en, is the canonical
// encoding of en around its event: what events.Entry.EncodeWith writes for
// en with the event's bytes as data has them. Otherwise it says what
// differs.
//
// It holds data to that encoding piece by piece, without building it
// (envelopeCanonical); when that does not match, it asks
// events.Entry.EncodeWith, the reference, so a fault is only ever reported
// on the reference's word.
func envelopeFault(data []byte, en *events.Entry, plain *plainStrings) string {
	if envelopeCanonical(data, en, plain) {
		return ""
	}
	_, event, err := events.EntryOrigin(data)
	if err != nil {
		return "entry does not decode: " + err.Error()
	}
	want, err := en.EncodeWith(event)
	if err != nil {
		return "entry has no canonical encoding: " + err.Error()
	}
	if bytes.Equal(want, data) {
		return ""
	}
	at := 0
	for at < len(want) && at < len(data) && want[at] == data[at] {
		at++
	}
	return fmt.Sprintf("entry is not in canonical form (docs/events.md, Entry): from byte %d it has %q, its canonical encoding %q", at, excerpt(data, at), excerpt(want, at))
}

// envelopeCanonical reports whether data is, byte for byte, what
// events.Entry.EncodeWith writes for en around en's event (an object, as
// the rest of data has it), when all of en's strings are plain (no byte
// that encoding/json escapes); false says nothing of other entries. It
// compares in place, allocating nothing: a replay does this for every
// entry. plain, if not nil, remembers strings found plain.
func envelopeCanonical(data []byte, en *events.Entry, plain *plainStrings) bool {
	ref := en.Submission
	if ref == nil {
		return false
	}
	recorded := en.Recorded.UTC()
	if y := recorded.Year(); y < 0 || y > 9999 {
		return false
	}
	m := matcher{data, true, plain}
	var buf [64]byte
	m.lit(`{"v":2,"index":`)
	m.uint(en.Index)
	m.lit(`,"recorded":"`)
	m.bytes(recorded.AppendFormat(buf[:0], time.RFC3339Nano))
	m.lit(`","verdict":`)
	m.str(string(en.Verdict))
	if en.Reason != "" {
		m.lit(`,"reason":`)
		m.str(en.Reason)
	}
	m.lit(`,"submission":{"id":`)
	m.id(ref.ID)
	m.lit(`,"sha256":"`)
	m.bytes(hex.AppendEncode(buf[:0], ref.SHA256[:]))
	m.lit(`","item":`)
	m.uint(uint64(ref.Item))
	if ref.Signer != "" {
		m.lit(`,"signer":`)
		m.str(ref.Signer)
	}
	m.lit(`},"event":{`)
	// The event, then the entry's closing brace: nothing between them.
	n := len(m.rest)
	return m.ok && n >= 2 && m.rest[n-2] == '}' && m.rest[n-1] == '}'
}

// matcher consumes its input piece by piece; once a piece differs, ok
// stays false.
type matcher struct {
	rest  []byte
	ok    bool
	plain *plainStrings
}

func (m *matcher) lit(s string) {
	if m.ok && len(m.rest) >= len(s) && string(m.rest[:len(s)]) == s {
		m.rest = m.rest[len(s):]
	} else {
		m.ok = false
	}
}

func (m *matcher) bytes(b []byte) {
	if m.ok && bytes.HasPrefix(m.rest, b) {
		m.rest = m.rest[len(b):]
	} else {
		m.ok = false
	}
}

// uint is x in decimal, without leading zeros. (Read rather than written:
// cheaper.)
func (m *matcher) uint(x uint64) {
	n, v := 0, uint64(0)
	for n < len(m.rest) && n < 19 && '0' <= m.rest[n] && m.rest[n] <= '9' {
		v = v*10 + uint64(m.rest[n]-'0')
		n++
	}
	switch {
	case !m.ok || n == 0 || v != x || (n > 1 && m.rest[0] == '0'):
		m.ok = false
	case n < len(m.rest) && '0' <= m.rest[n] && m.rest[n] <= '9':
		m.ok = false // 20 digits or more: left to the reference
	default:
		m.rest = m.rest[n:]
	}
}

// id is a UUID as encoding/json writes a uuid.UUID: quoted, lower case.
func (m *matcher) id(id uuid.UUID) {
	var s [38]byte
	s[0], s[37] = '"', '"'
	hex.Encode(s[1:9], id[0:4])
	s[9] = '-'
	hex.Encode(s[10:14], id[4:6])
	s[14] = '-'
	hex.Encode(s[15:19], id[6:8])
	s[19] = '-'
	hex.Encode(s[20:24], id[8:10])
	s[24] = '-'
	hex.Encode(s[25:37], id[10:])
	m.bytes(s[:])
}

// str is a string encoding/json writes as it is, in quotes: one of
// printable ASCII bytes other than ", \, <, > and &.
func (m *matcher) str(s string) {
	if !m.ok || len(m.rest) < len(s)+2 || m.rest[0] != '"' || m.rest[1+len(s)] != '"' {
		m.ok = false
		return
	}
	m.rest = m.rest[1:]
	m.raw(s)
	m.rest = m.rest[1:]
}

// raw is s as it stands, s plain: the inside of a quoted string.
func (m *matcher) raw(s string) {
	if !m.ok || len(m.rest) < len(s) || string(m.rest[:len(s)]) != s || !m.plain.plain(s) {
		m.ok = false
		return
	}
	m.rest = m.rest[len(s):]
}

// plainStrings remembers strings found plain (none of their bytes
// escaped), by the address and length of their bytes: strings do not
// change, and holding the address keeps the bytes from being reused. The
// strings of a log's entries repeat (election, units, contests, choices,
// vote types, signers), and an events.Decoder gives each one copy, so
// most are checked once. A direct-mapped table: a miss replaces the slot.
// A nil *plainStrings remembers nothing.
type plainStrings struct {
	slots [512]struct {
		p unsafe.Pointer
		n int
	}
}

func (c *plainStrings) plain(s string) bool {
	if len(s) < 16 {
		return plainBytes(s) // as cheap as a look-up
	}
	p := unsafe.Pointer(unsafe.StringData(s))
	var slot *struct {
		p unsafe.Pointer
		n int
	}
	if c != nil {
		slot = &c.slots[(uintptr(p)>>3^uintptr(len(s)))%uintptr(len(c.slots))]
		if slot.p == p && slot.n == len(s) {
			return true
		}
	}
	if !plainBytes(s) {
		return false
	}
	if slot != nil {
		slot.p, slot.n = p, len(s)
	}
	return true
}

func plainBytes(s string) bool {
	for i := 0; i < len(s); i++ {
		if escaped[s[i]] {
			return false
		}
	}
	return true
}

// escaped marks the bytes encoding/json does not write as they are in a
// string: control characters, ", \, <, >, &, DEL and above (DEL and
// valid non-ASCII are written raw, but are left to the reference).
var escaped = func() (t [256]bool) {
	for c := range 256 {
		t[c] = c < 0x20 || c >= 0x7f || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&'
	}
	return t
}()

// idSet holds the event IDs of the entries folded so far, to find one
// logged twice: the IDs in log order, 16 bytes each, in chunks of 16,384
// that are not copied once full; and a hash table of 8-byte slots (32 bits of the ID's
// hash, which also place the slot, and the ID's position), open addressing
// with linear probing, at most three quarters full, with a random hash seed
// per set so that no log can be made to collide. So 27 to 38 bytes an
// entry, and up to 21 more while the table doubles. The hash bits in a
// slot spare most probes a read of the IDs, and growing all of them:
// adding an ID costs about one cache miss.
type idSet struct {
	seed   maphash.Seed
	chunks [][]uuid.UUID // the IDs by position: chunk p/idChunk, slot p%idChunk
	n      uint32        // IDs held
	table  []uint64      // hash<<32 | position+1; 0 for an empty slot
	sink   uint64        // what prepare read, kept so that the reads stay
}

const idChunk = 1 << 14

// prepare computes the hash of the event ID of each decoded item of a
// batch, and reads the table where each will go: the reads miss the cache
// together rather than one add at a time.
func (s *idSet) prepare(items []decoded) {
	s.init()
	mask := uint64(len(s.table) - 1)
	var sink uint64
	for i := range items {
		if en := items[i].en; en != nil {
			h := maphash.Comparable(s.seed, en.Event.ID) >> 32 // a table has at most 2^32 slots
			items[i].idHash = h
			sink += s.table[h&mask]
		}
	}
	s.sink += sink
}

func (s *idSet) init() {
	if s.table == nil {
		s.seed = maphash.MakeSeed()
		s.table = make([]uint64, 1024)
	}
}

// add adds id, the ID of the next entry folded, whose hash prepare gave
// (or idHash computes), and returns -1; or, if the set holds it already,
// the position of the entry that had it first.
func (s *idSet) add(id uuid.UUID, h uint64) (first int64, err error) {
	s.init()
	if s.n >= math.MaxUint32-1 {
		return 0, fmt.Errorf("more than %d entries to check for repeated event IDs", math.MaxUint32-2)
	}
	mask := uint64(len(s.table) - 1)
	for i := h & mask; ; i = (i + 1) & mask {
		slot := s.table[i]
		if slot == 0 {
			s.table[i] = h<<32 | uint64(s.n+1)
			break
		}
		if slot>>32 == h && s.at(uint32(slot)-1) == id {
			return int64(uint32(slot) - 1), nil
		}
	}
	if s.n%idChunk == 0 {
		// The first chunk grows as the IDs come (a fold of a few entries
		// takes little); the others are made full size.
		s.chunks = append(s.chunks, make([]uuid.UUID, 0, max(64, min(idChunk, int(s.n)))))
	}
	c := &s.chunks[len(s.chunks)-1]
	*c = append(*c, id)
	s.n++
	if uint64(s.n)*4 > uint64(len(s.table))*3 {
		s.grow()
	}
	return -1, nil
}

// idHash is the hash add takes for id.
func (s *idSet) idHash(id uuid.UUID) uint64 {
	s.init()
	return maphash.Comparable(s.seed, id) >> 32
}

func (s *idSet) at(p uint32) uuid.UUID { return s.chunks[p/idChunk][p%idChunk] }

// grow doubles the table. The hash bits in each slot place it again,
// without reading the IDs.
func (s *idSet) grow() {
	t := make([]uint64, 2*len(s.table))
	mask := uint64(len(t) - 1)
	for _, slot := range s.table {
		if slot == 0 {
			continue
		}
		i := slot >> 32 & mask
		for t[i] != 0 {
			i = (i + 1) & mask
		}
		t[i] = slot
	}
	s.table = t
}
