package main

import (
	"bytes"
	"context"
	"errors"
	"net"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/election-audit/ledger/internal/testkeys"
	"github.com/election-audit/ledger/node"
)

// TestTallyEdges: `tally --as-of 0` is refused (a log of size 0 has no
// manifest), and an unknown election's error lists the known ones.
func TestTallyEdges(t *testing.T) {
	ctx := context.Background()
	n, err := node.Open(ctx, node.Config{DataDir: t.TempDir(), HTTP: "-", NATSListen: "-", Authorities: testkeys.Authorities})
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close(ctx)
	srv := httptest.NewServer(n.Handler)
	defer srv.Close()

	code, _, stderr := cli(t, "", "tally", "--server", srv.URL, "--election", "nope")
	if code != exitError || !strings.Contains(stderr, `unknown election "nope"`) || !strings.Contains(stderr, "this ledger has no elections yet") {
		t.Errorf("unknown election of an empty ledger: exit %d: %s", code, stderr)
	}
	if code, _, stderr := cli(t, "", "submit", "--server", srv.URL, "--key", authorityKeyFile(t), exampleFile(t)); code != exitOK {
		t.Fatalf("submit: exit %d: %s", code, stderr)
	}
	for _, args := range [][]string{
		{"--as-of", "0"},
		{"--as-of", "0", "--format", "nist"},
		{"--as-of=0", "--format", "table"},
	} {
		args = append([]string{"tally", "--server", srv.URL, "--election", "ga06-2017-04"}, args...)
		code, out, stderr := cli(t, "", args...)
		if code != exitError || out != "" || !strings.Contains(stderr, "--as-of 0") || !strings.Contains(stderr, "the smallest --as-of is 1") {
			t.Errorf("%v: exit %d: %s%.100s", args, code, stderr, out)
		}
	}
	if code, out, stderr := cli(t, "", "tally", "--server", srv.URL, "--election", "ga06-2017-04", "--as-of", "1"); code != exitOK || !strings.Contains(out, `"tree_size":1,`) {
		t.Errorf("--as-of 1: exit %d: %s%.100s", code, stderr, out)
	}
	for _, cmd := range [][]string{
		{"tally", "--election", "ga06-2017-4"},
		{"tally", "--election", "ga06-2017-4", "--as-of", "2"},
		{"tally", "--election", "ga06-2017-4", "--format", "nist"},
		{"checkpoint", "--election", "ga06-2017-4"},
	} {
		args := append(cmd, "--server", srv.URL)
		code, _, stderr := cli(t, "", args...)
		if code != exitError || !strings.Contains(stderr, `unknown election "ga06-2017-4"`) || !strings.Contains(stderr, "this ledger's elections: ga06-2017-04") {
			t.Errorf("%v: exit %d: %s", args, code, stderr)
		}
	}
	// A 404 about something else of a known election lists nothing.
	if code, _, stderr := cli(t, "", "tally", "--server", srv.URL, "--election", "ga06-2017-04", "--as-of", "99"); code != exitError || strings.Contains(stderr, "elections:") {
		t.Errorf("--as-of 99: exit %d: %s", code, stderr)
	}
}

// TestBenchFlags: a size out of range is refused up front, naming the
// flag and its range, with exit 1 (not a panic's 2).
func TestBenchFlags(t *testing.T) {
	for _, c := range []struct{ flag, want string }{
		{"--events=-5", "--events -5: must be 1 or more"},
		{"--events=0", "--events 0: must be 1 or more"},
		{"--submitters=0", "--submitters 0: must be 1 or more"},
		{"--chunk=-1", "--chunk -1: must be from 1 to 10000"},
		{"--chunk=10001", "--chunk 10001: must be from 1 to 10000"},
		{"--latency=0", "--latency 0: must be 1 or more"},
		{"--publishers=-2", "--publishers -2: must be 0 (as many as --submitters) or more"},
		{"--entries=-1", "--entries -1: must be 1 or more"},
		{"--asof-points=0", "--asof-points 0: must be 1 or more"},
		{"--asof-budget=-1s", "--asof-budget -1s: must be more than 0"},
		{"--proofs=0", "--proofs 0: must be 1 or more"},
		{"--counties=0", "--counties 0: must be 1 or more"},
		{"--precincts=-3", "--precincts -3: must be 1 or more"},
		{"--sse=-1", "--sse -1: must be 0 (none) or more"},
		{"--nats-subs=-1", "--nats-subs -1: must be 0 (none) or more"},
		{"--stuck=-1", "--stuck -1: must be 0 (none) or more"},
		{"--rate=-1", "--rate -1: must be 0 (as fast as it goes) or more"},
	} {
		code, out, stderr := cli(t, "", "bench", c.flag, "--dir", t.TempDir())
		if code != exitError || out != "" || !strings.Contains(stderr, c.want) {
			t.Errorf("bench %s: exit %d: %s%s", c.flag, code, out, stderr)
		}
	}
}

// TestDataInUse: serve and rebuild on a data directory another ledger has
// open say so, and what to do.
func TestDataInUse(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	n, err := node.Open(ctx, node.Config{DataDir: dir, HTTP: "-", NATSListen: "-"})
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close(ctx)
	want := "ledger: another ledger process (serve, rebuild, …) is using " + dir + ": stop it, or use another --data\n"
	for _, args := range [][]string{
		{"serve", "--data", dir, "--http", "127.0.0.1:0", "--nats-listen", "-"},
		{"rebuild", "--data", dir},
	} {
		code, _, stderr := cli(t, "", args...)
		if code != exitError || !strings.HasSuffix(stderr, want) {
			t.Errorf("%v: exit %d: %s", args, code, stderr)
		}
	}
}

// TestServeBadFlags: serve refuses what it can check before it makes
// anything, and leaves no data directory or key behind.
func TestServeBadFlags(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--http", "999.1.1.1:0"}, `HTTP listen address "999.1.1.1:0"`},
		{[]string{"--http", "127.0.0.1:0", "--authority", "ga-sos+0000"}, "--authority"},
		{[]string{"--http", "127.0.0.1:0", "--nats", "http://nats1:4222"}, "--nats"},
		{[]string{"--http", busy.Addr().String()}, "couldn't listen on " + busy.Addr().String() + " (use --http"},
		{[]string{"--http", "127.0.0.1:0", "--nats-listen", busy.Addr().String()}, "--nats-listen " + busy.Addr().String() + ": "},
	} {
		// A new directory is not made; one that was there empty stays
		// empty (no key announced nowhere, no database).
		data := filepath.Join(t.TempDir(), "new")
		args := append([]string{"serve", "--data", data, "--nats-listen", "-"}, c.args...)
		code, _, stderr := cli(t, "", args...)
		if code != exitError || !strings.Contains(stderr, c.want) {
			t.Errorf("%v: exit %d: %s", args, code, stderr)
		}
		if _, err := os.Stat(data); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%v: left %s behind (%v)", args, data, err)
		}
		empty := t.TempDir()
		args[2] = empty
		if code, _, stderr := cli(t, "", args...); code != exitError || !strings.Contains(stderr, c.want) {
			t.Errorf("%v: exit %d: %s", args, code, stderr)
		}
		if ents, _ := os.ReadDir(empty); len(ents) != 0 {
			t.Errorf("%v: left %v behind in the empty directory", args, ents)
		}
	}
}

// TestCompletion: a shell without a completion script exits non-zero,
// naming the ones there are.
func TestCompletion(t *testing.T) {
	code, out, stderr := cli(t, "", "completion", "tcsh")
	if code != exitError || out != "" || !strings.Contains(stderr, `"tcsh"`) || !strings.Contains(stderr, "bash, fish, powershell, zsh") {
		t.Errorf("completion tcsh: exit %d: %s%s", code, out, stderr)
	}
	for _, shell := range []string{"bash", "zsh", "fish", "powershell"} {
		if code, out, stderr := cli(t, "", "completion", shell); code != exitOK || !strings.Contains(out, "ledger") {
			t.Errorf("completion %s: exit %d: %s", shell, code, stderr)
		}
	}
	if code, out, _ := cli(t, "", "completion"); code != exitOK || !strings.Contains(out, "Available Commands") {
		t.Errorf("completion: exit %d:\n%s", code, out)
	}
}

// TestWatchSuggestions: the watch commands the README and the demo suggest
// keep the watcher's state out of the checkout, in a directory of each
// demo's own (a second demo is a new log under a new key).
func TestWatchSuggestions(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	watch := regexp.MustCompile(`(?m)^(go run \./cmd/ledger|ledger) watch .*$`)
	found := watch.FindAll(readme, -1)
	if len(found) == 0 {
		t.Fatal("the README suggests no watch command")
	}
	for _, line := range found {
		if !bytes.Contains(line, []byte(`--state "$(mktemp -d)"`)) {
			t.Errorf("README: %s", line)
		}
	}
	var out bytes.Buffer
	dir := filepath.Join(t.TempDir(), "demo data")
	suggest(&out, "127.0.0.1:8080", dir)
	if !strings.Contains(out.String(), " --state '"+filepath.Join(dir, "watch")+"'\n") {
		t.Errorf("the demo suggests:\n%s", out.String())
	}
}
