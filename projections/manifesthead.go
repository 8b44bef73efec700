package projections

import (
	"fmt"

	"github.com/election-audit/ledger/events"
)

// ManifestHead takes, in log order from entry 0, the entries that hold an
// election's manifest: entry 0, the accepted election.defined event signed
// by the authority it names, and when the manifest is in N parts
// (events.Manifest.Parts) entries 1 to N-1, its accepted manifest.part
// events, the next items of entry 0's submission. Once it has the last, it
// makes the projection from the whole manifest. Replays, the audit and the
// watcher read a log's manifest through it, so that they hold it to the
// same rules. The zero value is ready for entry 0.
type ManifestHead struct {
	entries []*events.Entry
}

// Add takes the next entry of the log. It returns nil until the entry is
// the manifest's last; then the projection of election made from the whole
// manifest, with none of the manifest's entries applied yet: the caller
// applies Entries, in order. An entry that cannot be the next one of the
// manifest is an error, the entry taken for nothing.
func (h *ManifestHead) Add(election string, en *events.Entry) (*Election, error) {
	if len(h.entries) == 0 {
		m, ok := en.Event.Body.(*events.Manifest)
		if !ok || en.Verdict != events.Accepted {
			return nil, fmt.Errorf("entry 0 is not the election's accepted manifest")
		}
		if err := CheckManifestEntry(m, en.Submission.Signer); err != nil {
			return nil, err
		}
	} else if first := h.entries[0].Submission; en.Verdict != events.Accepted || en.Submission.ID != first.ID || en.Submission.Item != first.Item+len(h.entries) {
		return nil, fmt.Errorf("the entry is not part %d of the manifest (the manifest of entry 0 is in %d parts: accepted entries of its submission, in order)", len(h.entries), h.Want())
	}
	h.entries = append(h.entries, en)
	if len(h.entries) < h.Want() {
		return nil, nil
	}
	evs := make([]*events.Event, len(h.entries))
	for i, e := range h.entries {
		evs[i] = e.Event
	}
	m, err := events.AssembleManifest(evs)
	if err != nil {
		return nil, err
	}
	return New(election, m)
}

// Entries returns the manifest's entries taken so far.
func (h *ManifestHead) Entries() []*events.Entry { return h.entries }

// First returns the manifest as entry 0 holds it (only its first part's
// units and contests when it is in several), nil before entry 0.
func (h *ManifestHead) First() *events.Manifest {
	if len(h.entries) == 0 {
		return nil
	}
	return h.entries[0].Event.Body.(*events.Manifest)
}

// Want returns how many entries hold the manifest (0 before entry 0).
func (h *ManifestHead) Want() int {
	if m := h.First(); m != nil {
		return events.ManifestEvents(m)
	}
	return 0
}
