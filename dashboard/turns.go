package dashboard

import (
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/google/uuid"

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

// turnFolder folds an election's log, entry by entry, into the totals of
// its races (the rollup rules of docs/events.md: a unit's total is its own
// current report, or else the sum of its children's totals; a race's total
// is the root unit's), and records each turn. It reads only accepted
// entries' counts, as the projection does, and costs per entry what the
// entry's unit is deep, never what the election is large.
type turnFolder struct {
	size     uint64 // entries folded
	manifest *events.Manifest
	parent   []int          // unit index → parent index (-1 for the root)
	unitIx   map[string]int // unit ID → index
	races    map[string]*race
	current  map[uuid.UUID]reportRef // current report ID → where it stands
	turns    []Turn
}

type reportRef struct {
	race *race
	unit int
}

type race struct {
	id      string
	choices []string        // manifest order
	choice  map[string]int  // choice ID → index
	own     map[int][]int64 // unit → its current report, per choice; absent if none
	reports map[int]uuid.UUID
	sum     map[int][]int64 // unit → the sum of its children's totals
	// What the totals were after the last entry that changed them.
	leader int // -1: nobody (no votes or a tie)
	tied   bool
	above  []bool
}

func newTurnFolder(m *events.Manifest) (*turnFolder, error) {
	f := &turnFolder{manifest: m, size: 1, unitIx: make(map[string]int, len(m.Units)),
		parent: make([]int, len(m.Units)), races: map[string]*race{}, current: map[uuid.UUID]reportRef{}}
	for i, u := range m.Units {
		f.parent[i] = -1
		if u.Parent != "" {
			p, ok := f.unitIx[u.Parent]
			if !ok {
				return nil, fmt.Errorf("unit %q has unknown parent %q", u.ID, u.Parent)
			}
			f.parent[i] = p
		}
		f.unitIx[u.ID] = i
	}
	for _, c := range m.Contests {
		if c.Kind == events.KindTurnout {
			continue
		}
		r := &race{id: c.ID, choice: map[string]int{}, own: map[int][]int64{}, reports: map[int]uuid.UUID{},
			sum: map[int][]int64{}, leader: -1, above: make([]bool, len(c.Choices))}
		for i, ch := range c.Choices {
			r.choices = append(r.choices, ch.ID)
			r.choice[ch.ID] = i
		}
		f.races[c.ID] = r
	}
	return f, nil
}

// total is a unit's total: its own report, or its children's sum.
func (r *race) total(u int) []int64 {
	if own, ok := r.own[u]; ok {
		return own
	}
	return r.sum[u]
}

// set replaces a unit's own report (nil: none) and rolls the change of its
// total up to the root, as far as a unit with its own report, whose total
// the change leaves as it is.
func (f *turnFolder) set(r *race, u int, own []int64, id uuid.UUID) {
	before := r.total(u)
	delta := make([]int64, len(r.choices))
	for i := range delta {
		if before != nil {
			delta[i] -= before[i]
		}
	}
	if old, ok := r.reports[u]; ok {
		delete(f.current, old)
		delete(r.reports, u)
	}
	if own == nil {
		delete(r.own, u)
	} else {
		r.own[u] = own
		r.reports[u] = id
		f.current[id] = reportRef{r, u}
	}
	if after := r.total(u); after != nil {
		for i := range delta {
			delta[i] += after[i]
		}
	}
	for p := f.parent[u]; p >= 0; p = f.parent[p] {
		s := r.sum[p]
		if s == nil {
			s = make([]int64, len(r.choices))
			r.sum[p] = s
		}
		for i, d := range delta {
			s[i] += d
		}
		if _, ok := r.own[p]; ok {
			break // p's own report stands: its total did not change
		}
	}
}

// apply folds the next entry in.
func (f *turnFolder) apply(en *events.Entry) error {
	if en.Index != f.size {
		return fmt.Errorf("entry %d folded at size %d", en.Index, f.size)
	}
	f.size++
	if en.Verdict != events.Accepted {
		return nil
	}
	var r *race
	switch b := en.Event.Body.(type) {
	case *events.CountReport:
		r = f.report(en.Event.ID, b)
	case *events.Correction:
		r = f.report(en.Event.ID, &b.CountReport)
	case *events.Retraction:
		if ref, ok := f.current[b.Retracts]; ok {
			r = ref.race
			f.set(r, ref.unit, nil, uuid.Nil)
		}
	}
	if r != nil {
		f.turn(r, en)
	}
	return nil
}

func (f *turnFolder) report(id uuid.UUID, b *events.CountReport) *race {
	r, ok := f.races[b.Contest]
	u, ok2 := f.unitIx[b.Unit]
	if !ok || !ok2 {
		return nil // a turnout contest, or not one the ledger would accept
	}
	own := make([]int64, len(r.choices))
	for _, c := range b.Counts {
		if i, ok := r.choice[c.Choice]; ok {
			own[i] += c.Votes
		}
	}
	f.set(r, u, own, id)
	return r
}

// turn records what entry en did to the lead and the 50% line of race r.
func (f *turnFolder) turn(r *race, en *events.Entry) {
	votes := r.total(0)
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
		var v int64
		if votes != nil {
			v = votes[i]
		}
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
		var m *events.Manifest
		err := t.src.Entries(election, 0, 1, func(_ uint64, data []byte) error {
			en, err := events.DecodeEntry(data)
			if err != nil {
				return err
			}
			if b, ok := en.Event.Body.(*events.Manifest); ok && en.Verdict == events.Accepted {
				m = b
			}
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("couldn't read the manifest of %s: %w", election, err)
		}
		if m == nil {
			return nil, errors.New("entry 0 is not an accepted manifest")
		}
		if tf.f, err = newTurnFolder(m); err != nil {
			return nil, fmt.Errorf("manifest of %s: %w", election, err)
		}
	}
	if tf.f == nil {
		return nil, nil
	}
	if tf.f.size < size {
		err := t.src.Entries(election, tf.f.size, size, func(i uint64, data []byte) error {
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
