package bench

import (
	"fmt"
	"io"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/election-audit/ledger/audit"
)

// TestAuditLog checks that the generated log passes audit.Verify, and that
// the audit benchmark runs end to end on a small log. It asserts no timing.
func TestAuditLog(t *testing.T) {
	t0 := time.Now()
	lg, err := generateAuditLog(t.TempDir(), AuditConfig{Entries: 20_000, BatchEntries: 3_000, CheckpointEvery: 7_000}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer lg.db.Close()
	t.Logf("generated in %s", time.Since(t0))
	res, err := audit.Verify(lg.db, auditElection, lg.key)
	if err != nil {
		t.Fatal(err)
	}
	if res.Size != 20_000 || res.Checkpoints != 3 || lg.cps != 3 {
		t.Fatalf("verified size %d with %d checkpoints, generated %d", res.Size, res.Checkpoints, lg.cps)
	}
	// A count report of ~680 bytes, plus the entry's own fields, plus the
	// reference to its submission (of up to 1,000 reports, signed by the
	// bench key), which every entry carries since entries are v2.
	ref := len(fmt.Sprintf(`,"submission":{"id":%q,"sha256":"%064x","item":999,"signer":%q}`, uuid.Nil, 0, benchKey().Verifier))
	if avg := lg.bytes / lg.size; avg < 600+uint64(ref) || avg > 900+uint64(ref) {
		t.Errorf("entries are %d bytes on average, want 600–900 and the %d bytes of their submission reference", avg, ref)
	}

	t.Logf("verified at %s", time.Since(t0))
	r, err := RunAudit(AuditConfig{Dir: t.TempDir(), Entries: 20_000, AsOfPoints: 5, AsOfBudget: time.Second, Proofs: 100, Out: io.Discard})
	if err != nil {
		t.Fatal(err)
	}
	if r.Entries != 20_000 || r.Checkpoints != 1 || r.AsOfPoints == 0 {
		t.Fatalf("report: %+v", r)
	}
}

// BenchmarkAudit runs the audit comparison once per iteration on a small
// log; run it with -benchtime=1x. `ledger bench --audit` prints the same
// report (on 10,000,000 entries by default).
func BenchmarkAudit(b *testing.B) {
	for b.Loop() {
		r, err := RunAudit(AuditConfig{Dir: b.TempDir(), Entries: 200_000, Out: io.Discard})
		if err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(r.Ceiling, "ceiling-entries/s")
		b.ReportMetric(r.VerifyLog, "verifylog-entries/s")
		b.ReportMetric(r.Replay, "replay-entries/s")
		b.ReportMetric(float64(r.AsOfP50.Microseconds())/1000, "asof-p50-ms")
		b.ReportMetric(float64(r.InclusionP50.Nanoseconds())/1000, "inclusion-p50-µs")
		b.ReportMetric(float64(r.ConsistP50.Nanoseconds())/1000, "consistency-p50-µs")
	}
}
