package formats_test

import (
	"io/fs"
	"strings"
	"testing"

	"github.com/election-audit/ledger/importer/formats"
	"github.com/election-audit/ledger/internal/ga06"
)

func ga06File(t *testing.T, name string) formats.File {
	t.Helper()
	data, err := fs.ReadFile(ga06.Files(), name)
	if err != nil {
		t.Fatal(err)
	}
	return formats.File{Name: name, Data: data}
}

func TestParse(t *testing.T) {
	var csvs []formats.File
	for _, n := range ga06.PrecinctFiles {
		csvs = append(csvs, ga06File(t, n))
	}
	imp, err := formats.Parse(formats.OpenElections, csvs, ga06.JuneElection, formats.Options{})
	if err != nil || len(imp.Manifest.Units) != 212 {
		t.Fatalf("openelections: %v", err)
	}
	imp, err = formats.Parse(formats.GASOS, []formats.File{ga06File(t, ga06.AprilFile)}, ga06.AprilElection, formats.Options{})
	if err != nil || len(imp.Reports) == 0 {
		t.Fatalf("ga-sos: %v", err)
	}
	// The same export twice merges into one manifest and both reports.
	imp, err = formats.Parse(formats.GASOS, []formats.File{ga06File(t, ga06.JuneFile), ga06File(t, ga06.JuneFile)}, ga06.JuneElection, formats.Options{})
	if err != nil || len(imp.Manifest.Contests) != 1 || len(imp.Reports) != 6 {
		t.Fatalf("ga-sos twice: %v", err)
	}
	if _, err := formats.Parse("excel", csvs, ga06.JuneElection, formats.Options{}); err == nil || !strings.Contains(err.Error(), "openelections, ga-sos, clarity, nist") {
		t.Fatalf("unknown format: %v", err)
	}
	if _, err := formats.Parse(formats.Clarity, csvs[:1], ga06.JuneElection, formats.Options{}); err == nil || !strings.Contains(err.Error(), csvs[0].Name) {
		t.Fatalf("a CSV read as Clarity XML: %v", err)
	}
}
