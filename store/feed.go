package store

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/cockroachdb/pebble/v2"
)

func feedKey(election string) []byte {
	return append([]byte{tagMeta, 'f', 'e', 'e', 'd', 0}, election...)
}

// FeedPosition returns how much of an election's log the change feed has
// published: the next index to publish.
func (d *DB) FeedPosition(election string) (uint64, error) {
	v, err := d.get(feedKey(election))
	if errors.Is(err, ErrNotFound) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	if len(v) != 8 {
		return 0, fmt.Errorf("feed position of %s is corrupt", election)
	}
	return binary.BigEndian.Uint64(v), nil
}

// SetFeedPosition records the change feed's position in an election's log.
// It is not synced: a position lost in a crash only makes the feed publish
// some entries again, which its consumers tell by their index.
func (d *DB) SetFeedPosition(election string, next uint64) error {
	if err := d.space.check(64); err != nil {
		return fmt.Errorf("couldn't record the feed position of %s: %w", election, err)
	}
	return d.pdb.Set(feedKey(election), binary.BigEndian.AppendUint64(nil, next), pebble.NoSync)
}
