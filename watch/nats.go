package watch

import (
	"context"
	"errors"
	"fmt"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/election-audit/ledger/feed"
)

// NATS follows the change feed's JetStream stream (package feed's
// Publisher) with a durable pull consumer, so that the broker remembers
// how far the watcher got. The consumer is created if missing, filtered to
// <SubjectPrefix>.feed.<election>.>, and starts at the stream's first
// message; messages are acknowledged once handled. The watcher's own state
// decides what is printed: repeats are skipped by index, and entries the
// consumer went past (acknowledged before a crash, or dropped by the
// stream's limits) are fetched over HTTP.
//
// The ledger's embedded NATS server admits monitors only with the NKey
// seed in the ledger's data directory (nats-monitor.nk): set NKeyFile to a
// copy of it. Against an external NATS, pass the credentials its operator
// gave, in URL or Options.
type NATS struct {
	URL string
	// NKeyFile is the monitor's NKey seed file, if any.
	NKeyFile string
	// Consumer is the durable consumer's name; default "watch-<election>".
	Consumer      string
	Stream        string // default feed.DefaultStream
	SubjectPrefix string // default feed.DefaultSubjectPrefix
	Options       []nats.Option
}

// ConsumerName returns the default durable consumer name of an election.
func ConsumerName(election string) string { return "watch-" + election }

// Follow implements [Feed]; from is not used: the durable consumer keeps
// its own position.
func (n NATS) Follow(ctx context.Context, election string, _ uint64, onChange func(*feed.Change) error, onCheckpoint func(*feed.Checkpoint) error) error {
	stream := n.Stream
	if stream == "" {
		stream = feed.DefaultStream
	}
	prefix := n.SubjectPrefix
	if prefix == "" {
		prefix = feed.DefaultSubjectPrefix
	}
	name := n.Consumer
	if name == "" {
		name = ConsumerName(election)
	}
	opts := n.Options
	if n.NKeyFile != "" {
		key, err := nats.NkeyOptionFromSeed(n.NKeyFile)
		if err != nil {
			return fatal(fmt.Errorf("couldn't read the NATS monitor key %s: %w", n.NKeyFile, err))
		}
		opts = append([]nats.Option{key}, opts...)
	}
	nc, err := nats.Connect(n.URL, opts...)
	if errors.Is(err, nats.ErrAuthorization) {
		// Reconnecting with the same credentials cannot help.
		return fatal(fmt.Errorf("NATS at %s refused the credentials (the ledger's embedded server admits monitors with the NKey seed in its data directory, nats-monitor.nk): %w", n.URL, err))
	}
	if err != nil {
		return fmt.Errorf("couldn't connect to NATS at %s: %w", n.URL, err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return fmt.Errorf("couldn't use JetStream at %s: %w", n.URL, err)
	}
	s, err := js.Stream(ctx, stream)
	if err != nil {
		return fmt.Errorf("couldn't find the change feed stream %s at %s (is the ledger publishing there?): %w", stream, n.URL, err)
	}
	cons, err := s.CreateOrUpdateConsumer(ctx, jetstream.ConsumerConfig{
		Durable:       name,
		Description:   "ledger watch " + election,
		FilterSubject: prefix + ".feed." + election + ".>",
		DeliverPolicy: jetstream.DeliverAllPolicy,
		AckPolicy:     jetstream.AckExplicitPolicy,
	})
	if err != nil {
		return fmt.Errorf("couldn't create the durable consumer %s on %s: %w", name, stream, err)
	}
	it, err := cons.Messages()
	if err != nil {
		return fmt.Errorf("couldn't consume %s: %w", stream, err)
	}
	defer it.Stop()
	for {
		m, err := it.Next(jetstream.NextContext(ctx))
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if err != nil {
			if errors.Is(err, jetstream.ErrMsgIteratorClosed) {
				return fmt.Errorf("the NATS consumer %s stopped", name)
			}
			return fmt.Errorf("the NATS consumer %s broke: %w", name, err)
		}
		changes, cp, err := feed.DecodeMessage(m.Subject(), m.Data())
		if err != nil {
			return err
		}
		if cp != nil {
			err = onCheckpoint(cp)
		}
		for _, c := range changes {
			if err = onChange(c); err != nil {
				break
			}
		}
		if err != nil {
			return err // not acknowledged: it comes again
		}
		if err := m.Ack(); err != nil {
			return fmt.Errorf("couldn't acknowledge a message of %s: %w", name, err)
		}
	}
}
