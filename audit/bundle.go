package audit

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/transparency-dev/merkle/compact"
	"github.com/transparency-dev/merkle/rfc6962"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/election-audit/ledger/audit/logcheck"
	"github.com/election-audit/ledger/checkpoint"
	"github.com/election-audit/ledger/events"
	"github.com/election-audit/ledger/store"
)

// A court bundle is one POSIX ustar file holding entries [0, N) of one
// election's log exactly as stored, the signed checkpoint at N (and the
// ledger's earlier ones), the verifier key, the manifest, the tally at N and
// a plain-text note on how to verify it by hand. [WriteBundle] makes one and
// [VerifyBundle] checks one with nothing else. docs/bundle.md is the
// specification; the constants below are persisted names.
const (
	BundleFormat         = "election-audit-bundle" // bundle.json "format"
	BundleVersion        = 3                       // bundle.json "version"; 2 added the signed submissions, 3 the log keys and manifests in parts
	BundleEntriesPerFile = 4096                    // entries per entries/ member
)

// Member names, in the order they appear; entries/ members follow.
const (
	memberReadme     = "README.txt"
	memberIndex      = "bundle.json"
	memberKey        = "key.txt"
	memberCheckpoint = "checkpoint.txt"
	memberEarlier    = "earlier-checkpoints.txt"
	memberManifest   = "manifest.json"
	memberTally      = "tally.json"
)

// entriesMember names the member holding entries from first.
func entriesMember(first uint64) string { return fmt.Sprintf("entries/%020d.jsonl", first) }

// submissionMember names the member holding the signed submission whose
// bytes have SHA-256 sum. Each submission is in the bundle once, just
// before the entries member of the first entry it gave.
func submissionMember(sum [32]byte) string {
	return "submissions/" + hex.EncodeToString(sum[:]) + ".txt"
}

// isSubmissionMember reports whether name is a submissionMember, and its
// SHA-256.
func isSubmissionMember(name string) ([32]byte, bool) {
	var sum [32]byte
	h, ok := strings.CutPrefix(name, "submissions/")
	h, ok2 := strings.CutSuffix(h, ".txt")
	if !ok || !ok2 || len(h) != 64 || strings.ToLower(h) != h {
		return sum, false
	}
	_, err := hex.Decode(sum[:], []byte(h))
	return sum, err == nil
}

// Size limits a verifier applies before reading a member into memory. A
// ledger never writes anything larger.
const (
	maxReadme      = 1 << 20
	maxIndexSize   = 64 << 20
	maxKeySize     = 4 << 10
	maxNoteSize    = 64 << 10
	maxTallySize   = 1 << 30
	MaxBundleEntry = events.MaxEntrySize // an entry's bytes: what a tlog-tiles entry bundle can hold
)

// ustar limits: an 11-digit octal size, a 100-byte name.
const (
	blockSize     = 512
	maxMemberSize = 1<<33 - 1
)

// Errors a bundle can be refused with; match them with errors.Is.
var (
	// ErrWrongKey: the bundle is signed with another key than the one required.
	ErrWrongKey = errors.New("the bundle is not signed by the required key")
	// ErrPastEnd: a size past the end of the log was asked for.
	ErrPastEnd = errors.New("past the end of the log")
)

// BundleError is a fault found in a bundle: the member at fault ("" for the
// archive as a whole) and, when one entry is at fault, its index.
type BundleError struct {
	Member   string
	Index    uint64 // the entry at fault, when HasIndex
	HasIndex bool
	What     string
	Err      error // a sentinel such as ErrWrongKey, or nil
}

func (e *BundleError) Error() string {
	var b strings.Builder
	b.WriteString("bundle")
	if e.Member != "" {
		b.WriteString(" member " + e.Member)
	}
	if e.HasIndex {
		fmt.Fprintf(&b, ": entry %d", e.Index)
	}
	b.WriteString(": " + e.What)
	return b.String()
}

func (e *BundleError) Unwrap() error { return e.Err }

func memberErr(member, format string, args ...any) *BundleError {
	return &BundleError{Member: member, What: fmt.Sprintf(format, args...)}
}

func entryErr(index uint64, format string, args ...any) *BundleError {
	return &BundleError{Member: entriesMember(index / BundleEntriesPerFile * BundleEntriesPerFile), Index: index, HasIndex: true, What: fmt.Sprintf(format, args...)}
}

// NoCheckpointError is returned for a bundle asked at a size the ledger
// signed no checkpoint for. Before and After are the nearest sizes that have
// one (0 when there is none).
type NoCheckpointError struct {
	Election      string
	Size          uint64
	Before, After uint64
}

func (e *NoCheckpointError) Error() string {
	var near []string
	if e.Before > 0 {
		near = append(near, strconv.FormatUint(e.Before, 10))
	}
	if e.After > 0 {
		near = append(near, strconv.FormatUint(e.After, 10))
	}
	return fmt.Sprintf("no signed checkpoint of %s at size %d (the ledger signs at the end of each step, not at every size); nearest sizes with one: %s",
		e.Election, e.Size, strings.Join(near, " and "))
}

// BundleInfo describes a bundle that was written or verified.
type BundleInfo struct {
	Election    string
	Size        uint64    // N: the bundle holds entries [0, N)
	Root        tlog.Hash // of entries [0, N), as signed
	Key         string    // the verifier key in the bundle: the log key of the election
	Checkpoints int       // signed checkpoints checked, the one at N included
	Tally       []byte    // tally.json: the tally after entries [0, N)
	TallySHA256 [sha256.Size]byte
	// Authority is the verifier key the manifest (entry 0) names: the
	// election office whose key the manifest, registrations, revocations,
	// certifications and recount orders are signed with. Set by
	// VerifyBundle, which also counts the Submissions it held entries to.
	Authority   string
	Submissions int
}

// bundleIndex is bundle.json: Go encoding/json of this struct, then "\n".
type bundleIndex struct {
	Format   string         `json:"format"`
	Version  int            `json:"version"`
	Election string         `json:"election"`
	Size     uint64         `json:"size"`
	Members  []bundleMember `json:"members"`
}

type bundleMember struct {
	Name   string `json:"name"`
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"`
}

// fixedMembers are the members before the entries, bundle.json aside: the
// first names bundle.json's "members" holds, entries/ members following.
var fixedMembers = []string{memberReadme, memberKey, memberCheckpoint, memberEarlier, memberManifest, memberTally}

// WriteBundle writes to w the court bundle of entries [0, n) of an
// election's log in db, for the ledger whose verifier key is key: the
// ledger key or the election's log key (checkpoint.LogVerifier); key.txt
// holds the log key. n must be
// a size at which the ledger signed a checkpoint (else a
// *[NoCheckpointError]). WriteBundle re-reads and re-hashes every entry and
// refuses to write a bundle whose entries do not give the signed root. The
// same log and n give the same bytes.
//
// It reads the entries twice (sizes and hashes first, since bundle.json
// comes before them) and holds one entry at a time in memory.
func WriteBundle(w io.Writer, db *store.DB, election string, n uint64, key string) (*BundleInfo, error) {
	key, err := checkpoint.LogKey(key, election)
	if err != nil {
		return nil, fmt.Errorf("couldn't bundle %s: %w", election, err)
	}
	v, origin, err := checkpoint.LogVerifier(key, election)
	if err != nil {
		return nil, fmt.Errorf("couldn't bundle %s: %w", election, err)
	}
	size, err := treeSize(db, election)
	if err != nil {
		return nil, err
	}
	if n == 0 {
		return nil, fmt.Errorf("couldn't bundle %s at size 0: a bundle holds at least entry 0, the manifest", election)
	}
	if n > size {
		return nil, fmt.Errorf("couldn't bundle %s at size %d: %w (the log has %d entries)", election, n, ErrPastEnd, size)
	}
	signed, err := db.Checkpoint(election, n)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nearestCheckpoints(db, election, n)
	} else if err != nil {
		return nil, fmt.Errorf("couldn't read the checkpoint of %s at size %d: %w", election, n, err)
	}
	cp, err := checkpoint.Open(signed, origin, v)
	if err != nil {
		return nil, fmt.Errorf("couldn't bundle %s at size %d with key %s: %w", election, n, key, err)
	}
	if cp.Size != n {
		return nil, &MismatchError{Election: election, Index: n, What: fmt.Sprintf("checkpoint stored at size %d says size %d", n, cp.Size)}
	}
	var earlier bytes.Buffer
	cps := 1
	err = db.Checkpoints(election, func(s uint64, signed []byte) error {
		if s >= n {
			return nil
		}
		c, err := checkpoint.Open(signed, origin, v)
		if err != nil {
			return &MismatchError{Election: election, Index: s, What: err.Error()}
		}
		if c.Size != s {
			return &MismatchError{Election: election, Index: s, What: fmt.Sprintf("checkpoint stored at size %d says size %d", s, c.Size)}
		}
		fmt.Fprintf(&earlier, "%d %s\n", s, base64.StdEncoding.EncodeToString(signed))
		cps++
		return nil
	})
	if err != nil {
		return nil, err
	}

	// First pass: check, hash and fold the entries.
	chunks := make([]bundleMember, 0, (n+BundleEntriesPerFile-1)/BundleEntriesPerFile)
	var chunk hash.Hash
	var chunkSize int64
	var manifest []byte
	manifestEvents := uint64(1)
	rf := compact.RangeFactory{Hash: rfc6962.DefaultHasher.HashChildren}
	tree := rf.NewEmptyRange(0)
	closeChunk := func(first uint64) {
		chunks = append(chunks, bundleMember{entriesMember(first), chunkSize, hex.EncodeToString(chunk.Sum(nil))})
	}
	// The submissions, each before the chunk of its first entry: each
	// entry is held to its submission (origins) before it is bundled.
	org := originsOf(election, db)
	chunkSubs := make([][]bundleMember, 0, cap(chunks))
	seen := map[[32]byte]bool{}
	tally, err := TallyAt(entriesFunc(func(election string, start, end uint64, fn func(uint64, []byte) error) error {
		return db.Entries(election, start, end, func(i uint64, data []byte) error {
			if err := fn(i, data); err != nil {
				return err
			}
			if len(data) > MaxBundleEntry || bytes.IndexByte(data, '\n') >= 0 {
				return &MismatchError{Election: election, Index: i, What: "entry is longer than a bundle allows or holds a newline byte"}
			}
			if i < manifestEvents {
				// The manifest's events, one a line: entry 0's, and its
				// parts' when it is in several.
				ev, err := eventOf(data)
				if err != nil {
					return &MismatchError{Election: election, Index: i, What: err.Error()}
				}
				if i == 0 {
					if e, err := events.Decode(ev); err == nil {
						if m, ok := e.Body.(*events.Manifest); ok {
							manifestEvents = uint64(events.ManifestEvents(m))
						}
					}
				} else {
					manifest = append(manifest, '\n')
				}
				manifest = append(manifest, ev...) // data is the database's buffer
			}
			if i%BundleEntriesPerFile == 0 {
				if i > 0 {
					closeChunk(i - BundleEntriesPerFile)
				}
				chunk, chunkSize = sha256.New(), 0
				chunkSubs = append(chunkSubs, nil)
			}
			if err := org.Check(i, data); err != nil {
				return err
			}
			if sub := org.Submission(); !seen[sub.SHA256] {
				seen[sub.SHA256] = true
				c := &chunkSubs[len(chunkSubs)-1]
				*c = append(*c, bundleMember{submissionMember(sub.SHA256), int64(len(sub.Bytes)), hex.EncodeToString(sub.SHA256[:])})
			}
			chunk.Write(data)
			chunk.Write([]byte{'\n'})
			chunkSize += int64(len(data)) + 1
			leaf := tlog.RecordHash(data)
			return tree.Append(leaf[:], nil)
		})
	}), election, n)
	if err != nil {
		return nil, fmt.Errorf("couldn't bundle %s at size %d: %w", election, n, err)
	}
	closeChunk((n - 1) / BundleEntriesPerFile * BundleEntriesPerFile)
	var root tlog.Hash
	r, err := tree.GetRootHash(nil)
	if err != nil {
		return nil, err
	}
	copy(root[:], r)
	if root != cp.Root {
		return nil, &MismatchError{Election: election, Index: n, What: fmt.Sprintf("signed checkpoint at size %d has root %s, the entries give %s (run ledger audit verify)", n, cp.Root, root)}
	}
	tallyDoc, err := tally.Encode()
	if err != nil {
		return nil, err
	}
	for _, c := range chunks {
		if c.Size > maxMemberSize {
			return nil, fmt.Errorf("couldn't bundle %s: %s would be %d bytes, more than a ustar member holds", election, c.Name, c.Size)
		}
	}

	small := map[string][]byte{
		memberReadme:     readme(election, n, root, key),
		memberKey:        []byte(key + "\n"),
		memberCheckpoint: signed,
		memberEarlier:    earlier.Bytes(),
		memberManifest:   manifest,
		memberTally:      tallyDoc,
	}
	idx := bundleIndex{Format: BundleFormat, Version: BundleVersion, Election: election, Size: n}
	for _, name := range fixedMembers {
		sum := sha256.Sum256(small[name])
		idx.Members = append(idx.Members, bundleMember{name, int64(len(small[name])), hex.EncodeToString(sum[:])})
	}
	for i, c := range chunks {
		idx.Members = append(idx.Members, chunkSubs[i]...)
		idx.Members = append(idx.Members, c)
	}
	idxDoc, err := encodeIndex(&idx)
	if err != nil {
		return nil, err
	}

	// Second pass: write.
	tw := &tarWriter{w: bufio.NewWriterSize(w, 1<<16)}
	tw.member(memberReadme, small[memberReadme])
	tw.member(memberIndex, idxDoc)
	for _, name := range fixedMembers[1:] {
		tw.member(name, small[name])
	}
	ci := -1
	var again hash.Hash
	endChunk := func() error {
		tw.end(chunks[ci].Size)
		if tw.err == nil && hex.EncodeToString(again.Sum(nil)) != chunks[ci].SHA256 {
			return fmt.Errorf("%s changed between two reads of the database", chunks[ci].Name)
		}
		return tw.err
	}
	err = db.Entries(election, 0, n, func(i uint64, data []byte) error {
		if i%BundleEntriesPerFile == 0 {
			if ci >= 0 {
				if err := endChunk(); err != nil {
					return err
				}
			}
			ci++
			for _, m := range chunkSubs[ci] {
				sum, _ := isSubmissionMember(m.Name)
				sub, err := db.Submission(election, sum)
				if err != nil {
					return fmt.Errorf("couldn't read submission %x of %s: %w", sum, election, err)
				}
				if sha256.Sum256(sub) != sum {
					return fmt.Errorf("submission %x of %s changed between two reads of the database", sum, election)
				}
				tw.member(m.Name, sub)
			}
			tw.begin(chunks[ci].Name, chunks[ci].Size)
			again = sha256.New()
		}
		again.Write(data)
		again.Write([]byte{'\n'})
		tw.write(data)
		tw.write([]byte{'\n'})
		return tw.err
	})
	if err == nil && ci != len(chunks)-1 {
		err = fmt.Errorf("the log of %s has fewer than %d entries on the second read", election, n)
	}
	if err == nil {
		err = endChunk()
	}
	if err == nil {
		err = tw.close()
	}
	if err != nil {
		return nil, fmt.Errorf("couldn't write the bundle of %s: %w", election, err)
	}
	return &BundleInfo{Election: election, Size: n, Root: root, Key: key, Checkpoints: cps, Tally: tallyDoc, TallySHA256: sha256.Sum256(tallyDoc)}, nil
}

// nearestCheckpoints returns the *NoCheckpointError for size n.
func nearestCheckpoints(db *store.DB, election string, n uint64) error {
	e := &NoCheckpointError{Election: election, Size: n}
	err := db.Checkpoints(election, func(s uint64, _ []byte) error {
		if s < n {
			e.Before = s
		} else if e.After == 0 {
			e.After = s
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("couldn't list the checkpoints of %s: %w", election, err)
	}
	return e
}

// eventOf returns the event bytes of a stored entry: its last field.
func eventOf(entry []byte) ([]byte, error) {
	i := bytes.Index(entry, []byte(`,"event":`))
	if i < 0 || entry[len(entry)-1] != '}' { // i >= 0: entry is not empty
		return nil, errors.New(`entry has no "event" field`)
	}
	return entry[i+len(`,"event":`) : len(entry)-1], nil
}

func encodeIndex(idx *bundleIndex) ([]byte, error) {
	b, err := json.Marshal(idx)
	if err != nil {
		return nil, fmt.Errorf("couldn't encode bundle.json: %w", err)
	}
	return append(b, '\n'), nil
}

// readme is README.txt: where the bundle came from and how to check it
// without the ledger's software.
func readme(election string, n uint64, root tlog.Hash, key string) []byte {
	return fmt.Appendf(nil, `COURT BUNDLE OF AN ELECTION AUDIT LEDGER LOG

Election:  %s
Entries:   0 to %d (N = %d)
Root:      %s
Key:       %s

This file is a POSIX ustar archive: "tar -xf FILE" extracts it. Its members:

  README.txt               this note
  bundle.json              format, version, election, N, and each other member's size and SHA-256
  key.txt                  the verifier key of this election's log, named by its origin
  checkpoint.txt           the signed checkpoint at size N (C2SP tlog-checkpoint in a C2SP signed note)
  earlier-checkpoints.txt  the ledger's earlier signed checkpoints, "<size> <base64 of the note>" per line
  manifest.json            the election manifest: the event of entry 0, byte for byte (a manifest
                           in N parts: the events of entries 0 to N-1, one a line)
  tally.json               the tally after entries [0, N)
  submissions/<sha256>.txt each signed submission the entries came in, as its office signed it,
                           just before the entries file of its first entry
  entries/*.jsonl          entries [0, N) exactly as the ledger stored them, one per line, %d per file

To verify it by hand:

1. Key. Get the ledger's verifier key from the election authority, not from this file, and check that
   key.txt holds the same Ed25519 public key under the name "<ledger name>/%s", this log's
   origin: <name>+<key hash>+<base64 of 0x01 and a 32-byte Ed25519 public key>, the key hash being
   the first 4 bytes of SHA-256(name, a newline, 0x01, the public key).
2. Signature. The body of checkpoint.txt is its first three lines (origin, N, root), each with its
   newline. Its signature line "— <name> <base64>" decodes to the 4-byte key hash and a 64-byte
   Ed25519 signature of the body. The origin must be the key's name, "<ledger name>/%s", and N must
   be %d.
3. Entries. Concatenate entries/*.jsonl in name order. Line i, without its newline, is entry i and
   says "index":i. Hash the bytes as they are: never parse and re-encode an entry.
4. Merkle root (RFC 6962, SHA-256): leaf = SHA-256(0x00 || entry bytes), node = SHA-256(0x01 || left
   || right); the root of n > 1 leaves is node(root of the first k, root of the other n - k), k the
   largest power of two smaller than n. It must equal the base64 root on line 3 of checkpoint.txt.
   Each line of earlier-checkpoints.txt signs the root of a shorter prefix in the same way.
5. Origins. Each entry names its submission: "submission":{"id", "sha256", "item", "signer"}. The
   member submissions/<sha256>.txt must hash to that SHA-256; it is a C2SP signed note whose text
   is "election-audit/ledger/submission/v1", the submission ID, the election, the signer's verifier
   key, then one event per line; its one signature line must verify, with that key, over the text.
   Line "item" of the events is the entry's event byte for byte, and "signer" is that key (absent
   only when the signature does not verify, and the entry is then rejected). Who may sign what is
   in the log itself: the manifest (entry 0) names the election's authority, whose key signs the
   manifest, key registrations and revocations, certifications and recount orders; a reporter key
   signs counts for the units the authority registered it for. Get the authority's key from the
   election authority, not from this file, and check the manifest names it.
6. Tally. Fold the entries in order by the rules of the ledger's docs/events.md (only accepted
   entries count; a unit's total is its own current report, else the sum of its children's) and
   encode the result as that page says: it must equal tally.json byte for byte.

With the ledger's software: ledger audit verify-bundle FILE --key '<verifier key>'
The format is specified in the ledger's docs/bundle.md.
`, election, n-1, n, root, key, BundleEntriesPerFile, election, election, n)
}

// tarWriter writes the ustar framing of a bundle; the first error sticks.
type tarWriter struct {
	w       *bufio.Writer
	err     error
	written int64 // bytes of the current member's data written so far
}

// ustarHeader is the one header a member of a bundle may have: everything
// but the name, the size and the checksum is fixed.
func ustarHeader(name string, size int64) ([blockSize]byte, error) {
	var h [blockSize]byte
	if len(name) == 0 || len(name) > 100 || strings.IndexByte(name, 0) >= 0 {
		return h, fmt.Errorf("member name %q does not fit a ustar header", name)
	}
	if size < 0 || size > maxMemberSize {
		return h, fmt.Errorf("member %s is %d bytes, more than a ustar member holds", name, size)
	}
	copy(h[0:100], name)
	copy(h[100:108], "0000644\x00")
	copy(h[108:116], "0000000\x00")
	copy(h[116:124], "0000000\x00")
	copy(h[124:136], fmt.Sprintf("%011o\x00", size))
	copy(h[136:148], "00000000000\x00")
	copy(h[148:156], "        ")
	h[156] = '0'
	copy(h[257:263], "ustar\x00")
	copy(h[263:265], "00")
	copy(h[329:337], "0000000\x00")
	copy(h[337:345], "0000000\x00")
	sum := 0
	for _, c := range h {
		sum += int(c)
	}
	copy(h[148:156], fmt.Sprintf("%06o\x00 ", sum))
	return h, nil
}

func (t *tarWriter) begin(name string, size int64) {
	if t.err != nil {
		return
	}
	h, err := ustarHeader(name, size)
	if err != nil {
		t.err = err
		return
	}
	_, t.err = t.w.Write(h[:])
	t.written = 0
}

func (t *tarWriter) write(b []byte) {
	if t.err != nil {
		return
	}
	_, t.err = t.w.Write(b)
	t.written += int64(len(b))
}

// end pads the member's data to a whole block.
func (t *tarWriter) end(size int64) {
	if t.err == nil && t.written != size {
		t.err = fmt.Errorf("member is %d bytes, its header says %d", t.written, size)
	}
	if r := size % blockSize; r != 0 && t.err == nil {
		_, t.err = t.w.Write(make([]byte, blockSize-r))
	}
}

func (t *tarWriter) member(name string, data []byte) {
	t.begin(name, int64(len(data)))
	t.write(data)
	t.end(int64(len(data)))
}

// close writes the end-of-archive marker, two zero blocks, and flushes.
func (t *tarWriter) close() error {
	if t.err == nil {
		_, t.err = t.w.Write(make([]byte, 2*blockSize))
	}
	if t.err != nil {
		return t.err
	}
	return t.w.Flush()
}

// VerifyBundle reads a bundle from r and checks all of it with nothing
// else: the archive's framing and fixed member order, bundle.json, the
// signature of every checkpoint, every entry (it decodes, its index is its
// line, it is in its canonical encoding, its event ID is in no earlier
// entry, its verdict follows the election's rules), the Merkle root of
// entries [0, s) at every signed size s, the manifest, the tally (replayed
// from the entries, byte for byte), and each member's size and SHA-256
// against bundle.json. A submission whose bytes do not have the SHA-256 in
// its name (altered, whether or not bundle.json was rewritten to match) is
// a fault of the first entry that came in it, which the error names with
// the member. The bundle carries the election's log key, named by the
// log's origin, and every checkpoint must be signed under that name.
// If key is not empty (the ledger key or the election's log key:
// checkpoint.LogVerifier) the bundle must carry exactly the log key
// derived from it (else ErrWrongKey); otherwise it is checked against the
// key it carries, which proves only that it is consistent.
//
// The first fault comes back as a *[BundleError] naming the member and,
// where an entry is at fault, its index. Memory holds a few batches of
// entries, the tally, the submissions of the current entries member, 40
// bytes per signed checkpoint, and each entry's event ID, to find one
// logged twice: about 27 to 38 bytes an entry.
func VerifyBundle(r io.Reader, key string) (*BundleInfo, error) {
	t := &tarReader{r: bufio.NewReaderSize(r, 1<<16)}
	if _, err := t.small(memberReadme, maxReadme); err != nil {
		var be *BundleError
		if errors.As(err, &be) && t.off <= blockSize {
			be.What = "the file is not a court bundle (a ustar archive that starts with README.txt): " + be.What
		}
		return nil, err
	}
	readmeSize, readmeSum := t.size, t.sum.Sum(nil)
	idxDoc, err := t.small(memberIndex, maxIndexSize)
	if err != nil {
		return nil, err
	}
	idx, err := parseIndex(idxDoc)
	if err != nil {
		return nil, err
	}
	if err := checkMember(idx.Members[0], readmeSize, readmeSum); err != nil {
		return nil, err
	}
	n, election := idx.Size, idx.Election
	next := 1 // the next member of idx.Members
	done := func() error {
		err := checkMember(idx.Members[next], t.size, t.sum.Sum(nil))
		next++
		return err
	}

	// The key and the checkpoint at N.
	keyDoc, err := t.small(memberKey, maxKeySize)
	if err != nil {
		return nil, err
	}
	bundleKey, ok := strings.CutSuffix(string(keyDoc), "\n")
	if !ok || strings.ContainsAny(bundleKey, "\n\r\t ") {
		return nil, memberErr(memberKey, "is not one line holding a verifier key")
	}
	if key = strings.TrimSpace(key); key != "" {
		want, err := checkpoint.LogKey(key, election)
		if err != nil {
			return nil, &BundleError{Member: memberKey, What: fmt.Sprintf("the required key: %v", err), Err: ErrWrongKey}
		}
		if want != bundleKey {
			required := key
			if want != key {
				required = fmt.Sprintf("%s (the log key of %s, from %s)", want, election, key)
			}
			return nil, &BundleError{Member: memberKey, What: fmt.Sprintf("the bundle's key is %s, the required key is %s", bundleKey, required), Err: ErrWrongKey}
		}
	}
	if _, err := events.ParseKey(bundleKey); err != nil {
		return nil, memberErr(memberKey, "is not a verifier key: %v", err)
	}
	if !checkpoint.IsLogKey(bundleKey) {
		return nil, memberErr(memberKey, "holds %s, a key named by a ledger name, not the log key of %s, named by the log's origin <ledger name>/%s (a bundle of a version of the ledger before log keys)", bundleKey, election, election)
	}
	v, origin, err := checkpoint.LogVerifier(bundleKey, election)
	if err != nil {
		return nil, memberErr(memberKey, "%v", err)
	}
	if err := done(); err != nil {
		return nil, err
	}
	cpDoc, err := t.small(memberCheckpoint, maxNoteSize)
	if err != nil {
		return nil, err
	}
	cp, err := checkpoint.Open(cpDoc, origin, v)
	if err != nil {
		return nil, memberErr(memberCheckpoint, "%v", err)
	}
	if cp.Size != n {
		return nil, memberErr(memberCheckpoint, "is for size %d, bundle.json says %d", cp.Size, n)
	}
	if err := done(); err != nil {
		return nil, err
	}

	// Earlier checkpoints, then the one at N.
	type signedRoot struct {
		size uint64
		root tlog.Hash
	}
	var cps []signedRoot
	if err := t.next(memberEarlier); err != nil {
		return nil, err
	}
	lines := bufio.NewReaderSize(t, 1<<16)
	for line := 1; ; line++ {
		b, err := readLine(lines, 2*maxNoteSize)
		if err == io.EOF {
			break
		}
		lineErr := func(format string, args ...any) error {
			return memberErr(memberEarlier, "line %d: %s", line, fmt.Sprintf(format, args...))
		}
		if err != nil {
			return nil, lineErr("%v", err)
		}
		sizeField, b64, ok := strings.Cut(string(b), " ")
		s, err := strconv.ParseUint(sizeField, 10, 64)
		if !ok || err != nil || strconv.FormatUint(s, 10) != sizeField {
			return nil, lineErr(`is not "<size> <base64 signed note>"`)
		}
		if s == 0 || s >= n || (len(cps) > 0 && s <= cps[len(cps)-1].size) {
			return nil, lineErr("size %d is out of order: sizes increase and stay below N = %d", s, n)
		}
		signed, err := base64.StdEncoding.Strict().DecodeString(b64)
		if err != nil {
			return nil, lineErr("the checkpoint at size %d is not standard base64: %v", s, err)
		}
		c, err := checkpoint.Open(signed, origin, v)
		if err != nil {
			return nil, lineErr("the checkpoint at size %d: %v", s, err)
		}
		if c.Size != s {
			return nil, lineErr("the checkpoint listed at size %d is for size %d", s, c.Size)
		}
		cps = append(cps, signedRoot{s, c.Root})
	}
	if err := t.finish(); err != nil {
		return nil, err
	}
	if err := done(); err != nil {
		return nil, err
	}
	cps = append(cps, signedRoot{n, cp.Root})

	manifest, err := t.small(memberManifest, events.MaxSubmissionSize)
	if err != nil {
		return nil, err
	}
	// The manifest's events, one a line.
	manifestLines := bytes.Split(manifest, []byte("\n"))
	manifestEvs := make([]*events.Event, len(manifestLines))
	for i, line := range manifestLines {
		if manifestEvs[i], err = events.Decode(line); err != nil {
			return nil, memberErr(memberManifest, "line %d: %v", i+1, err)
		}
		if manifestEvs[i].Election != election {
			return nil, memberErr(memberManifest, "line %d is an event of election %q, not %s", i+1, manifestEvs[i].Election, election)
		}
	}
	var authority string
	if m, err := events.AssembleManifest(manifestEvs); err != nil {
		return nil, memberErr(memberManifest, "is not the election.defined event of %s and its parts: %v", election, err)
	} else {
		authority = m.Authority
	}
	if err := done(); err != nil {
		return nil, err
	}
	tallyDoc, err := t.small(memberTally, maxTallySize)
	if err != nil {
		return nil, err
	}
	if err := done(); err != nil {
		return nil, err
	}

	// The entries: fold, hash and compare with each signed root in one pass.
	rf := compact.RangeFactory{Hash: rfc6962.DefaultHasher.HashChildren}
	tree := rf.NewEmptyRange(0)
	var root tlog.Hash
	matched := uint64(0) // the last signed size whose root the entries gave
	ci := 0
	// The submissions read so far and not yet done with, and the one the
	// last entry came in: a submission's entries are consecutive.
	pending := map[[32]byte]*events.Submission{}
	var cur *events.Submission
	submissions := 0
	// introduced lists the submissions read before the current entries
	// member, in order: its entries must first name each of them, in that
	// order, and no other new one.
	var introduced [][32]byte
	// altered holds, by the SHA-256 in their names, the submissions whose
	// bytes no longer have it, and how they differ. The fault is reported
	// at the first entry that came in one, since what a reader needs to
	// know is which counts lost their proof of origin; at the member only
	// if no entry names it.
	altered := map[[32]byte]string{}
	readSubmissions := func() error {
		introduced = introduced[:0]
		for next < len(idx.Members) {
			sum, ok := isSubmissionMember(idx.Members[next].Name)
			if !ok {
				return nil
			}
			listed := idx.Members[next]
			name := listed.Name
			b, err := t.small(name, events.MaxSubmissionSize)
			if err != nil {
				return err
			}
			if got := sha256.Sum256(b); got != sum {
				what := fmt.Sprintf("its %d bytes have SHA-256 %x, not the one in its name", len(b), got)
				if done() == nil {
					what += " (bundle.json was rewritten to list them)"
				} else {
					what += fmt.Sprintf(" (bundle.json lists %d bytes with SHA-256 %s)", listed.Size, listed.SHA256)
				}
				altered[sum] = what
				introduced = append(introduced, sum)
				continue
			}
			// Its bytes are the ones its name and its entries give: a
			// mismatch is bundle.json's.
			if err := done(); err != nil {
				return err
			}
			sub, err := events.OpenSubmission(b)
			if err != nil {
				return memberErr(name, "is not a signed submission: %v", err)
			}
			if sub.Election != election {
				return memberErr(name, "is a submission for election %q", sub.Election)
			}
			pending[sum] = sub
			introduced = append(introduced, sum)
			submissions++
		}
		return nil
	}
	tally, err := TallyAt(entriesFunc(func(_ string, _, _ uint64, fn func(uint64, []byte) error) error {
		for first := uint64(0); first < n; first += BundleEntriesPerFile {
			if err := readSubmissions(); err != nil {
				return err
			}
			name := entriesMember(first)
			if err := t.next(name); err != nil {
				return err
			}
			br := bufio.NewReaderSize(t, 1<<16)
			for i := first; i < n && i < first+BundleEntriesPerFile; i++ {
				line, err := readLine(br, MaxBundleEntry)
				if err == io.EOF {
					return entryErr(i, "is missing: %s ends after %d entries", name, i-first)
				}
				if err != nil {
					var be *BundleError
					if errors.As(err, &be) {
						be.Index, be.HasIndex = i, true
						return be
					}
					return entryErr(i, "%v", err)
				}
				if err := fn(i, line); err != nil {
					return err
				}
				ref, ev, err := events.EntryOrigin(line)
				if err != nil {
					return entryErr(i, "%v", err)
				}
				if what, ok := altered[ref.SHA256]; ok {
					// Name the entries of this member that came in it too.
					last := i
					for last+1 < n && last+1 < first+BundleEntriesPerFile {
						line, err := readLine(br, MaxBundleEntry)
						if err != nil {
							break
						}
						if r, _, err := events.EntryOrigin(line); err != nil || r.SHA256 != ref.SHA256 {
							break
						}
						last++
					}
					switch {
					case last+1 == first+BundleEntriesPerFile && last+1 < n:
						what += fmt.Sprintf("; it is the submission of entries %d to %d, and maybe of entries in the next entries member", i, last)
					case last > i:
						what += fmt.Sprintf("; it is the submission of entries %d to %d", i, last)
					}
					return entryErr(i, "its submission %s was altered: %s", submissionMember(ref.SHA256), what)
				}
				if cur == nil || cur.SHA256 != ref.SHA256 {
					if cur != nil {
						delete(pending, cur.SHA256)
					}
					if cur = pending[ref.SHA256]; cur == nil {
						return entryErr(i, "its submission %s (SHA-256 %x) is not in the bundle before it", ref.ID, ref.SHA256)
					}
					if len(introduced) == 0 || introduced[0] != ref.SHA256 {
						return entryErr(i, "its submission %s is not where the bundle must have it: just before %s, after the submissions its earlier entries name", ref.ID, name)
					}
					introduced = introduced[1:]
				}
				if err := logcheck.MatchSubmission(cur, ref, ev); err != nil {
					return entryErr(i, "%v", err)
				}
				if i < uint64(len(manifestLines)) {
					if ev, err := eventOf(line); err != nil || !bytes.Equal(ev, manifestLines[i]) {
						return memberErr(memberManifest, "line %d is not the event of entry %d byte for byte", i+1, i)
					}
				}
				leaf := tlog.RecordHash(line)
				if err := tree.Append(leaf[:], nil); err != nil {
					return err
				}
				if cps[ci].size != i+1 {
					continue
				}
				r, err := tree.GetRootHash(nil)
				if err != nil {
					return err
				}
				copy(root[:], r)
				if root != cps[ci].root {
					what := fmt.Sprintf("the root of entries [0, %d) is %s, the ledger signed %s at size %d", i+1, root, cps[ci].root, i+1)
					if i == matched {
						return entryErr(i, "is not the entry the ledger signed: %s", what)
					}
					return entryErr(matched, "entries [%d, %d) are not the entries the ledger signed (the fault is in one of them): %s", matched, i+1, what)
				}
				matched = i + 1
				ci++
			}
			if _, err := br.Peek(1); err != io.EOF {
				if err == nil {
					return memberErr(name, "holds more than its %d entries", min(n-first, BundleEntriesPerFile))
				}
				return err
			}
			if err := t.finish(); err != nil {
				return err
			}
			if err := done(); err != nil {
				return err
			}
			if len(introduced) > 0 {
				if what, ok := altered[introduced[0]]; ok {
					return memberErr(submissionMember(introduced[0]), "was altered: %s; no entry of %s, which it comes before, names it", what, name)
				}
				return memberErr(submissionMember(introduced[0]), "is not the submission of any entry of %s, which it comes before", name)
			}
		}
		return nil
	}), election, n)
	if err != nil {
		var me *MismatchError
		if errors.As(err, &me) {
			return nil, entryErr(me.Index, "%s", me.What)
		}
		return nil, err
	}
	if cur != nil {
		delete(pending, cur.SHA256)
	}
	if len(pending) > 0 {
		left := slices.SortedFunc(maps.Keys(pending), func(a, b [32]byte) int { return bytes.Compare(a[:], b[:]) })
		return nil, memberErr(submissionMember(left[0]), "is the submission of no entry of the bundle")
	}
	if err := t.end(); err != nil {
		return nil, err
	}
	replayed, err := tally.Encode()
	if err != nil {
		return nil, err
	}
	if !bytes.Equal(replayed, tallyDoc) {
		at := 0
		for at < len(replayed) && at < len(tallyDoc) && replayed[at] == tallyDoc[at] {
			at++
		}
		return nil, memberErr(memberTally, "differs from the tally replayed from entries [0, %d) at byte %d: the bundle has %q, the replay gives %q",
			n, at, excerpt(tallyDoc, at), excerpt(replayed, at))
	}
	return &BundleInfo{Election: election, Size: n, Root: root, Key: bundleKey, Checkpoints: len(cps), Tally: tallyDoc, TallySHA256: sha256.Sum256(tallyDoc),
		Authority: authority, Submissions: submissions}, nil
}

// excerpt returns up to 40 bytes of b from at.
func excerpt(b []byte, at int) []byte {
	return b[at:min(len(b), at+40)]
}

// parseIndex parses bundle.json strictly: canonical bytes, known format and
// version, and the member list a bundle of its size has.
func parseIndex(b []byte) (*bundleIndex, error) {
	var idx bundleIndex
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&idx); err != nil {
		return nil, memberErr(memberIndex, "is not valid: %v", err)
	}
	if again, err := encodeIndex(&idx); err != nil || !bytes.Equal(again, b) {
		return nil, memberErr(memberIndex, "is not in canonical form (Go encoding/json of its fields in order, then one newline)")
	}
	switch {
	case idx.Format != BundleFormat:
		return nil, memberErr(memberIndex, "format is %q, not %q", idx.Format, BundleFormat)
	case idx.Version != BundleVersion:
		return nil, memberErr(memberIndex, "version %d is not one this verifier reads (%d)", idx.Version, BundleVersion)
	case !events.ValidElectionID(idx.Election):
		return nil, memberErr(memberIndex, "election %q is not a valid election ID", idx.Election)
	case idx.Size == 0:
		return nil, memberErr(memberIndex, "size is 0; a bundle holds at least entry 0")
	}
	fixed := len(fixedMembers)
	chunks := (idx.Size-1)/BundleEntriesPerFile + 1
	if uint64(len(idx.Members)) < uint64(fixed)+chunks {
		return nil, memberErr(memberIndex, "lists %d members; a bundle of %d entries has at least %d besides bundle.json", len(idx.Members), idx.Size, uint64(fixed)+chunks)
	}
	// The fixed members, then for each entries member the submissions
	// first named by its entries, then it; nothing after the last.
	chunk := uint64(0)
	subs := map[string]bool{}
	for i, m := range idx.Members {
		want := ""
		switch _, isSub := isSubmissionMember(m.Name); {
		case i < fixed:
			want = fixedMembers[i]
		case isSub && chunk < chunks:
			if subs[m.Name] {
				return nil, memberErr(memberIndex, "member %d, %s, is listed twice", i, m.Name)
			}
			subs[m.Name] = true
			want = m.Name
			if m.Size > events.MaxSubmissionSize {
				return nil, memberErr(memberIndex, "member %q is %d bytes, more than a submission may be (%d)", m.Name, m.Size, events.MaxSubmissionSize)
			}
		case chunk < chunks:
			want = entriesMember(chunk * BundleEntriesPerFile)
			chunk++
		default:
			return nil, memberErr(memberIndex, "member %d, %q, follows the last entries member", i, m.Name)
		}
		if m.Name != want {
			return nil, memberErr(memberIndex, "member %d is %q, want %q or a submission", i, m.Name, want)
		}
		if m.Size < 0 || m.Size > maxMemberSize || len(m.SHA256) != 2*sha256.Size || strings.ToLower(m.SHA256) != m.SHA256 {
			return nil, memberErr(memberIndex, "member %q has a bad size or SHA-256", m.Name)
		}
		if _, err := hex.DecodeString(m.SHA256); err != nil {
			return nil, memberErr(memberIndex, "member %q has a bad SHA-256: %v", m.Name, err)
		}
	}
	return &idx, nil
}

// checkMember compares a member as read with what bundle.json lists.
func checkMember(m bundleMember, size int64, sum []byte) error {
	if got := hex.EncodeToString(sum); size != m.Size || got != m.SHA256 {
		return memberErr(m.Name, "is %d bytes with SHA-256 %s; bundle.json lists %d bytes with SHA-256 %s", size, got, m.Size, m.SHA256)
	}
	return nil
}

// readLine returns the next line of r without its "\n"; io.EOF if r is at
// its end. A last line without "\n", or one longer than limit, is an error.
func readLine(r *bufio.Reader, limit int) ([]byte, error) {
	var line []byte
	for {
		frag, err := r.ReadSlice('\n')
		if len(line)+len(frag) > limit+1 {
			return nil, fmt.Errorf("line is longer than %d bytes", limit)
		}
		line = append(line, frag...)
		switch {
		case err == nil:
			return line[:len(line)-1], nil
		case errors.Is(err, bufio.ErrBufferFull):
			continue
		case err == io.EOF && len(line) == 0:
			return nil, io.EOF
		case err == io.EOF:
			return nil, errors.New("the last line does not end with a newline")
		default:
			return nil, err
		}
	}
}

// tarReader reads a bundle's ustar framing strictly: every header must be
// the one ustarHeader makes for its name and size, members come in the
// order asked for, padding is zero, and the archive ends with exactly two
// zero blocks. It reads the current member's data as an io.Reader.
type tarReader struct {
	r    *bufio.Reader
	off  int64     // bytes read from the file
	name string    // the current member
	size int64     // its size
	left int64     // its bytes not yet read
	sum  hash.Hash // SHA-256 of its bytes read so far
}

var headerFields = []struct {
	name     string
	off, len int
}{
	{"name", 0, 100}, {"mode", 100, 8}, {"uid", 108, 8}, {"gid", 116, 8}, {"size", 124, 12},
	{"mtime", 136, 12}, {"chksum", 148, 8}, {"typeflag", 156, 1}, {"linkname", 157, 100},
	{"magic", 257, 6}, {"version", 263, 2}, {"uname", 265, 32}, {"gname", 297, 32},
	{"devmajor", 329, 8}, {"devminor", 337, 8}, {"prefix", 345, 155}, {"padding", 500, 12},
}

// next reads the header of the next member, which must be named want.
func (t *tarReader) next(want string) error {
	var h [blockSize]byte
	at := t.off
	n, err := io.ReadFull(t.r, h[:])
	t.off += int64(n)
	if err != nil {
		return memberErr(want, "the file ends at byte %d, where this member's header should be (truncated?)", t.off)
	}
	if h == [blockSize]byte{} {
		return memberErr(want, "the archive ends (a zero block at byte %d) where this member should be", at)
	}
	sum := 0
	for i, c := range h {
		if i >= 148 && i < 156 {
			c = ' '
		}
		sum += int(c)
	}
	if string(h[148:156]) != fmt.Sprintf("%06o\x00 ", sum) {
		return memberErr(want, "the header at byte %d is corrupt: its checksum field is %q, its bytes sum to %06o", at, h[148:156], sum)
	}
	name, _, _ := bytes.Cut(h[:100], []byte{0})
	sizeField := h[124:136]
	size, err := strconv.ParseInt(string(sizeField[:11]), 8, 64)
	if err != nil || sizeField[11] != 0 || bytes.ContainsAny(sizeField[:11], "+-") {
		return memberErr(want, "the header at byte %d has size field %q, not 11 octal digits and a NUL", at, sizeField)
	}
	good, err := ustarHeader(string(name), size)
	if err != nil {
		return memberErr(want, "the header at byte %d: %v", at, err)
	}
	for _, f := range headerFields {
		if got, w := h[f.off:f.off+f.len], good[f.off:f.off+f.len]; !bytes.Equal(got, w) {
			return memberErr(want, "the header at byte %d has %s %q; a bundle's headers have %q", at, f.name, got, w)
		}
	}
	if string(name) != want {
		return memberErr(want, "the member at byte %d is %q; members come in a fixed order and %q is next", at, name, want)
	}
	t.name, t.size, t.left, t.sum = want, size, size, sha256.New()
	return nil
}

// Read reads the current member's data.
func (t *tarReader) Read(p []byte) (int, error) {
	if t.left == 0 {
		return 0, io.EOF
	}
	if int64(len(p)) > t.left {
		p = p[:t.left]
	}
	n, err := t.r.Read(p)
	t.off += int64(n)
	t.left -= int64(n)
	t.sum.Write(p[:n])
	if err == io.EOF {
		return n, memberErr(t.name, "the file ends at byte %d, %d bytes before the end of this member (truncated?)", t.off, t.left)
	}
	return n, err
}

// finish reads the padding after the current member's data, which must
// all have been read.
func (t *tarReader) finish() error {
	if t.left != 0 {
		return memberErr(t.name, "%d bytes of it were not read", t.left)
	}
	pad := make([]byte, (blockSize-t.size%blockSize)%blockSize)
	n, err := io.ReadFull(t.r, pad)
	t.off += int64(n)
	if err != nil {
		return memberErr(t.name, "the file ends at byte %d, inside the padding after this member (truncated?)", t.off)
	}
	if !bytes.Equal(pad, make([]byte, len(pad))) {
		return memberErr(t.name, "the padding after this member, before byte %d, is not all zero bytes", t.off)
	}
	return nil
}

// small reads a whole member of at most limit bytes.
func (t *tarReader) small(name string, limit int64) ([]byte, error) {
	if err := t.next(name); err != nil {
		return nil, err
	}
	if t.size > limit {
		return nil, memberErr(name, "is %d bytes, more than the %d a bundle allows", t.size, limit)
	}
	b, err := io.ReadAll(t)
	if err != nil {
		return nil, err
	}
	return b, t.finish()
}

// end reads the end-of-archive marker, two zero blocks, and then the end of
// the file.
func (t *tarReader) end() error {
	var b [blockSize]byte
	for range 2 {
		at := t.off
		n, err := io.ReadFull(t.r, b[:])
		t.off += int64(n)
		if err != nil {
			return memberErr("", "the file ends at byte %d, inside the end-of-archive marker (truncated?)", t.off)
		}
		if b != [blockSize]byte{} {
			return memberErr("", "the block at byte %d should be the end-of-archive marker (zero bytes): the last member is followed by more data", at)
		}
	}
	if _, err := t.r.ReadByte(); err != io.EOF {
		return memberErr("", "data follows the end-of-archive marker at byte %d", t.off)
	}
	return nil
}
