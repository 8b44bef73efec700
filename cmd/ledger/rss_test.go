package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/election-audit/ledger/api"
	"github.com/election-audit/ledger/client"
	"github.com/election-audit/ledger/events"
	"github.com/election-audit/ledger/internal/testkeys"
)

// TestResourceAttacksRSS makes the resource attacks of issue 12 at once
// against the real `ledger serve` process and measures what the kernel
// says it took (VmHWM, the peak resident set), not the Go heap of a test
// process. An election is defined with a manifest at the limits (500
// choices on 3,967 units, so that its tally is the largest a manifest may
// declare: 17.9 MB), in parts, signed by the authority, with one count
// reported. Then, together:
//
//   - 40 concurrent anonymous tally reads, 20 of the current tally and 20
//     of one as-of tally: each its own whole-tally build before builds
//     were shared (5.6 GB of peak RSS), now one build of each, shared;
//   - 80 connections announcing bodies of 64 MiB and of 8 MiB
//     (api.MaxBodySize), each sending one byte;
//   - 32 connections announcing 8 MiB, sending 1 MiB and a byte, then
//     stalling: charged by what was announced, they held the whole budget
//     of bodies in memory (api.DefaultMaxBodyMemory) and honest
//     submissions got 503.
//
// While they hold, an honest signed submission must be logged and
// /healthz answer 200; the process's peak RSS must stay under 1 GiB.
func TestResourceAttacksRSS(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skipf("skipped on %s: the peak RSS is read from /proc/PID/status (VmHWM), which only Linux has", runtime.GOOS)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	srv := newServerProc(t, uint64(time.Now().UnixNano()))
	if err := srv.startHealthy(ctx); err != nil {
		t.Fatal(err)
	}
	base := "http://" + srv.httpAddr
	c, err := client.New(base, &http.Client{Timeout: 2 * time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	c = c.WithKey(testkeys.Authority)

	const election = "rss-limits"
	sub := rssManifest(t, election)
	rs, err := c.SubmitSigned(ctx, sub)
	if err != nil {
		t.Fatalf("defining the election (a manifest at the limits, %d bytes): %v", len(sub), err)
	}
	for _, r := range rs {
		if r.Verdict != events.Accepted {
			t.Fatalf("manifest part %d: %s: %s", r.Index, r.Verdict, r.Reason)
		}
	}
	parts := len(rs)
	report := func(unit string) []byte {
		t.Helper()
		ev := &events.Event{ID: uuid.Must(uuid.NewV7()), Election: election, Body: &events.CountReport{
			Unit: unit, Contest: "k0", Counts: []events.Count{{Choice: "c0", VoteType: "v0", Votes: 42}},
			Source: events.Source{Operator: "rss test"}}}
		return testkeys.MustSign(testkeys.Authority, ev)
	}
	rs, err = c.SubmitSigned(ctx, report("p7"))
	if err != nil || len(rs) != 1 || rs[0].Verdict != events.Accepted {
		t.Fatalf("the count: %+v, %v", rs, err)
	}
	size := rs[0].TreeSize
	pid := srv.cmd.Process.Pid
	t.Logf("election defined in %d parts (%d bytes) and one count: log size %d, VmHWM %d MiB so far",
		parts, len(sub), size, vmHWM(t, pid)>>20)

	// The body attacks first, so that they hold while the reads run and
	// the honest submission is sent: the budget lockout, then the bodies
	// announced and not sent (which, the budget full, may be refused).
	var held []net.Conn
	dial := func() net.Conn {
		conn, err := net.DialTimeout("tcp", srv.httpAddr, 10*time.Second)
		if err != nil {
			t.Fatalf("dial: %v", err)
		}
		t.Cleanup(func() { conn.Close() })
		conn.SetDeadline(time.Now().Add(3 * time.Minute))
		held = append(held, conn)
		return conn
	}
	header := func(length int) string {
		return fmt.Sprintf("POST /v1/submissions HTTP/1.1\r\nHost: ledger\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: %d\r\n\r\n", length)
	}
	var sends sync.WaitGroup
	lockout := bytes.Repeat([]byte("x"), 1<<20+1)
	for range 32 {
		conn := dial()
		sends.Go(func() {
			if _, err := io.WriteString(conn, header(api.MaxBodySize)); err != nil {
				t.Errorf("announcing %d bytes: %v", api.MaxBodySize, err)
				return
			}
			if _, err := conn.Write(lockout); err != nil {
				t.Errorf("sending %d of %d bytes: %v", len(lockout), api.MaxBodySize, err)
			}
		})
	}
	sends.Wait()
	time.Sleep(time.Second) // the bytes sent read by the server
	for i := range 80 {
		announced := 64 << 20
		if i%2 == 1 {
			announced = api.MaxBodySize
		}
		conn := dial()
		sends.Go(func() {
			if _, err := io.WriteString(conn, header(announced)+"{"); err != nil {
				t.Errorf("announcing %d bytes: %v", announced, err)
			}
		})
	}
	sends.Wait()
	time.Sleep(200 * time.Millisecond)

	// The reads: anonymous, on connections of their own. Each document is
	// hashed as it arrives, not held.
	type answer struct {
		status int
		retry  string
		sum    [32]byte
		err    error
	}
	reads := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 2 * time.Minute}
	paths := []string{
		"/v1/elections/" + election + "/tally",
		"/v1/elections/" + election + "/tally?as_of=" + strconv.FormatUint(size, 10),
	}
	answers := make([][]answer, len(paths))
	for i := range answers {
		answers[i] = make([]answer, 20)
	}
	var gets sync.WaitGroup
	for p, path := range paths {
		for i := range answers[p] {
			gets.Go(func() {
				a := &answers[p][i]
				req, _ := http.NewRequestWithContext(ctx, http.MethodGet, base+path, nil)
				resp, err := reads.Do(req)
				if err != nil {
					a.err = err
					return
				}
				defer resp.Body.Close()
				h := sha256.New()
				_, a.err = io.Copy(h, resp.Body)
				a.status, a.retry = resp.StatusCode, resp.Header.Get("Retry-After")
				copy(a.sum[:], h.Sum(nil))
			})
		}
	}

	// Meanwhile an honest submission is logged, and the ledger is healthy.
	time.Sleep(200 * time.Millisecond) // the reads under way
	honest := time.Now()
	if rs, err := c.SubmitSigned(ctx, report("p8")); err != nil || len(rs) != 1 || rs[0].Verdict != events.Accepted {
		t.Errorf("an honest submission during the attacks: %+v, %v", rs, err)
	} else {
		t.Logf("an honest submission during the attacks: logged at %d in %v", rs[0].Index, time.Since(honest).Round(time.Millisecond))
	}
	if err := c.Health(ctx); err != nil {
		t.Errorf("/healthz during the attacks: %v", err)
	}
	gets.Wait()

	// Every read answered: the document (of the current tally, before or
	// after the honest count), or 503 with Retry-After when no build slot
	// came free in time.
	for p, path := range paths {
		docs, busy := map[[32]byte]int{}, 0
		for i, a := range answers[p] {
			switch {
			case a.err != nil:
				t.Errorf("GET %s (%d): %v", path, i, a.err)
			case a.status == http.StatusOK:
				docs[a.sum]++
			case a.status == http.StatusServiceUnavailable && a.retry != "":
				busy++
			default:
				t.Errorf("GET %s (%d): HTTP %d (Retry-After %q)", path, i, a.status, a.retry)
			}
		}
		t.Logf("GET %s ×%d: %d distinct documents %v, %d answered 503", path, len(answers[p]), len(docs), counts(docs), busy)
		if len(docs) == 0 {
			t.Errorf("GET %s: no request got the document", path)
		}
	}
	if err := srv.checkAlive(); err != nil {
		t.Fatal(err)
	}
	peak := vmHWM(t, pid)
	for _, conn := range held {
		conn.Close()
	}
	t.Logf("ledger serve: peak RSS (VmHWM) %d MiB", peak>>20)
	if peak >= 1<<30 {
		t.Errorf("the attacks took ledger serve to a peak RSS of %d MiB, want under 1 GiB", peak>>20)
	}
	if err := srv.stop(); err != nil {
		t.Error(err)
	}
}

// counts lists how many requests got each document.
func counts(docs map[[32]byte]int) []int {
	var out []int
	for _, n := range docs {
		out = append(out, n)
	}
	return out
}

// rssManifest is the signed submission of a manifest at the limits, in
// parts: one contest of 500 choices (events.MaxChoices) of one vote type
// on a root and 3,966 precincts, 500 + 3,967 × 504 = 1,999,868 tally
// numbers (events.MaxTallyNumbers is 2,000,000).
func rssManifest(t *testing.T, election string) []byte {
	t.Helper()
	m := &events.Manifest{Name: "At the limits", Date: "2026-11-03", Authority: testkeys.Authority.Verifier,
		VoteTypes: []events.VoteType{{ID: "v0", Name: "Election Day"}},
		Units:     []events.Unit{{ID: "r", Name: "State", Kind: "state"}}}
	for i := range 3966 {
		m.Units = append(m.Units, events.Unit{ID: fmt.Sprintf("p%d", i), Name: fmt.Sprintf("Precinct %d", i), Kind: "precinct", Parent: "r"})
	}
	k := events.Contest{ID: "k0", Name: "Wide", VoteFor: 1}
	for i := range events.MaxChoices {
		k.Choices = append(k.Choices, events.Choice{ID: fmt.Sprintf("c%d", i), Name: fmt.Sprintf("Choice %d", i)})
	}
	m.Contests = []events.Contest{k}
	parts, err := events.SplitManifest(&events.Event{ID: uuid.Must(uuid.NewV7()), Election: election, Body: m})
	if err != nil {
		t.Fatal(err)
	}
	if len(parts) < 2 {
		t.Fatalf("the manifest at the limits fits %d event, want parts", len(parts))
	}
	sub, err := testkeys.Sign(testkeys.Authority, parts...)
	if err != nil {
		t.Fatal(err)
	}
	return sub
}

// vmHWM returns the peak resident set of process pid, from
// /proc/PID/status.
func vmHWM(t *testing.T, pid int) int64 {
	t.Helper()
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmHWM:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			if err != nil {
				t.Fatalf("VmHWM: %q: %v", v, err)
			}
			return kb << 10
		}
	}
	t.Fatalf("no VmHWM in /proc/%d/status", pid)
	return 0
}
