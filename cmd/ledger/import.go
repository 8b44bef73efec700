package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"slices"
	"strings"

	"github.com/google/uuid"
	"github.com/spf13/cobra"

	"github.com/election-audit/ledger/audit"
	"github.com/election-audit/ledger/client"
	"github.com/election-audit/ledger/events"
	"github.com/election-audit/ledger/importer"
	"github.com/election-audit/ledger/importer/formats"
	"github.com/election-audit/ledger/keys"
)

func newImport() *cobra.Command {
	var server, format, election, keyFile string
	var opts formats.Options
	var dryRun, verbose, asJSON bool
	var parallel int
	var finishOpts func() error
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

  ledger import --key ga-sos.key --election ga06-2017-06 openelections:cobb.csv \
      openelections:dekalb.csv ga-sos:export-2017JunSpecRun.json

Every submission is signed with --key: for a new election, the key of the
election's authority (the state's election office), which the manifest then
names and which the ledger must accept (ledger serve --authority); for an
election the ledger has, the authority's key or a reporter key the
authority registered for the units the files report.

Every file is parsed and checked before anything is sent: a file that fails
to parse logs nothing, and the error names the file and the line or
element. Events go in signed submissions of up to 1,000, each one request
and one stream message, logged whole or not at all: the first event alone
(the manifest), then submissions up to --parallel
at a time, unless two reports are for the same unit and contest (then one
request at a time, in order). Event IDs are derived from the files, so
importing the same file again logs nothing new, and an import that was
interrupted is completed by running it again.

No vote is dropped, merged or invented: every column of a CSV is read or
the file is refused, naming the column (--vote-type-column reads one as a
vote type, --ignore-column reads past one without votes); a file whose vote types contradict its votes column is
refused, naming the rows, unless --prefer says which side to log; a last
line that may have been cut inside a count is refused unless
--trust-last-line; rows without an office are refused unless
--blank-office. Before anything is sent, the reports are checked to add up
to the files' own totals, and the output says so ("checked: …").
docs/importers.md lists what each format reads and refuses.

A report's event ID depends only on what it reports and on the file's
SHA-256, not on its name: a renamed copy of a file already imported is the
same source, and logs nothing new.

Files of another election are refused: every format gives the election's
date (the file's, or the OpenElections file name's), and an election the
ledger already has must have the same date.

Output: a line "ELECTION: N events logged, N already logged, N rejected",
and, when the files have findings (totals that differ from the sum of their
vote types, roll-ups that differ from what they roll up), a summary by kind
first, "findings: 58 vote-types-sum, 4 rollup-sum"; -v lists every finding
after it, one per line. --json prints one JSON document instead, with every
finding (docs/importers.md). All on standard output; the progress and the
errors on standard error.

Exit codes: 0 imported (or already imported), no findings; 4 imported (or
already imported, or --dry-run) and the files have findings; 3 reports
logged but rejected by the election's rules (a certified election, say); 2
the ledger refused a request; 1 an error (bad file, no ledger, files that do
not match the election or are of another election). 1, 2 and 3 win over 4.`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := finishOpts(); err != nil {
				return err
			}
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
			stderr, stdout := cmd.ErrOrStderr(), cmd.OutOrStdout()
			fmt.Fprintf(stderr, "parsed %d file(s): %d units, %d contests, %d reports, %d findings\n",
				len(args), len(imp.Manifest.Units), len(imp.Manifest.Contests), len(imp.Reports), len(imp.Findings))
			sum := importSummary{Election: election, Units: len(imp.Manifest.Units), Contests: len(imp.Manifest.Contests),
				Reports: len(imp.Reports), FindingsByKind: map[string]int{}, Findings: []audit.FileFinding{}, DryRun: dryRun}
			for _, g := range groups {
				sum.Files = append(sum.Files, g.files...)
			}
			for _, f := range imp.Findings {
				sum.FindingsByKind[f.Kind]++
				sum.Findings = append(sum.Findings, audit.FileFinding{Kind: f.Kind, File: f.File, Where: f.Where, Msg: f.Msg})
			}
			// checked prints what the files were checked for, once they
			// are known to belong to the election.
			checked := func() {
				if t := imp.Totals; t.Choices > 0 {
					sum.Checked = &t
					if !asJSON {
						fmt.Fprintf(stdout, "checked: the reports add up to the files' own rows in every contest and choice (%d contests, %d choices, %d in all)\n",
							t.Contests, t.Choices, t.Votes)
					}
				}
				if !asJSON && len(imp.Findings) > 0 {
					fmt.Fprintf(stdout, "findings: %s\n", importer.FindingKinds(sum.FindingsByKind))
					if verbose {
						for _, f := range imp.Findings {
							fmt.Fprintln(stdout, f)
						}
					}
				}
			}
			// done prints the JSON document and gives the exit code of an
			// import that went through (or a dry run): 3 for rejected
			// events, else 4 for findings, else 0.
			done := func(firstReason string) error {
				if asJSON {
					b, err := json.Marshal(sum)
					if err != nil {
						return fmt.Errorf("couldn't encode the import's summary: %w", err)
					}
					if _, err := stdout.Write(append(b, '\n')); err != nil {
						return err
					}
				}
				if sum.Rejected > 0 {
					return &exitCodeError{exitRejected, fmt.Errorf("%d event(s) logged as rejected, first %s", sum.Rejected, firstReason)}
				}
				if n := len(sum.Findings); n > 0 {
					where := "list them with -v or --json"
					if verbose || asJSON {
						where = "listed on standard output"
					}
					return &exitCodeError{exitFindings, fmt.Errorf("the files have %d finding(s) (%s): %s", n, importer.FindingKinds(sum.FindingsByKind), where)}
				}
				return nil
			}
			var key *keys.Key
			if keyFile != "" || !dryRun {
				if key, err = loadKey(keyFile); err != nil {
					return err
				}
			}
			c, err := newClient(server)
			if err != nil {
				return err
			}
			existing, err := c.Manifest(cmd.Context(), election)
			var unreachable *net.OpError
			switch {
			case err != nil && dryRun && errors.As(err, &unreachable):
				// A dry run checks the files even with no ledger to
				// match them with: as the first import of the election.
				fmt.Fprintf(stderr, "%v\ndry run without a ledger: the files are checked on their own, as a new election, not matched with election %s of a ledger\n", err, election)
				existing = nil
			case err != nil:
				return err
			}
			if existing == nil && key != nil {
				// A new election: the key that signs its manifest is
				// its authority.
				imp.Manifest.Authority = key.Verifier
			}
			evs, err := imp.EventsFor(existing)
			if err != nil {
				return err
			}
			checked()
			sum.Events = len(evs)
			if dryRun {
				if !asJSON {
					fmt.Fprintf(stdout, "would submit %d events to %s (dry run: nothing sent)\n", len(evs), election)
				}
				return done("")
			}
			if existing != nil {
				renamed, err := importer.KeepLoggedNames(evs, func(id uuid.UUID) (*events.Entry, error) { return c.Event(cmd.Context(), id) })
				if err != nil {
					return err
				}
				for _, r := range renamed {
					fmt.Fprintf(stderr, "%s is byte-identical to %s, imported before: the same source, whose reports keep that name\n", r.File, r.LoggedAs)
				}
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
			rs, err := c.WithKey(key).SubmitAll(cmd.Context(), raw, client.SubmitOptions{Chunk: submitChunk, Parallel: par,
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
			var firstReason string
			for _, r := range rs {
				switch {
				case r.Duplicate:
					sum.AlreadyLogged++
				case r.Reason != "":
					sum.Rejected++
					if firstReason == "" {
						firstReason = fmt.Sprintf("entry %d: %s", r.Index, r.Reason)
						sum.FirstRejection = firstReason
					}
				default:
					sum.Logged++
				}
			}
			if m, err := c.Elections(cmd.Context()); err == nil {
				for _, e := range m {
					if e.ID == election {
						sum.TreeSize = e.Size
					}
				}
			}
			if !asJSON {
				fmt.Fprintf(stdout, "%s: %d events logged, %d already logged, %d rejected; the log has %d entries\n",
					election, sum.Logged, sum.AlreadyLogged, sum.Rejected, sum.TreeSize)
			}
			return done(firstReason)
		},
	}
	f := cmd.Flags()
	f.StringVar(&server, "server", client.DefaultURL, "ledger HTTP API")
	f.StringVar(&keyFile, "key", "", "private key file of the office that signs (made by ledger keygen; required unless --dry-run): the authority's for a new election, which it then names in its manifest, or a reporter's registered for the units the files report")
	f.StringVar(&format, "format", "", "format of the files without a FORMAT: prefix: "+strings.Join(formats.Names, ", "))
	f.StringVar(&election, "election", "", "election ID (required)")
	f.BoolVar(&dryRun, "dry-run", false, "parse, check and match the files, and send nothing (with no ledger to reach, the files are checked as a new election)")
	f.IntVar(&parallel, "parallel", 4, "requests in flight after the first (1 keeps the files' order in the log)")
	f.BoolVarP(&verbose, "verbose", "v", false, "list every finding in the files, one per line, after their summary")
	f.BoolVar(&asJSON, "json", false, "print one JSON document: the import's summary and every finding (docs/importers.md)")
	finishOpts = fileFlags(cmd, &opts)
	cmd.MarkFlagRequired("election")
	cmd.MarkFlagsMutuallyExclusive("verbose", "json")
	return cmd
}

// importSummary is the document `ledger import --json` prints; its shape is
// documented in docs/importers.md and its field names are stable.
type importSummary struct {
	Election string   `json:"election"`
	Files    []string `json:"files"` // as given, without FORMAT:
	Units    int      `json:"units"`
	Contests int      `json:"contests"`
	Reports  int      `json:"reports"`
	// Events is how many events the import makes: the reports (a report
	// repeated from a file given twice counted once), and the manifest for
	// a new election.
	Events         int    `json:"events"`
	DryRun         bool   `json:"dry_run"`
	Logged         int    `json:"logged"`
	AlreadyLogged  int    `json:"already_logged"`
	Rejected       int    `json:"rejected"`
	FirstRejection string `json:"first_rejection,omitempty"`
	TreeSize       uint64 `json:"tree_size"`
	// Checked is the files' own totals that the reports were checked to
	// add up to; absent when the format makes no such check.
	Checked        *importer.Totals    `json:"checked,omitempty"`
	FindingsByKind map[string]int      `json:"findings_by_kind"`
	Findings       []audit.FileFinding `json:"findings"`
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
