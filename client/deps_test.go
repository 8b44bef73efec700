package client_test

import (
	"os/exec"
	"strings"
	"testing"
)

// A program that only talks to a ledger stays light: the client links
// neither the ledger's database (Pebble) nor its broker (nats-server), nor
// the server's own packages.
func TestClientStaysLight(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", ".").Output()
	if err != nil {
		t.Skipf("go list: %v", err)
	}
	for _, dep := range strings.Fields(string(out)) {
		for _, heavy := range []string{
			"github.com/cockroachdb/pebble", "github.com/nats-io/nats-server",
			"github.com/election-audit/ledger/store", "github.com/election-audit/ledger/ledger",
			"github.com/election-audit/ledger/api", "github.com/election-audit/ledger/audit",
		} {
			if dep == heavy || strings.HasPrefix(dep, heavy+"/") {
				t.Errorf("package client depends on %s", dep)
			}
		}
	}
}
