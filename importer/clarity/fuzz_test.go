package clarity_test

import (
	"bytes"
	"errors"
	"testing"

	"github.com/election-audit/ledger/importer"
	"github.com/election-audit/ledger/importer/clarity"
	"github.com/election-audit/ledger/importer/importertest"
)

// FuzzParse checks that Parse never panics, that every refusal is an
// *importer.Error (a refusal by events' own rules would mean the importer
// let something through that it should have named itself), and that
// whatever it accepts passes importer.Check and validates as events.
func FuzzParse(f *testing.F) {
	f.Add(readFile(f, "atkinson_precincts_2020-11-03_GA_G_P.xml"))
	f.Add([]byte(sample))
	f.Add([]byte(""))
	f.Add([]byte("<ElectionResult/>"))
	for _, tc := range hostile(f) {
		f.Add([]byte(tc.input))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		imp, err := clarity.Parse(bytes.NewReader(data), "fuzz.xml", "fuzz", nil)
		if err != nil {
			var e *importer.Error
			if !errors.As(err, &e) {
				t.Fatalf("refused with %T, not a *importer.Error: %v", err, err)
			}
			return
		}
		if err := importer.Check("fuzz.xml", imp); err != nil {
			t.Fatalf("accepted an import that fails importer.Check: %v", err)
		}
		importertest.CheckValid(t, imp)
	})
}
