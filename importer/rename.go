package importer

import (
	"github.com/google/uuid"

	"github.com/election-audit/ledger/events"
)

// Renamed is a file that the ledger logged before under another name.
type Renamed struct {
	File, LoggedAs string // base names
}

// KeepLoggedNames gives the reports of a file that the ledger already
// logged under another name (a renamed byte-identical copy: the same source,
// so the same event IDs) the name it was logged under, so that they are the
// logged events byte for byte and the ledger answers with the original
// entries instead of refusing a logged ID with other content. logged looks
// up an event by ID (nil if the ledger has none); it is asked for the first
// report of each file.
func KeepLoggedNames(evs []*events.Event, logged func(uuid.UUID) (*events.Entry, error)) ([]Renamed, error) {
	seen := map[string]bool{} // SHA-256
	rename := map[string]string{}
	var out []Renamed
	for _, ev := range evs {
		r, ok := ev.Body.(*events.CountReport)
		if !ok || r.Source.SHA256 == "" || seen[r.Source.SHA256] {
			continue
		}
		seen[r.Source.SHA256] = true
		en, err := logged(ev.ID)
		if err != nil {
			return nil, err
		}
		if en == nil {
			continue
		}
		if got, ok := en.Event.Body.(*events.CountReport); ok && got.Source.SHA256 == r.Source.SHA256 && got.Source.File != r.Source.File {
			rename[r.Source.SHA256] = got.Source.File
			out = append(out, Renamed{File: r.Source.File, LoggedAs: got.Source.File})
		}
	}
	for _, ev := range evs {
		if r, ok := ev.Body.(*events.CountReport); ok {
			if name, ok := rename[r.Source.SHA256]; ok {
				r.Source.File = name
			}
		}
	}
	return out, nil
}
