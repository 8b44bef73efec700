package dashboard_test

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"image/png"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
	"github.com/google/uuid"

	"github.com/election-audit/ledger/audit"
	"github.com/election-audit/ledger/demo"
	"github.com/election-audit/ledger/events"
	"github.com/election-audit/ledger/examples"
	"github.com/election-audit/ledger/internal/testkeys"
	ledgerkeys "github.com/election-audit/ledger/keys"
	"github.com/election-audit/ledger/node"
)

// Chromium is the browser the test drives: Debian's chromium package,
// which .ci/run installs.
const Chromium = "/usr/bin/chromium"

// artifactDir is where the test saves its screenshots: $LEDGER_ARTIFACTS,
// or testdata/artifacts in this package (ignored by git).
func artifactDir(t *testing.T) string {
	dir := os.Getenv("LEDGER_ARTIFACTS")
	if dir == "" {
		dir = filepath.Join("testdata", "artifacts")
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(abs, 0o755); err != nil {
		t.Fatalf("couldn't create the artefact directory: %v", err)
	}
	return abs
}

// pageState is what the test reads from the page's DOM.
type pageState struct {
	Total       string `json:"total"`       // the race's total votes, as shown
	Status      string `json:"status"`      // the election's status line
	Entries     string `json:"entries"`     // the log size shown
	Connection  string `json:"connection"`  // the live updates line
	Corrections string `json:"corrections"` // the corrections feed's text
	Changes     string `json:"changes"`     // the feed's tables of what changed, old → new
	Checks      string `json:"checks"`      // the checkpoint checks' text
	Crossings   string `json:"crossings"`   // the chart's caption on the 50% line
	Leads       string `json:"leads"`       // the chart's caption on the lead
	Alarm       bool   `json:"alarm"`       // the checkpoint alarm is shown
	Takeover    string `json:"takeover"`    // the warning that takes over the page, if shown
	Marker      string `json:"marker"`      // set by the test after loading: gone if the page reloaded
}

const race = "us-representative-district-6"

const readPage = `(() => {
  const text = (sel) => { const el = document.querySelector(sel); return el ? el.innerText : ""; };
  const all = (sel) => [...document.querySelectorAll(sel)].map((el) => el.innerText).join("\n");
  const takeover = document.getElementById("takeover");
  return {
    total: text("#contest-us-representative-district-6 .total-votes"),
    status: text("#election-status"),
    entries: text("#election-entries"),
    connection: text("#connection"),
    corrections: text("#corrections-list"),
    changes: all("#corrections-list .change-table"),
    checks: text("#cp-checks"),
    crossings: text("#contest-us-representative-district-6 .crossings"),
    leads: text("#contest-us-representative-district-6 .leads"),
    alarm: !document.getElementById("checkpoint-alarm").hidden,
    takeover: takeover && !takeover.hidden ? takeover.innerText : "",
    marker: window.testMarker || "",
  };
})()`

// TestDashboardInBrowser opens the dashboard in headless Chromium during
// the GA-06 demo and checks, in the DOM, that the totals change without a
// reload; that the correction appears in the feed with the office that
// made it and what it changed, old → new, by candidate; that checkpoints
// and their entries' signatures and signers' roles verify in the browser;
// that the chart's x axis is the entries' recorded time and its caption
// names the entries where the 50% line was crossed; that the entry checks
// fail, naming the entry, when a submission or the key list is altered;
// that a fork and a rollback take over the page, marking every number
// unverified; that an unknown election is named, not polled; then it
// saves screenshots: desktop, forced colours (whose chart lines must
// show), phone; last, that four tabs load at once, each on one change
// stream, and each shows a new entry.
func TestDashboardInBrowser(t *testing.T) {
	if _, err := os.Stat(Chromium); err != nil {
		t.Skipf("skipping the browser test: %s is not installed (.ci/run installs it with apt-get install chromium, which failed or was not run): %v", Chromium, err)
	}
	ctx := context.Background()
	keys, err := demo.NewKeys()
	if err != nil {
		t.Fatal(err)
	}
	dataDir := t.TempDir()
	n, err := node.Open(ctx, node.Config{DataDir: dataDir, HTTP: "127.0.0.1:0", NATSListen: "127.0.0.1:0",
		Authorities: []string{keys.Authority.Verifier}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.Close(ctx) })

	// The browser starts before the demo.
	bctx := newBrowser(t, ctx)

	// The demo, paced so that the page sees the night unfold.
	demoCtx, stopDemo := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() {
		_, err := demo.Run(demoCtx, demo.Config{Ledger: n.Ledger, DB: n.DB, Key: n.VerifierKey, Keys: keys, Out: io.Discard, Pace: 250 * time.Millisecond})
		done <- err
	}()
	defer func() {
		stopDemo()
		if err := <-done; err != nil && demoCtx.Err() == nil {
			t.Errorf("demo: %v", err)
		}
	}()

	url := "http://" + n.HTTPAddr() + "/?election=" + april
	if err := chromedp.Do(bctx, chromedp.Navigate(url)); err != nil {
		t.Fatalf("couldn't load %s: %v", url, err)
	}
	if _, err := chromedp.Run(bctx, chromedp.Evaluate[bool](`window.testMarker = "loaded once"; true`)); err != nil {
		t.Fatal(err)
	}
	t.Logf("loaded %s", url)

	// Watch the DOM until the totals have changed at least twice, the
	// correction is in the feed, and April's night is over.
	deadline := time.Now().Add(2 * time.Minute)
	var totals []string
	var st pageState
	emptyFeedSeen := false // the correction must arrive while the page is open
	crossingsRE := regexp.MustCompile(`50% line was crossed (\d+) times?`)
	for {
		if st, err = chromedp.Run(bctx, chromedp.Evaluate[pageState](readPage)); err != nil {
			t.Fatal(err)
		}
		if st.Marker != "loaded once" {
			t.Fatal("the page reloaded: it must update in place")
		}
		emptyFeedSeen = emptyFeedSeen || st.Corrections == ""
		if st.Total != "" && (len(totals) == 0 || totals[len(totals)-1] != st.Total) {
			totals = append(totals, st.Total)
			t.Logf("totals now show %s votes", st.Total)
		}
		crossed := 0
		if m := crossingsRE.FindStringSubmatch(st.Crossings); m != nil {
			crossed, _ = strconv.Atoi(m[1])
		}
		if len(totals) >= 3 && strings.Contains(st.Corrections, "data entry error") && st.Changes != "" &&
			st.Total == "192,569" && strings.Contains(st.Status, "Certified") && crossed >= 2 &&
			strings.Contains(st.Checks, "Consistency: ✔ verified") && strings.Contains(st.Checks, "Signer roles: ") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out; totals seen %v; page state %+v", totals, st)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if !emptyFeedSeen {
		t.Error("the correction was in the feed at the first look: it did not appear while the page was open")
	}
	t.Logf("totals changed %d times; corrections feed:\n%s", len(totals)-1, st.Corrections)
	t.Logf("chart: %s %s", st.Leads, st.Crossings)
	t.Logf("checkpoint checks:\n%s", st.Checks)
	// The correction was made by DeKalb's office, whose key signed it.
	for _, want := range []string{"Correction (accepted)", "Reason given: data entry error", "By: " + keys.Counties["dekalb"].Name()} {
		if !strings.Contains(st.Corrections, want) {
			t.Errorf("the corrections feed does not say %q", want)
		}
	}
	for _, want := range []string{"Signature: ✔ verified", "Entry signatures: ✔ verified", "Signer roles: ✔ verified"} {
		if !strings.Contains(st.Checks, want) {
			t.Errorf("checkpoint checks do not say %q: %q", want, st.Checks)
		}
	}
	if st.Alarm || st.Takeover != "" || strings.Contains(st.Checks, "FAILED") || strings.Contains(st.Checks, "not checked") {
		t.Errorf("checkpoint checks: %q, alarm %v, warning %q", st.Checks, st.Alarm, st.Takeover)
	}
	stopDemo() // April is over; June is not looked at

	checkCorrectionShown(t, n, st)
	checkTimeAxis(t, bctx, n, st)
	checkVerifiers(t, bctx)
	checkOrigins(t, bctx)
	checkEntryChecks(t, bctx, n, keys)
	checkForkAndRollback(t, bctx, n, dataDir, keys)
	checkUnknownElection(t, bctx, n)

	dir := artifactDir(t)
	shot := func(name string) []byte {
		t.Helper()
		waitCharts(t, bctx)
		png, err := chromedp.Run(bctx, chromedp.FullScreenshot(100))
		if err != nil {
			t.Fatal(err)
		}
		save(t, dir, name, png)
		return png
	}
	shot("dashboard-desktop.png")
	checkForcedColors(t, bctx, dir)

	// A phone: 390 CSS pixels wide, nothing wider than the screen, and
	// the election picker's choice shown whole.
	if err := chromedp.Do(bctx, chromedp.EmulateViewport(390, 844, chromedp.EmulateMobile, chromedp.EmulatePortrait, chromedp.EmulateScale(2))); err != nil {
		t.Fatal(err)
	}
	shot("dashboard-phone.png")
	checkPhone(t, bctx, 390)
	if err := chromedp.Do(bctx, chromedp.EmulateViewport(375, 812, chromedp.EmulateMobile, chromedp.EmulatePortrait, chromedp.EmulateScale(2))); err != nil {
		t.Fatal(err)
	}
	waitCharts(t, bctx)
	checkPhone(t, bctx, 375)

	// Last, as it logs a new entry: the other checks and the screenshots
	// show April's night as the demo left it.
	checkFourTabs(t, bctx, n, keys)
}

const april = "ga06-2017-04"

// waitCharts waits until the page has drawn every chart at its box's
// width (after a resize it draws them again, 150 ms after the last one).
func waitCharts(t *testing.T, tab context.Context) {
	t.Helper()
	waitFor(t, tab, `[...document.querySelectorAll(".chart-box")].every((b) => {
	  const svg = b.querySelector("svg");
	  return svg && Number(svg.getAttribute("width")) === Math.max(300, Math.round(b.clientWidth || 600));
	})`, "the charts drawn at their boxes' width", 10*time.Second, func(drawn bool) bool { return drawn })
}

// newBrowser starts a headless chromium, closed when the test ends.
func newBrowser(t *testing.T, ctx context.Context) context.Context {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(Chromium),
		chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 1000),
	)
	actx, cancelAlloc := chromedp.NewExecAllocator(ctx, opts...)
	t.Cleanup(cancelAlloc)
	bctx, cancelBrowser := chromedp.NewContext(actx)
	t.Cleanup(cancelBrowser)
	// The first run starts the browser: no timeout on it.
	if err := chromedp.Do(bctx, chromedp.Navigate("about:blank")); err != nil {
		t.Fatalf("couldn't start %s: %v", Chromium, err)
	}
	return bctx
}

// TestDashboardReadToken: on a ledger whose reads need a token, the page
// asks for it instead of failing quietly; a wrong one is refused and
// asked for again, saying so; with the right one the page follows the
// count, its change stream included (EventSource sends the cookie).
func TestDashboardReadToken(t *testing.T) {
	if _, err := os.Stat(Chromium); err != nil {
		t.Skipf("skipping the browser test: %s is not installed: %v", Chromium, err)
	}
	ctx := context.Background()
	const token = "s3cret-read-token"
	n, err := node.Open(ctx, node.Config{DataDir: t.TempDir(), HTTP: "127.0.0.1:0", NATSListen: "127.0.0.1:0",
		Authorities: testkeys.Authorities, ReadToken: token})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.Close(ctx) })
	evs, err := examples.GA06April()
	if err != nil {
		t.Fatal(err)
	}
	evs[0].Body.(*events.Manifest).Authority = ""
	if _, err := n.Ledger.Submit(ctx, testkeys.MustSign(testkeys.Authority, evs[:3]...)); err != nil {
		t.Fatal(err)
	}
	bctx := newBrowser(t, ctx)
	url := "http://" + n.HTTPAddr() + "/?election=" + april
	type tokenPage struct {
		Form, Contests, Connection string
	}
	const read = `(() => ({
		form: (document.getElementById("token-form") || {}).innerText || "",
		contests: document.querySelectorAll(".contest").length + " contests",
		connection: (document.getElementById("connection") || {}).innerText || "",
	}))()`
	wait := func(what string, ok func(tokenPage) bool) tokenPage {
		t.Helper()
		return waitFor(t, bctx, read, what, 30*time.Second, ok)
	}
	give := func(tok string) {
		t.Helper()
		if err := chromedp.Do(bctx, chromedp.SendKeys("#read-token", tok)); err != nil {
			t.Fatal(err)
		}
		if err := chromedp.Do(bctx, chromedp.Click("#token-form button")); err != nil {
			t.Fatal(err)
		}
	}
	if err := chromedp.Do(bctx, chromedp.Navigate(url)); err != nil {
		t.Fatal(err)
	}
	p := wait("the token form", func(p tokenPage) bool { return strings.Contains(p.Form, "need its read token") })
	if !strings.Contains(p.Connection, "read token") || strings.Contains(p.Form, "was refused") {
		t.Errorf("first ask: %+v", p)
	}
	give("not-the-token")
	wait("the token refused", func(p tokenPage) bool { return strings.Contains(p.Form, "was refused") })
	give(token)
	p = wait("the count", func(p tokenPage) bool {
		return p.Form == "" && p.Contests != "0 contests" && strings.HasPrefix(p.Connection, "connected")
	})
	t.Logf("with the token: %+v", p)
}

// TestDashboardManifestInParts: for an election whose manifest is in
// parts, the page reads all of it: the corrections feed names a unit
// that only the last part holds by its name, not its ID.
func TestDashboardManifestInParts(t *testing.T) {
	if _, err := os.Stat(Chromium); err != nil {
		t.Skipf("skipping the browser test: %s is not installed: %v", Chromium, err)
	}
	ctx := context.Background()
	n, err := node.Open(ctx, node.Config{DataDir: t.TempDir(), HTTP: "127.0.0.1:0", NATSListen: "127.0.0.1:0", Authorities: testkeys.Authorities})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.Close(ctx) })
	const election = "parts-2026"
	evs := partsManifest(t, election)
	last := evs[len(evs)-1].Body.(*events.ManifestPart).Units
	unit := last[len(last)-1]
	src := events.Source{Operator: "test"}
	report := &events.Event{ID: uuid.Must(uuid.NewV7()), Election: election, Body: &events.CountReport{Unit: unit.ID, Contest: "gov", Source: src,
		Counts: []events.Count{{Choice: "x", VoteType: "day", Votes: 10}}}}
	correction := &events.Event{ID: uuid.Must(uuid.NewV7()), Election: election, Body: &events.Correction{Corrects: report.ID, Reason: "a typo",
		CountReport: events.CountReport{Unit: unit.ID, Contest: "gov", Source: src, Counts: []events.Count{{Choice: "x", VoteType: "day", Votes: 12}}}}}
	if _, err := n.Ledger.Submit(ctx, testkeys.MustSign(testkeys.Authority, append(evs, report, correction)...)); err != nil {
		t.Fatal(err)
	}
	bctx := newBrowser(t, ctx)
	if err := chromedp.Do(bctx, chromedp.Navigate("http://"+n.HTTPAddr()+"/?election="+election)); err != nil {
		t.Fatal(err)
	}
	feed := waitFor(t, bctx, `(document.getElementById("corrections-list") || {}).innerText || ""`,
		fmt.Sprintf("the corrections feed naming unit %s %q", unit.ID, unit.Name), 30*time.Second,
		func(feed string) bool { return strings.Contains(feed, unit.Name) })
	t.Logf("the feed names %s: %.200s", unit.ID, feed)
}

func save(t *testing.T, dir, name string, png []byte) {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot: %s", path)
}

// commas writes n as the page does (en-US).
func commas(n int64) string {
	if n < 0 {
		return "−" + commas(-n)
	}
	s := strconv.FormatInt(n, 10)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

// logEntries decodes an election's committed log.
func logEntries(t *testing.T, n *node.Node, election string) []*events.Entry {
	t.Helper()
	_, size, err := n.Ledger.Checkpoint(election)
	if err != nil {
		t.Fatal(err)
	}
	var out []*events.Entry
	err = n.Ledger.Entries(election, 0, size, func(_ uint64, data []byte) error {
		en, err := events.DecodeEntry(data)
		out = append(out, en)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// checkCorrectionShown checks that the feed shows what the correction
// changed as the ledger has it: for each candidate whose votes changed, by
// name, the old and new totals and the difference, and the vote type.
func checkCorrectionShown(t *testing.T, n *node.Node, st pageState) {
	t.Helper()
	log := logEntries(t, n, april)
	m := log[0].Event.Body.(*events.Manifest)
	names := map[string]string{}
	for _, c := range m.Contests {
		for _, ch := range c.Choices {
			names[ch.ID] = ch.Name
		}
	}
	voteTypes := map[string]string{}
	for _, vt := range m.VoteTypes {
		voteTypes[vt.ID] = vt.Name
	}
	var corr *events.Correction
	byID := map[string]*events.CountReport{}
	for _, en := range log {
		switch b := en.Event.Body.(type) {
		case *events.CountReport:
			byID[en.Event.ID.String()] = b
		case *events.Correction:
			corr = b
		}
	}
	if corr == nil || byID[corr.Corrects.String()] == nil {
		t.Fatal("no correction of a report in the log")
	}
	sum := func(cs []events.Count) map[string]int64 {
		out := map[string]int64{}
		for _, c := range cs {
			out[c.Choice] += c.Votes
		}
		return out
	}
	old, now := sum(byID[corr.Corrects.String()].Counts), sum(corr.Counts)
	var want []string
	for id, o := range old {
		if now[id] != o {
			delta := "+" + commas(now[id]-o)
			if now[id] < o {
				delta = commas(now[id] - o)
			}
			want = append(want, fmt.Sprintf("%s\t%s\t%s\t%s", names[id], commas(o), commas(now[id]), delta))
		}
	}
	if len(want) == 0 {
		t.Fatal("the correction changes no candidate's total")
	}
	changes := regexp.MustCompile(`[ \t]*\n[ \t]*`).ReplaceAllString(st.Changes, "\n")
	for _, w := range want {
		f := strings.Split(w, "\t")
		row := regexp.MustCompile(regexp.QuoteMeta(f[0]) + `\n.*\n?\s*` + regexp.QuoteMeta(f[1]) + `\s+` + regexp.QuoteMeta(f[2]) + `\s+` + regexp.QuoteMeta(f[3]))
		if !row.MatchString(changes) {
			t.Errorf("the feed does not show %s: %s → %s (%s):\n%s", f[0], f[1], f[2], f[3], st.Changes)
		}
	}
	for _, c := range corr.Counts {
		if id := c.Choice; strings.Contains(changes, id) && names[id] != id {
			t.Errorf("the feed names candidate ID %s, not the name %s", id, names[id])
		}
	}
	if !strings.Contains(st.Changes, "What it changed, votes old → new") || !strings.Contains(st.Changes, voteTypes["election-day"]+" ") {
		t.Errorf("the feed's change table: %q", st.Changes)
	}
	t.Logf("the feed shows what the correction changed:\n%s", st.Changes)
}

// checkTimeAxis checks the chart against the log: its x axis is the time
// each entry was recorded (each turn's mark is where its entry's time
// falls between the axis ticks), and its caption names the entries where
// Ossoff's share crossed the 50% line, found from the as-of tally at
// every size, the first one included.
func checkTimeAxis(t *testing.T, bctx context.Context, n *node.Node, st pageState) {
	t.Helper()
	log := logEntries(t, n, april)
	var sizes []uint64
	for s := uint64(1); s <= uint64(len(log)); s++ {
		sizes = append(sizes, s)
	}
	pts, err := audit.Series(n.Ledger, april, sizes)
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	var at []uint64
	above := false
	for _, p := range pts {
		for _, c := range p.Contests {
			if c.ID != race {
				continue
			}
			for _, ch := range c.Choices {
				if ch.ID != "jon-ossoff" {
					continue
				}
				if now := c.TotalVotes > 0 && 2*ch.Votes > c.TotalVotes; now != above {
					verb := "fell below"
					if now {
						verb = "rose above"
					}
					i := p.TreeSize - 1
					want = append(want, fmt.Sprintf("Ossoff %s it at entry %d (%s UTC)", verb, i, log[i].Recorded.UTC().Format("15:04:05")))
					at = append(at, i)
					above = now
				}
			}
		}
	}
	if len(want) < 3 {
		t.Fatalf("the as-of tallies cross the 50%% line %d times", len(want))
	}
	if !strings.Contains(st.Crossings, fmt.Sprintf("The 50%% line was crossed %d times", len(want))) {
		t.Errorf("the caption: %q; want %d crossings", st.Crossings, len(want))
	}
	for _, w := range want {
		if !strings.Contains(st.Crossings, w) {
			t.Errorf("the caption does not say %q: %q", w, st.Crossings)
		}
	}
	if !strings.Contains(st.Leads, fmt.Sprintf("Ossoff led first, at entry %d", at[0])) {
		t.Errorf("the caption on the lead: %q", st.Leads)
	}

	type tick struct {
		X     float64 `json:"x"`
		Label string  `json:"label"`
	}
	type mark struct {
		X     float64 `json:"x"`
		Title string  `json:"title"`
	}
	type axisInfo struct {
		Title string `json:"title"`
		Ticks []tick `json:"ticks"`
		Marks []mark `json:"marks"`
	}
	axis, err := chromedp.Run(bctx, chromedp.Evaluate[axisInfo](`(() => {
	  const svg = document.querySelector("#contest-us-representative-district-6 .chart-box svg");
	  return {
	    title: svg.querySelector("text.axis-title").textContent,
	    ticks: [...svg.querySelectorAll("text.tick")].map((el) => ({ x: +el.getAttribute("x"), label: el.textContent })),
	    marks: [...svg.querySelectorAll("circle.crossing")].map((el) => ({ x: +el.getAttribute("cx"), title: el.querySelector("title").textContent })),
	  };
	})()`))
	if err != nil {
		t.Fatal(err)
	}
	day := log[len(log)-1].Recorded.UTC().Format("2006-01-02")
	if axis.Title != "time recorded (UTC, "+day+")" || len(axis.Ticks) < 2 {
		t.Fatalf("the x axis: %q, ticks %v", axis.Title, axis.Ticks)
	}
	// The ticks are times of day, in order; two of them give the scale.
	tickTime := func(tk tick) time.Time {
		tm, err := time.Parse("2006-01-02 15:04:05", day+" "+tk.Label)
		if err != nil {
			t.Fatalf("tick %q is not a time of day: %v", tk.Label, err)
		}
		return tm
	}
	a, b := axis.Ticks[0], axis.Ticks[len(axis.Ticks)-1]
	ta, tb := tickTime(a), tickTime(b)
	if !tb.After(ta) || b.X <= a.X {
		t.Fatalf("ticks out of order: %v", axis.Ticks)
	}
	pxPerMs := (b.X - a.X) / float64(tb.Sub(ta).Milliseconds())
	first, last := log[1].Recorded, log[len(log)-1].Recorded
	for _, tk := range axis.Ticks {
		if tm := tickTime(tk); tm.Before(first.Truncate(time.Second)) || tm.After(last) {
			t.Errorf("tick %s is outside the night's entries, %s to %s", tk.Label, first, last)
		}
	}
	if len(axis.Marks) != len(want) {
		t.Errorf("%d crossings circled, want %d", len(axis.Marks), len(want))
	}
	entryRE := regexp.MustCompile(`at entry (\d+)`)
	for _, mk := range axis.Marks {
		m := entryRE.FindStringSubmatch(mk.Title)
		if m == nil {
			t.Errorf("circle %q names no entry", mk.Title)
			continue
		}
		i, _ := strconv.Atoi(m[1])
		wantX := a.X + float64(log[i].Recorded.Sub(ta).Milliseconds())*pxPerMs
		if math.Abs(wantX-mk.X) > 2 {
			t.Errorf("the circle of entry %d is at x %.1f; its time, %s, is at x %.1f on the axis", i, mk.X, log[i].Recorded.Format(time.RFC3339Nano), wantX)
		}
	}
	t.Logf("the x axis is the entries' time (%s, ticks %v); the crossings are at their entries' times: %s", axis.Title, axis.Ticks, strings.Join(want, "; "))
}

// newTab opens url in a new tab and waits until done says so of the page.
func newTab(t *testing.T, bctx context.Context, url string, within time.Duration, done func(st pageState) bool) (context.Context, context.CancelFunc, pageState) {
	t.Helper()
	tab, cancel := chromedp.NewContext(bctx)
	if err := chromedp.Do(tab, chromedp.Navigate(url)); err != nil {
		cancel()
		t.Fatalf("couldn't load %s: %v", url, err)
	}
	return tab, cancel, waitPage(t, tab, url, within, done)
}

func waitPage(t *testing.T, tab context.Context, url string, within time.Duration, done func(st pageState) bool) pageState {
	t.Helper()
	return waitFor(t, tab, readPage, url, within, done)
}

// waitFor evaluates script in tab every 100 ms until done accepts what it
// gives, and returns that; the test fails after within, naming what.
func waitFor[T any](t *testing.T, tab context.Context, script, what string, within time.Duration, done func(T) bool) T {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		v, err := chromedp.Run(tab, chromedp.Evaluate[T](script))
		if err != nil {
			t.Fatal(err)
		}
		if done(v) {
			return v
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: timed out; page state %+v", what, v)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// countStreams runs in a page before its own script: it records every
// EventSource the page makes, so that the test can count the streams it
// holds open. (An open stream is not in performance.getEntriesByType
// until it ends.)
const countStreams = `(() => {
  const made = [];
  window.testStreams = made;
  const ES = window.EventSource;
  window.EventSource = class extends ES {
    constructor(...args) { super(...args); made.push(this); }
  };
})()`

// tabStreams is what the test reads of a tab's streams.
type tabStreams struct {
	Open int      `json:"open"` // not closed
	URLs []string `json:"urls"` // of all it made
}

const readStreams = `({ open: window.testStreams.filter((es) => es.readyState !== EventSource.CLOSED).length,
  urls: window.testStreams.map((es) => es.url) })`

// checkFourTabs opens four tabs on the page, in one browser, on one
// origin, and checks that each holds exactly one change stream open (in
// the page, by its EventSources, and at the server, by the requests to
// /changes in flight); that all four load, stream and check, though a
// browser opens at most six connections to a host over HTTP/1.1; and
// that each shows a new entry logged while they are open.
func checkFourTabs(t *testing.T, bctx context.Context, n *node.Node, keys *demo.Keys) {
	t.Helper()
	var streams atomic.Int64 // change streams in flight
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/changes") {
			streams.Add(1)
			defer streams.Add(-1)
		}
		n.Handler.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	url := srv.URL + "/?election=" + april
	_, size, err := n.Ledger.Checkpoint(april)
	if err != nil {
		t.Fatal(err)
	}
	ready := func(entries uint64) func(st pageState) bool {
		return func(st pageState) bool {
			return st.Total == "192,569" && st.Entries == commas(int64(entries)) && strings.HasPrefix(st.Connection, "connected") &&
				st.Changes != "" && strings.Contains(st.Checks, "Entry signatures: ✔ verified") && strings.Contains(st.Checks, "Signer roles: ✔ verified")
		}
	}
	// Exactly one stream per page, seen from both ends.
	oneStream := func(i int, tab context.Context, when string) {
		t.Helper()
		s, err := chromedp.Run(tab, chromedp.Evaluate[tabStreams](readStreams))
		if err != nil {
			t.Fatal(err)
		}
		if s.Open != 1 {
			t.Errorf("%s, tab %d of 4 holds %d change streams open, want 1 (streams made: %v)", when, i, s.Open, s.URLs)
		}
	}
	atServer := func(tabs int, when string) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for streams.Load() != int64(tabs) {
			if time.Now().After(deadline) {
				t.Errorf("%s, the server has %d change streams in flight, want %d: one per tab", when, streams.Load(), tabs)
				return
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	var tabs []context.Context
	for i := 1; i <= 4; i++ {
		tab, cancel := chromedp.NewContext(bctx)
		defer cancel()
		if _, err := chromedp.Call(tab, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{Source: countStreams}); err != nil {
			t.Fatal(err)
		}
		nav, stop := context.WithTimeout(tab, 20*time.Second)
		err := chromedp.Do(nav, chromedp.Navigate(url))
		stop()
		if err != nil {
			t.Fatalf("tab %d of 4 did not load (%v): is the page holding more than one connection open?", i, err)
		}
		waitPage(t, tab, fmt.Sprintf("tab %d of 4", i), 20*time.Second, ready(size))
		oneStream(i, tab, "loaded")
		atServer(i, fmt.Sprintf("with %d of the 4 tabs loaded", i))
		tabs = append(tabs, tab)
		t.Logf("tab %d of 4 loaded, streams and checks", i)
	}

	// All four still live: a new entry, which changes no total (a key
	// registered by the authority), shows in each, checked.
	id, err := uuid.NewV7()
	if err != nil {
		t.Fatal(err)
	}
	_, observer, err := ledgerkeys.Generate("tab-observer")
	if err != nil {
		t.Fatal(err)
	}
	ev := &events.Event{ID: id, Election: april, Body: &events.KeyRegistration{Key: observer, Units: []string{"fulton"}}}
	if _, err := n.Ledger.Submit(context.Background(), testkeys.MustSign(keys.Authority, ev)); err != nil {
		t.Fatal(err)
	}
	for i, tab := range tabs {
		st := waitPage(t, tab, fmt.Sprintf("tab %d of 4, after a new entry", i+1), 20*time.Second, ready(size+1))
		if !strings.Contains(st.Checks, "Consistency: ✔ verified") {
			t.Errorf("tab %d of 4, after a new entry: %s", i+1, st.Checks)
		}
	}
	for i, tab := range tabs {
		oneStream(i+1, tab, "after a new entry")
	}
	atServer(len(tabs), "after a new entry")
	t.Logf("each of the four tabs holds one change stream open and shows the new entry: %d entries", size+1)
}

// proxy serves whichever ledger it is switched to, on one origin: the page
// does not know it is talking to another one.
type proxy struct {
	srv *httptest.Server
	to  atomic.Pointer[http.Handler]
}

func newProxy(t *testing.T, h http.Handler) *proxy {
	p := &proxy{}
	p.to.Store(&h)
	p.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { (*p.to.Load()).ServeHTTP(w, r) }))
	t.Cleanup(p.srv.Close)
	return p
}

// switchTo serves h from now on, and drops the connections open, so that
// the page's stream reconnects to it.
func (p *proxy) switchTo(h http.Handler) {
	p.to.Store(&h)
	p.srv.CloseClientConnections()
}

// otherLedger starts a ledger with the checkpoint key of the one in dir,
// and logs into it the first k of the election's submissions in n (all if
// k < 0): another history of the same election, signed by the same key.
func otherLedger(t *testing.T, n *node.Node, dir string, keys *demo.Keys, k int) *node.Node {
	t.Helper()
	other := t.TempDir()
	key, err := os.ReadFile(filepath.Join(dir, "ledger.key"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(other, "ledger.key"), key, 0o600); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	b, err := node.Open(ctx, node.Config{DataDir: other, HTTP: "-", NATSListen: "-", Authorities: []string{keys.Authority.Verifier}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close(ctx) })
	if b.VerifierKey != n.VerifierKey {
		t.Fatal("the other ledger has another key")
	}
	var subs []string
	for _, en := range logEntries(t, n, april) {
		sha := hex.EncodeToString(en.Submission.SHA256[:])
		if len(subs) == 0 || subs[len(subs)-1] != sha {
			subs = append(subs, sha)
		}
	}
	if k >= 0 {
		subs = subs[:k]
	}
	for _, sha := range subs {
		rec := httptest.NewRecorder()
		n.Handler.ServeHTTP(rec, httptest.NewRequest("GET", "/v1/elections/"+april+"/submissions/"+sha, nil))
		if rec.Code != 200 {
			t.Fatalf("submission %s: HTTP %d", sha, rec.Code)
		}
		if _, err := b.Ledger.Submit(ctx, rec.Body.Bytes()); err != nil {
			t.Fatal(err)
		}
	}
	return b
}

// unmarkedNumbers reads, after a failed check, where the warning is and
// which numbers on the page are not marked unverified: every text with a
// digit in it, but for names, free text and identifiers, the page's own
// checks and state, and the charts, each of which must carry the
// UNVERIFIED mark as a whole (as must each chart's caption).
const unmarkedNumbers = `(() => {
  const el = document.getElementById("takeover");
  const r = el.getBoundingClientRect();
  const cells = [...document.querySelectorAll("#contests td.num:not(.rank), #corrections-list td.num, #election-entries, #election-recorded, .total-votes")];
  const exempt = [
    "#takeover",                      // the warning
    "#checkpoint", "#checkpoint-summary", "#connection", // what this browser checked, and its state: the history line is read below
    "header.site", "footer", "noscript", // the election's name, the picker
    ".contest > h2", "thead", ".party", ".leader-name", ".where", // names of contests, choices, units
    ".reason", ".office", ".event-id", // the reason given, the signer's key, an event ID
    "td.rank",                        // the page's own ranking
    ".verified-here",                 // a size this page verified itself
    "svg",                            // the charts: marked as a whole, below
  ].join(",");
  const unmarked = [];
  const walk = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let n = walk.nextNode(); n; n = walk.nextNode()) {
    const p = n.parentElement;
    // "the 50% line" is the page's own threshold, not a number served.
    if (!/\d/.test(n.textContent.replace(/50% line/g, "")) || p.closest(".v") || p.closest(exempt)) continue;
    if (p.matches("th[scope=row]")) continue; // a choice's name
    const cap = p.closest("figcaption");
    if (cap && cap.firstElementChild && cap.firstElementChild.matches(".unverified-note")) continue;
    unmarked.push((p.id ? "#" + p.id : p.tagName.toLowerCase() + (p.className ? "." + p.className : "")) + ": " + JSON.stringify(n.textContent.trim()));
  }
  const first = [...document.body.children].find((x) => !x.hidden && x.getBoundingClientRect().height > 0 && !x.classList.contains("skip"));
  const v = document.querySelector("#contests .v"), sub = document.querySelector("#corrections-list .vote-types .v");
  const charts = [...document.querySelectorAll("#contests .chart-box svg")];
  return { Top: r.top + window.scrollY, Height: r.height, Viewport: window.innerHeight, First: first ? first.id : "",
    Numbers: cells.length, Marked: document.querySelectorAll(".v").length,
    Mark: v ? getComputedStyle(v, "::after").content : "", SubMark: sub ? getComputedStyle(sub, "::after").content : "",
    Unmarked: [...cells.filter((c) => !(c.classList.contains("v") || c.querySelector(".v"))).map((c) => c.outerHTML), ...unmarked],
    Charts: charts.length, ChartsMarked: charts.filter((svg) => svg.querySelector("text.unverified-mark")).length,
    History: document.getElementById("cp-history").innerText };
})()`

// checkForkAndRollback opens the page on a ledger that is then replaced,
// under the same key and address, by another history of the election: the
// same size with other entries (a fork), and a shorter one (a rollback).
// The warning takes over the page, every number is marked unverified, and
// after the rollback the log size shown is the new one.
func checkForkAndRollback(t *testing.T, bctx context.Context, n *node.Node, dir string, keys *demo.Keys) {
	t.Helper()
	_, size, err := n.Ledger.Checkpoint(april)
	if err != nil {
		t.Fatal(err)
	}
	fork := otherLedger(t, n, dir, keys, -1)
	rollback := otherLedger(t, n, dir, keys, 6)
	_, forkSize, _ := fork.Ledger.Checkpoint(april)
	_, shortSize, _ := rollback.Ledger.Checkpoint(april)
	if forkSize != size || shortSize >= size {
		t.Fatalf("sizes: honest %d, fork %d, rolled back %d", size, forkSize, shortSize)
	}
	checked := func(st pageState) bool {
		return strings.Contains(st.Checks, "Entry signatures: ✔ verified") && st.Total == "192,569" && st.Changes != ""
	}
	px1, px2 := newProxy(t, n.Handler), newProxy(t, n.Handler)
	tab1, cancel1, _ := newTab(t, bctx, px1.srv.URL+"/?election="+april, 20*time.Second, checked)
	defer cancel1()
	tab2, cancel2, _ := newTab(t, bctx, px2.srv.URL+"/?election="+april, 20*time.Second, checked)
	defer cancel2()
	px1.switchTo(fork.Handler)
	px2.switchTo(rollback.Handler)
	taken := func(st pageState) bool { return st.Takeover != "" }

	dir2 := artifactDir(t)
	for _, c := range []struct {
		name string
		tab  context.Context
		want []string
	}{
		{"fork", tab1, []string{"Warning: the log's history was rewritten (a fork). Every number on this page is unverified.",
			fmt.Sprintf("For the same size, %d entries, the ledger now signs root", size)}},
		{"rollback", tab2, []string{"Warning: the log was rolled back. Every number on this page is unverified.",
			fmt.Sprintf("fewer than the %d of the checkpoint this page verified", size)}},
	} {
		st := waitPage(t, c.tab, c.name, 20*time.Second, taken)
		for _, w := range c.want {
			if !strings.Contains(st.Takeover, w) {
				t.Errorf("%s: the warning does not say %q:\n%s", c.name, w, st.Takeover)
			}
		}
		if !st.Alarm || !strings.Contains(st.Checks, "Consistency: ✘ FAILED") || !strings.Contains(st.Connection, "unverified") {
			t.Errorf("%s: alarm %v, checks %q, connection %q", c.name, st.Alarm, st.Checks, st.Connection)
		}
		// The warning is the first thing on the page, and every number the
		// ledger served is marked, wherever it is: the totals, the chart's
		// tables, the feed and its tables' lines by vote type, the summary.
		type layout struct {
			Top, Height, Viewport float64
			First                 string
			Numbers, Marked       int
			Mark, SubMark         string
			Unmarked              []string
			Charts, ChartsMarked  int
			History               string
		}
		lay, err := chromedp.Run(c.tab, chromedp.Evaluate[layout](unmarkedNumbers))
		if err != nil {
			t.Fatal(err)
		}
		if lay.First != "takeover" || lay.Top > 20 || lay.Height < 100 {
			t.Errorf("%s: the warning is not on top of the page: %+v", c.name, lay)
		}
		if lay.Numbers < 20 || len(lay.Unmarked) > 0 || !strings.Contains(lay.Mark, "unverified") || !strings.Contains(lay.SubMark, "unverified") {
			t.Errorf("%s: %d numbers, not all marked unverified (mark %q, in the lines by vote type %q):\n%s", c.name, lay.Numbers, lay.Mark, lay.SubMark, strings.Join(lay.Unmarked, "\n"))
		}
		if lay.Charts < 2 || lay.ChartsMarked != lay.Charts {
			t.Errorf("%s: %d of %d charts marked UNVERIFIED", c.name, lay.ChartsMarked, lay.Charts)
		}
		// The checkpoints' history says a check failed, and no longer that
		// they were consistent.
		if !strings.Contains(lay.History, "FAILED a check") || strings.Contains(lay.History, "consistent") {
			t.Errorf("%s: the checkpoints' history says %q", c.name, lay.History)
		}
		if c.name == "rollback" {
			// Not the size the page had: the one the ledger serves now.
			st = waitPage(t, c.tab, c.name, 10*time.Second, func(st pageState) bool {
				return strings.HasPrefix(st.Entries, commas(int64(shortSize))) && st.Total != "192,569"
			})
			if !strings.Contains(st.Entries, fmt.Sprintf("down from %d: rolled back", size)) {
				t.Errorf("rollback: the log size shown is %q", st.Entries)
			}
			last, err := chromedp.Run(c.tab, chromedp.Evaluate[string](`document.getElementById("election-recorded").innerText`))
			if err != nil || !strings.Contains(last, fmt.Sprintf("(entry %d)", shortSize-1)) {
				t.Errorf("rollback: the last entry shown is %q (%v), want entry %d", last, err, shortSize-1)
			}
			// The correction, entry 13, is gone with the entries after 6.
			if !strings.Contains(st.Corrections, fmt.Sprintf("No longer in the log: the ledger's log now ends at entry %d", shortSize-1)) {
				t.Errorf("rollback: the corrections feed:\n%s", st.Corrections)
			}
		}
		t.Logf("%s: the page says %q; entries %q; connection %q", c.name, strings.SplitN(st.Takeover, "\n", 2)[0], st.Entries, st.Connection)
		png, err := chromedp.Run(c.tab, chromedp.FullScreenshot(100))
		if err != nil {
			t.Fatal(err)
		}
		save(t, dir2, "dashboard-"+c.name+".png", png)
	}
}

// checkUnknownElection opens the page on an election the ledger does not
// have: it says so and lists the ones it has, and asks for that election
// once, not every second.
func checkUnknownElection(t *testing.T, bctx context.Context, n *node.Node) {
	t.Helper()
	url := "http://" + n.HTTPAddr() + "/?election=nowhere"
	tab, cancel, _ := newTab(t, bctx, url, 10*time.Second, func(st pageState) bool { return strings.HasPrefix(st.Connection, "not following") })
	defer cancel()
	if err := chromedp.Do(tab, chromedp.Sleep(3*time.Second)); err != nil {
		t.Fatal(err)
	}
	type result struct {
		Text  string `json:"text"`
		Asked int    `json:"asked"`
		Links int    `json:"links"`
	}
	res, err := chromedp.Run(tab, chromedp.Evaluate[result](`({
	  text: document.getElementById("contests").innerText,
	  asked: performance.getEntriesByType("resource").filter((e) => e.name.includes("/elections/nowhere/")).length,
	  links: document.querySelectorAll("#unknown-election a[data-election]").length,
	})`))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(res.Text, "This ledger has no election “nowhere”") || !strings.Contains(res.Text, april) || res.Links < 1 {
		t.Errorf("an unknown election: %+v", res)
	}
	if res.Asked != 1 {
		t.Errorf("an unknown election was asked for %d times in 3 s", res.Asked)
	}
	t.Logf("an unknown election: asked once; the page says:\n%s", res.Text)
}

// checkForcedColors shows the page in forced colours, dark, and checks
// that the chart's lines and labels are drawn in the system's text colour,
// which differs from its background, and that the screenshot of the chart
// has pixels of the lines' colour.
func checkForcedColors(t *testing.T, bctx context.Context, dir string) {
	t.Helper()
	set := func(features ...*emulation.MediaFeature) {
		if _, err := chromedp.Call(bctx, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{Features: features}); err != nil {
			t.Fatal(err)
		}
	}
	set(&emulation.MediaFeature{Name: "forced-colors", Value: "active"}, &emulation.MediaFeature{Name: "prefers-color-scheme", Value: "dark"})
	defer set()
	waitCharts(t, bctx)
	type colours struct {
		Forced     bool   `json:"forced"`
		Background string `json:"background"`
		Stroke     string `json:"stroke"`
		Label      string `json:"label"`
		Halo       string `json:"halo"`
	}
	c, err := chromedp.Run(bctx, chromedp.Evaluate[colours](`(() => {
	  const svg = document.querySelector("#contest-us-representative-district-6 .chart-box svg");
	  const cs = (sel, p) => getComputedStyle(svg.querySelector(sel))[p];
	  return { forced: matchMedia("(forced-colors: active)").matches, background: getComputedStyle(document.documentElement).backgroundColor,
	    stroke: cs("path.series", "stroke"), label: cs("text.label", "fill"), halo: cs("text.halo", "stroke") };
	})()`))
	if err != nil {
		t.Fatal(err)
	}
	bg, stroke, label, halo := parseRGB(t, c.Background), parseRGB(t, c.Stroke), parseRGB(t, c.Label), parseRGB(t, c.Halo)
	if !c.Forced || dist(stroke, bg) < 200 || dist(label, bg) < 200 || dist(halo, bg) > 0 {
		t.Errorf("forced colours: %+v: the lines and labels must stand out from the background, and the halo be the background", c)
	}
	full, err := chromedp.Run(bctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatal(err)
	}
	save(t, dir, "dashboard-forced-colors.png", full)
	// The chart's box, not its svg: the box stays while the page draws
	// the chart again, which replaces the svg.
	shot, err := chromedp.Run(bctx, chromedp.Screenshot(chromedp.CSS("#contest-us-representative-district-6 .chart-box")))
	if err != nil {
		t.Fatal(err)
	}
	save(t, dir, "dashboard-forced-colors-chart.png", shot)
	img, err := png.Decode(bytes.NewReader(shot))
	if err != nil {
		t.Fatal(err)
	}
	lines, back := 0, 0
	for y := img.Bounds().Min.Y; y < img.Bounds().Max.Y; y++ {
		for x := img.Bounds().Min.X; x < img.Bounds().Max.X; x++ {
			r, g, b, _ := img.At(x, y).RGBA()
			px := [3]int{int(r >> 8), int(g >> 8), int(b >> 8)}
			switch {
			case dist(px, stroke) < 60:
				lines++
			case dist(px, bg) < 60:
				back++
			}
		}
	}
	total := img.Bounds().Dx() * img.Bounds().Dy()
	if lines < 1500 || back < total/2 {
		t.Errorf("forced colours: the chart (%d pixels) has %d pixels of the lines' colour %v and %d of the background %v", total, lines, stroke, back, bg)
	}
	t.Logf("forced colours: background %s, lines %s, labels %s; the chart has %d pixels of the lines' colour of %d", c.Background, c.Stroke, c.Label, lines, total)
}

func parseRGB(t *testing.T, s string) [3]int {
	t.Helper()
	var c [3]int
	if _, err := fmt.Sscanf(s, "rgb(%d, %d, %d)", &c[0], &c[1], &c[2]); err != nil {
		t.Fatalf("colour %q: %v", s, err)
	}
	return c
}

func dist(a, b [3]int) int {
	d := 0
	for i := range a {
		d += max(a[i]-b[i], b[i]-a[i])
	}
	return d
}

// checkPhone checks that the page does not scroll sideways at the
// viewport's width, and that the election picker shows its choice whole.
func checkPhone(t *testing.T, bctx context.Context, width int) {
	t.Helper()
	overflow, err := chromedp.Run(bctx, chromedp.Evaluate[string](`(() => {
	  const w = document.documentElement.clientWidth;
	  const out = [];
	  if (document.documentElement.scrollWidth > w) {
	    const wide = [...document.querySelectorAll("body *")].filter((el) => el.getBoundingClientRect().right > w + 1);
	    out.push("the page scrolls sideways: " + wide.slice(0, 5).map((el) =>
	      el.tagName + "." + el.getAttribute("class") + " to " + Math.round(el.getBoundingClientRect().right) + " px").join(", "));
	  }
	  const sel = document.getElementById("election");
	  const r = sel.getBoundingClientRect(), cs = getComputedStyle(sel);
	  const ctx = document.createElement("canvas").getContext("2d");
	  ctx.font = cs.font;
	  const text = sel.options[sel.selectedIndex].text;
	  // The text, the padding, and about 24 px for the arrow.
	  const need = ctx.measureText(text).width + parseFloat(cs.paddingLeft) + parseFloat(cs.paddingRight) + 24;
	  if (r.right > w || r.left < 0) out.push("the picker is " + Math.round(r.left) + " to " + Math.round(r.right) + " px");
	  if (need > sel.clientWidth) out.push("the picker cuts off “" + text + "”: it needs " + Math.round(need) + " px, has " + sel.clientWidth);
	  return out.join("; ");
	})()`))
	if err != nil {
		t.Fatal(err)
	}
	if overflow != "" {
		t.Errorf("at %d px wide, %s", width, overflow)
	}
}

// checkVerifiers runs the page's own proof and signature checks on every
// consistency proof of the April log, as served, and tampered: each real
// proof verifies and each tampered one fails.
func checkVerifiers(t *testing.T, bctx context.Context) {
	t.Helper()
	type result struct {
		Size     int      `json:"size"`
		Good     int      `json:"good"`
		Failures []string `json:"failures"`
		SigOK    bool     `json:"sig_ok"`
		SigForge bool     `json:"sig_forged"`
		// The ledger key itself, not named by the origin, and the log key
		// the page derived, against the one the ledger serves.
		SigLedger bool   `json:"sig_ledger_name"`
		LogKey    string `json:"log_key"`
		Served    string `json:"served_log_key"`
		Other     string `json:"other_election"`
	}
	res, err := chromedp.Run(bctx, chromedp.Evaluate[result](`(async () => {
	  const d = window.ledgerDashboard, e = "ga06-2017-04";
	  const get = async (p) => { const r = await fetch(p); if (!r.ok) throw new Error(p + ": " + r.status); return r; };
	  const cp = d.parseNote(await (await get("/v1/elections/" + e + "/checkpoint")).text());
	  const ledgerKey = await d.parseKey(await (await get("/v1/key")).text());
	  const key = await d.logKey(ledgerKey, e);
	  const out = { size: cp.size, good: 0, failures: [] };
	  for (let from = 1; from <= cp.size; from++) {
	    const p = await (await get("/v1/elections/" + e + "/proof/consistency?from=" + from + "&to=" + cp.size)).json();
	    const hs = p.hashes.map(d.b64), fromRoot = d.b64(p.from_root);
	    if (await d.verifyConsistency(from, cp.size, fromRoot, cp.root, hs)) out.good++;
	    else out.failures.push("real proof from " + from + " fails");
	    for (let i = 0; i < hs.length; i++) {
	      const bad = hs.map((h) => h.slice());
	      bad[i][i % 32] ^= 1;
	      if (await d.verifyConsistency(from, cp.size, fromRoot, cp.root, bad)) out.failures.push("tampered hash " + i + " from " + from + " verifies");
	    }
	    if (from < cp.size && await d.verifyConsistency(from, cp.size, cp.root, cp.root, hs)) out.failures.push("wrong old root from " + from + " verifies");
	    if (from > 1 && from < cp.size && await d.verifyConsistency(from - 1, cp.size, fromRoot, cp.root, hs)) out.failures.push("wrong size " + (from - 1) + " verifies");
	  }
	  out.sig_ok = await d.verifyNote(cp, key);
	  out.sig_forged = await d.verifyNote({ ...cp, text: cp.text.replace("\n" + cp.size + "\n", "\n" + (cp.size + 1) + "\n") }, key);
	  out.sig_ledger_name = await d.verifyNote(cp, ledgerKey);
	  out.log_key = key.text;
	  out.served_log_key = (await (await get("/v1/elections/" + e + "/key")).text()).trim();
	  try { await d.logKey(await d.parseKey(out.served_log_key), "ga06-2017-06"); out.other_election = "taken"; }
	  catch (err) { out.other_election = err.message; }
	  return out;
	})()`, chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatal(err)
	}
	if res.Good != res.Size || len(res.Failures) > 0 || !res.SigOK || res.SigForge {
		t.Fatalf("the page's verifiers: %d of %d real proofs verify; failures %v; signature %v, forged signature %v",
			res.Good, res.Size, res.Failures, res.SigOK, res.SigForge)
	}
	if res.SigLedger || res.LogKey != res.Served || !strings.HasPrefix(res.LogKey, "ledger.local/ga06-2017-04+") ||
		!strings.Contains(res.Other, "is the key of log ledger.local/ga06-2017-04, not of this election") {
		t.Fatalf("the page's log key: %s (served %s); the ledger key itself verifies: %v; another election's log key: %s", res.LogKey, res.Served, res.SigLedger, res.Other)
	}
	t.Logf("the page's verifiers accept all %d consistency proofs into the tree of size %d, reject every tampered one, and check the Ed25519 signature", res.Good, res.Size)
}

// checkOrigins runs the page's own entry check (checkOrigin) on the
// correction's entry and its submission, as served and altered: the real
// pair passes, and each alteration fails for its own reason.
func checkOrigins(t *testing.T, bctx context.Context) {
	t.Helper()
	type verdict struct {
		OK  *bool  `json:"ok"`
		Why string `json:"why"`
	}
	res, err := chromedp.Run(bctx, chromedp.Evaluate[map[string]verdict](`(async () => {
	  const d = window.ledgerDashboard, e = "ga06-2017-04";
	  const te = new TextEncoder(), td = new TextDecoder();
	  const get = async (p) => { const r = await fetch(p); if (!r.ok) throw new Error(p + ": " + r.status); return new Uint8Array(await r.arrayBuffer()); };
	  const lines = td.decode(await get("/v1/elections/" + e + "/entries?start=0&limit=1000")).split("\n");
	  const entryText = lines.find((l) => l.includes('"type":"count.corrected"'));
	  const entryBytes = te.encode(entryText);
	  const en = JSON.parse(entryText);
	  const subBytes = await get("/v1/elections/" + e + "/submissions/" + en.submission.sha256);
	  const authority = JSON.parse(lines[0]).submission.signer;
	  const swap = (bytes) => te.encode(td.decode(bytes).replace("data entry error", "data entry errox"));
	  const run = async (eb, sb, mod) => {
	    const sub = await d.openSubmission(sb, e);
	    const x = JSON.parse(td.decode(eb));
	    if (mod) mod(x, sub);
	    return d.checkOrigin(eb, x, sub);
	  };
	  return {
	    real: await run(entryBytes, subBytes),
	    // The submission altered: it no longer hashes to the entry's sha256.
	    altered: await run(entryBytes, swap(subBytes)),
	    // Entry and submission altered alike, the sha256 too: the signature fails.
	    resigned: await run(swap(entryBytes), swap(subBytes), (x, sub) => { x.submission.sha256 = sub.sha256; }),
	    // The entry's event altered: it is not the submission's line.
	    event: await run(swap(entryBytes), subBytes),
	    // Another signer named than the submission's line 4.
	    signer: await run(entryBytes, subBytes, (x) => { x.submission.signer = authority; }),
	    // No signer, yet accepted.
	    unsigned: await run(entryBytes, subBytes, (x) => { delete x.submission.signer; }),
	    // No signer, rejected for a bad signature that verifies.
	    suppressed: await run(entryBytes, subBytes, (x) => { delete x.submission.signer; x.verdict = "rejected"; x.reason = "bad signature: x"; }),
	    // Another item of the submission.
	    item: await run(entryBytes, subBytes, (x) => { x.submission.item = 7; }),
	  };
	})()`, chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"real":       "",
		"altered":    "not to the sha256 it names",
		"resigned":   "Ed25519 signature does not verify",
		"event":      "is not line 5 of its submission",
		"signer":     "but its submission's line 4 is",
		"unsigned":   "names no signer, yet is accepted",
		"suppressed": "its submission's signature verifies",
		"item":       "item 7 of a submission of 1 events",
	}
	for name, why := range want {
		got, ok := res[name]
		switch {
		case !ok || got.OK == nil:
			t.Errorf("checkOrigin, %s: %+v", name, got)
		case why == "" && (!*got.OK || got.Why != ""):
			t.Errorf("checkOrigin of the real entry and submission: %+v", got)
		case why != "" && (*got.OK || !strings.Contains(got.Why, why)):
			t.Errorf("checkOrigin, %s: ok %v, %q; want it to fail with %q", name, *got.OK, got.Why, why)
		}
	}
	t.Logf("the page's entry check accepts the correction and its submission, and rejects %d alterations", len(want)-1)
}

// checkEntryChecks opens the page again, in new tabs, on servers that
// serve the same ledger: with only the newest 5 entries checked, so that
// the reporter keys' registrations come from the key list; the same
// without the key list, so that roles are not checked; and with the
// correction's submission altered, so that its entry fails.
func checkEntryChecks(t *testing.T, bctx context.Context, n *node.Node, keys *demo.Keys) {
	t.Helper()
	const election = "ga06-2017-04"
	var corrIndex uint64
	var corrSHA string
	_, size, err := n.Ledger.Checkpoint(election)
	if err != nil {
		t.Fatal(err)
	}
	err = n.Ledger.Entries(election, 0, size, func(i uint64, data []byte) error {
		en, err := events.DecodeEntry(data)
		if err != nil {
			return err
		}
		if en.Event.Type() == events.TypeCountCorrected {
			corrIndex, corrSHA = i, hex.EncodeToString(en.Submission.SHA256[:])
		}
		return nil
	})
	if err != nil || corrSHA == "" {
		t.Fatalf("no correction in the log: %v", err)
	}
	serve := func(h http.HandlerFunc) string {
		srv := httptest.NewServer(h)
		t.Cleanup(srv.Close)
		return srv.URL
	}
	noKeys := serve(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/keys") {
			http.NotFound(w, r)
			return
		}
		n.Handler.ServeHTTP(w, r)
	})
	// A key list that leaves every key out, and one that names the wrong
	// entry as each key's registration.
	forgedKeys := func(forge func(k map[string]any) bool) string {
		return serve(func(w http.ResponseWriter, r *http.Request) {
			if !strings.HasSuffix(r.URL.Path, "/keys") {
				n.Handler.ServeHTTP(w, r)
				return
			}
			rec := httptest.NewRecorder()
			n.Handler.ServeHTTP(rec, r)
			var list map[string]any
			if err := json.Unmarshal(rec.Body.Bytes(), &list); err != nil {
				t.Errorf("the key list: %v", err)
			}
			var keys []any
			for _, k := range list["keys"].([]any) {
				if forge(k.(map[string]any)) {
					keys = append(keys, k)
				}
			}
			list["keys"] = keys
			w.Header().Set("Content-Type", "application/json")
			json.NewEncoder(w).Encode(list)
		})
	}
	noneListed := forgedKeys(func(map[string]any) bool { return false })
	wrongIndex := forgedKeys(func(k map[string]any) bool { k["registered"] = 4; return true })
	tampered := serve(func(w http.ResponseWriter, r *http.Request) {
		if !strings.HasSuffix(r.URL.Path, "/submissions/"+corrSHA) {
			n.Handler.ServeHTTP(w, r)
			return
		}
		rec := httptest.NewRecorder()
		n.Handler.ServeHTTP(rec, r)
		b := bytes.Replace(rec.Body.Bytes(), []byte("data entry error"), []byte("data entry errox"), 1)
		w.Header().Set("Content-Type", rec.Header().Get("Content-Type"))
		w.WriteHeader(rec.Code)
		w.Write(b)
	})

	page := func(url string, done func(st pageState) bool) pageState {
		t.Helper()
		tab, cancel := chromedp.NewContext(bctx)
		defer cancel()
		if err := chromedp.Do(tab, chromedp.Navigate(url)); err != nil {
			t.Fatalf("couldn't load %s: %v", url, err)
		}
		deadline := time.Now().Add(30 * time.Second)
		for {
			st, err := chromedp.Run(tab, chromedp.Evaluate[pageState](readPage))
			if err != nil {
				t.Fatal(err)
			}
			if done(st) {
				return st
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: timed out; checks %q", url, st.Checks)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	checked := func(st pageState) bool { return strings.Contains(st.Checks, "Signer roles: ") }

	expect := func(what string, st pageState, alarm bool, want ...string) {
		t.Helper()
		for _, w := range want {
			if !strings.Contains(st.Checks, w) {
				t.Errorf("%s: the checks do not say %q:\n%s", what, w, st.Checks)
			}
		}
		if st.Alarm != alarm {
			t.Errorf("%s: alarm %v, want %v", what, st.Alarm, alarm)
		}
		t.Logf("%s:\n%s", what, st.Checks)
	}

	// Only the newest 5 entries: the keys that signed them were registered
	// by entries 1 to 3, before them, so their registrations come from the
	// key list, and are checked.
	st := page("http://"+n.HTTPAddr()+"/?election="+election+"&check=5", checked)
	expect("the newest 5 entries", st, false, "Entry signatures: ✔ verified", "Signer roles: ✔ verified",
		"1 key registered before the entries read was looked up in the ledger's key list, and its registration entry checked", "were not checked: at most the newest 5 are")
	if strings.Contains(st.Checks, "FAILED") {
		t.Error("the newest 5 entries: a check failed")
	}

	// The same without the key list: the reporters' roles are not checked,
	// and nothing fails.
	st = page(noKeys+"/?election="+election+"&check=5", checked)
	expect("the newest 5 entries, no key list", st, false, "Entry signatures: ✔ verified", "Signer roles: – not checked", "role not checked for 4 of 5 accepted entries")
	if strings.Contains(st.Checks, "FAILED") {
		t.Error("without the key list: a check failed")
	}

	// The key list forged: the reporters' entries fail their role check.
	fulton := keyLabel(keys.Counties["fulton"].Verifier)
	failed := func(st pageState) bool { return strings.Contains(st.Checks, "Signer roles: ✘ FAILED") }
	st = page(noneListed+"/?election="+election+"&check=5", failed)
	expect("the newest 5 entries, a key list without the keys", st, true, "Entry signatures: ✔ verified",
		fmt.Sprintf("entries %d, %d, %d, %d: it is signed by %s, which no accepted key.registered entry registered", size-5, size-4, size-3, size-2, fulton))
	st = page(wrongIndex+"/?election="+election+"&check=5", failed)
	expect("the newest 5 entries, a key list naming entry 4 as the registration", st, true, "Entry signatures: ✔ verified",
		fmt.Sprintf("entries %d, %d, %d, %d: entry 4, which the ledger's key list names as the registration of %s, is entry 4, accepted, a count.reported", size-5, size-4, size-3, size-2, fulton))

	// The correction's submission altered: its entry fails, by index.
	st = page(tampered+"/?election="+election, func(st pageState) bool { return strings.Contains(st.Checks, "Entry signatures: ✘ FAILED") })
	expect("the correction's submission altered", st, true,
		fmt.Sprintf("entry %d: the submission the ledger serves for it hashes to", corrIndex), "Signer roles: ✔ verified")
}

// keyLabel is a verifier key's name and hash, as the page names a key.
func keyLabel(vkey string) string {
	parts := strings.SplitN(vkey, "+", 3)
	return parts[0] + "+" + parts[1]
}
