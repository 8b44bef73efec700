package node_test

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/election-audit/ledger/api"
	"github.com/election-audit/ledger/broker"
	"github.com/election-audit/ledger/events"
	"github.com/election-audit/ledger/feed"
	"github.com/election-audit/ledger/node"
)

// asyncErrors collects a connection's asynchronous errors, where the
// server's permission violations arrive.
type asyncErrors struct {
	mu   sync.Mutex
	errs []string
}

func (a *asyncErrors) handler(_ *nats.Conn, _ *nats.Subscription, err error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.errs = append(a.errs, err.Error())
}

// wait returns once the server has reported a permission violation that
// names the subject, or fails the test after 5 s.
func (a *asyncErrors) wait(t *testing.T, op, subject string) {
	t.Helper()
	want := op + ` to "` + subject + `"`
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		a.mu.Lock()
		for _, e := range a.errs {
			if strings.Contains(e, "nats: permissions violation") && strings.Contains(e, want) {
				a.mu.Unlock()
				return
			}
		}
		a.mu.Unlock()
	}
	t.Errorf("no permissions violation for %s", want)
}

// transportState is what the NATS attacks must leave as it is.
type transportState struct {
	submissions, feed uint64 // messages in the two streams
	position, size    uint64 // the ledger's stream position, elecMain's log size
}

func stateOf(t *testing.T, tn *testNode) transportState {
	t.Helper()
	ctx := context.Background()
	js := tn.n.Broker.JetStream()
	var st transportState
	for name, n := range map[string]*uint64{tn.n.Broker.Stream(): &st.submissions, feed.DefaultStream: &st.feed} {
		s, err := js.Stream(ctx, name)
		if err != nil {
			t.Fatalf("stream %s: %v", name, err)
		}
		info, err := s.Info(ctx)
		if err != nil {
			t.Fatalf("stream %s: %v", name, err)
		}
		*n = info.State.Msgs
	}
	st.position, st.size = tn.position(), tn.size(elecMain)
	return st
}

// waitFeed waits until the feed stream holds every entry of elecMain's log.
// The node's feed publisher creates the stream as it starts, which may be
// after the first submissions are answered.
func waitFeed(t *testing.T, tn *testNode) {
	t.Helper()
	ctx := context.Background()
	want := tn.size(elecMain)
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		s, err := tn.n.Broker.JetStream().Stream(ctx, feed.DefaultStream)
		var m *jetstream.RawStreamMsg
		if err == nil {
			m, err = s.GetLastMsgForSubject(ctx, feed.DefaultSubjectPrefix+".feed."+elecMain+".checkpoint")
		}
		if err == nil {
			_, cp, err := feed.DecodeMessage(m.Subject, m.Data)
			if err == nil && cp != nil && cp.TreeSize == want {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("the feed did not reach size %d: %v", want, err)
		}
	}
}

// TestNATSTransportClosed attacks the embedded NATS server as a local
// process would: without credentials it cannot connect; with the monitor
// credentials from the data directory it can read the change feed, and
// every write (to the submission stream, to the feed, a poisoned
// Nats-Msg-Id, the JetStream API calls that delete or purge streams and
// messages) is refused while the ledger goes on serving submissions.
func TestNATSTransportClosed(t *testing.T) {
	dir := t.TempDir()
	tn := startNode(t, dir, node.Config{})
	b := tn.n.Broker
	keyFile := filepath.Join(dir, broker.MonitorKeyFile)
	if b.MonitorKeyFile() != keyFile {
		t.Fatalf("monitor key in %q, want %q", b.MonitorKeyFile(), keyFile)
	}
	fi, err := os.Stat(keyFile)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("%s has mode %v, want 0600", keyFile, fi.Mode().Perm())
	}
	url := b.MonitorURL()

	// No credentials, no connection.
	if nc, err := nats.Connect(url, nats.NoReconnect()); err == nil {
		nc.Close()
		t.Fatal("an anonymous client connected to the embedded NATS server")
	} else if !strings.Contains(err.Error(), "Authorization Violation") {
		t.Errorf("anonymous connect: %v, want an authorization violation", err)
	}

	tn.submit(mkEvent(t, elecMain, testManifest("Main")))
	tn.submit(mkEvent(t, elecMain, houseReport("cobb-01", 100, 90, 5)), mkEvent(t, elecMain, houseReport("cobb-02", 80, 70, 4)))
	waitFeed(t, tn)

	// The monitor connects with the seed file, as `nats --nkey` does.
	seed, err := nats.NkeyOptionFromSeed(keyFile)
	if err != nil {
		t.Fatal(err)
	}
	var errs asyncErrors
	nc, err := nats.Connect(url, seed, nats.ErrorHandler(errs.handler), nats.Name("monitor"))
	if err != nil {
		t.Fatalf("monitor: %v", err)
	}
	defer nc.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	// It reads the feed: a durable consumer, an ordered (ephemeral) one,
	// and a plain subscription.
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	fs, err := js.Stream(ctx, feed.DefaultStream)
	if err != nil {
		t.Fatalf("monitor: stream info: %v", err)
	}
	filter := feed.DefaultSubjectPrefix + ".feed." + elecMain + ".>"
	durable, err := fs.CreateOrUpdateConsumer(ctx, jetstream.ConsumerConfig{
		Durable: "monitor-test", FilterSubject: filter, AckPolicy: jetstream.AckExplicitPolicy,
	})
	if err != nil {
		t.Fatalf("monitor: durable consumer: %v", err)
	}
	if _, err := durable.Info(ctx); err != nil {
		t.Errorf("monitor: consumer info: %v", err)
	}
	ordered, err := js.OrderedConsumer(ctx, feed.DefaultStream, jetstream.OrderedConsumerConfig{FilterSubjects: []string{filter}})
	if err != nil {
		t.Fatalf("monitor: ordered consumer: %v", err)
	}
	size := tn.size(elecMain)
	for name, c := range map[string]jetstream.Consumer{"durable": durable, "ordered": ordered} {
		var next uint64
		for next < size {
			m, err := c.Next(jetstream.FetchMaxWait(5 * time.Second))
			if err != nil {
				t.Fatalf("monitor: %s consumer after entry %d: %v", name, next, err)
			}
			changes, _, err := feed.DecodeMessage(m.Subject(), m.Data())
			if err != nil {
				t.Fatal(err)
			}
			for _, ch := range changes {
				if ch.Index != next {
					t.Fatalf("monitor: %s consumer: entry %d, want %d", name, ch.Index, next)
				}
				next++
			}
			if name == "durable" {
				if err := m.Ack(); err != nil {
					t.Fatalf("monitor: ack: %v", err)
				}
			}
		}
	}
	live, err := nc.SubscribeSync(feed.DefaultSubjectPrefix + ".feed.>")
	if err != nil {
		t.Fatal(err)
	}
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}

	// What a monitor may not do.
	before := stateOf(t, tn)
	next := mkEvent(t, elecMain, houseReport("fulton-01", 60, 50, 3))
	nextSub := signed(t, next) // the submission whose ID the monitor tries to poison
	other := signed(t, mkEvent(t, elecMain, houseReport("dekalb-01", 1, 2, 3)))
	submitSubject := b.SubmitSubject(elecMain)
	feedSubject := feed.DefaultSubjectPrefix + ".feed." + elecMain + "." + string(events.TypeCountReported)
	for _, p := range []struct {
		subject string
		id      string // Nats-Msg-Id
		data    []byte
	}{
		{submitSubject, submissionID(t, other).String(), other},                     // signed by the authority, even
		{submitSubject, submissionID(t, nextSub).String(), []byte(`{"junk":true}`)}, // would hold nextSub's ID in the duplicate window
		{feedSubject, "forged/" + elecMain + "/3-3", []byte(`{"election":"` + elecMain + `","type":"count.reported","tree_size":4,"changes":[]}`)},
		{feed.DefaultSubjectPrefix + ".feed." + elecMain + ".checkpoint", "forged/cp", []byte(`{}`)},
	} {
		m := nats.NewMsg(p.subject)
		m.Header.Set(jetstream.MsgIDHeader, p.id)
		m.Data = p.data
		if err := nc.PublishMsg(m); err != nil {
			t.Fatal(err)
		}
		errs.wait(t, "Publish", p.subject)
	}
	jsAPI := "$JS.API."
	for _, subject := range []string{
		jsAPI + "STREAM.DELETE." + b.Stream(),
		jsAPI + "STREAM.PURGE." + b.Stream(),
		jsAPI + "STREAM.MSG.DELETE." + b.Stream(),
		jsAPI + "STREAM.UPDATE." + b.Stream(),
		jsAPI + "STREAM.INFO." + b.Stream(),
		jsAPI + "CONSUMER.CREATE." + b.Stream() + ".spy",
		jsAPI + "STREAM.DELETE." + feed.DefaultStream,
		jsAPI + "STREAM.PURGE." + feed.DefaultStream,
		jsAPI + "STREAM.MSG.DELETE." + feed.DefaultStream,
		jsAPI + "STREAM.UPDATE." + feed.DefaultStream,
		jsAPI + "STREAM.CREATE.SPY",
		jsAPI + "CONSUMER.DELETE." + feed.DefaultStream + ".monitor-test",
		jsAPI + "STREAM.LIST",
	} {
		if err := nc.PublishRequest(subject, nc.NewRespInbox(), []byte(`{"seq":1}`)); err != nil {
			t.Fatal(err)
		}
		errs.wait(t, "Publish", subject)
	}
	for _, subject := range []string{submitSubject, ">", "$JS.API.>", broker.LedgerInboxPrefix + ".>"} {
		if _, err := nc.SubscribeSync(subject); err != nil {
			t.Fatal(err)
		}
		errs.wait(t, "Subscription", subject)
	}
	// A push consumer of the feed aimed at the submission subject or the
	// JetStream API: created, but it delivers nothing there, since nothing
	// may subscribe to those subjects.
	for name, deliver := range map[string]string{"push-submit": submitSubject, "push-api": jsAPI + "STREAM.DELETE." + b.Stream()} {
		if _, err := js.CreateOrUpdatePushConsumer(ctx, feed.DefaultStream, jetstream.ConsumerConfig{Durable: name, DeliverSubject: deliver}); err != nil {
			t.Fatalf("push consumer to %s: %v", deliver, err)
		}
	}
	time.Sleep(time.Second)
	if after := stateOf(t, tn); after != before {
		t.Fatalf("the monitor changed the transport: %+v, then %+v", before, after)
	}

	// The ledger goes on: the submission whose ID the monitor tried to
	// poison is logged, and the monitor sees it on the feed.
	status, body := tn.do(http.MethodPost, "/v1/submissions", "text/plain; charset=utf-8", nextSub)
	var resp api.SubmitResponse
	if err := json.Unmarshal(body, &resp); err != nil || status != http.StatusOK || len(resp.Receipts) != 1 ||
		resp.Receipts[0].Verdict != events.Accepted || resp.Receipts[0].Index != before.size {
		t.Errorf("submission after the attacks: HTTP %d, %s", status, body)
	}
	m, err := live.NextMsg(10 * time.Second)
	if err != nil {
		t.Fatalf("monitor: live feed: %v", err)
	}
	if changes, _, err := feed.DecodeMessage(m.Subject, m.Data); err != nil || len(changes) != 1 || changes[0].Index != before.size {
		t.Errorf("monitor: live feed: %d changes, %v", len(changes), err)
	}
	if _, err := tn.n.Broker.JetStream().Stream(ctx, tn.n.Broker.Stream()); err != nil {
		t.Errorf("the submission stream: %v", err)
	}
}
