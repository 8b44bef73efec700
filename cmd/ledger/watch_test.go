package main

import (
	"bytes"
	"context"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/note"

	"github.com/election-audit/ledger/checkpoint"
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
	// The evidence, checked as docs/watch.md says: two checkpoints of one
	// size signed by the key, with different roots. No server needed.
	code, out, stderr = cli(t, "", "audit", "prove", "consistency", "--election", "ga06-2017-04", "--key", pub, "--server", "http://127.0.0.1:1",
		"--from-file", ev[0], "--to-file", ev[1])
	if code != exitError || !strings.Contains(stderr, "INCONSISTENT: ") || !strings.Contains(stderr, "are of size 6") || !strings.Contains(out, "signatures verified with") {
		t.Errorf("the evidence: exit %d:\n%s%s", code, out, stderr)
	}

	// A ledger with another key (and another history): with the key it
	// serves, or with the new key given, the state's key no longer
	// verifies: an alarm, not trust on first use. Named with --accept-key,
	// its history must still extend the accepted one: it does not.
	dirC := t.TempDir()
	c, err := node.Open(ctx, node.Config{DataDir: dirC, HTTP: "127.0.0.1:0", NATSListen: "127.0.0.1:0", Authorities: testkeys.Authorities})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(ctx)
	if code, _, stderr := cli(t, "", "submit", "--server", "http://"+c.HTTPAddr(), "--key", authority, example); code != exitOK {
		t.Fatalf("submit: exit %d: %s", code, stderr)
	}
	pubC, serverC := filepath.Join(dirC, "ledger.pub"), "http://"+c.HTTPAddr()
	before, _ := os.ReadFile(filepath.Join(state, "ga06-2017-04.state.json"))
	for _, args := range [][]string{{"--trust-server-key"}, {"--key", pubC}} {
		code, _, stderr = cli(t, "", append([]string{"watch", "--once", "--election", "ga06-2017-04", "--state", state, "--server", serverC}, args...)...)
		if code != exitAlarm || !strings.Contains(stderr, "!! ALARM: KEY-CHANGED in the log of ga06-2017-04") || !strings.Contains(stderr, "--accept-key") ||
			!strings.Contains(stderr, "new-key.pub") || strings.Contains(stderr, "another state directory") {
			t.Errorf("%v: exit %d:\n%s", args, code, stderr)
		}
	}
	// --accept-key takes the ledger key (a file holding it) or the
	// election's log key, named by the log's origin.
	logKeyC, err := checkpoint.LogKey(c.VerifierKey, "ga06-2017-04")
	if err != nil {
		t.Fatal(err)
	}
	for _, accept := range []string{pubC, logKeyC} {
		code, _, stderr = cli(t, "", "watch", "--once", "--election", "ga06-2017-04", "--state", state, "--server", serverC, "--accept-key", accept)
		if code != exitAlarm || !strings.Contains(stderr, "!! ALARM: FORK") {
			t.Errorf("--accept-key %s: exit %d:\n%s", accept, code, stderr)
		}
	}
	otherLogC, err := checkpoint.LogKey(c.VerifierKey, "ga06-2017-06")
	if err != nil {
		t.Fatal(err)
	}
	code, _, stderr = cli(t, "", "watch", "--once", "--election", "ga06-2017-04", "--state", state, "--server", serverC, "--accept-key", otherLogC)
	if code != exitError || !strings.Contains(stderr, "is the key of log ledger.local/ga06-2017-06, not of ledger.local/ga06-2017-04") {
		t.Errorf("--accept-key with another election's log key: exit %d:\n%s", code, stderr)
	}
	if after, _ := os.ReadFile(filepath.Join(state, "ga06-2017-04.state.json")); string(after) != string(before) {
		t.Errorf("the alarms changed the state")
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--accept-key", pubC, "--trust-server-key"}, "--accept-key and --trust-server-key"},
		{[]string{"--accept-key", pubC, "--key", pub}, "--key and --accept-key name two keys"},
		{[]string{"--accept-key", logKeyC, "--key", pub}, "--key and --accept-key name two keys"},
		{[]string{"--key", pub, "--timeout", "5s"}, "--timeout applies to --once"},
	} {
		code, _, stderr = cli(t, "", append([]string{"watch", "--election", "ga06-2017-04", "--state", state, "--server", serverC}, tc.args...)...)
		if code != exitError || !strings.Contains(stderr, tc.want) {
			t.Errorf("%v: exit %d: %s", tc.args, code, stderr)
		}
	}

	// An unknown election: the error lists the ledger's.
	code, _, stderr = cli(t, "", "watch", "--once", "--election", "ga06-2017", "--key", pub, "--state", t.TempDir(), "--server", "http://"+a.HTTPAddr())
	if code != exitError || !strings.Contains(stderr, `unknown election "ga06-2017"; the elections it has: ga06-2017-04 (`) {
		t.Errorf("unknown election: exit %d: %s", code, stderr)
	}
}

// TestWatchCLIServerDown: `watch --once` against a ledger that is down, or
// that takes connections and never answers, gives up after --timeout with
// exit 1 and a clear error, with --key and with --trust-server-key (whose
// key fetch is a network step like the others).
func TestWatchCLIServerDown(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	down := "http://" + l.Addr().String()
	l.Close()
	silent := silentServer(t)
	_, vkey, err := note.GenerateKey(nil, "ledger.local")
	if err != nil {
		t.Fatal(err)
	}
	const gaveUp = "ledger: could not check the ledger: no progress with ga06-2017-04 in 1s ("
	const nothing = "nothing was verified (--timeout 1s)\n"
	for _, tc := range []struct {
		name, server string
		key          []string
		want         []string
	}{
		{"down, --key", down, []string{"--key", vkey}, []string{gaveUp, "connection refused", down, nothing}},
		{"silent, --key", silent, []string{"--key", vkey}, []string{gaveUp + "the ledger did not answer); " + nothing}},
		// Down, the key fetch fails at once: the ledger says so.
		{"down, --trust-server-key", down, []string{"--trust-server-key"}, []string{"couldn't reach the ledger at " + down, "connection refused"}},
		{"silent, --trust-server-key", silent, []string{"--trust-server-key"}, []string{gaveUp + "the ledger at " + silent + " did not answer GET /v1/key, for --trust-server-key); " + nothing}},
	} {
		t.Run(strings.ReplaceAll(tc.name, " ", "_"), func(t *testing.T) {
			// A bound on the test, not on the command: a watcher that
			// hangs is stopped here, and fails below.
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			var out, stderr bytes.Buffer
			start := time.Now()
			args := append([]string{"watch", "--once", "--timeout", "1s", "--election", "ga06-2017-04", "--state", t.TempDir(), "--server", tc.server}, tc.key...)
			code := run(ctx, args, strings.NewReader(""), &out, &stderr)
			took := time.Since(start)
			if code != exitError || out.Len() != 0 {
				t.Fatalf("exit %d after %s:\n%s%s", code, took, &out, &stderr)
			}
			for _, want := range tc.want {
				if !strings.Contains(stderr.String(), want) {
					t.Errorf("no %q in:\n%s", want, &stderr)
				}
			}
			if strings.Contains(tc.want[len(tc.want)-1], nothing) && !strings.HasSuffix(stderr.String(), nothing) {
				t.Errorf("does not end with %q:\n%s", nothing, &stderr)
			}
			if took > 10*time.Second {
				t.Errorf("gave up after %s, --timeout 1s", took)
			}
			t.Logf("after %s: %s", took.Round(time.Millisecond), &stderr)
		})
	}
}

// silentServer returns the URL of a server that accepts connections and
// never answers, nor closes them until the test ends.
func silentServer(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var conns []net.Conn
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		l.Close()
		<-done
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	})
	return "http://" + l.Addr().String()
}
