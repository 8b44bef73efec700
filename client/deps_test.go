package client_test

import (
	"testing"

	"github.com/election-audit/ledger/internal/lightdeps"
)

// A program that only talks to a ledger stays light: the client links
// neither the ledger's database (Pebble) nor its broker (nats-server), nor
// the server's own packages.
func TestClientStaysLight(t *testing.T) { lightdeps.Check(t) }
