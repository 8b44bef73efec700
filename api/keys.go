package api

import (
	"net/http"

	"github.com/election-audit/ledger/events"
)

// KeysResponse is the answer of GET /v1/elections/{election}/keys: the
// election's authority and every reporter key an accepted key.registered
// entry of its committed log registered, with the index of that entry and
// of the accepted key.revoked entry that revoked it, if any. Each index
// names an entry a client can fetch and check: the list only tells it
// where to look.
type KeysResponse struct {
	Election string `json:"election"`
	// TreeSize is the committed size the list was read at: it holds the
	// registrations and revocations of entries [0, TreeSize).
	TreeSize uint64 `json:"tree_size"`
	// Authority is the verifier key the manifest, entry 0, names.
	Authority string `json:"authority"`
	// Keys are in the order of their registration entries.
	Keys []KeyRecord `json:"keys"`
}

// KeyRecord is one registered reporter key.
type KeyRecord struct {
	Key        string   `json:"key"`   // the verifier key
	Name       string   `json:"name"`  // its name, the office
	Units      []string `json:"units"` // its scope, as registered
	Registered uint64   `json:"registered"`
	Revoked    *uint64  `json:"revoked,omitempty"`
}

// keys returns the handler of GET /v1/elections/{election}/keys: the
// registrations of the state machine's own projection as of the committed
// log (projections.Signers), so an answer costs what the keys are, not
// what the log is.
func (s *server) keys() http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		election := r.PathValue("election")
		signers, size, err := s.Ledger.Signers(election)
		if err != nil {
			s.lookupFailed(w, err)
			return
		}
		if size == 0 || signers == nil {
			fail(w, http.StatusNotFound, "%s's log is empty", election)
			return
		}
		resp := KeysResponse{Election: election, TreeSize: size, Authority: signers.Authority(), Keys: []KeyRecord{}}
		for _, k := range signers.Reporters() {
			resp.Keys = append(resp.Keys, KeyRecord{Key: k.Key, Name: events.KeyName(k.Key), Units: k.Units, Registered: k.Registered, Revoked: k.Revoked})
		}
		writeJSON(w, http.StatusOK, resp)
	}
}
