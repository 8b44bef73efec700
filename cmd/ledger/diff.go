package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/election-audit/ledger/audit"
	"github.com/election-audit/ledger/client"
	"github.com/election-audit/ledger/store"
)

func newAuditDiff() *cobra.Command {
	var server, dataDir, election string
	var from, to uint64
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "diff --election ID --from A --to B",
		Short: "What entries [A, B) changed: each count old → new, by which office and report, and why",
		Long: `diff lists the entries [A, B) of an election's log and how each changed the
counts: the office that made it ("by <key name>", the name of the key that
signed its submission), and for every report, correction and retraction, the
counts that changed (old → new), the report it replaced, and the reason given.
Corrections and retractions are marked with "!". Rejected entries are listed
with the reason. Units, contests, candidates and vote types are named as the
election's manifest names them; --json gives their IDs, and adds "office"
(the key name) and "signer" (the full verifier key) to each change.

The old values are recomputed by replaying the log from entry 0, from the
entries fetched from --server (default) or read from --data (offline, the
server stopped), with every verdict checked, signer and role included; each
entry listed is held to its signed submission (its bytes, fetched or read
alike, must hash to what the entry names, carry the signature it names and
hold its event), so the office shown is the one that signed: nothing
computed by the ledger is trusted.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if !cmd.Flags().Changed("to") {
				return errors.New("--to is required: the end of the range, exclusive")
			}
			var src interface {
				audit.Source
				audit.SubmissionSource
			}
			if dataDir != "" {
				db, err := store.Open(filepath.Join(dataDir, "pebble"))
				if err != nil {
					return fmt.Errorf("%w (stop `ledger serve` on this data directory, or use --server)", err)
				}
				defer db.Close()
				src = db
			} else {
				c, err := newClient(server)
				if err != nil {
					return err
				}
				src = client.Source{Client: c, Ctx: cmd.Context()}
			}
			changes, err := audit.Diff(src, src, election, from, to)
			if err != nil {
				return err
			}
			if asJSON {
				enc := json.NewEncoder(cmd.OutOrStdout())
				for _, c := range changes {
					if err := enc.Encode(c); err != nil {
						return err
					}
				}
				return nil
			}
			m, err := audit.ManifestOf(src, election)
			if err != nil {
				return err
			}
			return audit.WriteChanges(cmd.OutOrStdout(), changes, m)
		},
	}
	f := cmd.Flags()
	f.StringVar(&server, "server", client.DefaultURL, "ledger HTTP API to fetch entries from")
	f.StringVar(&dataDir, "data", "", "read a data directory instead (offline)")
	f.StringVar(&election, "election", "", "election ID (required)")
	f.Uint64Var(&from, "from", 0, "first entry")
	f.Uint64Var(&to, "to", 0, "end of the range, exclusive (required)")
	f.BoolVar(&asJSON, "json", false, "JSON Lines, one change per line")
	cmd.MarkFlagRequired("election")
	return cmd
}
