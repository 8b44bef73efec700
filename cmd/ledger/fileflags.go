package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/election-audit/ledger/importer/formats"
	"github.com/election-audit/ledger/importer/openelections"
)

// fileFlags registers the flags that say how to read results files, for
// import and audit reconcile, and returns a function that finishes opts
// once the flags are parsed.
func fileFlags(cmd *cobra.Command, opts *formats.Options) func() error {
	f := cmd.Flags()
	oe := &opts.OpenElections
	var primary bool
	f.StringVar(&oe.State, "state", "", "openelections: two-letter state code (default: from the file names)")
	f.StringVar(&oe.Date, "date", "", "openelections: election day YYYY-MM-DD, for files not named YYYYMMDD__st__… (default: from the file names; refused if it differs)")
	f.StringVar(&oe.Name, "name", "", "openelections: the election's name")
	f.StringVar(&oe.Prefer, "prefer", "", "openelections: when a row's vote types do not sum to its votes, log the votes column ("+
		openelections.PreferVotes+") or the vote-type columns ("+openelections.PreferVoteTypes+"), each difference a finding; by default such a file is refused")
	f.BoolVar(&oe.TrustLastLine, "trust-last-line", false, "openelections: accept a last line without a line end that ends in a count nothing confirms (check the file is whole first)")
	f.BoolVar(&oe.BlankOffice, "blank-office", false, "openelections: log each row without an office as a contest of its own, instead of refusing the file")
	f.StringSliceVar(&oe.IgnoreColumns, "ignore-column", nil, "openelections: a column that holds no votes, to read past (repeatable)")
	f.StringSliceVar(&oe.VoteTypeColumns, "vote-type-column", nil, "openelections: a column that holds votes of a vote type this importer does not know by name (repeatable)")
	f.BoolVar(&primary, "primary", false, "openelections: the files are of a primary, each party's race a contest of its own (default: when the file names say \"primary\")")
	f.StringVar(&opts.Clarity.Root, "root", "", "clarity: ID of the root unit (default: from the file's Region)")
	return func() error {
		if f.Changed("primary") {
			oe.Primary = &primary
		}
		switch oe.Prefer {
		case "", openelections.PreferVotes, openelections.PreferVoteTypes:
			return nil
		}
		return fmt.Errorf("--prefer %q: use %s or %s", oe.Prefer, openelections.PreferVotes, openelections.PreferVoteTypes)
	}
}
