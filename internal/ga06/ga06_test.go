package ga06_test

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"io/fs"
	"strings"
	"testing"

	"github.com/election-audit/ledger/importer"
	"github.com/election-audit/ledger/internal/ga06"
)

// TestSHA256SUMS checks every embedded file against data/SHA256SUMS, and that
// every data file is listed there.
func TestSHA256SUMS(t *testing.T) {
	files := ga06.Files()
	sums, err := fs.ReadFile(files, "SHA256SUMS")
	if err != nil {
		t.Fatal(err)
	}
	listed := map[string]bool{}
	sc := bufio.NewScanner(bytes.NewReader(sums))
	for sc.Scan() {
		want, name, ok := strings.Cut(sc.Text(), "  ")
		if !ok || len(want) != 64 {
			t.Fatalf("SHA256SUMS: malformed line %q", sc.Text())
		}
		listed[name] = true
		b, err := fs.ReadFile(files, name)
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		got := sha256.Sum256(b)
		if hex.EncodeToString(got[:]) != want {
			t.Errorf("%s: sha256 %x, SHA256SUMS says %s", name, got, want)
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if len(listed) != 5 {
		t.Errorf("SHA256SUMS lists %d files, want 5", len(listed))
	}
	entries, err := fs.ReadDir(files, ".")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if name := e.Name(); name != "SHA256SUMS" && name != "SOURCES.md" && !listed[name] {
			t.Errorf("%s is not listed in SHA256SUMS", name)
		}
	}
	if _, err := fs.Stat(files, "SOURCES.md"); err != nil {
		t.Error(err)
	}
}

// TestAprilJune parses both exports and checks that the reports name the
// embedded file and its hash.
func TestAprilJune(t *testing.T) {
	for _, tc := range []struct {
		parse    func() (*importer.Import, error)
		election string
		file     string
		date     string
		reports  int
	}{
		{ga06.April, ga06.AprilElection, ga06.AprilFile, "2017-04-18", 5},
		{ga06.June, ga06.JuneElection, ga06.JuneFile, "2017-06-20", 3},
	} {
		imp, err := tc.parse()
		if err != nil {
			t.Fatal(err)
		}
		if imp.Election != tc.election || imp.Manifest.Date != tc.date || len(imp.Reports) != tc.reports {
			t.Errorf("%s: election %q, date %q, %d reports; want %q, %s, %d",
				tc.file, imp.Election, imp.Manifest.Date, len(imp.Reports), tc.election, tc.date, tc.reports)
		}
		b, err := fs.ReadFile(ga06.Files(), tc.file)
		if err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256(b)
		for _, r := range imp.Reports {
			if r.Source.File != tc.file || r.Source.SHA256 != hex.EncodeToString(sum[:]) {
				t.Errorf("%s: report %s/%s has source %+v", tc.file, r.Unit, r.Contest, r.Source)
			}
		}
	}
}
