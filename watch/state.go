package watch

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"golang.org/x/mod/sumdb/tlog"

	"github.com/election-audit/ledger/internal/atomicfile"
)

// stateVersion is the "v" of a state file.
const stateVersion = 1

// State is what a watcher keeps on disk between runs, in
// <StateDir>/<election>.state.json (see docs/watch.md).
type State struct {
	V        int    `json:"v"`
	Election string `json:"election"`
	Origin   string `json:"origin"`
	// Key is the verifier key the checkpoint was verified with: the log key
	// of the election, named by its origin (a state kept by a version
	// before log keys holds the ledger key, from which the log key is
	// derived); a run with another key refuses the state rather than
	// trusting it.
	Key string `json:"key"`
	// Checkpoint is the last accepted checkpoint, the signed note verbatim;
	// Size and Root are its content.
	Checkpoint string    `json:"checkpoint"`
	Size       uint64    `json:"size"`
	Root       tlog.Hash `json:"root"`
	// Previous is the size of the checkpoint accepted before it, which it
	// was proven to extend; 0 if it was the first.
	Previous uint64 `json:"previous"`
	// Next is the index of the next entry to print; Range is the compact
	// Merkle range (RFC 6962) of the leaf hashes of entries [0, Next), so
	// that the entries of a later run can be checked against those printed.
	Next  uint64   `json:"next"`
	Range [][]byte `json:"range"`
}

// StatePath returns the state file of an election in dir.
func StatePath(dir, election string) string {
	return filepath.Join(dir, election+".state.json")
}

// loadState reads a state file; a missing one is a zero State and no error.
func loadState(path string) (*State, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return &State{V: stateVersion}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("couldn't read the watcher's state: %w", err)
	}
	var s State
	if err := json.Unmarshal(b, &s); err != nil {
		return nil, fmt.Errorf("couldn't read the watcher's state %s: %w (it is not a state file; move it away to start over)", path, err)
	}
	if s.V != stateVersion {
		return nil, fmt.Errorf("couldn't read the watcher's state %s: version %d, want %d", path, s.V, stateVersion)
	}
	if s.Next > s.Size {
		return nil, fmt.Errorf("couldn't read the watcher's state %s: next entry %d is past the accepted checkpoint's size %d", path, s.Next, s.Size)
	}
	return &s, nil
}

// saveState writes the state atomically and durably.
func saveState(path string, s *State) error {
	b, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return fmt.Errorf("couldn't encode the watcher's state: %w", err)
	}
	return atomicfile.WriteFile(path, append(b, '\n'), 0o644)
}
