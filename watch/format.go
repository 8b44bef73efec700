package watch

import (
	"cmp"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"

	"golang.org/x/mod/sumdb/tlog"

	"github.com/election-audit/ledger/audit/logcheck"
	"github.com/election-audit/ledger/events"
)

// The "kind" of each --json line. Persisted names: never change them.
const (
	RecordChange     = "change"
	RecordCheckpoint = "checkpoint"
	RecordAlarm      = "alarm"
)

// ChangeRecord is the --json line of one entry: what it did to the counts
// (the fields of logcheck.Change, as `ledger audit diff --json` writes them).
type ChangeRecord struct {
	Kind     string `json:"kind"` // RecordChange
	Election string `json:"election"`
	logcheck.Change
}

// CheckpointRecord is the --json line of a verified checkpoint: its
// signature, its consistency with the one verified before (Previous, 0 if
// none), and that the entries printed so far hash to its root.
type CheckpointRecord struct {
	Kind       string    `json:"kind"` // RecordCheckpoint
	Election   string    `json:"election"`
	Size       uint64    `json:"size"`
	Root       tlog.Hash `json:"root"`
	Previous   uint64    `json:"previous"`
	Checkpoint string    `json:"checkpoint"` // the signed note
}

// AlarmRecord is the --json line of an alarm, the last line of the run.
type AlarmRecord struct {
	Kind string `json:"kind"` // RecordAlarm
	*AlarmError
}

// maxCountLines is how many changed counts a readable correction shows.
const maxCountLines = 24

func writeJSON(w io.Writer, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	_, err = w.Write(append(b, '\n'))
	return err
}

// writeChange prints a change as readable lines, each naming the office
// that made it ("by <key name>", c.By), and units, contests, choices and
// vote types by their names in the manifest, as reports and the dashboard
// do (--json has the IDs). Corrections and retractions start every line
// with "!!", so that they stand out without colour and can be found with
// grep.
func writeChange(w io.Writer, c *logcheck.Change, en *events.Entry, l *logcheck.Labels) error {
	var b strings.Builder
	mark := ""
	switch c.Type {
	case events.TypeCountCorrected, events.TypeCountRetracted:
		mark = "!! "
	}
	fmt.Fprintf(&b, "%s#%-5d %s  %-18s  %s", mark, c.Index, c.Recorded.UTC().Format(time.RFC3339), c.Type, c.By())
	switch body := en.Event.Body.(type) {
	case *events.Manifest:
		if body.Parts > 1 {
			fmt.Fprintf(&b, "  %s (%s): part 1 of %d: %d contests, %d units, %d vote types", body.Name, body.Date, body.Parts, len(body.Contests), len(body.Units), len(body.VoteTypes))
		} else {
			fmt.Fprintf(&b, "  %s (%s): %d contests, %d units, %d vote types", body.Name, body.Date, len(body.Contests), len(body.Units), len(body.VoteTypes))
		}
	case *events.ManifestPart:
		parts := 0
		if m := l.Manifest(); m != nil {
			parts = m.Parts
		}
		fmt.Fprintf(&b, "  manifest part %d of %d: %d more contests, %d more units", body.Part+1, parts, len(body.Contests), len(body.Units))
	case *events.CountReport:
		fmt.Fprintf(&b, "  %s: %s%s", l.Place(body.Unit, body.Contest), leaders(l, body.Counts, body.Contest), source(&body.Source))
	case *events.Correction:
		fmt.Fprintf(&b, "  CORRECTION  %s  because %q (corrects %s)%s", l.Place(body.Unit, body.Contest), body.Reason, body.Corrects, source(&body.Source))
	case *events.Retraction:
		where := "a report that is not current" // rejected: ReportOf did not find it
		if c.Unit != "" {
			where = l.Place(c.Unit, c.Contest)
		}
		fmt.Fprintf(&b, "  RETRACTION  %s  because %q (withdraws %s)%s", where, body.Reason, body.Retracts, source(&body.Source))
	case *events.Certification:
		fmt.Fprintf(&b, "  certified by %s", body.By)
		if body.Note != "" {
			fmt.Fprintf(&b, ": %s", body.Note)
		}
	case *events.RecountOrder:
		fmt.Fprintf(&b, "  ordered by %s because %q", body.By, body.Reason)
	case *events.KeyRegistration:
		units := make([]string, len(body.Units))
		for i, u := range body.Units {
			units[i] = l.Unit(u)
		}
		fmt.Fprintf(&b, "  KEY %s may report for %s", keyID(body.Key), strings.Join(units, "; "))
	case *events.KeyRevocation:
		fmt.Fprintf(&b, "  KEY %s revoked because %q", keyID(body.Key), body.Reason)
	}
	if c.Verdict == events.Rejected {
		fmt.Fprintf(&b, "  REJECTED: %s", c.Rejected)
	}
	b.WriteByte('\n')
	if mark != "" && c.Verdict == events.Accepted {
		if len(c.Counts) == 0 {
			fmt.Fprintf(&b, "!!        no count changed\n")
		}
		for i, cc := range c.Counts {
			if i == maxCountLines {
				fmt.Fprintf(&b, "!!        … and %d more changed counts (--json lists them all)\n", len(c.Counts)-i)
				break
			}
			fmt.Fprintf(&b, "!!        %s, %s %s → %s (%s)\n", l.Choice(c.Contest, cc.Choice), l.VoteType(cc.VoteType),
				thousands(cc.Old), thousands(cc.New), signedThousands(cc.New-cc.Old))
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// keyID is a verifier key's name and key hash (name+hash), enough to tell
// two keys of one name apart.
func keyID(vkey string) string {
	name, rest, _ := strings.Cut(vkey, "+")
	hash, _, _ := strings.Cut(rest, "+")
	if hash == "" {
		return name
	}
	return name + "+" + hash
}

// writeVerified prints a verified checkpoint as one readable line.
func writeVerified(w io.Writer, r *CheckpointRecord) error {
	prev := "the first checkpoint this watcher accepted"
	if r.Previous > 0 {
		prev = "consistent with " + strconv.FormatUint(r.Previous, 10)
	}
	_, err := fmt.Fprintf(w, "== checkpoint %d verified: signature OK, %s, entries [0, %d) hash to root %s\n", r.Size, prev, r.Size, r.Root)
	return err
}

// leaders lists a report's choices by their total over vote types, most
// votes first, the first three by name.
func leaders(l *logcheck.Labels, counts []events.Count, contest string) string {
	names := map[string]string{}
	var order []string
	if ct := l.ContestOf(contest); ct != nil {
		for _, ch := range ct.Choices {
			names[ch.ID] = ch.Name
			order = append(order, ch.ID)
		}
	}
	totals := map[string]int64{}
	for _, c := range counts {
		if _, ok := totals[c.Choice]; !ok && names[c.Choice] == "" {
			order = append(order, c.Choice) // not in the manifest: show the ID
		}
		totals[c.Choice] += c.Votes
	}
	slices.SortStableFunc(order, func(a, b string) int { return cmp.Compare(totals[b], totals[a]) })
	var parts []string
	for i, id := range order {
		if i == 3 {
			parts = append(parts, fmt.Sprintf("… %d more", len(order)-3))
			break
		}
		name := cmp.Or(names[id], id)
		parts = append(parts, name+" "+thousands(totals[id]))
	}
	return strings.Join(parts, ", ")
}

func source(s *events.Source) string {
	var parts []string
	if s.File != "" {
		parts = append(parts, "file "+s.File)
	}
	if s.SHA256 != "" {
		parts = append(parts, "sha256 "+s.SHA256[:min(12, len(s.SHA256))]+"…")
	}
	if s.Version != "" {
		parts = append(parts, "version "+s.Version)
	}
	if s.Operator != "" {
		parts = append(parts, "operator "+s.Operator)
	}
	if len(parts) == 0 {
		return ""
	}
	return "  (" + strings.Join(parts, ", ") + ")"
}

// thousands writes n with comma separators: 16,848.
func thousands(n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, r := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(r)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

// signedThousands writes n with its sign and comma separators: +45, -1,204.
func signedThousands(n int64) string {
	if n < 0 {
		return thousands(n)
	}
	return "+" + thousands(n)
}
