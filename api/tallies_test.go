package api

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// counted returns a build of a document at size that counts its calls
// and waits for release.
func counted(calls *atomic.Int32, release <-chan struct{}, size uint64) func(uint64) (*tallyDoc, error) {
	return func(uint64) (*tallyDoc, error) {
		calls.Add(1)
		<-release
		return newDoc(size, "application/json", fmt.Appendf(nil, "{\"size\":%d}\n", size)), nil
	}
}

// TestTalliesShareABuild: identical requests that come while a document is
// built share that build; the next ones get the kept document until the
// log grows. 40 concurrent reads of the largest tally used to be 40 builds,
// 5.4 GB of RSS.
func TestTalliesShareABuild(t *testing.T) {
	ts := newTallies(Limits{}.WithDefaults())
	var calls atomic.Int32
	release := make(chan struct{})
	key := flightKey{election: "e", kind: docTally, size: 7}
	var wg sync.WaitGroup
	docs := make([]*tallyDoc, 40)
	for i := range docs {
		wg.Go(func() {
			d, err := ts.get(context.Background(), key, counted(&calls, release, 7))
			if err != nil {
				t.Error(err)
			}
			docs[i] = d
		})
	}
	time.Sleep(50 * time.Millisecond) // every request waiting
	close(release)
	wg.Wait()
	if n := calls.Load(); n != 1 {
		t.Errorf("40 identical requests made %d builds, want 1", n)
	}
	for i, d := range docs {
		if d != docs[0] {
			t.Fatalf("request %d got another document", i)
		}
	}
	// Kept: no build for the same log.
	if d, err := ts.get(context.Background(), key, counted(&calls, release, 7)); err != nil || d != docs[0] || calls.Load() != 1 {
		t.Errorf("a request after the build: %v, %d builds; want the kept document", err, calls.Load())
	}
	// The log grew: built again, and kept in its place.
	key.size = 8
	if d, err := ts.get(context.Background(), key, counted(&calls, release, 8)); err != nil || d.size != 8 || calls.Load() != 2 {
		t.Errorf("a request after the log grew: %+v, %v, %d builds; want a new document", d, err, calls.Load())
	}
	if len(ts.cache) != 1 || ts.bytes != int64(len(ts.cache[cacheKey{"e", docTally}].body)) {
		t.Errorf("cache holds %d documents, %d bytes, want the newest only", len(ts.cache), ts.bytes)
	}
}

// TestTalliesBusy: replays beyond the slots wait, and are answered 503 with
// Retry-After when none comes free in time; meanwhile the current tally is
// built in its own slot.
func TestTalliesBusy(t *testing.T) {
	ts := newTallies(Limits{MaxTallyBuilds: 1, TallyWait: 100 * time.Millisecond}.WithDefaults())
	var calls atomic.Int32
	release := make(chan struct{})
	defer close(release)
	go ts.get(context.Background(), flightKey{election: "e", kind: docAsOf, size: 1}, counted(&calls, release, 1))
	time.Sleep(50 * time.Millisecond) // the first replay in its slot

	_, err := ts.get(context.Background(), flightKey{election: "e", kind: docAsOf, size: 2}, counted(&calls, release, 2))
	w := httptest.NewRecorder()
	serveDoc(w, nil, err, func(err error) { t.Errorf("answered as a build error: %v", err) })
	if w.Code != http.StatusServiceUnavailable || w.Header().Get("Retry-After") == "" || !strings.Contains(w.Body.String(), "limit of tally documents") {
		t.Errorf("a replay with every slot taken: HTTP %d, Retry-After %q, %s", w.Code, w.Header().Get("Retry-After"), w.Body)
	}

	current := make(chan struct{})
	close(current)
	if _, err := ts.get(context.Background(), flightKey{election: "e", kind: docTally, size: 2}, counted(&calls, current, 2)); err != nil {
		t.Errorf("the current tally while replays hold their slots: %v", err)
	}
	if len(ts.flights) != 1 {
		t.Errorf("%d builds in progress, want the first replay's", len(ts.flights))
	}
}

// TestTalliesRequestLeaves: a request that leaves does not stop the build
// for the others.
func TestTalliesRequestLeaves(t *testing.T) {
	ts := newTallies(Limits{}.WithDefaults())
	var calls atomic.Int32
	release := make(chan struct{})
	key := flightKey{election: "e", kind: docNIST, size: 3}
	ctx, cancel := context.WithCancel(context.Background())
	left := make(chan error)
	go func() {
		_, err := ts.get(ctx, key, counted(&calls, release, 3))
		left <- err
	}()
	time.Sleep(20 * time.Millisecond)
	cancel()
	if err := <-left; err != context.Canceled {
		t.Errorf("a request that left: %v", err)
	}
	close(release)
	if d, err := ts.get(context.Background(), key, counted(&calls, release, 3)); err != nil || d.size != 3 || calls.Load() != 1 {
		t.Errorf("after the first request left: %+v, %v, %d builds; want its build's document", d, err, calls.Load())
	}
}

// TestTalliesPanic: a build that panics fails its requests, not the process.
func TestTalliesPanic(t *testing.T) {
	ts := newTallies(Limits{}.WithDefaults())
	_, err := ts.get(context.Background(), flightKey{election: "e", kind: docAsOf, size: 1},
		func(uint64) (*tallyDoc, error) { panic("boom") })
	if err == nil || !strings.Contains(err.Error(), "boom") {
		t.Errorf("a build that panicked: %v", err)
	}
}

// TestTalliesCacheBound: the kept documents stay under the limit, the least
// recently read dropped first; an older document does not replace a newer.
func TestTalliesCacheBound(t *testing.T) {
	ts := newTallies(Limits{TallyCache: 100}.WithDefaults())
	doc := func(size uint64, n int) *tallyDoc {
		return newDoc(size, "application/json", make([]byte, n))
	}
	ts.keep(cacheKey{"a", docTally}, doc(5, 40))
	ts.keep(cacheKey{"b", docTally}, doc(5, 40))
	ts.cache[cacheKey{"a", docTally}].used = time.Now().Add(time.Second) // read since
	ts.keep(cacheKey{"c", docTally}, doc(5, 40))
	if _, ok := ts.cache[cacheKey{"b", docTally}]; ok || len(ts.cache) != 2 || ts.bytes != 80 {
		t.Errorf("cache of %d bytes: %d documents, b kept %v", ts.bytes, len(ts.cache), ok)
	}
	ts.keep(cacheKey{"a", docTally}, doc(4, 10))
	if d := ts.cache[cacheKey{"a", docTally}]; d.size != 5 {
		t.Errorf("a document at size 4 replaced the one at %d", d.size)
	}
	ts.keep(cacheKey{"d", docTally}, doc(5, 101))
	if _, ok := ts.cache[cacheKey{"d", docTally}]; ok || ts.bytes != 80 {
		t.Error("a document larger than the cache was kept")
	}
}

// TestTalliesLatestWhileTheLogGrows: requests for the current tally that
// each saw a larger log than the build in progress was asked for do not
// each start a build: they share the one queued for the slot, which reads
// the log when it starts, and gets at least the largest size they saw.
func TestTalliesLatestWhileTheLogGrows(t *testing.T) {
	ts := newTallies(Limits{}.WithDefaults())
	var calls atomic.Int32
	release := make(chan struct{})
	var built []uint64
	var mu sync.Mutex
	build := func(atLeast uint64) (*tallyDoc, error) {
		calls.Add(1)
		mu.Lock()
		built = append(built, atLeast)
		mu.Unlock()
		<-release
		return newDoc(atLeast, "application/json", []byte("{}\n")), nil
	}
	get := func(size uint64) (*tallyDoc, error) {
		return ts.get(context.Background(), flightKey{election: "e", kind: docTally, size: size}, build)
	}
	var wg sync.WaitGroup
	wg.Go(func() { get(5) })
	time.Sleep(50 * time.Millisecond) // in progress, for size 5
	docs := make([]*tallyDoc, 20)
	for i := range docs {
		wg.Go(func() {
			d, err := get(uint64(4 + i%8)) // 4 to 11: 4 and 5 share the build in progress
			if err != nil {
				t.Error(err)
			}
			docs[i] = d
		})
	}
	time.Sleep(50 * time.Millisecond) // every request waiting
	close(release)
	wg.Wait()
	if n := calls.Load(); n != 2 || built[1] != 11 {
		t.Errorf("%d builds, for sizes %v; want 2, the second for at least 11", n, built)
	}
	for i, d := range docs {
		if want := uint64(4 + i%8); d == nil || d.size < want {
			t.Errorf("a request that saw size %d got %+v", want, d)
		}
	}
}
