package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/spf13/cobra"

	"github.com/election-audit/ledger/checkpoint"
	"github.com/election-audit/ledger/client"
	"github.com/election-audit/ledger/watch"
)

// exitAlarm is the exit code of `ledger watch` when it raises an alarm: the
// ledger showed a history that is not an extension of what it saw before.
const exitAlarm = 5

// DefaultWatchState is where `ledger watch` keeps its state by default.
const DefaultWatchState = "ledger-watch"

func newWatch() *cobra.Command {
	var server, natsURL, natsKey, consumer, election, key, acceptKey, stateDir string
	var trustServerKey, asJSON, once bool
	var timeout time.Duration
	cmd := &cobra.Command{
		Use:   "watch --election ID --key KEY",
		Short: "Follow an election live, print each change, verify every checkpoint; alarm on a rewritten history",
		Long: `watch follows one election's log as a monitor: it prints every entry as it is
logged, one readable line each naming the office that made it ("by <key
name>", the key that signed its submission; corrections and retractions start
with "!!" and list every count that changed, old → new, and the reason), and
verifies every checkpoint the ledger presents:

  - its signature, with the election's log key: the key named by the origin
    <ledger name>/<election>, which --key is or is derived from;
  - that it extends the last checkpoint this watcher accepted (a consistency
    proof fetched from --server, checked here), which is kept in --state
    between runs;
  - that the entries printed hash to its Merkle root, and that each entry is
    valid under the election's rules, its signer's role and scope included;
  - that each entry is held by the signed submission it names, fetched from
    --server: the bytes hash to what the entry names, hold its event at its
    place, and carry a valid signature by the key it names.

If the ledger ever shows a checkpoint that is not an extension of what the
watcher accepted before (a fork, or a rollback to a shorter log), entries
that do not match its signed checkpoints, or an entry that is invalid or not
held by its submission (altered or missing), watch prints a loud ALARM
on stderr, keeps both checkpoints (and the proof) in
<state>/evidence-<election>-<time>/, and exits 5. The state file is left as
it was, so the alarm is raised again on the next run.

Changes come over server-sent events from --server (default), or with
--nats from the change feed stream (LEDGER_FEED) through a durable consumer
(--consumer, default watch-<election>); proofs and entries are always
fetched from --server over HTTP, so --nats needs --server too. The ledger's
embedded NATS server admits a watcher only with the monitor key from its
data directory (--nats-nkey DATA/nats-monitor.nk, read-only). The watcher
resumes after the last entry it printed, reconnects with backoff when the
connection drops, and stops on Ctrl-C with exit 0 (--once: as soon as it
has verified the ledger's current checkpoint; if it makes no progress for
--timeout, because the ledger is down or does not answer, it gives up with
exit 1 and "could not check").

--key is the verifier key you trust (or a file holding it): the ledger key
(DATA/ledger.pub, named by the ledger name), from which watch derives the
election's log key, or that log key itself (named <ledger name>/<election>,
GET /v1/elections/<election>/key). It is never fetched from the server
unless you pass --trust-server-key, which proves only that the server
signed. The state remembers the key: if the ledger no
longer signs with it, watch raises a key-changed ALARM (exit 5) rather than
trust a new key, which could sign any history. If the ledger's operator
did change the key, check the new one with them and name it with
--accept-key NEWKEY (instead of --key): the checkpoints signed with it must
still extend the last one accepted under the old key. --json prints one
JSON object per line (docs/watch.md).

Exit codes: 0 stopped (Ctrl-C, or --once caught up); 1 an error (--once: the
ledger could not be checked); 5 an alarm.`,
		Example: `  ledger watch --election ga06-2017-04 --key ledger-data/ledger.pub
  ledger watch --election ga06-2017-04 --key ledger-data/ledger.pub --server http://127.0.0.1:8080 \
      --nats nats://127.0.0.1:4222 --nats-nkey ledger-data/nats-monitor.nk --json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			if natsURL != "" && !cmd.Flags().Changed("server") {
				return errors.New("--nats needs --server too: consistency proofs and entries are fetched from the ledger's HTTP API")
			}
			c, err := newClient(server)
			if err != nil {
				return err
			}
			if cmd.Flags().Changed("timeout") && !once {
				return errors.New("--timeout applies to --once: without it, watch keeps reconnecting until stopped")
			}
			key, acceptKey = keyText(key), keyText(acceptKey)
			switch {
			case acceptKey != "" && trustServerKey:
				return errors.New("--accept-key and --trust-server-key: a new key is accepted only if you name it; pass it with --accept-key alone")
			case acceptKey != "" && key != "" && !sameLogKey(key, acceptKey, election):
				return errors.New("--key and --accept-key name two keys: pass the new key with --accept-key alone")
			case acceptKey != "":
				if _, err := checkpoint.LogKey(acceptKey, election); err != nil {
					return fmt.Errorf("--accept-key: not a verifier key of %s's log, nor the ledger key, or a file holding one: %w", election, err)
				}
				key = acceptKey
			case key != "" && trustServerKey:
				return errors.New("--key and --trust-server-key: pass one")
			case key == "" && !trustServerKey:
				return errors.New("--key is required: the verifier key you trust, or a file holding it (or --trust-server-key, which proves only that the server signed)")
			case key == "":
				if key, err = serverKey(ctx, c, server, election, once, timeout); err != nil {
					return err
				}
			}
			if _, err := checkpoint.LogKey(key, election); err != nil {
				return fmt.Errorf("--key: not the ledger key nor a verifier key of %s's log, or a file holding one: %w", election, err)
			}
			if timeout <= 0 {
				timeout = -1 // never give up
			}
			cfg := watch.Config{
				Election: election, Key: key, Client: c, StateDir: stateDir,
				AcceptNewKey: acceptKey != "", Timeout: timeout,
				Out: cmd.OutOrStdout(), Alarm: cmd.ErrOrStderr(), JSON: asJSON, Once: once,
				Logger: slog.New(slog.NewTextHandler(cmd.ErrOrStderr(), &slog.HandlerOptions{Level: slog.LevelWarn})),
			}
			if natsURL != "" {
				cfg.Feed = watch.NATS{URL: natsURL, NKeyFile: natsKey, Consumer: consumer}
			}
			w, err := watch.New(cfg)
			if err != nil {
				return err
			}
			defer w.Close()
			err = w.Run(ctx)
			var alarm *watch.AlarmError
			if errors.As(err, &alarm) {
				return &exitCodeError{exitAlarm, err}
			}
			if errors.Is(err, watch.ErrTimeout) {
				return fmt.Errorf("%w (--timeout %s)", err, timeout)
			}
			return err
		},
	}
	f := cmd.Flags()
	f.StringVar(&election, "election", "", "election ID (required)")
	f.StringVar(&server, "server", client.DefaultURL, "ledger HTTP API: changes (unless --nats), proofs and entries")
	f.StringVar(&natsURL, "nats", "", "follow the NATS change feed at this URL instead of server-sent events")
	f.StringVar(&natsKey, "nats-nkey", "", "NKey seed file to authenticate to NATS with (for a ledger's embedded server: its DATA/nats-monitor.nk)")
	f.StringVar(&consumer, "consumer", "", "durable NATS consumer name (default watch-<election>)")
	f.StringVar(&key, "key", "", "verifier key you trust, the ledger key or the election's log key, or a file holding it (required, unless --accept-key or --trust-server-key)")
	f.BoolVar(&trustServerKey, "trust-server-key", false, "fetch the verifier key from --server instead (proves only that the server signed)")
	f.StringVar(&acceptKey, "accept-key", "", "instead of --key: the ledger's new verifier key (the ledger key or the election's log key), or a file holding it, when it no longer signs with the key the state was kept with (its checkpoints must still extend the last one accepted)")
	f.StringVar(&stateDir, "state", DefaultWatchState, "directory for the watcher's state and the evidence of alarms")
	f.BoolVar(&asJSON, "json", false, "JSON Lines: one object per change, verified checkpoint or alarm")
	f.BoolVar(&once, "once", false, "exit once the ledger's current checkpoint is verified and its entries printed")
	f.DurationVar(&timeout, "timeout", watch.DefaultTimeout, "with --once: give up (exit 1) after this long without progress, the ledger down or not answering; 0: never")
	cmd.MarkFlagRequired("election")
	return cmd
}

// errNoKey is the cause of the context of a --trust-server-key fetch that
// ran out of time.
var errNoKey = errors.New("no answer for the key")

// serverKey fetches the ledger key for --trust-server-key. With --once it
// is under the deadline the watcher then keeps (--timeout, if not 0): a
// ledger that takes the connection and never answers is given up on, as
// one that is down is, with an error wrapping watch.ErrTimeout.
func serverKey(ctx context.Context, c *client.Client, server, election string, once bool, timeout time.Duration) (string, error) {
	if !once || timeout <= 0 {
		return c.Key(ctx)
	}
	ctx, cancel := context.WithTimeoutCause(ctx, timeout, errNoKey)
	defer cancel()
	k, err := c.Key(ctx)
	if err != nil && errors.Is(context.Cause(ctx), errNoKey) {
		return "", fmt.Errorf("%w: no progress with %s in %s (the ledger at %s did not answer GET /v1/key, for --trust-server-key); nothing was verified (--timeout %s)",
			watch.ErrTimeout, election, timeout, server, timeout)
	}
	return k, err
}

// sameLogKey reports whether two keys, each the ledger key or the
// election's log key, give the same log key.
func sameLogKey(a, b, election string) bool {
	la, errA := checkpoint.LogKey(a, election)
	lb, errB := checkpoint.LogKey(b, election)
	if errA != nil || errB != nil {
		return a == b
	}
	return la == lb
}
