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
// another version is outdated and rebuilt from the log.
const SchemaVersion = 1

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
		n := e.contests[r.contest].nodes[r.unit]
		put(e.nodeKey(r), n.encode())
		n.dirty = false
	}
	e.dirty = e.dirty[:0]
	return nil
}

func (e *Election) nodeKey(r nodeRef) string {
	return nodePrefix + e.contests[r.contest].def.ID + "\x00" + e.units[r.unit].id
}

func (n *node) encode() []byte {
	b := binary.AppendUvarint(nil, n.version)
	b = append(b, n.current[:]...)
	var flags byte
	if n.own != nil {
		flags |= 1
	}
	if n.child != nil {
		flags |= 2
	}
	b = append(b, flags)
	for _, v := range [][]int64{n.own, n.child} {
		for _, x := range v {
			b = binary.AppendVarint(b, x)
		}
	}
	return binary.AppendVarint(b, n.childLeaves)
}

func decodeNode(b []byte, width int) (*node, error) {
	n := &node{}
	var k int
	if n.version, k = binary.Uvarint(b); k <= 0 || len(b) < k+17 {
		return nil, errors.New("truncated node")
	}
	b = b[k:]
	copy(n.current[:], b)
	flags := b[16]
	b = b[17:]
	read := func() (int64, error) {
		x, k := binary.Varint(b)
		if k <= 0 {
			return 0, errors.New("truncated node")
		}
		b = b[k:]
		return x, nil
	}
	for bit, dst := range []*[]int64{&n.own, &n.child} {
		if flags&(1<<bit) == 0 {
			continue
		}
		*dst = make([]int64, width)
		for i := range *dst {
			x, err := read()
			if err != nil {
				return nil, err
			}
			(*dst)[i] = x
		}
	}
	x, err := read()
	if err != nil {
		return nil, err
	}
	n.childLeaves = x
	if len(b) != 0 {
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
		n, err := decodeNode(value, e.contests[ci].width)
		if err != nil {
			return fmt.Errorf("cell %q: %w", key, err)
		}
		e.contests[ci].nodes[ui] = n
		if n.current != uuid.Nil {
			e.current[n.current] = nodeRef{ci, ui}
		}
		return nil
	}
	return fmt.Errorf("cell %q names no contest and unit of the manifest", key)
}
