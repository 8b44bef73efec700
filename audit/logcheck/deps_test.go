package logcheck_test

import (
	"testing"

	"github.com/election-audit/ledger/internal/lightdeps"
)

// TestStaysLight: the checks a monitor runs link neither the ledger's
// database nor its broker, nor package audit, which does.
func TestStaysLight(t *testing.T) { lightdeps.Check(t, "audit/logcheck") }
