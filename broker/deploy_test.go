package broker

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/election-audit/ledger/events"
	"github.com/election-audit/ledger/internal/testkeys"
)

// The cluster configuration shipped for docker-compose must parse, must
// sync every write, as the embedded server does, must carry the largest
// message the ledger publishes (a whole signed submission), and must be
// closed: a server started with it admits no client without credentials,
// lets the ledger open its stream and publish a submission, and refuses
// the monitor's attempt to publish one; the stream holds only the
// ledger's.
func TestDeployConfig(t *testing.T) {
	t.Setenv("LEDGER_NATS_PASSWORD", "ledger-secret")
	t.Setenv("MONITOR_NATS_PASSWORD", "monitor-secret")
	opts, err := server.ProcessConfigFile("../deploy/nats.conf")
	if err != nil {
		t.Fatal(err)
	}
	if !opts.SyncAlways {
		t.Error("deploy/nats.conf does not set sync_interval: always")
	}
	if opts.MaxPayload < MaxPayload {
		t.Errorf("max_payload %d is below the ledger's largest message %d", opts.MaxPayload, MaxPayload)
	}
	if MaxPayload < events.MaxSubmissionSize+maxHeaderBytes {
		t.Errorf("MaxPayload %d has no room for a submission of %d and its headers", MaxPayload, events.MaxSubmissionSize)
	}
	checkUsers(t, "deploy/nats.conf", opts)

	opts.Host, opts.Port, opts.NoLog, opts.NoSigs = "127.0.0.1", -1, true, true
	opts.StoreDir = t.TempDir()
	srv, err := server.NewServer(opts)
	if err != nil {
		t.Fatal(err)
	}
	go srv.Start()
	if !srv.ReadyForConnections(10 * time.Second) {
		t.Fatal("the server did not start")
	}
	defer srv.Shutdown()
	url := srv.ClientURL()
	for name, o := range map[string][]nats.Option{
		"anonymous":                    nil,
		"the ledger, a wrong password": {nats.UserInfo("ledger", "guess")},
		"the monitor's user name only": {nats.UserInfo("monitor", "")},
	} {
		nc, err := nats.Connect(url, append(o, nats.NoReconnect())...)
		if err == nil {
			nc.Close()
			t.Errorf("%s: connected", name)
		} else if !errors.Is(err, nats.ErrAuthorization) {
			t.Errorf("%s: %v, want an authorization violation", name, err)
		}
	}

	// The ledger opens the stream and publishes a signed submission.
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	b, err := Open(ctx, Config{URL: strings.Replace(url, "nats://", "nats://ledger:ledger-secret@", 1)})
	if err != nil {
		t.Fatalf("a ledger on deploy/nats.conf: %v", err)
	}
	defer b.Close()
	ev := &events.Event{ID: uuid.Must(uuid.NewV7()), Election: "e", Body: &events.CountReport{Unit: "p1", Contest: "gov",
		Counts: []events.Count{{Choice: "a", VoteType: "ed", Votes: 1}}, Source: events.Source{Operator: "clerk"}}}
	signed := testkeys.MustSign(testkeys.Authority, ev)
	sub, err := events.OpenSubmission(signed)
	if err != nil {
		t.Fatal(err)
	}
	seq, err := b.Publish(ctx, Message{Election: "e", ID: sub.ID.String(), Data: signed})
	if err != nil {
		t.Fatalf("the ledger's publish: %v", err)
	}

	// The monitor connects, and may not publish a submission, neither
	// plainly nor through JetStream, nor look up the submission stream.
	var mu sync.Mutex
	var violations []string
	mon, err := nats.Connect(url, nats.UserInfo("monitor", "monitor-secret"), nats.NoReconnect(),
		nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) {
			mu.Lock()
			violations = append(violations, err.Error())
			mu.Unlock()
		}))
	if err != nil {
		t.Fatalf("the monitor: %v", err)
	}
	defer mon.Close()
	subject := b.SubmitSubject("e")
	forged := testkeys.MustSign(testkeys.New("monitor"), &events.Event{ID: uuid.Must(uuid.NewV7()), Election: "e", Body: ev.Body})
	if err := mon.Publish(subject, forged); err != nil {
		t.Fatal(err)
	}
	if err := mon.Flush(); err != nil {
		t.Fatal(err)
	}
	mjs, err := jetstream.New(mon)
	if err != nil {
		t.Fatal(err)
	}
	pctx, pcancel := context.WithTimeout(ctx, time.Second)
	if ack, err := mjs.Publish(pctx, subject, forged); err == nil {
		t.Errorf("the monitor published a submission through JetStream: %+v", ack)
	}
	pcancel()
	sctx, scancel := context.WithTimeout(ctx, time.Second)
	if _, err := mjs.Stream(sctx, b.Stream()); err == nil {
		t.Errorf("the monitor looked up the submission stream %s", b.Stream())
	}
	scancel()
	deadline := time.Now().Add(5 * time.Second)
	for {
		mu.Lock()
		got := strings.Join(violations, "\n")
		mu.Unlock()
		if strings.Contains(got, `Permissions Violation for Publish to "`+subject+`"`) {
			break
		}
		if time.Now().After(deadline) {
			t.Errorf("no publish permissions violation for the monitor on %s; its errors:\n%s", subject, got)
			break
		}
		time.Sleep(20 * time.Millisecond)
	}

	// The stream holds the ledger's submission only.
	s, err := b.JetStream().Stream(ctx, b.Stream())
	if err != nil {
		t.Fatal(err)
	}
	info, err := s.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if info.State.Msgs != 1 || info.State.LastSeq != seq {
		t.Errorf("the stream holds %d messages, last %d; want only the ledger's, %d", info.State.Msgs, info.State.LastSeq, seq)
	}
	msg, err := s.GetMsg(ctx, seq)
	if err != nil || string(msg.Data) != string(signed) {
		t.Errorf("stream message %d is not the ledger's submission (%v)", seq, err)
	}
}

// A ledger refuses an external server whose max_payload cannot carry a
// whole submission, rather than fail on the first large one.
func TestExternalMaxPayload(t *testing.T) {
	opts := &server.Options{Host: "127.0.0.1", Port: -1, NoLog: true, NoSigs: true, JetStream: true, StoreDir: t.TempDir()}
	srv, err := server.NewServer(opts)
	if err != nil {
		t.Fatal(err)
	}
	go srv.Start()
	if !srv.ReadyForConnections(10 * time.Second) {
		t.Fatal("the server did not start")
	}
	defer srv.Shutdown()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	b, err := Open(ctx, Config{URL: srv.ClientURL()})
	if err == nil {
		b.Close()
		t.Fatal("a server with the default max_payload (1 MiB) was accepted")
	}
	if !strings.Contains(err.Error(), "max_payload") {
		t.Errorf("error %v does not name max_payload", err)
	}
}
