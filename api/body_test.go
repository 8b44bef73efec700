package api

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/election-audit/ledger/internal/testkeys"
)

// bodyRequest is a POST whose body is r, announcing length (-1: none).
func bodyRequest(r io.Reader, length int64) *http.Request {
	req := httptest.NewRequest(http.MethodPost, "/v1/submissions", r)
	req.ContentLength = length
	return req
}

func TestReadBody(t *testing.T) {
	body := benchBody()
	for _, length := range []int64{int64(len(body)), -1} {
		mem := &budget{max: DefaultMaxBodyMemory}
		got, err := readBody(httptest.NewRecorder(), bodyRequest(&trickle{bytes.NewReader(body), 32 << 10}, length), mem, Limits{})
		if err != nil || !bytes.Equal(got, body) {
			t.Fatalf("Content-Length %d: read %d of %d bytes, %v", length, len(got), len(body), err)
		}
		if length >= 0 && cap(got) != len(body) {
			t.Errorf("Content-Length %d: buffer of %d bytes, want exactly the body", length, cap(got))
		}
		if mem.used.Load() != int64(cap(got)) {
			t.Errorf("Content-Length %d: %d bytes taken from the budget for a buffer of %d", length, mem.used.Load(), cap(got))
		}
	}
}

func TestReadBodyTooLarge(t *testing.T) {
	zeros := func(n int64) io.Reader { return io.LimitReader(zeroReader{}, n) }
	for name, req := range map[string]*http.Request{
		"announced": bodyRequest(zeros(1), MaxBodySize+1),
		"chunked":   bodyRequest(zeros(MaxBodySize+100), -1),
	} {
		mem := &budget{max: DefaultMaxBodyMemory}
		_, err := readBody(httptest.NewRecorder(), req, mem, Limits{})
		var mbe *http.MaxBytesError
		if !errors.As(err, &mbe) {
			t.Errorf("%s: %v, want a MaxBytesError", name, err)
		}
		if n := mem.used.Load(); n != 0 {
			t.Errorf("%s: %d bytes still taken from the budget", name, n)
		}
	}
}

type zeroReader struct{}

func (zeroReader) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}

// TestReadBodyAnnounced: a body that announces MaxBodySize (8 MiB) and
// sends one byte holds the first buffer only.
func TestReadBodyAnnounced(t *testing.T) {
	pr, pw := io.Pipe()
	mem := &budget{max: DefaultMaxBodyMemory}
	done := make(chan error, 1)
	go func() {
		_, err := readBody(httptest.NewRecorder(), bodyRequest(pr, MaxBodySize), mem, Limits{})
		done <- err
	}()
	pw.Write([]byte("{"))
	time.Sleep(50 * time.Millisecond)
	if n := mem.used.Load(); n > bodyStart {
		t.Errorf("one byte of an announced %d holds %d bytes, want at most %d", MaxBodySize, n, bodyStart)
	}
	pw.CloseWithError(errors.New("gone"))
	if err := <-done; err == nil {
		t.Error("a body cut short was read without error")
	}
	if n := mem.used.Load(); n != 0 {
		t.Errorf("%d bytes still taken from the budget", n)
	}
}

// TestReadBodyBudget: past the budget a body is refused, and what it took
// is given back.
func TestReadBodyBudget(t *testing.T) {
	mem := &budget{max: 100 << 10}
	mem.take(90 << 10)
	_, err := readBody(httptest.NewRecorder(), bodyRequest(bytes.NewReader(benchBody()), -1), mem, Limits{})
	if !errors.Is(err, errBodyMemory) {
		t.Errorf("got %v, want errBodyMemory", err)
	}
	if n := mem.used.Load(); n != 90<<10 {
		t.Errorf("budget holds %d bytes, want %d", n, 90<<10)
	}
}

// benchBody is a signed submission of 1,000 events of about 1 KB each,
// the size `ledger submit` sends.
func benchBody() []byte {
	pad := bytes.Repeat([]byte("x"), 760)
	lines := make([][]byte, 1000)
	for i := range lines {
		lines[i] = fmt.Appendf(nil, `{"v":1,"type":"count.reported","id":"019a0000-0000-7000-8000-%012d","election":"bench","data":{"unit":"p-%d","contest":"c","counts":[{"choice":"a","vote_type":"ed","votes":%d}],"source":{"operator":"%s"}}}`, i, i, i, pad)
	}
	b, err := testkeys.Authority.SignSubmission("bench", lines)
	if err != nil {
		panic(err)
	}
	return b
}

// trickle returns at most n bytes per Read, as a socket does.
type trickle struct {
	r io.Reader
	n int
}

func (t *trickle) Read(p []byte) (int, error) {
	if len(p) > t.n {
		p = p[:t.n]
	}
	return t.r.Read(p)
}

// BenchmarkReadBody reads a 1,000-event body arriving 32 KiB at a time,
// with its Content-Length announced and without (chunked).
func BenchmarkReadBody(b *testing.B) {
	body := benchBody()
	for _, announced := range []bool{true, false} {
		b.Run(fmt.Sprintf("content-length=%v", announced), func(b *testing.B) {
			b.SetBytes(int64(len(body)))
			b.ReportAllocs()
			mem := &budget{max: DefaultMaxBodyMemory}
			for b.Loop() {
				length := int64(-1)
				if announced {
					length = int64(len(body))
				}
				got, err := readBody(httptest.NewRecorder(), bodyRequest(&trickle{bytes.NewReader(body), 32 << 10}, length), mem, Limits{})
				if err != nil || len(got) != len(body) {
					b.Fatalf("read %d bytes, %v", len(got), err)
				}
				mem.give(int64(cap(got)))
			}
		})
	}
}

// BenchmarkReadBodyHTTP posts the body to a loopback server whose handler
// reads it with readBody.
func BenchmarkReadBodyHTTP(b *testing.B) {
	body := benchBody()
	mem := &budget{max: DefaultMaxBodyMemory}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got, err := readBody(w, r, mem, Limits{}.WithDefaults())
		defer mem.give(int64(cap(got)))
		if err != nil || len(got) != len(body) {
			http.Error(w, fmt.Sprintf("read %d bytes, %v", len(got), err), http.StatusBadRequest)
		}
	}))
	defer srv.Close()
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		resp, err := srv.Client().Post(srv.URL, "text/plain; charset=utf-8", bytes.NewReader(body))
		if err != nil {
			b.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			b.Fatalf("HTTP %d", resp.StatusCode)
		}
	}
}

// TestReadBodyChargedByArrival: a body that announces MaxBodySize (8 MiB),
// sends 1 MiB and a byte, and stalls holds what it sent, rounded up to a
// chunk: 32 of them used to take the whole budget (8 MiB each), and every
// honest submission got 503.
func TestReadBodyChargedByArrival(t *testing.T) {
	pr, pw := io.Pipe()
	mem := &budget{max: DefaultMaxBodyMemory}
	done := make(chan error, 1)
	go func() {
		got, err := readBody(httptest.NewRecorder(), bodyRequest(pr, MaxBodySize), mem, Limits{})
		mem.give(int64(cap(got)))
		done <- err
	}()
	const sent = 1<<20 + 1
	pw.Write(bytes.Repeat([]byte("x"), sent))
	time.Sleep(50 * time.Millisecond)
	if n := mem.used.Load(); n < sent || n > sent+bodyChunk {
		t.Errorf("%d bytes of an announced %d hold %d bytes of the budget, want %d to %d", sent, MaxBodySize, n, sent, sent+bodyChunk)
	}
	pw.CloseWithError(errors.New("gone"))
	if err := <-done; err == nil {
		t.Error("a body cut short was read without error")
	}
	if n := mem.used.Load(); n != 0 {
		t.Errorf("%d bytes still taken from the budget", n)
	}
}

// bodyServer serves readBody with lim on a loopback server, whose
// connections can take read deadlines, and reports each request's outcome.
func bodyServer(t *testing.T, lim Limits, after func(r *http.Request) error) (addr string, outcomes <-chan error) {
	out := make(chan error, 10)
	mem := &budget{max: DefaultMaxBodyMemory}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got, err := readBody(w, r, mem, lim)
		mem.give(int64(cap(got)))
		if err == nil && after != nil {
			err = after(r)
		}
		out <- err
	}))
	t.Cleanup(srv.Close)
	return srv.Listener.Addr().String(), out
}

// TestReadBodyStall: a body that sends part of itself and pauses for longer
// than the grace period is cut off, however much it sent before: at 1 byte
// per second on average, 1,000 bytes sent would otherwise buy it 1,000 s,
// here the read timeout.
func TestReadBodyStall(t *testing.T) {
	addr, outcomes := bodyServer(t, Limits{BodyGrace: 200 * time.Millisecond, MinBodyRate: 1, ReadTimeout: time.Minute}, nil)
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	fmt.Fprintf(c, "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n%s", bytes.Repeat([]byte("x"), 1000))
	select {
	case err := <-outcomes:
		var ne net.Error
		if !errors.As(err, &ne) || !ne.Timeout() {
			t.Errorf("a stalled body: %v, want a timeout", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("a body stalled for 30 s is still being read")
	}
}

// TestReadBodyDeadlineCleared: once the body is whole, its read deadline no
// longer applies: left in force, it cancelled the request's context while
// the submission waited for the log (honest submissions got 503 `context
// canceled` when the log was slow).
func TestReadBodyDeadlineCleared(t *testing.T) {
	addr, outcomes := bodyServer(t, Limits{BodyGrace: 100 * time.Millisecond, MinBodyRate: 4 << 10, ReadTimeout: time.Minute},
		func(r *http.Request) error {
			select {
			case <-r.Context().Done():
				return fmt.Errorf("the request's context ended after its body was read: %w", context.Cause(r.Context()))
			case <-time.After(time.Second):
				return nil
			}
		})
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	fmt.Fprintf(c, "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello")
	if err := <-outcomes; err != nil {
		t.Error(err)
	}
}
