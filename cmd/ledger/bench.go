package main

import (
	"github.com/spf13/cobra"

	"github.com/election-audit/ledger/bench"
)

func newBench() *cobra.Command {
	var cfg bench.Config
	cmd := &cobra.Command{
		Use:   "bench",
		Short: "Measure ingest and latency beside the raw JetStream, Pebble and SHA-256 ceilings",
		Long: `bench starts a throwaway ledger (embedded NATS, Pebble in a temporary
directory), and in one run measures: sustained ingest from submit to durable
entry with ~500-byte count events, the latency of a single synchronous
submitter, and beside them the raw ceilings on the same machine: JetStream
publishing with Nats-Msg-Id into a file stream configured like the ledger's
(atomic batches and async), Pebble synced batch writes, and SHA-256. It prints
each figure and the ratio of the ledger to the ceiling.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg.Out = cmd.OutOrStdout()
			_, err := bench.Run(cmd.Context(), cfg)
			return err
		},
	}
	f := cmd.Flags()
	f.IntVar(&cfg.Events, "events", 200_000, "events for the ingest measurement")
	f.IntVar(&cfg.Submitters, "submitters", 4, "concurrent submitters")
	f.IntVar(&cfg.Chunk, "chunk", 1000, "events per submission")
	f.IntVar(&cfg.Latency, "latency", 2000, "sequential single-event submissions for the latency figures")
	f.IntVar(&cfg.Publishers, "publishers", 0, "concurrent publishers for the JetStream batch ceiling (default: --submitters)")
	f.StringVar(&cfg.CPUProfile, "cpuprofile", "", "write a CPU profile of the ingest phase to this file")
	f.StringVar(&cfg.Dir, "dir", "", "scratch directory (default: a new temporary one; removed afterwards)")
	return cmd
}
