package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/election-audit/ledger/api"
	"github.com/election-audit/ledger/broker"
	"github.com/election-audit/ledger/node"
)

const defaultDataDir = "ledger-data"

func newServe() *cobra.Command {
	var cfg node.Config
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the ledger: embedded NATS JetStream, Pebble and the HTTP API",
		Long: `serve runs the ledger until SIGINT or SIGTERM.

By default it starts an in-process nats-server with JetStream (file storage in
the data directory, loopback only, every write synced) and opens the Pebble
database in the same directory. With --nats it uses an external NATS instead.
The embedded server admits no anonymous client: the ledger connects
in-process, and --nats-listen serves only monitors that authenticate with the
NKey seed DATA/nats-monitor.nk (made on first start, mode 0600), who may read
the change feed (stream LEDGER_FEED) and do nothing else.
On first start it creates the checkpoint signing key (DATA/ledger.key, mode
0600) and prints the verifier key that checks its signatures.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg.Logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
			ctx := cmd.Context()
			n, err := node.Open(ctx, cfg)
			if err != nil {
				return err
			}
			where := "embedded NATS at " + n.Broker.MonitorURL()
			if cfg.NATSURL != "" {
				where = "NATS at " + broker.Redacted(cfg.NATSURL)
			} else if n.Broker.MonitorURL() == "" {
				where = "embedded NATS, in-process only"
			}
			fmt.Fprintf(cmd.OutOrStdout(), "ledger %s serving http://%s (%s, data in %s)\nverifier key: %s\n",
				cfg.Name, n.HTTPAddr(), where, cfg.DataDir, n.VerifierKey)
			if cfg.HTTP != "-" && !node.Loopback(cfg.HTTP) {
				fmt.Fprintf(cmd.ErrOrStderr(), "WARNING: the HTTP API listens on %s, beyond this machine: reads are public and anyone who reaches it can submit; put it behind a proxy with TLS, authentication and per-client limits (docs/security.md)\n", cfg.HTTP)
			}
			if u := n.Broker.MonitorURL(); u != "" {
				fmt.Fprintf(cmd.OutOrStdout(), "NATS monitors: %s with the NKey seed in %s (read-only, the change feed)\n", u, n.Broker.MonitorKeyFile())
			}
			var runErr error
			select {
			case <-ctx.Done():
				fmt.Fprintln(cmd.ErrOrStderr(), "shutting down")
			case runErr = <-n.Done():
			}
			sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			if err := n.Close(sctx); err != nil && runErr == nil {
				runErr = err
			}
			return runErr
		},
	}
	f := cmd.Flags()
	f.StringVar(&cfg.DataDir, "data", defaultDataDir, "data directory (key, Pebble database, embedded JetStream storage)")
	f.StringVar(&cfg.HTTP, "http", node.DefaultHTTP, "HTTP API listen address")
	f.StringVar(&cfg.NATSURL, "nats", "", "URL of an external NATS JetStream server or cluster (default: start an embedded one)")
	f.StringVar(&cfg.NATSListen, "nats-listen", broker.DefaultListen, "client address of the embedded NATS server for monitors (authenticated with DATA/nats-monitor.nk, read-only), loopback only (port 0: any free port; \"-\": none)")
	f.IntVar(&cfg.StreamReplicas, "stream-replicas", 1, "replicas of the submission stream (3 on a three-node cluster)")
	f.StringVar(&cfg.Name, "name", node.DefaultName, "ledger name: the signing key's name and the prefix of checkpoint origins")
	f.DurationVar(&cfg.DuplicateWindow, "duplicate-window", broker.DefaultDuplicateWindow, "JetStream duplicate window (the ledger deduplicates forever beyond it)")
	f.IntVar(&cfg.MaxBatch, "max-batch", 0, "most stream messages per synced batch (default 2000)")
	f.BoolVar(&cfg.NoFeed, "no-feed", false, "don't publish the change feed to JetStream (stream LEDGER_FEED); server-sent events still work")
	// HTTP limits (docs/security.md, "HTTP: cannot be held hostage").
	lim := &cfg.HTTPLimits
	f.DurationVar(&lim.ReadTimeout, "http-read-timeout", api.DefaultReadTimeout, "longest time to read a request, headers and body; a slower body gets 408")
	f.DurationVar(&lim.WriteTimeout, "http-write-timeout", api.DefaultWriteTimeout, "longest time to write an answer, from its first byte (change streams: per write instead)")
	f.DurationVar(&lim.IdleTimeout, "http-idle-timeout", api.DefaultIdleTimeout, "how long a keep-alive connection may wait for its next request")
	f.IntVar(&lim.MaxConns, "http-max-conns", api.DefaultMaxConns, "most open HTTP connections (lowered to leave 1536 file descriptors free)")
	f.IntVar(&lim.MaxStreams, "http-max-streams", api.DefaultMaxStreams, "most change streams (server-sent events) at once")
	return cmd
}
