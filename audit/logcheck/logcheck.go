// Package logcheck holds the checks of an election's log that need no copy
// of it: a proof against signed checkpoints ([CheckConsistency],
// [CheckInclusion]), an entry against the signed submission it came in
// ([OriginChecker]), and what an entry changed in the counts ([Change]).
//
// Package audit runs them over a whole stored log; a monitor (package
// watch) runs them one entry at a time, on what a ledger serves over
// HTTP. This package links neither the ledger's database nor its broker,
// so neither does a monitor: keep it so (TestStaysLight).
//
// # Guarantees
//
// Every check is a pure function of the bytes it is given and the keys
// the caller trusts; a failure at one place of one log is a
// *[MismatchError] naming the election and the index, and a proof that
// does not verify is an error wrapping [ErrProofFailed].
package logcheck

import "fmt"

// MismatchError is a verification failure at one place of one log.
type MismatchError struct {
	Election string
	Index    uint64 // the entry, tree size or checkpoint size at fault
	What     string // what differs
}

func (e *MismatchError) Error() string {
	return fmt.Sprintf("%s: index %d: %s", e.Election, e.Index, e.What)
}
