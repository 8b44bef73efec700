package main

import (
	"context"
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
	cmd.Flags().StringVar(&f.key, "key", "", "verifier key, or a file holding it (default: fetched from the server)")
	cmd.MarkFlagRequired("election")
}

// open returns the client and the verifier and origin to check the
// election's checkpoints with; f.key becomes the key string used.
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
	v, err := parseVerifier(key)
	if err != nil {
		return nil, nil, "", err
	}
	f.key = key
	return c, v, checkpoint.Origin(v.Name(), f.election), nil
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
	cmd := &cobra.Command{
		Use:   "consistency --election ID --from A [--to B]",
		Short: "Prove that one signed checkpoint's tree is a prefix of another's",
		Long: `consistency fetches the consistency proof between the trees of sizes A and B
(by default the latest) and the checkpoints signed at both sizes; checks
both signatures and origins, and that the proof leads from the root at A to
the root at B: the log of size B extends the log of size A without changing
any of its entries. A and B must be sizes at which the ledger signed a
checkpoint.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			c, v, origin, err := f.open(ctx)
			if err != nil {
				return err
			}
			p, err := c.ConsistencyProof(ctx, f.election, from, to)
			if err != nil {
				return err
			}
			if p.From != from || (to != 0 && p.To != to) {
				return fmt.Errorf("proof FAILED: asked for sizes %d and %d, got a proof for %d and %d", from, to, p.From, p.To)
			}
			var cps [2]checkpoint.Checkpoint
			for i, s := range []struct {
				size   uint64
				signed string
			}{{p.From, p.FromCheckpoint}, {p.To, p.ToCheckpoint}} {
				if s.signed == "" {
					return fmt.Errorf("no signed checkpoint was issued at size %d of %s, so the proof cannot be checked against signed roots: use sizes with checkpoints", s.size, f.election)
				}
				if cps[i], err = checkpoint.Open([]byte(s.signed), origin, v); err != nil {
					return fmt.Errorf("proof FAILED: %w", err)
				}
			}
			if err := audit.CheckConsistency(&p.ConsistencyProof, cps[0], cps[1]); err != nil {
				return fmt.Errorf("proof FAILED: %w", err)
			}
			w := cmd.OutOrStdout()
			fmt.Fprintf(w, "origin     %s\nfrom       %d, root %s\nto         %d, root %s\n", cps[0].Origin, cps[0].Size, cps[0].Root, cps[1].Size, cps[1].Root)
			printHashes(w, "proof", p.Hashes)
			fmt.Fprintf(w, "signatures verified with %s\n", f.key)
			fmt.Fprintf(w, "OK: the signed tree of size %d is a prefix of the signed tree of size %d\n", cps[0].Size, cps[1].Size)
			return nil
		},
	}
	f.add(cmd)
	cmd.Flags().Uint64Var(&from, "from", 0, "size of the older tree (required)")
	cmd.Flags().Uint64Var(&to, "to", 0, "size of the newer tree (default: the latest)")
	cmd.MarkFlagRequired("from")
	return cmd
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
