package openelections_test

import (
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/election-audit/ledger/importer/importertest"
	"github.com/election-audit/ledger/importer/openelections"
)

// wildDir holds real files as published (shared/data/wild, beside the
// repository); importer/formats' corpus test checks their totals.
const wildDir = "../../../shared/data/wild"

// TestWildTruncations cuts five real files at 100 random offsets each: a
// cut file is refused, or else the cut fell on a line end (the format
// cannot tell a file that ends there), and never is a cut value read. The
// five have the shapes that make a cut hard to see: a last line without a
// line end (Luzerne), vote types beside votes (South Carolina), a votes
// column alone, last (New Jersey's county file), and a last column that is
// not a count (Iowa's district, Texas's percentage), which a cut would
// change without a count looking wrong.
func TestWildTruncations(t *testing.T) {
	for i, name := range []string{
		"pa/20241105__pa__general__luzerne__precinct.csv",
		"sc/20201103__sc__general__precinct.csv",
		"nj/20161108__nj__general.csv",
		"ia/20181106__ia__general__county.csv", // its last column is the district, not a count
		"tx/20121106__tx__general.csv",         // its last column is a percentage, not read as a count
	} {
		data, err := os.ReadFile(filepath.Join(wildDir, name))
		if err != nil {
			t.Skipf("the wild corpus is not here: %v", err)
		}
		rng := rand.New(rand.NewPCG(20241105, uint64(i)))
		refused, accepted := 0, 0
		for range 100 {
			n := rng.IntN(len(data))
			imp, err := openelections.Parse(strings.NewReader(string(data[:n])), filepath.Base(name), "test", openelections.Options{})
			if err != nil {
				importertest.AsError(t, err)
				refused++
				continue
			}
			accepted++
			atLineEnd := n > 0 && (data[n-1] == '\n' || data[n-1] == '\r') || data[n] == '\r' || data[n] == '\n'
			if !atLineEnd {
				t.Errorf("%s cut at byte %d of %d (…%q|%q…) imported %d reports", name, n, len(data),
					data[max(0, n-30):n], data[n:min(len(data), n+10)], len(imp.Reports))
			}
			importertest.CheckValid(t, imp)
		}
		t.Logf("%s: %d cuts refused, %d at a line end imported", name, refused, accepted)
	}
}
