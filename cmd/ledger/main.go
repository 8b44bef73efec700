// Command ledger runs and uses the election audit ledger.
//
// Run `ledger --help` for the commands. Exit codes: 0 success; 1 an error
// (bad flags, unreachable server, failed verification); 2 a submission
// refused by the ledger (nothing was logged); 3 a submission logged but
// rejected by the election's rules (the reason is printed); 4 reconciliation
// findings (`ledger audit reconcile`); 5 a watcher's alarm: the ledger
// showed a history that is not an extension of what it saw, an entry that
// does not verify, or another key than the one accepted (`ledger watch`).
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/spf13/cobra"
)

// Exit codes.
const (
	exitOK       = 0
	exitError    = 1
	exitRefused  = 2
	exitRejected = 3
)

// exitError carries a specific exit code.
type exitCodeError struct {
	code int
	err  error
}

func (e *exitCodeError) Error() string { return e.err.Error() }
func (e *exitCodeError) Unwrap() error { return e.err }

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run runs the CLI with args and returns its exit code.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	root := newRoot()
	root.SetArgs(args)
	root.SetIn(stdin)
	root.SetOut(stdout)
	root.SetErr(stderr)
	strictCompletion(root) // after SetOut: the scripts go where it was then
	err := root.ExecuteContext(ctx)
	if err == nil {
		return exitOK
	}
	fmt.Fprintln(stderr, "ledger:", err)
	var ec *exitCodeError
	if errors.As(err, &ec) {
		return ec.code
	}
	return exitError
}

func newRoot() *cobra.Command {
	root := &cobra.Command{
		Use:   "ledger",
		Short: "An election audit ledger: vote counts in a verifiable, signed log",
		Long: `ledger records every vote-count change an election office reports as an entry of
a verifiable log (RFC 6962 Merkle tree, signed C2SP checkpoints), through NATS
JetStream into Pebble, and serves current totals.

Start here:
  ledger demo                                  replay the GA-06 2017 election nights through a real ledger
  ledger keygen --name ga-sos -o ga-sos.key    make an election office's signing key
  ledger serve --authority VKEY                run the ledger (embedded NATS, data in ./ledger-data)
  ledger submit --key ga-sos.key events.jsonl  sign and report counts; prints each event's log index
  ledger tally --election ID                   current totals`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.AddCommand(newDemo(), newServe(), newSubmit(), newImport(), newTally(), newCheckpoint(), newRebuild(), newAudit(), newBench(), newWatch(), newKeygen())
	return root
}

// strictCompletion makes `ledger completion SHELL` refuse a shell it has no
// script for (cobra's own shows its help and exits 0, so that a script
// that installs completions would go on with nothing installed).
func strictCompletion(root *cobra.Command) {
	root.InitDefaultCompletionCmd()
	comp, _, err := root.Find([]string{"completion"})
	if err != nil || comp == root {
		return
	}
	var shells []string
	for _, sub := range comp.Commands() {
		if sub.Name() != "help" {
			shells = append(shells, sub.Name())
		}
	}
	comp.Args = func(cmd *cobra.Command, args []string) error {
		if len(args) > 0 {
			return fmt.Errorf("completion %q: no completion script for this shell; the shells supported are %s", args[0], strings.Join(shells, ", "))
		}
		return nil
	}
	comp.RunE = func(cmd *cobra.Command, _ []string) error { return cmd.Help() }
}
