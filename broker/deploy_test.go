package broker

import (
	"testing"

	"github.com/nats-io/nats-server/v2/server"

	"github.com/election-audit/ledger/events"
)

// The cluster configuration shipped for docker-compose must parse and must
// sync every write, as the embedded server does.
func TestDeployConfig(t *testing.T) {
	opts, err := server.ProcessConfigFile("../deploy/nats.conf")
	if err != nil {
		t.Fatal(err)
	}
	if !opts.SyncAlways {
		t.Error("deploy/nats.conf does not set sync_interval: always")
	}
	if opts.MaxPayload < events.MaxEventSize {
		t.Errorf("max_payload %d is below the event limit %d", opts.MaxPayload, events.MaxEventSize)
	}
}
