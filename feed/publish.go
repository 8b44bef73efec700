package feed

import (
	"context"
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
)

// Defaults of [PublisherConfig].
const (
	DefaultStream        = "LEDGER_FEED"
	DefaultSubjectPrefix = "ledger"
	DefaultEvery         = 20 * time.Millisecond
)

// PublisherConfig configures a [Publisher].
type PublisherConfig struct {
	JetStream jetstream.JetStream
	Source    Source
	// Elections lists the ledger's elections; new ones are followed as
	// they appear.
	Elections func() []string
	DB        PositionStore // where the feed's position in each log is kept
	// Name is the ledger's name, part of every message ID, so that
	// replicas of one ledger publishing the same feed are deduplicated.
	Name          string
	Stream        string // default DefaultStream
	SubjectPrefix string // default DefaultSubjectPrefix
	Replicas      int    // default 1
	// Every is the least time between two publications of an election's
	// new entries (default DefaultEvery): under a steady load, one synced
	// atomic batch carries the entries of several of the ledger's steps.
	// -1 publishes after every commit.
	Every  time.Duration
	Logger *slog.Logger
}

// Publisher publishes every committed entry and checkpoint of every
// election to a JetStream stream:
//
//	<prefix>.feed.<election>.<event type>   a Batch ("count.corrected" is two tokens)
//	<prefix>.feed.<election>.checkpoint     a Checkpoint
//
// A Batch holds consecutive entries of one type, as many as one message
// takes, with the checkpoint that includes them; a correction between two
// count reports ends one batch and is a batch of its own. Nats-Msg-Id is
// "<name>/<election>/<first index>-<last index>" or
// "<name>/<election>/cp/<size>". A monitor attaches a durable consumer
// (filtered by election, or by type: "ledger.feed.*.count.corrected"),
// goes offline, and resumes where it stopped; DecodeMessage reads a
// message. The publisher follows the logs on its own, so a slow or absent
// NATS never slows the ledger; after a restart it resumes after the last
// entry the stream holds.
type Publisher struct {
	cfg PublisherConfig
}

// PositionStore keeps the feed's position in each election's log:
// *store.DB is one.
type PositionStore interface {
	FeedPosition(election string) (uint64, error)
	SetFeedPosition(election string, next uint64) error
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
	if cfg.Every == 0 {
		cfg.Every = DefaultEvery
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
// (the server's default limit of an atomic batch).
const MaxBatch = 1000

// MaxMessageBytes is where the publisher ends a batch message, below the
// server's max_payload: a monitor starts on a batch sooner, and holds less
// while it lags. An entry larger than this still goes, alone in its message.
const MaxMessageBytes = 256 << 10

// maxSpare bounds the message buffers a publisher keeps for reuse.
const maxSpare = 8

// MaxBatchBytes bounds the payload of one atomic batch: after a long
// outage the publisher catches up in many batches, not one that holds the
// whole backlog in memory.
const MaxBatchBytes = 8 << 20

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
	from, cpSent, err := p.position(ctx, election)
	if err != nil {
		return err
	}
	js := p.cfg.JetStream
	var batch []*nats.Msg
	var cps cpCache
	// flush publishes the batch as one JetStream atomic batch: one synced
	// write for up to MaxBatch messages, where one message at a time would
	// sync each.
	var batchBytes int
	var spare [][]byte // message buffers of published batches, for reuse
	flush := func() error {
		defer func() {
			for _, m := range batch {
				if len(spare) < maxSpare && cap(m.Data) >= 64<<10 {
					spare = append(spare, m.Data[:0])
				}
			}
			batch, batchBytes = batch[:0], 0
		}()
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
	// The open message: consecutive changes of one type (a Batch), encoded
	// as they come.
	var (
		open        []byte
		openType    events.Type
		openSize    uint64
		first, last uint64
	)
	limit := int(js.Conn().MaxPayload()) - maxHeaders // what one message can hold
	soft := min(limit, MaxMessageBytes)               // where a batch message ends
	closeOpen := func() error {
		if open == nil {
			return nil
		}
		m := nats.NewMsg(p.Subject(election, openType))
		m.Header.Set(jetstream.MsgIDHeader, p.cfg.Name+"/"+election+"/"+strconv.FormatUint(first, 10)+"-"+strconv.FormatUint(last, 10))
		m.Data = append(open, "]}"...)
		open = nil
		batch = append(batch, m)
		batchBytes += len(m.Data)
		if len(batch) >= MaxBatch || batchBytes >= MaxBatchBytes {
			return flush()
		}
		return nil
	}
	return Follow(ctx, p.cfg.Source, election, from, Options{Every: p.cfg.Every},
		func(c *Change) error {
			cpJSON, err := cps.json(c.Checkpoint)
			if err != nil {
				return err
			}
			item := c.appendBatchItem(nil)
			if open != nil && (c.Type != openType || c.TreeSize != openSize || len(open)+len(item)+2 > soft) {
				if err := closeOpen(); err != nil {
					return err
				}
			}
			if open == nil {
				buf := make([]byte, 0, 64<<10)
				if n := len(spare); n > 0 {
					buf, spare = spare[n-1], spare[:n-1]
				}
				open = appendBatchHeader(buf, c, cpJSON)
				if len(open)+len(item)+2 > limit {
					// Too large for one message even alone: monitors
					// fetch the entry over HTTP by its index.
					omitted := *c
					omitted.Entry, omitted.EntryOmitted = nil, true
					item = omitted.appendBatchItem(nil)
				}
				openType, openSize, first = c.Type, c.TreeSize, c.Index
			} else {
				open = append(open, ',')
			}
			open = append(open, item...)
			last = c.Index
			return nil
		},
		func(c *Checkpoint) error {
			if err := closeOpen(); err != nil {
				return err
			}
			if c.TreeSize <= cpSent && len(batch) == 0 {
				// The stream's last message: not again.
				return p.cfg.DB.SetFeedPosition(election, c.TreeSize)
			}
			m, err := checkpointMsg(p.Subject(election, "checkpoint"), p.cfg.Name+"/"+election+"/cp/"+strconv.FormatUint(c.TreeSize, 10), c)
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

func checkpointMsg(subject, id string, c *Checkpoint) (*nats.Msg, error) {
	j, err := encodeJSON(c)
	if err != nil {
		return nil, err
	}
	m := nats.NewMsg(subject)
	m.Data = j
	m.Header.Set(jetstream.MsgIDHeader, id)
	return m, nil
}

// position is where publishing an election's feed resumes: after the last
// entry the stream holds for it, which its last message tells; if the
// stream holds none (a new election, or its messages aged out), from the
// position kept in the database. So a restart long after a crash, past
// the duplicate window, publishes nothing twice. cpSent is the size of
// the checkpoint that is the stream's last message, if it is one.
func (p *Publisher) position(ctx context.Context, election string) (from, cpSent uint64, err error) {
	kept, err := p.cfg.DB.FeedPosition(election)
	if err != nil {
		return 0, 0, err
	}
	s, err := p.cfg.JetStream.Stream(ctx, p.cfg.Stream)
	if err != nil {
		return 0, 0, fmt.Errorf("couldn't find the change feed stream %s: %w", p.cfg.Stream, err)
	}
	m, err := s.GetLastMsgForSubject(ctx, p.Subject(election, ">"))
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return kept, 0, nil
	}
	if err != nil {
		return 0, 0, fmt.Errorf("couldn't read the last message of %s on the change feed: %w", election, err)
	}
	changes, cp, err := DecodeMessage(m.Subject, m.Data)
	switch {
	case err != nil:
		return 0, 0, fmt.Errorf("the last message of %s on the change feed (stream sequence %d): %w", election, m.Sequence, err)
	case cp != nil:
		return cp.TreeSize, cp.TreeSize, nil
	default:
		return changes[len(changes)-1].Index + 1, 0, nil
	}
}
