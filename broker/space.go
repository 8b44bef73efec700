package broker

// A full disk is an outage of the embedded server, not a loss. JetStream
// (as of nats-server 2.15) keeps a stream's first write error for as long
// as the stream is loaded: every later message is refused, and
// unanswered, even once the disk has space again. (A submission is one
// message, so it is in the stream whole or not at all.) So Publish refuses
// submissions while the embedded server's disk is short of space, and the
// broker reloads the embedded JetStream when its submission stream has a
// write error and the disk has space again, which clears the error.

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/nats-io/nats-server/v2/server"

	"github.com/election-audit/ledger/internal/diskspace"
)

// DefaultMinFree is the space the embedded server's disk keeps free for
// submissions: below it, Publish refuses them. It is more than the ledger
// database keeps free (store.DefaultMinFree), so that on a disk they
// share, the ledger can still log what the stream took.
const DefaultMinFree = 256 << 20

// publishTimeout bounds the wait for the stream's acknowledgement of one
// submission. A stream with a write error does not answer at all.
const publishTimeout = 10 * time.Second

// embeddedMaxMemory is the embedded server's JetStream memory limit.
const embeddedMaxMemory = 256 << 20

// NoSpaceError is returned by Publish when the embedded server's disk has
// less free space than the broker keeps: nothing was published.
// errors.Is(err, syscall.ENOSPC) holds for it.
type NoSpaceError = diskspace.NoSpaceError

// StreamError is returned by Publish and Check when the submission stream
// cannot take messages: missing, unreadable, or (on the embedded server)
// holding a write error.
type StreamError struct {
	Stream string
	Detail string
}

func (e *StreamError) Error() string {
	return fmt.Sprintf("the submission stream %s cannot take messages: %s", e.Stream, e.Detail)
}

// recovery is what the broker knows of its embedded stream's health.
type recovery struct {
	// suspect is set when a publish failed on a stream write error, so
	// that the next Publish checks the stream (Check always does).
	suspect   atomic.Bool
	mu        sync.Mutex    // held across a reload of JetStream
	restarted chan struct{} // closed (and replaced) at each reload
}

// checkSpace returns a *NoSpaceError if the embedded server's disk has
// less than the broker keeps free; nil with an external server, which
// minds its own disk. One statfs(2).
func (b *Broker) checkSpace() error {
	if b.srv == nil || b.cfg.MinFree < 0 {
		return nil
	}
	free, err := diskspace.Free(vfs.Default, b.cfg.Dir)
	if err != nil {
		return nil // the write will say what is wrong with the disk
	}
	if free < uint64(b.cfg.MinFree) {
		return &NoSpaceError{Store: "the stream store (JetStream)", Dir: b.cfg.Dir, Free: free, MinFree: uint64(b.cfg.MinFree), Refused: "submissions are refused"}
	}
	return nil
}

// streamProblem asks the embedded server about the submission stream, in
// process: "" if it is loaded and has no write error. Its cost is a
// directory listing of the server's streams and a few lookups.
func (b *Broker) streamProblem() string {
	h := b.srv.Healthz(&server.HealthzOptions{Account: server.DEFAULT_GLOBAL_ACCOUNT, Stream: b.cfg.Stream})
	if h == nil {
		return ""
	}
	return h.Error
}

// writeErrors lists the write errors the embedded server's streams hold
// (the submission stream's, the change feed's), which only a reload of
// JetStream clears.
func (b *Broker) writeErrors() []string {
	h := b.srv.Healthz(&server.HealthzOptions{Account: server.DEFAULT_GLOBAL_ACCOUNT, Details: true})
	if h == nil {
		return nil
	}
	var out []string
	for _, e := range h.Errors {
		if strings.Contains(e.Error, "write error") {
			out = append(out, e.Error)
		}
	}
	return out
}

// Check reports whether submissions can be published now: nil, a
// *NoSpaceError, or a *StreamError. On the embedded server, if a stream
// holds a write error and the disk has space again, it reloads JetStream
// first (see Restarted). With an external server it looks the stream up
// (one request).
func (b *Broker) Check(ctx context.Context) error {
	if b.srv == nil {
		ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		defer cancel()
		if _, err := b.js.Stream(ctx, b.cfg.Stream); err != nil {
			return &StreamError{Stream: b.cfg.Stream, Detail: err.Error()}
		}
		return nil
	}
	if err := b.checkSpace(); err != nil {
		if problem := b.streamProblem(); problem != "" {
			return fmt.Errorf("%w; %w", err, &StreamError{Stream: b.cfg.Stream, Detail: problem})
		}
		return err
	}
	return b.recover()
}

// recover reloads the embedded JetStream if one of its streams holds a
// write error, and returns a *StreamError if the submission stream is not
// usable afterwards. The caller has checked the disk's space.
func (b *Broker) recover() error {
	if len(b.writeErrors()) > 0 {
		if err := b.reload(); err != nil {
			return err
		}
	}
	b.rec.suspect.Store(false)
	if problem := b.streamProblem(); problem != "" {
		// Missing or not recovered: a reload would not bring it back,
		// and the ledger never creates it again behind an operator's back.
		return &StreamError{Stream: b.cfg.Stream, Detail: problem}
	}
	return nil
}

// reload stops and starts the embedded JetStream, which loads its streams
// again from disk: without their write errors, and with an atomic batch
// that a full disk cut completed from its staging copy.
func (b *Broker) reload() error {
	b.rec.mu.Lock()
	defer b.rec.mu.Unlock()
	problems := b.writeErrors() // another caller may have reloaded it
	if len(problems) == 0 {
		return nil
	}
	b.cfg.Logger.Warn("reloading the embedded JetStream: a stream holds a write error, and the disk has space again",
		"errors", strings.Join(problems, "; "))
	if err := b.srv.ShutdownJetStream(); err != nil {
		return &StreamError{Stream: b.cfg.Stream, Detail: fmt.Sprintf("%s; stopping JetStream to reload it failed: %v", problems[0], err)}
	}
	err := b.srv.EnableJetStream(&server.JetStreamConfig{
		StoreDir: b.cfg.Dir, SyncAlways: true, Strict: true, MaxMemory: embeddedMaxMemory, CompressOK: true,
	})
	close(b.rec.restarted)
	b.rec.restarted = make(chan struct{})
	if err != nil {
		return &StreamError{Stream: b.cfg.Stream, Detail: fmt.Sprintf("%s; reloading JetStream failed: %v", problems[0], err)}
	}
	b.cfg.Logger.Info("embedded JetStream reloaded")
	return nil
}

// Restarted returns a channel that is closed when the embedded JetStream
// is reloaded. Consumers of the stream then start again from what they
// applied, and check its history as at a start: messages the stream held
// only in memory before the reload may be gone, or have other sequences.
func (b *Broker) Restarted() <-chan struct{} {
	b.rec.mu.Lock()
	defer b.rec.mu.Unlock()
	return b.rec.restarted
}

// publishFailed explains a failed publish to the embedded server: with
// the stream's write error, if it has one (then the next Publish or Check
// reloads JetStream once the disk has space).
func (b *Broker) publishFailed(err error) error {
	if b.srv == nil {
		return err
	}
	if problem := b.streamProblem(); problem != "" {
		b.rec.suspect.Store(true)
		return fmt.Errorf("%w (%s)", err, problem)
	}
	if space := b.checkSpace(); space != nil && !errors.Is(err, syscall.ENOSPC) {
		return fmt.Errorf("%w (%v)", err, space)
	}
	return err
}
