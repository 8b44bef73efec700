package gasos_test

import (
	"bytes"
	"errors"
	"testing"

	"github.com/election-audit/ledger/importer"
	"github.com/election-audit/ledger/importer/gasos"
	"github.com/election-audit/ledger/importer/importertest"
	"github.com/election-audit/ledger/internal/ga06"
)

// FuzzParse checks that Parse never panics, that every refusal is an
// *importer.Error (a refusal by events' own rules would mean the importer let
// something through that it should have named itself), and that whatever
// it accepts validates as events.
func FuzzParse(f *testing.F) {
	// The April export (43 KB) is left out: large seeds slow the fuzzer
	// down, and the tests above parse it.
	f.Add(readEmbedded(f, ga06.JuneFile))
	f.Add([]byte(sample))
	f.Add([]byte(""))
	f.Add([]byte("{}"))
	for _, tc := range hostile(f) {
		if tc.name != "truncated" { // a 20 KB prefix of April
			f.Add([]byte(tc.input))
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		imp, err := gasos.Parse(bytes.NewReader(data), "fuzz.json", "fuzz")
		if err != nil {
			var e *importer.Error
			if !errors.As(err, &e) {
				t.Fatalf("refused with %T, not a *importer.Error: %v", err, err)
			}
			return
		}
		importertest.CheckValid(t, imp)
	})
}
