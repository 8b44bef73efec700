package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"
	"golang.org/x/mod/sumdb/note"

	"github.com/election-audit/ledger/audit"
	"github.com/election-audit/ledger/checkpoint"
	"github.com/election-audit/ledger/client"
	"github.com/election-audit/ledger/store"
)

func newAudit() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "audit",
		Short: "Verify logs, checkpoints and tallies",
	}
	cmd.AddCommand(newAuditVerify(), newAuditDiff(), newAuditProve(), newAuditBundle(), newAuditVerifyBundle(), newAuditReconcile())
	return cmd
}

func newAuditVerify() *cobra.Command {
	var dataDir, election, key, server string
	cmd := &cobra.Command{
		Use:   "verify",
		Short: "Re-hash every entry and check it against every signed checkpoint (offline)",
		Long: `verify reads a ledger's data directory (or a copy of one) with the server
stopped, and for each election (or --election): re-reads and re-hashes every
stored entry, checks every stored Merkle hash, checks every signed checkpoint
(signature, size, root), holds every entry to its signed submission, and
checks the stored tally equals a replay of the log, in which every entry must
be in its canonical encoding and hold an event ID no earlier entry of the log
has. The first mismatch is printed with the election and the index, and the
exit code is 1.

--key is the verifier key you trust (a key string, or a file holding one):
the ledger key, from which each election's log key is derived, or, with
--election, that election's log key (named <ledger name>/<election>). By
default DATA/ledger.pub is used, which proves only that the log matches the
key stored beside it.

With --server URL it verifies a running ledger from the outside instead:
it fetches every entry over HTTP, re-hashes them, checks the root against
the latest signed checkpoint, holds every entry to its signed submission,
and checks the served tally equals a replay of the entries (with the same
rules on canonical form and event IDs). Stored hashes and older checkpoints
are checked only offline.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if server != "" {
				return verifyRemote(cmd, server, election, key)
			}
			if _, err := os.Stat(filepath.Join(dataDir, "pebble")); err != nil {
				return fmt.Errorf("%s has no ledger database (is --data right?): %w", dataDir, err)
			}
			key, err := checkpointKey(key, dataDir, election)
			if err != nil {
				return err
			}
			db, err := store.Open(filepath.Join(dataDir, "pebble"))
			if err != nil {
				return fmt.Errorf("%w (stop `ledger serve` on this data directory, or verify a copy)", err)
			}
			defer db.Close()
			var ids []string
			if election != "" {
				ids = []string{election}
			} else if err := db.Elections(func(id string, _ uint64) error { ids = append(ids, id); return nil }); err != nil {
				return err
			}
			if len(ids) == 0 {
				return fmt.Errorf("%s holds no elections", dataDir)
			}
			for _, id := range ids {
				res, err := audit.Verify(db, id, key)
				if err != nil {
					return fmt.Errorf("verification FAILED: %w", err)
				}
				fmt.Fprintf(cmd.OutOrStdout(), "%s: %d entries, %d signed checkpoints, %d signed submissions, root %s: OK\n", id, res.Size, res.Checkpoints, res.Submissions, res.Root)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&dataDir, "data", defaultDataDir, "data directory (or a copy of one)")
	cmd.Flags().StringVar(&election, "election", "", "verify only this election")
	cmd.Flags().StringVar(&key, "key", "", "verifier key, the ledger key (or with --election its log key), or a file holding it (default DATA/ledger.pub, or the server's /v1/key)")
	cmd.Flags().StringVar(&server, "server", "", "verify a running ledger over HTTP instead of a data directory")
	return cmd
}

// checkpointKey reads --key: a verifier key, or a file holding one; empty means
// DATA/ledger.pub. It is the ledger key, or, if election is given, that
// election's log key.
func checkpointKey(key, dataDir, election string) (string, error) {
	if key == "" {
		path := filepath.Join(dataDir, checkpoint.PublicKeyFile)
		b, err := os.ReadFile(path)
		if err != nil {
			return "", fmt.Errorf("no --key given and no verifier key in %s: %w", path, err)
		}
		key = string(b)
	}
	key = keyText(key)
	if _, err := note.NewVerifier(key); err != nil {
		return "", fmt.Errorf("--key: not a verifier key (name+hash+base64) or a file holding one: %w", err)
	}
	if election != "" {
		if _, err := checkpoint.LogKey(key, election); err != nil {
			return "", fmt.Errorf("--key: %w", err)
		}
	} else if checkpoint.IsLogKey(key) {
		return "", fmt.Errorf("--key %s is the key of one election's log: pass that election with --election, or the ledger key to check every election", key)
	}
	return key, nil
}

// keyText returns the text of a --key value: the key itself, or the
// content of the file it names.
func keyText(key string) string {
	if b, err := os.ReadFile(key); err == nil {
		key = string(b)
	}
	return strings.TrimSpace(key)
}

// logVerifier returns the log key of an election, its verifier and the
// log's origin, from --key: the ledger key or that log's key
// (checkpoint.LogVerifier).
func logVerifier(key, election string) (string, note.Verifier, string, error) {
	if _, err := note.NewVerifier(key); err != nil {
		return "", nil, "", fmt.Errorf("--key: not a verifier key (name+hash+base64) or a file holding one: %w", err)
	}
	logKey, err := checkpoint.LogKey(key, election)
	if err != nil {
		return "", nil, "", fmt.Errorf("--key: %w", err)
	}
	v, origin, err := checkpoint.LogVerifier(logKey, election)
	if err != nil {
		return "", nil, "", fmt.Errorf("--key: %w", err)
	}
	return logKey, v, origin, nil
}

// verifyRemote verifies a running ledger from its HTTP API.
func verifyRemote(cmd *cobra.Command, server, election, key string) error {
	ctx := cmd.Context()
	c, err := newClient(server)
	if err != nil {
		return err
	}
	if key == "" {
		if key, err = c.Key(ctx); err != nil {
			return err
		}
		fmt.Fprintf(cmd.ErrOrStderr(), "no --key given: using the server's own key %s, which proves only that the server signed its log\n", key)
	}
	if key, err = checkpointKey(key, "", election); err != nil {
		return err
	}
	var ids []string
	if election != "" {
		ids = []string{election}
	} else {
		list, err := c.Elections(ctx)
		if err != nil {
			return err
		}
		for _, e := range list {
			ids = append(ids, e.ID)
		}
	}
	src := client.Source{Client: c, Ctx: ctx}
	for _, id := range ids {
		signed, err := c.Checkpoint(ctx, id)
		if err != nil {
			return err
		}
		_, v, origin, err := logVerifier(key, id)
		if err != nil {
			return err
		}
		cp, err := checkpoint.Open(signed, origin, v)
		if err != nil {
			return fmt.Errorf("verification FAILED: %s: %w", id, err)
		}
		res, err := audit.VerifyLog(src, id, cp.Size, []audit.Checkpoint{{Size: cp.Size, Signed: signed}}, key, nil)
		if err != nil {
			return fmt.Errorf("verification FAILED: %w", err)
		}
		subs, err := audit.VerifyOrigins(src, src, id, cp.Size)
		if err != nil {
			return fmt.Errorf("verification FAILED: %w", err)
		}
		tallyNote := "tally matches a replay"
		served, err := c.Tally(ctx, id, false)
		if err != nil {
			return err
		}
		replayed, err := audit.Replay(src, id, cp.Size, nil)
		if err != nil {
			return fmt.Errorf("verification FAILED: %w", err)
		}
		want, err := replayed.Tally().Encode()
		if err != nil {
			return err
		}
		var head struct {
			Entries uint64 `json:"entries"`
		}
		switch {
		case json.Unmarshal(served, &head) != nil:
			return fmt.Errorf("verification FAILED: %s: the served tally is not JSON", id)
		case head.Entries != cp.Size:
			tallyNote = fmt.Sprintf("tally not compared: the log grew to %d entries meanwhile", head.Entries)
		case !bytes.Equal(served, want):
			return fmt.Errorf("verification FAILED: %s: the served tally differs from a replay of the %d entries", id, cp.Size)
		}
		fmt.Fprintf(cmd.OutOrStdout(), "%s: %d entries, root %s matches the signed checkpoint, every entry is its signed submission's (%d), %s: OK\n", id, res.Size, res.Root, subs, tallyNote)
	}
	return nil
}
