package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
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
0600) and prints its verifier key, the ledger key, named by --name. Each
election's checkpoints are signed with it under the key name the log's
origin, <name>/<election>: they verify with that election's log key, derived
from the ledger key (GET /v1/elections/<election>/key serves it).

Writes are signed submissions only. An election is defined by a manifest
signed by its authority, the election office the manifest names; this ledger
logs manifests only of the authorities its operator accepts: --authority
VKEY (repeatable; the verifier key that ` + "`ledger keygen`" + ` printed for the
office) and the keys listed in DATA/authorities, one per line. Without any,
every manifest is refused. Reads (tallies, entries, checkpoints) are public
unless --read-token is set.`,
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
			if len(n.Authorities) == 0 {
				fmt.Fprintf(cmd.ErrOrStderr(), "no election authority is accepted yet, so every manifest will be refused: restart with --authority VKEY (the verifier key `ledger keygen` printed for the election office), or list keys in %s\n", filepath.Join(cfg.DataDir, node.AuthoritiesFile))
			}
			for _, a := range n.Authorities {
				fmt.Fprintf(cmd.OutOrStdout(), "election authority accepted: %s\n", a)
			}
			if cfg.HTTP != "-" && !node.Loopback(cfg.HTTP) {
				fmt.Fprintf(cmd.ErrOrStderr(), "WARNING: the HTTP API listens on %s, beyond this machine: reads are public (unless --read-token) and writes need a valid signature; put it behind a proxy with TLS and per-client limits (docs/security.md)\n", cfg.HTTP)
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
	f.StringVar(&cfg.NATSCreds, "nats-creds", "", "NATS credentials file (JWT and NKey seed) the ledger connects to --nats with")
	f.StringArrayVar(&cfg.Authorities, "authority", nil, "verifier key of an election authority whose manifests this ledger logs (repeatable; also DATA/authorities)")
	f.StringVar(&cfg.ReadToken, "read-token", "", "require \"Authorization: Bearer TOKEN\" on reads (default: reads are public); /healthz stays open")
	f.StringVar(&cfg.NATSListen, "nats-listen", broker.DefaultListen, "client address of the embedded NATS server for monitors (authenticated with DATA/nats-monitor.nk, read-only), loopback only (port 0: any free port; \"-\": none)")
	f.IntVar(&cfg.StreamReplicas, "stream-replicas", 1, "replicas of the submission stream (3 on a three-node cluster)")
	f.StringVar(&cfg.Name, "name", node.DefaultName, "ledger name: the ledger key's name and the prefix of checkpoint origins, <name>/<election>, which name each log's key")
	f.DurationVar(&cfg.DuplicateWindow, "duplicate-window", broker.DefaultDuplicateWindow, "JetStream duplicate window (the ledger deduplicates forever beyond it)")
	f.IntVar(&cfg.MaxBatch, "max-batch", 0, "most events per synced batch of the state machine (default 2000; a submission is never split, so a larger one is a step of its own)")
	f.BoolVar(&cfg.NoFeed, "no-feed", false, "don't publish the change feed to JetStream (stream LEDGER_FEED); server-sent events still work")
	// HTTP limits (docs/security.md, "HTTP: cannot be held hostage").
	lim := &cfg.HTTPLimits
	f.DurationVar(&lim.ReadTimeout, "http-read-timeout", api.DefaultReadTimeout, "longest time to read a request, headers and body; a slower body gets 408")
	f.DurationVar(&lim.WriteTimeout, "http-write-timeout", api.DefaultWriteTimeout, "longest time to write an answer, from its first byte (change streams: per write instead)")
	f.DurationVar(&lim.IdleTimeout, "http-idle-timeout", api.DefaultIdleTimeout, "how long a keep-alive connection may wait for its next request")
	f.IntVar(&lim.MaxConns, "http-max-conns", api.DefaultMaxConns, "most open HTTP connections (lowered to leave 1536 file descriptors free)")
	f.IntVar(&lim.MaxStreams, "http-max-streams", api.DefaultMaxStreams, "most change streams (server-sent events) at once")
	f.IntVar(&lim.MaxTallyBuilds, "http-tally-builds", api.DefaultMaxTallyBuilds, "most tally documents replayed from the log at once (as-of, NIST, series), besides one current tally; each of the largest takes ~120 MB")
	f.DurationVar(&lim.TallyWait, "http-tally-wait", api.DefaultTallyWait, "how long a tally read waits for a build before 503 with Retry-After")
	f.Int64Var(&lim.TallyCache, "http-tally-cache", api.DefaultTallyCache, "bytes of built tally documents kept to answer the next identical read")
	return cmd
}
