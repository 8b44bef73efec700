package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/election-audit/ledger/internal/testkeys"
	"github.com/election-audit/ledger/node"
)

// TestWatchCLI runs `ledger watch --once` against a ledger, then against a
// second ledger with the same key and another history of the same
// election: exit 0 and every entry printed, then exit 5, the ALARM, and
// both checkpoints kept as evidence.
func TestWatchCLI(t *testing.T) {
	code, out, _ := cli(t, "", "watch", "--help")
	if code != exitOK || !strings.Contains(out, "ledger watch --election ID --key KEY") || !strings.Contains(out, "--trust-server-key") || !strings.Contains(out, "exits 5") {
		t.Errorf("--help: exit %d:\n%s", code, out)
	}
	code, _, stderr := cli(t, "", "watch", "--election", "ga06-2017-04")
	if code != exitError || !strings.Contains(stderr, "--key is required") {
		t.Errorf("no key: exit %d: %s", code, stderr)
	}
	code, _, stderr = cli(t, "", "watch", "--election", "ga06-2017-04", "--key", "x", "--nats", "nats://127.0.0.1:4222")
	if code != exitError || !strings.Contains(stderr, "--nats needs --server too") {
		t.Errorf("--nats without --server: exit %d: %s", code, stderr)
	}

	ctx := context.Background()
	dirA, dirB := t.TempDir(), t.TempDir()
	a, err := node.Open(ctx, node.Config{DataDir: dirA, HTTP: "127.0.0.1:0", NATSListen: "127.0.0.1:0", Authorities: testkeys.Authorities})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close(ctx)
	key, err := os.ReadFile(filepath.Join(dirA, "ledger.key"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dirB, "ledger.key"), key, 0o600); err != nil {
		t.Fatal(err)
	}
	b, err := node.Open(ctx, node.Config{DataDir: dirB, HTTP: "127.0.0.1:0", NATSListen: "127.0.0.1:0", Authorities: testkeys.Authorities})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close(ctx)
	example, authority := exampleFile(t), authorityKeyFile(t)
	for _, n := range []*node.Node{a, b} {
		if code, _, stderr := cli(t, "", "submit", "--server", "http://"+n.HTTPAddr(), "--key", authority, example); code != exitOK {
			t.Fatalf("submit: exit %d: %s", code, stderr)
		}
	}
	pub := filepath.Join(dirA, "ledger.pub")
	state := t.TempDir()
	code, out, stderr = cli(t, "", "watch", "--once", "--election", "ga06-2017-04", "--key", pub, "--state", state, "--server", "http://"+a.HTTPAddr())
	if code != exitOK || !strings.Contains(out, "#5 ") || !strings.Contains(out, " count.reported      by test-authority  ") || !strings.Contains(out, "== checkpoint 6 verified") || strings.Contains(stderr, "ALARM") {
		t.Fatalf("watch A: exit %d:\n%s%s", code, out, stderr)
	}
	code, out, stderr = cli(t, "", "watch", "--once", "--json", "--election", "ga06-2017-04", "--key", pub, "--state", state,
		"--server", "http://"+b.HTTPAddr(), "--nats", b.Broker.ClientURL())
	if code != exitAlarm || !strings.Contains(stderr, "!! ALARM: FORK in the log of ga06-2017-04") || !strings.HasPrefix(out, `{"kind":"alarm","alarm":"fork"`) {
		t.Fatalf("watch B: exit %d:\n%s%s", code, out, stderr)
	}
	ev, _ := filepath.Glob(filepath.Join(state, "evidence-ga06-2017-04-*", "*.checkpoint"))
	if len(ev) != 2 {
		t.Fatalf("evidence: %v", ev)
	}
	t.Logf("alarm:\n%s", stderr)
}
