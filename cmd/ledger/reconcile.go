package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/election-audit/ledger/audit"
	"github.com/election-audit/ledger/client"
	"github.com/election-audit/ledger/importer"
	"github.com/election-audit/ledger/importer/formats"
	"github.com/election-audit/ledger/store"
)

// exitFindings is the exit code of `ledger audit reconcile` when it finds
// something: the command worked, and what it found is on standard output.
const exitFindings = 4

func newAuditReconcile() *cobra.Command {
	var server, dataDir, election, format string
	var asOf uint64
	var asJSON, verbose bool
	var opts formats.Options
	var finishOpts func() error
	cmd := &cobra.Command{
		Use:   "reconcile --election ID [--data DIR | --server URL] [--as-of N] [--json | -v] [--format F FILE...]",
		Short: "List reconciliation findings: roll-ups that differ, units that never reported, files that do not add up",
		Long: `reconcile replays an election's log (entries [0, N), by default all of it) and
lists what does not reconcile (docs/reconcile.md):

  rollup      a unit with its own report and reports beneath it (a county
              report and its precincts' reports) whose figures differ, by
              choice, and by vote type when both sides report the same vote
              types; "rollup (incomplete)" while some units beneath have not
              reported, when a difference is expected
  unreported  per contest, the units (leaves of the unit tree) that no
              report covers, their own or an ancestor's

With --format F and results files, it also parses the files with that
importer (` + strings.Join(formats.Names, ", ") + `)
and lists the discrepancies inside them: totals that differ from the sum of
their vote types (vote-types-sum), roll-up rows that differ from the rows
they roll up (rollup-sum). OpenElections files are read together, as the
county files of one election.

The log's findings are printed one per line; the results files' findings
are summarised by kind on one line ("results files: 58 vote-types-sum, 4
rollup-sum"), and listed one per line with -v; then a line "N findings
...". With --json, one JSON document instead, with every finding
(docs/reconcile.md). The log is replayed from the entries fetched from
--server (default), or read from --data (offline, the server stopped):
nothing computed by the ledger is trusted.

Exit codes: 0 no findings; 4 reconciliation findings (on standard output,
the results files' summarised by kind unless -v or --json); 1 an error
(bad flags or files, unreachable server, a log that does not replay).`,
		Args: cobra.ArbitraryArgs,
		RunE: func(cmd *cobra.Command, files []string) error {
			if err := finishOpts(); err != nil {
				return err
			}
			switch {
			case format != "" && !slices.Contains(formats.Names, format):
				return fmt.Errorf("--format %q: use one of %s", format, strings.Join(formats.Names, ", "))
			case format == "" && len(files) > 0:
				return fmt.Errorf("results files given without --format: use one of %s", strings.Join(formats.Names, ", "))
			case format != "" && len(files) == 0:
				return errors.New("--format given without results files")
			case cmd.Flags().Changed("as-of") && asOf == 0:
				return errors.New("--as-of must be at least 1: a log starts with its manifest")
			}
			// Files first: a bad file fails before a long replay.
			var found []importer.Finding
			if len(files) > 0 {
				var err error
				if found, err = fileFindings(format, files, election, opts); err != nil {
					return err
				}
			}
			src, size, closeSrc, err := reconcileSource(cmd, server, dataDir, election)
			if err != nil {
				return err
			}
			defer closeSrc()
			if asOf == 0 {
				asOf = size
			}
			if asOf > size {
				return fmt.Errorf("--as-of %d: %w (%s has %d entries)", asOf, audit.ErrPastEnd, election, size)
			}
			r, err := audit.Reconcile(src, election, asOf)
			if err != nil {
				return err
			}
			r.AddFiles(found)
			if asJSON {
				b, err := r.Encode()
				if err != nil {
					return err
				}
				if _, err := cmd.OutOrStdout().Write(b); err != nil {
					return err
				}
			} else if err := writeReconciliation(cmd.OutOrStdout(), r, verbose); err != nil {
				return err
			}
			if n := r.Len(); n > 0 {
				return &exitCodeError{exitFindings, fmt.Errorf("%s at tree size %d: reconciliation findings (%d)", election, asOf, n)}
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&election, "election", "", "election ID (required)")
	f.StringVar(&server, "server", client.DefaultURL, "ledger HTTP API to fetch entries from")
	f.StringVar(&dataDir, "data", "", "read a data directory instead (offline, the server stopped)")
	f.Uint64Var(&asOf, "as-of", 0, "reconcile the log after its first N entries (default all of it)")
	f.BoolVar(&asJSON, "json", false, "print one JSON document (docs/reconcile.md)")
	f.StringVar(&format, "format", "", "format of the results files: "+strings.Join(formats.Names, ", "))
	f.BoolVarP(&verbose, "verbose", "v", false, "list the results files' findings one per line, not only their summary by kind")
	finishOpts = fileFlags(cmd, &opts)
	cmd.MarkFlagRequired("election")
	cmd.MarkFlagsMutuallyExclusive("data", "server")
	cmd.MarkFlagsMutuallyExclusive("verbose", "json")
	return cmd
}

// writeReconciliation writes r as text: the results files' findings one
// per line with verbose, or else summarised by kind on one line.
func writeReconciliation(w io.Writer, r *audit.Reconciliation, verbose bool) error {
	if verbose {
		return r.WriteText(w)
	}
	return r.WriteTextBrief(w)
}

// reconcileSource opens the log to replay, from --data or --server, and
// returns it with the election's size and a function that closes it.
func reconcileSource(cmd *cobra.Command, server, dataDir, election string) (audit.Source, uint64, func(), error) {
	if dataDir != "" {
		if _, err := os.Stat(filepath.Join(dataDir, "pebble")); err != nil {
			return nil, 0, nil, fmt.Errorf("%s has no ledger database (is --data right?): %w", dataDir, err)
		}
		db, err := store.Open(filepath.Join(dataDir, "pebble"))
		if err != nil {
			return nil, 0, nil, fmt.Errorf("%w (stop `ledger serve` on this data directory, or use --server)", err)
		}
		size, err := latestSize(db, election)
		if err != nil {
			db.Close()
			return nil, 0, nil, err
		}
		return db, size, func() { db.Close() }, nil
	}
	c, err := newClient(server)
	if err != nil {
		return nil, 0, nil, err
	}
	list, err := c.Elections(cmd.Context())
	if err != nil {
		return nil, 0, nil, err
	}
	var ids []string
	for _, e := range list {
		if e.ID == election {
			return client.Source{Client: c, Ctx: cmd.Context()}, e.Size, func() {}, nil
		}
		ids = append(ids, e.ID)
	}
	if len(ids) == 0 {
		ids = []string{"none"}
	}
	return nil, 0, nil, fmt.Errorf("%w %q (elections in this ledger: %s)", audit.ErrUnknownElection, election, strings.Join(ids, ", "))
}

// fileFindings parses results files with the named importer and returns
// the findings inside them, in file order.
func fileFindings(format string, names []string, election string, opts formats.Options) ([]importer.Finding, error) {
	if !slices.Contains(formats.Names, format) {
		return nil, fmt.Errorf("--format %q: use one of %s", format, strings.Join(formats.Names, ", "))
	}
	files, err := formats.ReadFiles(names)
	if err != nil {
		return nil, err
	}
	// OpenElections county files make one election together; the other
	// formats are read file by file, so that each file's findings stand
	// even if the files would not merge.
	groups := [][]formats.File{files}
	if format != formats.OpenElections {
		groups = groups[:0]
		for _, f := range files {
			groups = append(groups, []formats.File{f})
		}
	}
	var found []importer.Finding
	for _, g := range groups {
		imp, err := formats.Parse(format, g, election, opts)
		if err != nil {
			return nil, err
		}
		found = append(found, imp.Findings...)
	}
	return found, nil
}
