package api

import (
	"bytes"
	"errors"
	"fmt"
	"io"
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
