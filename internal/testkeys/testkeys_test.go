package testkeys_test

import (
	"github.com/election-audit/ledger/internal/testkeys"
	"testing"
)

func TestSame(t *testing.T) {
	if testkeys.New("a").Verifier != testkeys.New("a").Verifier {
		t.Fatal()
	}
	t.Log(testkeys.Authority.Verifier)
}
