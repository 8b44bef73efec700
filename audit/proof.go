package audit

// Inclusion and consistency proofs: built from a log's stored hashes and
// checked against the root of a signed checkpoint, so that a verifier needs
// the proof, the checkpoint and the key, not the log.

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"math"
	"strconv"
	"strings"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/election-audit/ledger/audit/logcheck"
	"github.com/election-audit/ledger/checkpoint"
	"github.com/election-audit/ledger/wire"
)

// ErrProofFailed is wrapped by every error of a proof that does not verify
// ([logcheck.ErrProofFailed]).
var ErrProofFailed = logcheck.ErrProofFailed

// InclusionProof proves that the entry at Index, whose RFC 6962 leaf hash
// is LeafHash, is in the tree of Size entries with root Root. Hashes is the
// RFC 6962 §2.1.1 audit path, from the leaf's sibling up to the root's child.
type InclusionProof = wire.InclusionProof

// ConsistencyProof proves that the tree of From entries (root FromRoot) is
// a prefix of the tree of To entries (root ToRoot). Hashes is the RFC 6962
// §2.1.2 consistency proof.
type ConsistencyProof = wire.ConsistencyProof

// ProveInclusion builds the inclusion proof of entry index in the tree of
// size entries from the log's stored hashes (see tlog.StoredHashIndex).
func ProveInclusion(r tlog.HashReader, size, index uint64) (*InclusionProof, error) {
	if size > math.MaxInt64 || index >= size {
		return nil, fmt.Errorf("couldn't prove inclusion: index %d is not in a tree of size %d", index, size)
	}
	leaf, err := r.ReadHashes([]int64{tlog.StoredHashIndex(0, int64(index))})
	if err != nil {
		return nil, fmt.Errorf("couldn't read the leaf hash of entry %d: %w", index, err)
	}
	if len(leaf) != 1 {
		return nil, fmt.Errorf("couldn't read the leaf hash of entry %d: got %d hashes", index, len(leaf))
	}
	p, err := tlog.ProveRecord(int64(size), int64(index), r)
	if err != nil {
		return nil, fmt.Errorf("couldn't prove inclusion of entry %d in the tree of size %d: %w", index, size, err)
	}
	root, err := tlog.TreeHash(int64(size), r)
	if err != nil {
		return nil, fmt.Errorf("couldn't compute the root at size %d: %w", size, err)
	}
	return &InclusionProof{Index: index, Size: size, LeafHash: leaf[0], Hashes: nonNil(p), Root: root}, nil
}

// ProveConsistency builds the consistency proof between the trees of from
// and to entries, 1 ≤ from ≤ to.
func ProveConsistency(r tlog.HashReader, from, to uint64) (*ConsistencyProof, error) {
	if from < 1 || from > to || to > math.MaxInt64 {
		return nil, fmt.Errorf("couldn't prove consistency: sizes %d and %d are not 1 ≤ from ≤ to", from, to)
	}
	p, err := tlog.ProveTree(int64(to), int64(from), r)
	if err != nil {
		return nil, fmt.Errorf("couldn't prove consistency of sizes %d and %d: %w", from, to, err)
	}
	fromRoot, err := tlog.TreeHash(int64(from), r)
	if err != nil {
		return nil, fmt.Errorf("couldn't compute the root at size %d: %w", from, err)
	}
	toRoot, err := tlog.TreeHash(int64(to), r)
	if err != nil {
		return nil, fmt.Errorf("couldn't compute the root at size %d: %w", to, err)
	}
	return &ConsistencyProof{From: from, To: to, Hashes: nonNil(p), FromRoot: fromRoot, ToRoot: toRoot}, nil
}

// nonNil makes an empty proof encode as [] rather than null.
func nonNil(h []tlog.Hash) []tlog.Hash {
	if h == nil {
		return []tlog.Hash{}
	}
	return h
}

// CheckInclusion checks p against a verified checkpoint: same size, and
// the audit path leads from p.LeafHash to the checkpoint's root. It trusts
// nothing else in p; the caller checks that p.LeafHash is
// tlog.RecordHash of the entry it cares about. It is
// [logcheck.CheckInclusion].
func CheckInclusion(p *InclusionProof, cp checkpoint.Checkpoint) error {
	return logcheck.CheckInclusion(p, cp)
}

// CheckConsistency checks p against two verified checkpoints of the same
// log: the tree of from is a prefix of the tree of to. It is
// [logcheck.CheckConsistency].
func CheckConsistency(p *ConsistencyProof, from, to checkpoint.Checkpoint) error {
	return logcheck.CheckConsistency(p, from, to)
}

// TLogProofHeader is the first line of a C2SP tlog-proof.
const TLogProofHeader = "c2sp.org/tlog-proof@v1"

// TLogProof is a C2SP tlog-proof (https://c2sp.org/tlog-proof): an
// entry's index, its inclusion proof, and the signed checkpoint of the tree
// the proof leads to.
type TLogProof struct {
	Extra      []byte // opaque and unauthenticated; nil if absent
	Index      uint64
	Hashes     []tlog.Hash
	Checkpoint []byte // the signed note, verbatim
}

// Marshal encodes the proof in the text format of the spec.
func (p *TLogProof) Marshal() []byte {
	var b bytes.Buffer
	b.WriteString(TLogProofHeader + "\n")
	if p.Extra != nil {
		b.WriteString("extra " + base64.StdEncoding.EncodeToString(p.Extra) + "\n")
	}
	b.WriteString("index " + strconv.FormatUint(p.Index, 10) + "\n")
	for _, h := range p.Hashes {
		b.WriteString(h.String() + "\n")
	}
	b.WriteString("\n")
	b.Write(p.Checkpoint)
	return b.Bytes()
}

// ParseTLogProof decodes a C2SP tlog-proof. It checks the format only; see
// [VerifyTLogProof].
func ParseTLogProof(data []byte) (*TLogProof, error) {
	bad := func(format string, args ...any) (*TLogProof, error) {
		return nil, fmt.Errorf("malformed tlog-proof: "+format, args...)
	}
	head, cp, ok := bytes.Cut(data, []byte("\n\n"))
	if !ok {
		return bad("no empty line before the checkpoint")
	}
	lines := strings.Split(string(head), "\n")
	if lines[0] != TLogProofHeader {
		return bad("first line is %q, want %q", lines[0], TLogProofHeader)
	}
	lines = lines[1:]
	p := &TLogProof{Checkpoint: cp}
	if len(lines) > 0 && strings.HasPrefix(lines[0], "extra ") {
		extra, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(lines[0], "extra "))
		if err != nil {
			return bad("extra data is not base64: %v", err)
		}
		p.Extra, lines = extra, lines[1:]
	}
	if len(lines) == 0 || !strings.HasPrefix(lines[0], "index ") {
		return bad("no index line")
	}
	s := strings.TrimPrefix(lines[0], "index ")
	n, err := strconv.ParseUint(s, 10, 64)
	if err != nil || strconv.FormatUint(n, 10) != s {
		return bad("index %q is not a decimal number without leading zeros", s)
	}
	p.Index = n
	for i, l := range lines[1:] {
		h, err := tlog.ParseHash(l)
		if err != nil {
			return bad("proof line %d is not a base64 SHA-256 hash: %q", i+1, l)
		}
		p.Hashes = append(p.Hashes, h)
	}
	if len(cp) == 0 {
		return bad("no checkpoint after the empty line")
	}
	return p, nil
}

// VerifyTLogProof checks a C2SP tlog-proof of entry, offline: the
// checkpoint is signed by v for origin, and the proof leads from the leaf
// hash of entry (its exact bytes) at the proof's index to the checkpoint's
// root. It returns the parsed proof and the verified checkpoint.
func VerifyTLogProof(data, entry []byte, origin string, v note.Verifier) (*TLogProof, checkpoint.Checkpoint, error) {
	p, err := ParseTLogProof(data)
	if err != nil {
		return nil, checkpoint.Checkpoint{}, err
	}
	cp, err := checkpoint.Open(p.Checkpoint, origin, v)
	if err != nil {
		return nil, checkpoint.Checkpoint{}, err
	}
	ip := &InclusionProof{Index: p.Index, Size: cp.Size, LeafHash: tlog.RecordHash(entry), Hashes: p.Hashes, Root: cp.Root}
	if err := CheckInclusion(ip, cp); err != nil {
		return nil, checkpoint.Checkpoint{}, err
	}
	return p, cp, nil
}
