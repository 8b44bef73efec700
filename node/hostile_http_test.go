package node_test

// Hostile HTTP clients against the node's own HTTP server (node.Open's
// listener and http.Server, not httptest's): bodies announced but not
// sent, bodies dribbled, idle connections held, and change streams kept
// open (issue 12; docs/security.md, "HTTP: cannot be held hostage").

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/election-audit/ledger/api"
	"github.com/election-audit/ledger/client"
	"github.com/election-audit/ledger/events"
	"github.com/election-audit/ledger/internal/testkeys"
	"github.com/election-audit/ledger/node"
)

// httpNode is a node serving its API on a loopback port.
type httpNode struct {
	t    *testing.T
	addr string // host:port
	c    *client.Client
}

func startHTTPNode(t *testing.T, cfg node.Config) *httpNode {
	t.Helper()
	cfg.DataDir, cfg.HTTP, cfg.NATSListen = t.TempDir(), "127.0.0.1:0", "127.0.0.1:0"
	cfg.Authorities = testkeys.Authorities
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	n, err := node.Open(ctx, cfg)
	if err != nil {
		t.Fatalf("node.Open: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := n.Close(ctx); err != nil {
			t.Errorf("closing node: %v", err)
		}
	})
	// A client of its own, so that its connections are not the test's
	// hostile ones. It drops idle connections before the server does, as
	// the client package's default does, never to send a request on one
	// the server is closing.
	idle := cfg.HTTPLimits.WithDefaults().IdleTimeout / 2
	c, err := client.New("http://"+n.HTTPAddr(), &http.Client{Transport: &http.Transport{IdleConnTimeout: idle}, Timeout: 60 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	return &httpNode{t: t, addr: n.HTTPAddr(), c: c.WithKey(testkeys.Authority)}
}

// submit signs events as one submission by the test authority, sends it
// through the node's own client, and fails the test unless every one is
// accepted.
func (hn *httpNode) submit(evs ...*events.Event) {
	hn.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	rs, err := hn.c.SubmitSigned(ctx, signed(hn.t, evs...))
	if err != nil {
		hn.t.Fatalf("submitting %d events: %v", len(evs), err)
	}
	if len(rs) != len(evs) {
		hn.t.Fatalf("%d receipts for %d events", len(rs), len(evs))
	}
	for i, r := range rs {
		if r.Verdict != events.Accepted {
			hn.t.Fatalf("event %d: %s: %s", i, r.Verdict, r.Reason)
		}
	}
}

// dial opens a raw connection to the node, closed at the end of the test.
func (hn *httpNode) dial() net.Conn {
	hn.t.Helper()
	c, err := net.DialTimeout("tcp", hn.addr, 10*time.Second)
	if err != nil {
		hn.t.Fatalf("dial %s: %v", hn.addr, err)
	}
	hn.t.Cleanup(func() { c.Close() })
	return c
}

// heapPeak samples HeapInuse until stop is closed and returns the
// highest value seen.
func heapPeak(stop <-chan struct{}) <-chan uint64 {
	out := make(chan uint64, 1)
	go func() {
		var ms runtime.MemStats
		var peak uint64
		tick := time.NewTicker(5 * time.Millisecond)
		defer tick.Stop()
		for {
			runtime.ReadMemStats(&ms)
			peak = max(peak, ms.HeapInuse)
			select {
			case <-stop:
				out <- peak
				return
			case <-tick.C:
			}
		}
	}()
	return out
}

// TestHostileContentLength: 80 connections announce a body of the most a
// submission may be (api.MaxBodySize, 8 MiB) and send one byte of it. The
// heap must not grow by what they announced (80 × 8 MiB = 640 MiB), and a
// normal submission must be served meanwhile. A body announced past the
// limit is refused with 413 before any of it is read.
func TestHostileContentLength(t *testing.T) {
	hn := startHTTPNode(t, node.Config{})
	hn.submit(mkEvent(t, elecMain, testManifest("GA-6")))

	{
		c := hn.dial()
		c.SetDeadline(time.Now().Add(30 * time.Second))
		fmt.Fprintf(c, "POST /v1/submissions HTTP/1.1\r\nHost: ledger\r\nContent-Length: %d\r\nExpect: 100-continue\r\n\r\n", api.MaxBodySize+1)
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusRequestEntityTooLarge || !strings.Contains(string(b), "larger than") {
			t.Errorf("a body announced past the limit: HTTP %d %s, want 413", resp.StatusCode, b)
		}
	}

	const conns, announced = 80, api.MaxBodySize
	runtime.GC()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)
	stop := make(chan struct{})
	peak := heapPeak(stop)

	// Each waits for 100 Continue, which the server sends when its
	// handler starts reading the body, then sends one byte.
	var wg sync.WaitGroup
	var reading atomic.Int32
	for range conns {
		c := hn.dial()
		wg.Go(func() {
			c.SetDeadline(time.Now().Add(30 * time.Second))
			fmt.Fprintf(c, "POST /v1/submissions HTTP/1.1\r\nHost: ledger\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: %d\r\nExpect: 100-continue\r\n\r\n", announced)
			if line, err := bufio.NewReader(c).ReadString('\n'); err != nil || !strings.HasPrefix(line, "HTTP/1.1 100 ") {
				t.Errorf("announced body: %q, %v", line, err)
				return
			}
			c.Write([]byte("e"))
			reading.Add(1)
		})
	}
	wg.Wait()
	time.Sleep(100 * time.Millisecond) // the byte read
	hn.submit(mkEvent(t, elecMain, houseReport("cobb-01", 100, 90, 10)))
	time.Sleep(500 * time.Millisecond)
	close(stop)
	p := <-peak
	grew := int64(p) - int64(before.HeapInuse)
	t.Logf("%d connections announcing %d MiB each: heap in use %d MiB before, peak %d MiB (+%d MiB)",
		reading.Load(), announced>>20, before.HeapInuse>>20, p>>20, grew>>20)
	if grew > 256<<20 {
		t.Errorf("heap in use grew by %d MiB under the attack, want under 256 MiB", grew>>20)
	}
}

// get sends GET path on a raw connection and reads the answer, leaving the
// connection open (keep-alive).
func get(t *testing.T, c net.Conn, br *bufio.Reader, path string) int {
	t.Helper()
	c.SetDeadline(time.Now().Add(30 * time.Second))
	defer c.SetDeadline(time.Time{})
	if _, err := fmt.Fprintf(c, "GET %s HTTP/1.1\r\nHost: ledger\r\n\r\n", path); err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

// waitClosed waits up to within for the server to close c, reading and
// dropping whatever it sends first (an error answer). It returns that,
// or an error if c is still open.
func waitClosed(c net.Conn, within time.Duration) (string, error) {
	c.SetReadDeadline(time.Now().Add(within))
	b, err := io.ReadAll(c)
	var ne net.Error
	switch {
	case err == nil, errors.Is(err, syscall.ECONNRESET):
		return string(b), nil
	case errors.As(err, &ne) && ne.Timeout():
		return string(b), fmt.Errorf("still open after %v", within)
	}
	return string(b), err
}

// TestHostileSlowBody: bodies dribbled a byte at a time are cut off by the
// read timeout, with 408, and their connections closed.
func TestHostileSlowBody(t *testing.T) {
	const readTimeout = time.Second
	hn := startHTTPNode(t, node.Config{HTTPLimits: api.Limits{ReadTimeout: readTimeout}})
	const conns = 20
	stop := make(chan struct{})
	var wg sync.WaitGroup
	defer wg.Wait()
	defer close(stop)
	cs := make([]net.Conn, conns)
	for i := range cs {
		c := hn.dial()
		cs[i] = c
		wg.Go(func() {
			if _, err := fmt.Fprintf(c, "POST /v1/submissions HTTP/1.1\r\nHost: ledger\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: 1000\r\n\r\ne"); err != nil {
				return
			}
			tick := time.NewTicker(100 * time.Millisecond)
			defer tick.Stop()
			for {
				select {
				case <-stop:
					return
				case <-tick.C:
				}
				if _, err := c.Write([]byte(" ")); err != nil {
					return
				}
			}
		})
	}
	for i, c := range cs {
		answer, err := waitClosed(c, 30*time.Second)
		if err != nil {
			t.Fatalf("slow body %d: %v", i, err)
		}
		if !strings.HasPrefix(answer, "HTTP/1.1 408 ") {
			t.Errorf("slow body %d answered %q, want 408", i, answer)
		}
	}
	hn.submit(mkEvent(t, elecMain, testManifest("GA-6")))
}

// TestHostileBodyRate: a body dribbled below the minimum rate is cut off
// with 408 once the grace period is over, long before the read timeout,
// while a client sending at the rate is served.
func TestHostileBodyRate(t *testing.T) {
	const readTimeout = 10 * time.Minute
	hn := startHTTPNode(t, node.Config{HTTPLimits: api.Limits{ReadTimeout: readTimeout, BodyGrace: 300 * time.Millisecond, MinBodyRate: 1 << 10}})
	c := hn.dial()
	start := time.Now()
	go func() {
		if _, err := fmt.Fprintf(c, "POST /v1/submissions HTTP/1.1\r\nHost: ledger\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: 100000\r\n\r\ne"); err != nil {
			return
		}
		for range 600 {
			time.Sleep(100 * time.Millisecond)
			if _, err := c.Write([]byte(" ")); err != nil {
				return
			}
		}
	}()
	answer, err := waitClosed(c, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(answer, "HTTP/1.1 408 ") || time.Since(start) >= readTimeout {
		t.Errorf("a body at 10 bytes/s answered %q after %v, want 408 well before the read timeout", answer, time.Since(start))
	}
	// A body at the rate: the manifest's submission, sent in pieces over
	// about a second.
	ev := signed(t, mkEvent(t, elecMain, testManifest("GA-6")))
	honest := hn.dial()
	fmt.Fprintf(honest, "POST /v1/submissions HTTP/1.1\r\nHost: ledger\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: %d\r\nConnection: close\r\n\r\n", len(ev))
	for len(ev) > 0 {
		k := min(len(ev), 200)
		honest.Write(ev[:k])
		ev = ev[k:]
		time.Sleep(20 * time.Millisecond)
	}
	if answer, err := waitClosed(honest, time.Minute); err != nil || !strings.HasPrefix(answer, "HTTP/1.1 200 ") {
		t.Errorf("a body at 10 KB/s: %q, %v", answer, err)
	}
}

// TestHostileIdleConns: keep-alive connections left idle are closed after
// the idle timeout.
func TestHostileIdleConns(t *testing.T) {
	hn := startHTTPNode(t, node.Config{HTTPLimits: api.Limits{IdleTimeout: time.Second}})
	const conns = 50
	cs := make([]net.Conn, conns)
	for i := range cs {
		cs[i] = hn.dial()
		if st := get(t, cs[i], bufio.NewReader(cs[i]), "/healthz"); st != http.StatusOK {
			t.Fatalf("healthz: HTTP %d", st)
		}
	}
	for i, c := range cs {
		if answer, err := waitClosed(c, 30*time.Second); err != nil || answer != "" {
			t.Fatalf("idle connection %d: %q, %v", i, answer, err)
		}
	}
}

// TestHostileConnCap: at the connection cap, connections held idle or
// silent make room for a well-behaved client; connections all busy (here,
// bodies that never end) get it a fast 503 with an error body.
func TestHostileConnCap(t *testing.T) {
	const maxConns = 16
	hn := startHTTPNode(t, node.Config{HTTPLimits: api.Limits{MaxConns: maxConns, IdleTimeout: 10 * time.Minute, ReadTimeout: 10 * time.Minute}})
	hn.submit(mkEvent(t, elecMain, testManifest("GA-6")))

	// The cap filled with idle keep-alives and connections that never
	// send a byte.
	held := make([]net.Conn, maxConns)
	for i := range held {
		held[i] = hn.dial()
		if i%2 == 0 {
			if st := get(t, held[i], bufio.NewReader(held[i]), "/healthz"); st != http.StatusOK {
				t.Fatalf("healthz: HTTP %d", st)
			}
		}
	}
	time.Sleep(100 * time.Millisecond) // every one accepted
	fresh := func() *client.Client {
		c, err := client.New("http://"+hn.addr, &http.Client{Transport: &http.Transport{}, Timeout: 30 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		return c.WithKey(testkeys.Authority)
	}
	ctx := context.Background()
	if _, err := fresh().Submit(ctx, encodeAll(t, mkEvent(t, elecMain, houseReport("cobb-01", 100, 90, 10)))); err != nil {
		t.Fatalf("submission at the cap, the others idle: %v", err)
	}
	closed := 0
	for _, c := range held {
		if _, err := waitClosed(c, 100*time.Millisecond); err == nil {
			closed++
		}
	}
	if closed == 0 {
		t.Error("no idle connection was closed to make room")
	}

	// The cap filled with bodies in progress: each waits for 100 Continue,
	// so that it is being read before the next one connects.
	busy := make([]net.Conn, maxConns)
	for i := range busy {
		c := hn.dial()
		busy[i] = c
		br := bufio.NewReader(c)
		c.SetDeadline(time.Now().Add(30 * time.Second))
		fmt.Fprintf(c, "POST /v1/submissions HTTP/1.1\r\nHost: ledger\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: 1000\r\nExpect: 100-continue\r\n\r\n")
		line, err := br.ReadString('\n')
		if err != nil || !strings.HasPrefix(line, "HTTP/1.1 100 ") {
			t.Fatalf("busy connection %d: %q, %v", i, line, err)
		}
		br.ReadString('\n')
		c.Write([]byte("e"))
	}
	start := time.Now()
	_, err := fresh().Submit(ctx, encodeAll(t, mkEvent(t, elecMain, houseReport("cobb-02", 100, 90, 10))))
	var ce *client.Error
	if !errors.As(err, &ce) || ce.Status != http.StatusServiceUnavailable || !strings.Contains(ce.Problem.Error, fmt.Sprintf("limit of %d connections", maxConns)) {
		t.Fatalf("submission at the cap, the others busy: %v, want 503 naming the cap", err)
	}
	t.Logf("refused in %v: %v", time.Since(start).Round(time.Millisecond), err)

	// Once they go, the client is served.
	for _, c := range busy {
		c.Close()
	}
	time.Sleep(200 * time.Millisecond)
	if _, err := fresh().Submit(ctx, encodeAll(t, mkEvent(t, elecMain, houseReport("cobb-02", 100, 90, 10)))); err != nil {
		t.Fatalf("submission after the busy connections closed: %v", err)
	}
	metrics := string(hn.getOK(t, "/metrics"))
	for _, m := range []string{"ledger_http_connections_evicted_total", "ledger_http_connections_refused_total"} {
		if !strings.Contains(metrics, m+" ") || strings.Contains(metrics, m+" 0\n") {
			t.Errorf("metric %s is missing or 0", m)
		}
	}
}

func (hn *httpNode) getOK(t *testing.T, path string) []byte {
	t.Helper()
	resp, err := http.Get("http://" + hn.addr + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: HTTP %d, %v", path, resp.StatusCode, err)
	}
	return b
}

// TestHostileStreams: a change stream outlives the write, read and idle
// timeouts while entries flow; past the cap on streams, 503.
func TestHostileStreams(t *testing.T) {
	const timeout = 300 * time.Millisecond
	hn := startHTTPNode(t, node.Config{HTTPLimits: api.Limits{
		ReadTimeout: timeout, WriteTimeout: timeout, IdleTimeout: timeout, MaxStreams: 2}})
	hn.submit(mkEvent(t, elecMain, testManifest("GA-6")))

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	stream := func() (*http.Response, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+hn.addr+"/v1/elections/"+elecMain+"/changes", nil)
		if err != nil {
			t.Fatal(err)
		}
		return (&http.Transport{}).RoundTrip(req)
	}
	resp, err := stream()
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("change stream: %v %v", resp, err)
	}
	ids := make(chan string, 100)
	go func() {
		defer close(ids)
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() {
			if id, ok := strings.CutPrefix(sc.Text(), "id: "); ok {
				ids <- id
			}
		}
	}()
	opened := time.Now()
	const reports = 12
	units := []string{"cobb-01", "cobb-02", "fulton-01", "fulton-02", "dekalb-01"}
	for i := range reports {
		time.Sleep(timeout)
		hn.submit(mkEvent(t, elecMain, houseReport(units[i%len(units)], int64(100+i), 90, 10)))
	}
	want := fmt.Sprint(reports) // the manifest is entry 0
	deadline := time.After(30 * time.Second)
	for got := ""; got != want; {
		select {
		case id, ok := <-ids:
			if !ok {
				t.Fatalf("the stream ended after %v, at entry %s of %s", time.Since(opened).Round(time.Millisecond), got, want)
			}
			got = id
		case <-deadline:
			t.Fatalf("the stream stopped at entry %s of %s", got, want)
		}
	}
	t.Logf("stream open %v with a write timeout of %v", time.Since(opened).Round(time.Millisecond), timeout)

	second, err := stream()
	if err != nil || second.StatusCode != http.StatusOK {
		t.Fatalf("second change stream: %v %v", second, err)
	}
	defer second.Body.Close()
	third, err := stream()
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(third.Body)
	third.Body.Close()
	if third.StatusCode != http.StatusServiceUnavailable || !strings.Contains(string(b), "limit of 2 change streams") {
		t.Errorf("third change stream: HTTP %d %s, want 503", third.StatusCode, b)
	}
}

// TestCloseCutsStalledBodies: a client that stalls a body keeps the
// ledger neither from stopping nor from saying it stopped cleanly: Close
// waits for its context, cuts what is still open, and returns nil.
func TestCloseCutsStalledBodies(t *testing.T) {
	cfg := node.Config{DataDir: t.TempDir(), HTTP: "127.0.0.1:0", NATSListen: "-", Authorities: testkeys.Authorities}
	n, err := node.Open(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	c, err := net.Dial("tcp", n.HTTPAddr())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := fmt.Fprintf(c, "POST /v1/submissions HTTP/1.1\r\nHost: ledger\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: 1000\r\n\r\ne"); err != nil {
		t.Fatal(err)
	}
	// The request is being read once /healthz, on another connection,
	// answers: the server handles connections as they come.
	waitServing(t, n.HTTPAddr())
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	if err := n.Close(ctx); err != nil {
		t.Errorf("Close with a stalled body: %v", err)
	}
	if _, err := waitClosed(c, 30*time.Second); err != nil {
		t.Errorf("the stalled connection after Close: %v", err)
	}
}

// waitServing polls /healthz at addr until it answers 200.
func waitServing(t *testing.T, addr string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get("http://" + addr + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("/healthz did not answer 200: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
