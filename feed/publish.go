package feed

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/synadia-io/orbit.go/jetstreamext"

	"github.com/election-audit/ledger/events"
	"github.com/election-audit/ledger/store"
)

// Defaults of [PublisherConfig].
const (
	DefaultStream        = "LEDGER_FEED"
	DefaultSubjectPrefix = "ledger"
)

// PublisherConfig configures a [Publisher].
type PublisherConfig struct {
	JetStream jetstream.JetStream
	Source    Source
	// Elections lists the ledger's elections; new ones are followed as
	// they appear.
	Elections func() []string
	DB        *store.DB // where the feed's position in each log is kept
	// Name is the ledger's name, part of every message ID, so that
	// replicas of one ledger publishing the same feed are deduplicated.
	Name          string
	Stream        string // default DefaultStream
	SubjectPrefix string // default DefaultSubjectPrefix
	Replicas      int    // default 1
	Logger        *slog.Logger
}

// Publisher publishes every committed entry and checkpoint of every
// election to a JetStream stream:
//
//	<prefix>.feed.<election>.<event type>   a Change ("count.corrected" is two tokens)
//	<prefix>.feed.<election>.checkpoint     a Checkpoint
//
// with Nats-Msg-Id "<name>/<election>/<index>" or "<name>/<election>/cp/<size>".
// A monitor attaches a durable consumer (filtered by election, or by type:
// "ledger.feed.*.count.corrected"), goes offline, and resumes where it
// stopped. The publisher follows the logs on its own, so a slow or absent
// NATS never slows the ledger; it keeps its position in each log in the
// database and, after a restart, publishes from there (messages published
// again within the stream's duplicate window are dropped by JetStream;
// consumers also tell repeats by their index).
type Publisher struct {
	cfg PublisherConfig
}

// NewPublisher fills in defaults.
func NewPublisher(cfg PublisherConfig) (*Publisher, error) {
	if cfg.JetStream == nil || cfg.Source == nil || cfg.Elections == nil || cfg.DB == nil {
		return nil, errors.New("feed: PublisherConfig needs JetStream, Source, Elections and DB")
	}
	if cfg.Stream == "" {
		cfg.Stream = DefaultStream
	}
	if cfg.SubjectPrefix == "" {
		cfg.SubjectPrefix = DefaultSubjectPrefix
	}
	if cfg.Replicas == 0 {
		cfg.Replicas = 1
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return &Publisher{cfg: cfg}, nil
}

// StreamConfig is the feed stream's configuration.
func (p *Publisher) StreamConfig() jetstream.StreamConfig {
	return jetstream.StreamConfig{
		Name:        p.cfg.Stream,
		Description: "election ledger change feed: every committed entry and checkpoint",
		Subjects:    []string{p.cfg.SubjectPrefix + ".feed.>"},
		Storage:     jetstream.FileStorage,
		Retention:   jetstream.LimitsPolicy,
		Replicas:    p.cfg.Replicas,
		Duplicates:  2 * time.Minute,
		// The publisher writes atomic batches: one synced write each.
		AllowAtomicPublish: true,
	}
}

// Subject returns the subject of an election's entries of one type, or
// of its checkpoints for type "checkpoint".
func (p *Publisher) Subject(election string, t events.Type) string {
	return p.cfg.SubjectPrefix + ".feed." + election + "." + string(t)
}

// MaxBatch is the most messages the publisher writes as one atomic batch
// (JetStream's limit).
const MaxBatch = 1000

// maxHeaders is room for a message's headers within the server's payload
// limit.
const maxHeaders = 4 << 10

// Run publishes until ctx ends. It creates the stream if it is missing.
func (p *Publisher) Run(ctx context.Context) error {
	want := p.StreamConfig()
	if _, err := p.cfg.JetStream.CreateOrUpdateStream(ctx, want); err != nil {
		// An existing stream (on a shared cluster) is used as it is.
		if _, err2 := p.cfg.JetStream.Stream(ctx, want.Name); err2 != nil {
			return fmt.Errorf("couldn't create the change feed stream %s: %w", want.Name, err)
		}
	}
	var wg sync.WaitGroup
	defer wg.Wait()
	following := map[string]bool{}
	for {
		_, _, changed, _ := p.cfg.Source.Committed("")
		for _, e := range p.cfg.Elections() {
			if following[e] {
				continue
			}
			following[e] = true
			wg.Add(1)
			go func() {
				defer wg.Done()
				p.follow(ctx, e)
			}()
		}
		select {
		case <-ctx.Done():
			return nil
		case <-changed:
		}
	}
}

// follow publishes one election's log, retrying after failures.
func (p *Publisher) follow(ctx context.Context, election string) {
	backoff := 100 * time.Millisecond
	for ctx.Err() == nil {
		err := p.publish(ctx, election)
		if ctx.Err() != nil {
			return
		}
		p.cfg.Logger.Warn("change feed: publishing stopped; retrying", "election", election, "err", err, "in", backoff)
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 30*time.Second)
	}
}

func (p *Publisher) publish(ctx context.Context, election string) error {
	from, err := p.cfg.DB.FeedPosition(election)
	if err != nil {
		return err
	}
	js := p.cfg.JetStream
	var batch []*nats.Msg
	var cps cpCache
	// flush publishes the batch as one JetStream atomic batch: one synced
	// write for up to MaxBatch messages, where one message at a time would
	// sync each.
	flush := func() error {
		defer func() { batch = batch[:0] }()
		switch len(batch) {
		case 0:
			return nil
		case 1:
		default:
			if _, err := jetstreamext.PublishMsgBatch(ctx, js, batch); err == nil {
				return nil
			}
			// Some were published before (a restart within the duplicate
			// window: JetStream refuses the batch), or the stream, shared
			// and made elsewhere, does not allow atomic batches: one by
			// one, and JetStream drops the repeats.
		}
		for _, m := range batch {
			if _, err := js.PublishMsg(ctx, m); err != nil {
				return fmt.Errorf("publishing %s: %w", m.Subject, err)
			}
		}
		return nil
	}
	msg := func(subject, id string, v any) (*nats.Msg, error) {
		var buf bytes.Buffer
		enc := json.NewEncoder(&buf)
		enc.SetEscapeHTML(false)
		if err := enc.Encode(v); err != nil {
			return nil, err
		}
		m := nats.NewMsg(subject)
		m.Data = bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
		m.Header.Set(jetstream.MsgIDHeader, id)
		return m, nil
	}
	return Follow(ctx, p.cfg.Source, election, from, Options{},
		func(c *Change) error {
			cpJSON, err := cps.json(c.Checkpoint)
			if err != nil {
				return err
			}
			m := nats.NewMsg(p.Subject(election, c.Type))
			m.Header.Set(jetstream.MsgIDHeader, p.cfg.Name+"/"+election+"/"+strconv.FormatUint(c.Index, 10))
			m.Data = c.AppendJSON(nil, cpJSON)
			if int64(len(m.Data))+maxHeaders > js.Conn().MaxPayload() {
				c.Entry, c.EntryOmitted = nil, true
				m.Data = c.AppendJSON(nil, cpJSON)
			}
			batch = append(batch, m)
			if len(batch) >= MaxBatch {
				return flush()
			}
			return nil
		},
		func(c *Checkpoint) error {
			m, err := msg(p.Subject(election, "checkpoint"), p.cfg.Name+"/"+election+"/cp/"+strconv.FormatUint(c.TreeSize, 10), c)
			if err != nil {
				return err
			}
			batch = append(batch, m)
			if err := flush(); err != nil {
				return err
			}
			return p.cfg.DB.SetFeedPosition(election, c.TreeSize)
		})
}
