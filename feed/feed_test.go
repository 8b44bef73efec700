package feed_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/election-audit/ledger/client"
	"github.com/election-audit/ledger/demo"
	"github.com/election-audit/ledger/events"
	"github.com/election-audit/ledger/feed"
	"github.com/election-audit/ledger/internal/testkeys"
	"github.com/election-audit/ledger/node"
)

const june = "ga06-2017-06"

// runDemo starts a ledger with its HTTP API and replays the demo into it in
// the background; done receives the replay's error.
func runDemo(t *testing.T) (*node.Node, chan error) {
	t.Helper()
	ctx := context.Background()
	keys, err := demo.NewKeys()
	if err != nil {
		t.Fatal(err)
	}
	n, err := node.Open(ctx, node.Config{DataDir: t.TempDir(), HTTP: "127.0.0.1:0", NATSListen: "127.0.0.1:0",
		Authorities: []string{keys.Authority.Verifier}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.Close(ctx) })
	done := make(chan error, 1)
	go func() {
		_, err := demo.Run(ctx, demo.Config{Ledger: n.Ledger, DB: n.DB, Key: n.VerifierKey, Keys: keys, Out: io.Discard, Pace: 15 * time.Millisecond})
		done <- err
	}()
	return n, done
}

// finalSize waits for the demo and returns the June log's size.
func finalSize(t *testing.T, n *node.Node, done chan error) uint64 {
	t.Helper()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	size, _, _, err := n.Ledger.Committed(june)
	if err != nil {
		t.Fatal(err)
	}
	return size
}

// book checks that changes arrive in order, each exactly once.
type book struct {
	t       *testing.T
	next    uint64
	lastCP  uint64
	changes int
}

func (b *book) change(c *feed.Change) {
	if c.Index != b.next {
		b.t.Fatalf("got entry %d, want %d: a change was missed or repeated", c.Index, b.next)
	}
	if c.TreeSize <= c.Index || c.Checkpoint == "" || len(c.Entry) == 0 || c.Election != june {
		b.t.Fatalf("entry %d: tree size %d, checkpoint %q, %d entry bytes", c.Index, c.TreeSize, c.Checkpoint, len(c.Entry))
	}
	if en, err := events.DecodeEntry(c.Entry); err != nil || en.Index != c.Index || en.Event.Type() != c.Type || en.Verdict != c.Verdict {
		b.t.Fatalf("entry %d (%s, %s) is not its change's entry: %+v, %v", c.Index, c.Type, c.Verdict, en, err)
	}
	b.next++
	b.changes++
}

func (b *book) checkpoint(c *feed.Checkpoint) {
	if c.TreeSize < b.lastCP || c.TreeSize > b.next {
		b.t.Fatalf("checkpoint at %d after %d, with %d entries received", c.TreeSize, b.lastCP, b.next)
	}
	b.lastCP = c.TreeSize
}

// TestNATSMonitorResumes attaches a durable JetStream consumer to the June
// feed during the demo, stops it part way, and attaches again: every change
// arrives once, in order.
func TestNATSMonitorResumes(t *testing.T) {
	n, done := runDemo(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	// A monitor, with the key the ledger made in its data directory.
	key, err := nats.NkeyOptionFromSeed(n.Broker.MonitorKeyFile())
	if err != nil {
		t.Fatal(err)
	}
	nc, err := nats.Connect(n.Broker.MonitorURL(), key)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	stream := waitStream(ctx, t, js)
	cfg := jetstream.ConsumerConfig{Durable: "monitor-1", FilterSubject: "ledger.feed." + june + ".>", AckPolicy: jetstream.AckExplicitPolicy}
	b := &book{t: t}
	consume := func(stopAt int, until uint64) {
		cons, err := stream.CreateOrUpdateConsumer(ctx, cfg)
		if err != nil {
			t.Fatal(err)
		}
		for (stopAt == 0 || b.changes < stopAt) && (until == 0 || b.lastCP < until) {
			batch, err := cons.Fetch(1, jetstream.FetchMaxWait(time.Second))
			if err != nil {
				t.Fatal(err)
			}
			for m := range batch.Messages() {
				changes, cp, err := feed.DecodeMessage(m.Subject(), m.Data())
				if err != nil {
					t.Fatal(err)
				}
				if cp != nil {
					b.checkpoint(cp)
				}
				for _, c := range changes {
					b.change(c)
				}
				if err := m.DoubleAck(ctx); err != nil {
					t.Fatal(err)
				}
			}
			if ctx.Err() != nil {
				t.Fatalf("timed out with %d changes", b.changes)
			}
			if until == 0 && stopAt == 0 {
				break
			}
		}
	}
	consume(60, 0)
	t.Logf("disconnected after %d changes", b.changes)
	time.Sleep(300 * time.Millisecond) // the night goes on
	size := finalSize(t, n, done)
	consume(0, size)
	if b.next != size {
		t.Fatalf("received %d changes, the log has %d", b.next, size)
	}
	t.Logf("received all %d changes in order, exactly once, and %d checkpoints' worth", size, b.lastCP)
}

// TestSSEMonitorResumes follows the June log over server-sent events during
// the demo, drops the connection part way, and resumes after the last
// change it got: every change arrives once, in order.
func TestSSEMonitorResumes(t *testing.T) {
	n, done := runDemo(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	c, err := client.New("http://"+n.HTTPAddr(), nil)
	if err != nil {
		t.Fatal(err)
	}
	b := &book{t: t}
	stop := errors.New("disconnect")
	for {
		if _, _, _, err := n.Ledger.Committed(june); err == nil {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	err = c.Changes(ctx, june, 0, nil, func(ch *feed.Change) error {
		b.change(ch)
		if b.changes == 60 {
			return stop
		}
		return nil
	}, func(cp *feed.Checkpoint) error { b.checkpoint(cp); return nil })
	if !errors.Is(err, stop) {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond)
	size := finalSize(t, n, done)
	reached := errors.New("reached the end")
	err = c.Changes(ctx, june, b.next, nil, func(ch *feed.Change) error {
		b.change(ch)
		return nil
	}, func(cp *feed.Checkpoint) error {
		b.checkpoint(cp)
		if cp.TreeSize == size {
			return reached
		}
		return nil
	})
	if !errors.Is(err, reached) {
		t.Fatal(err)
	}
	if b.next != size {
		t.Fatalf("received %d changes, the log has %d", b.next, size)
	}
	// Types filter and bad requests.
	resp, err := http.Get("http://" + n.HTTPAddr() + "/v1/elections/" + june + "/changes?types=count.reported,nonsense")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest {
		t.Errorf("unknown type: HTTP %d", resp.StatusCode)
	}
	var certs int
	err = c.Changes(ctx, june, 0, []events.Type{events.TypeElectionCertified}, func(ch *feed.Change) error {
		certs++
		if ch.Type != "election.certified" {
			t.Fatalf("filtered stream sent a %s", ch.Type)
		}
		return nil
	}, func(cp *feed.Checkpoint) error {
		if cp.TreeSize == size {
			return reached
		}
		return nil
	})
	if !errors.Is(err, reached) || certs != 1 {
		t.Fatalf("certifications: %d, %v", certs, err)
	}
}

func mustJSON(t *testing.T, b []byte, v any) {
	t.Helper()
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("%v: %s", err, b)
	}
}

// TestPublisherResumesFromStream restarts the NATS feed with its position in
// the database lost (it is kept without a sync) and under another name, so
// that JetStream's duplicate window cannot help: it resumes after the last
// entry the stream holds, and publishes nothing twice.
func TestPublisherResumesFromStream(t *testing.T) {
	n, done := runDemo(t)
	size := finalSize(t, n, done)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	js := n.Broker.JetStream()
	stream, err := js.Stream(ctx, feed.DefaultStream)
	if err != nil {
		t.Fatal(err)
	}
	// published returns how many messages the stream holds and the size of
	// the last June checkpoint published, read in that order from the end:
	// the count includes every message up to that checkpoint.
	published := func() (msgs, at uint64) {
		t.Helper()
		m, err := stream.GetLastMsgForSubject(ctx, "ledger.feed."+june+".checkpoint")
		if err == nil {
			_, cp, err := feed.DecodeMessage(m.Subject, m.Data)
			if err != nil {
				t.Fatal(err)
			}
			at = cp.TreeSize
		}
		info, err := stream.Info(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return info.State.Msgs, at
	}
	var before uint64
	for {
		var at uint64
		if before, at = published(); at == size {
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("the feed never reached size %d", size)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err := n.DB.SetFeedPosition(june, 0); err != nil {
		t.Fatal(err)
	}
	pub, err := feed.NewPublisher(feed.PublisherConfig{JetStream: js, Source: n.Ledger, DB: n.DB, Name: "another-name",
		Elections: func() []string { return []string{june} }})
	if err != nil {
		t.Fatal(err)
	}
	pctx, stop := context.WithCancel(ctx)
	defer stop()
	go pub.Run(pctx)
	// It has caught up once it keeps the position again.
	for {
		if at, err := n.DB.FeedPosition(june); err != nil {
			t.Fatal(err)
		} else if at == size {
			break
		}
		if ctx.Err() != nil {
			t.Fatal("the restarted publisher never caught up")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if after, _ := published(); after != before {
		t.Fatalf("the restarted publisher published %d messages again", after-before)
	}
}

// TestBatchMessagesCapped logs a thousand count reports before the NATS
// feed starts, so that its first publication covers them all: it splits
// them into batch messages of at most feed.MaxMessageBytes, consecutive and
// complete.
func TestBatchMessagesCapped(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	n, err := node.Open(ctx, node.Config{DataDir: t.TempDir(), HTTP: "-", NATSListen: "127.0.0.1:0", NoFeed: true,
		Authorities: testkeys.Authorities})
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close(context.Background())
	const election = "capped"
	m := &events.Manifest{Name: "Capped", Date: "2026-11-03",
		VoteTypes: []events.VoteType{{ID: "election-day", Name: "Election Day"}},
		Units:     []events.Unit{{ID: "state", Name: "State", Kind: "state"}},
		Contests:  []events.Contest{{ID: "gov", Name: "Governor", VoteFor: 1, Choices: []events.Choice{{ID: "a", Name: "A"}, {ID: "b", Name: "B"}}}}}
	evs := []*events.Event{{ID: uuid.Must(uuid.NewV7()), Election: election, Body: m}}
	for i := range 1000 {
		evs = append(evs, &events.Event{ID: uuid.Must(uuid.NewV7()), Election: election, Body: &events.CountReport{
			Unit: "state", Contest: "gov", Source: events.Source{Operator: "clerk"},
			Counts: []events.Count{{Choice: "a", VoteType: "election-day", Votes: int64(i)}, {Choice: "b", VoteType: "election-day", Votes: 7}}}})
	}
	if _, err := n.Ledger.Submit(ctx, testkeys.MustSign(testkeys.Authority, evs...)); err != nil {
		t.Fatal(err)
	}
	js := n.Broker.JetStream()
	pub, err := feed.NewPublisher(feed.PublisherConfig{JetStream: js, Source: n.Ledger, DB: n.DB, Name: "ledger.local",
		Elections: func() []string { return []string{election} }})
	if err != nil {
		t.Fatal(err)
	}
	pctx, stop := context.WithCancel(ctx)
	defer stop()
	go pub.Run(pctx)
	stream := waitStream(ctx, t, js)
	for {
		m, err := stream.GetLastMsgForSubject(ctx, "ledger.feed."+election+".checkpoint")
		if err == nil {
			if _, cp, err := feed.DecodeMessage(m.Subject, m.Data); err == nil && cp.TreeSize == uint64(len(evs)) {
				break
			}
		}
		if ctx.Err() != nil {
			t.Fatal("the feed never reached the end of the log")
		}
		time.Sleep(20 * time.Millisecond)
	}
	info, err := stream.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	next, reports := uint64(0), 0
	for seq := info.State.FirstSeq; seq <= info.State.LastSeq; seq++ {
		msg, err := stream.GetMsg(ctx, seq)
		if err != nil {
			t.Fatal(err)
		}
		changes, _, err := feed.DecodeMessage(msg.Subject, msg.Data)
		if err != nil {
			t.Fatal(err)
		}
		if len(changes) > 0 && changes[0].Type == events.TypeCountReported {
			reports++
			if len(msg.Data) > feed.MaxMessageBytes {
				t.Errorf("message %d holds %d bytes, more than %d", seq, len(msg.Data), feed.MaxMessageBytes)
			}
		}
		for _, c := range changes {
			if c.Index != next {
				t.Fatalf("message %d: entry %d, want %d", seq, c.Index, next)
			}
			next++
		}
	}
	if next != uint64(len(evs)) || reports < 2 {
		t.Fatalf("%d entries in %d count-report messages; want %d entries in several", next, reports, len(evs))
	}
	t.Logf("%d entries, the count reports in %d messages", next, reports)
}

// waitStream waits for the change feed's stream, which the publisher
// creates when it starts.
func waitStream(ctx context.Context, t *testing.T, js jetstream.JetStream) jetstream.Stream {
	t.Helper()
	for {
		stream, err := js.Stream(ctx, feed.DefaultStream)
		if err == nil {
			return stream
		}
		if ctx.Err() != nil {
			t.Fatal(err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
