package node

import (
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/election-audit/ledger/store"
)

func TestPrepareDataDir(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	if created, err := prepareDataDir(dir); err != nil || created != dir {
		t.Fatalf("created %q, %v; want %q", created, err, dir)
	}
	if fi, err := os.Stat(dir); err != nil || fi.Mode().Perm() != 0o700 {
		t.Fatalf("created with %v, %v; want mode 0700", fi.Mode().Perm(), err)
	}
	for _, mode := range []os.FileMode{0o770, 0o707, 0o777} {
		if err := os.Chmod(dir, mode); err != nil {
			t.Fatal(err)
		}
		if _, err := prepareDataDir(dir); err == nil || !strings.Contains(err.Error(), "writable by group or others") {
			t.Errorf("mode %v: %v", mode, err)
		}
	}
	for _, mode := range []os.FileMode{0o755, 0o750, 0o700} {
		if err := os.Chmod(dir, mode); err != nil {
			t.Fatal(err)
		}
		if created, err := prepareDataDir(dir); err != nil || created != "" {
			t.Errorf("mode %v: created %q, %v", mode, created, err)
		}
	}
	file := filepath.Join(t.TempDir(), "file")
	os.WriteFile(file, nil, 0o600)
	if _, err := prepareDataDir(file); err == nil {
		t.Error("a file accepted as the data directory")
	}
	// The topmost directory made is the one a failed start removes.
	top := filepath.Join(t.TempDir(), "a")
	if created, err := prepareDataDir(filepath.Join(top, "b", "c")); err != nil || created != top {
		t.Errorf("created %q, %v; want %q", created, err, top)
	}
}

// TestOpenChecksFirst: a listen address, an authority or a NATS URL that
// cannot work is refused before the data directory or its key is made.
func TestOpenChecksFirst(t *testing.T) {
	ctx := context.Background()
	creds := filepath.Join(t.TempDir(), "ledger.creds")
	os.WriteFile(creds, []byte("x"), 0o600)
	for _, c := range []struct {
		cfg  Config
		want string
	}{
		{Config{HTTP: "999.1.1.1:0"}, `HTTP listen address "999.1.1.1:0"`},
		{Config{HTTP: "127.0.0.1:99999"}, "--http HOST:PORT"},
		{Config{HTTP: "127.0.0.1"}, "missing port"},
		{Config{Authorities: []string{"not-a-key"}}, "--authority"},
		{Config{NATSURL: "http://nats1:4222"}, "scheme must be nats, tls, ws or wss"},
		{Config{NATSURL: "nats://nats1:4222,,ws://nats2:80"}, "cannot be mixed"},
		{Config{NATSURL: "nats://user:s3cret@:4222"}, "no host"},
		{Config{NATSURL: "nats1:70000"}, "port must be"},
		{Config{NATSURL: " , "}, "no URL"},
		{Config{NATSCreds: creds}, "give its URL with --nats"},
		{Config{NATSURL: "nats://nats1", NATSCreds: creds + ".missing"}, "--nats-creds"},
	} {
		parent := filepath.Join(t.TempDir(), "new")
		c.cfg.DataDir = filepath.Join(parent, "data")
		c.cfg.NATSListen = "-"
		n, err := Open(ctx, c.cfg)
		if err == nil {
			n.Close(ctx)
			t.Errorf("%+v: opened", c.cfg)
			continue
		}
		if !strings.Contains(err.Error(), c.want) || strings.Contains(err.Error(), "s3cret") {
			t.Errorf("%+v: %v, want %q", c.cfg, err, c.want)
		}
		if _, serr := os.Stat(parent); !errors.Is(serr, os.ErrNotExist) {
			t.Errorf("%+v: %v; %s made anyway: %v", c.cfg, err, parent, serr)
		}
	}
}

// TestOpenFailedRemovesWhatItMade: a start that fails once the data
// directory is made (here the HTTP port is taken) removes the directories
// it made, key and database with them, and leaves one that was there.
func TestOpenFailedRemovesWhatItMade(t *testing.T) {
	ctx := context.Background()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	base := t.TempDir()
	parent := filepath.Join(base, "new")
	_, err = Open(ctx, Config{DataDir: filepath.Join(parent, "data"), HTTP: ln.Addr().String(), NATSListen: "-"})
	if err == nil || !strings.Contains(err.Error(), "couldn't listen") {
		t.Fatalf("opened on a port in use: %v", err)
	}
	if ents, _ := os.ReadDir(base); len(ents) != 0 {
		t.Errorf("left behind: %v", ents)
	}
	existing := filepath.Join(base, "existing")
	if err := os.Mkdir(existing, 0o700); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(ctx, Config{DataDir: existing, HTTP: ln.Addr().String(), NATSListen: "-"}); err == nil {
		t.Fatal("opened on a port in use")
	}
	if _, err := os.Stat(existing); err != nil {
		t.Errorf("the data directory that was there: %v", err)
	}
	if ents, _ := os.ReadDir(existing); len(ents) != 0 {
		t.Errorf("left behind in the empty data directory that was there, after the port in use: %v", ents)
	}
	// A start that fails once the directory is in use (no NATS server
	// where one is named) leaves the empty directory empty.
	down := ln.Addr().String()
	ln.Close()
	if _, err := Open(ctx, Config{DataDir: existing, HTTP: "-", NATSURL: "nats://" + down}); err == nil {
		t.Fatal("opened with no NATS server")
	}
	if ents, _ := os.ReadDir(existing); len(ents) != 0 {
		t.Errorf("left behind in the empty data directory that was there, after no NATS server: %v", ents)
	}
}

// TestOpenInUse: a second ledger on a data directory in use says so, and
// how to go on; the directory and its key stay.
func TestOpenInUse(t *testing.T) {
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "data")
	n, err := Open(ctx, Config{DataDir: dir, HTTP: "-", NATSListen: "-"})
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close(ctx)
	_, err = Open(ctx, Config{DataDir: dir, HTTP: "-", NATSListen: "-"})
	var inUse *DataInUseError
	if !errors.As(err, &inUse) || !errors.Is(err, store.ErrInUse) ||
		err.Error() != "another ledger process (serve, rebuild, …) is using "+dir+": stop it, or use another --data" {
		t.Fatalf("second Open: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "ledger.key")); err != nil {
		t.Errorf("the key of the ledger in use: %v", err)
	}
}

func TestLoopback(t *testing.T) {
	for addr, want := range map[string]bool{
		"127.0.0.1:8080": true, "localhost:8080": true, "[::1]:8080": true, "127.1.2.3:80": true,
		"0.0.0.0:8080": false, ":8080": false, "10.0.0.5:8080": false, "[::]:8080": false, "example.org:80": false, "bad": false,
	} {
		if got := Loopback(addr); got != want {
			t.Errorf("Loopback(%q) = %v, want %v", addr, got, want)
		}
	}
}
