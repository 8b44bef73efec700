// Package bench measures the ledger against the raw ceilings of the parts
// it is built from, in one run on one machine: JetStream publishing into a
// file stream configured like the ledger's, Pebble synced batch writes, and
// SHA-256 hashing. `ledger bench` prints its report.
package bench

import (
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime/pprof"
	"slices"
	"sync"
	"syscall"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/google/uuid"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/synadia-io/orbit.go/jetstreamext"

	"github.com/election-audit/ledger/client"
	"github.com/election-audit/ledger/events"
	"github.com/election-audit/ledger/importer"
	"github.com/election-audit/ledger/node"
)

// Config sizes a run.
type Config struct {
	Dir        string // scratch directory; removed afterwards
	Events     int    // events for the ingest measurement
	Submitters int    // concurrent submitters
	Chunk      int    // events per submission
	Latency    int    // sequential single-event submissions for latency
	Publishers int    // concurrent publishers for the JetStream ceilings; 0: Submitters
	CPUProfile string // if set, a CPU profile of the ingest phase is written here
	Out        io.Writer
}

// Defaults shared by the ingest, import and monitors benchmarks.
const (
	DefaultSubmitters = 4                   // concurrent submitters
	DefaultChunk      = client.DefaultChunk // events per submission
)

func (c *Config) fill() {
	if c.Events == 0 {
		c.Events = 200_000
	}
	if c.Submitters == 0 {
		c.Submitters = DefaultSubmitters
	}
	if c.Chunk == 0 {
		c.Chunk = DefaultChunk
	}
	if c.Latency == 0 {
		c.Latency = 2000
	}
	if c.Publishers == 0 {
		c.Publishers = c.Submitters
	}
	if c.Out == nil {
		c.Out = os.Stdout
	}
}

// Result is one measured figure.
type Result struct {
	Name  string
	Value float64
	Unit  string
}

// Report is everything one run measured.
type Report struct {
	EventBytes   int // mean encoded size of a count event
	Ingest       float64
	IngestNoFeed float64 // events/s on a ledger without the NATS change feed
	LatencyP50   time.Duration
	LatencyP99   time.Duration
	JSAsync      float64
	JSBatch      float64
	// JSSubmissions is events/s of the ledger's transport alone: whole
	// submissions (Chunk events of EventBytes) published as single
	// messages with Nats-Msg-Id, sync always, from concurrent publishers,
	// and read back by one ordered consumer; JSSubmissionsCPU its process
	// CPU per event.
	JSSubmissions    float64
	JSSubmissionsCPU time.Duration
	// SignPerSub and OpenPerSub are the time to sign a submission of Chunk
	// events and to open it (decode every event, check the signature), one
	// core.
	SignPerSub, OpenPerSub time.Duration
	chunk                  int
	PebbleBatch            float64
	PebbleSingle           float64
	SHA256                 float64
	ingestEvents           float64
	JSBatchCPU             time.Duration // process CPU per message of the atomic batch ceiling
	CPUPerEvent            time.Duration // process CPU (all goroutines, embedded server too) per ingested event
	Steps                  float64       // state machine steps (synced batches) during ingest
	StepSeconds            float64       // time spent in them
}

// stepStats reads the ledger's step histogram.
func stepStats(n *node.Node) (steps, seconds float64) {
	mfs, err := n.Registry.Gather()
	if err != nil {
		return 0, 0
	}
	for _, mf := range mfs {
		if mf.GetName() == "ledger_step_seconds" && len(mf.GetMetric()) == 1 {
			h := mf.GetMetric()[0].GetHistogram()
			return float64(h.GetSampleCount()), h.GetSampleSum()
		}
	}
	return 0, 0
}

// Run measures everything and prints the report.
func Run(ctx context.Context, cfg Config) (*Report, error) {
	cfg.fill()
	if cfg.Dir == "" {
		d, err := os.MkdirTemp("", "ledger-bench-")
		if err != nil {
			return nil, err
		}
		cfg.Dir = d
	}
	defer os.RemoveAll(cfg.Dir)
	r := &Report{}
	w := cfg.Out

	gen := newGenerator("bench")
	evs := make([]*events.Event, cfg.Events)
	var total int
	for i := range evs {
		evs[i] = gen.report()
		b, _ := evs[i].Encode()
		total += len(b)
	}
	r.EventBytes = total / len(evs)
	fmt.Fprintf(w, "bench: %d count events of %d bytes on average, %d submitters × %d events per submission, %d publishers for the JetStream ceilings\n",
		cfg.Events, r.EventBytes, cfg.Submitters, cfg.Chunk, cfg.Publishers)

	// Ceilings first, on an embedded server of their own: each ingest
	// below runs on a fresh ledger, so that none inherits another's
	// leftovers (a server that stored and deleted a few hundred thousand
	// messages, a grown heap).
	if err := ceilings(ctx, cfg, r); err != nil {
		return nil, err
	}

	// The ledger: concurrent submitters, each waiting for durable receipts.
	n, err := benchNode(ctx, cfg, "ledger", false)
	if err != nil {
		return nil, err
	}
	closeNode := sync.OnceFunc(func() { n.Close(context.Background()) })
	defer closeNode()
	if cfg.CPUProfile != "" {
		f, err := os.Create(cfg.CPUProfile)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return nil, err
		}
	}
	cpu0 := cpuTime()
	if r.Ingest, err = ingest(ctx, n.Ledger, evs, cfg.Submitters, cfg.Chunk); err != nil {
		return nil, err
	}
	r.CPUPerEvent = (cpuTime() - cpu0) / time.Duration(len(evs))
	if cfg.CPUProfile != "" {
		pprof.StopCPUProfile()
	}
	r.Steps, r.StepSeconds = stepStats(n)
	r.ingestEvents = float64(len(evs))

	// Single synchronous submitter.
	lat := make([]time.Duration, cfg.Latency)
	for i := range lat {
		ev := gen.report()
		t := time.Now()
		if _, err := submit(ctx, n.Ledger, []*events.Event{ev}); err != nil {
			return nil, fmt.Errorf("latency: %w", err)
		}
		lat[i] = time.Since(t)
	}
	slices.Sort(lat)
	r.LatencyP50, r.LatencyP99 = lat[len(lat)/2], lat[len(lat)*99/100]
	closeNode()

	// The same ingest on a ledger that publishes no NATS change feed, to
	// show what the feed costs.
	if r.IngestNoFeed, err = ingestWithoutFeed(ctx, cfg, len(evs)); err != nil {
		return nil, err
	}

	if r.PebbleBatch, r.PebbleSingle, err = pebbleCeilings(filepath.Join(cfg.Dir, "pebble-raw"), r.EventBytes, cfg.Events); err != nil {
		return nil, err
	}
	r.SHA256 = sha256Rate(r.EventBytes, 1_000_000)
	if r.SignPerSub, r.OpenPerSub, err = signatureCosts(cfg.Chunk); err != nil {
		return nil, err
	}
	r.chunk = cfg.Chunk
	r.Print(w)
	return r, nil
}

// benchNode opens a throwaway ledger in cfg.Dir/name, with the bench
// election defined.
func benchNode(ctx context.Context, cfg Config, name string, noFeed bool) (*node.Node, error) {
	n, err := openNode(ctx, node.Config{DataDir: filepath.Join(cfg.Dir, name), HTTP: "-", NATSListen: "127.0.0.1:0", NoFeed: noFeed})
	if err != nil {
		return nil, err
	}
	head, err := newGenerator("bench").manifestEvents()
	if err == nil {
		_, err = submit(ctx, n.Ledger, head)
	}
	if err != nil {
		n.Close(context.Background())
		return nil, fmt.Errorf("couldn't define the bench election: %w", err)
	}
	return n, nil
}

// ceilings measures the JetStream publish ceilings on a ledger's embedded
// server (its stream configuration), with payloads of r.EventBytes.
func ceilings(ctx context.Context, cfg Config, r *Report) error {
	n, err := benchNode(ctx, cfg, "ceilings", true)
	if err != nil {
		return err
	}
	defer n.Close(context.Background())
	js := n.Broker.JetStream()
	payload := make([]byte, r.EventBytes)
	rand.NewChaCha8([32]byte{}).Read(payload)
	cpu0 := cpuTime()
	if r.JSBatch, err = jsBatch(ctx, js, n, payload, cfg.Events, cfg.Publishers); err != nil {
		return err
	}
	r.JSBatchCPU = (cpuTime() - cpu0) / time.Duration(cfg.Events)
	if r.JSAsync, err = jsAsync(ctx, js, n, payload, min(cfg.Events, 50_000)); err != nil {
		return err
	}
	cpu0 = cpuTime()
	if r.JSSubmissions, err = jsSubmissions(ctx, js, n, r.EventBytes, cfg.Events, cfg.Chunk, cfg.Publishers); err != nil {
		return err
	}
	r.JSSubmissionsCPU = (cpuTime() - cpu0) / time.Duration(cfg.Events)
	return nil
}

// jsSubmissions publishes count events as messages of chunk events of
// eventBytes each, with Nats-Msg-Id, from concurrent publishers, and reads
// them back with one ordered consumer, as the ledger's state machine does;
// events/s until the last is read.
func jsSubmissions(ctx context.Context, js jetstream.JetStream, n *node.Node, eventBytes, count, chunk, publishers int) (float64, error) {
	if err := rawStream(ctx, js, n, "RAWSUBS"); err != nil {
		return 0, err
	}
	defer js.DeleteStream(ctx, "RAWSUBS")
	payload := make([]byte, eventBytes*chunk)
	rand.NewChaCha8([32]byte{1}).Read(payload)
	msgs := (count + chunk - 1) / chunk
	cons, err := js.OrderedConsumer(ctx, "RAWSUBS", jetstream.OrderedConsumerConfig{})
	if err != nil {
		return 0, err
	}
	read := make(chan struct{})
	got := 0
	start := time.Now()
	cc, err := cons.Consume(func(m jetstream.Msg) {
		if got++; got == msgs {
			close(read)
		}
	}, jetstream.PullMaxBytes(32<<20))
	if err != nil {
		return 0, err
	}
	defer cc.Stop()
	todo := make(chan int, msgs)
	for i := range msgs {
		todo <- i
	}
	close(todo)
	err = inParallel(publishers, func() error {
		for range todo {
			m := nats.NewMsg("benchraw.RAWSUBS")
			m.Data = payload
			if _, err := js.PublishMsg(ctx, m, jetstream.WithMsgID(uuid.NewString())); err != nil {
				return fmt.Errorf("JetStream submission ceiling: %w", err)
			}
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	select {
	case <-read:
	case <-ctx.Done():
		return 0, ctx.Err()
	case <-time.After(time.Minute):
		return 0, fmt.Errorf("JetStream submission ceiling: read %d of %d messages back in a minute", got, msgs)
	}
	return float64(msgs*chunk) / time.Since(start).Seconds(), nil
}

// inParallel runs fn on n goroutines and returns the first error.
func inParallel(n int, fn func() error) error {
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := fn(); err != nil {
				errs <- err
			}
		}()
	}
	wg.Wait()
	close(errs)
	return <-errs
}

// signatureCosts measures signing and opening a submission of chunk
// generated events, one core.
func signatureCosts(chunk int) (sign, open time.Duration, err error) {
	gen := newGenerator("bench")
	evs := make([]*events.Event, chunk)
	for i := range evs {
		evs[i] = gen.report()
	}
	canonical, err := importer.Encode(evs)
	if err != nil {
		return 0, 0, err
	}
	const rounds = 20
	var signed []byte
	t := time.Now()
	for range rounds {
		if signed, err = benchKey().SignSubmission("bench", canonical); err != nil {
			return 0, 0, err
		}
	}
	sign = time.Since(t) / rounds
	t = time.Now()
	for range rounds {
		sub, err := events.OpenSubmission(signed)
		if err != nil || sub.SignatureErr != nil {
			return 0, 0, fmt.Errorf("opening a bench submission: %v %v", err, sub.SignatureErr)
		}
	}
	return sign, time.Since(t) / rounds, nil
}

// ingestWithoutFeed measures the ingest of count generated events on
// another throwaway ledger with the NATS change feed off.
func ingestWithoutFeed(ctx context.Context, cfg Config, count int) (float64, error) {
	n, err := benchNode(ctx, cfg, "ledger-nofeed", true)
	if err != nil {
		return 0, err
	}
	defer n.Close(context.Background())
	gen := newGenerator("bench")
	evs := make([]*events.Event, count)
	for i := range evs {
		evs[i] = gen.report()
	}
	return ingest(ctx, n.Ledger, evs, cfg.Submitters, cfg.Chunk)
}

// EventsPerStep is the mean number of messages per synced batch.
func (r *Report) EventsPerStep() float64 { return r.ingestEvents / r.Steps }

// Print writes the report as a table with the ratios to the ceilings.
func (r *Report) Print(w io.Writer) {
	jsCeil := r.JSSubmissions
	fmt.Fprintf(w, "\n%-52s %14s %10s\n", "measure", "value", "ratio")
	row := func(name string, v float64, unit string, ratio string) {
		fmt.Fprintf(w, "%-52s %10.0f %-4s %9s\n", name, v, unit, ratio)
	}
	row("ledger ingest, submit → durable entry (events/s)", r.Ingest, "/s", fmt.Sprintf("%.2f× JS", r.Ingest/jsCeil))
	row("  the same without the NATS change feed", r.IngestNoFeed, "/s", fmt.Sprintf("%.2f× JS", r.IngestNoFeed/jsCeil))
	if r.Steps > 0 {
		fmt.Fprintf(w, "%-52s %10.0f steps, %.0f events each, %.1f ms each\n", "  state machine during ingest", r.Steps, r.EventsPerStep(), 1000*r.StepSeconds/r.Steps)
	}
	fmt.Fprintf(w, "%-52s %10.1f µs (%.1f cores busy)\n", "  process CPU per event, embedded server included",
		float64(r.CPUPerEvent.Nanoseconds())/1000, r.CPUPerEvent.Seconds()*r.Ingest)
	fmt.Fprintf(w, "%-52s %10.2f ms\n", "ledger single submitter latency p50", float64(r.LatencyP50.Microseconds())/1000)
	fmt.Fprintf(w, "%-52s %10.2f ms\n", "ledger single submitter latency p99", float64(r.LatencyP99.Microseconds())/1000)
	fmt.Fprintf(w, "%-52s %10.0f µs (%.2f µs an event)\n", "  sign one submission of "+fmt.Sprint(r.chunk)+" events, 1 core", float64(r.SignPerSub.Microseconds()), float64(r.SignPerSub.Nanoseconds())/1000/float64(max(r.chunk, 1)))
	fmt.Fprintf(w, "%-52s %10.0f µs (%.2f µs an event)\n", "  open it: decode, check the signature, 1 core", float64(r.OpenPerSub.Microseconds()), float64(r.OpenPerSub.Nanoseconds())/1000/float64(max(r.chunk, 1)))
	row("ceiling: JetStream submissions as single messages", r.JSSubmissions, "/s", "")
	fmt.Fprintf(w, "%-52s %10.1f µs\n", "  (msg IDs, sync always, read in order) CPU an event", float64(r.JSSubmissionsCPU.Nanoseconds())/1000)
	row("before: JetStream atomic batches of 1000, msg IDs", r.JSBatch, "/s", "")
	fmt.Fprintf(w, "%-52s %10.1f µs\n", "  process CPU per message, client and server", float64(r.JSBatchCPU.Nanoseconds())/1000)
	row("before: JetStream async publish, msg IDs", r.JSAsync, "/s", "")
	row("ceiling: Pebble synced batches of 1000 entries", r.PebbleBatch, "/s", fmt.Sprintf("%.2f× led", r.PebbleBatch/r.Ingest))
	row("ceiling: Pebble synced single writes", r.PebbleSingle, "/s", "")
	row("ceiling: SHA-256 of one event (hashes/s, 1 core)", r.SHA256, "/s", "")
	fmt.Fprintf(w, "\ntargets: ingest ≥ 50000/s and ≥ 0.5× the JetStream ceiling (%.0f/s): %s; p50 < 5 ms: %s\n",
		jsCeil, verdict(r.Ingest >= 50_000 && r.Ingest >= 0.5*jsCeil), verdict(r.LatencyP50 < 5*time.Millisecond))
}

func verdict(ok bool) string {
	if ok {
		return "met"
	}
	return "NOT met"
}

func rawStream(ctx context.Context, js jetstream.JetStream, n *node.Node, name string) error {
	cfg := n.Broker.StreamConfig()
	cfg.Name, cfg.Subjects = name, []string{"benchraw." + name}
	cfg.DenyPurge, cfg.DenyDelete = false, false
	cfg.AllowAtomicPublish = true // for jsBatch; the submission stream no longer allows it
	_, err := js.CreateOrUpdateStream(ctx, cfg)
	return err
}

// jsBatch publishes count messages in atomic batches of 1,000 from
// concurrent publishers, as the ledger's submitters do.
func jsBatch(ctx context.Context, js jetstream.JetStream, n *node.Node, payload []byte, count, publishers int) (float64, error) {
	if err := rawStream(ctx, js, n, "RAWBATCH"); err != nil {
		return 0, err
	}
	defer js.DeleteStream(ctx, "RAWBATCH")
	batches := make(chan int, count/1000+1)
	for done := 0; done < count; done += 1000 {
		batches <- min(1000, count-done)
	}
	close(batches)
	start := time.Now()
	err := inParallel(publishers, func() error {
		for k := range batches {
			msgs := make([]*nats.Msg, k)
			for i := range msgs {
				m := nats.NewMsg("benchraw.RAWBATCH")
				m.Header.Set(jetstream.MsgIDHeader, uuid.NewString())
				m.Data = payload
				msgs[i] = m
			}
			if _, err := jetstreamext.PublishMsgBatch(ctx, js, msgs); err != nil {
				return fmt.Errorf("JetStream batch ceiling: %w", err)
			}
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	return float64(count) / time.Since(start).Seconds(), nil
}

func jsAsync(ctx context.Context, js jetstream.JetStream, n *node.Node, payload []byte, count int) (float64, error) {
	if err := rawStream(ctx, js, n, "RAWASYNC"); err != nil {
		return 0, err
	}
	defer js.DeleteStream(ctx, "RAWASYNC")
	start := time.Now()
	for i := range count {
		m := nats.NewMsg("benchraw.RAWASYNC")
		m.Data = payload
		if _, err := js.PublishMsgAsync(m, jetstream.WithMsgID(uuid.NewString())); err != nil {
			return 0, fmt.Errorf("JetStream async ceiling: %w", err)
		}
		if i%2000 == 1999 || i == count-1 {
			// Keep the window under the client's 4,000 pending publishes.
			select {
			case <-js.PublishAsyncComplete():
			case <-ctx.Done():
				return 0, ctx.Err()
			}
		}
	}
	return float64(count) / time.Since(start).Seconds(), nil
}

func pebbleCeilings(dir string, size, count int) (batch, single float64, err error) {
	db, err := pebble.Open(dir, &pebble.Options{Logger: quiet{}})
	if err != nil {
		return 0, 0, err
	}
	defer db.Close()
	val := make([]byte, size)
	key := make([]byte, 8)
	start := time.Now()
	for done := 0; done < count; done += 1000 {
		b := db.NewBatch()
		for i := range min(1000, count-done) {
			k := uint64(done + i)
			for j := range 8 {
				key[j] = byte(k >> (56 - 8*j))
			}
			b.Set(key, val, nil)
		}
		if err := b.Commit(pebble.Sync); err != nil {
			return 0, 0, err
		}
		b.Close()
	}
	batch = float64(count) / time.Since(start).Seconds()
	n := 2000
	start = time.Now()
	for i := range n {
		key[0], key[1] = 0xff, byte(i)
		if err := db.Set(key, val, pebble.Sync); err != nil {
			return 0, 0, err
		}
	}
	single = float64(n) / time.Since(start).Seconds()
	return batch, single, nil
}

// cpuTime is the process's user and system CPU time so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

type quiet struct{}

func (quiet) Infof(string, ...any)  {}
func (quiet) Errorf(string, ...any) {}
func (quiet) Fatalf(f string, a ...any) {
	fmt.Fprintf(os.Stderr, f+"\n", a...)
	os.Exit(1)
}

func sha256Rate(size, count int) float64 {
	buf := make([]byte, size)
	start := time.Now()
	for i := range count {
		buf[0] = byte(i)
		sha256.Sum256(buf)
	}
	return float64(count) / time.Since(start).Seconds()
}
