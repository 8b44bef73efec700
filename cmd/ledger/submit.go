package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/google/uuid"
	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/election-audit/ledger/client"
	"github.com/election-audit/ledger/events"
	"github.com/election-audit/ledger/keys"
)

// submitChunk is how many events go in one HTTP request.
const submitChunk = client.DefaultChunk

// eventsBar is a progress bar on stderr for submitting n events, or nil
// when they fit in one request or stderr is not a terminal.
func eventsBar(n int, what string) *progressbar.ProgressBar {
	if n <= submitChunk || !term.IsTerminal(int(os.Stderr.Fd())) {
		return nil
	}
	return progressbar.NewOptions(n, progressbar.OptionSetWriter(os.Stderr),
		progressbar.OptionSetDescription(what), progressbar.OptionShowCount(),
		progressbar.OptionShowIts(), progressbar.OptionClearOnFinish())
}

func newSubmit() *cobra.Command {
	var server, keyFile string
	var assignIDs, claim bool
	cmd := &cobra.Command{
		Use:   "submit --key FILE [EVENTS]",
		Short: "Sign and submit events (JSON or JSON Lines) from a file or stdin",
		Long: `submit signs events with an office's key (made by ` + "`ledger keygen`" + `) and sends
them to a running ledger, in submissions of up to 1,000 events of one
election each, and prints, for each event, a line

  <index>  <event id>  <verdict>  [reason]

once the event is durably logged. FILE holds one JSON event, or JSON Lines (one
event per line); "-" or no FILE reads stdin. The format is in docs/events.md.
Resubmitting an event ID is safe: the ledger answers with the original index.

The ledger logs only what a key may sign: the election's authority (named in
its manifest) defines the election, registers reporter keys, certifies and
orders recounts; a registered reporter key reports counts for its units.

Every event is checked before anything is sent; a refused submission (a bad
signature, a key that may not sign one of its events, an invalid event)
stops with exit code 2 and nothing of it is logged. Exit code 3 means an
event was logged but rejected by the election's rules.`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			name := "-"
			if len(args) == 1 {
				name = args[0]
			}
			raw, err := readEvents(cmd.InOrStdin(), name, assignIDs, cmd.ErrOrStderr())
			if err != nil {
				return err
			}
			if len(raw) == 0 {
				return fmt.Errorf("%s holds no events", displayName(name))
			}
			key, err := loadKey(keyFile)
			if err != nil {
				return err
			}
			c, err := newClient(server)
			if err != nil {
				return err
			}
			if claim {
				if raw, err = claimAuthority(raw, key.Verifier); err != nil {
					return err
				}
			}
			bar := eventsBar(len(raw), "submitting")
			rs, err := c.WithKey(key).SubmitAll(cmd.Context(), raw, client.SubmitOptions{Chunk: submitChunk, Progress: func(done int) {
				if bar != nil {
					bar.Set(done)
				}
			}})
			out := bufio.NewWriter(cmd.OutOrStdout())
			defer out.Flush()
			rejected := 0
			for _, r := range rs { // on an error, those of the events logged before it
				line := fmt.Sprintf("%d\t%s\t%s", r.Index, r.ID, r.Verdict)
				if r.Duplicate {
					line += "\t(already logged)"
				}
				if r.Reason != "" {
					line += "\t" + r.Reason
					rejected++
				}
				fmt.Fprintln(out, line)
			}
			out.Flush()
			var chunkErr *client.ChunkError
			var ce *client.Error
			if errors.As(err, &chunkErr) && errors.As(err, &ce) && ce.IsClientError() {
				start := chunkErr.Start
				msg := ce.Problem.Error
				if ce.Problem.Item != nil {
					msg = strings.Replace(msg, fmt.Sprintf("event #%d", *ce.Problem.Item+1), fmt.Sprintf("event %d", start+*ce.Problem.Item+1), 1)
				}
				logged := "no event of this run was logged"
				if start > 0 {
					logged = fmt.Sprintf("events 1–%d were logged, the rest were not", start)
				}
				return &exitCodeError{exitRefused, fmt.Errorf("%s: %s (HTTP %d; %s; fix it and resubmit the whole file: logged events are answered, not logged twice)", displayName(name), msg, ce.Status, logged)}
			}
			if err != nil {
				return err
			}
			if rejected > 0 {
				return &exitCodeError{exitRejected, fmt.Errorf("%d event(s) logged as rejected", rejected)}
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&server, "server", client.DefaultURL, "ledger HTTP API")
	cmd.Flags().StringVar(&keyFile, "key", "", "private key file of the office that signs (made by ledger keygen; required)")
	cmd.Flags().BoolVar(&assignIDs, "assign-ids", false, "give events without an \"id\" a new UUIDv7 (printed in the output)")
	cmd.Flags().BoolVar(&claim, "claim-authority", false, "a manifest that names no authority names the signing key (which the ledger must accept: ledger serve --authority)")
	return cmd
}

// claimAuthority gives each manifest among raw that names no authority the
// verifier key vkey.
func claimAuthority(raw [][]byte, vkey string) ([][]byte, error) {
	out := make([][]byte, len(raw))
	for i, b := range raw {
		out[i] = b
		ev, err := events.Decode(b)
		if err != nil {
			return nil, fmt.Errorf("event %d: %w", i+1, err)
		}
		if m, ok := ev.Body.(*events.Manifest); ok && m.Authority == "" {
			m.Authority = vkey
			if out[i], err = ev.Encode(); err != nil {
				return nil, fmt.Errorf("event %d: %w", i+1, err)
			}
		}
	}
	return out, nil
}

// loadKey loads the signing key named by --key.
func loadKey(path string) (*keys.Key, error) {
	if path == "" {
		return nil, errors.New("--key is required: the ledger takes only signed submissions; make an office's key with `ledger keygen --name NAME -o FILE`")
	}
	return keys.LoadKey(path)
}

func displayName(name string) string {
	if name == "-" {
		return "stdin"
	}
	return name
}

// readEvents reads one JSON event or JSON Lines, checking each event locally
// so that mistakes are reported with their line before anything is sent.
func readEvents(stdin io.Reader, name string, assignIDs bool, stderr io.Writer) ([][]byte, error) {
	var data []byte
	var err error
	if name == "-" {
		data, err = io.ReadAll(stdin)
	} else {
		data, err = os.ReadFile(name)
	}
	if err != nil {
		return nil, fmt.Errorf("couldn't read events: %w", err)
	}
	var items [][]byte
	trimmed := bytes.TrimSpace(data)
	if bytes.Count(trimmed, []byte("\n")) > 0 && json.Valid(trimmed) {
		items = [][]byte{trimmed} // one pretty-printed event
	} else {
		for _, line := range bytes.Split(data, []byte("\n")) {
			items = append(items, bytes.TrimSpace(line))
		}
	}
	var out [][]byte
	for i, item := range items {
		if len(item) == 0 {
			continue
		}
		if assignIDs {
			if item, err = assignID(item); err != nil {
				return nil, &exitCodeError{exitRefused, fmt.Errorf("%s:%d: %v", displayName(name), i+1, err)}
			}
		}
		ev, err := events.Decode(item)
		if err != nil {
			return nil, &exitCodeError{exitRefused, fmt.Errorf("%s:%d: %v", displayName(name), i+1, err)}
		}
		enc, err := ev.Encode()
		if err != nil {
			return nil, err
		}
		out = append(out, enc)
	}
	return out, nil
}

// assignID adds a fresh UUIDv7 "id" to an event object that has none.
func assignID(item []byte) ([]byte, error) {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(item, &m); err != nil {
		return nil, fmt.Errorf("malformed JSON: %v", err)
	}
	if _, ok := m["id"]; ok {
		return item, nil
	}
	id, err := uuid.NewV7()
	if err != nil {
		return nil, err
	}
	m["id"], _ = json.Marshal(id.String())
	return json.Marshal(m)
}
