package nist_test

import (
	"bytes"
	"errors"
	"testing"

	"github.com/election-audit/ledger/importer"
	"github.com/election-audit/ledger/importer/importertest"
	"github.com/election-audit/ledger/importer/nist"
)

// FuzzParse checks that Parse never panics, that every refusal is an
// *importer.Error, and that whatever it accepts passes importer.Check and
// validates as events.
func FuzzParse(f *testing.F) {
	f.Add([]byte(sample))
	f.Add([]byte(cycleDoc(f)))
	f.Add([]byte("{}"))
	// The NIST example (26 KB) is left out: large seeds make the fuzzer
	// spend its time minimizing, and the tests above parse it.
	for _, tc := range hostile(f) {
		if len(tc.input) < 8<<10 {
			f.Add([]byte(tc.input))
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		imp, err := nist.Parse(bytes.NewReader(data), "fuzz.json", "fuzz")
		if err != nil {
			var e *importer.Error
			if !errors.As(err, &e) {
				t.Fatalf("refused with %T, not a *importer.Error: %v", err, err)
			}
			return
		}
		if err := importer.Check("fuzz.json", imp); err != nil {
			t.Fatalf("accepted an import that fails importer.Check: %v", err)
		}
		importertest.CheckValid(t, imp)
	})
}
