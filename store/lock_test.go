package store_test

import (
	"bufio"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/election-audit/ledger/store"
)

// lockHolderEnv, when set, makes the test binary a child that opens the
// database in that directory, says "open" and waits for its stdin to end.
const lockHolderEnv = "STORE_TEST_HOLD_LOCK"

func TestMain(m *testing.M) {
	if dir := os.Getenv(lockHolderEnv); dir != "" {
		db, err := store.Open(dir)
		if err != nil {
			os.Stderr.WriteString(err.Error() + "\n")
			os.Exit(1)
		}
		os.Stdout.WriteString("open\n")
		bufio.NewReader(os.Stdin).ReadString('\n')
		db.Close()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// TestOpenInUse: a database another process, or this one, has open is
// refused with ErrInUse, which says who may hold it; other failures are
// not taken for it.
func TestOpenInUse(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "pebble")
	child := exec.Command(os.Args[0], "-test.run=^$")
	child.Env = append(os.Environ(), lockHolderEnv+"="+dir)
	stdin, err := child.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := child.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	child.Stderr = os.Stderr
	if err := child.Start(); err != nil {
		t.Fatal(err)
	}
	defer child.Wait()
	defer stdin.Close()
	if line, err := bufio.NewReader(stdout).ReadString('\n'); err != nil || line != "open\n" {
		t.Fatalf("the child: %q, %v", line, err)
	}
	_, err = store.Open(dir)
	if !errors.Is(err, store.ErrInUse) || !strings.Contains(err.Error(), "ledger serve, rebuild or audit") {
		t.Errorf("open while another process has it: %v", err)
	}
	stdin.Close()
	if err := child.Wait(); err != nil {
		t.Fatal(err)
	}

	db, err := store.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := store.Open(dir); !errors.Is(err, store.ErrInUse) {
		t.Errorf("open while this process has it: %v", err)
	}
	db.Close()

	// Not a lock: a database under a file.
	file := filepath.Join(t.TempDir(), "file")
	os.WriteFile(file, nil, 0o600)
	if _, err := store.Open(filepath.Join(file, "pebble")); err == nil || errors.Is(err, store.ErrInUse) {
		t.Errorf("open under a file: %v", err)
	}
}
