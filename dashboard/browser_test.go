package dashboard_test

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
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
	"github.com/election-audit/ledger/events"
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
// reload, that the correction appears in the feed with the office that
// made it, that checkpoints and their entries' signatures and signers'
// roles verify in the browser, and that the chart shows the leader
// crossing the 50% line twice; that the entry checks fail, naming the
// entry, when a submission or the key list is altered; then it saves
// screenshots, desktop and phone.
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
	t.Logf("chart: %s", st.Crossings)
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
	if st.Alarm || strings.Contains(st.Checks, "FAILED") || strings.Contains(st.Checks, "not checked") {
		t.Errorf("checkpoint checks: %q, alarm %v", st.Checks, st.Alarm)
	}

	checkVerifiers(t, bctx)
	checkOrigins(t, bctx)
	checkEntryChecks(t, bctx, n, keys)

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
