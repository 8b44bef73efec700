package audit_test

// Tests of two rules of a log no single entry shows (docs/events.md,
// "Entry"): an event ID appears once in a log, and every entry is in its
// canonical encoding. A ledger never writes a log that breaks them; its
// operator, who holds the checkpoint key, could, and sign it: verify-bundle
// and audit verify must refuse such a log, naming the entry.

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/cockroachdb/pebble/v2"

	"github.com/election-audit/ledger/audit"
	"github.com/election-audit/ledger/events"
	"github.com/election-audit/ledger/internal/testledger"
	"github.com/election-audit/ledger/projections"
	"github.com/election-audit/ledger/store"
)

// logFormCase is a bundle changed by whoever holds the ledger's key, every
// checkpoint signed again over the changed entries (pyForge), and what
// verifying it must say: the entry at fault, and words of the fault.
type logFormCase struct {
	name   string
	bundle []byte
	index  uint64 // the entry named
	want   string // in audit.VerifyBundle's error
}

// logFormCases changes the bundle ms of pySignedLog's log (entries 0 to
// lg.size-1, all in the first entries member) so that only the rule on
// repeated event IDs, or the one on canonical form, can tell.
func logFormCases(t *testing.T, lg *pyLog, ms []pyMember) []logFormCase {
	t.Helper()
	key := pyLedgerSigner(t, lg.dir)
	target := lg.target // Cobb's report: accepted, with a signer
	var cases []logFormCase
	// The last entry again, as the next entry, with the verdict the rules
	// give it: it names the same submission and item, so its origin
	// holds; the tally is the replay of the entries as they stand.
	cases = append(cases, logFormCase{
		name:   "the last entry logged again",
		bundle: pyPack(t, pyForge(t, key, pyRepeat(t, ms, lg.size-1))),
		index:  lg.size, want: fmt.Sprintf("logged a second time (entry %d has it)", lg.size-1),
	})
	recorded := regexp.MustCompile(`"recorded":"([^"]*)","verdict":"accepted"`)
	for _, c := range []struct {
		name string
		edit func([]byte) []byte
		want string
	}{
		{"white space", func(e []byte) []byte {
			return bytes.Replace(e, []byte(`"verdict":"accepted"`), []byte(`"verdict": "accepted"`), 1)
		}, "canonical form"},
		{"other field order", func(e []byte) []byte {
			return recorded.ReplaceAll(e, []byte(`"verdict":"accepted","recorded":"$1"`))
		}, "canonical form"},
		{"other escaping", func(e []byte) []byte {
			return bytes.Replace(e, []byte(`"verdict":"accepted"`), []byte(`"verdict":"\u0061ccepted"`), 1)
		}, "canonical form"},
		{"recorded time with an offset", func(e []byte) []byte {
			m := recorded.FindSubmatchIndex(e)
			end := m[3] // after the time's Z
			return append(append(e[:end-1:end-1], `+00:00`...), e[end:]...)
		}, "canonical form"},
		{"signer with an escape", func(e []byte) []byte {
			i := bytes.Index(e, []byte(`"signer":"`))
			j := i + bytes.IndexByte(e[i:], '+')
			return append(append(e[:j:j], `\u002b`...), e[j+1:]...)
		}, "canonical form"},
		{"submission after a space", func(e []byte) []byte {
			return bytes.Replace(e, []byte(`"submission":{`), []byte(`"submission": {`), 1)
		}, "canonical form"},
		// The event is its submission's line byte for byte, and a
		// submission's lines are canonical: the origin check tells.
		{"unsorted counts", func(e []byte) []byte {
			counts := regexp.MustCompile(`"counts":\[(\{[^}]*\}),(\{[^}]*\})`)
			return counts.ReplaceAll(e, []byte(`"counts":[$2,$1`))
		}, "byte for byte"},
		{"white space in the event", func(e []byte) []byte {
			return bytes.Replace(e, []byte(`"event":{"v":1,`), []byte(`"event":{"v": 1,`), 1)
		}, "byte for byte"},
		// Not an entry at all: a verifier says so (the Python one
		// without a traceback).
		{"not JSON", func(e []byte) []byte { return []byte("not an entry") }, "couldn't decode entry"},
		{"JSON without a submission", func(e []byte) []byte {
			return []byte(fmt.Sprintf(`{"v":2,"index":%d}`, target))
		}, "entry"},
	} {
		cases = append(cases, logFormCase{
			name:   c.name,
			bundle: pyPack(t, pyForge(t, key, pyEditEntry(t, ms, target, c.edit))),
			index:  target, want: c.want,
		})
	}
	return cases
}

// TestBundleLogForm checks that VerifyBundle refuses each bundle of
// logFormCases, naming the entry; and that the same forging, with nothing
// changed, gives a bundle it accepts.
func TestBundleLogForm(t *testing.T) {
	lg := pySignedLog(t)
	db, err := store.Open(filepath.Join(lg.dir, "pebble"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var buf bytes.Buffer
	if _, err := audit.WriteBundle(&buf, db, examples06, lg.size, lg.key); err != nil {
		t.Fatal(err)
	}
	ms := pyUnpack(t, buf.Bytes())
	if _, err := audit.VerifyBundle(bytes.NewReader(pyPack(t, pyForge(t, pyLedgerSigner(t, lg.dir), ms))), lg.key); err != nil {
		t.Fatalf("the bundle signed again unchanged: %v", err)
	}
	for _, tc := range logFormCases(t, lg, ms) {
		t.Run(strings.ReplaceAll(tc.name, " ", "_"), func(t *testing.T) {
			_, err := audit.VerifyBundle(bytes.NewReader(tc.bundle), lg.key)
			var be *audit.BundleError
			if !errors.As(err, &be) || !be.HasIndex || be.Index != tc.index || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("VerifyBundle: %v; want a fault of entry %d saying %q", err, tc.index, tc.want)
			}
			t.Logf("VerifyBundle: %v", err)
		})
	}
}

const examples06 = "ga06-2017-04"

// pyEntries returns the entries of a bundle of one entries member.
func pyEntries(t *testing.T, ms []pyMember) [][]byte {
	t.Helper()
	for _, m := range ms {
		if m.name == "entries/00000000000000000000.jsonl" {
			return bytes.Split(bytes.TrimSuffix(m.data, []byte("\n")), []byte("\n"))
		}
	}
	t.Fatal("no entries member")
	return nil
}

// pyRepeat returns a copy of ms with entry i logged again as entry N, with
// the verdict the election's rules give it there, N + 1 in bundle.json, and
// the tally of the N + 1 entries in tally.json, folded by package
// projections (audit's fold refuses the log).
func pyRepeat(t *testing.T, ms []pyMember, i uint64) []pyMember {
	t.Helper()
	es := pyEntries(t, ms)
	var proj *projections.Election
	for k, e := range es {
		en, err := events.DecodeEntry(e)
		if err != nil {
			t.Fatal(err)
		}
		if k == 0 {
			if proj, err = projections.New(en.Event.Election, en.Event.Body.(*events.Manifest)); err != nil {
				t.Fatal(err)
			}
		}
		if err := proj.Apply(en); err != nil {
			t.Fatal(err)
		}
	}
	en, err := events.DecodeEntry(es[i])
	if err != nil {
		t.Fatal(err)
	}
	_, event, err := events.EntryOrigin(es[i])
	if err != nil {
		t.Fatal(err)
	}
	en.Index = uint64(len(es))
	en.Verdict, en.Reason = events.Accepted, ""
	if rj := proj.Decide(en.Event, en.Submission.Signer); rj != nil {
		en.Verdict, en.Reason = events.Rejected, rj.Reason
	}
	again, err := en.EncodeWith(event)
	if err != nil {
		t.Fatal(err)
	}
	if err := proj.Apply(en); err != nil {
		t.Fatal(err)
	}
	tally, err := proj.Tally().Encode()
	if err != nil {
		t.Fatal(err)
	}
	out := pyEdit(t, ms, "entries/00000000000000000000.jsonl", func(b []byte) []byte { return append(append(b, again...), '\n') })
	out = pyEdit(t, out, "tally.json", func([]byte) []byte { return tally })
	return pyEdit(t, out, "bundle.json", func(b []byte) []byte {
		var idx pyIndex
		if err := json.Unmarshal(b, &idx); err != nil {
			t.Fatal(err)
		}
		idx.Size++
		b, err := json.Marshal(&idx)
		if err != nil {
			t.Fatal(err)
		}
		return append(b, '\n')
	})
}

// TestVerifyLogForm checks that audit.Verify refuses a store whose log
// breaks either rule, its hashes and checkpoints made again with the
// ledger's key, naming the entry.
func TestVerifyLogForm(t *testing.T) {
	const e = examples06
	dir, v, size := ledgerWithExample(t)
	signer := pyLedgerSigner(t, dir)
	get := func(db *pebble.DB, k []byte) []byte {
		b, closer, err := db.Get(k)
		if err != nil {
			t.Fatal(err)
		}
		defer closer.Close()
		return bytes.Clone(b)
	}
	resign := func(db *pebble.DB, n uint64) { testledger.Resign(t, db, signer, e, n) }
	for _, tc := range []struct {
		name   string
		tamper func(db *pebble.DB)
		index  uint64
		want   string
	}{
		{"resigned unchanged", func(db *pebble.DB) { resign(db, size) }, 0, ""},
		{"white space in entry 3", func(db *pebble.DB) {
			b := get(db, entryKey(e, 3))
			nb := bytes.Replace(b, []byte(`"verdict":"accepted"`), []byte(`"verdict": "accepted"`), 1)
			if bytes.Equal(b, nb) {
				t.Fatal("entry 3 is not accepted")
			}
			db.Set(entryKey(e, 3), nb, pebble.Sync)
			resign(db, size)
		}, 3, "canonical form"},
		{"the last entry logged again", func(db *pebble.DB) {
			// A count report again: the rules accept it, and the
			// stored projection is left as it was (the replay stops
			// at the entry before comparing it).
			b := get(db, entryKey(e, size-1))
			db.Set(entryKey(e, size), bytes.Replace(b, []byte(fmt.Sprintf(`"index":%d,`, size-1)), []byte(fmt.Sprintf(`"index":%d,`, size)), 1), pebble.Sync)
			resign(db, size+1)
		}, size, fmt.Sprintf("logged a second time (entry %d has it)", size-1)},
	} {
		t.Run(strings.ReplaceAll(tc.name, " ", "_"), func(t *testing.T) {
			db := testledger.CopyStore(t, dir)
			tc.tamper(db.Pebble())
			_, err := audit.Verify(db, e, v)
			if tc.want == "" {
				if err != nil {
					t.Fatalf("the store signed again unchanged: %v", err)
				}
				return
			}
			var me *audit.MismatchError
			if !errors.As(err, &me) || me.Index != tc.index || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("audit.Verify: %v; want index %d and %q", err, tc.index, tc.want)
			}
			t.Logf("audit.Verify: %v", err)
		})
	}
}
