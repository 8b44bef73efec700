package watch

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"golang.org/x/mod/sumdb/tlog"

	"github.com/election-audit/ledger/internal/atomicfile"
)

// Kind names what an alarm is about. The names are persisted (JSON lines,
// alarm.json): never change them.
type Kind string

// The alarms.
const (
	// KindSignature: a checkpoint does not verify with the key for the
	// election's origin (forged, for another log, or the wrong --key).
	KindSignature Kind = "signature"
	// KindFork: a checkpoint signed by the key is not an extension of the
	// accepted one: same size and another root, or its consistency proof
	// from the accepted checkpoint fails.
	KindFork Kind = "fork"
	// KindRollback: the ledger presents a checkpoint smaller than the
	// accepted one and cannot prove that it is a prefix of it: its log is
	// shorter than what it signed before.
	KindRollback Kind = "rollback"
	// KindEntries: the entries the ledger sent do not hash to the root of
	// the accepted checkpoint of their size, or differ from the entries
	// printed by an earlier run.
	KindEntries Kind = "entries"
	// KindInvalidEntry: an entry covered by a signed checkpoint is not a
	// valid entry of the election's log: it does not decode, has the wrong
	// index or election, is not held by the signed submission it names
	// (missing, altered, another event, another signer), or its verdict is
	// not the one the election's rules give (signer and role included).
	KindInvalidEntry Kind = "invalid-entry"
	// KindKeyChanged: the ledger no longer signs with the key the state
	// was kept with (its checkpoints do not verify with it), and the
	// caller did not name the new key (Config.AcceptNewKey). A new key can
	// sign any history, so it is not trusted on the ledger's word.
	KindKeyChanged Kind = "key-changed"
)

// Tree is a checkpoint's size and root, as an alarm reports them.
type Tree struct {
	Size uint64    `json:"size"`
	Root tlog.Hash `json:"root"`
}

// AlarmError is returned by [Watcher.Run] when the ledger showed something
// that an honest, append-only log never shows, or signs with a key other
// than the one its history was accepted under. Run stops at once; the
// state file is left as it was (the watcher raises the same alarm if run
// again against the same ledger), and the evidence is in Evidence.
type AlarmError struct {
	Kind     Kind   `json:"alarm"`
	Election string `json:"election"`
	Origin   string `json:"origin"`
	// Accepted is the last checkpoint the watcher accepted (zero if none);
	// Presented the one that raised the alarm, when a checkpoint did and it
	// could be opened.
	Accepted  Tree   `json:"accepted"`
	Presented *Tree  `json:"presented,omitempty"`
	Detail    string `json:"detail"`
	// Evidence is the directory the evidence was written to ("" if it could
	// not be written: see EvidenceErr).
	Evidence    string `json:"evidence"`
	EvidenceErr error  `json:"-"`
}

func (e *AlarmError) Error() string {
	s := fmt.Sprintf("ALARM (%s) in the log of %s: %s", e.Kind, e.Election, e.Detail)
	if e.Evidence != "" {
		s += "; evidence kept in " + e.Evidence
	}
	return s
}

// errFatal wraps errors that reconnecting cannot fix: Run stops with them.
type errFatal struct{ err error }

func (e errFatal) Error() string { return e.err.Error() }
func (e errFatal) Unwrap() error { return e.err }

func fatal(err error) error { return errFatal{err} }

func isFatal(err error) bool {
	var f errFatal
	var a *AlarmError
	return errors.As(err, &f) || errors.As(err, &a)
}

// evidence is what an alarm keeps: file name → bytes.
type evidence map[string][]byte

// keepEvidence writes the evidence files and alarm.json into a new
// directory <dir>/evidence-<election>-<unix time>[-n].
func keepEvidence(dir string, a *AlarmError, files evidence, now time.Time) (string, error) {
	base := filepath.Join(dir, "evidence-"+a.Election+"-"+strconv.FormatInt(now.Unix(), 10))
	path := base
	for n := 2; ; n++ {
		err := os.Mkdir(path, 0o755)
		if err == nil {
			break
		}
		if !errors.Is(err, fs.ErrExist) || n > 1000 {
			return "", fmt.Errorf("couldn't create the evidence directory: %w", err)
		}
		path = base + "-" + strconv.Itoa(n)
	}
	a.Evidence = path
	j, err := json.MarshalIndent(a, "", "  ")
	if err != nil {
		return path, err
	}
	files["alarm.json"] = append(j, '\n')
	for name, data := range files {
		if err := atomicfile.WriteFile(filepath.Join(path, name), data, 0o644); err != nil {
			return path, err
		}
	}
	return path, nil
}

// writeAlarm prints the alarm for people: loud, multi-line, no colour.
func writeAlarm(w io.Writer, a *AlarmError, files []string) {
	bar := strings.Repeat("!", 78)
	var b strings.Builder
	fmt.Fprintf(&b, "%s\n", bar)
	fmt.Fprintf(&b, "!! ALARM: %s in the log of %s (origin %s)\n", strings.ToUpper(string(a.Kind)), a.Election, a.Origin)
	fmt.Fprintf(&b, "!! %s\n", what(a.Kind))
	if a.Accepted.Size > 0 {
		fmt.Fprintf(&b, "!!   accepted before:  size %d, root %s\n", a.Accepted.Size, a.Accepted.Root)
	} else {
		fmt.Fprintf(&b, "!!   accepted before:  (nothing yet)\n")
	}
	if a.Presented != nil {
		fmt.Fprintf(&b, "!!   presented now:    size %d, root %s\n", a.Presented.Size, a.Presented.Root)
	}
	fmt.Fprintf(&b, "!!   why: %s\n", a.Detail)
	switch {
	case a.Evidence != "":
		fmt.Fprintf(&b, "!! Evidence kept in %s:\n!!   %s\n", a.Evidence, strings.Join(files, ", "))
	case a.EvidenceErr != nil:
		fmt.Fprintf(&b, "!! The evidence could NOT be written: %v\n", a.EvidenceErr)
	}
	fmt.Fprintf(&b, "!! The watcher stopped. Its state file still holds the accepted checkpoint:\n")
	fmt.Fprintf(&b, "!! keep it, and the evidence, for the election's auditors.\n")
	fmt.Fprintf(&b, "%s\n", bar)
	io.WriteString(w, b.String())
}

func what(k Kind) string {
	switch k {
	case KindSignature:
		return "The ledger presented a checkpoint that does not verify with the key (forged, for another log, or the wrong --key)."
	case KindFork:
		return "The ledger presented a checkpoint signed by its key that is NOT an extension of the one accepted before: the history was rewritten."
	case KindRollback:
		return "The ledger presented an older, smaller checkpoint and cannot prove it is a prefix of the one accepted before: its log went back."
	case KindEntries:
		return "The entries the ledger sent do not hash to its signed checkpoint, or differ from the entries it sent before."
	case KindInvalidEntry:
		return "An entry under the ledger's signature is not a valid entry of this election's log, or not the signed submission it names."
	case KindKeyChanged:
		return "The ledger no longer signs with the key this watcher accepted its history under: a new key can sign a rewritten history."
	}
	return ""
}
