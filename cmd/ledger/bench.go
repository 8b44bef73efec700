package main

import (
	"fmt"
	"math"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/election-audit/ledger/bench"
	"github.com/election-audit/ledger/events"
)

func newBench() *cobra.Command {
	var cfg bench.Config
	var auditMode bool
	var acfg bench.AuditConfig
	var importMode bool
	var icfg bench.ImportConfig
	var monitorsMode bool
	var mcfg bench.MonitorsConfig
	cmd := &cobra.Command{
		Use:   "bench",
		Short: "Measure ingest and latency beside the raw JetStream, Pebble and SHA-256 ceilings",
		Long: `bench starts a throwaway ledger (embedded NATS, Pebble in a temporary
directory), and in one run measures: sustained ingest from submit to durable
entry with ~680-byte count events, signed in submissions of --chunk events
as a reporter's client signs them, the latency of a single synchronous
submitter, the cost of signing and of opening a submission, and beside them
the raw ceilings on the same machine: the ledger's transport (whole
submissions published as single JetStream messages with Nats-Msg-Id into a
file stream configured like the ledger's, and read back in order), the
transport of earlier releases for comparison (one message per event, in
atomic batches, and async), Pebble synced batch writes, and SHA-256. It
prints each figure and the ratio of the ledger to the transport's ceiling.

With --audit it measures the audit instead: it generates an election log of
--entries entries straight into Pebble (no NATS; setup, not measured), then
measures beside the ceiling of reading and SHA-256-hashing every entry:
re-hashing and checking the log against its signed checkpoints
(audit.VerifyLog), the full audit.Verify, a full tally replay, as-of tallies
at random sizes, and inclusion and consistency proofs.

With --import it measures importing a results file instead: it generates a
statewide OpenElections precinct file (--counties × --precincts precincts,
13 contests; 108,000 rows by default) and imports it into the throwaway
ledger as ` + "`ledger import`" + ` does, end to end: read and parse, derive and
encode the events, submit them over the HTTP API in requests of --chunk
events, the first event alone and then 4 requests at a time, until every
receipt is back. Beside it, each on a fresh ledger: the core ingest of the
import's own events (decoded as the HTTP edge does, then
Ledger.SubmitEncoded from --submitters submitters: no file, no HTTP), which
with the parse time gives the import's ceiling, and the raw ingest of as
many generated events. It checks the ledger's tally against the file's
totals and fails if they differ.

With --monitors it measures the change feed under load instead: the same
ingest as above (--events generated count events, 50,000 by default in this
mode) on the throwaway ledger with its HTTP API, first with no subscriber,
then again with --sse subscribers over server-sent events (client.Changes)
and --nats-subs ordered JetStream consumers of the feed attached from the
end of the log, and --stuck SSE connections that never read. It prints both
ingest rates and their ratio, the delay from durable entry to each
subscriber receiving it (median and p99, SSE and NATS apart), and the heap
in use before and after. It fails unless every subscriber receives every
entry of the second ingest once, in order. Then, the ledger idle, it
measures the fan-out floor: the bytes the SSE subscribers read, written to
as many loopback sockets and read back line by line with nothing of the
ledger, and the best ratio that cost allows on this machine's cores (also
for frames cut to the stored entry alone). With --rate the second ingest
is paced instead (for example --rate 2000, an election night's pace): the
delays are then the feed's at that rate.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := checkBenchFlags(cmd.Flags()); err != nil {
				return err
			}
			if monitorsMode {
				mcfg.Out = cmd.OutOrStdout()
				mcfg.Dir, mcfg.Chunk, mcfg.Submitters, mcfg.CPUProfile = cfg.Dir, cfg.Chunk, cfg.Submitters, cfg.CPUProfile
				if cmd.Flags().Changed("events") {
					mcfg.Events = cfg.Events
				}
				_, err := bench.RunMonitors(cmd.Context(), mcfg)
				return err
			}
			if importMode {
				icfg.Out = cmd.OutOrStdout()
				icfg.Dir, icfg.Chunk, icfg.Submitters, icfg.CPUProfile = cfg.Dir, cfg.Chunk, cfg.Submitters, cfg.CPUProfile
				_, err := bench.RunImport(cmd.Context(), icfg)
				return err
			}
			if auditMode {
				acfg.Out = cmd.OutOrStdout()
				acfg.Dir = cfg.Dir
				_, err := bench.RunAudit(acfg)
				return err
			}
			cfg.Out = cmd.OutOrStdout()
			_, err := bench.Run(cmd.Context(), cfg)
			return err
		},
	}
	f := cmd.Flags()
	f.IntVar(&cfg.Events, "events", 200_000, "events for the ingest measurement (with --monitors: for each of its two, default 50000)")
	f.IntVar(&cfg.Submitters, "submitters", bench.DefaultSubmitters, "concurrent submitters")
	f.IntVar(&cfg.Chunk, "chunk", bench.DefaultChunk, "events per submission")
	f.IntVar(&cfg.Latency, "latency", 2000, "sequential single-event submissions for the latency figures")
	f.IntVar(&cfg.Publishers, "publishers", 0, "concurrent publishers for the JetStream ceilings (default: --submitters)")
	f.StringVar(&cfg.CPUProfile, "cpuprofile", "", "write a CPU profile of the ingest phase (with --import: of the import; with --monitors: of the ingest with subscribers) to this file")
	f.StringVar(&cfg.Dir, "dir", "", "scratch directory (default: a new temporary one; removed afterwards)")
	f.BoolVar(&auditMode, "audit", false, "measure the audit of a generated log instead of ingest")
	f.IntVar(&acfg.Entries, "entries", 10_000_000, "with --audit: entries in the generated log")
	f.IntVar(&acfg.AsOfPoints, "asof-points", 20, "with --audit: as-of tallies at random sizes")
	f.DurationVar(&acfg.AsOfBudget, "asof-budget", 2*time.Minute, "with --audit: stop the as-of tallies after this long, once 3 are done")
	f.IntVar(&acfg.Proofs, "proofs", 1000, "with --audit: inclusion and consistency proofs, each")
	f.BoolVar(&importMode, "import", false, "measure the import of a generated statewide precinct file, end to end over HTTP, instead of ingest")
	f.IntVar(&icfg.Counties, "counties", 150, "with --import: counties in the generated file")
	f.IntVar(&icfg.PrecinctsPer, "precincts", 17, "with --import: precincts per county (40 rows each, plus 40 roll-up rows per county)")
	f.BoolVar(&monitorsMode, "monitors", false, "measure ingest with change feed subscribers attached, and the feed's delay, instead of ingest alone")
	f.IntVar(&mcfg.SSE, "sse", 100, "with --monitors: subscribers over server-sent events")
	f.IntVar(&mcfg.NATS, "nats-subs", 10, "with --monitors: ordered JetStream consumers of the feed")
	f.IntVar(&mcfg.Stuck, "stuck", 4, "with --monitors: SSE connections that never read, attached during the second ingest")
	f.IntVar(&mcfg.Rate, "rate", 0, "with --monitors: pace the second ingest at this many events/s, to see the feed's delay at that rate (0: as fast as it goes)")
	cmd.MarkFlagsMutuallyExclusive("audit", "import", "monitors")
	return cmd
}

// benchRanges are the values each integer flag of bench may take: a size
// of 0 or less has nothing to measure (and made the benchmarks divide by
// it), and --chunk is the events of one submission.
var benchRanges = []struct {
	flag     string
	min, max int
	zero     string // what 0 means, when min is 0
}{
	{"events", 1, math.MaxInt, ""},
	{"submitters", 1, math.MaxInt, ""},
	{"chunk", 1, events.MaxSubmissionEvents, ""},
	{"latency", 1, math.MaxInt, ""},
	{"publishers", 0, math.MaxInt, "as many as --submitters"},
	{"entries", 1, math.MaxInt, ""},
	{"asof-points", 1, math.MaxInt, ""},
	{"proofs", 1, math.MaxInt, ""},
	{"counties", 1, math.MaxInt, ""},
	{"precincts", 1, math.MaxInt, ""},
	{"sse", 0, math.MaxInt, "none"},
	{"nats-subs", 0, math.MaxInt, "none"},
	{"stuck", 0, math.MaxInt, "none"},
	{"rate", 0, math.MaxInt, "as fast as it goes"},
}

// checkBenchFlags refuses, before anything starts, a size out of its range,
// naming the flag and the range.
func checkBenchFlags(f *pflag.FlagSet) error {
	for _, r := range benchRanges {
		v, err := f.GetInt(r.flag)
		if err != nil {
			return err
		}
		if v >= r.min && v <= r.max {
			continue
		}
		switch {
		case r.max != math.MaxInt:
			return fmt.Errorf("--%s %d: must be from %d to %d", r.flag, v, r.min, r.max)
		case r.min == 0:
			return fmt.Errorf("--%s %d: must be 0 (%s) or more", r.flag, v, r.zero)
		default:
			return fmt.Errorf("--%s %d: must be %d or more", r.flag, v, r.min)
		}
	}
	if d, err := f.GetDuration("asof-budget"); err != nil {
		return err
	} else if d <= 0 {
		return fmt.Errorf("--asof-budget %v: must be more than 0 (for example 2m)", d)
	}
	return nil
}
