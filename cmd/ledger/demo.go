package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/election-audit/ledger/demo"
	"github.com/election-audit/ledger/node"
)

func newDemo() *cobra.Command {
	var cfg node.Config
	var once bool
	var pace time.Duration
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Replay the GA-06 2017 election nights through a real ledger (start here)",
		Long: `demo starts a ledger (embedded NATS JetStream and Pebble, in an empty data
directory), loads the Georgia 6th district special election of April 18 2017
and its June 20 runoff from the official results shipped in the repository,
and replays each as an election night, every report signed by the county
office that made it (the demo makes a key for the Georgia Secretary of State,
the elections' authority, and one for each county office, which the
authority registers): advance and absentee votes first,
election-day results arriving unit by unit, Fulton County held back and
arriving late, one report corrected with its reason, then certification.
It prints the leader's share as it crosses and re-crosses the 50% runoff
line, the final totals (checked against the official results), the signed
checkpoint, and the result of verifying each log; then it keeps serving
the HTTP API until Ctrl-C (--once exits instead).

The timeline is simulated from the final official results: the order, times
and partial counts are made up, the final totals are official. The times
printed are the simulated night's, as is each report's source version (and
its event ID, a UUIDv7 of that time); each entry's recorded time is the
ledger's own clock as the replay logs it.

By default the data directory is a new temporary one, removed on exit; with
--data it must be empty or not exist, and is kept.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			if cfg.DataDir == "" {
				dir, err := os.MkdirTemp("", "ledger-demo-")
				if err != nil {
					return err
				}
				defer os.RemoveAll(dir)
				cfg.DataDir = dir
			} else if ents, err := os.ReadDir(cfg.DataDir); err == nil && len(ents) > 0 {
				return fmt.Errorf("%s is not empty: the demo starts from an empty data directory (remove it, or choose another --data)", cfg.DataDir)
			} else if err != nil && !errors.Is(err, os.ErrNotExist) {
				return err
			}
			// The offices' keys: the Secretary of State, the authority
			// this ledger accepts, and the three county offices it
			// registers. Kept in DATA/demo-keys, to go on signing.
			offices, err := demo.NewKeys()
			if err != nil {
				return err
			}
			cfg.Authorities = []string{offices.Authority.Verifier}
			n, err := node.Open(ctx, cfg)
			if err != nil {
				return err
			}
			keyDir := filepath.Join(cfg.DataDir, "demo-keys")
			if err := offices.WriteFiles(keyDir); err != nil {
				return err
			}
			defer func() {
				sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				defer cancel()
				n.Close(sctx)
			}()
			out := cmd.OutOrStdout()
			fmt.Fprintf(out, "ledger %s: data in %s, HTTP API at http://%s, verifier key %s\n", cfg.Name, cfg.DataDir, n.HTTPAddr(), n.VerifierKey)
			fmt.Fprintf(out, "offices' signing keys in %s: the authority %s, and %s\n\n", keyDir, offices.Authority.Name(), strings.Join(offices.Names(), ", "))
			res, err := demo.Run(ctx, demo.Config{Ledger: n.Ledger, DB: n.DB, Key: n.VerifierKey, Keys: offices, Out: out, Pace: pace})
			if err != nil {
				return err
			}
			for _, r := range res {
				if !r.Official {
					return fmt.Errorf("the final totals of %s differ from the official results", r.Election)
				}
			}
			if once {
				return nil
			}
			suggest(out, n.HTTPAddr(), cfg.DataDir)
			select {
			case <-ctx.Done():
				fmt.Fprintln(cmd.ErrOrStderr(), "shutting down")
				return nil
			case err := <-n.Done():
				return err
			}
		},
	}
	f := cmd.Flags()
	f.StringVar(&cfg.DataDir, "data", "", "data directory, empty or new (default: a temporary one, removed on exit)")
	f.StringVar(&cfg.HTTP, "http", node.DefaultHTTP, "HTTP API listen address")
	f.StringVar(&cfg.NATSListen, "nats-listen", "127.0.0.1:0", "client address of the embedded NATS server, loopback only")
	f.StringVar(&cfg.Name, "name", node.DefaultName, "ledger name: the ledger key's name and the prefix of checkpoint origins, <name>/<election>, which name each log's key")
	f.BoolVar(&once, "once", false, "exit after the summary instead of serving")
	f.DurationVar(&pace, "pace", 300*time.Millisecond, "pause after each printed step (0: full speed)")
	return cmd
}

// shellQuote quotes a path for a POSIX shell when it needs it.
func shellQuote(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789/._-+:,=@%") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// suggest prints what to try while the demo serves at addr. The watcher's
// state is this demo's, in its data directory: the next demo (a new
// ledger key, a new log) does not meet this one's, and nothing is left in
// the directory the command is run from.
func suggest(out io.Writer, addr, dataDir string) {
	watchState := filepath.Join(dataDir, "watch")
	if abs, err := filepath.Abs(watchState); err == nil {
		watchState = abs
	}
	fmt.Fprintf(out, "\nServing http://%s until Ctrl-C. Open http://%s/ for the dashboard, or try:\n", addr, addr)
	fmt.Fprintf(out, "  ledger tally --server http://%s --election ga06-2017-04 --format table\n", addr)
	fmt.Fprintf(out, "  ledger tally --server http://%s --election ga06-2017-04 --as-of 13\n", addr)
	fmt.Fprintf(out, "  ledger audit verify --server http://%s --election ga06-2017-06\n", addr)
	fmt.Fprintf(out, "  ledger watch --server http://%s --election ga06-2017-04 --trust-server-key --once --state %s\n", addr, shellQuote(watchState))
}
