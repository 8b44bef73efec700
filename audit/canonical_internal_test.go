package audit

import (
	"bytes"
	"crypto/sha256"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/election-audit/ledger/events"
	"github.com/election-audit/ledger/internal/testkeys"
)

// TestEnvelopeCanonical holds the in-place check of an entry's fields
// around its event to events.Entry.EncodeWith, on random entries with
// every optional field present or not, strings that need escaping or not,
// and recorded times with 0 to 9 fraction digits: it must accept the
// reference's bytes of every entry whose strings need no escaping, and
// never accept other bytes, here the reference's bytes with one byte of
// those fields changed, added or removed.
func TestEnvelopeCanonical(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	plain := []string{"a", "cobb", "us-house-6", "x.y:z", "Fulton County Elections", "2017-04-19T02:40:12Z"}
	escaped := []string{"A&B", "a<b>", `q"uote`, `back\slash`, "Géorgie", "line\u2028sep", "tab\tx", "del\x7f"}
	pick := func() string {
		if rng.IntN(40) == 0 {
			return escaped[rng.IntN(len(escaped))]
		}
		return plain[rng.IntN(len(plain))]
	}
	signers := []string{"", testkeys.Authority.Verifier, testkeys.New("cobb-county").Verifier}
	fast, changed := 0, 0
	cache := new(plainStrings)
	for i := range 5000 {
		r := &events.CountReport{Unit: pick(), Contest: pick()}
		for j := range 1 + rng.IntN(5) {
			r.Counts = append(r.Counts, events.Count{Choice: pick() + strings.Repeat("z", j), VoteType: pick(), Votes: rng.Int64N(events.MaxVotes + 1)})
		}
		switch rng.IntN(4) {
		case 0:
			r.Source = events.Source{File: pick(), SHA256: strings.Repeat("ab", 32)}
		case 1:
			r.Source = events.Source{Operator: pick()}
		case 2:
			r.Source = events.Source{File: pick(), SHA256: strings.Repeat("0f", 32), Version: pick(), Operator: pick()}
		case 3:
			r.Source = events.Source{Version: pick(), Operator: pick()}
		}
		ev := &events.Event{ID: uuid.Must(uuid.NewV7()), Election: "ga06-2017-04", Body: r}
		if rng.IntN(2) == 0 {
			v := rng.Uint64N(1 << 40)
			ev.ExpectedVersion = &v
		}
		d := []int64{1, 10, 1e3, 1e6, 1e9}[rng.IntN(5)] // 9, 8, 6, 3 or no fraction digits
		en := &events.Entry{
			Index:    rng.Uint64N(1 << 50),
			Recorded: time.Unix(rng.Int64N(4e9), rng.Int64N(1e9)/d*d),
			Verdict:  events.Accepted,
			Submission: &events.SubmissionRef{ID: uuid.Must(uuid.NewV7()), SHA256: sha256.Sum256([]byte{byte(i)}),
				Item: rng.IntN(events.MaxSubmissionEvents), Signer: signers[rng.IntN(len(signers))]},
			Event: ev,
		}
		if rng.IntN(3) == 0 {
			en.Verdict, en.Reason = events.Rejected, "not authorized: "+pick()
		}
		want, err := en.Encode()
		if err != nil {
			t.Fatal(err)
		}
		event := bytes.Index(want, []byte(`,"event":`)) + len(`,"event":`)
		allPlain := !bytes.ContainsFunc(want[:event], func(r rune) bool { return r == '\\' || r >= 0x7f }) // no string needed an escape
		switch ok := envelopeCanonical(want, en, cache); {
		case ok:
			fast++
		case allPlain:
			t.Fatalf("entry %d: its reference encoding, in plain text, is not accepted: %s", i, want)
		}
		if fault := envelopeFault(want, en, cache); fault != "" {
			t.Fatalf("entry %d: its own encoding is said not canonical: %s", i, fault)
		}
		for range 20 {
			bad := bytes.Clone(want)
			at := rng.IntN(event + 1) // the envelope, or the entry's last byte
			if at == event {
				at = len(bad) - 1
			}
			switch rng.IntN(3) {
			case 0:
				bad[at] = byte(rng.IntN(256))
			case 1:
				bad = slices.Insert(bad, at, byte(rng.IntN(256)))
			case 2:
				bad = slices.Delete(bad, at, at+1)
			}
			// The check is of an entry and what it decodes to.
			badEn, err := events.DecodeEntry(bad)
			if err != nil {
				continue
			}
			_, badEvent, err := events.EntryOrigin(bad)
			if err != nil {
				t.Fatal(err)
			}
			ref, err := badEn.EncodeWith(badEvent)
			canonical := err == nil && bytes.Equal(ref, bad)
			if envelopeCanonical(bad, badEn, cache) && !canonical {
				t.Fatalf("entry %d: accepted with a byte changed at %d: %s", i, at, bad)
			}
			if fault := envelopeFault(bad, badEn, cache); (fault == "") != canonical {
				t.Fatalf("entry %d with a byte changed at %d: fault %q, want one: %v\n%s", i, at, fault, !canonical, bad)
			}
			if !canonical {
				changed++
			}
		}
	}
	t.Logf("%d of 5000 entries checked in place; %d changed entries that still decode found not canonical", fast, changed)
	if fast < 2000 {
		t.Errorf("only %d of 5000 entries checked in place", fast)
	}
}

// TestIDSet checks the set of event IDs: a repeated ID is found, with the
// position of its first entry, whatever the set's size.
func TestIDSet(t *testing.T) {
	var s idSet
	var ids []uuid.UUID
	for i := range 100_000 {
		id := uuid.Must(uuid.NewV7())
		ids = append(ids, id)
		if first, err := s.add(id, s.idHash(id)); err != nil || first != -1 {
			t.Fatalf("new ID %d: %d, %v", i, first, err)
		}
	}
	for _, p := range []int{0, 1, 16383, 16384, 99_999} {
		if first, err := s.add(ids[p], s.idHash(ids[p])); err != nil || first != int64(p) {
			t.Fatalf("ID of position %d again: got %d, %v", p, first, err)
		}
	}
	if s.n != 100_000 {
		t.Fatalf("%d IDs held, want 100000", s.n)
	}
}

// benchEntry is a count report entry as the audit benchmark's generated
// log has them (bench/generate.go).
func benchEntry(tb testing.TB) []byte {
	tb.Helper()
	r := &events.CountReport{Unit: "precinct-0042", Contest: "governor", Source: events.Source{Operator: "county-clerk"}}
	for _, ch := range []string{"cand-a", "cand-b", "cand-c", "cand-d"} {
		for _, vt := range []string{"absentee-by-mail", "election-day"} {
			r.Counts = append(r.Counts, events.Count{Choice: ch, VoteType: vt, Votes: 417})
		}
	}
	ev := &events.Event{ID: uuid.Must(uuid.NewV7()), Election: "bench-audit", Body: r}
	en := &events.Entry{Index: 123456, Recorded: time.Date(2026, 11, 3, 19, 0, 0, 123000000, time.UTC), Verdict: events.Accepted,
		Submission: &events.SubmissionRef{ID: uuid.Must(uuid.NewV7()), SHA256: sha256.Sum256(nil), Item: 17, Signer: testkeys.Authority.Verifier}, Event: ev}
	b, err := en.Encode()
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// BenchmarkEnvelopeFault measures the canonical check of one entry, beside
// decoding it (what a replay does to every entry anyway) and the reference
// encoding.
func BenchmarkEnvelopeFault(b *testing.B) {
	data := benchEntry(b)
	var d events.Decoder
	en, err := d.DecodeEntry(data)
	if err != nil {
		b.Fatal(err)
	}
	b.Run("decode", func(b *testing.B) {
		for b.Loop() {
			if _, err := d.DecodeEntry(data); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("check", func(b *testing.B) {
		for b.Loop() {
			if f := envelopeFault(data, en, new(plainStrings)); f != "" {
				b.Fatal(f)
			}
		}
	})
	b.Run("reference", func(b *testing.B) {
		_, event, err := events.EntryOrigin(data)
		if err != nil {
			b.Fatal(err)
		}
		for b.Loop() {
			if _, err := en.EncodeWith(event); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// benchSource is an in-memory Source of one election's entries.
type benchSource [][]byte

func (l benchSource) Entries(_ string, start, end uint64, fn func(uint64, []byte) error) error {
	for i := start; i < end && i < uint64(len(l)); i++ {
		if err := fn(i, l[i]); err != nil {
			return err
		}
	}
	return nil
}

// benchLog is a log of n entries in the shape of the audit benchmark's
// (bench/audit.go): a manifest of 1,000 precincts, then count reports of
// random precincts, all by the authority.
func benchLog(tb testing.TB, election string, n int) benchSource {
	tb.Helper()
	m := &events.Manifest{Name: "Bench", Date: "2026-11-03", Authority: testkeys.Authority.Verifier,
		VoteTypes: []events.VoteType{{ID: "absentee-by-mail", Name: "Mail"}, {ID: "election-day", Name: "Day"}},
		Units:     []events.Unit{{ID: "st", Name: "State", Kind: "state"}},
		Contests: []events.Contest{{ID: "governor", Name: "Governor", VoteFor: 1, Choices: []events.Choice{
			{ID: "cand-a", Name: "A"}, {ID: "cand-b", Name: "B"}, {ID: "cand-c", Name: "C"}, {ID: "cand-d", Name: "D"}}}}}
	for i := range 1000 {
		m.Units = append(m.Units, events.Unit{ID: "p-" + strconv.Itoa(i), Name: "P", Kind: "precinct", Parent: "st"})
	}
	rng := rand.New(rand.NewPCG(5, 6))
	base := time.Date(2026, 11, 3, 19, 0, 0, 0, time.UTC)
	sub := &events.SubmissionRef{ID: uuid.Must(uuid.NewV7()), Signer: testkeys.Authority.Verifier}
	var l benchSource
	for i := range n {
		ev := &events.Event{ID: uuid.Must(uuid.NewV7()), Election: election, Body: m}
		if i > 0 {
			r := &events.CountReport{Unit: m.Units[1+rng.IntN(1000)].ID, Contest: "governor", Source: events.Source{Operator: "county-clerk"}}
			for _, ch := range []string{"cand-a", "cand-b", "cand-c", "cand-d"} {
				for _, vt := range []string{"absentee-by-mail", "election-day"} {
					r.Counts = append(r.Counts, events.Count{Choice: ch, VoteType: vt, Votes: int64(rng.IntN(900))})
				}
			}
			ev.Body = r
		}
		en := &events.Entry{Index: uint64(i), Recorded: base.Add(time.Duration(i) * time.Millisecond), Verdict: events.Accepted, Submission: sub, Event: ev}
		b, err := en.Encode()
		if err != nil {
			tb.Fatal(err)
		}
		l = append(l, b)
	}
	return l
}

// cpuTime is the CPU time the process has used, user and system.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkReplay replays a 200,000-entry log held in memory: what the
// fold's checks (canonical form, repeated IDs) cost beside decoding and
// folding.
func BenchmarkReplay(b *testing.B) {
	const n = 200_000
	l := benchLog(b, "bench-audit", n)
	cpu0 := cpuTime()
	for b.Loop() {
		if _, err := Replay(l, "bench-audit", n, nil); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "entries/s")
	b.ReportMetric(float64(cpuTime()-cpu0)/float64(n*b.N), "cpu-ns/entry")
}

// BenchmarkIDSet measures adding the IDs of a 1,000,000-entry log, beside
// a Go map of them.
func BenchmarkIDSet(b *testing.B) {
	ids := make([]uuid.UUID, 1_000_000)
	for i := range ids {
		ids[i] = uuid.Must(uuid.NewV7())
	}
	b.Run("idSet", func(b *testing.B) {
		for b.Loop() {
			var s idSet
			for _, id := range ids {
				if first, _ := s.add(id, s.idHash(id)); first >= 0 {
					b.Fatal("repeated")
				}
			}
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(ids)), "ns/id")
	})
	b.Run("map", func(b *testing.B) {
		for b.Loop() {
			m := map[uuid.UUID]uint32{}
			for i, id := range ids {
				if _, ok := m[id]; ok {
					b.Fatal("repeated")
				}
				m[id] = uint32(i)
			}
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(ids)), "ns/id")
	})
}
