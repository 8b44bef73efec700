// The ledger's dashboard: live totals, a corrections feed, a share chart
// and the latest signed checkpoint, checked in the browser. It reads only
// the ledger's HTTP API (docs/api.md, docs/dashboard.md) on this origin.
"use strict";

(() => {
  const SVG = "http://www.w3.org/2000/svg"; // a namespace name, not a URL that is fetched
  const ENTRY_TYPES = ["election.defined", "count.reported", "count.corrected", "count.retracted",
    "election.certified", "recount.ordered", "key.registered", "key.revoked", "manifest.part"];
  const CORRECTION_TYPES = ["count.corrected", "count.retracted"];
  const COUNT_TYPES = ["count.reported", "count.corrected", "count.retracted"];
  const CHECK_ENTRIES = 1000;   // at most this many entries' signatures are checked per checkpoint, the newest
  const FETCH_AHEAD = 6;        // submissions fetched at once while checking entries
  const KEEP_SUBMISSIONS = 64;  // opened submissions kept between checkpoints
  const SUBMISSION_DOMAIN = "election-audit/ledger/submission/v1";
  const REFRESH_MS = 300;       // at most one totals refresh per this long
  const WAIT_FIRST_MS = 2000;   // while the election is not in the ledger: first wait,
  const WAIT_MAX_MS = 60000;    // doubled up to this
  const ELECTIONS_MS = 10000;   // how often the election list is refreshed
  const RECONNECT_MS = 5000;    // wait before reopening a stream the ledger refused
  const SERIES_POINTS = 40;     // points asked for at each series request
  const MAX_POINTS = 600;       // the chart thins its points past this many
  const CHART_LINES = 4;        // choices drawn on the chart, by votes
  const LIST_TURNS = 12;        // turns named in a chart's caption; the table has them all
  const CORRECTION_FETCHES = 2; // reports replaced by corrections fetched at once
  const SHOW_CHANGES = 50;      // past corrections shown with their changes at once, the newest; the others on demand
  const DASHES = ["", "9 4", "2 3", "10 3 2 3"]; // one dash pattern per line
  const STATUS = {
    "pre-election": "Before results: nothing reported yet",
    "unofficial-partial": "Unofficial, partial results",
    "unofficial-complete": "Unofficial, all units reported",
    "certified": "Certified",
    "recount": "Recount ordered",
  };

  const $ = (id) => document.getElementById(id);

  // statusText names a NIST SP 1500-100 status in words, with its code.
  function statusText(code) {
    const words = STATUS[code];
    return !words ? code : words.toLowerCase() === code ? words : `${words} (${code})`;
  }
  const nf = new Intl.NumberFormat("en-US");

  // h builds an element: h("p", {class: "x"}, "text", child).
  function h(tag, attrs, ...children) {
    const el = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === null || v === undefined || v === false) continue;
      el.setAttribute(k, v === true ? "" : String(v));
    }
    for (const c of children) {
      if (c === null || c === undefined || c === false) continue;
      el.append(c instanceof Node ? c : String(c));
    }
    return el;
  }

  function s(tag, attrs, ...children) {
    const el = document.createElementNS(SVG, tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v !== null && v !== undefined && v !== "") el.setAttribute(k, String(v));
    }
    for (const c of children) el.append(c instanceof Node ? c : String(c));
    return el;
  }

  // v wraps a number the ledger served: when a check fails, the page marks
  // every one of them as unverified (class "v", style.css).
  const v = (text, cls) => h("span", { class: cls ? `v ${cls}` : "v" }, text);

  // The read token. A ledger started with --read-token answers 401 to
  // reads without it: the page then asks for the token and keeps it in a
  // cookie for this site (api.ReadTokenCookie), which fetch and EventSource
  // send with every request, and loads again.
  const TOKEN_COOKIE = "ledger_read_token";
  let askedToken = false;
  function askToken() {
    if (askedToken) return;
    askedToken = true;
    setConnection("not following: this ledger's reads need its read token");
    const had = document.cookie.split("; ").some((c) => c.startsWith(TOKEN_COOKIE + "="));
    const input = h("input", { id: "read-token", type: "password", autocomplete: "off", required: "" });
    const form = h("form", { id: "token-form", class: "token-form" },
      h("h2", {}, "This ledger's reads need its read token"),
      h("p", {}, had ? "The token this browser gave before was refused: it may have changed. Ask the ledger's operator for the current one."
        : "Its operator started it with a read token (ledger serve --read-token). Give the token to follow the count; this browser keeps it in a cookie for this site only."),
      h("label", { for: "read-token" }, "Read token "), input, " ",
      h("button", { type: "submit" }, "Use it"));
    form.addEventListener("submit", (e) => {
      e.preventDefault();
      const secure = location.protocol === "https:" ? "; Secure" : "";
      document.cookie = `${TOKEN_COOKIE}=${encodeURIComponent(input.value.trim())}; Path=/; SameSite=Strict${secure}`;
      location.reload();
    });
    $("contests").replaceChildren(form);
    input.focus();
  }

  async function getJSON(path) {
    const r = await fetch(path, { headers: { Accept: "application/json" }, cache: "no-store" });
    if (r.status === 401) askToken();
    if (!r.ok) {
      let msg = `HTTP ${r.status}`;
      try { msg = (await r.json()).error || msg; } catch (_) { /* not JSON */ }
      const err = new Error(msg);
      err.status = r.status;
      throw err;
    }
    return r.json();
  }

  async function getText(path) {
    const r = await fetch(path, { cache: "no-store" });
    if (r.status === 401) askToken();
    if (!r.ok) throw new Error(`${path}: HTTP ${r.status}`);
    return r.text();
  }

  function when(iso) {
    if (!iso) return "–";
    const d = new Date(iso);
    if (isNaN(d)) return iso;
    return d.toISOString().replace("T", " ").replace(/\.\d+Z$/, "Z").replace("Z", " UTC");
  }

  // clock is the UTC time of day of an ISO time, to the second.
  function clock(iso) {
    const d = new Date(iso);
    return isNaN(d) ? String(iso || "–") : d.toISOString().slice(11, 19) + " UTC";
  }

  const enc = (p) => encodeURIComponent(p);
  const count = (n, one, many) => `${nf.format(n)} ${n === 1 ? one : many}`;
  const signed = (n) => (n > 0 ? `+${nf.format(n)}` : n < 0 ? `−${nf.format(-n)}` : "±0");

  // ---- State -------------------------------------------------------------

  let gen = 0; // bumped when the election changes; stale work checks it
  let st = null;

  function fresh(election) {
    return {
      election, gen: ++gen,
      tally: null, points: [], turns: [], turnKeys: new Set(), contests: new Map(),
      streams: [], timers: [], wait: WAIT_FIRST_MS,
      lastIndex: -1, allFrom: 0,
      refreshing: false, pending: false, lastRefresh: 0,
      corrections: new Map(), jobs: [], running: 0, pastDone: false, pastShown: 0,
      units: new Map(), parents: new Map(), authority: "", races: new Map(), voteTypes: new Map(),
      key: null, prevCp: null, cpNext: null, cpBusy: false, cpChecked: 0, cpFirst: null,
      cpFailed: null, // { size, title, count }: the latest checkpoint that failed a check, and how many did
      origins: newOrigins(), checkMax: checkMax(),
      failed: null, // { title, text, size, shrankFrom }: a check failed; it stays so
    };
  }

  function stop() {
    if (!st) return;
    for (const es of st.streams) es.close();
    for (const t of st.timers) clearTimeout(t);
    st.streams = [];
    st.timers = [];
  }

  function later(fn, ms) {
    const mine = st;
    const t = setTimeout(() => { if (st === mine) fn(); }, ms);
    st.timers.push(t);
  }

  // ---- Election picker ---------------------------------------------------

  // label names an election in the picker: its name, with its ID when
  // another election has the same name. Short, so that a phone shows it
  // whole; the option's title has both.
  function label(e, all) {
    return all.filter((x) => x.name === e.name).length > 1 ? `${e.name} (${e.id})` : e.name || e.id;
  }

  async function loadElections() {
    try {
      const { elections } = await getJSON("/v1/elections");
      const sel = $("election");
      const want = st ? st.election : "";
      const ids = elections.map((e) => e.id);
      if (want && !ids.includes(want)) ids.unshift(want);
      const texts = ids.map((id) => {
        const e = elections.find((x) => x.id === id);
        return e ? [label(e, elections), `${e.name} (${id})`] : [`${id} (not in this ledger)`, id];
      });
      const have = [...sel.options].map((o) => `${o.value}\n${o.textContent}`);
      if (have.join("\n") !== ids.map((id, i) => `${id}\n${texts[i][0]}`).join("\n")) {
        sel.replaceChildren(...ids.map((id, i) => h("option", { value: id, title: texts[i][1] }, texts[i][0])));
      }
      sel.value = want;
      return elections;
    } catch (err) {
      setConnection(`cannot list elections: ${err.message}`);
      return null;
    }
  }

  function pick(election, push) {
    const url = new URL(location.href);
    url.searchParams.set("election", election);
    if (push) history.pushState({ election }, "", url);
    else history.replaceState({ election }, "", url);
    open(election);
  }

  // ---- Loading an election -----------------------------------------------

  async function open(election) {
    stop();
    st = fresh(election);
    const mine = st;
    $("contests").replaceChildren(h("p", {}, `Loading ${election}…`));
    $("corrections-list").replaceChildren();
    $("corrections-empty").hidden = false;
    $("corrections-empty").textContent = "None so far.";
    $("corrections-count").textContent = "none so far";
    $("checkpoint-summary").textContent = "none seen yet";
    $("election-entries").textContent = "–";
    $("election-recorded").textContent = "–";
    resetCheckpoint();
    clearTakeover();
    document.title = `${election}: live count`;
    await loadElections();
    if (st !== mine || askedToken) return;
    await first(mine);
  }

  // first loads the tally, the chart's series and the key, then opens the
  // change stream. An election the ledger does not have is not asked for
  // again until the election list names it.
  async function first(mine) {
    let tally;
    try {
      tally = await getJSON(`/v1/elections/${enc(mine.election)}/tally`);
    } catch (err) {
      if (st !== mine || err.status === 401) return; // askToken asks
      if (err.status === 404) {
        unknown(mine);
        return;
      }
      setConnection(`cannot read the tally: ${err.message}; retrying in ${Math.round(mine.wait / 1000)} s`);
      later(() => first(mine), backoff(mine));
      return;
    }
    if (st !== mine) return;
    mine.wait = WAIT_FIRST_MS;
    $("contests").replaceChildren();
    render(tally);
    loadKey(mine);
    await loadUnits(mine);
    await loadSeries(mine);
    if (st !== mine) return;
    mine.allFrom = tally.entries;
    follow(mine);
  }

  // backoff returns how long to wait before the next try, and doubles it.
  function backoff(mine) {
    const w = mine.wait;
    mine.wait = Math.min(WAIT_MAX_MS, mine.wait * 2);
    return w;
  }

  // unknown says that the ledger has no such election, names those it has,
  // and watches the election list (not the election: that would be a 404
  // each time) until it lists it, less and less often.
  async function unknown(mine) {
    const list = await loadElections();
    if (st !== mine) return;
    if (list && list.some((e) => e.id === mine.election)) {
      // Listed, but its tally was not there yet (an empty log): try again.
      later(() => first(mine), backoff(mine));
      return;
    }
    const wait = backoff(mine);
    const others = (list || []).map((e) => h("li", {},
      h("a", { href: `?election=${enc(e.id)}`, "data-election": e.id }, e.name || e.id), ` (${e.id}, ${count(e.size, "entry", "entries")}, ${statusText(e.status)})`));
    $("contests").replaceChildren(h("div", { class: "notice", id: "unknown-election" },
      h("h2", {}, `This ledger has no election “${mine.election}”`),
      list === null ? h("p", {}, "The list of elections could not be read either.")
        : others.length ? h("p", {}, "The elections it has:") : h("p", {}, "It has no election yet."),
      others.length ? h("ul", {}, ...others) : null,
      h("p", { class: "small" }, `If “${mine.election}” is about to be defined, this page will open it once the ledger lists it: ` +
        `it looks at the list again in ${Math.round(wait / 1000)} s, then less and less often (at most every ${WAIT_MAX_MS / 1000} s).`)));
    setConnection(`not following: no election “${mine.election}” in this ledger`);
    $("election-status").textContent = "unknown election";
    later(() => unknown(mine), wait);
  }

  // loadUnits reads the manifest, entry 0 (and entries 1 to N-1 when it is
  // in N parts, docs/events.md): the reporting units' names and parents,
  // the races' choices and the vote types by name, and the election's
  // authority, whose key signs the manifest and registers the reporter
  // keys.
  async function loadUnits(mine) {
    try {
      const entry = await getJSON(`/v1/elections/${enc(mine.election)}/entries/0`);
      const data = (entry.event && entry.event.data) || {};
      const parts = [data];
      const n = Number.isInteger(data.parts) ? Math.min(data.parts, 128) : 1;
      const text = new TextDecoder();
      for (let i = 1; i < n;) { // pages may end early: they are bounded in bytes
        const lines = splitLines(await getBytes(`/v1/elections/${enc(mine.election)}/entries?start=${i}&limit=${n - i}`));
        if (lines.length === 0) break;
        for (const l of lines) {
          const en = JSON.parse(text.decode(l));
          if (en.event && en.event.type === "manifest.part") parts.push(en.event.data || {});
        }
        i += lines.length;
      }
      for (const d of parts) {
        for (const u of d.units || []) {
          mine.units.set(u.id, u.name || u.id);
          if (u.parent) mine.parents.set(u.id, u.parent);
        }
        for (const c of d.contests || []) {
          mine.races.set(c.id, { name: c.name || c.id, choices: (c.choices || []).map((ch) => ({ id: ch.id, name: ch.name || ch.id })) });
        }
      }
      for (const vt of data.vote_types || []) mine.voteTypes.set(vt.id, vt.name || vt.id);
      mine.authority = typeof data.authority === "string" ? data.authority : "";
    } catch (err) {
      console.warn("no manifest:", err.message); // the IDs are shown instead, and roles are not checked
    }
  }

  // ---- The change stream -------------------------------------------------
  //
  // One stream per page (a browser opens at most six connections to a
  // host over HTTP/1.1): the corrections and retractions before the size
  // of the tally the page loaded, for the feed, then every entry
  // (?all_from=), and the checkpoints.

  function follow(mine) {
    const url = `/v1/elections/${enc(mine.election)}/changes?from=${mine.lastIndex + 1}` +
      `&types=${CORRECTION_TYPES.join(",")}&all_from=${mine.allFrom}`;
    const es = new EventSource(url);
    mine.streams.push(es);
    es.onopen = () => setConnection(liveText(mine));
    const onEntry = (e) => {
      let change;
      try { change = JSON.parse(e.data); } catch (_) { return; }
      mine.lastIndex = Math.max(mine.lastIndex, change.index);
      if (change.index >= mine.allFrom) pastDone(mine);
      if (CORRECTION_TYPES.includes(change.type)) addCorrection(mine, change);
      if (change.index >= mine.allFrom) refreshSoon(mine);
    };
    for (const t of ENTRY_TYPES) es.addEventListener(t, onEntry);
    es.addEventListener("checkpoint", (e) => {
      pastDone(mine);
      refreshSoon(mine);
      // While a checkpoint is being checked, only the newest one that
      // arrives meanwhile waits: checking is bounded however fast the
      // log grows.
      mine.cpNext = JSON.parse(e.data).checkpoint;
      if (!mine.cpBusy) checkCheckpoints(mine);
    });
    es.addEventListener("error", (e) => {
      if (e.data) setConnection(`the ledger stopped the stream: ${e.data}`);
      else if (es.readyState === EventSource.CLOSED) {
        setConnection(`disconnected; reconnecting in ${RECONNECT_MS / 1000} s`);
        es.close();
        mine.streams = mine.streams.filter((x) => x !== es);
        later(() => follow(mine), RECONNECT_MS);
      } else setConnection("reconnecting…");
    });
  }

  function liveText(mine) {
    return mine.failed ? "connected, but this ledger FAILED a check: every number shown is unverified"
      : "connected: totals follow the log";
  }

  async function checkCheckpoints(mine) {
    mine.cpBusy = true;
    try {
      while (mine.cpNext && st === mine) {
        const note = mine.cpNext;
        mine.cpNext = null;
        try {
          await checkCheckpoint(mine, note);
        } catch (err) {
          console.error(err);
        }
      }
    } finally {
      mine.cpBusy = false;
    }
  }

  function setConnection(text) { $("connection").textContent = text; }

  // refreshSoon refetches the tally and the new chart points, at most once
  // per REFRESH_MS, and once more after a burst of changes.
  function refreshSoon(mine) {
    if (st !== mine) return;
    if (mine.refreshing) { mine.pending = true; return; }
    const wait = Math.max(0, mine.lastRefresh + REFRESH_MS - Date.now());
    mine.refreshing = true;
    later(async () => {
      try {
        const tally = await getJSON(`/v1/elections/${enc(mine.election)}/tally`);
        if (st !== mine) return;
        render(tally);
        await loadSeries(mine);
      } catch (err) {
        setConnection(`refresh failed: ${err.message}`);
      } finally {
        mine.refreshing = false;
        mine.lastRefresh = Date.now();
        if (mine.pending) { mine.pending = false; refreshSoon(mine); }
      }
    }, wait);
  }

  // ---- Totals ------------------------------------------------------------

  function render(tally) {
    st.tally = tally;
    $("election-name").textContent = tally.name || tally.election;
    $("election-status").replaceChildren(v(statusText(tally.status)));
    renderEntries(st);
    const keep = new Set();
    for (const c of tally.contests) {
      keep.add(c.id);
      let view = st.contests.get(c.id);
      if (!view) {
        view = contestView(c);
        st.contests.set(c.id, view);
        $("contests").append(view.root);
      }
      updateContest(view, c, tally);
    }
    for (const [id, x] of st.contests) {
      if (!keep.has(id)) { x.root.remove(); st.contests.delete(id); }
    }
  }

  // renderEntries shows the log's size: the tally's, or a failed
  // checkpoint's when it is newer (after a rollback, the smaller size).
  function renderEntries(mine) {
    let n = mine.tally ? mine.tally.entries : null;
    const f = mine.failed;
    // A tally read before the rollback still counts the entries gone.
    if (f && f.shrankFrom && (n === null || n >= f.shrankFrom)) n = f.size;
    if (n === null) return;
    // The size it shrank from is the one this page verified: not marked.
    $("election-entries").replaceChildren(v(nf.format(n)),
      f && f.shrankFrom ? h("span", { class: "verified-here" }, ` (down from ${nf.format(f.shrankFrom)}: rolled back)`) : "");
  }

  function contestView(c) {
    const id = `contest-${c.id}`;
    const x = {};
    x.turnout = c.kind === "turnout";
    x.progressText = h("span", { id: `${id}-progress` });
    x.progress = h("progress", { max: 1, value: 0, "aria-labelledby": `${id}-progress` });
    x.status = h("p", { class: "status-line" });
    x.caption = h("caption", {});
    x.tbody = h("tbody", {});
    const head = x.turnout
      ? h("tr", {}, h("th", { scope: "col" }, "Measure"), h("th", { scope: "col", class: "num" }, "Count"))
      : h("tr", {}, h("th", { scope: "col", class: "num rank" }, "#"), h("th", { scope: "col" }, "Choice"),
        h("th", { scope: "col", class: "num" }, "Votes"), h("th", { scope: "col", class: "num" }, "Share"));
    x.table = h("table", { class: "totals" }, x.caption, h("thead", {}, head), x.tbody);
    x.root = h("section", { class: "contest", id, "aria-labelledby": `${id}-h` },
      h("h2", { id: `${id}-h` }, c.name + (x.turnout ? " (turnout)" : "")),
      h("div", { class: "reporting" }, x.progressText, x.progress),
      x.status, x.table);
    if (!x.turnout) {
      x.chartBox = h("div", { class: "chart-box" });
      x.chartCaption = h("figcaption", { id: `${id}-chart-caption` });
      x.chartTable = h("div", { class: "table-wrap" });
      x.root.append(h("figure", { class: "chart", "aria-labelledby": `${id}-chart-caption` },
        x.chartBox, x.chartCaption,
        h("details", {}, h("summary", {}, "The chart's data as a table"), x.chartTable)));
    }
    return x;
  }

  function ranked(c) {
    return c.choices.map((ch, i) => ({ ...ch, order: i }))
      .sort((a, b) => b.votes - a.votes || a.order - b.order);
  }

  function updateContest(x, c, tally) {
    x.contest = c;
    const pct = c.units_total > 0 ? Math.round((100 * c.units_reported) / c.units_total) : 0;
    x.progressText.replaceChildren("Units reported: ", v(`${nf.format(c.units_reported)} of ${nf.format(c.units_total)} (${pct}%)`));
    x.progress.max = Math.max(1, c.units_total);
    x.progress.value = c.units_reported;

    const state = c.units_total > 0 && c.units_reported >= c.units_total ? "all units reported" : "partial";
    const parts = [h("strong", {}, "Status: "), `${statusText(tally.status)}; ${state}.`];
    if (x.turnout) {
      x.status.replaceChildren(...parts);
      x.caption.textContent = "Turnout";
      x.tbody.replaceChildren(...c.choices.map((ch) =>
        h("tr", {}, h("th", { scope: "row" }, ch.name), h("td", { class: "num" }, v(nf.format(ch.votes))))));
      return;
    }
    const rows = ranked(c);
    const lead = rows[0];
    if (c.total_votes > 0 && lead && (rows.length < 2 || lead.votes > rows[1].votes)) {
      const majority = 2 * lead.votes > c.total_votes;
      parts.push(" Leading: ", h("strong", { class: "leader-name" }, lead.name), " with ", v(`${lead.share}%`), ": ",
        majority ? "more than half of the votes (above the 50% line)." : "not more than half of the votes (below the 50% line).");
    } else if (c.total_votes > 0) {
      parts.push(" Tied for the lead.");
    } else {
      parts.push(" No votes counted yet.");
    }
    x.status.replaceChildren(...parts);
    x.caption.replaceChildren("Total votes: ", v(nf.format(c.total_votes), "total-votes"));
    x.tbody.replaceChildren(...rows.map((ch, i) => {
      const leader = i === 0 && c.total_votes > 0 && (rows.length < 2 || ch.votes > rows[1].votes);
      const bar = h("span", { class: "sharebar", "aria-hidden": "true" }, h("span", {}));
      bar.firstChild.style.width = `${Math.min(100, parseFloat(ch.share) || 0)}%`;
      return h("tr", { class: leader ? "leader" : null },
        h("td", { class: "num rank" }, i + 1),
        h("th", { scope: "row" }, ch.name, ch.party ? h("span", { class: "party" }, ` (${ch.party})`) : null,
          leader ? h("span", { class: "tag" }, "leading") : null),
        h("td", { class: "num" }, v(nf.format(ch.votes))),
        h("td", { class: "num" }, v(`${ch.share}%`), bar));
    }));
  }

  // ---- Chart -------------------------------------------------------------

  async function loadSeries(mine) {
    const after = mine.points.length ? mine.points[mine.points.length - 1].tree_size : 0;
    let res;
    try {
      res = await getJSON(`/v1/elections/${enc(mine.election)}/series?points=${SERIES_POINTS}&after=${after}`);
    } catch (err) {
      if (err.status !== 404) setConnection(`cannot read the chart's series: ${err.message}`);
      return;
    }
    if (st !== mine) return;
    if (res.tree_size < after) {
      // The log is shorter than the points the page has: rolled back.
      // Start the chart again from what the ledger serves now.
      resetSeries(mine);
      await loadSeries(mine);
      return;
    }
    const last = mine.points.length ? mine.points[mine.points.length - 1].tree_size : 0;
    for (const p of res.points) if (p.tree_size > last) mine.points.push(p);
    for (const t of res.turns || []) {
      const k = `${t.contest}\n${t.index}\n${t.kind}\n${t.choice || ""}`;
      if (!mine.turnKeys.has(k)) { mine.turnKeys.add(k); mine.turns.push(t); }
    }
    if (mine.points.length > MAX_POINTS) {
      // Keep the first, the last, and those around each turn; drop every
      // other one of the rest.
      const keep = new Set();
      for (const t of mine.turns) { keep.add(t.index); keep.add(t.index + 1); }
      let k = 0;
      mine.points = mine.points.filter((p, i, a) => i === 0 || i === a.length - 1 || keep.has(p.tree_size) || k++ % 2 === 0);
    }
    const lp = mine.points[mine.points.length - 1];
    if (lp) $("election-recorded").replaceChildren(v(when(lp.last_recorded)), " (entry ", v(nf.format(lp.tree_size - 1)), ")");
    for (const x of mine.contests.values()) if (!x.turnout) drawChart(x, mine);
  }

  function resetSeries(mine) {
    mine.points = [];
    mine.turns = [];
    mine.turnKeys = new Set();
  }

  // The steps of a time axis, in milliseconds.
  const TIME_STEPS = [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400, 172800, 604800]
    .map((x) => x * 1000);

  // timeTicks returns the tick times of a time axis from t0 to t1, at most
  // about n of them, on whole steps of UTC time.
  function timeTicks(t0, t1, n) {
    const span = Math.max(1, t1 - t0);
    const step = TIME_STEPS.find((x) => span / x <= n) || TIME_STEPS[TIME_STEPS.length - 1];
    const out = [];
    for (let t = Math.ceil(t0 / step) * step; t <= t1; t += step) out.push(t);
    return { step, ticks: out };
  }

  function tickLabel(t, step) {
    const iso = new Date(t).toISOString();
    return step >= 86400000 ? iso.slice(5, 10) : step < 60000 ? iso.slice(11, 19) : iso.slice(11, 16);
  }

  // turnText says what a turn did, in words.
  function turnText(t, names, first) {
    const who = (id) => shortName(names.get(id) || id);
    const at = `at entry ${nf.format(t.index)} (${clock(t.recorded)})`;
    switch (t.kind) {
      case "lead":
        return t.from ? `${who(t.choice)} took the lead from ${who(t.from)} ${at}`
          : first ? `${who(t.choice)} led first, ${at}` : `${who(t.choice)} took the lead ${at}`;
      case "tie": return `the lead was tied ${at}`;
      case "none": return `no votes were counted any more ${at}`;
      case "above": return `${who(t.choice)} rose above it ${at}`;
      case "below": return `${who(t.choice)} fell below it ${at}`;
    }
    return `${t.kind} ${at}`;
  }

  function listed(items) {
    const shown = items.slice(0, LIST_TURNS);
    return shown.join(", ") + (items.length > shown.length ? `, and ${nf.format(items.length - shown.length)} more (in the table below)` : "");
  }

  function drawChart(x, mine) {
    const c = x.contest;
    const points = mine.points;
    const data = points.map((p) => ({ size: p.tree_size, at: p.last_recorded, t: Date.parse(p.last_recorded), c: p.contests.find((q) => q.id === c.id) }))
      .filter((p) => p.c && p.c.total_votes > 0 && !isNaN(p.t));
    const names = new Map(c.choices.map((ch) => [ch.id, ch.name]));
    const shown = ranked(c).slice(0, CHART_LINES).map((ch) => ch.id);
    const turns = mine.turns.filter((t) => t.contest === c.id).sort((a, b) => a.index - b.index);
    const leads = turns.filter((t) => t.kind === "lead" || t.kind === "tie" || t.kind === "none");
    const cross = turns.filter((t) => t.kind === "above" || t.kind === "below");
    const width = chartWidth(x);
    x.drawnWidth = width;
    const narrow = width < 520;
    // Wide: each line is named at its end. Narrow: in a key under the
    // chart, so that the plot keeps the width.
    const keyRows = narrow ? shown.length : 0;
    const m = { l: 40, r: narrow ? 12 : 150, t: 12, b: 38 + (keyRows ? 10 + 18 * keyRows : 0) };
    const height = (narrow ? 220 : 300) + (m.b - 38);
    const pw = width - m.l - m.r, ph = height - m.t - m.b;
    const failed = !!mine.failed;

    const svg = s("svg", { viewBox: `0 0 ${width} ${height}`, width, height, role: "img",
      "aria-labelledby": `${x.root.id}-svg-title ${x.root.id}-svg-desc` });
    svg.append(s("title", { id: `${x.root.id}-svg-title` }, `${failed ? "UNVERIFIED: " : ""}Share of the votes over time: ${c.name}`));
    const desc = s("desc", { id: `${x.root.id}-svg-desc` });
    svg.append(desc);

    if (data.length === 0) {
      svg.append(s("text", { x: m.l, y: m.t + 20 }, "No votes counted yet."));
      desc.textContent = "No votes counted yet.";
      x.chartBox.replaceChildren(svg);
      x.chartCaption.textContent = "Each choice's share of the votes over time: waiting for the first votes.";
      x.chartTable.replaceChildren();
      return;
    }
    let x0 = data[0].t, x1 = data[data.length - 1].t;
    for (const p of data) { x0 = Math.min(x0, p.t); x1 = Math.max(x1, p.t); }
    if (x1 - x0 < 1000) { x0 -= 500; x1 += 500; }
    let ymax = 60;
    for (const p of data) for (const ch of p.c.choices) {
      if (shown.includes(ch.id)) ymax = Math.max(ymax, Math.ceil((parseFloat(ch.share) + 5) / 10) * 10);
    }
    ymax = Math.min(100, ymax);
    const X = (t) => m.l + ((t - x0) / (x1 - x0)) * pw;
    const Y = (pct) => m.t + ph - (pct / ymax) * ph;

    // The band above 50% and the 50% line itself, labelled in words.
    svg.append(s("rect", { class: "majority-band", x: m.l, y: Y(ymax), width: pw, height: Y(50) - Y(ymax) }));
    for (let y = 0; y <= ymax; y += 10) {
      svg.append(s("line", { class: "grid", x1: m.l, x2: m.l + pw, y1: Y(y), y2: Y(y) }));
      svg.append(s("text", { x: m.l - 6, y: Y(y) + 4, "text-anchor": "end", "font-weight": y === 50 ? "700" : null }, `${y}%`));
    }
    svg.append(s("line", { class: "majority", x1: m.l, x2: m.l + pw, y1: Y(50), y2: Y(50) }));
    svg.append(s("text", { class: "halo", x: m.l + 4, y: Y(ymax) + 14, "font-weight": "700" },
      narrow ? "Shaded: above 50%" : "Shaded: above the 50% line, a majority"));
    // The time axis: the stream's time of the entries, in UTC.
    const { step, ticks } = timeTicks(x0, x1, narrow ? 4 : 7);
    for (const t of ticks) {
      svg.append(s("line", { class: "axis", x1: X(t), x2: X(t), y1: m.t + ph, y2: m.t + ph + 4 }));
      svg.append(s("text", { class: "tick", x: X(t), y: m.t + ph + 16, "text-anchor": "middle" }, tickLabel(t, step)));
    }
    svg.append(s("line", { class: "axis", x1: m.l, x2: m.l + pw, y1: m.t + ph, y2: m.t + ph }));
    svg.append(s("line", { class: "axis", x1: m.l, x2: m.l, y1: m.t, y2: m.t + ph }));
    const d0 = new Date(x0).toISOString().slice(0, 10), d1 = new Date(x1).toISOString().slice(0, 10);
    svg.append(s("text", { class: "axis-title", x: m.l + pw / 2, y: m.t + ph + 32, "text-anchor": "middle" },
      `time recorded (UTC, ${d0 === d1 ? d0 : `${d0} to ${d1}`})`));

    // One line per choice, each with its own dash pattern and a label at
    // its end naming it: nothing depends on telling colours apart.
    const labels = [];
    shown.forEach((id, k) => {
      const pts = data.map((p) => {
        const ch = p.c.choices.find((q) => q.id === id);
        return [X(p.t), Y(ch ? parseFloat(ch.share) : 0), ch];
      });
      // Steps: a share stands from the entry that made it until the next.
      const d = pts.map(([px, py], i) => (i ? `H${px.toFixed(1)} V${py.toFixed(1)}` : `M${px.toFixed(1)},${py.toFixed(1)}`)).join(" ");
      svg.append(s("path", { class: "series", d, "stroke-dasharray": DASHES[k % DASHES.length] },
        s("title", {}, names.get(id))));
      const [lx, ly, ch] = pts[pts.length - 1];
      labels.push({ x: lx, y: ly, k, text: `${shortName(names.get(id))} ${ch ? ch.share : "0.00"}%` });
    });
    // Push labels apart vertically so that close shares stay readable; in
    // the key, one row each, highest share first.
    labels.sort((a, b) => a.y - b.y);
    for (let i = 1; i < labels.length; i++) labels[i].y = Math.max(labels[i].y, labels[i - 1].y + 15);
    labels.forEach((lb, i) => { if (keyRows) lb.y = m.t + ph + 58 + 18 * i; });
    for (const lb of labels) {
      const lx = keyRows ? m.l : m.l + pw + 4;
      svg.append(s("line", { class: "series key", x1: lx, x2: lx + 18, y1: lb.y - 4, y2: lb.y - 4,
        "stroke-dasharray": DASHES[lb.k % DASHES.length] }));
      svg.append(s("text", { class: "label", x: lx + 22, y: lb.y }, lb.text));
    }
    // The turns, where the entries put them: crossings of the 50% line
    // circled, changes of the lead marked with a diamond.
    const inside = (t) => !isNaN(t) && t >= x0 && t <= x1;
    for (const t of cross) {
      const at = Date.parse(t.recorded);
      if (!inside(at)) continue;
      svg.append(s("circle", { class: "crossing", cx: X(at), cy: Y(parseFloat(t.share)), r: 5 },
        s("title", {}, turnText(t, names, false))));
    }
    leads.forEach((t, i) => {
      const at = Date.parse(t.recorded);
      if (t.kind !== "lead" || !inside(at)) return;
      const cx = X(at), cy = Y(parseFloat(t.share));
      svg.append(s("path", { class: "lead-mark", d: `M${cx.toFixed(1)},${(cy - 6).toFixed(1)} l6,6 l-6,6 l-6,-6 z` },
        s("title", {}, turnText(t, names, i === 0))));
    });
    if (failed) {
      svg.append(s("text", { class: "unverified-mark", x: m.l + pw / 2, y: m.t + ph / 2, "text-anchor": "middle" }, "UNVERIFIED"));
    }

    const last = data[data.length - 1];
    const changes = leads.length - (leads.length && leads[0].kind === "lead" && !leads[0].from ? 1 : 0);
    const leadText = leads.length === 0 ? "Nobody has led yet."
      : changes === 0 ? `The lead has not changed: ${turnText(leads[0], names, true)}.`
        : `The lead changed ${count(changes, "time", "times")} (marked ◆): ` + listed(leads.map((t, i) => turnText(t, names, i === 0))) + ".";
    const crossText = cross.length === 0
      ? "No choice has crossed the 50% line."
      : `The 50% line was crossed ${count(cross.length, "time", "times")} (circled): ` + listed(cross.map((t) => turnText(t, names, false))) + ".";
    desc.textContent = `${failed ? "UNVERIFIED. " : ""}Shares of ${shown.map((id) => names.get(id)).join(", ")} from ${when(data[0].at)} to ${when(last.at)}. ${leadText} ${crossText}`;
    x.chartBox.replaceChildren(svg);
    x.chartCaption.replaceChildren(
      failed ? h("strong", { class: "unverified-note" }, "Unverified: this ledger failed a check. ") : "",
      `Each choice's share of the votes over time, by the time each entry was recorded (as-of tallies, ${data.length} points), ` +
      `for the ${shown.length} leading choice${shown.length === 1 ? "" : "s"}; ` +
      (keyRows ? "the key under the chart names each line style. " : "each line is named at its end. ") +
      "Found from every entry of the log: ",
      h("span", { class: "leads" }, leadText), " ",
      h("span", { class: "crossings" }, crossText));
    x.chartTable.replaceChildren(
      turns.length ? h("table", { class: "turns" },
        h("caption", {}, "Turns: every change of the lead and every crossing of the 50% line, by entry"),
        h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "Entry"), h("th", { scope: "col" }, "Recorded"), h("th", { scope: "col" }, "What happened"))),
        h("tbody", {}, ...turns.map((t) => h("tr", {}, h("td", {}, v(nf.format(t.index))), h("td", {}, v(when(t.recorded))),
          h("td", {}, (t.kind === "above" || t.kind === "below" ? "the 50% line: " : "the lead: ") +
            turnText(t, names, t === leads[0]).replace(/,? at entry .*$/, ""), ...(t.share ? [" (", v(`${t.share}%`), ")"] : [])))))) : "",
      h("table", {},
        h("caption", {}, "Shares at each point of the chart"),
        h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "Log size"), h("th", { scope: "col" }, "Last recorded"),
          ...shown.map((id) => h("th", { scope: "col" }, names.get(id))))),
        h("tbody", {}, ...data.map((p) => h("tr", {}, h("td", {}, v(nf.format(p.size))), h("td", {}, v(when(p.at))),
          ...shown.map((id) => {
            const ch = p.c.choices.find((q) => q.id === id);
            return h("td", {}, ch ? v(`${ch.share}%`) : "–");
          }))))));
  }

  function shortName(name) {
    const words = (name || "").split(/\s+/).filter(Boolean);
    if (words.length <= 1) return name || "";
    const last = words[words.length - 1];
    return /^(JR|SR|II|III|IV)\.?$/i.test(last) && words.length > 2 ? words[words.length - 2] : last;
  }

  let resizeTimer = 0;
  // The chart's width: its box's, at least 300 px.
  function chartWidth(x) {
    return Math.max(300, Math.round(x.chartBox.clientWidth || 600));
  }

  // A chart is drawn again when its box's width changes, not on every
  // resize: a change of height alone (a phone's address bar, a full-page
  // screenshot) leaves it, and its focus and selection, in place.
  window.addEventListener("resize", () => {
    clearTimeout(resizeTimer);
    resizeTimer = setTimeout(() => {
      if (!st) return;
      for (const x of st.contests.values()) {
        if (!x.turnout && x.contest && chartWidth(x) !== x.drawnWidth) drawChart(x, st);
      }
    }, 150);
  });

  // ---- Corrections -------------------------------------------------------
  //
  // Each correction and retraction of the log, newest first: what it
  // changed (each choice's votes, old → new, from the report it replaced,
  // fetched by its event ID), the unit and contest, the reason given, and
  // the office that made it.

  function addCorrection(mine, change) {
    if (st !== mine || mine.corrections.has(change.index)) return;
    mine.corrections.set(change.index, change);
    const entry = change.entry || {};
    const ev = entry.event || {};
    const data = ev.data || {};
    const corrected = change.type === "count.corrected";
    const rejected = change.verdict === "rejected";
    const where = h("span", { class: "where" }, corrected && data.unit ? `: ${unitName(mine, data.unit)}, ${raceName(mine, data.contest)}` : "");
    const changes = h("div", { class: "changes" }, h("p", { class: "small" }, "Reading what it changed…"));
    const li = h("li", { class: rejected ? "rejected" : null, "data-index": change.index },
      h("p", {}, h("span", { class: "what" }, corrected ? "Correction" : "Retraction"),
        rejected ? ` (REJECTED: ${entry.reason || "no reason given"})` : " (accepted)", where),
      h("p", { class: "reason" }, "Reason given: ", data.reason || "–"),
      officeLine(mine, entry),
      changes,
      h("p", { class: "meta" }, "Log entry ", v(nf.format(change.index)), ", recorded ", v(when(entry.recorded)),
        `; ${corrected ? "corrects" : "withdraws"} event `, h("span", { class: "event-id" }, corrected ? data.corrects : data.retracts)));
    // Newest first, by log index.
    const list = $("corrections-list");
    const after = [...list.children].find((x) => Number(x.dataset.index) < change.index);
    list.insertBefore(li, after || null);
    $("corrections-empty").hidden = true;
    correctionCount(mine);
    enqueue(mine, { index: change.index, past: change.index < mine.allFrom, box: changes, run: () => showChanges(mine, change, where, changes) });
  }

  function correctionCount(mine) {
    const gone = $("corrections-list").querySelectorAll("li.gone").length;
    const n = mine.corrections.size;
    $("corrections-count").replaceChildren(...(n ? [v(nf.format(n)), " (latest: entry ", v(nf.format(Math.max(...mine.corrections.keys()))), ")"] : ["none in the log"]),
      ...(gone ? ["; ", v(nf.format(gone)), " no longer in the log (rolled back)"] : []));
  }

  // markGone marks the corrections at or after size, which a rolled back
  // log no longer has.
  function markGone(mine, size) {
    for (const li of $("corrections-list").children) {
      const i = Number(li.dataset.index);
      if (i < size || li.classList.contains("gone")) continue;
      li.classList.add("gone");
      li.prepend(h("p", { class: "gone-note" }, "No longer in the log: the ledger's log now ends at entry ", v(nf.format(size - 1)), ", before this one (rolled back)."));
      mine.corrections.delete(i);
    }
    correctionCount(mine);
  }

  // The fetches of replaced reports, a few at a time, newest first. Of the
  // corrections logged before the page opened, which the stream sends
  // first, the newest SHOW_CHANGES are shown with what they changed, the
  // others on demand: a long night's corrections cost no burst of fetches.
  function enqueue(mine, job) {
    mine.jobs.push(job);
    pump(mine);
  }

  // pastDone: the stream has sent the corrections logged before the page
  // opened.
  function pastDone(mine) {
    if (mine.pastDone) return;
    mine.pastDone = true;
    pump(mine);
  }

  function pump(mine) {
    if (st !== mine) return;
    mine.jobs.sort((a, b) => b.index - a.index);
    while (mine.running < CORRECTION_FETCHES && mine.jobs.length) {
      if (mine.jobs[0].past && !mine.pastDone) return; // wait for them all, to take the newest
      const job = mine.jobs.shift();
      if (job.past && mine.pastShown >= SHOW_CHANGES) {
        job.box.replaceChildren(h("button", { type: "button", class: "show-changes" }, "Show what it changed"));
        job.box.firstChild.addEventListener("click", () => {
          job.box.replaceChildren(h("p", { class: "small" }, "Reading what it changed…"));
          enqueue(mine, { ...job, past: false });
        }, { once: true });
        continue;
      }
      if (job.past) mine.pastShown++;
      mine.running++;
      job.run().catch((err) => console.warn(err)).finally(() => { mine.running--; pump(mine); });
    }
  }

  function unitName(mine, id) { return mine.units.get(id) || id; }

  function raceName(mine, id) {
    const r = mine.races.get(id);
    if (r) return r.name;
    const c = mine.tally && mine.tally.contests.find((x) => x.id === id);
    return c ? c.name : id;
  }

  // choiceNames returns a contest's choices, in the manifest's order, by
  // ID: their names.
  function choiceNames(mine, contest) {
    const r = mine.races.get(contest);
    if (r) return new Map(r.choices.map((ch) => [ch.id, ch.name]));
    const c = mine.tally && mine.tally.contests.find((x) => x.id === contest);
    return new Map(c ? c.choices.map((ch) => [ch.id, ch.name]) : []);
  }

  // showChanges fetches the report a correction or retraction replaces
  // and shows, for each choice whose votes changed, old → new: its total,
  // and each vote type that changed. A pair a report leaves out counts 0.
  async function showChanges(mine, change, where, box) {
    const entry = change.entry || {};
    const data = (entry.event || {}).data || {};
    const corrected = change.type === "count.corrected";
    const rejected = change.verdict === "rejected";
    const ref = corrected ? data.corrects : data.retracts;
    let old;
    try {
      const r = await getJSON(`/v1/events/${enc(ref)}`);
      if (r.election !== mine.election || !r.entry || !r.entry.event) throw new Error("not an event of this election");
      old = { index: r.entry.index, data: r.entry.event.data || {} };
    } catch (err) {
      if (st !== mine) return;
      box.replaceChildren(h("p", { class: "small" }, `The report it replaces (event ${ref}) could not be read (${err.message}), so the numbers it changed are not shown.`));
      return;
    }
    if (st !== mine) return;
    const unit = corrected ? data.unit : old.data.unit;
    const contest = corrected ? data.contest : old.data.contest;
    if (!corrected && unit) where.textContent = `: ${unitName(mine, unit)}, ${raceName(mine, contest)}`;
    const names = choiceNames(mine, contest);
    const byChoice = (counts) => {
      const out = new Map();
      for (const c of counts || []) {
        if (!out.has(c.choice)) out.set(c.choice, { total: 0, types: new Map() });
        const x = out.get(c.choice);
        x.total += c.votes;
        x.types.set(c.vote_type, (x.types.get(c.vote_type) || 0) + c.votes);
      }
      return out;
    };
    const before = byChoice(old.data.counts), after = byChoice(corrected ? data.counts : []);
    const ids = [...names.keys()];
    for (const id of [...before.keys(), ...after.keys()]) if (!ids.includes(id)) ids.push(id);
    const rows = [];
    for (const id of ids) {
      const b = before.get(id) || { total: 0, types: new Map() }, a = after.get(id) || { total: 0, types: new Map() };
      const types = [];
      for (const vt of new Set([...b.types.keys(), ...a.types.keys()])) {
        const ob = b.types.get(vt) || 0, na = a.types.get(vt) || 0;
        // One mark for the line, after its two numbers.
        if (ob !== na) types.push(types.length ? "; " : "", v(`${mine.voteTypes.get(vt) || vt} ${nf.format(ob)} → ${nf.format(na)}`));
      }
      if (types.length === 0) continue;
      rows.push(h("tr", {},
        h("th", { scope: "row" }, names.get(id) || id, h("span", { class: "vote-types" }, ...types)),
        h("td", { class: "num" }, v(nf.format(b.total))),
        h("td", { class: "num" }, v(nf.format(a.total))),
        h("td", { class: "num" }, v(signed(a.total - b.total)))));
    }
    const whose = [`the report it ${corrected ? "replaces" : "withdraws"}, entry `, v(nf.format(old.index))];
    const caption = () => rejected
      ? ["What it asked to change (not applied: the ledger rejected it), against ", ...whose]
      : ["What it changed, votes old → new (from ", ...whose, ")"];
    box.replaceChildren(rows.length === 0 ? h("p", { class: "small" }, ...caption(), ": no count.")
      : h("table", { class: "change-table" }, h("caption", {}, ...caption()),
        h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "Choice"), h("th", { scope: "col", class: "num" }, "Old"),
          h("th", { scope: "col", class: "num" }, "New"), h("th", { scope: "col", class: "num" }, "Change"))),
        h("tbody", {}, ...rows)));
  }

  // officeLine names the office that made a change: the name of the key
  // that signed its submission (the entry's submission.signer, before the
  // first "+"). The page's entry checks verify that signature.
  function officeLine(mine, entry) {
    const signer = entry.submission && entry.submission.signer;
    if (!signer) {
      return h("p", { class: "office" }, "By: no office (its submission's signature does not verify)");
    }
    return h("p", { class: "office" }, "By: ", h("strong", {}, keyName(signer)),
      signer === mine.authority ? " (the election's authority)" : "",
      h("span", { class: "small" }, ` (key ${keyLabel(signer)})`));
  }

  // ---- A failed check takes over the page ---------------------------------
  //
  // When a checkpoint or an entry fails a check (a fork, a rollback, a
  // signature that does not verify), the warning goes to the top of the
  // page and every number the ledger served is marked unverified, for as
  // long as the page is open.

  function clearTakeover() {
    document.body.classList.remove("unverified");
    const el = $("takeover");
    el.hidden = true;
    el.replaceChildren();
  }

  function takeover(mine, f) {
    if (st !== mine) return;
    const firstTime = !mine.failed;
    if (mine.failed && mine.failed.shrankFrom && !f.shrankFrom) f.shrankFrom = mine.failed.shrankFrom;
    mine.failed = f;
    document.body.classList.add("unverified");
    const prev = mine.prevCp;
    const el = $("takeover");
    el.replaceChildren(
      h("h2", { id: "takeover-h" }, `Warning: ${f.title}. Every number on this page is unverified.`),
      h("p", {}, f.text),
      h("p", {}, "Do not rely on the totals, shares, chart or corrections shown here: they are what this ledger serves now, " +
        "and they no longer follow a history this page could check. Compare them with the election office's own results " +
        "and with other copies of the ledger; `ledger watch` raises the same alarm and keeps the evidence."),
      h("p", { class: "small" }, prev ? `The last checkpoint this page verified: size ${nf.format(prev.size)}, root ${prev.rootB64}.`
        : "This page verified no checkpoint before.", " ", h("a", { href: "#checkpoint" }, "What was checked")));
    el.hidden = false;
    setConnection(liveText(mine));
    renderEntries(mine);
    renderHistory(mine);
    if (f.shrankFrom && f.size !== undefined) {
      markGone(mine, f.size);
      if (mine.lastIndex >= f.size) {
        // Follow the log the ledger serves now, from its end: the entries
        // it adds are new ones.
        mine.lastIndex = f.size - 1;
        mine.allFrom = f.size;
        for (const es of mine.streams) es.close();
        mine.streams = [];
        follow(mine);
      }
    }
    for (const x of mine.contests.values()) if (!x.turnout && x.contest) drawChart(x, mine);
    if (firstTime) {
      el.focus({ preventScroll: true });
      window.scrollTo(0, 0);
    }
  }
  // ---- Checkpoints -------------------------------------------------------

  function b64(str) {
    const bin = atob(str);
    const out = new Uint8Array(bin.length);
    for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
    return out;
  }

  function eq(a, b) {
    if (!a || !b || a.length !== b.length) return false;
    for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
    return true;
  }

  const hex = (bytes) => [...bytes].map((x) => x.toString(16).padStart(2, "0")).join("");

  function cryptoMissing() {
    if (!window.isSecureContext || !window.crypto || !crypto.subtle) {
      return "this page is not in a secure context (open it over https, or from localhost), so WebCrypto is unavailable";
    }
    return "";
  }

  async function sha256(bytes) {
    return new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
  }

  async function hashChildren(l, r) {
    const b = new Uint8Array(1 + l.length + r.length);
    b[0] = 1;
    b.set(l, 1);
    b.set(r, 1 + l.length);
    return sha256(b);
  }

  // verifyConsistency checks an RFC 6962 consistency proof (RFC 9162
  // §2.1.4.2) that the tree of size first, with root firstRoot, is a
  // prefix of the tree of size second, with root secondRoot.
  async function verifyConsistency(first, second, firstRoot, secondRoot, proof) {
    if (!(first >= 1 && first <= second)) return false;
    if (first === second) return proof.length === 0 && eq(firstRoot, secondRoot);
    const path = proof.slice();
    let pow2 = first;
    while (pow2 % 2 === 0) pow2 /= 2;
    if (pow2 === 1) path.unshift(firstRoot);
    if (path.length === 0) return false;
    let fn = first - 1, sn = second - 1;
    while (fn % 2 === 1) { fn = (fn - 1) / 2; sn = Math.floor(sn / 2); }
    let fr = path[0], sr = path[0];
    for (const c of path.slice(1)) {
      if (sn === 0) return false;
      if (fn % 2 === 1 || fn === sn) {
        fr = await hashChildren(c, fr);
        sr = await hashChildren(c, sr);
        while (fn % 2 === 0 && fn !== 0) { fn /= 2; sn = Math.floor(sn / 2); }
      } else {
        sr = await hashChildren(sr, c);
      }
      fn = Math.floor(fn / 2);
      sn = Math.floor(sn / 2);
    }
    return sn === 0 && eq(fr, firstRoot) && eq(sr, secondRoot);
  }

  // keyHash is the C2SP signed-note key hash of an Ed25519 key under a
  // name: SHA-256(name ‖ "\n" ‖ 0x01 ‖ key)[:4], in hex.
  async function keyHash(name, raw) {
    const nb = new TextEncoder().encode(name + "\n");
    const buf = new Uint8Array(nb.length + raw.length);
    buf.set(nb);
    buf.set(raw, nb.length);
    return hex((await sha256(buf)).slice(0, 4));
  }

  // parseKey reads a signed-note verifier key, name+hash+base64(0x01‖key).
  async function parseKey(text) {
    const k = text.trim();
    const i = k.indexOf("+"), j = k.indexOf("+", i + 1);
    if (i <= 0 || j <= i) throw new Error("the verifier key is malformed");
    const name = k.slice(0, i), hash = k.slice(i + 1, j), raw = b64(k.slice(j + 1));
    if (raw.length !== 33 || raw[0] !== 1) throw new Error("the verifier key is not an Ed25519 note key");
    const key = { text: k, name, hash, raw, pub: raw.slice(1), crypto: null, missing: cryptoMissing() };
    if (key.missing) return key;
    if (await keyHash(name, raw) !== hash) throw new Error("the verifier key's hash does not match its name and key");
    try {
      key.crypto = await crypto.subtle.importKey("raw", key.pub, { name: "Ed25519" }, false, ["verify"]);
    } catch (err) {
      key.missing = `this browser's WebCrypto has no Ed25519 (${err.name})`;
    }
    return key;
  }

  // logKey returns the key an election's log is signed with: the ledger
  // key's Ed25519 key named by the log's origin, <ledger name>/<election>
  // (C2SP tlog-checkpoint: the key name is the origin), whose key hash is
  // computed for that name. A log key of this election is itself; one of
  // another election is refused.
  async function logKey(key, election) {
    if (key.error) return key;
    const slash = key.name.lastIndexOf("/");
    if (slash >= 0) {
      if (slash === 0 || key.name.slice(slash + 1) !== election) throw new Error(`the key is the key of log ${key.name}, not of this election`);
      return { ...key, ledger: null };
    }
    const name = `${key.name}/${election}`;
    const out = { ...key, ledger: key, name, hash: null, text: null };
    const b64key = key.text.slice(key.text.indexOf("+", key.text.indexOf("+") + 1) + 1);
    if (key.missing) {
      out.text = `${name}+…+${b64key}`;
      return out;
    }
    out.hash = await keyHash(name, key.raw);
    out.text = `${name}+${out.hash}+${b64key}`;
    return out;
  }

  // parseNote splits a signed note into its text and signatures, and the
  // text into a C2SP tlog-checkpoint: origin, size, root.
  function parseNote(note) {
    const i = note.indexOf("\n\n");
    if (i < 0) throw new Error("the checkpoint is not a signed note");
    const text = note.slice(0, i + 1);
    const lines = text.split("\n");
    if (lines.length < 4 || !/^[0-9]+$/.test(lines[1])) throw new Error("the checkpoint's text is malformed");
    const sigs = [];
    for (const line of note.slice(i + 2).split("\n")) {
      if (!line) continue;
      const m = /^\u2014 (\S+) (\S+)$/.exec(line);
      if (!m) throw new Error("a signature line is malformed");
      const raw = b64(m[2]);
      sigs.push({ name: m[1], hash: hex(raw.slice(0, 4)), sig: raw.slice(4) });
    }
    return { text, origin: lines[0], size: Number(lines[1]), rootB64: lines[2], root: b64(lines[2]), sigs };
  }

  // verifyNote checks the note's signature by key; null if it cannot be
  // checked in this browser.
  async function verifyNote(cp, key) {
    if (!key.crypto) return null;
    const sig = cp.sigs.find((x) => x.name === key.name && x.hash === key.hash);
    if (!sig || sig.sig.length !== 64) return false;
    return crypto.subtle.verify({ name: "Ed25519" }, key.crypto, sig.sig, new TextEncoder().encode(cp.text));
  }

  // loadKey reads the ledger key from /v1/key and derives from it the key
  // of this election's log, which signs its checkpoints.
  async function loadKey(mine) {
    try {
      const key = await logKey(await parseKey(await getText("/v1/key")), mine.election);
      if (st !== mine) return;
      mine.key = key;
      $("cp-key").textContent = key.ledger ? `${key.ledger.text} (this log's key: ${key.text})` : key.text;
    } catch (err) {
      if (st !== mine) return;
      mine.key = { error: err.message };
      $("cp-key").textContent = `unusable: ${err.message}`;
    }
  }

  function resetCheckpoint() {
    for (const id of ["cp-size", "cp-root", "cp-origin"]) $(id).textContent = "–";
    $("cp-checks").replaceChildren(h("li", {}, "Waiting for the first checkpoint."));
    $("cp-history").textContent = "";
    $("checkpoint-alarm").hidden = true;
  }

  function check(ok, label, detail) {
    const mark = ok === true ? "✔ verified" : ok === false ? "✘ FAILED" : "– not checked";
    return h("li", { class: ok === true ? "ok" : ok === false ? "failed" : "skipped" },
      h("span", { class: "mark" }, `${label}: ${mark}`), detail ? ` — ${detail}` : "");
  }

  function alarm(text) {
    const el = $("checkpoint-alarm");
    el.textContent = `Warning: ${text}`;
    el.hidden = false;
  }

  async function checkCheckpoint(mine, note) {
    while (!mine.key && st === mine) await new Promise((r) => setTimeout(r, 50));
    if (st !== mine) return;
    let cp;
    try {
      cp = parseNote(note);
    } catch (err) {
      alarm(`a checkpoint could not be read: ${err.message}`);
      const f = { title: "a checkpoint could not be read", text: `The ledger sent a checkpoint that is not a signed tree head: ${err.message}.` };
      mine.cpFailed = { title: f.title, count: (mine.cpFailed ? mine.cpFailed.count : 0) + 1 };
      takeover(mine, f);
      return;
    }
    $("cp-size").textContent = nf.format(cp.size);
    $("cp-root").textContent = cp.rootB64;
    $("cp-origin").textContent = cp.origin;
    const key = mine.key;
    const items = [];
    let good = true;
    let failure = null; // what the warning that takes over the page says
    const failing = (f) => { failure = failure || f; };

    // The signature, and that it is this election's log.
    if (key.error) {
      items.push(check(null, "Signature", `the key from /v1/key is ${key.error}`));
    } else {
      const wantOrigin = key.name; // the log key's name is the origin
      const sigOK = await verifyNote(cp, key);
      if (sigOK === null) {
        items.push(check(null, "Signature", key.missing));
      } else if (!sigOK) {
        good = false;
        items.push(check(false, "Signature", `no valid Ed25519 signature by ${key.name}`));
        failing({ title: "a checkpoint's signature does not verify",
          text: `The ledger sent a checkpoint of size ${nf.format(cp.size)} that has no valid Ed25519 signature by ${keyLabel(key.text)}, this log's key, derived from the key it serves at /v1/key.` });
      } else if (cp.origin !== wantOrigin) {
        good = false;
        items.push(check(false, "Signature", `signed, but for origin ${cp.origin}, not ${wantOrigin}`));
        failing({ title: "a checkpoint is of another log",
          text: `The ledger sent a checkpoint signed for origin ${cp.origin}, not for this election's log, ${wantOrigin}.` });
      } else {
        items.push(check(true, "Signature", `Ed25519, by this log's key ${key.name} (derived from the key at /v1/key), for origin ${cp.origin}`));
      }
    }

    // Consistency with the previous checkpoint this page saw.
    const prev = mine.prevCp;
    if (!prev) {
      items.push(check(null, "Consistency", "the first checkpoint this page has seen: nothing earlier to compare with"));
    } else if (cryptoMissing()) {
      items.push(check(null, "Consistency", cryptoMissing()));
    } else if (cp.size < prev.size) {
      good = false;
      items.push(check(false, "Consistency", `the log shrank from ${prev.size} to ${cp.size} entries`));
      failing({ title: "the log was rolled back", size: cp.size, shrankFrom: prev.size,
        text: `The ledger now signs a log of ${count(cp.size, "entry", "entries")}, fewer than the ${nf.format(prev.size)} of the checkpoint this page verified: ` +
          `entries it saw are gone. The log is append-only: a shorter one is another history.` });
    } else if (cp.size === prev.size) {
      const same = eq(cp.root, prev.root);
      good = good && same;
      items.push(check(same, "Consistency", same ? `same tree as before (size ${cp.size})` : `two different roots for size ${cp.size}`));
      if (!same) {
        failing({ title: "the log's history was rewritten (a fork)", size: cp.size,
          text: `For the same size, ${nf.format(cp.size)} entries, the ledger now signs root ${cp.rootB64}, not root ${prev.rootB64}, which this page verified: ` +
            "the same entries cannot hash to both, so the ledger signed two different histories." });
      }
    } else {
      try {
        const p = await getJSON(`/v1/elections/${enc(mine.election)}/proof/consistency?from=${prev.size}&to=${cp.size}`);
        const ok = await verifyConsistency(prev.size, cp.size, prev.root, cp.root, p.hashes.map(b64));
        good = good && ok;
        items.push(check(ok, "Consistency", ok
          ? `the tree of size ${nf.format(prev.size)} (the previous checkpoint seen) is a prefix of this one: proof of ${p.hashes.length} hashes recomputed with SHA-256`
          : `the proof from size ${prev.size} does not lead to this root: the history this page saw was changed`));
        if (!ok) {
          failing({ title: "the log's history was rewritten (a fork)", size: cp.size,
            text: `The ledger's proof that its log of ${nf.format(prev.size)} entries, which this page verified, is the start of its new log of ${nf.format(cp.size)} entries does not verify: ` +
              "entries this page saw were changed or removed." });
        }
      } catch (err) {
        items.push(check(null, "Consistency", `could not fetch the proof: ${err.message}`));
      }
    }
    if (st !== mine) return;
    if (!good) {
      $("cp-checks").replaceChildren(...items, ...entryItems(mine, { error: "the checkpoint failed a check, so its entries are not read" }));
      alarm(`the checkpoint of size ${cp.size} failed a check; the last good one stays the reference (size ${prev ? prev.size : "none"}).`);
      $("checkpoint-summary").textContent = `size ${nf.format(cp.size)}: FAILED a check`;
      const f = failure || { title: "a checkpoint failed a check", text: `The checkpoint of size ${nf.format(cp.size)} failed a check.` };
      mine.cpFailed = { size: cp.size, title: f.title, count: (mine.cpFailed ? mine.cpFailed.count : 0) + 1 };
      takeover(mine, f);
      // Show what the ledger serves now, marked unverified: the totals,
      // and the chart from its start.
      resetSeries(mine);
      refreshSoon(mine);
      return;
    }
    mine.prevCp = cp;
    mine.cpChecked++;
    if (!mine.cpFirst) mine.cpFirst = cp.size;
    renderHistory(mine);

    // The entries the checkpoint added: their submissions' signatures,
    // and their signers' roles.
    const o = mine.origins;
    $("cp-checks").replaceChildren(...items, h("li", { class: "skipped" },
      h("span", { class: "mark" }, "Entry signatures: checking…"),
      o.checkedTo < cp.size ? ` — entries ${nf.format(Math.max(o.checkedTo, cp.size - mine.checkMax))} to ${nf.format(cp.size - 1)}` : ""));
    summarize(cp, items);
    const win = await checkEntries(mine, cp);
    if (st !== mine) return;
    const all = [...items, ...entryItems(mine, win)];
    $("cp-checks").replaceChildren(...all);
    summarize(cp, all);
    if (o.failures.length) {
      const f = o.failures[0];
      alarm(`entry ${f.index} failed its ${f.kind === "sig" ? "signature" : "signer's role"} check: ${f.why}` +
        (o.failures.length > 1 ? ` (and ${o.failures.length - 1} more failures, listed below)` : ""));
      takeover(mine, { title: `entry ${nf.format(f.index)} failed its ${f.kind === "sig" ? "signature" : "signer's role"} check`,
        text: `Entry ${nf.format(f.index)}: ${f.why}` + (o.failures.length > 1 ? ` (and ${count(o.failures.length - 1, "more failure", "more failures")}, listed under “Latest signed checkpoint”).` : ".") +
          " The totals count entries whose origin this page could not confirm." });
    }
  }

  // renderHistory sums up the checkpoints checked since the page was
  // opened. Once a check failed it says so, and no longer that the log
  // stayed consistent: after a fork or a rollback the history the ledger
  // serves is not the one the page verified.
  function renderHistory(mine) {
    const n = mine.cpChecked, cf = mine.cpFailed, f = mine.failed;
    const sizes = n === 0 ? "" : mine.cpFirst === mine.prevCp.size ? `size ${nf.format(mine.cpFirst)}`
      : `sizes ${nf.format(mine.cpFirst)} to ${nf.format(mine.prevCp.size)}`;
    let text = "";
    if (cf) {
      const of = cf.size === undefined ? "" : ` of size ${nf.format(cf.size)}`;
      text = `Since this page was opened: ${n ? `${count(n, "checkpoint", "checkpoints")} verified, ${sizes}` : "no checkpoint verified"}; then ` +
        (cf.count > 1 ? `${count(cf.count, "checkpoint", "checkpoints")} FAILED a check, the latest${of}` : `the checkpoint${of} FAILED a check`) +
        `: ${cf.title}. Nothing the ledger served since is verified: every number on this page is unverified.`;
    } else if (f) {
      text = `Since this page was opened: ${count(n, "checkpoint", "checkpoints")} checked${n ? `, ${sizes}, each consistent with the one before` : ""}; ` +
        `but ${f.title}: every number on this page is unverified.`;
    } else if (n) {
      text = `Since this page was opened: ${count(n, "checkpoint", "checkpoints")} checked, ${sizes}, each consistent with the one before.`;
    }
    $("cp-history").textContent = text;
  }

  function summarize(cp, items) {
    $("checkpoint-summary").textContent = `size ${nf.format(cp.size)}: ` +
      items.map((li) => li.querySelector(".mark").textContent.toLowerCase()).join("; ");
  }

  // ---- Entries: signatures and roles --------------------------------------
  //
  // For the entries each checkpoint adds (at most the newest checkMax of
  // them), the page fetches each entry's signed submission and checks that
  // its bytes hash to the sha256 the entry names, that it holds the entry's
  // event byte for byte, and that its Ed25519 signature verifies with the
  // key the entry names; then that the signer may make the event: the
  // election's authority, or a reporter key registered before the entry,
  // not revoked, for the event's unit (docs/events.md, "Signers and
  // roles"). It learns the keys from the key.registered and key.revoked
  // entries it reads; a key registered before what it read it looks up in
  // the ledger's key list (/keys) and checks the entries the list names.

  const utf8 = new TextDecoder("utf-8", { fatal: true });
  const EVENT_MEMBER = new TextEncoder().encode(',"event":');
  const SHA_RE = /^[0-9a-f]{64}$/;

  // keyName is the name of a verifier key, the office: before the first "+".
  function keyName(vkey) {
    const k = String(vkey || "");
    const i = k.indexOf("+");
    return i < 0 ? k : k.slice(0, i);
  }

  // keyLabel is a key's name and key hash, as the ledger's reasons name it.
  function keyLabel(vkey) {
    const parts = String(vkey || "").split("+");
    return parts.length > 1 ? `${parts[0]}+${parts[1]}` : parts[0];
  }

  // checkMax is how many of the newest entries a checkpoint's check reads:
  // ?check=N (1 to CHECK_ENTRIES), or CHECK_ENTRIES.
  function checkMax() {
    const n = Number(new URL(location.href).searchParams.get("check"));
    return Number.isInteger(n) && n >= 1 && n <= CHECK_ENTRIES ? n : CHECK_ENTRIES;
  }

  function newOrigins() {
    return {
      checkedTo: 0,        // the entries before it were checked (or skipped)
      readFrom: 0,         // entries [readFrom, checkedTo) were all read, in order
      keys: new Map(),     // reporter key → { registered, revoked, units, listSize }
      keyList: null,       // the ledger's key list, when it was needed
      keyListError: "",
      subs: new Map(),     // submission sha256 → Promise of openSubmission's result
      retracted: new Map(),// retracted event ID → its unit
      checked: 0, skipped: 0, listed: 0,
      failures: [],        // { index, kind: "sig" or "role", why }: a failure stays shown
      last: null,          // the last window checked
    };
  }

  function indexOfBytes(hay, needle, from) {
    const first = needle[0];
    for (let i = hay.indexOf(first, from || 0); i >= 0 && i + needle.length <= hay.length; i = hay.indexOf(first, i + 1)) {
      let j = 1;
      while (j < needle.length && hay[i + j] === needle[j]) j++;
      if (j === needle.length) return i;
    }
    return -1;
  }

  // splitLines splits bytes at each "\n"; a last line without one counts.
  function splitLines(bytes) {
    const out = [];
    let start = 0;
    for (let i = bytes.indexOf(10); i >= 0; i = bytes.indexOf(10, start)) {
      out.push(bytes.subarray(start, i));
      start = i + 1;
    }
    if (start < bytes.length) out.push(bytes.subarray(start));
    return out;
  }

  async function getBytes(path) {
    const r = await fetch(path, { cache: "no-store" });
    if (r.status === 401) askToken();
    if (!r.ok) {
      const err = new Error(`HTTP ${r.status}`);
      err.status = r.status;
      throw err;
    }
    return new Uint8Array(await r.arrayBuffer());
  }

  const verifiers = new Map(); // verifier key → Promise of parseKey's answer
  function verifierFor(vkey) {
    let p = verifiers.get(vkey);
    if (!p) {
      if (verifiers.size >= 1000) verifiers.clear();
      p = parseKey(vkey);
      verifiers.set(vkey, p);
    }
    return p;
  }

  // openSubmission reads a signed submission (docs/events.md,
  // "Submission") and checks its signature by the key of its line 4: sig
  // is true or false, or null when this browser cannot check Ed25519.
  // problem is set when the bytes are not a submission of election.
  async function openSubmission(bytes, election) {
    const sub = { sha256: hex(await sha256(bytes)), problem: "", id: "", signer: "", events: [], sig: null, sigWhy: "" };
    try {
      const cut = indexOfBytes(bytes, [10, 10]);
      if (cut < 0) throw new Error("it is not a signed note: no blank line");
      const text = bytes.subarray(0, cut + 1); // the text ends with its last line's newline
      const lines = splitLines(text);
      if (lines.length < 5) throw new Error(`its text has ${lines.length} lines, not 4 and at least one event`);
      const head = lines.slice(0, 4).map((l) => utf8.decode(l));
      if (head[0] !== SUBMISSION_DOMAIN) throw new Error(`its first line is not ${SUBMISSION_DOMAIN}`);
      if (head[2] !== election) throw new Error(`it is of election ${head[2]}, not ${election}`);
      sub.id = head[1];
      sub.signer = head[3];
      sub.events = lines.slice(4);
      // Exactly one signature line: "— <name> <base64(key hash ‖ signature)>".
      const m = /^\u2014 (\S+) (\S+)\n$/.exec(utf8.decode(bytes.subarray(cut + 2)));
      if (!m) {
        sub.sig = false;
        sub.sigWhy = "its submission does not end with exactly one signature line";
        return sub;
      }
      let key;
      try {
        key = await verifierFor(sub.signer);
      } catch (err) {
        sub.sig = false;
        sub.sigWhy = `its submission's line 4 is not a usable key: ${err.message}`;
        return sub;
      }
      if (!key.crypto) {
        sub.sigWhy = key.missing;
        return sub;
      }
      let raw = null;
      try { raw = b64(m[2]); } catch (_) { /* not base64: raw stays null */ }
      if (m[1] !== key.name || !raw || raw.length !== 68 || hex(raw.subarray(0, 4)) !== key.hash) {
        sub.sig = false;
        sub.sigWhy = `its submission's signature line is not one by ${key.name}+${key.hash}, the key of its line 4`;
        return sub;
      }
      sub.sig = await crypto.subtle.verify({ name: "Ed25519" }, key.crypto, raw.subarray(4), text);
      if (!sub.sig) sub.sigWhy = `its submission's Ed25519 signature does not verify with ${key.name}+${key.hash}, the key of its line 4`;
    } catch (err) {
      sub.problem = err.message;
    }
    return sub;
  }

  // eventBytes returns the bytes of an entry's event, as they stand in the
  // entry: after "event": up to the entry's last "}" (the event is its
  // last member; quotes inside strings are escaped, so the first
  // ,"event": is the member's).
  function eventBytes(entryBytes) {
    const at = indexOfBytes(entryBytes, EVENT_MEMBER);
    if (at < 0 || entryBytes[entryBytes.length - 1] !== 0x7d) return null;
    return entryBytes.subarray(at + EVENT_MEMBER.length, entryBytes.length - 1);
  }

  // checkOrigin checks an entry (its bytes and parsed) against the opened
  // submission it names (docs/events.md, "Entry"): ok is true, false, or
  // null when this browser cannot check the signature; why says why not.
  function checkOrigin(entryBytes, en, sub) {
    const ref = en.submission;
    if (!ref || typeof ref.sha256 !== "string") return { ok: false, why: "it names no submission" };
    if (sub.sha256 !== ref.sha256) {
      return { ok: false, why: `the submission the ledger serves for it hashes to ${sub.sha256.slice(0, 12)}…, not to the sha256 it names (${ref.sha256.slice(0, 12)}…): its bytes were changed` };
    }
    if (sub.problem) return { ok: false, why: `its submission is not readable: ${sub.problem}` };
    if (sub.id !== ref.id) return { ok: false, why: `it names submission ${ref.id}, but the submission's ID is ${sub.id}` };
    const event = eventBytes(entryBytes);
    if (!event) return { ok: false, why: "its event is not where an entry has it" };
    if (!Number.isInteger(ref.item) || ref.item < 0 || ref.item >= sub.events.length) {
      return { ok: false, why: `it is item ${ref.item} of a submission of ${sub.events.length} events` };
    }
    if (!eq(event, sub.events[ref.item])) return { ok: false, why: `its event is not line ${5 + ref.item} of its submission, byte for byte` };
    if (!ref.signer) {
      // Absent exactly when the signature does not verify: then rejected.
      if (en.verdict !== "rejected" || !String(en.reason || "").startsWith("bad signature:")) {
        return { ok: false, why: `it names no signer, yet is ${en.verdict === "rejected" ? "rejected for another reason than a bad signature" : en.verdict}` };
      }
      if (sub.sig === true) return { ok: false, why: "it is rejected for a bad signature, but its submission's signature verifies with the key of its line 4" };
      return { ok: true, why: "" };
    }
    if (ref.signer !== sub.signer) return { ok: false, why: `it names signer ${keyLabel(ref.signer)}, but its submission's line 4 is ${keyLabel(sub.signer)}` };
    if (sub.sig === null) return { ok: null, why: sub.sigWhy };
    if (!sub.sig) return { ok: false, why: sub.sigWhy };
    return { ok: true, why: "" };
  }

  // subFor fetches and opens a submission once; the promise is kept.
  function subFor(mine, sha) {
    const o = mine.origins;
    let p = o.subs.get(sha);
    if (!p) {
      p = (async () => {
        try {
          const bytes = await getBytes(`/v1/elections/${enc(mine.election)}/submissions/${sha}`);
          return await openSubmission(bytes, mine.election);
        } catch (err) {
          return { fetchError: err.message, status: err.status };
        }
      })();
      o.subs.set(sha, p);
    }
    return p;
  }

  // originOf checks an entry's origin, fetching its submission.
  async function originOf(mine, bytes, en) {
    const sha = en.submission && en.submission.sha256;
    if (!SHA_RE.test(String(sha))) return { ok: false, why: `it names a submission sha256 that is not 64 lower-case hex digits: ${String(sha).slice(0, 70)}` };
    const sub = await subFor(mine, sha);
    if (sub.fetchError) {
      mine.origins.subs.delete(sha); // asked again next time
      return sub.status === 404
        ? { ok: false, why: `the ledger does not serve the submission it names (${sha.slice(0, 12)}…: HTTP 404)` }
        : { ok: null, why: `its submission could not be fetched: ${sub.fetchError}` };
    }
    return checkOrigin(bytes, en, sub);
  }

  async function fetchEntries(mine, start, end) {
    const out = [];
    for (let i = start; i < end;) {
      const lines = splitLines(await getBytes(`/v1/elections/${enc(mine.election)}/entries?start=${i}&limit=${Math.min(1000, end - i)}`));
      if (lines.length === 0) throw new Error(`the ledger served no entry at ${i}`);
      for (const bytes of lines) {
        if (i >= end) break;
        out.push({ index: i++, bytes });
      }
    }
    return out;
  }

  // learn folds a key registration or revocation in.
  function learn(mine, index, en) {
    const ev = en.event || {}, data = ev.data || {};
    if (en.verdict !== "accepted" || typeof data.key !== "string") return;
    const keys = mine.origins.keys;
    if (ev.type === "key.registered" && !keys.has(data.key)) {
      keys.set(data.key, { registered: index, revoked: null, units: Array.isArray(data.units) ? data.units : [] });
    } else if (ev.type === "key.revoked") {
      const k = keys.get(data.key) || { registered: null, revoked: null, units: [] };
      if (k.revoked === null) k.revoked = index;
      keys.set(data.key, k);
    }
  }

  // checkRole decides whether an accepted entry's signer may make its
  // event: null for an entry the ledger did not accept from a signer.
  async function checkRole(mine, index, en) {
    const o = mine.origins;
    const signer = en.submission && en.submission.signer;
    const ev = en.event || {}, data = ev.data || {};
    if (en.verdict !== "accepted" || !signer) return null;
    if (index === 0) {
      return signer === data.authority ? { ok: true }
        : { ok: false, why: `the manifest is signed by ${keyLabel(signer)}, not by the authority it names (${keyLabel(data.authority)})` };
    }
    const auth = mine.authority;
    if (!auth) return { ok: null, why: "the manifest (entry 0) could not be read, so the election's authority is not known" };
    if (signer === auth) return { ok: true };
    if (!COUNT_TYPES.includes(ev.type)) {
      return { ok: false, why: `it is a ${ev.type} signed by ${keyLabel(signer)}: only the election's authority (${keyLabel(auth)}) may make one` };
    }
    let k = o.keys.get(signer);
    // What the page knows of the key covers the entry if it knows every
    // entry from the key's registration to this one, where a revocation
    // would be: it read those from readFrom on, and the key list, when
    // asked, told it of those before listSize. Otherwise it asks the list.
    if (!k || k.registered === null || Math.max(k.registered + 1, k.listSize || 0) < o.readFrom) {
      const r = await fromList(mine, signer, index);
      if (r.ok !== true) return r;
      k = r.k;
    }
    if (k.registered >= index) return { ok: false, why: `it is signed by ${keyLabel(signer)}, which entry ${k.registered}, after it, registered` };
    if (k.revoked !== null && k.revoked < index) return { ok: false, why: `it is signed by ${keyLabel(signer)}, which entry ${k.revoked} revoked` };
    let unit = data.unit;
    if (ev.type === "count.retracted") {
      unit = await unitOf(mine, data.retracts);
      if (!unit) return { ok: null, why: `the unit of the report it retracts (${data.retracts}) could not be read` };
    }
    for (let u = unit, hops = 0; u && hops <= mine.parents.size; u = mine.parents.get(u), hops++) {
      if (k.units.includes(u)) return { ok: true };
    }
    return { ok: false, why: `it is signed by ${keyLabel(signer)}, whose scope is ${k.units.join(", ") || "empty"} and the units below, for unit ${unit}` };
  }

  // fromList learns a key from the ledger's key list
  // (/v1/elections/{e}/keys), which must cover entry index, and checks the
  // entries the list names for it.
  async function fromList(mine, signer, index) {
    const o = mine.origins;
    if (!o.keyList || o.keyList.tree_size <= index) {
      if (o.keyListError) return { ok: null, why: o.keyListError };
      try {
        const l = await getJSON(`/v1/elections/${enc(mine.election)}/keys`);
        o.keyList = { tree_size: l.tree_size, byKey: new Map((l.keys || []).map((k) => [k.key, k])) };
      } catch (err) {
        o.keyListError = `signed by a key registered before the entries this page read, and the ledger's key list could not be read (${err.message})`;
        return { ok: null, why: o.keyListError };
      }
      if (o.keyList.tree_size <= index) return { ok: null, why: `the ledger's key list stops at size ${o.keyList.tree_size}, before entry ${index}` };
    }
    const listed = o.keyList.byKey.get(signer);
    let k = o.keys.get(signer);
    if (!listed) {
      return { ok: false, why: k && k.registered !== null
        ? `the ledger's key list (size ${o.keyList.tree_size}) leaves out ${keyLabel(signer)}, which entry ${k.registered} registered`
        : `it is signed by ${keyLabel(signer)}, which no accepted key.registered entry registered (the ledger's key list at size ${o.keyList.tree_size} does not have it)` };
    }
    if (!k) {
      k = { registered: null, revoked: null, units: [] };
      o.keys.set(signer, k);
    }
    if (k.registered === null) {
      const r = await confirmKeyEntry(mine, listed.registered, "key.registered", signer);
      if (r.ok !== true) return r;
      k.registered = listed.registered;
      k.units = r.units;
      o.listed++;
    } else if (k.registered !== listed.registered) {
      return { ok: false, why: `the ledger's key list says entry ${listed.registered} registered ${keyLabel(signer)}, but entry ${k.registered} did` };
    }
    if (listed.revoked !== undefined && listed.revoked !== null && k.revoked === null) {
      const r = await confirmKeyEntry(mine, listed.revoked, "key.revoked", signer);
      if (r.ok !== true) return r;
      k.revoked = listed.revoked;
    }
    k.listSize = o.keyList.tree_size;
    return { ok: true, k };
  }

  // confirmKeyEntry checks that entry index is the accepted key event the
  // key list says, signed by the authority: its own bytes and submission.
  async function confirmKeyEntry(mine, index, type, key) {
    const what = `entry ${index}, which the ledger's key list names as the ${type === "key.registered" ? "registration" : "revocation"} of ${keyLabel(key)}`;
    let bytes, en;
    try {
      bytes = await getBytes(`/v1/elections/${enc(mine.election)}/entries/${index}`);
      en = JSON.parse(utf8.decode(bytes));
    } catch (err) {
      return { ok: null, why: `${what}, could not be read: ${err.message}` };
    }
    const ev = en.event || {}, data = ev.data || {};
    if (en.index !== index || en.verdict !== "accepted" || ev.type !== type || data.key !== key) {
      return { ok: false, why: `${what}, is entry ${en.index}, ${en.verdict}, a ${ev.type}${typeof data.key === "string" ? ` of ${keyLabel(data.key)}` : ""}` };
    }
    if (!en.submission || en.submission.signer !== mine.authority) return { ok: false, why: `${what}, is not signed by the election's authority` };
    const r = await originOf(mine, bytes, en);
    if (r.ok !== true) return { ok: r.ok, why: `${what}: ${r.why}` };
    return { ok: true, units: Array.isArray(data.units) ? data.units : [] };
  }

  // unitOf returns the unit of a logged report, by its event ID.
  async function unitOf(mine, id) {
    const o = mine.origins;
    if (o.retracted.has(id)) return o.retracted.get(id);
    try {
      const r = await getJSON(`/v1/events/${enc(id)}`);
      const u = r.election === mine.election && r.entry && r.entry.event && r.entry.event.data && r.entry.event.data.unit;
      if (!u) return "";
      if (o.retracted.size >= 1000) o.retracted.clear();
      o.retracted.set(id, u);
      return u;
    } catch (_) {
      return "";
    }
  }

  // checkEntries checks the entries the checkpoint added since the last
  // one checked (the newest checkMax of them) and returns what it found.
  async function checkEntries(mine, cp) {
    const o = mine.origins;
    const end = cp.size;
    if (cryptoMissing()) return { error: cryptoMissing() };
    if (end <= o.checkedTo) return o.last || { error: "no entries to check yet" }; // nothing new: as before
    const start = Math.max(o.checkedTo, end - mine.checkMax);
    const win = { start, end, skipped: start - o.checkedTo, skippedFrom: o.checkedTo,
      checked: 0, unsigned: 0, roles: 0, sigSkip: [], roleSkip: [], signers: new Map(), subs: new Set() };
    let entries;
    try {
      entries = await fetchEntries(mine, start, end);
    } catch (err) {
      return { error: `the entries could not be read: ${err.message}` };
    }
    if (st !== mine) return win;
    if (start !== o.checkedTo) o.readFrom = start;
    o.keyListError = "";
    const fail = (index, kind, why) => { if (o.failures.length < 10000) o.failures.push({ index, kind, why }); };
    // Each entry's submission, fetched a few ahead of the entry checked.
    const shas = [];
    for (const e of entries) {
      try {
        e.en = JSON.parse(utf8.decode(e.bytes));
      } catch (err) {
        e.problem = `it is not JSON: ${err.message}`;
        continue;
      }
      const sha = e.en.submission && e.en.submission.sha256;
      if (SHA_RE.test(String(sha)) && shas[shas.length - 1] !== sha) shas.push(sha);
      e.at = shas.length - 1;
    }
    let ahead = 0;
    for (const e of entries) {
      if (st !== mine) return win;
      for (; ahead < shas.length && ahead <= e.at + FETCH_AHEAD; ahead++) subFor(mine, shas[ahead]);
      if (e.problem) {
        fail(e.index, "sig", e.problem);
        continue;
      }
      const en = e.en;
      if (en.index !== e.index) {
        fail(e.index, "sig", `the ledger served entry ${en.index} for entry ${e.index}`);
        continue;
      }
      win.checked++;
      const origin = await originOf(mine, e.bytes, en);
      if (origin.ok === false) fail(e.index, "sig", origin.why);
      else if (origin.ok === null) win.sigSkip.push({ index: e.index, why: origin.why });
      if (en.submission && SHA_RE.test(String(en.submission.sha256))) win.subs.add(en.submission.sha256);
      const signer = en.submission && en.submission.signer;
      if (!signer) win.unsigned++;
      else win.signers.set(keyName(signer), (win.signers.get(keyName(signer)) || 0) + 1);
      const role = await checkRole(mine, e.index, en);
      if (role) {
        win.roles++;
        if (role.ok === false) fail(e.index, "role", role.why);
        else if (role.ok === null) win.roleSkip.push({ index: e.index, why: role.why });
      }
      learn(mine, e.index, en);
    }
    o.checkedTo = end;
    o.checked += win.checked;
    o.skipped += win.skipped;
    while (o.subs.size > KEEP_SUBMISSIONS) o.subs.delete(o.subs.keys().next().value);
    o.last = win;
    return win;
  }


  // listFailures names the failed entries, grouped by what failed.
  function listFailures(fails) {
    const groups = new Map();
    for (const f of fails) {
      if (!groups.has(f.why)) groups.set(f.why, []);
      groups.get(f.why).push(f.index);
    }
    const text = [...groups].slice(0, 3).map(([why, idx]) => (idx.length === 1 ? `entry ${nf.format(idx[0])}` :
      `entries ${idx.slice(0, 10).map((i) => nf.format(i)).join(", ")}${idx.length > 10 ? ` and ${nf.format(idx.length - 10)} more` : ""}`) + `: ${why}`);
    return text.join("; ") + (groups.size > 3 ? `; and ${count(fails.length - [...groups.values()].slice(0, 3).reduce((n, g) => n + g.length, 0), "other failure", "other failures")}` : "");
  }

  // entryItems are the check items of the entries' signatures and roles.
  // A failure stays shown for as long as the page is open.
  function entryItems(mine, win) {
    const o = mine.origins;
    const sigFails = o.failures.filter((f) => f.kind === "sig");
    const roleFails = o.failures.filter((f) => f.kind === "role");
    if (win.error) {
      return [sigFails.length ? check(false, "Entry signatures", listFailures(sigFails)) : check(null, "Entry signatures", win.error),
        roleFails.length ? check(false, "Signer roles", listFailures(roleFails)) : check(null, "Signer roles", win.error)];
    }
    const range = win.end - win.start === 1 ? `entry ${nf.format(win.start)}` : `entries ${nf.format(win.start)} to ${nf.format(win.end - 1)}`;
    const skip = win.skipped > 0
      ? ` ${count(win.skipped, "older entry", "older entries")} (${nf.format(win.skippedFrom)} to ${nf.format(win.start - 1)}) ` +
        `${win.skipped === 1 ? "was" : "were"} not checked: at most the newest ${nf.format(mine.checkMax)} are, per checkpoint.`
      : "";
    const total = ` Since this page was opened: ${count(o.checked, "entry", "entries")} checked, ${o.skipped ? nf.format(o.skipped) : "none"} skipped.`;
    const items = [];
    if (sigFails.length) {
      items.push(check(false, "Entry signatures", listFailures(sigFails)));
    } else if (win.sigSkip.length) {
      items.push(check(null, "Entry signatures", `${win.sigSkip[0].why} (${win.sigSkip.length} of ${count(win.checked, "entry", "entries")}).${skip}${total}`));
    } else {
      items.push(check(true, "Entry signatures", `${range} (${count(win.subs.size, "submission", "submissions")}): ` +
        `each entry's submission hashes to the sha256 the entry names, holds its event byte for byte, and is signed (Ed25519) by the key the entry names` +
        (win.unsigned ? `; the ${count(win.unsigned, "entry", "entries")} naming no signer ${win.unsigned === 1 ? "is" : "are"} rejected for a bad signature` : "") +
        `.${skip}${total}`));
    }
    const signers = [...win.signers].map(([name, n]) => `${name} ${nf.format(n)}`).join(", ");
    const listed = o.listed
      ? ` ${count(o.listed, "key", "keys")} registered before the entries read ${o.listed === 1 ? "was" : "were"} looked up in the ledger's key list, and ${o.listed === 1 ? "its registration entry" : "their registration entries"} checked.`
      : "";
    if (roleFails.length) {
      items.push(check(false, "Signer roles", listFailures(roleFails)));
    } else if (win.roleSkip.length) {
      const f = win.roleSkip[0];
      items.push(check(null, "Signer roles", `role not checked for ${win.roleSkip.length} of ${count(win.roles, "accepted entry", "accepted entries")} ` +
        `(entry ${nf.format(f.index)}: ${f.why}); checked for the other ${nf.format(win.roles - win.roleSkip.length)}.${listed}`));
    } else {
      items.push(check(true, "Signer roles", `${range}: each accepted entry is signed by the election's authority` +
        `${mine.authority ? ` (${keyName(mine.authority)})` : ""}, or by a reporter key registered before it by an accepted key.registered entry, not revoked, for its unit` +
        (signers ? ` (signers: ${signers})` : "") + `.${listed}`));
    }
    return items;
  }

  // Exposed for the browser test and for anyone checking by hand.
  window.ledgerDashboard = { verifyConsistency, parseNote, parseKey, logKey, verifyNote, b64, openSubmission, checkOrigin, eventBytes, keyName };

  // ---- Start -------------------------------------------------------------

  async function start() {
    $("election").addEventListener("change", (e) => pick(e.target.value, true));
    $("picker").addEventListener("submit", (e) => { e.preventDefault(); pick($("election").value, true); });
    // The links to known elections (shown for an unknown one) switch in place.
    $("contests").addEventListener("click", (e) => {
      const a = e.target.closest && e.target.closest("a[data-election]");
      if (!a) return;
      e.preventDefault();
      pick(a.dataset.election, true);
    });
    window.addEventListener("popstate", () => {
      const e = new URL(location.href).searchParams.get("election");
      if (e) open(e);
    });
    setInterval(() => { if (!askedToken) loadElections(); }, ELECTIONS_MS);
    let election = new URL(location.href).searchParams.get("election");
    for (let wait = WAIT_FIRST_MS; !election; wait = Math.min(WAIT_MAX_MS, wait * 2)) {
      const list = await loadElections();
      if (askedToken) return; // the page waits for the token
      if (list && list.length) { election = list[0].id; break; }
      $("contests").replaceChildren(h("p", { class: "notice" }, `No election in the ledger yet: looking again in ${Math.round(wait / 1000)} s.`));
      await new Promise((r) => setTimeout(r, wait));
    }
    pick(election, false);
  }

  start();
})();
