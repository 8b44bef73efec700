package ledger

import (
	"testing"

	"github.com/google/uuid"

	"github.com/election-audit/ledger/events"
	"github.com/election-audit/ledger/internal/testkeys"
	"github.com/election-audit/ledger/keys"
)

// Helpers shared by the package's tests: events and the signed
// submissions that carry them.

// newEvent is an event of election with a new ID.
func newEvent(election string, body events.Body) *events.Event {
	return &events.Event{ID: uuid.Must(uuid.NewV7()), Election: election, Body: body}
}

// sign is the submission of evs (all of one election) signed by k.
func sign(t testing.TB, k *keys.Key, evs ...*events.Event) []byte {
	t.Helper()
	b, err := testkeys.Sign(k, evs...)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// signLines is the submission of event lines, as they are, signed by k:
// for lines that are not valid events, which testkeys.Sign cannot encode.
func signLines(t testing.TB, k *keys.Key, election string, lines ...[]byte) []byte {
	t.Helper()
	b, err := k.SignSubmission(election, lines)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// submissionID is the ID a signed submission names.
func submissionID(t testing.TB, signed []byte) uuid.UUID {
	t.Helper()
	sub, err := events.OpenSubmission(signed)
	if err != nil {
		t.Fatal(err)
	}
	return sub.ID
}
