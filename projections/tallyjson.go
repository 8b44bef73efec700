package projections

import (
	"slices"
	"strconv"
	"unicode/utf8"
)

// The tally's JSON is written here, not by encoding/json's reflection: the
// bytes are exactly those of json.Marshal (field order, omitted empty
// fields, map keys in byte order, the same string escaping), but without
// the garbage reflection makes of a large tally (a sorted copy of every
// map's keys, and an encoder state per value), which cost about twice the
// document. A test holds the two to the same bytes.

// MarshalJSON returns the tally's JSON, as [Tally.Encode] without its
// newline, so that a tally inside another document is written the same way.
func (t Tally) MarshalJSON() ([]byte, error) { return t.appendJSON(nil), nil }

func (t *Tally) appendJSON(b []byte) []byte {
	if b == nil {
		b = make([]byte, 0, t.sizeHint())
	}
	var keys []string // the last map's keys, in order: units' maps mostly share them
	b = append(b, `{"election":`...)
	b = appendString(b, t.Election)
	b = append(b, `,"name":`...)
	b = appendString(b, t.Name)
	b = append(b, `,"date":`...)
	b = appendString(b, t.Date)
	b = append(b, `,"status":`...)
	b = appendString(b, t.Status)
	b = append(b, `,"entries":`...)
	b = strconv.AppendUint(b, t.Entries, 10)
	b = append(b, `,"accepted":`...)
	b = strconv.AppendUint(b, t.Accepted, 10)
	b = append(b, `,"rejected":`...)
	b = strconv.AppendUint(b, t.Rejected, 10)
	b = append(b, `,"contests":`...)
	if t.Contests == nil {
		b = append(b, "null"...)
	} else {
		b = append(b, '[')
		for i := range t.Contests {
			if i > 0 {
				b = append(b, ',')
			}
			b = t.Contests[i].appendJSON(b, &keys)
		}
		b = append(b, ']')
	}
	return append(b, '}')
}

func (c *ContestTally) appendJSON(b []byte, keys *[]string) []byte {
	b = append(b, `{"id":`...)
	b = appendString(b, c.ID)
	b = append(b, `,"name":`...)
	b = appendString(b, c.Name)
	b = append(b, `,"vote_for":`...)
	b = strconv.AppendInt(b, int64(c.VoteFor), 10)
	if c.Kind != "" {
		b = append(b, `,"kind":`...)
		b = appendString(b, c.Kind)
	}
	b = append(b, `,"units_reported":`...)
	b = strconv.AppendInt(b, c.UnitsReported, 10)
	b = append(b, `,"units_total":`...)
	b = strconv.AppendInt(b, c.UnitsTotal, 10)
	b = append(b, `,"total_votes":`...)
	b = strconv.AppendInt(b, c.TotalVotes, 10)
	b = append(b, `,"choices":`...)
	if c.Choices == nil {
		b = append(b, "null"...)
	} else {
		b = append(b, '[')
		for i := range c.Choices {
			ch := &c.Choices[i]
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, `{"id":`...)
			b = appendString(b, ch.ID)
			b = append(b, `,"name":`...)
			b = appendString(b, ch.Name)
			if ch.Party != "" {
				b = append(b, `,"party":`...)
				b = appendString(b, ch.Party)
			}
			b = append(b, `,"votes":`...)
			b = strconv.AppendInt(b, ch.Votes, 10)
			if ch.Share != "" {
				b = append(b, `,"share":`...)
				b = appendString(b, ch.Share)
			}
			b = append(b, `,"by_vote_type":`...)
			b = appendCounts(b, ch.ByVoteType, keys)
			b = append(b, '}')
		}
		b = append(b, ']')
	}
	b = append(b, `,"units":`...)
	if c.Units == nil {
		b = append(b, "null"...)
	} else {
		b = append(b, '[')
		for i := range c.Units {
			u := &c.Units[i]
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, `{"id":`...)
			b = appendString(b, u.ID)
			if u.Parent != "" {
				b = append(b, `,"parent":`...)
				b = appendString(b, u.Parent)
			}
			b = append(b, `,"reported":`...)
			b = strconv.AppendBool(b, u.Reported)
			b = append(b, `,"version":`...)
			b = strconv.AppendUint(b, u.Version, 10)
			b = append(b, `,"units_reported":`...)
			b = strconv.AppendInt(b, u.UnitsReported, 10)
			b = append(b, `,"units_total":`...)
			b = strconv.AppendInt(b, u.UnitsTotal, 10)
			b = append(b, `,"votes":`...)
			b = appendCounts(b, u.Votes, keys)
			b = append(b, '}')
		}
		b = append(b, ']')
	}
	return append(b, '}')
}

// sizeHint estimates the length of the tally's JSON from its strings and
// numbers, so that a large document is written into one buffer instead of
// growing through copies that add up to several times its size.
func (t *Tally) sizeHint() int {
	const number, field = 8, 16 // a typical number, a field's name and punctuation
	n := 128 + len(t.Election) + len(t.Name) + len(t.Date) + len(t.Status)
	for i := range t.Contests {
		c := &t.Contests[i]
		n += 128 + len(c.ID) + len(c.Name) + len(c.Kind)
		for j := range c.Choices {
			ch := &c.Choices[j]
			n += 80 + len(ch.ID) + len(ch.Name) + len(ch.Party)
			for k := range ch.ByVoteType {
				n += len(k) + 4 + number
			}
		}
		for j := range c.Units {
			u := &c.Units[j]
			n += 6*field + 4*number + len(u.ID) + len(u.Parent)
			for k := range u.Votes {
				n += len(k) + 4 + number
			}
		}
	}
	return n
}

// appendCounts writes a map with its keys in byte order, as encoding/json
// does. keys holds the order of the last map written: when m has the same
// keys, as the rows of one contest do, they are not sorted again.
func appendCounts(b []byte, m map[string]int64, keys *[]string) []byte {
	if m == nil {
		return append(b, "null"...)
	}
	ks := *keys
	if len(ks) != len(m) || !hasAll(m, ks) {
		ks = ks[:0]
		for k := range m {
			ks = append(ks, k)
		}
		slices.Sort(ks)
		*keys = ks
	}
	b = append(b, '{')
	for i, k := range ks {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendString(b, k)
		b = append(b, ':')
		b = strconv.AppendInt(b, m[k], 10)
	}
	return append(b, '}')
}

// hasAll reports whether every one of keys is in m.
func hasAll(m map[string]int64, keys []string) bool {
	for _, k := range keys {
		if _, ok := m[k]; !ok {
			return false
		}
	}
	return true
}

// appendString writes s as encoding/json does with HTML escaping (its
// default): '"', '\\', control characters, '<', '>', '&', U+2028 and
// U+2029 escaped, invalid UTF-8 replaced by \ufffd, the rest as it is.
func appendString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		if c := s[i]; c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '\\', '"':
				b = append(b, '\\', c)
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
		case r == '\u2028' || r == '\u2029':
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hex[r&0xF])
		default:
			i += size
			continue
		}
		i += size
		start = i
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
