package demo

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/election-audit/ledger/audit"
	"github.com/election-audit/ledger/events"
	"github.com/election-audit/ledger/importer"
	"github.com/election-audit/ledger/internal/ga06"
	"github.com/election-audit/ledger/keys"
	"github.com/election-audit/ledger/ledger"
	"github.com/election-audit/ledger/projections"
	"github.com/election-audit/ledger/store"
)

// Config is what a replay needs: a running ledger and its database.
type Config struct {
	Ledger *ledger.Ledger
	DB     *store.DB // the ledger's database, verified at the end
	Key    string    // the ledger key, from which each log's key derives (checkpoint.LogVerifier)
	// Keys sign the submissions: the authority's must be one the ledger
	// accepts (ledger.Config.Authorities).
	Keys *Keys
	Out  io.Writer // where the story is told
	// Pace is the pause after each printed step, so that people (and
	// dashboards) can follow; 0 replays at full speed.
	Pace time.Duration
}

// Result is what a replay ended with, per election.
type Result struct {
	Election   string
	Tally      *projections.Tally
	Checkpoint []byte // the latest signed checkpoint
	Verified   *audit.Result
	Crossings  int // times the leader's share crossed 50%
	Official   bool
}

// Run replays both nights into the ledger, telling the story on cfg.Out,
// then checks the final totals against the official files and verifies
// each log. An election already in the ledger is replayed again harmlessly:
// the event IDs are deterministic, so nothing is logged twice.
func Run(ctx context.Context, cfg Config) ([]*Result, error) {
	nights, err := Nights()
	if err != nil {
		return nil, err
	}
	w := cfg.Out
	fmt.Fprintln(w, "The GA-06 2017 elections, replayed. The timeline is SIMULATED from the final official")
	fmt.Fprintln(w, "results (Georgia Secretary of State exports, OpenElections precinct files): the order, the")
	fmt.Fprintln(w, "times and the partial counts are made up; the final totals are the official ones.")
	fmt.Fprintln(w, "Times below are the simulated night's (EDT), and so is each report's source version;")
	fmt.Fprintln(w, "each entry's recorded time is the ledger's own clock as it logs the replay, today.")
	var out []*Result
	for _, n := range nights {
		r, err := replay(ctx, cfg, n)
		if err != nil {
			return out, err
		}
		out = append(out, r)
	}
	return out, nil
}

func replay(ctx context.Context, cfg Config, n *Night) (*Result, error) {
	w := cfg.Out
	fmt.Fprintf(w, "\n%s (%s)\n\n", n.Title, n.Election)
	res := &Result{Election: n.Election}
	above := false
	started := false
	units := 0
	lastLeader := ""
	county := countyOf(n)
	for i, s := range n.Steps {
		var last ledger.Receipt
		var offices []string // who signed the step's submissions
		if len(s.Events) > 0 {
			evs := s.Events
			if m, ok := evs[0].Body.(*events.Manifest); ok {
				// The authority signs the manifest that names it, and
				// registers the county offices' keys with it.
				m.Authority = cfg.Keys.Authority.Verifier
				evs = append(slices.Clip(evs), cfg.Keys.registrations(n.Election, s.Clock)...)
			}
			// Each office signs its own: a step with several counties'
			// counts is one submission per county.
			var rs []ledger.Receipt
			for _, p := range cfg.Keys.split(evs, county) {
				prs, err := submit(ctx, cfg.Ledger, p.key, n.Election, p.evs)
				if err != nil {
					return nil, fmt.Errorf("couldn't log step %q of %s: %w", s.Say, n.Election, err)
				}
				rs = append(rs, prs...)
				if name := p.key.Name(); !slices.Contains(offices, name) {
					offices = append(offices, name)
				}
			}
			for _, r := range rs {
				if r.Verdict != events.Accepted {
					return nil, fmt.Errorf("demo: step %q of %s: entry %d was rejected: %s", s.Say, n.Election, r.Index, r.Reason)
				}
			}
			last = rs[len(rs)-1]
		}
		t, err := cfg.Ledger.Tally(n.Election)
		if err != nil {
			return nil, err
		}
		race := contest(t, n.Race)
		leader, share, over := leading(race)
		crossed := started && over != above && race.TotalVotes > 0
		leadChanged := race != nil && race.TotalVotes > 0 && lastLeader != "" && leader != lastLeader
		previous := lastLeader
		if race != nil && race.TotalVotes > 0 {
			lastLeader = leader
		}
		if race.TotalVotes > 0 {
			started = true
			above = over
		}
		if s.Verbose {
			units++
			if !crossed && !leadChanged && units%25 != 0 && (i+1 >= len(n.Steps) || n.Steps[i+1].Verbose) {
				continue
			}
		}
		say := s.Say
		if s.Verbose {
			say = fmt.Sprintf("%d precincts in (last: %s)", units, strings.TrimPrefix(s.Say, "precinct "))
		}
		if len(say) > 62 {
			fmt.Fprintf(w, "  %8s  %s\n", clock(s.Clock), say)
			say = ""
		}
		line := fmt.Sprintf("  %8s  %-62s", clock(s.Clock), say)
		if len(say) == 0 {
			line = fmt.Sprintf("  %8s  %-62s", "", "")
		}
		if race != nil && race.TotalVotes > 0 {
			line += fmt.Sprintf("  %s %s%%, %d/%d units", leader, share, race.UnitsReported, race.UnitsTotal)
		}
		if len(s.Events) > 0 {
			line += fmt.Sprintf("  [entry %d, signed by %s]", last.Index, strings.Join(offices, ", "))
		}
		fmt.Fprintln(w, strings.TrimRight(line, " "))
		if leadChanged {
			fmt.Fprintf(w, "            === %s takes the lead from %s\n", leader, previous)
		}
		if crossed {
			res.Crossings++
			if over {
				fmt.Fprintf(w, "            >>> %s rises above 50%% (%s%%): a majority, no runoff if it holds\n", leader, share)
			} else {
				fmt.Fprintf(w, "            <<< %s falls below 50%% (%s%%): short of a majority, a runoff looms\n", leader, share)
			}
		}
		if cfg.Pace > 0 {
			select {
			case <-ctx.Done():
				return nil, ctx.Err()
			case <-time.After(cfg.Pace):
			}
		}
	}
	t, err := cfg.Ledger.Tally(n.Election)
	if err != nil {
		return nil, err
	}
	res.Tally = t
	fmt.Fprintln(w)
	if err := t.WriteTable(w); err != nil {
		return nil, err
	}
	fmt.Fprintln(w)
	if res.Official, err = official(n.Election, t); err != nil {
		return nil, err
	}
	if res.Official {
		fmt.Fprintln(w, "Final totals: equal to the official results, contest by contest, county by county.")
	} else {
		fmt.Fprintln(w, "Final totals: DIFFERENT from the official results.")
	}
	cp, _, err := cfg.Ledger.Checkpoint(n.Election)
	if err != nil {
		return nil, err
	}
	res.Checkpoint = cp
	fmt.Fprintf(w, "Signed checkpoint:\n\n%s\n", indent(string(cp)))
	if res.Verified, err = audit.Verify(cfg.DB, n.Election, cfg.Key); err != nil {
		fmt.Fprintf(w, "Verification FAILED: %v\n", err)
		return res, fmt.Errorf("verification of %s failed: %w", n.Election, err)
	}
	fmt.Fprintf(w, "Verified: %d entries re-hashed, the Merkle root matches all %d signed checkpoints, every entry is its office's signed submission (%d), the tally equals a replay.\n",
		res.Verified.Size, res.Verified.Checkpoints, res.Verified.Submissions)
	return res, nil
}

// submit signs events as one submission and submits it.
func submit(ctx context.Context, l *ledger.Ledger, key *keys.Key, election string, evs []*events.Event) ([]ledger.Receipt, error) {
	canonical, err := importer.Encode(evs)
	if err != nil {
		return nil, err
	}
	signed, err := key.SignSubmission(election, canonical)
	if err != nil {
		return nil, err
	}
	return l.Submit(ctx, signed)
}

// countyOf returns a function giving the county of a unit of the night's
// election (the county itself, or a precinct's), "" for the state.
func countyOf(n *Night) func(string) string {
	parent := map[string]string{}
	for _, s := range n.Steps {
		for _, ev := range s.Events {
			if m, ok := ev.Body.(*events.Manifest); ok {
				for _, u := range m.Units {
					parent[u.ID] = u.Parent
				}
			}
		}
	}
	return func(unit string) string {
		for u := unit; u != ""; u = parent[u] {
			if slices.Contains(Counties, u) {
				return u
			}
		}
		return ""
	}
}

func contest(t *projections.Tally, id string) *projections.ContestTally {
	for i := range t.Contests {
		if t.Contests[i].ID == id {
			return &t.Contests[i]
		}
	}
	return nil
}

// leading returns the leader's name and share, and whether the leader has
// a majority (more than half of the votes, counted in integers).
func leading(c *projections.ContestTally) (string, string, bool) {
	if c == nil || len(c.Choices) == 0 {
		return "", "", false
	}
	best := c.Choices[0]
	for _, ch := range c.Choices[1:] {
		if ch.Votes > best.Votes {
			best = ch
		}
	}
	return best.Name, best.Share, 2*best.Votes > c.TotalVotes
}

// official checks a tally against the official county-level results: for
// every contest of the official export, every choice's total and every
// county's total must be equal.
func official(election string, t *projections.Tally) (bool, error) {
	var imp *importer.Import
	var err error
	switch election {
	case ga06.AprilElection:
		imp, err = ga06.April()
	case ga06.JuneElection:
		imp, err = ga06.June()
	default:
		return false, fmt.Errorf("demo: no official results for %s", election)
	}
	if err != nil {
		return false, err
	}
	for _, c := range imp.Manifest.Contests {
		var got *projections.ContestTally
		for i := range t.Contests {
			if t.Contests[i].Name == c.Name || t.Contests[i].ID == c.ID {
				got = &t.Contests[i]
			}
		}
		if got == nil {
			return false, nil
		}
		want := map[string]int64{} // by choice ID, and by county
		for _, r := range imp.Reports {
			if r.Contest != c.ID {
				continue
			}
			for _, n := range r.Counts {
				want[n.Choice] += n.Votes
				want["unit "+r.Unit] += n.Votes
			}
		}
		for _, ch := range got.Choices {
			if want[ch.ID] != ch.Votes {
				return false, nil
			}
		}
		for _, u := range got.Units {
			if w, ok := want["unit "+u.ID]; ok {
				var sum int64
				for _, v := range u.Votes {
					sum += v
				}
				if sum != w {
					return false, nil
				}
			}
		}
	}
	return true, nil
}

func clock(t time.Time) string {
	if t.Hour() == 12 && t.Minute() == 0 {
		return t.Format("Jan 2")
	}
	return t.Format("3:04 pm")
}

func indent(s string) string {
	return "    " + strings.ReplaceAll(strings.TrimRight(s, "\n"), "\n", "\n    ")
}
