package openelections_test

import (
	"bytes"
	"errors"
	"testing"

	"github.com/election-audit/ledger/importer"
	"github.com/election-audit/ledger/importer/importertest"
	"github.com/election-audit/ledger/importer/openelections"
)

// FuzzParse checks that Parse never panics, that every refusal is an
// *importer.Error (a refusal by events' own rules, which importer.Check
// wraps, would mean the parser let through something it should have named
// itself), and that whatever it accepts validates as events.
func FuzzParse(f *testing.F) {
	f.Add(readEmbedded(f, runoffFiles[1]))
	f.Add([]byte(sample))
	f.Add([]byte(""))
	f.Add([]byte("county,office,candidate,votes\nA,B,C,1\n"))
	f.Add([]byte("county,precinct,office,candidate,votes,early_voting\nA,,Voters,Registered,1,\nA,P,Ballots Cast,,2,1\nA,P,X,Over Votes,,3\n"))
	for _, tc := range hostile(f) {
		f.Add([]byte(tc.input))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		imp, err := openelections.Parse(bytes.NewReader(data), "20200101__ga__fuzz.csv", "fuzz", openelections.Options{})
		if err != nil {
			var e *importer.Error
			if !errors.As(err, &e) {
				t.Fatalf("refused with %T, not a *importer.Error: %v", err, err)
			}
			if imp != nil {
				t.Fatal("an import came back with the error")
			}
			return
		}
		importertest.CheckValid(t, imp)
	})
}
