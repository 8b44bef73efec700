package client

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/election-audit/ledger/events"
	"github.com/election-audit/ledger/feed"
)

// Changes follows an election's log over server-sent events from index
// from on: onChange gets every entry (of the given types, or all), in
// order, and onCheckpoint every new checkpoint. It returns when ctx ends,
// a callback fails, or the connection drops (with an error; call it again
// from the index after the last change received: nothing is missed or
// repeated).
func (c *Client) Changes(ctx context.Context, election string, from uint64, types []events.Type, onChange func(*feed.Change) error, onCheckpoint func(*feed.Checkpoint) error) error {
	q := url.Values{"from": {strconv.FormatUint(from, 10)}}
	if len(types) > 0 {
		ts := make([]string, len(types))
		for i, t := range types {
			ts[i] = string(t)
		}
		q.Set("types", strings.Join(ts, ","))
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.base+"/v1/elections/"+url.PathEscape(election)+"/changes?"+q.Encode(), nil)
	if err != nil {
		return err
	}
	req.Header.Set("Accept", "text/event-stream")
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("couldn't reach the ledger at %s (is `ledger serve` running?): %w", c.base, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b := make([]byte, 4096)
		n, _ := resp.Body.Read(b)
		return asError(resp.StatusCode, b[:n])
	}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 4*events.MaxEventSize)
	var event string
	var data []byte
	for sc.Scan() {
		line := sc.Text()
		switch {
		case line == "":
			if data == nil {
				continue
			}
			if err := dispatch(event, data, onChange, onCheckpoint); err != nil {
				return err
			}
			event, data = "", nil
		case strings.HasPrefix(line, ":"):
		case strings.HasPrefix(line, "event: "):
			event = line[len("event: "):]
		case strings.HasPrefix(line, "data: "):
			data = append(data, line[len("data: "):]...)
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("the change stream of %s broke: %w", election, err)
	}
	return fmt.Errorf("the ledger closed the change stream of %s", election)
}

func dispatch(event string, data []byte, onChange func(*feed.Change) error, onCheckpoint func(*feed.Checkpoint) error) error {
	switch event {
	case "checkpoint":
		var cp feed.Checkpoint
		if err := json.Unmarshal(data, &cp); err != nil {
			return fmt.Errorf("a checkpoint event does not decode: %w", err)
		}
		if onCheckpoint != nil {
			return onCheckpoint(&cp)
		}
	case "error":
		var msg string
		json.Unmarshal(data, &msg)
		return fmt.Errorf("the ledger ended the change stream: %s", msg)
	default:
		var ch feed.Change
		if err := json.Unmarshal(data, &ch); err != nil {
			return fmt.Errorf("a change event does not decode: %w", err)
		}
		if onChange != nil {
			return onChange(&ch)
		}
	}
	return nil
}
