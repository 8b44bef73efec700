// Package examples holds the example events of the README, for tests and
// tools: the official county results of the Georgia 6th district special
// election of 18 April 2017 as JSON Lines, with fixed event IDs.
package examples

import (
	"bufio"
	"bytes"
	_ "embed"
	"fmt"

	"github.com/election-audit/ledger/events"
)

// GA06AprilElection is the election ID of GA06AprilJSONL.
const GA06AprilElection = "ga06-2017-04"

// GA06AprilJSONL is examples/ga06-2017-04.jsonl: the manifest, then one
// count report per county and contest.
//
//go:embed ga06-2017-04.jsonl
var GA06AprilJSONL []byte

// GA06April decodes GA06AprilJSONL.
func GA06April() ([]*events.Event, error) {
	var evs []*events.Event
	sc := bufio.NewScanner(bytes.NewReader(GA06AprilJSONL))
	sc.Buffer(nil, events.MaxEventSize)
	for sc.Scan() {
		ev, err := events.Decode(sc.Bytes())
		if err != nil {
			return nil, fmt.Errorf("ga06-2017-04.jsonl:%d: %w", len(evs)+1, err)
		}
		evs = append(evs, ev)
	}
	return evs, sc.Err()
}
