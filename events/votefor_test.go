package events_test

import (
	"errors"
	"strconv"
	"testing"

	"github.com/election-audit/ledger/events"
)

// TestVoteFor checks vote_for's bounds: a race may elect more than it has
// choices (Cumberland County, NJ, 2016 primary: "DEM - Shiloh Borough
// Council", two seats, one write-in line), but not none and not more than
// events.MaxVoteFor.
func TestVoteFor(t *testing.T) {
	withVoteFor := func(n int) string {
		return sub(validManifest, `"vote_for":1,"units"`, `"vote_for":`+strconv.Itoa(n)+`,"units"`)
	}
	for _, n := range []int{1, 2, 3, 100, events.MaxVoteFor} { // the contest has 2 choices
		ev, err := events.Decode([]byte(withVoteFor(n)))
		if err != nil {
			t.Errorf("vote_for %d: %v", n, err)
			continue
		}
		if got := ev.Body.(*events.Manifest).Contests[1].VoteFor; got != n {
			t.Errorf("vote_for %d decoded as %d", n, got)
		}
	}
	for _, n := range []int{0, -1, events.MaxVoteFor + 1, 1 << 40} {
		_, err := events.Decode([]byte(withVoteFor(n)))
		var e *events.Error
		if !errors.As(err, &e) {
			t.Errorf("vote_for %d: got %v, want an *events.Error", n, err)
			continue
		}
		want := strconv.Itoa(n) + " is not between 1 and 1000"
		if e.Field != "data.contests[1].vote_for" || e.Msg != want {
			t.Errorf("vote_for %d: got %q: %q, want data.contests[1].vote_for: %q", n, e.Field, e.Msg, want)
		}
	}
}
