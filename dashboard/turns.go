package dashboard

import (
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/election-audit/ledger/events"
	"github.com/election-audit/ledger/projections"
)

// Turn is a point of a race where the lead changed hands or a choice's
// share crossed the 50% line: what the entry Index did to the race's
// totals, computed from every entry (not from sampled points).
type Turn struct {
	Contest string `json:"contest"`
	// Index is the entry that made the turn: the totals after entries
	// [0, Index) were one way, those after [0, Index] the other.
	Index    uint64 `json:"index"`
	Recorded string `json:"recorded"` // the stream time of entry Index
	// Kind is what happened:
	//   - "lead": Choice now has more votes than any other, and From led
	//     before ("" if nobody did: no votes yet, or a tie);
	//   - "tie": the lead is shared (From led alone before; "" if nobody);
	//   - "none": no votes are counted any more (after a retraction);
	//   - "above": Choice now has more than half of the votes, and had not;
	//   - "below": Choice had more than half of the votes, and has not.
	Kind   string `json:"kind"`
	Choice string `json:"choice,omitempty"`
	From   string `json:"from,omitempty"`
	// Share is Choice's share after the entry, as the tally writes it
	// (for "tie", the tied choices' share; empty for "none").
	Share string `json:"share,omitempty"`
}

// turnFolder folds an election's log, entry by entry, into the
// election's projection (package projections: the rollup rules of
// docs/events.md, as the ledger keeps them) and records each turn of its
// races. It reads the logged verdicts, as a replay does, and costs per
// entry what the projection's Apply does.
type turnFolder struct {
	proj  *projections.Election
	races map[string]*race
	turns []Turn
}

// race is what a race's totals were after the last entry that changed
// them.
type race struct {
	id      string
	choices []string // manifest order
	leader  int      // -1: nobody (no votes or a tie)
	tied    bool
	above   []bool
}

// manifestEntries reads the entries that hold an election's manifest from
// its log of size entries: entry 0, and the parts that follow it when it
// is in several; nil if the log does not hold them all yet.
func manifestEntries(src EntrySource, election string, size uint64) ([]*events.Entry, error) {
	var head []*events.Entry
	read := func(_ uint64, data []byte) error {
		en, err := events.DecodeEntry(data)
		if err == nil {
			head = append(head, en)
		}
		return err
	}
	if err := src.Entries(election, 0, min(size, 1), read); err != nil || len(head) == 0 {
		return nil, err
	}
	m, ok := head[0].Event.Body.(*events.Manifest)
	if !ok {
		return head, nil // newTurnFolder says what is wrong
	}
	switch n := uint64(events.ManifestEvents(m)); {
	case n > size:
		return nil, nil // not yet all logged
	case n > 1:
		if err := src.Entries(election, 1, n, read); err != nil {
			return nil, err
		}
	}
	return head, nil
}

// newTurnFolder starts from the entries of an election's manifest: entry
// 0, and its parts when it is in several.
func newTurnFolder(election string, ens []*events.Entry) (*turnFolder, error) {
	if len(ens) == 0 {
		return nil, errors.New("the log does not hold its manifest")
	}
	evs := make([]*events.Event, len(ens))
	for i, en := range ens {
		if en.Verdict != events.Accepted {
			return nil, fmt.Errorf("entry %d of the manifest is not accepted", i)
		}
		evs[i] = en.Event
	}
	if _, ok := evs[0].Body.(*events.Manifest); !ok {
		return nil, errors.New("entry 0 is not an accepted manifest")
	}
	m, err := events.AssembleManifest(evs)
	if err != nil {
		return nil, err
	}
	proj, err := projections.New(election, m)
	if err != nil {
		return nil, err
	}
	for _, en := range ens {
		if err := proj.Apply(en); err != nil {
			return nil, err
		}
	}
	f := &turnFolder{proj: proj, races: map[string]*race{}}
	for _, c := range m.Contests {
		if c.Kind == events.KindTurnout {
			continue
		}
		r := &race{id: c.ID, leader: -1, above: make([]bool, len(c.Choices))}
		for _, ch := range c.Choices {
			r.choices = append(r.choices, ch.ID)
		}
		f.races[c.ID] = r
	}
	return f, nil
}

// size is the number of entries folded.
func (f *turnFolder) size() uint64 { return f.proj.Size() }

// apply folds the next entry in.
func (f *turnFolder) apply(en *events.Entry) error {
	contest := "" // the race an accepted count change changes
	if en.Verdict == events.Accepted {
		switch b := en.Event.Body.(type) {
		case *events.CountReport:
			contest = b.Contest
		case *events.Correction:
			contest = b.Contest
		case *events.Retraction:
			_, contest, _ = f.proj.ReportOf(b.Retracts) // before it is applied
		}
	}
	if err := f.proj.Apply(en); err != nil {
		return err
	}
	if r := f.races[contest]; r != nil {
		f.turn(r, en)
	}
	return nil
}

// turn records what entry en did to the lead and the 50% line of race r.
func (f *turnFolder) turn(r *race, en *events.Entry) {
	votes := f.proj.Totals(r.id)
	var total int64
	for _, v := range votes {
		total += v
	}
	at := en.Recorded.UTC().Format(time.RFC3339Nano)
	add := func(kind, choice, from string, share string) {
		f.turns = append(f.turns, Turn{Contest: r.id, Index: en.Index, Recorded: at, Kind: kind, Choice: choice, From: from, Share: share})
	}
	name := func(i int) string {
		if i < 0 {
			return ""
		}
		return r.choices[i]
	}
	leader, tied := -1, false
	if total > 0 {
		for i, v := range votes {
			switch {
			case leader < 0 || v > votes[leader]:
				leader, tied = i, false
			case v == votes[leader]:
				tied = true
			}
		}
	}
	if tied {
		leader = -1
	}
	switch {
	case leader >= 0 && leader != r.leader:
		add("lead", name(leader), name(r.leader), projections.Share(votes[leader], total))
	case leader < 0 && total > 0 && (r.leader >= 0 || !r.tied):
		var top int64
		for _, v := range votes {
			top = max(top, v)
		}
		add("tie", "", name(r.leader), projections.Share(top, total))
	case leader < 0 && total == 0 && (r.leader >= 0 || r.tied):
		add("none", "", name(r.leader), "")
	}
	r.leader, r.tied = leader, tied
	for i := range r.choices {
		v := votes[i]
		above := total > 0 && 2*v > total
		if above != r.above[i] {
			kind := "below"
			if above {
				kind = "above"
			}
			add(kind, r.choices[i], "", projections.Share(v, total))
			r.above[i] = above
		}
	}
}

// Turns keeps, per election, the turns of its log folded so far, and
// folds the entries added since on each call: the whole log is read once
// per election for as long as the process runs, then only what it adds.
type Turns struct {
	src   EntrySource
	mu    sync.Mutex
	folds map[string]*turnFold
}

// EntrySource is what [Turns] reads: a log's entries, as stored.
type EntrySource interface {
	Entries(election string, start, end uint64, fn func(index uint64, data []byte) error) error
}

type turnFold struct {
	mu sync.Mutex
	f  *turnFolder
}

// NewTurns returns turns read from src.
func NewTurns(src EntrySource) *Turns {
	return &Turns{src: src, folds: map[string]*turnFold{}}
}

// Since returns the turns of entries [after, size) of an election's
// committed log of the given size, in log order. A request that read a
// smaller committed size than an earlier one gets the turns up to its
// size: the log only grows.
func (t *Turns) Since(election string, after, size uint64) ([]Turn, error) {
	t.mu.Lock()
	tf := t.folds[election]
	if tf == nil {
		tf = &turnFold{}
		t.folds[election] = tf
	}
	t.mu.Unlock()
	tf.mu.Lock()
	defer tf.mu.Unlock()
	if tf.f == nil && size > 0 {
		head, err := manifestEntries(t.src, election, size)
		if err == nil && head != nil {
			tf.f, err = newTurnFolder(election, head)
		}
		if err != nil {
			return nil, fmt.Errorf("couldn't read the manifest of %s: %w", election, err)
		}
	}
	if tf.f == nil {
		return nil, nil
	}
	if tf.f.size() < size {
		err := t.src.Entries(election, tf.f.size(), size, func(i uint64, data []byte) error {
			en, err := events.DecodeEntry(data)
			if err != nil {
				return fmt.Errorf("entry %d: %w", i, err)
			}
			return tf.f.apply(en)
		})
		if err != nil {
			tf.f = nil
			return nil, fmt.Errorf("couldn't fold %s's log: %w", election, err)
		}
	}
	var out []Turn
	for i := len(tf.f.turns) - 1; i >= 0 && tf.f.turns[i].Index >= after; i-- {
		if tf.f.turns[i].Index < size {
			out = append(out, tf.f.turns[i])
		}
	}
	for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
		out[i], out[j] = out[j], out[i]
	}
	return out, nil
}
