package projections

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/election-audit/ledger/events"
)

// Snapshots of a projection let an as-of tally start from the nearest
// snapshot at or before the size asked for, instead of from entry 0. The
// ledger takes one when [SnapshotDue] says so, in the same batch as the
// entries it covers; `ledger audit verify` checks each against a replay.

// Snapshot policy: at least MinSnapshotInterval entries apart, and further
// apart for a bigger projection, so that snapshots never take more than
// about SnapshotBytesPerEntry bytes of storage per log entry however large
// the election.
const (
	MinSnapshotInterval   = 1024
	SnapshotBytesPerEntry = 128
)

// No snapshot falls inside a manifest in parts (entries 0 to N-1, N at
// most events.MaxManifestParts): a replay restored there would meet the
// manifest's parts after the election is defined. The array's length is
// negative, and the build fails, if the limits ever say otherwise.
var _ [MinSnapshotInterval - events.MaxManifestParts]struct{}

// SnapshotDue reports whether a snapshot should be taken at size, given the
// size and encoded length of the previous one (0 and 0 if none).
func SnapshotDue(size, lastSize uint64, lastLen int) bool {
	if size <= lastSize {
		return false
	}
	since := size - lastSize
	return since >= MinSnapshotInterval && since*SnapshotBytesPerEntry >= uint64(lastLen)
}

// snapshotMagic starts every snapshot; the schema version follows.
const snapshotMagic = "ledger projection snapshot\x00"

// ErrSnapshotOutdated is returned by [Restore] for a snapshot of another
// schema version: fold from an older snapshot or from entry 0 instead.
var ErrSnapshotOutdated = errors.New("snapshot is of another schema version")

// Snapshot encodes the whole projection, all but the manifest (which is
// entry 0 of the log): the meta cell and every node cell, in cell order, as
// uvarint-length-prefixed keys and values. It is a pure function of the
// entries applied.
func (e *Election) Snapshot() []byte {
	b := append([]byte(snapshotMagic), SchemaVersion)
	m, _ := json.Marshal(e.meta())
	b = binary.AppendUvarint(b, uint64(len(keyMeta)))
	b = append(b, keyMeta...)
	b = binary.AppendUvarint(b, uint64(len(m)))
	b = append(b, m...)
	var v []byte
	for _, c := range e.contests {
		for s, n := range c.nodes {
			if n == nil {
				continue
			}
			// The key is nodeKey's, written in place.
			unit := e.units[c.unitAt(s)].id
			b = binary.AppendUvarint(b, uint64(len(nodePrefix)+len(c.def.ID)+1+len(unit)))
			b = append(b, nodePrefix...)
			b = append(b, c.def.ID...)
			b = append(b, 0)
			b = append(b, unit...)
			v = n.appendTo(v[:0], c.width)
			b = binary.AppendUvarint(b, uint64(len(v)))
			b = append(b, v...)
		}
	}
	for _, k := range e.sortedReporters() {
		b = binary.AppendUvarint(b, uint64(len(reporterPrefix)+len(k)))
		b = append(b, reporterPrefix...)
		b = append(b, k...)
		v = e.encodeReporter(e.reporters[k])
		b = binary.AppendUvarint(b, uint64(len(v)))
		b = append(b, v...)
	}
	return b
}

// Restore rebuilds a projection from the manifest (entry 0 of its log) and
// a snapshot made by [Election.Snapshot].
func Restore(election string, m *events.Manifest, snap []byte) (*Election, error) {
	if len(snap) < len(snapshotMagic)+1 || string(snap[:len(snapshotMagic)]) != snapshotMagic {
		return nil, fmt.Errorf("couldn't restore projection of %s: not a snapshot", election)
	}
	if snap[len(snapshotMagic)] != SchemaVersion {
		return nil, ErrSnapshotOutdated
	}
	b := snap[len(snapshotMagic)+1:]
	next := func() ([]byte, bool) {
		n, k := binary.Uvarint(b)
		if k <= 0 || uint64(len(b)-k) < n {
			return nil, false
		}
		s := b[k : k+int(n)]
		b = b[k+int(n):]
		return s, true
	}
	e, err := New(election, m)
	if err != nil {
		return nil, err
	}
	var md *meta
	for len(b) > 0 {
		k, ok1 := next()
		v, ok2 := next()
		switch {
		case !ok1 || !ok2:
			return nil, fmt.Errorf("couldn't restore projection of %s: snapshot is truncated", election)
		case string(k) == keyMeta && md == nil:
			md = new(meta)
			if err := json.Unmarshal(v, md); err != nil || md.Schema != SchemaVersion {
				return nil, fmt.Errorf("couldn't restore projection of %s: bad meta cell %q", election, v)
			}
		case len(k) > 0 && string(k[:1]) == nodePrefix && md != nil:
			if err := e.loadNode(string(k[1:]), v); err != nil {
				return nil, fmt.Errorf("couldn't restore projection of %s: %w", election, err)
			}
		case len(k) > 0 && string(k[:1]) == reporterPrefix && md != nil:
			if err := e.loadReporter(string(k[1:]), v); err != nil {
				return nil, fmt.Errorf("couldn't restore projection of %s: %w", election, err)
			}
		default:
			return nil, fmt.Errorf("couldn't restore projection of %s: unexpected cell %q", election, k)
		}
	}
	if md == nil {
		return nil, fmt.Errorf("couldn't restore projection of %s: snapshot has no meta cell", election)
	}
	e.setMeta(md)
	return e, nil
}
