// Package lightdeps checks, in tests, that a package a third party links
// (the client, the watcher, its checks) stays light: it pulls in neither the
// ledger's database (Pebble) nor its broker (nats-server, as opposed to the
// nats.go client), nor the server's own packages.
package lightdeps

import (
	"os/exec"
	"slices"
	"strings"
	"testing"
)

// Heavy are the module paths and packages a light package must not depend
// on, directly or not.
var Heavy = []string{
	"github.com/cockroachdb/pebble", "github.com/nats-io/nats-server",
	"github.com/election-audit/ledger/store", "github.com/election-audit/ledger/ledger",
	"github.com/election-audit/ledger/api", "github.com/election-audit/ledger/audit",
	"github.com/election-audit/ledger/node", "github.com/election-audit/ledger/broker",
	"github.com/election-audit/ledger/importer",
}

// Check fails t for each package of Heavy (or under it) that the package
// in the test's directory depends on, as `go list -deps .` lists them. A
// subpackage of one that is allowed (audit/logcheck) is named in allow.
func Check(t *testing.T, allow ...string) {
	t.Helper()
	out, err := exec.Command("go", "list", "-deps", ".").Output()
	if err != nil {
		t.Skipf("go list: %v", err)
	}
	deps := strings.Fields(string(out))
	if len(deps) == 0 {
		t.Fatal("go list -deps listed nothing")
	}
	for _, dep := range deps {
		if strings.HasPrefix(dep, "github.com/election-audit/ledger/") && slices.Contains(allow, strings.TrimPrefix(dep, "github.com/election-audit/ledger/")) {
			continue
		}
		for _, heavy := range Heavy {
			if dep == heavy || strings.HasPrefix(dep, heavy+"/") {
				t.Errorf("%s depends on %s", deps[len(deps)-1], dep)
			}
		}
	}
}
