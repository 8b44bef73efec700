package feed

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/election-audit/ledger/events"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/golden")

// goldenChanges are two consecutive count reports as the publisher hands
// them on: entry 1 of the events package's golden files, and one too large
// for a message.
func goldenChanges(t testing.TB) []*Change {
	entry, err := os.ReadFile(filepath.Join("..", "events", "testdata", "golden", "entry.accepted.json"))
	if err != nil {
		t.Fatal(err)
	}
	entry = bytes.TrimSpace(entry)
	cp := "ledger.local/ga06-2017-04\n3\nyIblhNXU94mYXq3BPzSOsU1lRkgLZsyXuS9M1yUGY2M=\n\n— ledger.local IIRyAAAA=\n"
	return []*Change{
		{Election: "ga06-2017-04", Index: 1, Type: events.TypeCountReported, Verdict: events.Accepted, TreeSize: 3, Checkpoint: cp, Entry: entry},
		{Election: "ga06-2017-04", Index: 2, Type: events.TypeCountReported, Verdict: events.Accepted, TreeSize: 3, Checkpoint: cp, EntryOmitted: true},
	}
}

// encodeBatch encodes changes as the publisher does.
func encodeBatch(t testing.TB, changes []*Change) []byte {
	var cps cpCache
	cpJSON, err := cps.json(changes[0].Checkpoint)
	if err != nil {
		t.Fatal(err)
	}
	b := appendBatchHeader(nil, changes[0], cpJSON)
	for i, c := range changes {
		if i > 0 {
			b = append(b, ',')
		}
		b = c.appendBatchItem(b)
	}
	return append(b, "]}"...)
}

// TestBatchGolden freezes the NATS feed's batch message, checks that the
// publisher's hand encoder writes what encoding/json would, and that
// DecodeMessage gives back the changes.
func TestBatchGolden(t *testing.T) {
	changes := goldenChanges(t)
	got := encodeBatch(t, changes)
	path := filepath.Join("testdata", "golden", "batch.json")
	if *update {
		if err := os.WriteFile(path, append(bytes.Clone(got), '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, bytes.TrimSuffix(want, []byte("\n"))) {
		t.Errorf("batch encoding changed (run with -update if on purpose):\ngot  %s\nwant %s", got, want)
	}
	viaJSON, err := encodeJSON(&Batch{Election: changes[0].Election, Type: changes[0].Type, TreeSize: 3, Checkpoint: changes[0].Checkpoint,
		Changes: []BatchItem{{Index: 1, Verdict: events.Accepted, Entry: changes[0].Entry}, {Index: 2, Verdict: events.Accepted, EntryOmitted: true}}})
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, viaJSON) {
		t.Errorf("the hand encoder and encoding/json differ:\n%s\n%s", got, viaJSON)
	}
	back, cp, err := DecodeMessage("ledger.feed.ga06-2017-04.count.reported", got)
	if err != nil || cp != nil {
		t.Fatalf("DecodeMessage: %v, %v", cp, err)
	}
	changes[1].Entry = json.RawMessage("null")
	if !reflect.DeepEqual(back, changes) {
		t.Errorf("DecodeMessage gave\n%+v\nwant\n%+v", back, changes)
	}
}

func TestDecodeMessageRefuses(t *testing.T) {
	good := string(encodeBatch(t, goldenChanges(t)))
	for name, tc := range map[string]struct{ subject, data, want string }{
		"not JSON":         {"ledger.feed.e.count.reported", "{", "does not decode"},
		"no changes":       {"ledger.feed.e.count.reported", `{"election":"e","type":"count.reported","tree_size":1,"checkpoint":"x","changes":[]}`, "holds no changes"},
		"a gap":            {"ledger.feed.e.count.reported", strings.Replace(good, `{"index":2,`, `{"index":3,`, 1), "skips from index 1 to 3"},
		"a bad checkpoint": {"ledger.feed.e.checkpoint", `{"tree_size":"x"}`, "checkpoint message"},
	} {
		if _, _, err := DecodeMessage(tc.subject, []byte(tc.data)); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want an error with %q", name, err, tc.want)
		}
	}
}

// FuzzDecodeMessage: never a panic, and what decodes is a run of
// consecutive indexes.
func FuzzDecodeMessage(f *testing.F) {
	f.Add("ledger.feed.e.count.reported", encodeBatch(f, goldenChanges(f)))
	f.Add("ledger.feed.e.checkpoint", []byte(`{"election":"e","tree_size":3,"checkpoint":"x"}`))
	f.Fuzz(func(t *testing.T, subject string, data []byte) {
		changes, cp, err := DecodeMessage(subject, data)
		if err != nil {
			return
		}
		if cp == nil && len(changes) == 0 {
			t.Fatal("neither a checkpoint nor changes, and no error")
		}
		for i := 1; i < len(changes); i++ {
			if changes[i].Index != changes[i-1].Index+1 {
				t.Fatalf("indexes %d then %d", changes[i-1].Index, changes[i].Index)
			}
		}
	})
}

// BenchmarkDecodeMessage decodes a batch of 1,000 entries, about the
// largest a NATS message holds.
func BenchmarkDecodeMessage(b *testing.B) {
	c := goldenChanges(b)[0]
	changes := make([]*Change, 1000)
	for i := range changes {
		cc := *c
		cc.Index = uint64(i)
		changes[i] = &cc
	}
	data := encodeBatch(b, changes)
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if _, _, err := DecodeMessage("ledger.feed.e.count.reported", data); err != nil {
			b.Fatal(err)
		}
	}
}
