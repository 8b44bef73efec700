package bench

// The audit benchmark: a generated election log written straight into
// Pebble (no NATS), then, side by side with the raw ceiling of reading and
// SHA-256-hashing the same entries, the audit operations of package audit.

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"time"

	"golang.org/x/mod/sumdb/tlog"

	"github.com/election-audit/ledger/audit"
	"github.com/election-audit/ledger/checkpoint"
	"github.com/election-audit/ledger/events"
	"github.com/election-audit/ledger/importer"
	"github.com/election-audit/ledger/projections"
	"github.com/election-audit/ledger/store"
)

// AuditConfig sizes an audit run.
type AuditConfig struct {
	Dir             string        // scratch directory; removed afterwards
	Entries         int           // log size, manifest included (default 10,000,000)
	BatchEntries    int           // entries per Pebble batch while generating (default 10,000)
	CheckpointEvery int           // a signed checkpoint every this many entries, and at the end (default 100,000)
	AsOfPoints      int           // as-of tallies at random sizes (default 20)
	AsOfBudget      time.Duration // stop the as-of tallies after this long, once 3 are done (default 2 min)
	Proofs          int           // inclusion and consistency proofs each (default 1,000)
	Out             io.Writer
}

func (c *AuditConfig) fill() {
	if c.Entries == 0 {
		c.Entries = 10_000_000
	}
	if c.BatchEntries == 0 {
		c.BatchEntries = 10_000
	}
	if c.CheckpointEvery == 0 {
		c.CheckpointEvery = 100_000
	}
	if c.AsOfPoints == 0 {
		c.AsOfPoints = 20
	}
	if c.AsOfBudget == 0 {
		c.AsOfBudget = 2 * time.Minute
	}
	if c.Proofs == 0 {
		c.Proofs = 1000
	}
	if c.Out == nil {
		c.Out = os.Stdout
	}
}

// AuditReport is everything one audit run measured.
type AuditReport struct {
	Entries      uint64
	EntryBytes   float64       // mean stored entry size
	Checkpoints  int           // signed checkpoints in the log
	Snapshots    int           // projection snapshots in the log
	Generate     time.Duration // setup, not a measured figure
	Ceiling      float64       // entries/s: read from Pebble and SHA-256
	VerifyLog    float64       // entries/s: re-hash and check against the checkpoints
	Verify       float64       // entries/s: audit.Verify (stored hashes, checkpoints, tally replay)
	Replay       float64       // entries/s: full tally replay from zero
	AsOfP50      time.Duration // median audit.TallyDocument at a random size
	AsOfPoints   int           // how many were measured
	InclusionP50 time.Duration
	ConsistP50   time.Duration
}

// Audit targets (issue 3).
const (
	targetVerifyRatio = 0.7
	targetReplay      = 400_000
	targetAsOf        = 50 * time.Millisecond
	targetProof       = time.Millisecond
)

const auditElection = "bench-2026"
const auditLedgerName = "bench.local"

// auditLog is a generated log in an open database.
type auditLog struct {
	db    *store.DB
	key   string // the ledger key
	size  uint64
	bytes uint64
	cps   int
	snaps int
}

// levelCache is a tlog.HashReader over the newest stored hash of each tree
// level: exactly the hashes tlog.StoredHashes and tlog.TreeHash read when
// appending to, or taking the root of, the tree as it stands.
type levelCache struct {
	idx  [64]int64
	hash [64]tlog.Hash
	n    int // levels in use
}

func (c *levelCache) add(first int64, hashes []tlog.Hash) {
	for l, h := range hashes {
		c.idx[l], c.hash[l] = first+int64(l), h
		c.n = max(c.n, l+1)
	}
}

func (c *levelCache) ReadHashes(indexes []int64) ([]tlog.Hash, error) {
	out := make([]tlog.Hash, len(indexes))
next:
	for i, x := range indexes {
		for l := range c.n {
			if c.idx[l] == x {
				out[i] = c.hash[l]
				continue next
			}
		}
		return nil, fmt.Errorf("stored hash %d is not at the tree's right edge", x)
	}
	return out, nil
}

// generateAuditLog writes a generated election log of cfg.Entries entries
// into a new database under dir: entries, stored hashes, tree size, signed
// checkpoints and the projection cells, so that audit.Verify passes.
func generateAuditLog(dir string, cfg AuditConfig, progress io.Writer) (*auditLog, error) {
	if cfg.Entries < 1 {
		return nil, fmt.Errorf("a log needs at least 1 entry (the manifest), not %d", cfg.Entries)
	}
	key, err := checkpoint.LoadOrCreateKey(dir, auditLedgerName)
	if err != nil {
		return nil, err
	}
	db, err := store.Open(filepath.Join(dir, "pebble"))
	if err != nil {
		return nil, err
	}
	lg := &auditLog{db: db, key: key.VerifierKey()}
	if err := lg.fill(key, cfg, progress); err != nil {
		db.Close()
		return nil, err
	}
	return lg, nil
}

// auditSubmission is how many reports one submission of the generated log
// carries.
const auditSubmission = 1000

func (lg *auditLog) fill(signer *checkpoint.Key, cfg AuditConfig, progress io.Writer) (err error) {
	election := auditElection
	origin := signer.Origin(election)
	g := newGenerator(election)
	base := time.Date(2026, 11, 3, 19, 0, 0, 0, time.UTC)
	var proj *projections.Election
	var hc levelCache
	var snapAt uint64
	var snapLen int
	n := cfg.Entries
	start := time.Now()
	b := lg.db.NewBatch()
	defer func() { b.Close() }()
	// Entries come in signed submissions of auditSubmission events, as a
	// reporter sends them: the manifest alone (in k parts), then the
	// reports.
	head, err := g.manifestEvents()
	if err != nil {
		return err
	}
	k := len(head)
	if n < k {
		return fmt.Errorf("a log of %d entries is shorter than its manifest's %d", n, k)
	}
	var sub *events.Submission
	for i := range n {
		if i == 0 || i >= k && (i-k)%auditSubmission == 0 {
			evs := head
			if i > 0 {
				evs = nil
				for range min(auditSubmission, n-i) {
					evs = append(evs, g.report())
				}
			}
			canonical, err := importer.Encode(evs)
			if err != nil {
				return err
			}
			signed, err := benchKey().SignSubmission(election, canonical)
			if err != nil {
				return err
			}
			if sub, err = events.OpenSubmission(signed); err != nil {
				return err
			}
			b.PutSubmission(election, sub.SHA256, signed)
		}
		item := i
		if i >= k {
			item = (i - k) % auditSubmission
		}
		ev, evb := sub.Events[item], sub.Canonical[item]
		// Recorded times increase by 1 ms per entry.
		en := &events.Entry{Index: uint64(i), Recorded: base.Add(time.Duration(i) * time.Millisecond), Verdict: events.Accepted,
			Submission: &events.SubmissionRef{ID: sub.ID, SHA256: sub.SHA256, Item: item, Signer: sub.Signer}, Event: ev}
		if i == 0 {
			if proj, err = projections.New(election, sub.Manifest); err != nil {
				return err
			}
		} else if i >= k {
			if rj := proj.Decide(ev, sub.Signer); rj != nil {
				return fmt.Errorf("generated entry %d would be rejected: %s", i, rj.Reason)
			}
		}
		if err := proj.Apply(en); err != nil {
			return err
		}
		data, err := en.EncodeWith(evb)
		if err != nil {
			return err
		}
		lg.bytes += uint64(len(data))
		hashes, err := tlog.StoredHashes(int64(i), data, &hc)
		if err != nil {
			return err
		}
		first := tlog.StoredHashIndex(0, int64(i))
		hc.add(first, hashes)
		b.PutEntry(election, uint64(i), data)
		b.PutHashes(election, first, hashes)
		size := i + 1
		// Projection snapshots where the ledger's policy puts them.
		if projections.SnapshotDue(uint64(size), snapAt, snapLen) {
			snap := proj.Snapshot()
			b.PutSnapshot(election, uint64(size), snap)
			b.PutMaxRecorded(election, uint64(size), en.Recorded) // recorded times only grow here
			snapAt, snapLen = uint64(size), len(snap)
			lg.snaps++
		}
		if size%cfg.CheckpointEvery == 0 || size == n {
			root, err := tlog.TreeHash(int64(size), &hc)
			if err != nil {
				return err
			}
			signed, err := checkpoint.Sign(signer, origin, uint64(size), root)
			if err != nil {
				return err
			}
			b.PutCheckpoint(election, uint64(size), signed)
			lg.cps++
		}
		if size%cfg.BatchEntries == 0 || size == n {
			b.PutTreeSize(election, uint64(size))
			if size == n {
				if err := proj.Flush(func(k string, v []byte) { b.PutCell(election, k, v) }); err != nil {
					return err
				}
			}
			// store.Batch.Commit syncs: once per batch of BatchEntries.
			if err := b.Commit(); err != nil {
				return err
			}
			b = lg.db.NewBatch()
		}
		if progress != nil && size%1_000_000 == 0 {
			el := time.Since(start)
			fmt.Fprintf(progress, "  generated %d of %d entries (%.0f s, %.0f entries/s)\n", size, n, el.Seconds(), float64(size)/el.Seconds())
		}
	}
	lg.size = uint64(n)
	return nil
}

// RunAudit generates the log, measures the audit operations on it and
// prints the report.
func RunAudit(cfg AuditConfig) (*AuditReport, error) {
	cfg.fill()
	dir := cfg.Dir
	if dir == "" {
		d, err := os.MkdirTemp("", "ledger-bench-audit-")
		if err != nil {
			return nil, err
		}
		dir = d
	}
	defer os.RemoveAll(dir)
	w := cfg.Out
	r := &AuditReport{}

	fmt.Fprintf(w, "generating a log of %d entries in %s (setup, not measured)…\n", cfg.Entries, dir)
	t0 := time.Now()
	lg, err := generateAuditLog(dir, cfg, w)
	if err != nil {
		return nil, fmt.Errorf("couldn't generate the log: %w", err)
	}
	defer lg.db.Close()
	// Let Pebble flush and finish its compactions, so that they do not
	// share the two cores with the measurements.
	if err := lg.db.Pebble().Flush(); err != nil {
		return nil, err
	}
	for end := time.Now().Add(time.Minute); time.Now().Before(end); time.Sleep(200 * time.Millisecond) {
		if lg.db.Pebble().Metrics().Compact.NumInProgress == 0 {
			break
		}
	}
	r.Generate = time.Since(t0)
	r.Entries, r.Checkpoints, r.Snapshots = lg.size, lg.cps, lg.snaps
	r.EntryBytes = float64(lg.bytes) / float64(lg.size)
	fmt.Fprintf(w, "generated %d entries (%.0f bytes on average, %d signed checkpoints, %d projection snapshots) in %.1f s\n\n",
		r.Entries, r.EntryBytes, r.Checkpoints, r.Snapshots, r.Generate.Seconds())
	db, size, election := lg.db, lg.size, auditElection
	rate := func(d time.Duration) float64 { return float64(size) / d.Seconds() }

	// Ceiling: read every entry straight from Pebble and SHA-256 it. Measured
	// before and after VerifyLog; the faster of the two counts, so that noise
	// on a shared machine does not flatter the ratio.
	ceiling := func() (float64, error) {
		t0 := time.Now()
		var sink [32]byte
		err := db.Entries(election, 0, size, func(_ uint64, data []byte) error {
			s := sha256.Sum256(data)
			sink[0] ^= s[0]
			return nil
		})
		return rate(time.Since(t0)), err
	}
	fmt.Fprintln(w, "measuring: ceiling (read + SHA-256)…")
	if r.Ceiling, err = ceiling(); err != nil {
		return nil, err
	}

	var cps []audit.Checkpoint
	if err := db.Checkpoints(election, func(n uint64, signed []byte) error {
		cps = append(cps, audit.Checkpoint{Size: n, Signed: bytes.Clone(signed)}) // valid only during the call
		return nil
	}); err != nil {
		return nil, err
	}
	fmt.Fprintln(w, "measuring: audit.VerifyLog…")
	t0 = time.Now()
	if _, err := audit.VerifyLog(db, election, size, cps, lg.key, nil); err != nil {
		return nil, fmt.Errorf("VerifyLog: %w", err)
	}
	r.VerifyLog = rate(time.Since(t0))
	fmt.Fprintln(w, "measuring: ceiling again…")
	c2, err := ceiling()
	if err != nil {
		return nil, err
	}
	r.Ceiling = max(r.Ceiling, c2)

	fmt.Fprintln(w, "measuring: audit.Verify…")
	t0 = time.Now()
	if _, err := audit.Verify(db, election, lg.key); err != nil {
		return nil, fmt.Errorf("audit.Verify of the generated log: %w", err)
	}
	r.Verify = rate(time.Since(t0))

	fmt.Fprintln(w, "measuring: audit.Replay…")
	t0 = time.Now()
	if _, err := audit.Replay(db, election, size, nil); err != nil {
		return nil, err
	}
	r.Replay = rate(time.Since(t0))

	rng := rand.New(rand.NewPCG(3, 4))
	fmt.Fprintf(w, "measuring: audit.TallyDocument at up to %d random sizes (budget %s)…\n", cfg.AsOfPoints, cfg.AsOfBudget)
	var asof []time.Duration
	t0 = time.Now()
	for range cfg.AsOfPoints {
		if len(asof) >= 3 && time.Since(t0) > cfg.AsOfBudget {
			break
		}
		n := 1 + rng.Uint64N(size)
		t := time.Now()
		if _, err := audit.TallyDocument(db, election, n); err != nil {
			return nil, err
		}
		asof = append(asof, time.Since(t))
	}
	r.AsOfP50, r.AsOfPoints = median(asof), len(asof)

	fmt.Fprintf(w, "measuring: %d inclusion and %d consistency proofs…\n", cfg.Proofs, cfg.Proofs)
	hr := db.HashReader(election)
	inc := make([]time.Duration, 0, cfg.Proofs)
	con := make([]time.Duration, 0, cfg.Proofs)
	for range cfg.Proofs {
		idx := rng.Uint64N(size)
		t := time.Now()
		if _, err := audit.ProveInclusion(hr, size, idx); err != nil {
			return nil, err
		}
		inc = append(inc, time.Since(t))
		from := 1 + rng.Uint64N(size)
		t = time.Now()
		if _, err := audit.ProveConsistency(hr, from, size); err != nil {
			return nil, err
		}
		con = append(con, time.Since(t))
	}
	r.InclusionP50, r.ConsistP50 = median(inc), median(con)

	printAudit(w, r)
	return r, nil
}

func median(d []time.Duration) time.Duration {
	if len(d) == 0 {
		return 0
	}
	s := slices.Clone(d)
	slices.Sort(s)
	return s[len(s)/2]
}

func met(ok bool) string {
	if ok {
		return "met"
	}
	return "NOT met"
}

func printAudit(w io.Writer, r *AuditReport) {
	ratio := r.VerifyLog / r.Ceiling
	fmt.Fprintf(w, "\naudit of a generated log of %d entries (%.0f bytes on average, %d checkpoints)\n", r.Entries, r.EntryBytes, r.Checkpoints)
	fmt.Fprintf(w, "  %-62s %12.0f entries/s\n", "ceiling: read from Pebble + SHA-256", r.Ceiling)
	fmt.Fprintf(w, "  %-62s %12.0f entries/s  %.2f× ceiling (target ≥ %.1f×: %s)\n", "re-hash + check checkpoints (audit.VerifyLog)", r.VerifyLog, ratio, targetVerifyRatio, met(ratio >= targetVerifyRatio))
	fmt.Fprintf(w, "  %-62s %12.0f entries/s  %.2f× ceiling\n", "full audit.Verify (+ stored hashes, tally replay)", r.Verify, r.Verify/r.Ceiling)
	fmt.Fprintf(w, "  %-62s %12.0f entries/s  (target ≥ %d: %s)\n", "full tally replay from zero (audit.Replay)", r.Replay, targetReplay, met(r.Replay >= targetReplay))
	fmt.Fprintf(w, "  %-62s %12s median     (target < %s: %s)\n", fmt.Sprintf("as-of tally at a random size (audit.TallyDocument, %d points)", r.AsOfPoints), r.AsOfP50.Round(time.Microsecond), targetAsOf, met(r.AsOfP50 < targetAsOf))
	fmt.Fprintf(w, "  %-62s %12s median     (target < %s: %s)\n", "inclusion proof (audit.ProveInclusion)", r.InclusionP50.Round(time.Microsecond/10), targetProof, met(r.InclusionP50 < targetProof))
	fmt.Fprintf(w, "  %-62s %12s median     (target < %s: %s)\n", "consistency proof (audit.ProveConsistency)", r.ConsistP50.Round(time.Microsecond/10), targetProof, met(r.ConsistP50 < targetProof))
}
