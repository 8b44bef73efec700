package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/election-audit/ledger/client"
	"github.com/election-audit/ledger/events"
	"github.com/election-audit/ledger/examples"
	"github.com/election-audit/ledger/internal/testkeys"
	"github.com/election-audit/ledger/keys"
)

// writeKeyFile writes k's private key to a new file (mode 0600), as
// `ledger keygen` does, and returns its path, for --key.
func writeKeyFile(t *testing.T, k *keys.Key) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), k.Name()+".key")
	if err := keys.WriteNew(path, k.Private()); err != nil {
		t.Fatal(err)
	}
	return path
}

// authorityKeyFile is the key file of testkeys.Authority, the authority
// the tests' ledgers accept.
func authorityKeyFile(t *testing.T) string {
	t.Helper()
	return writeKeyFile(t, testkeys.Authority)
}

// exampleFile writes examples/ga06-2017-04.jsonl with its manifest naming
// testkeys.Authority as the election's authority (the file names none, and
// a ledger logs only a manifest signed by the authority it names), and
// returns its path. Every event keeps its ID.
func exampleFile(t *testing.T) string {
	t.Helper()
	evs, err := examples.GA06April()
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	for _, ev := range evs {
		if m, ok := ev.Body.(*events.Manifest); ok {
			m.Authority = testkeys.Authority.Verifier
		}
		enc, err := ev.Encode()
		if err != nil {
			t.Fatal(err)
		}
		b.Write(enc)
		b.WriteByte('\n')
	}
	path := filepath.Join(t.TempDir(), "ga06-2017-04.jsonl")
	if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestSubmitKeys: `ledger submit` and `ledger import` sign with --key.
// Without it they stop before sending anything, saying how to make a key;
// a key that is neither the election's authority nor registered for it is
// refused (exit 2, "not registered"), and so is a manifest naming an
// authority the ledger does not accept; nothing refused is logged.
func TestSubmitKeys(t *testing.T) {
	const election = examples.GA06AprilElection
	n, url := startLedger(t)
	example := exampleFile(t)

	code, out, errs := cli(t, "", "submit", "--server", url, example)
	if code != exitError || out != "" || !strings.Contains(errs, "--key") || !strings.Contains(errs, "ledger keygen") {
		t.Errorf("submit without --key: exit %d:\n%s%s", code, out, errs)
	}
	t.Logf("submit without --key: %s", errs)
	if size := treeSize(n, election); size != 0 {
		t.Fatalf("submit without --key logged %d entries", size)
	}

	// A key file others may read is refused, before anything is sent.
	key := authorityKeyFile(t)
	open := filepath.Join(t.TempDir(), "open.key")
	if err := os.WriteFile(open, []byte(testkeys.Authority.Private()+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if code, _, errs := cli(t, "", "submit", "--server", url, "--key", open, example); code != exitError || !strings.Contains(errs, "chmod 600") {
		t.Errorf("submit with a key file others may read: exit %d: %s", code, errs)
	}
	if size := treeSize(n, election); size != 0 {
		t.Fatalf("submit with a key file others may read logged %d entries", size)
	}

	// The authority defines the election.
	if code, out, errs := cli(t, "", "submit", "--server", url, "--key", key, example); code != exitOK {
		t.Fatalf("submit with the authority's key: exit %d:\n%s%s", code, out, errs)
	}
	size := treeSize(n, election)
	if size != 6 {
		t.Fatalf("tree size %d after the example, want 6", size)
	}

	// A new office's key, from `ledger keygen`, that the authority has not
	// registered: its count report is refused.
	stranger := filepath.Join(t.TempDir(), "stranger.key")
	code, vkey, errs := cli(t, "", "keygen", "--name", "stranger-office", "-o", stranger)
	vkey = strings.TrimSpace(vkey)
	if code != exitOK {
		t.Fatalf("keygen: exit %d: %s", code, errs)
	}
	id := uuid.Must(uuid.NewV7())
	report := `{"v":1,"type":"count.reported","id":"` + id.String() + `","election":"` + election + `","data":{"unit":"cobb","contest":"us-representative-district-6","counts":[{"choice":"jon-ossoff","vote_type":"election-day","votes":5}],"source":{"operator":"x"}}}`
	code, out, errs = cli(t, report, "submit", "--server", url, "--key", stranger)
	if code != exitRefused || !strings.Contains(errs, "not registered") || strings.Contains(out, id.String()) {
		t.Errorf("submit with an unregistered key: exit %d:\n%s%s", code, out, errs)
	}
	t.Logf("unregistered key: %s", errs)
	if got := treeSize(n, election); got != size {
		t.Errorf("the refused submission changed the tree size from %d to %d", size, got)
	}
	// The same report, signed by the authority: logged.
	if code, out, errs := cli(t, report, "submit", "--server", url, "--key", key); code != exitOK || !strings.Contains(out, "6\t"+id.String()+"\taccepted") {
		t.Errorf("the report signed by the authority: exit %d:\n%s%s", code, out, errs)
	}

	// A manifest of a new election that names the new key as its
	// authority: the ledger does not accept that authority.
	evs, err := examples.GA06April()
	if err != nil {
		t.Fatal(err)
	}
	m := evs[0]
	m.Election, m.ID = "stranger-2017", uuid.Must(uuid.NewV7())
	m.Body.(*events.Manifest).Authority = vkey
	b, err := m.Encode()
	if err != nil {
		t.Fatal(err)
	}
	code, out, errs = cli(t, string(b), "submit", "--server", url, "--key", stranger)
	if code != exitRefused || !strings.Contains(errs, "not one this ledger accepts") || !strings.Contains(errs, "--authority") {
		t.Errorf("a manifest of an authority the ledger does not accept: exit %d:\n%s%s", code, out, errs)
	}
	if treeSize(n, "stranger-2017") != 0 {
		t.Error("a manifest of an authority the ledger does not accept defined its election")
	}

	// import too needs --key, except for a dry run.
	april := "ga-sos:" + filepath.Join("..", "..", "internal", "ga06", "data", "export-2017AprSpec.json")
	code, out, errs = cli(t, "", "import", "--server", url, "--election", "nokey", april)
	if code != exitError || !strings.Contains(errs, "--key") || !strings.Contains(errs, "ledger keygen") || strings.Contains(out, "logged") {
		t.Errorf("import without --key: exit %d:\n%s%s", code, out, errs)
	}
	if treeSize(n, "nokey") != 0 {
		t.Error("import without --key logged events")
	}
	if code, out, errs = cli(t, "", "import", "--server", url, "--election", "nokey", "--dry-run", april); code != exitOK || !strings.Contains(out, "would submit") {
		t.Errorf("import --dry-run without --key: exit %d:\n%s%s", code, out, errs)
	}
	// A dry run checks the files even with no ledger to reach, and says
	// so; an import that would send needs the ledger.
	nowhere := "http://" + freeAddr(t)
	if code, out, errs = cli(t, "", "import", "--server", nowhere, "--election", "nokey", "--dry-run", april); code != exitOK ||
		!strings.Contains(out, "checked: ") || !strings.Contains(out, "would submit") || !strings.Contains(errs, "dry run without a ledger") {
		t.Errorf("import --dry-run with no ledger: exit %d:\n%s%s", code, out, errs)
	}
	if code, out, errs = cli(t, "", "import", "--server", nowhere, "--election", "nokey", "--key", key, april); code != exitError || !strings.Contains(errs, "couldn't reach the ledger") {
		t.Errorf("import with no ledger: exit %d:\n%s%s", code, out, errs)
	}
}

// syncBuffer is a bytes.Buffer that a command writes to while the test
// reads it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// serveInProcess runs `ledger serve` with args until it serves, and
// returns its API's URL, its output, and a function that stops it and
// returns its exit code.
func serveInProcess(t *testing.T, args ...string) (url string, stdout, stderr *syncBuffer, stop func() int) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	stdout, stderr = new(syncBuffer), new(syncBuffer)
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, append([]string{"serve", "--http", "127.0.0.1:0", "--nats-listen", "-"}, args...), strings.NewReader(""), stdout, stderr)
	}()
	stop = func() int {
		cancel()
		select {
		case code := <-done:
			return code
		case <-time.After(30 * time.Second):
			t.Fatal("ledger serve did not stop within 30s of its context's end")
			return -1
		}
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		if _, rest, ok := strings.Cut(stdout.String(), "serving http://"); ok {
			addr, _, _ := strings.Cut(rest, " ")
			url = "http://" + addr
			break
		}
		select {
		case code := <-done:
			cancel()
			t.Fatalf("ledger serve exited (%d) before serving:\n%s%s", code, stdout, stderr)
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			stop()
			t.Fatalf("ledger serve did not start:\n%s%s", stdout, stderr)
		}
	}
	c, err := client.New(url, nil)
	if err != nil {
		stop()
		t.Fatal(err)
	}
	for err = c.Health(ctx); err != nil; err = c.Health(ctx) {
		if time.Now().After(deadline) {
			stop()
			t.Fatalf("ledger serve at %s is not healthy: %v", url, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	return url, stdout, stderr, stop
}

// TestServeAuthority: `ledger serve` without any authority says on
// standard error how to name one, and serves anyway (refusing every
// manifest); with --authority, or a key in DATA/authorities, it names the
// authority it accepts and prints no hint.
func TestServeAuthority(t *testing.T) {
	const hint = "no election authority is accepted yet, so every manifest will be refused: restart with --authority VKEY"
	data := t.TempDir()
	key, example := authorityKeyFile(t), exampleFile(t)

	url, stdout, stderr, stop := serveInProcess(t, "--data", data)
	if !strings.Contains(stderr.String(), hint) || strings.Contains(stdout.String(), hint) || strings.Contains(stdout.String(), "election authority accepted") {
		t.Errorf("serve without an authority:\nstdout:\n%s\nstderr:\n%s", stdout, stderr)
	}
	// It serves: reads answer, and a manifest is refused, saying why.
	if code, out, errs := cli(t, "", "tally", "--server", url, "--election", examples.GA06AprilElection); code != exitError || !strings.Contains(errs, examples.GA06AprilElection) {
		t.Errorf("tally of an unknown election: exit %d:\n%s%s", code, out, errs)
	}
	if code, out, errs := cli(t, "", "submit", "--server", url, "--key", key, example); code != exitRefused || !strings.Contains(errs, "accepts no election authority yet") {
		t.Errorf("a manifest on a ledger without an authority: exit %d:\n%s%s", code, out, errs)
	}
	if code := stop(); code != exitOK {
		t.Errorf("serve without an authority exited %d after its context ended:\n%s", code, stderr)
	}

	// --authority: accepted, named on standard output, no hint.
	url, stdout, stderr, stop = serveInProcess(t, "--data", data, "--authority", testkeys.Authority.Verifier)
	if strings.Contains(stderr.String(), hint) || !strings.Contains(stdout.String(), "election authority accepted: "+testkeys.Authority.Verifier+"\n") {
		t.Errorf("serve --authority:\nstdout:\n%s\nstderr:\n%s", stdout, stderr)
	}
	if code, out, errs := cli(t, "", "submit", "--server", url, "--key", key, example); code != exitOK {
		t.Errorf("a manifest of the accepted authority: exit %d:\n%s%s", code, out, errs)
	}
	if code := stop(); code != exitOK {
		t.Errorf("serve --authority exited %d after its context ended:\n%s", code, stderr)
	}

	// DATA/authorities, without --authority.
	if err := os.WriteFile(filepath.Join(data, "authorities"), []byte("# the test authority\n"+testkeys.Authority.Verifier+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, stdout, stderr, stop = serveInProcess(t, "--data", data)
	if strings.Contains(stderr.String(), hint) || !strings.Contains(stdout.String(), "election authority accepted: "+testkeys.Authority.Verifier+"\n") {
		t.Errorf("serve with DATA/authorities:\nstdout:\n%s\nstderr:\n%s", stdout, stderr)
	}
	if code := stop(); code != exitOK {
		t.Errorf("serve with DATA/authorities exited %d after its context ended:\n%s", code, stderr)
	}
}
