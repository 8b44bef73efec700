package events_test

import (
	"errors"
	"fmt"

	"github.com/election-audit/ledger/events"
)

// Decode a count report as a county might submit it, with counts in any
// order and any spacing, and print its canonical encoding: the bytes the
// ledger logs.
func ExampleDecode() {
	submission := []byte(`{
		"v": 1,
		"type": "count.reported",
		"id": "015b8415-9a60-7d35-85fc-54e0f33a4994",
		"election": "ga06-2017-04",
		"data": {
			"unit": "dekalb",
			"contest": "us-house-6",
			"counts": [
				{"choice": "ossoff", "vote_type": "election-day", "votes": 17300},
				{"choice": "handel", "vote_type": "election-day", "votes": 6168}
			],
			"source": {"operator": "dekalb-elections"}
		}
	}`)
	ev, err := events.Decode(submission)
	if err != nil {
		fmt.Println(err)
		return
	}
	canonical, err := ev.Encode()
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(ev.Type())
	fmt.Println(string(canonical))
	// Output:
	// count.reported
	// {"v":1,"type":"count.reported","id":"015b8415-9a60-7d35-85fc-54e0f33a4994","election":"ga06-2017-04","data":{"unit":"dekalb","contest":"us-house-6","counts":[{"choice":"handel","vote_type":"election-day","votes":6168},{"choice":"ossoff","vote_type":"election-day","votes":17300}],"source":{"operator":"dekalb-elections"}}}
}

// A refused event comes back as an *events.Error that names the field.
func ExampleDecode_error() {
	_, err := events.Decode([]byte(`{"v":1,"type":"count.reported","id":"015b8415-9a60-7d35-85fc-54e0f33a4994",
		"election":"ga06-2017-04","data":{"unit":"dekalb","contest":"us-house-6",
		"counts":[{"choice":"ossoff","vote_type":"election-day","votes":-17300}],
		"source":{"operator":"dekalb-elections"}}}`))
	var e *events.Error
	if errors.As(err, &e) {
		fmt.Println(e.Field)
		fmt.Println(e.Msg)
	}
	// Output:
	// data.counts[0].votes
	// -17300 is negative
}
