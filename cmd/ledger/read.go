package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/election-audit/ledger/audit"
	"github.com/election-audit/ledger/checkpoint"
	"github.com/election-audit/ledger/client"
	"github.com/election-audit/ledger/ledger"
	"github.com/election-audit/ledger/node"
	"github.com/election-audit/ledger/store"
)

func newTally() *cobra.Command {
	var server, election, format, at, cpFile, key string
	var asOf uint64
	cmd := &cobra.Command{
		Use:   "tally --election ID",
		Short: "Print an election's totals (JSON, a table, or a NIST SP 1500-100 report)",
		Long: `tally prints the current totals of an election from a running ledger: the
canonical JSON document (docs/events.md, "Tally") or, with --format table, a
readable table.

With --as-of N or --at TIME it prints the tally as the log stood after its
first N entries, or at a time (RFC 3339; the entries before the first one
recorded later): a canonical JSON document with the tree size and the
Merkle root of those entries, recomputed by replaying them. The same request
gives the same bytes on every machine.

With --format nist it prints the tally, current or with --as-of or --at, as
a NIST SP 1500-100 version 2 ElectionReport (JSON), replayed from the log:
its Status is the election's (unofficial-partial, unofficial-complete,
certified, recount), or correction when the latest count change corrected
or retracted a report; its GeneratedDate is the stream time of the last
entry, and its Issuer the ledger's name. The same request gives the same
bytes.

With --checkpoint FILE it prints the tally at a signed checkpoint you hold
(a C2SP signed note, as ledger checkpoint prints it): it checks the
signature with --key (default: the server's key, which proves only that the
server signed it), asks for the tally at the checkpoint's size, and checks
the Merkle root of the entries replayed equals the checkpoint's root, so the
numbers are tied to the checkpoint; a mismatch exits 1.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if format != "json" && format != "table" && format != "nist" {
				return fmt.Errorf("--format %q: use json, table or nist", format)
			}
			if cmd.Flags().Changed("as-of") && asOf == 0 {
				return errors.New("--as-of 0: a log of 0 entries has no manifest, so no tally; the smallest --as-of is 1 (leave --as-of out for the current tally)")
			}
			c, err := newClient(server)
			if err != nil {
				return err
			}
			var b []byte
			var held checkpoint.Checkpoint
			if cpFile != "" {
				if asOf > 0 || at != "" || format == "table" {
					return fmt.Errorf("--checkpoint gives the size itself: drop --as-of, --at and --format table")
				}
				if held, err = heldCheckpoint(cmd, c, election, cpFile, key); err != nil {
					return err
				}
				asOf = held.Size
			}
			switch {
			case format == "nist":
				b, err = c.TallyNIST(cmd.Context(), election, asOf, at)
			case asOf > 0 || at != "":
				if format == "table" {
					return fmt.Errorf("--as-of and --at print a JSON document only: drop --format table, or use --format nist")
				}
				b, err = c.TallyAsOf(cmd.Context(), election, asOf, at)
			default:
				b, err = c.Tally(cmd.Context(), election, format == "table")
			}
			if err != nil {
				return withKnownElections(cmd.Context(), c, election, err)
			}
			if cpFile != "" && format == "json" {
				if err := checkAsOfRoot(b, held); err != nil {
					return err
				}
			}
			_, err = cmd.OutOrStdout().Write(b)
			return err
		},
	}
	cmd.Flags().StringVar(&server, "server", client.DefaultURL, "ledger HTTP API")
	cmd.Flags().StringVar(&election, "election", "", "election ID (required)")
	cmd.Flags().StringVar(&cpFile, "checkpoint", "", "the tally at this signed checkpoint (a file), its root checked")
	cmd.Flags().StringVar(&key, "key", "", "with --checkpoint: verifier key to check it with, the ledger key or the election's log key (default: fetched from the server)")
	cmd.Flags().StringVar(&format, "format", "json", "json, table or nist (NIST SP 1500-100 v2 ElectionReport)")
	cmd.Flags().Uint64Var(&asOf, "as-of", 0, "the tally after the first N entries of the log (N from 1)")
	cmd.Flags().StringVar(&at, "at", "", "the tally as the log stood at this time (RFC 3339)")
	cmd.MarkFlagsMutuallyExclusive("as-of", "at")
	cmd.MarkFlagRequired("election")
	return cmd
}

func newCheckpoint() *cobra.Command {
	var server, election, key string
	cmd := &cobra.Command{
		Use:   "checkpoint --election ID",
		Short: "Print and verify an election's latest signed checkpoint",
		Long: `checkpoint fetches the latest signed checkpoint of an election (a C2SP signed
note: origin, tree size, root hash, signature), verifies its signature, and
prints it. Pass --key with the verifier key you trust, the ledger key or the
election's log key (its signature line names the log key, <ledger
name>/<election>); without it the ledger key is fetched from the same
server, which proves only that the server signed it.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := newClient(server)
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			cp, err := c.Checkpoint(ctx, election)
			if err != nil {
				return withKnownElections(ctx, c, election, err)
			}
			if key = keyText(key); key == "" {
				if key, err = c.Key(ctx); err != nil {
					return err
				}
			}
			logKey, v, origin, err := logVerifier(key, election)
			if err != nil {
				return err
			}
			opened, err := checkpoint.Open(cp, origin, v)
			if err != nil {
				return err
			}
			key = logKey
			fmt.Fprintf(cmd.OutOrStdout(), "%s", cp)
			fmt.Fprintf(cmd.ErrOrStderr(), "signature verified with %s: size %d, root %s\n", key, opened.Size, opened.Root)
			return nil
		},
	}
	cmd.Flags().StringVar(&server, "server", client.DefaultURL, "ledger HTTP API")
	cmd.Flags().StringVar(&election, "election", "", "election ID (required)")
	cmd.Flags().StringVar(&key, "key", "", "verifier key to check the signature with, the ledger key or the election's log key (default: fetched from the server)")
	cmd.MarkFlagRequired("election")
	return cmd
}

func newRebuild() *cobra.Command {
	var dataDir, election string
	cmd := &cobra.Command{
		Use:   "rebuild",
		Short: "Drop and rebuild projections from the log (server stopped)",
		Long: `rebuild replays every entry of each election's log (or of --election) into a
fresh projection and replaces the stored one in one synced batch. Projections
are derived data: the rebuilt state is byte-identical to the incremental one.
The ledger must not be running on the same data directory.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return rebuild(cmd.OutOrStdout(), dataDir, election)
		},
	}
	cmd.Flags().StringVar(&dataDir, "data", defaultDataDir, "data directory")
	cmd.Flags().StringVar(&election, "election", "", "rebuild only this election")
	return cmd
}

func rebuild(out io.Writer, dataDir, only string) error {
	if _, err := os.Stat(filepath.Join(dataDir, "pebble")); err != nil {
		return fmt.Errorf("%s has no ledger database (is --data right?): %w", dataDir, err)
	}
	db, err := store.Open(filepath.Join(dataDir, "pebble"))
	if err != nil {
		if errors.Is(err, store.ErrInUse) {
			return &node.DataInUseError{Dir: dataDir, Err: err}
		}
		return err
	}
	defer db.Close()
	found := false
	err = db.Elections(func(id string, size uint64) error {
		if only != "" && id != only {
			return nil
		}
		found = true
		var bar *progressbar.ProgressBar
		if term.IsTerminal(int(os.Stderr.Fd())) {
			bar = progressbar.NewOptions64(int64(size), progressbar.OptionSetWriter(os.Stderr),
				progressbar.OptionSetDescription("rebuilding "+id), progressbar.OptionShowCount())
		}
		_, err := ledger.Rebuild(db, id, size, func(done uint64) {
			if bar != nil {
				bar.Set64(int64(done))
			}
		})
		if err != nil {
			return err
		}
		fmt.Fprintf(out, "rebuilt %s from %d entries\n", id, size)
		return nil
	})
	if err == nil && only != "" && !found {
		err = errors.New("no election " + only + " in " + dataDir)
	}
	return err
}

// heldCheckpoint verifies a signed checkpoint from a file.
func heldCheckpoint(cmd *cobra.Command, c *client.Client, election, file, key string) (checkpoint.Checkpoint, error) {
	var none checkpoint.Checkpoint
	cp, err := os.ReadFile(file)
	if err != nil {
		return none, fmt.Errorf("couldn't read the checkpoint: %w", err)
	}
	if key = keyText(key); key == "" {
		if key, err = c.Key(cmd.Context()); err != nil {
			return none, err
		}
		fmt.Fprintf(cmd.ErrOrStderr(), "checking %s with the server's own key (pass --key to use one you trust)\n", file)
	}
	_, v, origin, err := logVerifier(key, election)
	if err != nil {
		return none, err
	}
	opened, err := checkpoint.Open(cp, origin, v)
	if err != nil {
		return none, fmt.Errorf("%s: %w", file, err)
	}
	if opened.Size == 0 {
		return none, fmt.Errorf("%s is a checkpoint of the empty log: there is no tally at size 0", file)
	}
	return opened, nil
}

// checkAsOfRoot checks an as-of document's size and root against a
// verified checkpoint.
func checkAsOfRoot(doc []byte, parsed checkpoint.Checkpoint) error {
	var a audit.AsOf
	if err := json.Unmarshal(doc, &a); err != nil {
		return fmt.Errorf("couldn't read the tally document: %w", err)
	}
	if parsed.Size != a.TreeSize || parsed.Root != a.Root {
		return fmt.Errorf("the entries the server replayed do not match the checkpoint: size %d root %s, checkpoint size %d root %s", a.TreeSize, a.Root, parsed.Size, parsed.Root)
	}
	return nil
}
