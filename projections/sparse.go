package projections

import (
	"encoding/binary"
	"errors"
	"math/bits"
	"slices"
)

// Sparse count vectors: a (contest, unit)'s counts as the cells that are
// not zero, sorted by cell. A vector is canonical (no zeros, no cell
// twice), so that equal counts have one representation, and its length is
// what was reported, never the contest's width.

// sortCells sorts a vector by cell.
func sortCells(v []cell) {
	if len(v) <= 16 {
		for i := 1; i < len(v); i++ {
			for j := i; j > 0 && v[j].at < v[j-1].at; j-- {
				v[j], v[j-1] = v[j-1], v[j]
			}
		}
		return
	}
	slices.SortFunc(v, func(a, b cell) int { return a.at - b.at })
}

// diffCells appends a − b to dst.
func diffCells(dst, a, b []cell) []cell {
	switch {
	case len(b) == 0: // a unit's first report
		return append(dst, a...)
	case len(a) == len(b) && sameCells(a, b): // a report like the last
		for i := range a {
			if d := a[i].votes - b[i].votes; d != 0 {
				dst = append(dst, cell{a[i].at, d})
			}
		}
		return dst
	}
	i, j := 0, 0
	for i < len(a) || j < len(b) {
		switch {
		case j == len(b) || (i < len(a) && a[i].at < b[j].at):
			dst = append(dst, a[i])
			i++
		case i == len(a) || b[j].at < a[i].at:
			dst = append(dst, cell{b[j].at, -b[j].votes})
			j++
		default:
			if d := a[i].votes - b[j].votes; d != 0 {
				dst = append(dst, cell{a[i].at, d})
			}
			i++
			j++
		}
	}
	return dst
}

// sameCells reports whether two vectors of one length count the same cells.
func sameCells(a, b []cell) bool {
	for i := range a {
		if a[i].at != b[i].at {
			return false
		}
	}
	return true
}

// addCells adds delta to v and returns the sum, in v's memory when it has
// room, and scratch, which it may use and grow.
func addCells(v, delta, scratch []cell) (sum, scratchOut []cell) {
	// Mostly a report changes cells its ancestors already count, and none
	// of them to zero: then add in place.
	j := 0
	for i, d := range delta {
		j = find(v, j, d.at)
		if j == len(v) || v[j].at != d.at || v[j].votes+d.votes == 0 {
			for k, j := 0, 0; k < i; k++ { // undo, and merge instead
				j = find(v, j, delta[k].at)
				v[j].votes -= delta[k].votes
			}
			return mergeCells(v, delta, scratch)
		}
		v[j].votes += d.votes
	}
	return v, scratch
}

// find returns the first index at or after from of a cell at or past at.
func find(v []cell, from, at int) int {
	if len(v)-from <= 16 {
		for from < len(v) && v[from].at < at {
			from++
		}
		return from
	}
	lo, hi := from, len(v)
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if v[m].at < at {
			lo = m + 1
		} else {
			hi = m
		}
	}
	return lo
}

// mergeCells is addCells when cells come or go.
func mergeCells(v, delta, scratch []cell) (sum, scratchOut []cell) {
	m := scratch[:0]
	i, j := 0, 0
	for i < len(v) || j < len(delta) {
		switch {
		case j == len(delta) || (i < len(v) && v[i].at < delta[j].at):
			m = append(m, v[i])
			i++
		case i == len(v) || delta[j].at < v[i].at:
			m = append(m, delta[j])
			j++
		default:
			if s := v[i].votes + delta[j].votes; s != 0 {
				m = append(m, cell{v[i].at, s})
			}
			i++
			j++
		}
	}
	return append(v[:0], m...), m
}

// Encoding. A vector is written in the shorter of two forms, dense when
// they are as long:
//
//   - dense: width signed varints, one per cell, zeros included (the only
//     form of schema 1);
//   - sparse: an unsigned varint k, then k pairs of an unsigned varint, the
//     cell's distance from the previous one less one (from −1 for the
//     first), and a signed varint, the count, never zero.

func uvarintLen(x uint64) int { return (bits.Len64(x|1) + 6) / 7 }

func varintLen(x int64) int {
	ux := uint64(x) << 1
	if x < 0 {
		ux = ^ux
	}
	return uvarintLen(ux)
}

// vectorForm returns whether v is written dense (its dense form is not
// longer than its sparse form), and the length written.
func vectorForm(v []cell, width int) (dense bool, length int) {
	d, s := width-len(v), uvarintLen(uint64(len(v)))
	prev := -1
	for _, c := range v {
		n := varintLen(c.votes)
		d += n
		s += uvarintLen(uint64(c.at-prev-1)) + n
		prev = c.at
	}
	if d <= s {
		return true, d
	}
	return false, s
}

func appendVector(b []byte, v []cell, dense bool, width int) []byte {
	if dense {
		return appendDense(b, v, width)
	}
	return appendSparse(b, v)
}

func appendDense(b []byte, v []cell, width int) []byte {
	next := 0
	for _, c := range v {
		for ; next < c.at; next++ {
			b = append(b, 0)
		}
		b = binary.AppendVarint(b, c.votes)
		next++
	}
	for ; next < width; next++ {
		b = append(b, 0)
	}
	return b
}

func appendSparse(b []byte, v []cell) []byte {
	b = binary.AppendUvarint(b, uint64(len(v)))
	prev := -1
	for _, c := range v {
		b = binary.AppendUvarint(b, uint64(c.at-prev-1))
		b = binary.AppendVarint(b, c.votes)
		prev = c.at
	}
	return b
}

var errTruncated = errors.New("truncated node")

// readDense reads a dense vector of width counts from b. It allocates for
// the counts that are not zero only.
func readDense(b []byte, width int) ([]cell, []byte, error) {
	if len(b) < width { // each count takes a byte at least
		return nil, nil, errTruncated
	}
	rest, nonzero := b, 0
	for range width {
		x, k := binary.Varint(rest)
		if k <= 0 {
			return nil, nil, errTruncated
		}
		if x != 0 {
			nonzero++
		}
		rest = rest[k:]
	}
	var v []cell
	if nonzero > 0 {
		v = make([]cell, 0, nonzero)
	}
	for i := range width {
		x, k := binary.Varint(b)
		if x != 0 {
			v = append(v, cell{i, x})
		}
		b = b[k:]
	}
	return v, b, nil
}

// readSparse reads a sparse vector of cells below width from b.
func readSparse(b []byte, width int) ([]cell, []byte, error) {
	n, k := binary.Uvarint(b)
	if k <= 0 {
		return nil, nil, errTruncated
	}
	b = b[k:]
	if n > uint64(width) || n > uint64(len(b))/2 { // each pair takes two bytes at least
		return nil, nil, errors.New("sparse vector longer than its cell")
	}
	var v []cell
	if n > 0 {
		v = make([]cell, 0, n)
	}
	prev := -1
	for range n {
		gap, k := binary.Uvarint(b)
		if k <= 0 {
			return nil, nil, errTruncated
		}
		b = b[k:]
		if gap >= uint64(width-prev-1) {
			return nil, nil, errors.New("sparse vector names a cell past the contest's width")
		}
		x, k := binary.Varint(b)
		if k <= 0 {
			return nil, nil, errTruncated
		}
		b = b[k:]
		if x == 0 {
			return nil, nil, errors.New("sparse vector holds a zero")
		}
		prev += int(gap) + 1
		v = append(v, cell{prev, x})
	}
	return v, b, nil
}
