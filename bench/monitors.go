package bench

// The monitors benchmark: the core benchmark's ingest into a throwaway node
// with its HTTP API, first with no monitor attached, then with many
// subscribers to the change feed attached (server-sent events through
// client.Changes, and ordered JetStream consumers on the feed stream) and a
// few SSE connections that never read. It reports both ingest rates, the
// delay from durable entry to each subscriber receiving it, and the heap
// before and after. Every subscriber must receive every entry of the second
// ingest once, in order, so a broken feed cannot pass.

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/election-audit/ledger/api"
	"github.com/election-audit/ledger/events"
	"github.com/election-audit/ledger/feed"
	"github.com/election-audit/ledger/ledger"
	"github.com/election-audit/ledger/node"
)

// MonitorsConfig sizes a monitors run. Zero values take the defaults.
type MonitorsConfig struct {
	Dir        string // scratch directory; removed afterwards
	Events     int    // events in each of the two ingest measurements (default 50,000)
	Submitters int    // concurrent submitters, as Run (default 4)
	Chunk      int    // events per submission, as Run (default 1,000)
	SSE        int    // SSE subscribers during the second ingest (`ledger bench` gives 100)
	NATS       int    // ordered JetStream consumers of the feed during the second ingest (`ledger bench`: 10)
	Stuck      int    // SSE connections that send the request and never read (`ledger bench`: 4)
	Samples    int    // entries per subscriber whose delay is measured (default 1,000)
	// Drain is how long the subscribers may take, after the second ingest,
	// to receive its last entry before the run fails (default 10 minutes).
	Drain time.Duration
	// StuckWait is how long after the second ingest the stuck connections
	// are looked at (default api.SSEWriteTimeout + 2 s, by when the server
	// has dropped every one whose writes blocked during the ingest).
	StuckWait  time.Duration
	CPUProfile string // if set, a CPU profile of the second ingest is written here
	// Rate, if not 0, paces the second ingest at this many events/s (one
	// submitter, a submission every 20 ms) instead of as fast as it goes:
	// the delays then are the feed's at that rate, and the ratio is not
	// measured.
	Rate int
	Out  io.Writer
}

func (c *MonitorsConfig) fill() {
	if c.Events == 0 {
		c.Events = 50_000
	}
	if c.Submitters == 0 {
		c.Submitters = DefaultSubmitters
	}
	if c.Chunk == 0 {
		c.Chunk = DefaultChunk
	}
	if c.Samples == 0 {
		c.Samples = 1000
	}
	if c.Drain == 0 {
		c.Drain = 10 * time.Minute
	}
	if c.StuckWait == 0 {
		c.StuckWait = api.SSEWriteTimeout + 2*time.Second
	}
	if c.Out == nil {
		c.Out = os.Stdout
	}
}

// MonitorsReport is everything one monitors run measured.
type MonitorsReport struct {
	Events     int // events in each ingest measurement
	EventBytes int // mean encoded size of a count event
	SSE, NATS  int // subscribers attached during the second ingest
	Stuck      int // SSE connections that never read, attached during the second ingest

	IngestAlone float64 // events/s, no subscriber attached
	IngestWith  float64 // events/s, the subscribers and the stuck connections attached
	CPUAlone    time.Duration
	CPUWith     time.Duration // process CPU per event, subscribers (in the same process) included

	// Delay from durable entry (the ledger's committed size passing the
	// index) to a subscriber receiving the decoded change, over all
	// (subscriber, sampled entry) pairs.
	SSEDelayP50, SSEDelayP99   time.Duration
	NATSDelayP50, NATSDelayP99 time.Duration
	SSEPairs, NATSPairs        int
	Every                      int // one entry in Every is sampled
	Rate                       int // the second ingest's pace (events/s), if it had one

	// Drain is the time from the end of the second ingest to the last
	// subscriber receiving its last entry.
	Drain time.Duration
	// Received is every change received by the subscribers: (SSE + NATS)
	// × Events, each checked once and in order.
	Received int64

	// Heap in use (runtime.MemStats.HeapInuse after a GC) of the whole
	// process: the node and the in-process subscribers.
	HeapBefore   uint64 // subscribers attached, before the second ingest and the stuck connections
	HeapAfter    uint64 // at the end of the second ingest, stuck connections still open
	HeapDrained  uint64 // once every subscriber has received every entry, stuck connections still open
	StuckDropped int    // stuck connections the server had closed StuckWait after the ingest
	StuckWait    time.Duration

	// SSEBytes is the mean bytes the SSE subscribers read per entry and
	// per subscriber (frames, checkpoints, HTTP chunking).
	SSEBytes int
	// FanoutCPU is the process CPU per event of the fan-out floor: the
	// same bytes written to SSE loopback connections and read back as the
	// SSE subscribers read them, without the ledger, the hub or HTTP
	// (fanoutFloor). RatioBound is the best ingest ratio that cost allows
	// on Cores cores (Print explains the arithmetic).
	FanoutCPU  time.Duration
	RatioBound float64
	Cores      int
	// The same for the least an SSE frame can be: the stored entry with
	// its "id:", "event:" and "data:" lines, no checkpoint, no other field.
	EntryBytes, MinFrameBytes int
	MinFanoutCPU              time.Duration
	MinRatioBound             float64

	LoadBefore string // /proc/loadavg at the start, if readable
	LoadAfter  string
}

// Ratio is the ingest with subscribers attached over the ingest with none.
func (r *MonitorsReport) Ratio() float64 { return r.IngestWith / r.IngestAlone }

// Monitors targets (issue: live monitors of the count).
const (
	targetMonitorsRatio = 0.8
	targetMonitorsDelay = 50 * time.Millisecond
)

const monitorsElection = "bench"

// submitTimeout bounds the two ingests, and so each submission's wait for
// its ack.
const submitTimeout = 30 * time.Minute

// errComplete ends a subscriber once it has the last entry.
var errComplete = errors.New("received the last entry")

// RunMonitors measures ingest without and with monitors attached and the
// feed's delay, and prints the report. It fails if any subscriber misses,
// repeats or reorders an entry of the second ingest, or has not received
// them all within cfg.Drain after it.
func RunMonitors(ctx context.Context, cfg MonitorsConfig) (*MonitorsReport, error) {
	cfg.fill()
	if cfg.Dir == "" {
		d, err := os.MkdirTemp("", "ledger-bench-monitors-")
		if err != nil {
			return nil, err
		}
		cfg.Dir = d
	}
	defer os.RemoveAll(cfg.Dir)
	w := cfg.Out
	r := &MonitorsReport{Events: cfg.Events, SSE: cfg.SSE, NATS: cfg.NATS, Stuck: cfg.Stuck, LoadBefore: loadAvg()}

	n, err := openNode(ctx, node.Config{DataDir: filepath.Join(cfg.Dir, "ledger"), HTTP: "127.0.0.1:0", NATSListen: "127.0.0.1:0"})
	if err != nil {
		return nil, err
	}
	defer n.Close(context.Background())
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	gen := newGenerator(monitorsElection)
	head, err := gen.manifestEvents()
	if err == nil {
		_, err = submit(ctx, n.Ledger, head)
	}
	if err != nil {
		return nil, fmt.Errorf("couldn't define the bench election: %w", err)
	}
	alone, with := make([]*events.Event, cfg.Events), make([]*events.Event, cfg.Events)
	total := 0
	for i := range alone {
		alone[i], with[i] = gen.report(), gen.report()
		b, _ := alone[i].Encode()
		total += len(b)
	}
	r.EventBytes = total / cfg.Events
	fmt.Fprintf(w, "monitors: %d count events of %d bytes on average per measurement, %d submitters × %d events per submission; "+
		"then %d SSE subscribers, %d NATS subscribers and %d SSE connections that never read (load average %s)\n",
		cfg.Events, r.EventBytes, cfg.Submitters, cfg.Chunk, cfg.SSE, cfg.NATS, cfg.Stuck, r.LoadBefore)

	// Submissions wait for their batch's ack until this deadline instead of
	// the JetStream client's default 5 s: with many subscribers in this
	// process, an ack can take longer, and the run would measure nothing.
	subCtx, subCancel := context.WithTimeout(ctx, submitTimeout)
	defer subCancel()

	// 1. Ingest with no subscriber.
	cpu0 := cpuTime()
	if r.IngestAlone, err = ingest(subCtx, n.Ledger, alone, cfg.Submitters, cfg.Chunk); err != nil {
		return nil, err
	}
	r.CPUAlone = (cpuTime() - cpu0) / time.Duration(cfg.Events)

	// 2. Attach the subscribers at the end of the log.
	start, _, _, err := n.Ledger.Committed(monitorsElection)
	if err != nil {
		return nil, err
	}
	end := start + uint64(cfg.Events)
	every := max(1, cfg.Events/cfg.Samples)
	r.Every = every
	seq, err := feedCaughtUp(ctx, n, start)
	if err != nil {
		return nil, err
	}
	subs := make([]*subscriber, 0, cfg.SSE+cfg.NATS)
	var wg sync.WaitGroup
	defer wg.Wait()
	defer cancel() // runs before wg.Wait: stops the subscribers still running
	// Reads of 64 KiB, as the server writes: the transport's default 4 KiB
	// would make each subscriber a read call per four changes.
	hc := &http.Client{Transport: &http.Transport{ReadBufferSize: 64 << 10}}
	defer hc.CloseIdleConnections()
	for i := range cfg.SSE {
		s := newSubscriber("SSE", i, start, end, every)
		subs = append(subs, s)
		wg.Add(1)
		go func() {
			defer wg.Done()
			s.finish(s.readSSE(ctx, hc, "http://"+n.HTTPAddr(), start))
		}()
	}
	for i := range cfg.NATS {
		s := newSubscriber("NATS", i, start, end, every)
		subs = append(subs, s)
		stop, err := s.consume(ctx, n.Broker.MonitorURL(), n.Broker.MonitorKeyFile(), seq)
		if err != nil {
			return nil, err
		}
		defer stop()
	}
	for _, s := range subs {
		select {
		case <-s.attached:
		case <-s.done:
			return nil, s.result()
		case <-time.After(time.Minute):
			return nil, fmt.Errorf("%s subscriber %d did not attach within a minute", s.kind, s.id)
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	r.HeapBefore = heapInUse()

	// 3. Ingest with the subscribers and the stuck connections attached,
	// the commit of each sampled entry timed beside it.
	commits := make([]int64, (cfg.Events+every-1)/every)
	watched := make(chan error, 1)
	go func() { watched <- watchCommits(ctx, n.Ledger, start, end, uint64(every), commits) }()
	stuck, err := dialStuck(n.HTTPAddr(), cfg.Stuck)
	defer func() {
		for _, conn := range stuck {
			conn.Close()
		}
	}()
	if err != nil {
		return nil, err
	}
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
	cpu0 = cpuTime()
	began := time.Now()
	if cfg.Rate > 0 {
		r.Rate = cfg.Rate
		r.IngestWith, err = ingestPaced(subCtx, n.Ledger, with, cfg.Rate)
	} else {
		r.IngestWith, err = ingest(subCtx, n.Ledger, with, cfg.Submitters, cfg.Chunk)
	}
	if cfg.CPUProfile != "" {
		pprof.StopCPUProfile()
	}
	if err != nil {
		// What was measured still tells how far ingest fell.
		size, _, _, _ := n.Ledger.Committed(monitorsElection)
		fmt.Fprintf(w, "\ningest, no subscriber: %.0f events/s; with the subscribers attached the ingest failed after %.1f s, %d of %d events durable (%.0f events/s): %v\n",
			r.IngestAlone, time.Since(began).Seconds(), size-start, cfg.Events, float64(size-start)/time.Since(began).Seconds(), err)
		return nil, err
	}
	r.CPUWith = (cpuTime() - cpu0) / time.Duration(cfg.Events)
	ingested := time.Now()
	r.HeapAfter = heapInUse()
	if err := <-watched; err != nil {
		return nil, fmt.Errorf("couldn't follow the commits: %w", err)
	}

	// 4. Every subscriber must get every entry, once, in order.
	deadline := time.After(cfg.Drain)
	for _, s := range subs {
		select {
		case <-s.done:
		case <-deadline:
			return nil, fmt.Errorf("%s subscriber %d had %d of %d entries %v after the ingest", s.kind, s.id, s.received(), cfg.Events, cfg.Drain)
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		if err := s.result(); err != nil {
			return nil, err
		}
	}
	r.Drain = time.Since(ingested)
	r.HeapDrained = heapInUse()
	// A stuck connection's socket fills early in the ingest, and the
	// server drops it once one write has been blocked for its write
	// deadline: give it that long after the ingest before looking (reading
	// the connections would unblock them).
	if wait := time.Until(ingested.Add(cfg.StuckWait)); wait > 0 && len(stuck) > 0 {
		time.Sleep(wait)
	}
	r.StuckDropped, r.StuckWait = droppedConns(stuck), cfg.StuckWait

	var sse, nts []time.Duration
	var sseBytes int64
	for _, s := range subs {
		r.Received += int64(s.received())
		if s.kind == "SSE" {
			sseBytes += s.bytes
		}
		for j, at := range s.recv {
			d := time.Duration(at - commits[j])
			if s.kind == "SSE" {
				sse = append(sse, d)
			} else {
				nts = append(nts, d)
			}
		}
	}
	r.SSEPairs, r.NATSPairs = len(sse), len(nts)
	r.SSEDelayP50, r.SSEDelayP99 = percentiles(sse)
	r.NATSDelayP50, r.NATSDelayP99 = percentiles(nts)

	// 5. The fan-out floor, with the ledger idle.
	if cfg.SSE > 0 {
		r.SSEBytes = int(sseBytes / int64(cfg.SSE) / int64(cfg.Events))
		if r.FanoutCPU, err = fanoutFloor(cfg.SSE, r.SSEBytes, cfg.Events); err != nil {
			return nil, err
		}
		r.Cores = runtime.NumCPU()
		r.RatioBound = ratioBound(r.CPUAlone, r.FanoutCPU, r.IngestAlone, r.Cores)
		var entryBytes, entries int
		if err := n.Ledger.Entries(monitorsElection, start, end, func(_ uint64, data []byte) error {
			entryBytes += len(data)
			entries++
			return nil
		}); err != nil {
			return nil, err
		}
		r.EntryBytes = entryBytes / max(1, entries)
		r.MinFrameBytes = len(fmt.Sprintf("id: %d\nevent: %s\ndata: \n\n", end, events.TypeCountReported)) + r.EntryBytes
		if r.MinFanoutCPU, err = fanoutFloor(cfg.SSE, r.MinFrameBytes, cfg.Events); err != nil {
			return nil, err
		}
		r.MinRatioBound = ratioBound(r.CPUAlone, r.MinFanoutCPU, r.IngestAlone, r.Cores)
	}
	r.LoadAfter = loadAvg()
	r.Print(w)
	return r, nil
}

// feedCaughtUp waits until the change feed has published the log up to
// size and returns the feed stream's next sequence, where the NATS
// subscribers start.
func feedCaughtUp(ctx context.Context, n *node.Node, size uint64) (uint64, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	for {
		pos, err := n.DB.FeedPosition(monitorsElection)
		if err != nil {
			return 0, err
		}
		if pos >= size {
			break
		}
		select {
		case <-ctx.Done():
			return 0, fmt.Errorf("the change feed published %d of %d entries: %w", pos, size, ctx.Err())
		case <-time.After(10 * time.Millisecond):
		}
	}
	st, err := n.Broker.JetStream().Stream(ctx, feed.DefaultStream)
	if err != nil {
		return 0, fmt.Errorf("couldn't find the change feed stream: %w", err)
	}
	info, err := st.Info(ctx)
	if err != nil {
		return 0, fmt.Errorf("couldn't read the change feed stream: %w", err)
	}
	return info.State.LastSeq + 1, nil
}

// watchCommits records, for every every-th index of [start, end), when the
// election's committed size first passed it (unix nanoseconds).
func watchCommits(ctx context.Context, l *ledger.Ledger, start, end, every uint64, at []int64) error {
	next := start // next sampled index not yet committed
	for next < end {
		size, _, changed, err := l.Committed(monitorsElection)
		if err != nil {
			return err
		}
		now := time.Now().UnixNano()
		for ; next < min(size, end); next += every {
			at[(next-start)/every] = now
		}
		if next >= end {
			return nil
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

// subscriber checks one monitor's changes and times the sampled ones.
type subscriber struct {
	kind       string
	id         int
	start, end uint64
	every      uint64
	attached   chan struct{} // closed at the first checkpoint (SSE) or once consuming (NATS)
	done       chan struct{} // closed once the last entry is in, or on a failure

	bytes int64 // bytes read (SSE), the lines and their newlines

	mu    sync.Mutex
	next  uint64  // the index expected next
	recv  []int64 // receive times of the sampled entries (unix nanoseconds)
	err   error
	ended bool
}

func newSubscriber(kind string, id int, start, end uint64, every int) *subscriber {
	return &subscriber{kind: kind, id: id, start: start, end: end, every: uint64(every), next: start,
		recv:     make([]int64, (end-start+uint64(every)-1)/uint64(every)),
		attached: make(chan struct{}), done: make(chan struct{})}
}

// readSSE follows the election's change stream as a remote monitor would,
// but reads only each event's id (its index) and decodes the JSON only of
// the checked entries (checkEvery): the subscribers share the ledger's two cores, and
// their own decoding would otherwise be measured as the server's cost.
func (s *subscriber) readSSE(ctx context.Context, hc *http.Client, base string, from uint64) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, fmt.Sprintf("%s/v1/elections/%s/changes?from=%d", base, monitorsElection, from), nil)
	if err != nil {
		return err
	}
	resp, err := hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("HTTP %d", resp.StatusCode)
	}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 4<<20)
	var index uint64
	var isChange bool
	for sc.Scan() {
		line := sc.Bytes()
		s.bytes += int64(len(line)) + 1
		switch {
		case bytes.HasPrefix(line, []byte("id: ")):
			if index, err = strconv.ParseUint(string(line[4:]), 10, 64); err != nil {
				return fmt.Errorf("bad id line %q", line)
			}
			isChange = true
		case bytes.HasPrefix(line, []byte("event: checkpoint")):
			isChange = false
			s.checkpoint(nil)
		case bytes.HasPrefix(line, []byte("data: ")) && isChange:
			data := line[6:]
			if err := s.index(index, func() (*feed.Change, error) {
				var c feed.Change
				return &c, json.Unmarshal(data, &c)
			}); err != nil {
				return err
			}
			isChange = false
		}
	}
	if err := sc.Err(); err != nil {
		return err
	}
	return fmt.Errorf("the stream ended")
}

func (s *subscriber) change(c *feed.Change) error {
	return s.index(c.Index, func() (*feed.Change, error) { return c, nil })
}

// checkEvery: one sampled entry in checkEvery is decoded and its content
// checked. Decoding is a monitor's own work, which a remote monitor does on
// its own machine; here it would share the ledger's two cores.
const checkEvery = 50

// index records the change with that index: when it came, if it is a
// sampled one; decode is called for one sampled entry in checkEvery, whose
// content is checked.
func (s *subscriber) index(index uint64, decode func() (*feed.Change, error)) error {
	var now int64
	var c *feed.Change
	sampled := false
	if k := index - s.start; index >= s.start && k%s.every == 0 {
		sampled, now = true, time.Now().UnixNano()
		if (k/s.every)%checkEvery == 0 {
			var err error
			if c, err = decode(); err != nil {
				return fmt.Errorf("%s subscriber %d: entry %d does not decode: %w", s.kind, s.id, index, err)
			}
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ended {
		return errComplete
	}
	switch {
	case index != s.next:
		return s.endLocked(fmt.Errorf("%s subscriber %d got entry %d, want %d: a change was missed, repeated or reordered", s.kind, s.id, index, s.next))
	case c != nil && (c.Index != index || c.Election != monitorsElection || c.TreeSize <= c.Index || c.Checkpoint == "" || (len(c.Entry) == 0 && !c.EntryOmitted)):
		return s.endLocked(fmt.Errorf("%s subscriber %d: entry %d of %q has tree size %d, %d checkpoint bytes, %d entry bytes",
			s.kind, s.id, c.Index, c.Election, c.TreeSize, len(c.Checkpoint), len(c.Entry)))
	}
	if sampled {
		s.recv[(index-s.start)/s.every] = now
	}
	s.next++
	if s.next == s.end {
		return s.endLocked(nil)
	}
	return nil
}

func (s *subscriber) checkpoint(*feed.Checkpoint) error {
	select {
	case <-s.attached:
	default:
		close(s.attached)
	}
	return nil
}

// endLocked ends the subscriber with err (nil: complete) and returns the
// error that stops its stream.
func (s *subscriber) endLocked(err error) error {
	if !s.ended {
		s.ended, s.err = true, err
		close(s.done)
	}
	if err == nil {
		return errComplete
	}
	return err
}

// finish records how the subscriber's stream ended.
func (s *subscriber) finish(err error) {
	if errors.Is(err, errComplete) {
		err = nil
	} else if err == nil {
		err = fmt.Errorf("%s subscriber %d: the stream ended", s.kind, s.id)
	} else {
		err = fmt.Errorf("%s subscriber %d: %w", s.kind, s.id, err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.endLocked(err)
}

func (s *subscriber) result() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err == nil && s.next != s.end {
		return fmt.Errorf("%s subscriber %d ended with %d of %d entries", s.kind, s.id, s.next-s.start, s.end-s.start)
	}
	return s.err
}

func (s *subscriber) received() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return int(s.next - s.start)
}

// consume attaches the subscriber as an ordered JetStream consumer of the
// election's feed from stream sequence seq, on its own connection as the
// monitor user whose NKey seed is in keyFile, and returns the function
// that stops it.
func (s *subscriber) consume(ctx context.Context, url, keyFile string, seq uint64) (stop func(), err error) {
	key, err := nats.NkeyOptionFromSeed(keyFile)
	if err != nil {
		return nil, fmt.Errorf("NATS subscriber %d: %w", s.id, err)
	}
	nc, err := nats.Connect(url, key, nats.Name(fmt.Sprintf("bench-monitor-%d", s.id)))
	if err != nil {
		return nil, fmt.Errorf("NATS subscriber %d: couldn't connect: %w", s.id, err)
	}
	defer func() {
		if err != nil {
			nc.Close()
		}
	}()
	js, err := jetstream.New(nc)
	if err != nil {
		return nil, err
	}
	prefix := feed.DefaultSubjectPrefix + ".feed." + monitorsElection + "."
	cons, err := js.OrderedConsumer(ctx, feed.DefaultStream, jetstream.OrderedConsumerConfig{
		FilterSubjects: []string{prefix + ">"},
		DeliverPolicy:  jetstream.DeliverByStartSequencePolicy,
		OptStartSeq:    seq,
	})
	if err != nil {
		return nil, fmt.Errorf("NATS subscriber %d: couldn't create the consumer: %w", s.id, err)
	}
	cc, err := cons.Consume(func(m jetstream.Msg) {
		if strings.TrimPrefix(m.Subject(), prefix) == "checkpoint" {
			return
		}
		// The message ID ends with the batch's first and last index; the
		// JSON is decoded only for batches with checked entries (see
		// readSSE).
		id := m.Headers().Get(jetstream.MsgIDHeader)
		first, last, ok := strings.Cut(id[strings.LastIndexByte(id, '/')+1:], "-")
		lo, err1 := strconv.ParseUint(first, 10, 64)
		hi, err2 := strconv.ParseUint(last, 10, 64)
		if !ok || err1 != nil || err2 != nil || hi < lo {
			s.finish(fmt.Errorf("message ID %q has no index range", id))
			return
		}
		var changes []*feed.Change
		for index := lo; index <= hi; index++ {
			err := s.index(index, func() (*feed.Change, error) {
				if changes == nil {
					var err error
					if changes, _, err = feed.DecodeMessage(m.Subject(), m.Data()); err != nil {
						return nil, err
					}
					if uint64(len(changes)) != hi-lo+1 {
						return nil, fmt.Errorf("message %s holds %d changes", id, len(changes))
					}
				}
				return changes[index-lo], nil
			})
			if err != nil {
				if !errors.Is(err, errComplete) {
					s.finish(err)
				}
				return
			}
		}
	})
	if err != nil {
		return nil, fmt.Errorf("NATS subscriber %d: couldn't consume: %w", s.id, err)
	}
	close(s.attached)
	return func() {
		cc.Stop()
		<-cc.Closed()
		nc.Close()
	}, nil
}

// dialStuck opens count SSE connections for the whole log that send their
// request and then never read.
func dialStuck(addr string, count int) ([]net.Conn, error) {
	var conns []net.Conn
	for i := range count {
		conn, err := net.Dial("tcp", addr)
		if err != nil {
			return conns, fmt.Errorf("stuck connection %d: %w", i, err)
		}
		conns = append(conns, conn)
		req := "GET /v1/elections/" + monitorsElection + "/changes?from=0 HTTP/1.1\r\nHost: " + addr + "\r\nAccept: text/event-stream\r\n\r\n"
		if _, err := io.WriteString(conn, req); err != nil {
			return conns, fmt.Errorf("stuck connection %d: %w", i, err)
		}
	}
	return conns, nil
}

// droppedConns reads what the server sent on each stuck connection and
// counts those it has closed.
func droppedConns(conns []net.Conn) int {
	dropped := 0
	deadline := time.Now().Add(2 * time.Second)
	for _, conn := range conns {
		conn.SetReadDeadline(deadline)
		if _, err := io.Copy(io.Discard, conn); err == nil {
			dropped++ // EOF
		}
	}
	return dropped
}

func heapInUse() uint64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapInuse
}

func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], " ")
}

// percentiles returns the median and the 99th percentile of ds.
func percentiles(ds []time.Duration) (p50, p99 time.Duration) {
	if len(ds) == 0 {
		return 0, 0
	}
	slices.Sort(ds)
	return ds[len(ds)/2], ds[len(ds)*99/100]
}

// Print writes the report with its targets.
func (r *MonitorsReport) Print(w io.Writer) {
	mib := func(b uint64) string { return strconv.FormatFloat(float64(b)/(1<<20), 'f', 1, 64) + " MiB" }
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
	fmt.Fprintf(w, "\n%-60s %14s %10s\n", "measure", "value", "ratio")
	row := func(name string, v float64, unit string, ratio string) {
		fmt.Fprintf(w, "%-60s %10.0f %-4s %9s\n", name, v, unit, ratio)
	}
	row("ingest, no subscriber (events/s)", r.IngestAlone, "/s", "")
	fmt.Fprintf(w, "%-60s %10.1f µs\n", "  process CPU per event", float64(r.CPUAlone.Nanoseconds())/1000)
	ratio := fmt.Sprintf("%.2f×", r.Ratio())
	if r.Rate > 0 {
		ratio = fmt.Sprintf("paced %d/s", r.Rate)
	}
	row(fmt.Sprintf("ingest, %d SSE + %d NATS subscribers + %d stuck (events/s)", r.SSE, r.NATS, r.Stuck), r.IngestWith, "/s", ratio)
	fmt.Fprintf(w, "%-60s %10.1f µs\n", "  process CPU per event, in-process subscribers included", float64(r.CPUWith.Nanoseconds())/1000)
	fmt.Fprintf(w, "%-60s %10.2f ms\n", "delay durable entry → SSE subscriber, p50", ms(r.SSEDelayP50))
	fmt.Fprintf(w, "%-60s %10.2f ms\n", "delay durable entry → SSE subscriber, p99", ms(r.SSEDelayP99))
	fmt.Fprintf(w, "%-60s %10.2f ms\n", "delay durable entry → NATS subscriber, p50", ms(r.NATSDelayP50))
	fmt.Fprintf(w, "%-60s %10.2f ms\n", "delay durable entry → NATS subscriber, p99", ms(r.NATSDelayP99))
	fmt.Fprintf(w, "%-60s %10d pairs (SSE), %d (NATS), one entry in %d\n", "  sampled (subscriber, entry)", r.SSEPairs, r.NATSPairs, r.Every)
	fmt.Fprintf(w, "%-60s %10.2f s\n", "subscribers' last entry after the end of the ingest", r.Drain.Seconds())
	fmt.Fprintf(w, "%-60s %10d changes: every entry, once, in order\n", "check: received by all subscribers", r.Received)
	fmt.Fprintf(w, "%-60s %14s\n", "heap in use, subscribers attached, before the ingest", mib(r.HeapBefore))
	fmt.Fprintf(w, "%-60s %14s\n", "heap in use, end of the ingest, stuck connections open", mib(r.HeapAfter))
	fmt.Fprintf(w, "%-60s %14s\n", "heap in use, subscribers done, stuck connections open", mib(r.HeapDrained))
	fmt.Fprintf(w, "%-60s %10d of %d\n", fmt.Sprintf("stuck connections dropped within %v of the ingest's end", r.StuckWait), r.StuckDropped, r.Stuck)
	if r.FanoutCPU > 0 {
		fmt.Fprintf(w, "%-60s %10d B\n", "SSE bytes read per entry and subscriber", r.SSEBytes)
		fmt.Fprintf(w, "%-60s %10.1f µs\n", fmt.Sprintf("floor: those bytes to %d loopback sockets, CPU per event", r.SSE), float64(r.FanoutCPU.Nanoseconds())/1000)
		fmt.Fprintf(w, "%-60s %10.2f×\n", fmt.Sprintf("  best ratio that floor allows on %d cores", r.Cores), r.RatioBound)
		fmt.Fprintf(w, "%-60s %10d B\n", "least SSE frame: the stored entry and its SSE lines", r.MinFrameBytes)
		fmt.Fprintf(w, "%-60s %10.1f µs\n", "  floor of those, CPU per event", float64(r.MinFanoutCPU.Nanoseconds())/1000)
		fmt.Fprintf(w, "%-60s %10.2f×\n", "  best ratio that floor allows", r.MinRatioBound)
	}
	fmt.Fprintf(w, "load average before %s, after %s\n", r.LoadBefore, r.LoadAfter)
	if r.Rate > 0 {
		fmt.Fprintf(w, "\nthe second ingest was paced at %d events/s: the targets are for one as fast as it goes (without --rate)\n", r.Rate)
		return
	}
	fmt.Fprintf(w, "\ntargets: ingest with subscribers ≥ %.1f× without: %s; median delay < %v: SSE %s, NATS %s\n",
		targetMonitorsRatio, verdict(r.Ratio() >= targetMonitorsRatio),
		targetMonitorsDelay, verdict(r.SSEDelayP50 < targetMonitorsDelay), verdict(r.NATSDelayP50 < targetMonitorsDelay))
}

// fanoutFloor measures the least CPU that fanning one event out to subs
// subscribers can cost on this machine: frames of frameBytes bytes, each
// "id: N\nevent: count.reported\ndata: …\n\n", written in 64 KiB writes
// to subs loopback TCP connections and read back line by line with a
// bufio.Scanner of 64 KiB, as the SSE subscribers read; no ledger, no hub,
// no HTTP, no JSON. It returns the process CPU per event (all subs
// copies of it).
func fanoutFloor(subs, frameBytes, events int) (time.Duration, error) {
	const head = "id: 1000000\nevent: count.reported\ndata: "
	frame := []byte(head + strings.Repeat("x", max(1, frameBytes-len(head)-2)) + "\n\n")
	perWrite := max(1, (64<<10)/len(frame))
	chunk := bytes.Repeat(frame, perWrite)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	errs := make(chan error, 2*subs)
	var wg sync.WaitGroup
	cpu0 := cpuTime()
	for range subs {
		wg.Add(2)
		go func() { // the server's side: write every frame
			defer wg.Done()
			conn, err := ln.Accept()
			if err != nil {
				errs <- err
				return
			}
			defer conn.Close()
			for left := events; left > 0; left -= perWrite {
				if _, err := conn.Write(chunk[:min(left, perWrite)*len(frame)]); err != nil {
					errs <- err
					return
				}
			}
		}()
		go func() { // the subscriber's side: read every frame
			defer wg.Done()
			conn, err := net.Dial("tcp", ln.Addr().String())
			if err != nil {
				errs <- err
				return
			}
			defer conn.Close()
			sc := bufio.NewScanner(conn)
			sc.Buffer(make([]byte, 64<<10), 4<<20)
			got := 0
			for got < events && sc.Scan() {
				if bytes.HasPrefix(sc.Bytes(), []byte("id: ")) {
					got++
				}
			}
			if got < events {
				errs <- fmt.Errorf("fan-out floor: a reader got %d of %d frames: %v", got, events, sc.Err())
			}
		}()
	}
	wg.Wait()
	cpu := cpuTime() - cpu0
	close(errs)
	if err := <-errs; err != nil {
		return 0, err
	}
	return cpu / time.Duration(events), nil
}

// ratioBound is the best ingest ratio (with subscribers over without) that
// a fan-out costing fanout CPU per event allows on cores cores, if the
// ingest alone costs ingest CPU per event at rate events/s: the ingest
// alone keeps ingest×rate cores busy; with the fan-out, each event costs
// ingest+fanout, and at best every core is busy, so the rate is at most
// cores/(ingest+fanout).
func ratioBound(ingest, fanout time.Duration, rate float64, cores int) float64 {
	best := float64(cores) / (ingest + fanout).Seconds()
	return min(1, best/rate)
}

// ingestPaced submits evs through Ledger.Submit from one submitter at rate
// events/s: a submission every 20 ms, each of the events due by then. It
// returns the rate reached.
func ingestPaced(ctx context.Context, l *ledger.Ledger, evs []*events.Event, rate int) (float64, error) {
	const tick = 20 * time.Millisecond
	start := time.Now()
	for done := 0; done < len(evs); {
		due := min(len(evs), int(time.Since(start).Seconds()*float64(rate))+1)
		if due > done {
			if _, err := submit(ctx, l, evs[done:due]); err != nil {
				return 0, fmt.Errorf("paced ingest: %w", err)
			}
			done = due
		}
		select {
		case <-ctx.Done():
			return 0, ctx.Err()
		case <-time.After(tick):
		}
	}
	return float64(len(evs)) / time.Since(start).Seconds(), nil
}
