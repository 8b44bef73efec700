package dashboard_test

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"golang.org/x/mod/sumdb/note"

	"github.com/election-audit/ledger/demo"
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
	Corrections string `json:"corrections"` // the corrections feed's text
	Checks      string `json:"checks"`      // the checkpoint checks' text
	Crossings   string `json:"crossings"`   // the chart's caption on the 50% line
	Alarm       bool   `json:"alarm"`       // the checkpoint alarm is shown
	Marker      string `json:"marker"`      // set by the test after loading: gone if the page reloaded
}

const readPage = `(() => {
  const text = (sel) => { const el = document.querySelector(sel); return el ? el.innerText : ""; };
  return {
    total: text("#contest-us-representative-district-6 .total-votes"),
    status: text("#election-status"),
    corrections: text("#corrections-list"),
    checks: text("#cp-checks"),
    crossings: text("#contest-us-representative-district-6 .crossings"),
    alarm: !document.getElementById("checkpoint-alarm").hidden,
    marker: window.testMarker || "",
  };
})()`

// TestDashboardInBrowser opens the dashboard in headless Chromium during
// the GA-06 demo and checks, in the DOM, that the totals change without a
// reload, that the correction appears in the feed, that checkpoints verify
// in the browser, and that the chart shows the leader crossing the 50%
// line twice; then it saves screenshots, desktop and phone.
func TestDashboardInBrowser(t *testing.T) {
	if _, err := os.Stat(Chromium); err != nil {
		t.Skipf("skipping the browser test: %s is not installed (.ci/run installs it with apt-get install chromium, which failed or was not run): %v", Chromium, err)
	}
	ctx := context.Background()
	keys, err := demo.NewKeys()
	if err != nil {
		t.Fatal(err)
	}
	n, err := node.Open(ctx, node.Config{DataDir: t.TempDir(), HTTP: "127.0.0.1:0", NATSListen: "127.0.0.1:0",
		Authorities: []string{keys.Authority.Verifier}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.Close(ctx) })
	v, err := note.NewVerifier(n.VerifierKey)
	if err != nil {
		t.Fatal(err)
	}

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
	defer cancelAlloc()
	bctx, cancelBrowser := chromedp.NewContext(actx)
	defer cancelBrowser()
	// The first run starts the browser, before the demo: no timeout on it.
	if err := chromedp.Do(bctx, chromedp.Navigate("about:blank")); err != nil {
		t.Fatalf("couldn't start %s: %v", Chromium, err)
	}

	// The demo, paced so that the page sees the night unfold.
	demoCtx, stopDemo := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() {
		_, err := demo.Run(demoCtx, demo.Config{Ledger: n.Ledger, DB: n.DB, Verifier: v, Keys: keys, Out: io.Discard, Pace: 250 * time.Millisecond})
		done <- err
	}()
	defer func() {
		stopDemo()
		if err := <-done; err != nil && demoCtx.Err() == nil {
			t.Errorf("demo: %v", err)
		}
	}()

	url := "http://" + n.HTTPAddr() + "/?election=ga06-2017-04"
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
		if len(totals) >= 3 && strings.Contains(st.Corrections, "data entry error") &&
			st.Total == "192,569" && strings.Contains(st.Status, "Certified") && crossed >= 2 &&
			strings.Contains(st.Checks, "Consistency: ✔ verified") {
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
	t.Logf("chart: %s", st.Crossings)
	t.Logf("checkpoint checks:\n%s", st.Checks)
	for _, want := range []string{"Correction (accepted)", "Reason given: data entry error"} {
		if !strings.Contains(st.Corrections, want) {
			t.Errorf("the corrections feed does not say %q", want)
		}
	}
	if !strings.Contains(st.Checks, "Signature: ✔ verified") || st.Alarm || strings.Contains(st.Checks, "FAILED") {
		t.Errorf("checkpoint checks: %q, alarm %v", st.Checks, st.Alarm)
	}

	checkVerifiers(t, bctx)

	dir := artifactDir(t)
	shot := func(name string) {
		t.Helper()
		// Give the chart time to redraw at the new width.
		if err := chromedp.Do(bctx, chromedp.Sleep(500*time.Millisecond)); err != nil {
			t.Fatal(err)
		}
		png, err := chromedp.Run(bctx, chromedp.FullScreenshot(100))
		if err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, png, 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("screenshot: %s", path)
	}
	shot("dashboard-desktop.png")

	// A phone: 375 CSS pixels wide, nothing wider than the screen.
	if err := chromedp.Do(bctx, chromedp.EmulateViewport(375, 812, chromedp.EmulateMobile, chromedp.EmulatePortrait, chromedp.EmulateScale(2))); err != nil {
		t.Fatal(err)
	}
	shot("dashboard-phone.png")
	overflow, err := chromedp.Run(bctx, chromedp.Evaluate[string](`(() => {
	  const w = document.documentElement.clientWidth;
	  if (document.documentElement.scrollWidth <= w) return "";
	  const wide = [...document.querySelectorAll("body *")].filter((el) => el.getBoundingClientRect().right > w + 1);
	  return "the page scrolls sideways: " + wide.slice(0, 5).map((el) =>
	    el.tagName + "." + el.getAttribute("class") + " to " + Math.round(el.getBoundingClientRect().right) + " px").join(", ");
	})()`))
	if err != nil {
		t.Fatal(err)
	}
	if overflow != "" {
		t.Errorf("at 375 px wide, %s", overflow)
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
	}
	res, err := chromedp.Run(bctx, chromedp.Evaluate[result](`(async () => {
	  const d = window.ledgerDashboard, e = "ga06-2017-04";
	  const get = async (p) => { const r = await fetch(p); if (!r.ok) throw new Error(p + ": " + r.status); return r; };
	  const cp = d.parseNote(await (await get("/v1/elections/" + e + "/checkpoint")).text());
	  const key = await d.parseKey(await (await get("/v1/key")).text());
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
	  return out;
	})()`, chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatal(err)
	}
	if res.Good != res.Size || len(res.Failures) > 0 || !res.SigOK || res.SigForge {
		t.Fatalf("the page's verifiers: %d of %d real proofs verify; failures %v; signature %v, forged signature %v",
			res.Good, res.Size, res.Failures, res.SigOK, res.SigForge)
	}
	t.Logf("the page's verifiers accept all %d consistency proofs into the tree of size %d, reject every tampered one, and check the Ed25519 signature", res.Good, res.Size)
}
