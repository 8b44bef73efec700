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
	var server string
	var assignIDs bool
	cmd := &cobra.Command{
		Use:   "submit [FILE]",
		Short: "Submit events (JSON or JSON Lines) from a file or stdin",
		Long: `submit sends events to a running ledger and prints, for each, a line

  <index>  <event id>  <verdict>  [reason]

once the event is durably logged. FILE holds one JSON event, or JSON Lines (one
event per line); "-" or no FILE reads stdin. The format is in docs/events.md.
Resubmitting an event ID is safe: the ledger answers with the original index.

Every event is checked before anything is sent; a refused event stops the
submission with exit code 2 and nothing from its request is logged. Exit code
3 means an event was logged but rejected by the election's rules.`,
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
			c, err := client.New(server, nil)
			if err != nil {
				return err
			}
			bar := eventsBar(len(raw), "submitting")
			out := bufio.NewWriter(cmd.OutOrStdout())
			defer out.Flush()
			rejected := 0
			for start := 0; start < len(raw); start += submitChunk {
				chunk := raw[start:min(start+submitChunk, len(raw))]
				rs, err := c.Submit(cmd.Context(), chunk)
				var ce *client.Error
				if errors.As(err, &ce) && ce.IsClientError() {
					if ce.Problem.Item != nil {
						ce.Problem.Error = strings.Replace(ce.Problem.Error, fmt.Sprintf("line %d:", *ce.Problem.Item+1),
							fmt.Sprintf("event %d:", start+*ce.Problem.Item+1), 1)
					}
					out.Flush()
					logged := "no event of this run was logged"
					if start > 0 {
						logged = fmt.Sprintf("events 1–%d were logged, the rest were not", start)
					}
					return &exitCodeError{exitRefused, fmt.Errorf("%s: %s (%s; fix it and resubmit the whole file: logged events are answered, not logged twice)", displayName(name), ce.Problem.Error, logged)}
				}
				if err != nil {
					return err
				}
				for _, r := range rs {
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
				if bar != nil {
					bar.Add(len(chunk))
				}
			}
			if rejected > 0 {
				out.Flush()
				return &exitCodeError{exitRejected, fmt.Errorf("%d event(s) logged as rejected", rejected)}
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&server, "server", client.DefaultURL, "ledger HTTP API")
	cmd.Flags().BoolVar(&assignIDs, "assign-ids", false, "give events without an \"id\" a new UUIDv7 (printed in the output)")
	return cmd
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
