package ledger

import (
	"context"
	"errors"
	"strings"
	"sync"
	"time"
)

// Health statuses.
const (
	HealthOK = "ok"
	// HealthUnavailable: submissions cannot be committed now (the state
	// machine cannot write, a disk is short of space, or the submission
	// stream is missing or cannot take messages); it may pass by itself.
	HealthUnavailable = "unavailable"
	// HealthFailed: the state machine stopped on an error (an alarm); it
	// answers no more submissions.
	HealthFailed = "failed"
)

// HealthCheckTTL is how long the broker's part of a health check (a
// stream lookup) is reused: health may be polled often.
const HealthCheckTTL = 2 * time.Second

// Health says whether submissions can be committed now, and if not, why.
// Its fields are in alphabetical order of their JSON names.
type Health struct {
	// Error says why Status is not ok: each problem, "; "-separated.
	Error string `json:"error,omitempty"`
	// Position is the last stream sequence the ledger applied.
	Position uint64 `json:"position"`
	// StalledSince is when the state machine started failing to write the
	// step it retries; absent when it is not stalled.
	StalledSince *time.Time `json:"stalled_since,omitempty"`
	Status       string     `json:"status"`
}

// OK reports whether submissions can be committed.
func (h Health) OK() bool { return h.Status == HealthOK }

// healthCache keeps the broker's part of the health check.
type healthCache struct {
	mu  sync.Mutex // held while the broker is asked, so callers share one ask
	at  time.Time
	err error
}

// Health checks, cheaply, whether submissions can be committed: the state
// machine runs and is not stalled on a write, the database's disk has the
// space it keeps free (one statfs), and the broker can publish (the
// stream's disk, the stream itself: asked at most every HealthCheckTTL).
// On the embedded server, the broker's check also reloads JetStream when
// the stream has a write error and the disk has space again.
func (l *Ledger) Health(ctx context.Context) Health {
	l.pub.RLock()
	h := Health{Status: HealthOK, Position: l.position}
	fatal, stall, since := l.fatal, l.stall, l.stallSince
	l.pub.RUnlock()
	if fatal != nil {
		h.Status, h.Error = HealthFailed, fatal.Error()
		return h
	}
	var problems []string
	if stall != nil {
		h.StalledSince = &since
		problems = append(problems, "the state machine cannot write, and retries: "+stall.Error())
	} else if err := l.db.Space(); err != nil {
		problems = append(problems, err.Error())
	}
	if err := l.brokerHealth(ctx); err != nil {
		problems = append(problems, err.Error())
	}
	if len(problems) > 0 {
		h.Status, h.Error = HealthUnavailable, strings.Join(problems, "; ")
	}
	return h
}

func (l *Ledger) brokerHealth(ctx context.Context) error {
	c := &l.health
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.at.IsZero() && time.Since(c.at) < HealthCheckTTL {
		return c.err
	}
	err := l.cfg.Broker.Check(ctx)
	if errors.Is(err, context.Canceled) && ctx.Err() != nil {
		return err // the caller went away: keep no answer
	}
	c.at, c.err = time.Now(), err
	return err
}
