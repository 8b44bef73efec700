package projections

import (
	"cmp"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"slices"

	"github.com/google/uuid"

	"github.com/election-audit/ledger/events"
)

// SchemaVersion is the version of the cell encoding. A stored projection of
// another version is outdated and rebuilt from the log. Version 3 added the
// reporter keys; version 2 the sparse form of a node's counts; version 1
// had only the dense form.
const SchemaVersion = 3

// ErrOutdated is returned by [Load] for a projection that is missing or of
// another schema version: rebuild it from the log.
var ErrOutdated = errors.New("projection is missing or outdated")

// Cell keys.
const (
	keyManifest = "manifest"
	keyMeta     = "meta"
	nodePrefix  = "n"
)

// meta is the projection's counters and flags. Correcting came later than
// schema 1 and is left out when false, so that a meta cell (and a snapshot)
// of a projection that is not correcting has the same bytes as before it,
// and an older cell without it loads as false.
type meta struct {
	Schema     int    `json:"schema"`
	Size       uint64 `json:"size"`
	Accepted   uint64 `json:"accepted"`
	Rejected   uint64 `json:"rejected"`
	Certified  bool   `json:"certified"`
	Recount    bool   `json:"recount"`
	Correcting bool   `json:"correcting,omitempty"`
}

func (e *Election) meta() meta {
	return meta{SchemaVersion, e.size, e.accepted, e.rejected, e.certified, e.recount, e.correcting}
}

func (e *Election) setMeta(md *meta) {
	e.size, e.accepted, e.rejected = md.Size, md.Accepted, md.Rejected
	e.certified, e.recount, e.correcting = md.Certified, md.Recount, md.Correcting
	e.dirtyMeta, e.newlyMade = false, false
}

// Flush hands every cell changed since the last Flush to put, in key order,
// and forgets the changes. Cell values are a pure function of the entries
// applied.
func (e *Election) Flush(put func(key string, value []byte)) error {
	if e.newlyMade {
		m, err := json.Marshal(e.manifest)
		if err != nil {
			return fmt.Errorf("couldn't encode manifest of %s: %w", e.id, err)
		}
		put(keyManifest, m)
		e.newlyMade = false
	}
	if e.dirtyMeta {
		m, _ := json.Marshal(e.meta())
		put(keyMeta, m)
		e.dirtyMeta = false
	}
	slices.SortFunc(e.dirty, func(a, b nodeRef) int {
		return cmp.Or(cmp.Compare(a.contest, b.contest), cmp.Compare(a.unit, b.unit))
	})
	for _, r := range e.dirty {
		c := e.contests[r.contest]
		n := c.nodeAt(r.unit)
		put(e.nodeKey(r), n.encode(c.width))
		n.dirty = false
	}
	e.dirty = e.dirty[:0]
	slices.Sort(e.dirtyKeys)
	for _, k := range slices.Compact(e.dirtyKeys) {
		put(reporterPrefix+k, e.encodeReporter(e.reporters[k]))
	}
	e.dirtyKeys = e.dirtyKeys[:0]
	return nil
}

func (e *Election) nodeKey(r nodeRef) string {
	return nodePrefix + e.contests[r.contest].def.ID + "\x00" + e.units[r.unit].id
}

// Node flags.
const (
	flagOwn         = 1 << 0 // the node has its own report
	flagChild       = 1 << 1 // the node has a children's sum
	flagOwnSparse   = 1 << 2 // its own counts are in the sparse form
	flagChildSparse = 1 << 3 // its children's sum is in the sparse form
)

// encode writes the node: its version, current report and flags, its own
// counts and its children's sum (each in the shorter form), and the leaves
// reported beneath it. Its length follows the counts that are not zero.
func (n *node) encode(width int) []byte {
	return n.appendTo(nil, width)
}

// appendTo appends the node's encoding to b.
func (n *node) appendTo(b []byte, width int) []byte {
	var flags byte
	ownDense, childDense := true, true
	size := uvarintLen(n.version) + 17 + varintLen(n.childLeaves)
	if n.hasOwn {
		flags |= flagOwn
		var l int
		if ownDense, l = vectorForm(n.own, width); !ownDense {
			flags |= flagOwnSparse
		}
		size += l
	}
	if n.hasChild {
		flags |= flagChild
		var l int
		if childDense, l = vectorForm(n.child, width); !childDense {
			flags |= flagChildSparse
		}
		size += l
	}
	b = slices.Grow(b, size)
	b = binary.AppendUvarint(b, n.version)
	b = append(b, n.current[:]...)
	b = append(b, flags)
	if n.hasOwn {
		b = appendVector(b, n.own, ownDense, width)
	}
	if n.hasChild {
		b = appendVector(b, n.child, childDense, width)
	}
	return binary.AppendVarint(b, n.childLeaves)
}

func decodeNode(b []byte, width int) (*node, error) {
	n := &node{}
	var k int
	if n.version, k = binary.Uvarint(b); k <= 0 || len(b) < k+17 {
		return nil, errTruncated
	}
	b = b[k:]
	copy(n.current[:], b)
	flags := b[16]
	b = b[17:]
	if flags&^(flagOwn|flagChild|flagOwnSparse|flagChildSparse) != 0 ||
		flags&flagOwnSparse != 0 && flags&flagOwn == 0 || flags&flagChildSparse != 0 && flags&flagChild == 0 {
		return nil, fmt.Errorf("unknown node flags %#x", flags)
	}
	for _, x := range []struct {
		has, sparse byte
		dst         *[]cell
		set         *bool
	}{{flagOwn, flagOwnSparse, &n.own, &n.hasOwn}, {flagChild, flagChildSparse, &n.child, &n.hasChild}} {
		if flags&x.has == 0 {
			continue
		}
		var err error
		if flags&x.sparse != 0 {
			*x.dst, b, err = readSparse(b, width)
		} else {
			*x.dst, b, err = readDense(b, width)
		}
		if err != nil {
			return nil, err
		}
		*x.set = true
	}
	x, k := binary.Varint(b)
	if k <= 0 {
		return nil, errTruncated
	}
	n.childLeaves = x
	if len(b) != k {
		return nil, errors.New("trailing bytes in node")
	}
	return n, nil
}

// Load restores a projection from its stored cells, which cells hands to fn
// in key order. It returns ErrOutdated when there is none or it is of
// another schema version.
func Load(election string, cells func(fn func(key string, value []byte) error) error) (*Election, error) {
	var e *Election
	var md *meta
	err := cells(func(key string, value []byte) error {
		switch {
		case key == keyManifest:
			var m events.Manifest
			if err := json.Unmarshal(value, &m); err != nil {
				return fmt.Errorf("manifest cell: %w", err)
			}
			var err error
			if e, err = New(election, &m); err != nil {
				return err
			}
		case key == keyMeta:
			md = new(meta)
			if err := json.Unmarshal(value, md); err != nil {
				return fmt.Errorf("meta cell: %w", err)
			}
			if md.Schema != SchemaVersion {
				return ErrOutdated
			}
		case len(key) > 0 && key[:1] == nodePrefix && e != nil:
			return e.loadNode(key[1:], value)
		case len(key) > 0 && key[:1] == reporterPrefix && e != nil:
			return e.loadReporter(key[1:], value)
		default:
			return fmt.Errorf("unexpected cell %q", key)
		}
		return nil
	})
	if errors.Is(err, ErrOutdated) || (err == nil && (e == nil || md == nil)) {
		return nil, ErrOutdated
	}
	if err != nil {
		return nil, fmt.Errorf("couldn't load projection of %s: %w", election, err)
	}
	e.setMeta(md)
	return e, nil
}

func (e *Election) loadNode(key string, value []byte) error {
	for i := 0; i < len(key); i++ {
		if key[i] != 0 {
			continue
		}
		ci, ok1 := e.contestIx[key[:i]]
		ui, ok2 := e.unitIdx[key[i+1:]]
		if !ok1 || !ok2 {
			break
		}
		c := e.contests[ci]
		s := c.slot(ui)
		if s < 0 {
			return fmt.Errorf("cell %q: the unit is not in the contest's tally", key)
		}
		n, err := decodeNode(value, c.width)
		if err != nil {
			return fmt.Errorf("cell %q: %w", key, err)
		}
		c.nodes[s] = n
		if n.current != uuid.Nil {
			e.current[n.current] = nodeRef{ci, ui}
		}
		return nil
	}
	return fmt.Errorf("cell %q names no contest and unit of the manifest", key)
}
