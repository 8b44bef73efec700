package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/election-audit/ledger/keys"
)

func TestKeygen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "cobb.key")
	code, out, errs := cli(t, "", "keygen", "--name", "cobb-elections", "-o", path)
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, errs)
	}
	vkey := strings.TrimSpace(out)
	if !strings.HasPrefix(vkey, "cobb-elections+") || strings.Count(out, "\n") != 1 {
		t.Errorf("stdout %q: want the verifier key alone", out)
	}
	secret, _ := os.ReadFile(path)
	if strings.Contains(out+errs, strings.TrimSpace(string(secret))) || strings.Contains(out+errs, "PRIVATE") {
		t.Error("the private key was printed")
	}
	if _, got, err := keys.Load(path); err != nil || got != vkey {
		t.Errorf("the file's key %q, %v; printed %q", got, err, vkey)
	}
	if code, _, errs := cli(t, "", "keygen", "--name", "cobb-elections", "-o", path); code != exitError || !strings.Contains(errs, "never overwritten") {
		t.Errorf("second keygen to the same file: exit %d: %s", code, errs)
	}
	if code, _, errs := cli(t, "", "keygen", "--name", "two words", "-o", path+"2"); code != exitError || !strings.Contains(errs, "without spaces") {
		t.Errorf("bad name: exit %d: %s", code, errs)
	}
	if code, _, errs := cli(t, "", "keygen", "--name", "x"); code != exitError || !strings.Contains(errs, "-o FILE") {
		t.Errorf("no file: exit %d: %s", code, errs)
	}
	if _, err := os.Stat(path + "2"); err == nil {
		t.Error("a bad name left a file")
	}
}
