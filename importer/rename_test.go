package importer_test

import (
	"errors"
	"testing"

	"github.com/google/uuid"

	"github.com/election-audit/ledger/events"
	"github.com/election-audit/ledger/importer"
)

func TestKeepLoggedNames(t *testing.T) {
	report := func(file, sum, unit string) *events.Event {
		return &events.Event{ID: uuid.New(), Election: "e", Body: &events.CountReport{Unit: unit, Contest: "c",
			Source: events.Source{File: file, SHA256: sum}}}
	}
	evs := []*events.Event{report("copy.csv", "aa", "u1"), report("copy.csv", "aa", "u2"), report("new.csv", "bb", "u1")}
	logged := map[uuid.UUID]*events.Entry{
		evs[0].ID: {Event: report("original.csv", "aa", "u1")},
	}
	asked := 0
	renamed, err := importer.KeepLoggedNames(evs, func(id uuid.UUID) (*events.Entry, error) {
		asked++
		return logged[id], nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if asked != 2 {
		t.Errorf("asked for %d events, want 2 (the first report of each file)", asked)
	}
	if len(renamed) != 1 || renamed[0] != (importer.Renamed{File: "copy.csv", LoggedAs: "original.csv"}) {
		t.Errorf("renamed = %+v", renamed)
	}
	for i, want := range []string{"original.csv", "original.csv", "new.csv"} {
		if got := evs[i].Body.(*events.CountReport).Source.File; got != want {
			t.Errorf("report %d: source file %q, want %q", i, got, want)
		}
	}
	boom := errors.New("unreachable")
	if _, err := importer.KeepLoggedNames(evs, func(uuid.UUID) (*events.Entry, error) { return nil, boom }); !errors.Is(err, boom) {
		t.Errorf("error %v, want %v", err, boom)
	}
}
