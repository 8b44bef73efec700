package logcheck

import (
	"errors"
	"fmt"
	"math"

	"golang.org/x/mod/sumdb/tlog"

	"github.com/election-audit/ledger/checkpoint"
	"github.com/election-audit/ledger/wire"
)

// ErrProofFailed is wrapped by every error of a proof that does not verify.
var ErrProofFailed = errors.New("proof does not verify")

// CheckInclusion checks p against a verified checkpoint: same size, and
// the audit path leads from p.LeafHash to the checkpoint's root. It trusts
// nothing else in p; the caller checks that p.LeafHash is
// tlog.RecordHash of the entry it cares about.
func CheckInclusion(p *wire.InclusionProof, cp checkpoint.Checkpoint) error {
	if p.Size != cp.Size {
		return fmt.Errorf("%w: it is for a tree of size %d, the checkpoint for size %d", ErrProofFailed, p.Size, cp.Size)
	}
	if p.Size > math.MaxInt64 || p.Index >= p.Size {
		return fmt.Errorf("%w: index %d is not in a tree of size %d", ErrProofFailed, p.Index, p.Size)
	}
	if p.Root != cp.Root {
		return fmt.Errorf("%w: it claims root %s, the signed checkpoint has %s", ErrProofFailed, p.Root, cp.Root)
	}
	if err := tlog.CheckRecord(p.Hashes, int64(p.Size), cp.Root, int64(p.Index), p.LeafHash); err != nil {
		return fmt.Errorf("%w: entry %d with leaf hash %s is not in the signed tree of size %d: %v", ErrProofFailed, p.Index, p.LeafHash, p.Size, err)
	}
	return nil
}

// CheckConsistency checks p against two verified checkpoints of the same
// log: the tree of from is a prefix of the tree of to.
func CheckConsistency(p *wire.ConsistencyProof, from, to checkpoint.Checkpoint) error {
	if p.From != from.Size || p.To != to.Size {
		return fmt.Errorf("%w: it is for sizes %d and %d, the checkpoints for %d and %d", ErrProofFailed, p.From, p.To, from.Size, to.Size)
	}
	if from.Origin != to.Origin {
		return fmt.Errorf("%w: the checkpoints are of two logs, %s and %s", ErrProofFailed, from.Origin, to.Origin)
	}
	if p.From < 1 || p.From > p.To || p.To > math.MaxInt64 {
		return fmt.Errorf("%w: sizes %d and %d are not 1 ≤ from ≤ to", ErrProofFailed, p.From, p.To)
	}
	if p.FromRoot != from.Root || p.ToRoot != to.Root {
		return fmt.Errorf("%w: it claims roots %s and %s, the signed checkpoints have %s and %s", ErrProofFailed, p.FromRoot, p.ToRoot, from.Root, to.Root)
	}
	if err := tlog.CheckTree(p.Hashes, int64(p.To), to.Root, int64(p.From), from.Root); err != nil {
		return fmt.Errorf("%w: the tree of size %d is not a prefix of the tree of size %d: %v", ErrProofFailed, p.From, p.To, err)
	}
	return nil
}
