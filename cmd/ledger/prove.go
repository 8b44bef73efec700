package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"
	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/election-audit/ledger/audit"
	"github.com/election-audit/ledger/checkpoint"
	"github.com/election-audit/ledger/client"
	"github.com/election-audit/ledger/events"
)

func newAuditProve() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "prove",
		Short: "Fetch and verify inclusion and consistency proofs from a running ledger",
		Long: `prove fetches a Merkle proof and the signed checkpoints it leads to from a
running ledger, checks the checkpoints' signatures with the verifier key and
the proof against their roots, prints the proof and "OK". Any failure exits 1
with the reason.

Pass --key with the verifier key you trust (or a file holding it); without it
the key is fetched from the same server, which proves only that the server
signed.`,
	}
	cmd.AddCommand(newProveInclusion(), newProveConsistency())
	return cmd
}

// proveFlags are the flags both proof commands take.
type proveFlags struct {
	server, election, key string
}

func (f *proveFlags) add(cmd *cobra.Command) {
	cmd.Flags().StringVar(&f.server, "server", client.DefaultURL, "ledger HTTP API")
	cmd.Flags().StringVar(&f.election, "election", "", "election ID (required)")
	cmd.Flags().StringVar(&f.key, "key", "", "verifier key, the ledger key or the election's log key, or a file holding it (default: fetched from the server)")
	cmd.MarkFlagRequired("election")
}

// open returns the client and the verifier and origin to check the
// election's checkpoints with; f.key becomes the election's log key, from
// the ledger key or the log key given (or the server's).
func (f *proveFlags) open(ctx context.Context) (*client.Client, note.Verifier, string, error) {
	c, err := newClient(f.server)
	if err != nil {
		return nil, nil, "", err
	}
	key := keyText(f.key)
	if key == "" {
		if key, err = c.Key(ctx); err != nil {
			return nil, nil, "", err
		}
	}
	logKey, v, origin, err := logVerifier(key, f.election)
	if err != nil {
		return nil, nil, "", err
	}
	f.key = logKey
	return c, v, origin, nil
}

func newProveInclusion() *cobra.Command {
	var f proveFlags
	var index, size uint64
	var out string
	cmd := &cobra.Command{
		Use:   "inclusion --election ID --index N [--size S]",
		Short: "Prove that an entry is in a signed checkpoint's tree",
		Long: `inclusion fetches the inclusion proof of entry N in the tree of size S (by
default the latest), the signed checkpoint at S and the entry itself; checks
the checkpoint's signature and origin, that the entry's leaf hash is the one
proved, and that the proof leads to the checkpoint's root. S must be a size
at which the ledger signed a checkpoint (GET
/v1/elections/ID/checkpoints/S answers 200).

It also fetches the signed submission the entry names and checks that its
bytes have the SHA-256 the entry names, that its signature verifies with the
key the entry names, and that its event is the entry's: with the proof, that
shows who reported the entry. (Whether that key could make the event is
decided from the log's own key registrations: ledger audit verify.)

With --out FILE it also writes the verified proof as a C2SP tlog-proof
(https://c2sp.org/tlog-proof), which anyone can check offline with the entry
and the verifier key.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			c, v, origin, err := f.open(ctx)
			if err != nil {
				return err
			}
			p, err := c.InclusionProof(ctx, f.election, index, size)
			if err != nil {
				return err
			}
			if p.Checkpoint == "" {
				return fmt.Errorf("no signed checkpoint was issued at size %d of %s, so the proof cannot be checked against a signed root: omit --size for the latest, or use a size with a checkpoint", p.Size, f.election)
			}
			cp, err := checkpoint.Open([]byte(p.Checkpoint), origin, v)
			if err != nil {
				return fmt.Errorf("proof FAILED: %w", err)
			}
			entries, err := c.Entries(ctx, f.election, index, 1)
			if err != nil {
				return err
			}
			if len(entries) != 1 {
				return fmt.Errorf("the ledger returned %d entries for entry %d", len(entries), index)
			}
			if p.Index != index || (size != 0 && p.Size != size) {
				return fmt.Errorf("proof FAILED: asked for entry %d at size %d, got a proof of entry %d at size %d", index, size, p.Index, p.Size)
			}
			if leaf := tlog.RecordHash(entries[0]); leaf != p.LeafHash {
				return fmt.Errorf("proof FAILED: %w: entry %d hashes to %s, the proof is for leaf hash %s", audit.ErrProofFailed, index, leaf, p.LeafHash)
			}
			if err := audit.CheckInclusion(&p.InclusionProof, cp); err != nil {
				return fmt.Errorf("proof FAILED: %w", err)
			}
			// Who reported it: the entry's signed submission.
			oc := audit.NewOriginChecker(f.election, func(sum [32]byte) ([]byte, error) {
				return client.Source{Client: c, Ctx: ctx}.Submission(f.election, sum)
			})
			if err := oc.Check(index, entries[0]); err != nil {
				return fmt.Errorf("proof FAILED: the entry's signed submission: %w", err)
			}
			sub := oc.Submission()
			w := cmd.OutOrStdout()
			fmt.Fprintf(w, "origin     %s\nentry      %d\nleaf hash  %s\ntree size  %d\n", cp.Origin, p.Index, p.LeafHash, cp.Size)
			if sub.SignatureErr == nil {
				fmt.Fprintf(w, "signed by  %s (%s), submission %s: the signature verifies and the entry is its event\n", events.KeyName(sub.Signer), sub.Signer, sub.ID)
			} else {
				fmt.Fprintf(w, "signed by  nobody: submission %s's signature does not verify (%v), and the entry is rejected\n", sub.ID, sub.SignatureErr)
			}
			printHashes(w, "proof", p.Hashes)
			fmt.Fprintf(w, "root       %s (signed checkpoint, signature verified with %s)\n", cp.Root, f.key)
			if out != "" {
				tp := (&audit.TLogProof{Index: p.Index, Hashes: p.Hashes, Checkpoint: []byte(p.Checkpoint)}).Marshal()
				if _, _, err := audit.VerifyTLogProof(tp, entries[0], origin, v); err != nil {
					return fmt.Errorf("proof FAILED: the tlog-proof: %w", err)
				}
				if err := os.WriteFile(out, tp, 0o644); err != nil {
					return fmt.Errorf("couldn't write the tlog-proof: %w", err)
				}
				fmt.Fprintf(w, "tlog-proof written to %s\n", out)
			}
			fmt.Fprintf(w, "OK: entry %d is in the signed tree of size %d\n", p.Index, cp.Size)
			return nil
		},
	}
	f.add(cmd)
	cmd.Flags().Uint64Var(&index, "index", 0, "0-based index of the entry (required)")
	cmd.Flags().Uint64Var(&size, "size", 0, "tree size with a signed checkpoint (default: the latest)")
	cmd.Flags().StringVar(&out, "out", "", "also write the verified proof to this file as a C2SP tlog-proof")
	cmd.MarkFlagRequired("index")
	return cmd
}

func newProveConsistency() *cobra.Command {
	var f proveFlags
	var from, to uint64
	var fromFile, toFile, proofFile string
	cmd := &cobra.Command{
		Use:   "consistency --election ID (--from A | --from-file FILE) [--to B | --to-file FILE] [--proof-file FILE]",
		Short: "Prove that one signed checkpoint's tree is a prefix of another's",
		Long: `consistency fetches the consistency proof between the trees of sizes A and B
(by default the latest) and the checkpoints signed at both sizes; checks
both signatures and origins, and that the proof leads from the root at A to
the root at B: the log of size B extends the log of size A without changing
any of its entries. A and B must be sizes at which the ledger signed a
checkpoint.

Saved checkpoints (such as the accepted.checkpoint and presented.checkpoint
that ledger watch keeps as evidence of an alarm) are checked with
--from-file and --to-file instead of --from and --to: the checkpoint is the
file's, not the server's, and its size is the size proved. Two files are
taken in order of size. With files, --key is required: the key you trust,
not the one the server gives now. The proof comes from --server, or, with
--proof-file, from a saved proof (the JSON of GET .../proof/consistency,
such as the proof.json of ledger watch's evidence), with no server at all.

What the answer proves:
  OK            both checkpoints verify with --key and the proof leads from
                the smaller one's root to the larger one's: one history, the
                larger extending the smaller. This holds whoever sent the
                proof.
  INCONSISTENT  two checkpoints that verify with --key (the files, or one
                the server sent with the proof) have the same size and
                different roots: the key signed two histories (a fork).
                Anyone with the key and the two signed notes can check it.
  FAILED        the proof does not lead from one root to the other, or the
                server gives none. On its own that is not proof of a fork (a
                broken server or network fails too); but a ledger that
                cannot connect two trees it signed no longer serves the
                history it signed (a rollback, or a fork): keep the files,
                and ask another copy of the log (--server).
INCONSISTENT and FAILED exit 1.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			fl := cmd.Flags()
			saved := fromFile != "" || toFile != "" || proofFile != ""
			switch {
			case fromFile != "" && fl.Changed("from"):
				return errors.New("--from and --from-file: pass one")
			case toFile != "" && fl.Changed("to"):
				return errors.New("--to and --to-file: pass one")
			case fromFile == "" && !fl.Changed("from") && proofFile == "":
				return errors.New(`required flag(s) "from" not set: the older tree's size (--from), or a saved checkpoint (--from-file)`)
			case saved && keyText(f.key) == "":
				return errors.New("--from-file, --to-file and --proof-file need --key: saved checkpoints are checked against the key you trust, not the one the server gives now")
			}
			c, v, origin, err := f.open(ctx)
			if err != nil {
				return err
			}
			// The checkpoints known, each verified: the files', then the
			// server's.
			var known []knownCheckpoint
			load := func(path string) (*knownCheckpoint, error) {
				b, err := os.ReadFile(path)
				if err != nil {
					return nil, err
				}
				cp, err := checkpoint.Open(b, origin, v)
				if err != nil {
					return nil, fmt.Errorf("proof FAILED: %s: %w", path, err)
				}
				known = append(known, knownCheckpoint{path, true, cp})
				return &known[len(known)-1], nil
			}
			var a, b *knownCheckpoint
			if fromFile != "" {
				if a, err = load(fromFile); err != nil {
					return err
				}
				from = a.cp.Size
			}
			if toFile != "" {
				if b, err = load(toFile); err != nil {
					return err
				}
				to = b.cp.Size
			}
			w := cmd.OutOrStdout()
			if a != nil && b != nil {
				if a.cp.Size > b.cp.Size {
					a, b = b, a
					from, to = to, from
				}
				if a.cp.Size == b.cp.Size {
					// No proof needed: the same tree has one root.
					printCheckpoints(w, a, b)
					fmt.Fprintf(w, "signatures verified with %s\n", f.key)
					if a.cp.Root != b.cp.Root {
						return inconsistent(a, b)
					}
					fmt.Fprintf(w, "OK: both are the signed tree of size %d\n", a.cp.Size)
					return nil
				}
			}

			// The proof, saved or from the server, with the checkpoints
			// the server signed at both sizes.
			var p proofAnswer
			source := proofFile
			if proofFile != "" {
				raw, err := os.ReadFile(proofFile)
				if err != nil {
					return err
				}
				if err := json.Unmarshal(raw, &p); err != nil {
					return fmt.Errorf("%s is not a consistency proof (the JSON of GET /v1/elections/ID/proof/consistency): %w", proofFile, err)
				}
				if fromFile == "" && !fl.Changed("from") {
					from = p.From
				}
				if toFile == "" && !fl.Changed("to") {
					to = p.To
				}
				if p.From != from || p.To != to {
					return fmt.Errorf("proof FAILED: %s is a proof from %d to %d, not from %d to %d", proofFile, p.From, p.To, from, to)
				}
			} else {
				source = f.server
				sp, err := c.ConsistencyProof(ctx, f.election, from, to)
				var ce *client.Error
				if saved && errors.As(err, &ce) && ce.IsClientError() {
					toWhat := fmt.Sprint(to)
					if to == 0 {
						toWhat = "its latest"
					}
					return fmt.Errorf("proof FAILED: the ledger at %s gives no proof from %d to %s (%s): it does not show that these checkpoints are of one history", f.server, from, toWhat, ce.Problem.Error)
				}
				if err != nil {
					return err
				}
				p.ConsistencyProof, p.FromCheckpoint, p.ToCheckpoint = sp.ConsistencyProof, sp.FromCheckpoint, sp.ToCheckpoint
				if p.From != from || (to != 0 && p.To != to) {
					return fmt.Errorf("proof FAILED: asked for sizes %d and %d, got a proof for %d and %d", from, to, p.From, p.To)
				}
			}
			// The server's own checkpoints: those of the sides without a
			// file, and, if they contradict a file, evidence too.
			for _, s := range []struct {
				size   uint64
				signed string
				side   **knownCheckpoint
			}{{p.From, p.FromCheckpoint, &a}, {p.To, p.ToCheckpoint, &b}} {
				if s.signed == "" {
					switch {
					case *s.side != nil:
					case proofFile != "":
						return fmt.Errorf("%s holds no signed checkpoint of size %d: give it with --from-file or --to-file", proofFile, s.size)
					default:
						return fmt.Errorf("no signed checkpoint was issued at size %d of %s, so the proof cannot be checked against signed roots: use sizes with checkpoints", s.size, f.election)
					}
					continue
				}
				label := fmt.Sprintf("the checkpoint of size %d from %s", s.size, source)
				cp, err := checkpoint.Open([]byte(s.signed), origin, v)
				if err != nil {
					if *s.side == nil {
						return fmt.Errorf("proof FAILED: %w", err)
					}
					continue // unsigned noise beside a file: the file is what is checked
				}
				if cp.Size != s.size {
					return fmt.Errorf("proof FAILED: %s is of size %d", label, cp.Size)
				}
				known = append(known, knownCheckpoint{label, false, cp})
				if *s.side == nil {
					k := known[len(known)-1]
					*s.side = &k
				}
			}
			for i := range known {
				for j := range i {
					if known[i].cp.Size == known[j].cp.Size && known[i].cp.Root != known[j].cp.Root {
						return inconsistent(&known[j], &known[i])
					}
				}
			}
			if err := audit.CheckConsistency(&p.ConsistencyProof, a.cp, b.cp); err != nil {
				return fmt.Errorf("proof FAILED: %w (proof from %s)", err, source)
			}
			printCheckpoints(w, a, b)
			printHashes(w, "proof", p.Hashes)
			if saved {
				fmt.Fprintf(w, "proof from %s\n", source)
			}
			fmt.Fprintf(w, "signatures verified with %s\n", f.key)
			fmt.Fprintf(w, "OK: the signed tree of size %d is a prefix of the signed tree of size %d\n", a.cp.Size, b.cp.Size)
			return nil
		},
	}
	f.add(cmd)
	cmd.Flags().Uint64Var(&from, "from", 0, "size of the older tree (required unless --from-file)")
	cmd.Flags().Uint64Var(&to, "to", 0, "size of the newer tree (default: the latest)")
	cmd.Flags().StringVar(&fromFile, "from-file", "", "a saved signed checkpoint, instead of --from (needs --key)")
	cmd.Flags().StringVar(&toFile, "to-file", "", "a saved signed checkpoint, instead of --to (needs --key)")
	cmd.Flags().StringVar(&proofFile, "proof-file", "", "a saved consistency proof (JSON, as GET .../proof/consistency answers) instead of one from --server (needs --key)")
	return cmd
}

// proofAnswer is a consistency proof as the ledger answers it: the proof
// and the checkpoints it signed at both sizes, if it signed some.
type proofAnswer struct {
	audit.ConsistencyProof
	FromCheckpoint string `json:"from_checkpoint,omitempty"`
	ToCheckpoint   string `json:"to_checkpoint,omitempty"`
}

// knownCheckpoint is a verified checkpoint and where it came from: a
// file's path, or a description of the server's.
type knownCheckpoint struct {
	label string
	file  bool
	cp    checkpoint.Checkpoint
}

// printCheckpoints prints the origin and the two checkpoints proved, each
// with the file it came from.
func printCheckpoints(w io.Writer, a, b *knownCheckpoint) {
	fmt.Fprintf(w, "origin     %s\n", a.cp.Origin)
	for i, k := range []*knownCheckpoint{a, b} {
		fmt.Fprintf(w, "%-10s %d, root %s", []string{"from", "to"}[i], k.cp.Size, k.cp.Root)
		if k.file {
			fmt.Fprintf(w, " (%s)", k.label)
		}
		fmt.Fprintln(w)
	}
}

// inconsistent is the failure of two verified checkpoints of one size with
// different roots.
func inconsistent(a, b *knownCheckpoint) error {
	return fmt.Errorf("INCONSISTENT: %s and %s both verify with the key and are of size %d, with roots %s and %s: the key signed two different histories (a fork); the two signed notes prove it to anyone with the key",
		a.label, b.label, a.cp.Size, a.cp.Root, b.cp.Root)
}

// printHashes prints a labelled column of hashes, "(none)" if empty.
func printHashes(w io.Writer, label string, hs []tlog.Hash) {
	if len(hs) == 0 {
		fmt.Fprintf(w, "%-10s (none)\n", label)
	}
	for i, h := range hs {
		if i > 0 {
			label = ""
		}
		fmt.Fprintf(w, "%-10s %s\n", label, h)
	}
}
