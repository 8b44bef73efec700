// Package importertest holds the test helpers every importer's tests share:
// [CheckValid], the check that an [importer.Import] is what the ledger
// accepts, and small helpers to build hostile inputs ([Edit], [Endless]) and
// to read what a parser returned ([AsError], [Sum], [Units]).
package importertest

import (
	"bytes"
	"errors"
	"io"
	"io/fs"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/election-audit/ledger/events"
	"github.com/election-audit/ledger/importer"
)

// checkID is the event ID CheckValid wraps bodies in: a fixed UUIDv7, so
// that a failure reads the same on every run.
var checkID = uuid.MustParse("01890000-0000-7000-8000-000000000001")

// CheckValid submits every body of imp as the ledger would: it runs
// [importer.Check], then wraps each body in an event, validates, encodes
// and decodes it back. Validate must not change a body (parsers return them
// normalised) and the round trip must give back the same body.
func CheckValid(t testing.TB, imp *importer.Import) {
	t.Helper()
	if err := importer.Check("check", imp); err != nil {
		t.Fatalf("importer.Check: %v", err)
	}
	bodies := []events.Body{imp.Manifest}
	for _, r := range imp.Reports {
		bodies = append(bodies, r)
	}
	for i, body := range bodies {
		ev := &events.Event{ID: checkID, Election: imp.Election, Body: body}
		before, err := ev.Encode()
		if err != nil {
			t.Fatalf("body %d: %v", i, err)
		}
		if err := ev.Validate(); err != nil {
			t.Fatalf("body %d (%s) is invalid: %v", i, body.Type(), err)
		}
		enc, err := ev.Encode()
		if err != nil {
			t.Fatalf("body %d: %v", i, err)
		}
		if !bytes.Equal(enc, before) {
			t.Errorf("body %d: Validate changed it: Parse must return bodies already normalised", i)
		}
		if i == 0 {
			checkManifest(t, ev)
			continue
		}
		back, err := events.Decode(enc)
		if err != nil {
			t.Fatalf("body %d does not decode: %v", i, err)
		}
		if !reflect.DeepEqual(back.Body, body) {
			t.Errorf("body %d changed in an encode/decode round trip", i)
		}
	}
}

// checkManifest checks that the manifest event ev goes to the ledger whole:
// in the events SplitManifest makes of it (one, or parts when it is too
// large for one), each decodes, and they assemble into the same manifest.
func checkManifest(t testing.TB, ev *events.Event) {
	t.Helper()
	parts, err := events.SplitManifest(ev)
	if err != nil {
		t.Fatalf("the manifest cannot be split into events: %v", err)
	}
	back := make([]*events.Event, len(parts))
	for k, p := range parts {
		enc, err := p.Encode()
		if err != nil {
			t.Fatal(err)
		}
		if back[k], err = events.Decode(enc); err != nil {
			t.Fatalf("event %d of the manifest does not decode: %v", k, err)
		}
	}
	m, err := events.AssembleManifest(back)
	if err != nil {
		t.Fatalf("the manifest's events do not assemble: %v", err)
	}
	whole := *m
	whole.Parts = 0
	if !reflect.DeepEqual(&whole, ev.Body) {
		t.Errorf("the manifest changed in its split, encode, decode and assembly")
	}
}

// AsError returns err as an [*importer.Error], failing the test if it is not
// one.
func AsError(t testing.TB, err error) *importer.Error {
	t.Helper()
	var e *importer.Error
	if !errors.As(err, &e) {
		t.Fatalf("error %v (%T) is not a *importer.Error", err, err)
	}
	return e
}

// Equal reports got != want as a test error naming what.
func Equal[T comparable](t testing.TB, what string, got, want T) {
	t.Helper()
	if got != want {
		t.Errorf("%s = %v, want %v", what, got, want)
	}
}

// ReadFile reads a file of fsys, failing the test if it cannot.
func ReadFile(t testing.TB, fsys fs.FS, name string) []byte {
	t.Helper()
	b, err := fs.ReadFile(fsys, name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// Edit returns doc with each old string of oldnew, which must occur exactly
// once, replaced by the new one that follows it.
func Edit(t testing.TB, doc string, oldnew ...string) string {
	t.Helper()
	for i := 0; i < len(oldnew); i += 2 {
		if n := strings.Count(doc, oldnew[i]); n != 1 {
			t.Fatalf("%q occurs %d times in the sample", oldnew[i], n)
		}
		doc = strings.Replace(doc, oldnew[i], oldnew[i+1], 1)
	}
	return doc
}

// Endless returns a reader that never ends: prefix, then fill forever. It
// feeds a parser more than it may read.
func Endless(prefix string, fill byte) io.Reader {
	return io.MultiReader(strings.NewReader(prefix), endless(fill))
}

type endless byte

func (e endless) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = byte(e)
	}
	return len(p), nil
}

// Totals are an import's counts for one contest, summed by choice, unit
// and vote type.
type Totals struct {
	All                    int64
	Choice, Unit, VoteType map[string]int64
}

// Sum sums the counts of imp for one contest.
func Sum(imp *importer.Import, contest string) Totals {
	s := Totals{Choice: map[string]int64{}, Unit: map[string]int64{}, VoteType: map[string]int64{}}
	for _, r := range imp.Reports {
		if r.Contest != contest {
			continue
		}
		for _, c := range r.Counts {
			s.All += c.Votes
			s.Choice[c.Choice] += c.Votes
			s.Unit[r.Unit] += c.Votes
			s.VoteType[c.VoteType] += c.Votes
		}
	}
	return s
}

// Contest returns the contest of m with the ID id, failing the test if there
// is none.
func Contest(t testing.TB, m *events.Manifest, id string) *events.Contest {
	t.Helper()
	i := slices.IndexFunc(m.Contests, func(c events.Contest) bool { return c.ID == id })
	if i < 0 {
		t.Fatalf("no contest %q", id)
	}
	return &m.Contests[i]
}

// Choice returns the choice of c with the ID id, failing the test if there
// is none.
func Choice(t testing.TB, c *events.Contest, id string) *events.Choice {
	t.Helper()
	i := slices.IndexFunc(c.Choices, func(ch events.Choice) bool { return ch.ID == id })
	if i < 0 {
		t.Fatalf("no choice %q in %q", id, c.ID)
	}
	return &c.Choices[i]
}

// VoteTypes lists vote types for comparison with a want string:
// "election-day=Election Day, provisional=Provisional".
func VoteTypes(vts []events.VoteType) string {
	var s []string
	for _, v := range vts {
		s = append(s, v.ID+"="+v.Name)
	}
	return strings.Join(s, ", ")
}

// Units lists units for comparison with a want string:
// "ga=Georgia(state), cobb=Cobb County(county<ga)".
func Units(us []events.Unit) string {
	var s []string
	for _, u := range us {
		k := u.Kind
		if u.Parent != "" {
			k += "<" + u.Parent
		}
		s = append(s, u.ID+"="+u.Name+"("+k+")")
	}
	return strings.Join(s, ", ")
}
