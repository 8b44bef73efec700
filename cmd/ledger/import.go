package main

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/election-audit/ledger/client"
	"github.com/election-audit/ledger/importer"
	"github.com/election-audit/ledger/importer/formats"
)

func newImport() *cobra.Command {
	var server, format, election string
	var opts formats.Options
	var dryRun bool
	var parallel int
	cmd := &cobra.Command{
		Use:   "import --election ID [--format FORMAT] [FORMAT:]FILE...",
		Short: "Import official results files (OpenElections CSV, GA SOS JSON, Clarity XML, NIST JSON)",
		Long: `import reads results files and logs them in a running ledger: for a new
election, its manifest (contests, candidates, reporting units, vote types)
and then one count report per unit and contest; for an election the ledger
already has, the reports alone, matched to its manifest (candidates by name
and alias, contests by ID or by their candidates). Every report names its
source file and the file's SHA-256.

Formats (--format):
  openelections  OpenElections CSV (county,precinct,office,district,party,
                 candidate,votes and vote-type columns); several county
                 files of one election are read together
  ga-sos         Georgia Secretary of State JSON results export
  clarity        Clarity ENR detail.xml, state-level or county-level
  nist           NIST SP 1500-100 v2 JSON ElectionReport

A file may name its own format, as FORMAT:FILE, so that sources of one
election in several formats are imported together into one manifest: the
first file's manifest extended by the others (precincts from a county's
files under the counties of the state's export, say), for example

  ledger import --election ga06-2017-06 openelections:cobb.csv \
      openelections:dekalb.csv ga-sos:export-2017JunSpecRun.json

Every file is parsed and checked before anything is sent: a file that fails
to parse logs nothing, and the error names the file and the line or
element. Events go in requests of up to 1,000, each logged whole or not at
all: the first event alone (the manifest), then requests up to --parallel
at a time, unless two reports are for the same unit and contest (then one
request at a time, in order). Event IDs are derived from the files, so
importing the same file again logs nothing new, and an import that was
interrupted is completed by running it again.

Exit codes: 0 imported (or already imported); 1 an error (bad file, no
ledger, a file that does not match the election); 2 the ledger refused a
request; 3 reports logged but rejected by the election's rules (a certified
election, say).`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			groups, err := formatGroups(format, args)
			if err != nil {
				return err
			}
			var imps []*importer.Import
			for _, g := range groups {
				files, err := formats.ReadFiles(g.files)
				if err != nil {
					return err
				}
				imp, err := formats.Parse(g.format, files, election, opts)
				if err != nil {
					return err
				}
				imps = append(imps, imp)
			}
			imp := imps[0]
			if len(imps) > 1 {
				if imp, err = importer.Merge(imps...); err != nil {
					return err
				}
			}
			stderr := cmd.ErrOrStderr()
			fmt.Fprintf(stderr, "parsed %d file(s): %d units, %d contests, %d reports, %d findings\n",
				len(args), len(imp.Manifest.Units), len(imp.Manifest.Contests), len(imp.Reports), len(imp.Findings))
			for _, f := range imp.Findings {
				fmt.Fprintf(stderr, "  finding: %s\n", f)
			}
			c, err := client.New(server, nil)
			if err != nil {
				return err
			}
			existing, err := c.Manifest(cmd.Context(), election)
			if err != nil {
				return err
			}
			evs, err := imp.EventsFor(existing)
			if err != nil {
				return err
			}
			if dryRun {
				fmt.Fprintf(cmd.OutOrStdout(), "would submit %d events to %s (dry run: nothing sent)\n", len(evs), election)
				return nil
			}
			raw, err := importer.Encode(evs)
			if err != nil {
				return err
			}
			bar := eventsBar(len(raw), "importing")
			par := max(parallel, 1)
			if !imp.Independent() {
				par = 1 // two reports for one unit and contest: keep their order
			}
			rs, err := c.SubmitAll(cmd.Context(), raw, client.SubmitOptions{Chunk: submitChunk, Parallel: par,
				Progress: func(done int) {
					if bar != nil {
						bar.Set(done)
					}
				}})
			var ce *client.ChunkError
			if errors.As(err, &ce) && client.IsRefused(err) {
				var pe *client.Error
				errors.As(err, &pe)
				return &exitCodeError{exitRefused, fmt.Errorf("the ledger refused events %d–%d of %d (%s); run the import again once fixed: what was logged is not logged twice", ce.Start+1, ce.End, len(raw), pe.Problem.Error)}
			}
			if err != nil {
				return err
			}
			var logged, dup, rejected int
			var firstReason string
			for _, r := range rs {
				switch {
				case r.Duplicate:
					dup++
				case r.Reason != "":
					rejected++
					if firstReason == "" {
						firstReason = fmt.Sprintf("entry %d: %s", r.Index, r.Reason)
					}
				default:
					logged++
				}
			}
			size := uint64(0)
			if m, err := c.Elections(cmd.Context()); err == nil {
				for _, e := range m {
					if e.ID == election {
						size = e.Size
					}
				}
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s: %d events logged, %d already logged, %d rejected; the log has %d entries\n",
				election, logged, dup, rejected, size)
			if rejected > 0 {
				return &exitCodeError{exitRejected, fmt.Errorf("%d event(s) logged as rejected, first %s", rejected, firstReason)}
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&server, "server", client.DefaultURL, "ledger HTTP API")
	f.StringVar(&format, "format", "", "format of the files without a FORMAT: prefix: "+strings.Join(formats.Names, ", "))
	f.StringVar(&election, "election", "", "election ID (required)")
	f.BoolVar(&dryRun, "dry-run", false, "parse, check and match the files, and send nothing")
	f.IntVar(&parallel, "parallel", 4, "requests in flight after the first (1 keeps the files' order in the log)")
	f.StringVar(&opts.OpenElections.State, "state", "", "openelections: two-letter state code (default: from the file names)")
	f.StringVar(&opts.OpenElections.Date, "date", "", "openelections: election day YYYY-MM-DD (default: from the file names)")
	f.StringVar(&opts.OpenElections.Name, "name", "", "openelections: the election's name")
	f.StringVar(&opts.Clarity.Root, "root", "", "clarity: ID of the root unit (default: from the file's Region)")
	cmd.MarkFlagRequired("election")
	return cmd
}

type formatGroup struct {
	format string
	files  []string
}

// formatGroups splits FILE and FORMAT:FILE arguments into groups by format,
// in the order each format first appears.
func formatGroups(def string, args []string) ([]formatGroup, error) {
	var out []formatGroup
	for _, a := range args {
		f, name := def, a
		if i := strings.IndexByte(a, ':'); i > 0 && slices.Contains(formats.Names, a[:i]) {
			f, name = a[:i], a[i+1:]
		}
		if f == "" {
			return nil, fmt.Errorf("%s: which format? Give --format or write FORMAT:%s (formats: %s)", a, a, strings.Join(formats.Names, ", "))
		}
		if !slices.Contains(formats.Names, f) {
			return nil, fmt.Errorf("unknown format %q: use one of %s", f, strings.Join(formats.Names, ", "))
		}
		i := slices.IndexFunc(out, func(g formatGroup) bool { return g.format == f })
		if i < 0 {
			out = append(out, formatGroup{format: f})
			i = len(out) - 1
		}
		out[i].files = append(out[i].files, name)
	}
	return out, nil
}
