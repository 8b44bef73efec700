package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/election-audit/ledger/events"
	"github.com/election-audit/ledger/node"
)

// corpusDir is the shared corpus of official results files (issue 11),
// from this package's directory.
var corpusDir = filepath.Join("..", "..", "..", "shared", "data")

// corpusCase is one election of the corpus and the files that report it.
type corpusCase struct {
	election string
	// files are FORMAT:PATH, PATH under corpusDir, in the order whose
	// import into a fresh election defines the manifest.
	files []string
	// copyOf, when set, is a file of files that is also imported under
	// another name (copyName, in a temporary directory) with copyFlags:
	// a renamed byte-identical copy.
	copyOf, copyName string
	copyFlags        []string
}

// TestImportCorpusIdempotent is issue 11's "any subset and order of the
// corpus, imported twice: each report logged once", through `ledger import`
// against one real ledger (embedded JetStream, Pebble), with tree sizes
// compared. For each election of the corpus:
//
//   - all its files, once, into a fresh election: tree size S (this is the
//     "third election" of the brief: a fresh election, every file once, in
//     the original order);
//   - random non-empty subsets in random orders, each imported twice into
//     that election: exit 0 or 4, nothing logged, the size stays S;
//   - a renamed byte-identical copy of a file, after the original: the
//     size stays S; beside the original in one import: never logged twice
//     (accepted with the size S, or refused cleanly, which is logged);
//   - a second, fresh election built piecemeal: a random subset first,
//     then the rest, then every file in reverse order twice: the size ends
//     at S, and the tally equals the first election's but for its ID (or,
//     where other files defined its manifest, every contest's totals do).
//
// A logged manifest never changes, so a fresh election defined by a subset
// cannot take files that report units, vote types or a root it lacks; such
// an import is refused (exit 1) and must log nothing. The piecemeal
// election is retried with other random subsets when that happens, each
// refusal logged, and at last from all files, so that the comparison is
// always made.
func TestImportCorpusIdempotent(t *testing.T) {
	if _, err := os.Stat(filepath.Join(corpusDir, "ga06-2017", "SOURCES.md")); err != nil {
		t.Skipf("the corpus of official results files is not at %s (issue 11; see /work/shared/data): %v", corpusDir, err)
	}
	ga := func(name string) string { return filepath.Join("ga06-2017", name) }
	runoff := func(county string) string {
		return "openelections:" + ga("20170620__ga__special__general__runoff__"+county+"__precinct.csv")
	}
	nj := filepath.Join("wild", "nj")
	cases := []corpusCase{
		{
			election: "ga06-2017-06",
			files:    []string{runoff("cobb"), runoff("dekalb"), runoff("fulton"), "ga-sos:" + ga("export-2017JunSpecRun.json")},
			copyOf:   "ga-sos:" + ga("export-2017JunSpecRun.json"), copyName: "runoff results (renamed).json",
		},
		{election: "ga06-2017-04", files: []string{"ga-sos:" + ga("export-2017AprSpec.json")}},
		{
			election: "nj-cumberland-2016-csv",
			files:    []string{"openelections:" + filepath.Join(nj, "20161108__nj__general__cumberland__precinct.csv")},
		},
		{
			election: "nj-cumberland-2016-clarity",
			files:    []string{"clarity:" + filepath.Join(nj, "cumberland", "general.xml")},
			copyOf:   "clarity:" + filepath.Join(nj, "cumberland", "general.xml"), copyName: "cumberland general 2016.xml",
		},
		{
			election: "nj-cumberland-2016",
			files: []string{"openelections:" + filepath.Join(nj, "20161108__nj__general__cumberland__precinct.csv"),
				"clarity:" + filepath.Join(nj, "cumberland", "general.xml")},
		},
		{
			election: "pa-luzerne-2024",
			files: []string{"openelections:" + filepath.Join("wild", "pa", "20241105__pa__general__luzerne__precinct.csv"),
				"clarity:" + filepath.Join("wild", "pa", "luzerne", "detail.xml")},
			copyOf:   "openelections:" + filepath.Join("wild", "pa", "20241105__pa__general__luzerne__precinct.csv"),
			copyName: "luzerne precincts.csv", copyFlags: []string{"--date", "2024-11-05", "--state", "pa"},
		},
	}
	n, url := startLedger(t)
	// Every import is signed by the authority the ledger accepts: the
	// manifest of each new election names it.
	key := authorityKeyFile(t)
	r := rand.New(rand.NewPCG(11, 2017))
	for _, c := range cases {
		t.Run(c.election, func(t *testing.T) {
			c.files = slices.Clone(c.files)
			for i, f := range c.files {
				c.files[i] = corpusFile(f)
			}
			importCorpusCase(t, n, url, key, r, c)
		})
	}
}

// corpusFile turns FORMAT:PATH under the corpus into FORMAT:PATH from here.
func corpusFile(f string) string {
	format, path, _ := strings.Cut(f, ":")
	return format + ":" + filepath.Join(corpusDir, path)
}

// corpusImport is what one `ledger import --json` gave.
type corpusImport struct {
	code   int
	doc    importSummaryDoc // when code is 0 or 4
	stderr string
}

func (ci corpusImport) accepted() bool { return ci.code == exitOK || ci.code == exitFindings }

// errorLine is the line of a command's standard error that gives its
// error, for messages.
func errorLine(stderr string) string {
	lines := strings.Split(strings.TrimSpace(stderr), "\n")
	for _, l := range lines {
		if strings.HasPrefix(l, "ledger: ") {
			return l
		}
	}
	return lines[len(lines)-1]
}

func importCorpusCase(t *testing.T, n *node.Node, url, key string, r *rand.Rand, c corpusCase) {
	imp := func(election string, flags []string, files ...string) corpusImport {
		t.Helper()
		args := append([]string{"import", "--server", url, "--key", key, "--election", election, "--json"}, flags...)
		code, out, errs := cli(t, "", append(args, files...)...)
		ci := corpusImport{code: code, stderr: errs}
		if ci.accepted() {
			if err := json.Unmarshal([]byte(out), &ci.doc); err != nil {
				t.Fatalf("import %v into %s: exit %d, but --json printed no document: %v\n%s%s", names(files), election, code, err, out, errs)
			}
		}
		return ci
	}
	// again imports files into an election of size want: they must be
	// accepted and log nothing.
	again := func(election string, want uint64, flags []string, files ...string) {
		t.Helper()
		ci := imp(election, flags, files...)
		if !ci.accepted() {
			t.Errorf("import %v into %s again: exit %d (want 0 or 4), tree size %d (want %d)\n%s",
				names(files), election, ci.code, treeSize(n, election), want, ci.stderr)
			return
		}
		d := ci.doc
		if got := treeSize(n, election); got != want || d.TreeSize != want || d.Logged != 0 || d.Rejected != 0 || d.AlreadyLogged != d.Events {
			t.Errorf("import %v into %s again: tree size %d (import says %d), want %d; %d logged, %d already logged of %d events, %d rejected",
				names(files), election, got, d.TreeSize, want, d.Logged, d.AlreadyLogged, d.Events, d.Rejected)
		}
	}

	// All the files, once, into a fresh election: that defines the manifest.
	// Where the case says the files may be refused as one import, the
	// reverse order is tried too, and the first order accepted defines it.
	a := c.election
	first := imp(a, nil, c.files...)
	if !first.accepted() {
		t.Fatalf("import %v into a fresh election: exit %d (want 0 or 4)\n%s", names(c.files), first.code, first.stderr)
	}
	size := treeSize(n, a)
	if d := first.doc; size == 0 || d.TreeSize != size || uint64(d.Logged) != size || d.Rejected != 0 {
		t.Fatalf("import %v into a fresh election: tree size %d, import says %+v", names(c.files), size, d)
	}
	tally := corpusTally(t, url, a)
	t.Logf("%s: all %d file(s) once: exit %d, tree size %d", a, len(c.files), first.code, size)

	// Random subsets in random orders, each twice: nothing new.
	rounds := 5
	if len(c.files) == 1 {
		rounds = 1
	}
	for range rounds {
		sub := randomSubset(r, c.files)
		again(a, size, nil, sub...)
		again(a, size, nil, sub...)
		t.Logf("%s: %v twice: tree size %d", a, names(sub), treeSize(n, a))
	}

	// A renamed byte-identical copy: the same source, alone and beside the
	// original.
	if c.copyOf != "" {
		format, path, _ := strings.Cut(corpusFile(c.copyOf), ":")
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		copied := filepath.Join(t.TempDir(), c.copyName)
		if err := os.WriteFile(copied, b, 0o644); err != nil {
			t.Fatal(err)
		}
		again(a, size, c.copyFlags, format+":"+copied)
		t.Logf("%s: renamed copy %q after the original: tree size %d", a, c.copyName, treeSize(n, a))
		// Beside the original, in one import: the same source, logged once
		// (docs/importers.md).
		both := []string{format + ":" + path, format + ":" + copied}
		ci := imp(a, c.copyFlags, both...)
		if got := treeSize(n, a); !ci.accepted() || got != size || ci.doc.Logged != 0 {
			t.Errorf("import %v into %s: exit %d, tree size %d (want %d), %d logged\n%s", names(both), a, ci.code, got, size, ci.doc.Logged, ci.stderr)
		}
		t.Logf("%s: %v in one import: exit %d, tree size %d", a, names(both), ci.code, treeSize(n, a))
	}
	if got := corpusTally(t, url, a); !reflect.DeepEqual(got, tally) {
		t.Errorf("%s: the re-imports changed the tally", a)
	}

	// A second election built piecemeal. A subset that lacks what the rest
	// needs (units, vote types, the root) defines a manifest that cannot
	// take the rest: the import is refused, logs nothing, and another
	// attempt starts, the last from all files in the original order.
	const randomAttempts = 3
	for attempt := 0; ; attempt++ {
		b := fmt.Sprintf("%s-b%d", c.election, attempt)
		sub := c.files
		if attempt < randomAttempts {
			sub = randomSubset(r, c.files)
		}
		rest := slices.DeleteFunc(slices.Clone(c.files), func(f string) bool { return slices.Contains(sub, f) })
		r.Shuffle(len(rest), func(i, j int) { rest[i], rest[j] = rest[j], rest[i] })
		step := func(what string, files []string) bool {
			t.Helper()
			before := treeSize(n, b)
			ci := imp(b, nil, files...)
			if ci.accepted() {
				t.Logf("%s: %s %v: exit %d, tree size %d", b, what, names(files), ci.code, treeSize(n, b))
				return true
			}
			if ci.code != exitError || !strings.Contains(ci.stderr, "couldn't match") || treeSize(n, b) != before {
				t.Fatalf("import %v into %s (%s): exit %d, tree size %d → %d: a refusal must exit 1, say what does not match, and log nothing\n%s",
					names(files), b, what, ci.code, before, treeSize(n, b), ci.stderr)
			}
			t.Logf("%s: %s %v: refused, nothing logged: %s", b, what, names(files), errorLine(ci.stderr))
			return false
		}
		if !step("first", sub) {
			if attempt >= randomAttempts {
				t.Fatalf("%s: all files in the original order were refused", b)
			}
			continue
		}
		if len(rest) > 0 && !step("then the rest", rest) {
			continue
		}
		reversed := slices.Clone(c.files)
		slices.Reverse(reversed)
		again(b, treeSize(n, b), nil, reversed...)
		again(b, treeSize(n, b), nil, reversed...)
		if got := treeSize(n, b); got != size {
			t.Errorf("%s: tree size %d after a subset, the rest and everything twice in reverse; %s has %d from every file once", b, got, a, size)
		}
		compareCorpusTallies(t, n, url, a, b, tally)
		t.Logf("%s: every file twice in reverse order: tree size %d (%s: %d)", b, treeSize(n, b), a, size)
		break
	}
}

// randomSubset is a random non-empty subset of files in a random order.
func randomSubset(r *rand.Rand, files []string) []string {
	for {
		var sub []string
		for _, f := range files {
			if r.IntN(2) == 0 {
				sub = append(sub, f)
			}
		}
		if len(sub) > 0 {
			r.Shuffle(len(sub), func(i, j int) { sub[i], sub[j] = sub[j], sub[i] })
			return sub
		}
	}
}

// names are the files' base names, for messages.
func names(files []string) []string {
	out := make([]string, len(files))
	for i, f := range files {
		out[i] = filepath.Base(f)
	}
	return out
}

// corpusTally is `ledger tally --format json` of an election, without its
// election ID.
func corpusTally(t *testing.T, url, election string) map[string]any {
	t.Helper()
	code, out, errs := cli(t, "", "tally", "--server", url, "--election", election, "--format", "json")
	if code != exitOK {
		t.Fatalf("tally %s: exit %d\n%s", election, code, errs)
	}
	var m map[string]any
	if err := json.Unmarshal([]byte(out), &m); err != nil {
		t.Fatalf("tally %s: %v", election, err)
	}
	if m["election"] != election {
		t.Fatalf("tally %s: election %v", election, m["election"])
	}
	delete(m, "election")
	return m
}

// compareCorpusTallies compares election b's tally with a's (want). With
// the same manifest they must be equal but for the election ID; with
// another (defined by another subset or order of the files, so other
// names, IDs or vote types) the entry counts and every contest's totals,
// matched as sorted lists, must be.
func compareCorpusTallies(t *testing.T, n *node.Node, url, a, b string, want map[string]any) {
	t.Helper()
	got := corpusTally(t, url, b)
	if bytes.Equal(manifestJSON(t, n, a), manifestJSON(t, n, b)) {
		if !reflect.DeepEqual(got, want) {
			gb, _ := json.Marshal(got)
			wb, _ := json.Marshal(want)
			t.Errorf("%s and %s have one manifest but their tallies differ:\n%.600s\n%.600s", a, b, gb, wb)
		} else {
			t.Logf("%s and %s: one manifest, tallies equal but for the election ID", a, b)
		}
		return
	}
	if g, w := tallyShape(got), tallyShape(want); !slices.Equal(g, w) {
		t.Errorf("%s and %s (manifests defined by other files) have other totals:\n%v\n%v", a, b, g, w)
	} else {
		t.Logf("%s and %s: manifests differ (defined by other files), totals equal", a, b)
	}
}

// tallyShape is a tally without names and IDs: the entry counts, then per
// contest its units reported, its total and its choices' votes, sorted.
func tallyShape(m map[string]any) []string {
	var out []string
	for _, k := range []string{"entries", "accepted", "rejected"} {
		out = append(out, fmt.Sprintf("%s %v", k, m[k]))
	}
	cs, _ := m["contests"].([]any)
	var contests []string
	for _, c := range cs {
		c, _ := c.(map[string]any)
		var votes []float64
		chs, _ := c["choices"].([]any)
		for _, ch := range chs {
			ch, _ := ch.(map[string]any)
			v, _ := ch["votes"].(float64)
			votes = append(votes, v)
		}
		slices.Sort(votes)
		contests = append(contests, fmt.Sprintf("%v/%v units, total %v: %v", c["units_reported"], c["units_total"], c["total_votes"], votes))
	}
	slices.Sort(contests)
	return append(out, contests...)
}

// manifestJSON is the body of an election's entry 0, its manifest.
func manifestJSON(t *testing.T, n *node.Node, election string) []byte {
	t.Helper()
	raw, err := n.Ledger.Entry(election, 0)
	if err != nil {
		t.Fatalf("entry 0 of %s: %v", election, err)
	}
	en, err := events.DecodeEntry(raw)
	if err != nil {
		t.Fatalf("entry 0 of %s: %v", election, err)
	}
	m, ok := en.Event.Body.(*events.Manifest)
	if !ok {
		t.Fatalf("entry 0 of %s is a %s, not a manifest", election, en.Event.Type())
	}
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
