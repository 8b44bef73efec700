package watch_test

import (
	"testing"

	"github.com/election-audit/ledger/internal/lightdeps"
)

// A monitor stays light: package watch links neither the ledger's database
// (Pebble) nor its broker (nats-server), nor the server's own packages;
// what it needs of package audit is in audit/logcheck.
func TestWatchStaysLight(t *testing.T) { lightdeps.Check(t, "audit/logcheck") }
