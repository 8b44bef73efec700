package bench

// The import benchmark: a generated statewide precinct file imported into a
// throwaway node along the path of `ledger import` (read, parse, derive and
// encode the events, submit them over HTTP in requests of 1,000, one at a
// time, until every receipt is back), then, on the same node, the raw ingest
// of the core benchmark for as many events. The ledger's tally is checked
// against the generator's totals, so a broken import cannot pass.

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime/pprof"
	"sync"
	"time"

	"github.com/election-audit/ledger/client"
	"github.com/election-audit/ledger/events"
	"github.com/election-audit/ledger/importer"
	"github.com/election-audit/ledger/importer/formats"
	"github.com/election-audit/ledger/internal/statewide"
	"github.com/election-audit/ledger/ledger"
	"github.com/election-audit/ledger/node"
)

// ImportConfig sizes an import run.
type ImportConfig struct {
	Dir          string // scratch directory; removed afterwards
	Counties     int    // counties in the generated file (default 150)
	PrecinctsPer int    // precincts per county (default 17: 108,000 rows with the roll-ups)
	Chunk        int    // events per HTTP submission (default 1,000, as `ledger import`)
	Submitters   int    // concurrent submitters of the raw ingest figure (default 4, as Run)
	CPUProfile   string // if set, a CPU profile of the import (end to end) is written here
	Out          io.Writer
}

func (c *ImportConfig) fill() {
	if c.Counties == 0 {
		c.Counties = 150
	}
	if c.PrecinctsPer == 0 {
		c.PrecinctsPer = 17
	}
	if c.Chunk == 0 {
		c.Chunk = DefaultChunk
	}
	if c.Submitters == 0 {
		c.Submitters = DefaultSubmitters
	}
	if c.Out == nil {
		c.Out = os.Stdout
	}
}

// ImportReport is everything one import run measured.
type ImportReport struct {
	Rows       int // data rows of the file, county roll-ups included
	Precincts  int
	FileBytes  int
	Events     int // manifest and count reports
	EventBytes int // mean encoded size of the import's events

	Total  time.Duration // read and parse, events, submit: end to end
	Parse  time.Duration // formats.ReadFiles and formats.Parse
	Derive time.Duration // the existing manifest, Import.EventsFor, Event.Encode
	Submit time.Duration // client.Submit of every chunk until the last receipt

	RowsPerSec   float64 // rows/s end to end
	EventsPerSec float64 // events/s end to end
	ParseRows    float64 // rows/s of the parse alone
	DeriveEvents float64 // events/s of deriving and encoding the events
	SubmitEvents float64 // events/s of the HTTP submissions alone

	CPUPerRow   time.Duration // process CPU (all goroutines, embedded server too) per row, end to end
	Steps       float64       // state machine steps during the submissions
	StepSeconds float64

	Chunk      int // events per HTTP submission
	Submitters int // concurrent submitters of the raw ingest

	RawIngest     float64 // events/s: the core benchmark's ingest (Ledger.Submit, Submitters × Chunk) of as many generated events, on a fresh node
	RawEventBytes int
	// CoreIngest is events/s of the core ingest of the import's own events
	// on a fresh node: each chunk signed as one submission and submitted
	// with Ledger.Submit in-process (which opens it as the HTTP edge
	// does), Submitters × Chunk; no file, no
	// parsing, no HTTP. CoreRows is the same in rows/s of the file: what
	// the import would reach if those were free.
	CoreIngest, CoreRows float64
	// ParseCoreRows is rows/s if the import cost only its parse and then
	// the core ingest of its events, one after the other, as they must be
	// (an import that fails to parse submits nothing).
	ParseCoreRows float64

	Votes int64 // votes in the ledger's tally after the import, checked against the file
}

// Import target (issue: import of a statewide precinct file).
const targetImportRows = 50_000

// importElection and importFileName name the generated election; the file
// name gives the importer the state (Georgia) and the date.
const (
	importElection = "statewide-2026"
	importFileName = "20261103__ga__general__precinct.csv"
)

// RunImport measures the import of a generated statewide precinct file end
// to end, beside the raw ingest of the core benchmark, and prints the
// report. It fails if the ledger's tally after the import differs from the
// file's totals, or if any event is not logged as accepted.
func RunImport(ctx context.Context, cfg ImportConfig) (*ImportReport, error) {
	cfg.fill()
	if cfg.Dir == "" {
		d, err := os.MkdirTemp("", "ledger-bench-import-")
		if err != nil {
			return nil, err
		}
		cfg.Dir = d
	}
	defer os.RemoveAll(cfg.Dir)
	w := cfg.Out

	// Setup, not measured: the file on disk, a node with its HTTP API.
	data, want := statewide.Generate(statewide.Layouts[0], cfg.Counties, cfg.PrecinctsPer)
	file := filepath.Join(cfg.Dir, importFileName)
	if err := os.WriteFile(file, data, 0o600); err != nil {
		return nil, fmt.Errorf("couldn't write the generated file: %w", err)
	}
	r := &ImportReport{Rows: want.Rows, Precincts: want.Precincts, FileBytes: len(data), Chunk: cfg.Chunk, Submitters: cfg.Submitters}
	n, err := openNode(ctx, node.Config{DataDir: filepath.Join(cfg.Dir, "ledger"), HTTP: "127.0.0.1:0", NATSListen: "127.0.0.1:0"})
	if err != nil {
		return nil, err
	}
	closeN := sync.OnceFunc(func() { n.Close(context.Background()) })
	defer closeN()
	c, err := client.New("http://"+n.HTTPAddr(), nil)
	if err != nil {
		return nil, err
	}
	c = c.WithKey(benchKey())

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
	steps0, stepSec0 := stepStats(n)
	cpu0 := cpuTime()
	raw, err := importFile(ctx, c, file, cfg.Chunk, r)
	if cfg.CPUProfile != "" {
		pprof.StopCPUProfile()
	}
	if err != nil {
		return nil, err
	}
	r.CPUPerRow = (cpuTime() - cpu0) / time.Duration(r.Rows)
	steps, stepSec := stepStats(n)
	r.Steps, r.StepSeconds = steps-steps0, stepSec-stepSec0
	r.RowsPerSec = float64(r.Rows) / r.Total.Seconds()
	r.EventsPerSec = float64(r.Events) / r.Total.Seconds()
	r.ParseRows = float64(r.Rows) / r.Parse.Seconds()
	r.DeriveEvents = float64(r.Events) / r.Derive.Seconds()
	r.SubmitEvents = float64(r.Events) / r.Submit.Seconds()

	if r.Votes, err = checkImport(n.Ledger, want, r.Events); err != nil {
		return nil, err
	}
	// Each figure below on a fresh node, the others closed, as the import's.
	closeN()

	if r.CoreIngest, err = coreIngest(ctx, filepath.Join(cfg.Dir, "core"), raw, cfg.Submitters, cfg.Chunk); err != nil {
		return nil, err
	}
	r.CoreRows = r.CoreIngest * float64(r.Rows) / float64(r.Events)
	r.ParseCoreRows = float64(r.Rows) / (r.Parse.Seconds() + float64(r.Events)/r.CoreIngest)

	// The core benchmark's ingest, for as many events.
	gen := newGenerator("bench")
	core := make([]*events.Event, r.Events)
	total := 0
	for i := range core {
		core[i] = gen.report()
		b, _ := core[i].Encode()
		total += len(b)
	}
	r.RawEventBytes = total / len(core)
	rn, err := benchNode(ctx, Config{Dir: cfg.Dir}, "raw", false)
	if err != nil {
		return nil, err
	}
	defer rn.Close(context.Background())
	if r.RawIngest, err = ingest(ctx, rn.Ledger, core, cfg.Submitters, cfg.Chunk); err != nil {
		return nil, err
	}
	r.Print(w)
	return r, nil
}

// importParallel is `ledger import`'s default --parallel.
const importParallel = 4

// importFile imports file into the ledger behind c as `ledger import` does
// (read, parse, derive and encode the events, submit them in chunks: the
// first event alone, then importParallel at a time), records the times and
// sizes in r, and returns the encoded events. It fails unless every event
// is logged new and accepted.
func importFile(ctx context.Context, c *client.Client, file string, chunk int, r *ImportReport) ([][]byte, error) {
	start := time.Now()
	files, err := formats.ReadFiles([]string{file})
	if err != nil {
		return nil, err
	}
	imp, err := formats.Parse(formats.OpenElections, files, importElection, formats.Options{})
	if err != nil {
		return nil, fmt.Errorf("couldn't parse the generated file: %w", err)
	}
	r.Parse = time.Since(start)
	t := time.Now()
	existing, err := c.Manifest(ctx, importElection)
	if err != nil {
		return nil, err
	}
	imp.Manifest.Authority = benchKey().Verifier
	evs, err := imp.EventsFor(existing)
	if err != nil {
		return nil, err
	}
	raw, err := importer.Encode(evs)
	if err != nil {
		return nil, err
	}
	var total int
	for _, b := range raw {
		total += len(b)
	}
	r.Derive = time.Since(t)
	t = time.Now()
	par := 1
	if imp.Independent() {
		par = importParallel
	}
	rs, err := c.SubmitAll(ctx, raw, client.SubmitOptions{Chunk: chunk, Parallel: par})
	if err != nil {
		return nil, fmt.Errorf("couldn't submit the import: %w", err)
	}
	for _, rc := range rs {
		if rc.Duplicate || rc.Verdict != events.Accepted {
			return nil, fmt.Errorf("event %s of the import was not logged as new and accepted: verdict %q, duplicate %v, %s", rc.ID, rc.Verdict, rc.Duplicate, rc.Reason)
		}
	}
	r.Submit = time.Since(t)
	r.Total = time.Since(start)
	r.Events, r.EventBytes = len(evs), total/len(evs)
	return raw, nil
}

// coreIngest measures the core ingest of the import's own events (raw: the
// manifest first) on a fresh node in dir: each submitter signs its chunk
// as one submission and submits it in-process with Ledger.Submit (which
// opens and checks it as the HTTP edge does), with the change feed on.
// Events/s, the manifest not counted.
func coreIngest(ctx context.Context, dir string, raw [][]byte, submitters, chunk int) (float64, error) {
	n, err := openNode(ctx, node.Config{DataDir: dir, HTTP: "-", NATSListen: "127.0.0.1:0"})
	if err != nil {
		return 0, err
	}
	defer n.Close(context.Background())
	send := func(raw [][]byte) error {
		_, err := submitEncoded(ctx, n.Ledger, importElection, raw)
		return err
	}
	if err := send(raw[:1]); err != nil {
		return 0, fmt.Errorf("core ingest: the manifest: %w", err)
	}
	return spread(raw[1:], submitters, chunk, send)
}

// checkImport compares the ledger's tally of the import with the file's
// totals and returns the votes it counted.
func checkImport(l *ledger.Ledger, want statewide.Want, nEvents int) (int64, error) {
	tally, err := l.Tally(importElection)
	if err != nil {
		return 0, fmt.Errorf("import check: %w", err)
	}
	if tally.Accepted != uint64(nEvents) || tally.Rejected != 0 {
		return 0, fmt.Errorf("import check: the ledger accepted %d and rejected %d events, want %d accepted", tally.Accepted, tally.Rejected, nEvents)
	}
	votes := map[string]int64{}
	byType := map[string]int64{}
	var sum int64
	for _, ct := range tally.Contests {
		for _, ch := range ct.Choices {
			votes[statewide.Key(ct.ID, ch.ID)] += ch.Votes
			sum += ch.Votes
			for vt, v := range ch.ByVoteType {
				byType[vt] += v
			}
		}
	}
	if diff := want.Diff(votes, byType); len(diff) > 0 {
		return 0, fmt.Errorf("import check: the ledger's tally differs from the file's totals in %d figures, first %s", len(diff), diff[0])
	}
	return sum, nil
}

// ingest submits evs through Ledger.Submit from concurrent submitters, each
// waiting for durable receipts, as Run measures the ledger's ingest, and
// returns events/s.
func ingest(ctx context.Context, l *ledger.Ledger, evs []*events.Event, submitters, chunk int) (float64, error) {
	return spread(evs, submitters, chunk, func(part []*events.Event) error {
		_, err := submit(ctx, l, part)
		return err
	})
}

// spread hands items to submit in chunks from concurrent submitters, each
// chunk once, and returns items/s until the last submission returned.
func spread[T any](items []T, submitters, chunk int, submit func([]T) error) (float64, error) {
	start := time.Now()
	var wg sync.WaitGroup
	errs := make(chan error, submitters)
	var next int
	var mu sync.Mutex
	for range submitters {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				mu.Lock()
				lo := next
				next = min(next+chunk, len(items))
				hi := next
				mu.Unlock()
				if lo >= hi {
					return
				}
				if err := submit(items[lo:hi]); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		return 0, fmt.Errorf("ingest: %w", err)
	}
	return float64(len(items)) / time.Since(start).Seconds(), nil
}

// Print writes the report as a table with the ratios to the raw ingest.
func (r *ImportReport) Print(w io.Writer) {
	fmt.Fprintf(w, "import: a statewide precinct file of %d rows (%d precincts, %.1f MB) → %d events of %d bytes on average,\n"+
		"submitted as `ledger import` does: over HTTP, requests of up to %d events, the first event alone and then 4 at a time; raw ingest: %d generated events of %d bytes, %d submitters\n",
		r.Rows, r.Precincts, float64(r.FileBytes)/1e6, r.Events, r.EventBytes, r.Chunk, r.Events, r.RawEventBytes, r.Submitters)
	fmt.Fprintf(w, "\n%-56s %14s %10s\n", "measure", "value", "ratio")
	row := func(name string, v float64, unit string, ratio string) {
		fmt.Fprintf(w, "%-56s %10.0f %-4s %9s\n", name, v, unit, ratio)
	}
	row("import end to end: file → durable receipts (rows/s)", r.RowsPerSec, "/s", "")
	row("  the same in events/s", r.EventsPerSec, "/s", fmt.Sprintf("%.2f× raw", r.EventsPerSec/r.RawIngest))
	fmt.Fprintf(w, "%-56s %10.2f s\n", "  wall time", r.Total.Seconds())
	row("  read and parse (rows/s)", r.ParseRows, "/s", "")
	row("  derive and encode the events (events/s)", r.DeriveEvents, "/s", "")
	row("  submit over HTTP → durable receipts (events/s)", r.SubmitEvents, "/s", fmt.Sprintf("%.2f× raw", r.SubmitEvents/r.RawIngest))
	if r.Steps > 0 {
		fmt.Fprintf(w, "%-56s %10.0f steps, %.0f events each, %.1f ms each\n", "  state machine during the submissions",
			r.Steps, float64(r.Events)/r.Steps, 1000*r.StepSeconds/r.Steps)
	}
	fmt.Fprintf(w, "%-56s %10.1f µs\n", "  process CPU per row, embedded server included", float64(r.CPUPerRow.Nanoseconds())/1000)
	row("raw ingest of the core bench, Ledger.Submit (events/s)", r.RawIngest, "/s", "")
	row("core ingest of the import's events, no HTTP (events/s)", r.CoreIngest, "/s", "")
	row("  the same in rows/s of the file", r.CoreRows, "/s", fmt.Sprintf("%.2f× imp", r.CoreRows/r.RowsPerSec))
	row("ceiling: the parse, then the core ingest (rows/s)", r.ParseCoreRows, "/s", fmt.Sprintf("%.2f× imp", r.ParseCoreRows/r.RowsPerSec))
	fmt.Fprintf(w, "%-56s %10d votes: the file's totals\n", "check: the ledger's tally after the import", r.Votes)
	fmt.Fprintf(w, "\ntarget: import ≥ %d rows/s end to end: %s\n", targetImportRows, verdict(r.RowsPerSec >= targetImportRows))
}
