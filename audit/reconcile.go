package audit

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/election-audit/ledger/importer"
	"github.com/election-audit/ledger/projections"
)

// Reconciliation is what `ledger audit reconcile` finds in an election's
// log after entries [0, TreeSize), and in the results files checked beside
// it. Its JSON encoding ([Reconciliation.Encode]) is documented in
// docs/reconcile.md; its field names are stable. Each list is in a
// deterministic order and is empty, never null, when there is nothing.
type Reconciliation struct {
	Election string `json:"election"`
	TreeSize uint64 `json:"tree_size"`
	// Rollup and Unreported are the log's findings
	// ([projections.Election.Reconcile]).
	Rollup     []projections.RollupFinding     `json:"rollup"`
	Unreported []projections.UnreportedFinding `json:"unreported"`
	// Files are the findings inside results files, in the order given to
	// [Reconciliation.AddFiles].
	Files []FileFinding `json:"files"`
}

// FileFinding is a discrepancy inside a results file that its importer
// reported ([importer.Finding]): Kind is [importer.FindingVoteTypes] or
// [importer.FindingRollup].
type FileFinding struct {
	Kind  string `json:"kind"`
	File  string `json:"file"`
	Where string `json:"where,omitempty"` // line or element; empty for the whole file
	Msg   string `json:"msg"`
}

// Reconcile replays entries [0, n) of an election's log from src, starting
// from the newest projection snapshot at or before n when src keeps them
// (as [TallyAt] does), and returns the log's findings at that size. A log
// that does not replay gives the error [TallyAt] would.
func Reconcile(src Source, election string, n uint64) (*Reconciliation, error) {
	if n == 0 {
		return nil, fmt.Errorf("couldn't reconcile %s at size 0: a log starts with its manifest", election)
	}
	proj, start, err := startAt(src, election, n)
	if err != nil {
		return nil, fmt.Errorf("couldn't reconcile %s at size %d: %w", election, n, err)
	}
	if err := fold(src, election, start, n, &proj, nil); err != nil {
		return nil, fmt.Errorf("couldn't reconcile %s at size %d: %w", election, n, err)
	}
	f := proj.Reconcile()
	return &Reconciliation{Election: election, TreeSize: n, Rollup: f.Rollup, Unreported: f.Unreported, Files: []FileFinding{}}, nil
}

// AddFiles appends an importer's findings to r.Files.
func (r *Reconciliation) AddFiles(fs []importer.Finding) {
	for _, f := range fs {
		r.Files = append(r.Files, FileFinding{Kind: f.Kind, File: f.File, Where: f.Where, Msg: f.Msg})
	}
}

// Len returns the number of findings: of the three lists together.
func (r *Reconciliation) Len() int { return len(r.Rollup) + len(r.Unreported) + len(r.Files) }

// Encode returns the JSON of the document, newline-terminated.
func (r *Reconciliation) Encode() ([]byte, error) {
	b, err := json.Marshal(r)
	if err != nil {
		return nil, fmt.Errorf("couldn't encode the reconciliation of %s at %d: %w", r.Election, r.TreeSize, err)
	}
	return append(b, '\n'), nil
}

// WriteText writes the findings one per line, then a summary line that
// starts with "N findings".
func (r *Reconciliation) WriteText(w io.Writer) error { return r.writeText(w, false) }

// WriteTextBrief is WriteText with the results files' findings on one
// line, by kind ("results files: 58 vote-types-sum, 4 rollup-sum (-v lists
// them)"), instead of one line each.
func (r *Reconciliation) WriteTextBrief(w io.Writer) error { return r.writeText(w, true) }

func (r *Reconciliation) writeText(w io.Writer, brief bool) error {
	var b strings.Builder
	discrepancies, incomplete := 0, 0
	for _, f := range r.Rollup {
		kind := "rollup"
		if f.Complete {
			discrepancies++
		} else {
			kind = "rollup (incomplete)"
			incomplete++
		}
		what := f.Choice
		if f.VoteType != "" {
			what += ", " + f.VoteType
		}
		fmt.Fprintf(&b, "%s: %s: %s: %s: own report %d, children's sum %d (%d of %d units reported beneath)\n",
			kind, f.Contest, f.Unit, what, f.Own, f.Children, f.UnitsReported, f.UnitsTotal)
	}
	for _, f := range r.Unreported {
		fmt.Fprintf(&b, "unreported: %s: %d of %d units have no report: %s\n", f.Contest, f.Count, f.UnitsTotal, strings.Join(f.Units, ", "))
	}
	switch {
	case brief && len(r.Files) > 0:
		kinds := map[string]int{}
		for _, f := range r.Files {
			kinds[f.Kind]++
		}
		fmt.Fprintf(&b, "results files: %s (-v lists them)\n", importer.FindingKinds(kinds))
	case !brief:
		for _, f := range r.Files {
			where := f.File
			if f.Where != "" {
				where += ": " + f.Where
			}
			fmt.Fprintf(&b, "%s: %s: %s\n", f.Kind, where, f.Msg)
		}
	}
	fmt.Fprintf(&b, "%s in %s at tree size %d", plural(r.Len(), "finding", "findings"), r.Election, r.TreeSize)
	var parts []string
	for _, p := range []struct {
		n         int
		one, many string
	}{
		{discrepancies, "roll-up discrepancy", "roll-up discrepancies"},
		{incomplete, "roll-up difference while units are missing", "roll-up differences while units are missing"},
		{len(r.Unreported), "contest with unreported units", "contests with unreported units"},
		{len(r.Files), "in a results file", "in results files"},
	} {
		if p.n > 0 {
			parts = append(parts, plural(p.n, p.one, p.many))
		}
	}
	if len(parts) > 0 {
		b.WriteString(": " + strings.Join(parts, ", "))
	}
	b.WriteString("\n")
	_, err := io.WriteString(w, b.String())
	return err
}

func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}
