// The ledger's dashboard: live totals, a corrections feed, a share chart
// and the latest signed checkpoint, checked in the browser. It reads only
// the ledger's HTTP API (docs/api.md, docs/dashboard.md) on this origin.
"use strict";

(() => {
  const SVG = "http://www.w3.org/2000/svg"; // a namespace name, not a URL that is fetched
  const ENTRY_TYPES = ["election.defined", "count.reported", "count.corrected", "count.retracted",
    "election.certified", "recount.ordered"];
  const CORRECTION_TYPES = ["count.corrected", "count.retracted"];
  const COUNT_TYPES = ["count.reported", "count.corrected", "count.retracted"];
  const CHECK_ENTRIES = 1000;   // at most this many entries' signatures are checked per checkpoint, the newest
  const FETCH_AHEAD = 6;        // submissions fetched at once while checking entries
  const KEEP_SUBMISSIONS = 64;  // opened submissions kept between checkpoints
  const SUBMISSION_DOMAIN = "election-audit/ledger/submission/v1";
  const REFRESH_MS = 300;       // at most one totals refresh per this long
  const WAIT_MS = 1000;         // retry period while the election is not there yet
  const ELECTIONS_MS = 10000;   // how often the election list is refreshed
  const SERIES_POINTS = 40;     // points asked for at each series request
  const MAX_POINTS = 600;       // the chart thins its points past this many
  const CHART_LINES = 4;        // choices drawn on the chart, by votes
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

  async function getJSON(path) {
    const r = await fetch(path, { headers: { Accept: "application/json" }, cache: "no-store" });
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
    if (!r.ok) throw new Error(`${path}: HTTP ${r.status}`);
    return r.text();
  }

  function when(iso) {
    if (!iso) return "–";
    const d = new Date(iso);
    if (isNaN(d)) return iso;
    return d.toISOString().replace("T", " ").replace(/\.\d+Z$/, "Z").replace("Z", " UTC");
  }

  const enc = (p) => encodeURIComponent(p);

  // ---- State -------------------------------------------------------------

  let gen = 0; // bumped when the election changes; stale work checks it
  let st = null;

  function fresh(election) {
    return {
      election, gen: ++gen,
      tally: null, points: [], contests: new Map(),
      streams: [], timers: [],
      refreshing: false, pending: false, lastRefresh: 0,
      corrections: new Map(), units: new Map(), parents: new Map(), authority: "",
      key: null, prevCp: null, cpNext: null, cpBusy: false, cpChecked: 0, cpFirst: null,
      origins: newOrigins(), checkMax: checkMax(),
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

  async function loadElections() {
    try {
      const { elections } = await getJSON("/v1/elections");
      const sel = $("election");
      const want = st ? st.election : "";
      const ids = elections.map((e) => e.id);
      if (want && !ids.includes(want)) ids.unshift(want);
      const have = [...sel.options].map((o) => o.value);
      if (have.join("\n") !== ids.join("\n")) {
        sel.replaceChildren(...ids.map((id) => {
          const e = elections.find((x) => x.id === id);
          return h("option", { value: id }, e ? `${e.name} (${id})` : `${id} (not in the ledger yet)`);
        }));
      }
      sel.value = want;
      return elections;
    } catch (err) {
      setConnection(`cannot list elections: ${err.message}`);
      return [];
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
    resetCheckpoint();
    document.title = `${election}: live count`;
    await loadElections();
    if (st !== mine) return;
    await first(mine);
  }

  // first loads the tally, the chart's series and the key, then opens the
  // change streams; while the election is not in the ledger it retries.
  async function first(mine) {
    let tally;
    try {
      tally = await getJSON(`/v1/elections/${enc(mine.election)}/tally`);
    } catch (err) {
      if (st !== mine) return;
      if (err.status === 404) {
        $("contests").replaceChildren(h("p", { class: "notice" },
          `Waiting for election ${mine.election} to be defined in the ledger (retrying every second).`));
        setConnection("waiting for the election");
      } else {
        setConnection(`cannot read the tally: ${err.message}; retrying`);
      }
      later(() => first(mine), WAIT_MS);
      return;
    }
    if (st !== mine) return;
    $("contests").replaceChildren();
    render(tally);
    loadKey(mine);
    await loadUnits(mine);
    await loadSeries(mine);
    if (st !== mine) return;
    follow(mine, tally.entries);
    followCorrections(mine);
  }

  // loadUnits reads the manifest, entry 0: the reporting units' names
  // and parents, and the election's authority, whose key signs the
  // manifest and registers the reporter keys.
  async function loadUnits(mine) {
    try {
      const entry = await getJSON(`/v1/elections/${enc(mine.election)}/entries/0`);
      const data = (entry.event && entry.event.data) || {};
      for (const u of data.units || []) {
        mine.units.set(u.id, u.name || u.id);
        if (u.parent) mine.parents.set(u.id, u.parent);
      }
      mine.authority = typeof data.authority === "string" ? data.authority : "";
    } catch (err) {
      console.warn("no manifest:", err.message); // the IDs are shown instead, and roles are not checked
    }
  }

  // ---- Change streams ----------------------------------------------------

  function follow(mine, from) {
    const es = new EventSource(`/v1/elections/${enc(mine.election)}/changes?from=${from}`);
    mine.streams.push(es);
    es.onopen = () => setConnection("connected: totals follow the log");
    for (const t of ENTRY_TYPES) es.addEventListener(t, () => refreshSoon(mine));
    es.addEventListener("checkpoint", (e) => {
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
        setConnection("disconnected; reconnecting in 5 s");
        mine.streams = mine.streams.filter((x) => x !== es);
        later(() => follow(mine, mine.tally ? mine.tally.entries : from), 5000);
      } else setConnection("reconnecting…");
    });
  }

  function followCorrections(mine) {
    const es = new EventSource(`/v1/elections/${enc(mine.election)}/changes?types=${CORRECTION_TYPES.join(",")}`);
    mine.streams.push(es);
    for (const t of CORRECTION_TYPES) {
      es.addEventListener(t, (e) => addCorrection(mine, JSON.parse(e.data)));
    }
    es.addEventListener("error", () => {
      if (es.readyState === EventSource.CLOSED) {
        mine.streams = mine.streams.filter((x) => x !== es);
        later(() => followCorrections(mine), 5000);
      }
    });
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
    $("election-status").textContent = statusText(tally.status);
    $("election-entries").textContent = nf.format(tally.entries);
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
    for (const [id, v] of st.contests) {
      if (!keep.has(id)) { v.root.remove(); st.contests.delete(id); }
    }
  }

  function contestView(c) {
    const id = `contest-${c.id}`;
    const v = {};
    v.turnout = c.kind === "turnout";
    v.progressText = h("span", { id: `${id}-progress` });
    v.progress = h("progress", { max: 1, value: 0, "aria-labelledby": `${id}-progress` });
    v.status = h("p", { class: "status-line" });
    v.caption = h("caption", {});
    v.tbody = h("tbody", {});
    const head = v.turnout
      ? h("tr", {}, h("th", { scope: "col" }, "Measure"), h("th", { scope: "col", class: "num" }, "Count"))
      : h("tr", {}, h("th", { scope: "col", class: "num" }, "#"), h("th", { scope: "col" }, "Choice"),
        h("th", { scope: "col", class: "num" }, "Votes"), h("th", { scope: "col", class: "num" }, "Share"));
    v.table = h("table", { class: "totals" }, v.caption, h("thead", {}, head), v.tbody);
    v.root = h("section", { class: "contest", id, "aria-labelledby": `${id}-h` },
      h("h2", { id: `${id}-h` }, c.name + (v.turnout ? " (turnout)" : "")),
      h("div", { class: "reporting" }, v.progressText, v.progress),
      v.status, v.table);
    if (!v.turnout) {
      v.chartBox = h("div", { class: "chart-box" });
      v.chartCaption = h("figcaption", { id: `${id}-chart-caption` });
      v.chartTable = h("div", { class: "table-wrap" });
      v.root.append(h("figure", { class: "chart", "aria-labelledby": `${id}-chart-caption` },
        v.chartBox, v.chartCaption,
        h("details", {}, h("summary", {}, "The chart's data as a table"), v.chartTable)));
    }
    return v;
  }

  function ranked(c) {
    return c.choices.map((ch, i) => ({ ...ch, order: i }))
      .sort((a, b) => b.votes - a.votes || a.order - b.order);
  }

  function updateContest(v, c, tally) {
    v.contest = c;
    const pct = c.units_total > 0 ? Math.round((100 * c.units_reported) / c.units_total) : 0;
    v.progressText.textContent = `Units reported: ${nf.format(c.units_reported)} of ${nf.format(c.units_total)} (${pct}%)`;
    v.progress.max = Math.max(1, c.units_total);
    v.progress.value = c.units_reported;

    const state = c.units_total > 0 && c.units_reported >= c.units_total ? "all units reported" : "partial";
    const parts = [h("strong", {}, "Status: "), `${statusText(tally.status)}; ${state}.`];
    if (v.turnout) {
      v.status.replaceChildren(...parts);
      v.caption.textContent = "Turnout";
      v.tbody.replaceChildren(...c.choices.map((ch) =>
        h("tr", {}, h("th", { scope: "row" }, ch.name), h("td", { class: "num" }, nf.format(ch.votes)))));
      return;
    }
    const rows = ranked(c);
    const lead = rows[0];
    if (c.total_votes > 0 && lead && (rows.length < 2 || lead.votes > rows[1].votes)) {
      const majority = 2 * lead.votes > c.total_votes;
      parts.push(" Leading: ", h("strong", { class: "leader-name" }, lead.name), ` with ${lead.share}%: `,
        majority ? "more than half of the votes (above the 50% line)." : "not more than half of the votes (below the 50% line).");
    } else if (c.total_votes > 0) {
      parts.push(" Tied for the lead.");
    } else {
      parts.push(" No votes counted yet.");
    }
    v.status.replaceChildren(...parts);
    v.caption.replaceChildren("Total votes: ", h("span", { class: "total-votes" }, nf.format(c.total_votes)));
    v.tbody.replaceChildren(...rows.map((ch, i) => {
      const leader = i === 0 && c.total_votes > 0 && (rows.length < 2 || ch.votes > rows[1].votes);
      const bar = h("span", { class: "sharebar", "aria-hidden": "true" }, h("span", {}));
      bar.firstChild.style.width = `${Math.min(100, parseFloat(ch.share) || 0)}%`;
      return h("tr", { class: leader ? "leader" : null },
        h("td", { class: "num" }, i + 1),
        h("th", { scope: "row" }, ch.name, ch.party ? h("span", { class: "party" }, ` (${ch.party})`) : null,
          leader ? h("span", { class: "tag" }, "leading") : null),
        h("td", { class: "num" }, nf.format(ch.votes)),
        h("td", { class: "num" }, `${ch.share}%`, bar));
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
    const last = mine.points.length ? mine.points[mine.points.length - 1].tree_size : 0;
    for (const p of res.points) if (p.tree_size > last) mine.points.push(p);
    while (mine.points.length > MAX_POINTS) {
      // Keep the first and the last; drop every other one in between.
      mine.points = mine.points.filter((p, i, a) => i === 0 || i === a.length - 1 || i % 2 === 0);
    }
    const lp = mine.points[mine.points.length - 1];
    if (lp) $("election-recorded").textContent = `${when(lp.last_recorded)} (entry ${nf.format(lp.tree_size - 1)})`;
    for (const v of mine.contests.values()) if (!v.turnout) drawChart(v, mine.points);
  }

  // crossings returns where a choice's share crossed the 50% line over
  // the points: the first point at which it had more than half of the
  // votes after one at which it had not, or the reverse. Only the choices
  // in ids are followed.
  function crossings(points, contestID, ids) {
    const out = [];
    const prev = new Map();
    for (const p of points) {
      const c = p.contests.find((x) => x.id === contestID);
      if (!c || c.total_votes <= 0) continue;
      for (const ch of c.choices) {
        if (!ids.includes(ch.id)) continue;
        const over = 2 * ch.votes > c.total_votes;
        if (prev.has(ch.id) && prev.get(ch.id) !== over) out.push({ size: p.tree_size, up: over, choice: ch.id });
        prev.set(ch.id, over);
      }
    }
    return out;
  }

  function niceStep(span, n) {
    const raw = span / n;
    const mag = Math.pow(10, Math.floor(Math.log10(raw)));
    for (const m of [1, 2, 5, 10]) if (raw <= m * mag) return m * mag;
    return 10 * mag;
  }

  function drawChart(v, points) {
    const c = v.contest;
    const data = points.map((p) => ({ size: p.tree_size, at: p.last_recorded, c: p.contests.find((x) => x.id === c.id) }))
      .filter((p) => p.c && p.c.total_votes > 0);
    const names = new Map(c.choices.map((ch) => [ch.id, ch.name]));
    const shown = ranked(c).slice(0, CHART_LINES).map((ch) => ch.id);
    const cross = crossings(points, c.id, shown);
    const width = Math.max(300, Math.round(v.chartBox.clientWidth || 600));
    const narrow = width < 520;
    // Wide: each line is named at its end. Narrow: in a key under the
    // chart, so that the plot keeps the width.
    const keyRows = narrow ? shown.length : 0;
    const m = { l: 40, r: narrow ? 12 : 150, t: 12, b: 38 + (keyRows ? 10 + 18 * keyRows : 0) };
    const height = (narrow ? 220 : 300) + (m.b - 38);
    const pw = width - m.l - m.r, ph = height - m.t - m.b;

    const svg = s("svg", { viewBox: `0 0 ${width} ${height}`, width, height, role: "img",
      "aria-labelledby": `${v.root.id}-svg-title ${v.root.id}-svg-desc` });
    svg.append(s("title", { id: `${v.root.id}-svg-title` }, `Share of the votes over the log: ${c.name}`));
    const desc = s("desc", { id: `${v.root.id}-svg-desc` });
    svg.append(desc);

    if (data.length === 0) {
      svg.append(s("text", { x: m.l, y: m.t + 20 }, "No votes counted yet."));
      desc.textContent = "No votes counted yet.";
      v.chartBox.replaceChildren(svg);
      v.chartCaption.textContent = "Each choice's share of the votes, by log size: waiting for the first votes.";
      v.chartTable.replaceChildren();
      return;
    }
    const x0 = Math.max(1, data[0].size - 1), x1 = Math.max(x0 + 1, data[data.length - 1].size);
    let ymax = 60;
    for (const p of data) for (const ch of p.c.choices) {
      if (shown.includes(ch.id)) ymax = Math.max(ymax, Math.ceil((parseFloat(ch.share) + 5) / 10) * 10);
    }
    ymax = Math.min(100, ymax);
    const X = (n) => m.l + ((n - x0) / (x1 - x0)) * pw;
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
    const step = niceStep(x1 - x0, narrow ? 4 : 7);
    for (let n = Math.ceil(x0 / step) * step; n <= x1; n += step) {
      svg.append(s("line", { class: "axis", x1: X(n), x2: X(n), y1: m.t + ph, y2: m.t + ph + 4 }));
      svg.append(s("text", { x: X(n), y: m.t + ph + 16, "text-anchor": "middle" }, nf.format(n)));
    }
    svg.append(s("line", { class: "axis", x1: m.l, x2: m.l + pw, y1: m.t + ph, y2: m.t + ph }));
    svg.append(s("line", { class: "axis", x1: m.l, x2: m.l, y1: m.t, y2: m.t + ph }));
    svg.append(s("text", { x: m.l + pw / 2, y: m.t + ph + 32, "text-anchor": "middle" }, "log size (entries)"));

    // One line per choice, each with its own dash pattern and a label at
    // its end naming it: nothing depends on telling colours apart.
    const labels = [];
    shown.forEach((id, k) => {
      const pts = data.map((p) => {
        const ch = p.c.choices.find((x) => x.id === id);
        return [X(p.size), Y(ch ? parseFloat(ch.share) : 0), ch];
      });
      const d = pts.map(([x, y], i) => `${i ? "L" : "M"}${x.toFixed(1)},${y.toFixed(1)}`).join(" ");
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
      svg.append(s("line", { class: "series", x1: lx, x2: lx + 18, y1: lb.y - 4, y2: lb.y - 4,
        "stroke-dasharray": DASHES[lb.k % DASHES.length] }));
      svg.append(s("text", { class: "halo", x: lx + 22, y: lb.y }, lb.text));
    }
    for (const cr of cross) {
      const p = data.find((q) => q.size === cr.size);
      const ch = p && p.c.choices.find((x) => x.id === cr.choice);
      if (!ch) continue;
      svg.append(s("circle", { class: "crossing", cx: X(cr.size), cy: Y(parseFloat(ch.share)), r: 5 },
        s("title", {}, `${names.get(cr.choice)} ${cr.up ? "rises above" : "falls below"} 50% at log size ${cr.size}`)));
    }

    const last = data[data.length - 1];
    const crossText = cross.length === 0
      ? "No share shown has crossed the 50% line."
      : `The 50% line was crossed ${cross.length} time${cross.length === 1 ? "" : "s"} (circled): ` +
        cross.map((cr) => `${shortName(names.get(cr.choice))} ${cr.up ? "rose above" : "fell below"} it at log size ${nf.format(cr.size)}`).join(", ") + ".";
    desc.textContent = `Shares of ${shown.map((id) => names.get(id)).join(", ")} from log size ${x0} to ${last.size}. ${crossText}`;
    v.chartBox.replaceChildren(svg);
    v.chartCaption.replaceChildren(
      `Each choice's share of the votes as it stood after each log size (as-of tallies, ${data.length} points), ` +
      `for the ${shown.length} leading choice${shown.length === 1 ? "" : "s"}; ` +
      (keyRows ? "the key under the chart names each line style. " : "each line is named at its end. "),
      h("span", { class: "crossings" }, crossText));
    v.chartTable.replaceChildren(h("table", {},
      h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "Log size"), h("th", { scope: "col" }, "Last recorded"),
        ...shown.map((id) => h("th", { scope: "col" }, names.get(id))))),
      h("tbody", {}, ...data.map((p) => h("tr", {}, h("td", {}, nf.format(p.size)), h("td", {}, when(p.at)),
        ...shown.map((id) => {
          const ch = p.c.choices.find((x) => x.id === id);
          return h("td", {}, ch ? `${ch.share}%` : "–");
        }))))));
  }

  function shortName(name) {
    const words = (name || "").split(/\s+/).filter(Boolean);
    if (words.length <= 1) return name || "";
    const last = words[words.length - 1];
    return /^(JR|SR|II|III|IV)\.?$/i.test(last) && words.length > 2 ? words[words.length - 2] : last;
  }

  let resizeTimer = 0;
  window.addEventListener("resize", () => {
    clearTimeout(resizeTimer);
    resizeTimer = setTimeout(() => {
      if (!st) return;
      for (const v of st.contests.values()) if (!v.turnout && v.contest) drawChart(v, st.points);
    }, 150);
  });

  // ---- Corrections -------------------------------------------------------

  function addCorrection(mine, change) {
    if (st !== mine || mine.corrections.has(change.index)) return;
    mine.corrections.set(change.index, change);
    const entry = change.entry || {};
    const ev = entry.event || {};
    const data = ev.data || {};
    const corrected = change.type === "count.corrected";
    const contest = mine.tally && mine.tally.contests.find((c) => c.id === data.contest);
    const li = h("li", { class: change.verdict === "rejected" ? "rejected" : null, "data-index": change.index },
      h("p", {}, h("span", { class: "what" }, corrected ? "Correction" : "Retraction"),
        change.verdict === "rejected" ? ` (REJECTED: ${entry.reason || "no reason given"})` : " (accepted)",
        corrected && data.unit ? `: ${mine.units.get(data.unit) || data.unit}, ${contest ? contest.name : data.contest}` : ""),
      h("p", { class: "reason" }, "Reason given: ", data.reason || "–"),
      officeLine(mine, entry),
      h("p", { class: "meta" }, `Log entry ${nf.format(change.index)}, recorded ${when(entry.recorded)}; ` +
        `${corrected ? "corrects" : "withdraws"} event ${corrected ? data.corrects : data.retracts}`));
    // Newest first, by log index.
    const list = $("corrections-list");
    const after = [...list.children].find((x) => Number(x.dataset.index) < change.index);
    list.insertBefore(li, after || null);
    $("corrections-empty").hidden = true;
    const latest = Math.max(...mine.corrections.keys());
    $("corrections-count").textContent = `${mine.corrections.size} (latest: entry ${nf.format(latest)})`;
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

  // parseKey reads a signed-note verifier key, name+hash+base64(0x01‖key).
  async function parseKey(text) {
    const k = text.trim();
    const i = k.indexOf("+"), j = k.indexOf("+", i + 1);
    if (i <= 0 || j <= i) throw new Error("the verifier key is malformed");
    const name = k.slice(0, i), hash = k.slice(i + 1, j), raw = b64(k.slice(j + 1));
    if (raw.length !== 33 || raw[0] !== 1) throw new Error("the verifier key is not an Ed25519 note key");
    const key = { text: k, name, hash, pub: raw.slice(1), crypto: null, missing: cryptoMissing() };
    if (key.missing) return key;
    // The key hash is SHA-256(name ‖ "\n" ‖ 0x01 ‖ key)[:4] (C2SP signed-note).
    const nb = new TextEncoder().encode(name + "\n");
    const buf = new Uint8Array(nb.length + raw.length);
    buf.set(nb);
    buf.set(raw, nb.length);
    if (hex((await sha256(buf)).slice(0, 4)) !== hash) throw new Error("the verifier key's hash does not match its name and key");
    try {
      key.crypto = await crypto.subtle.importKey("raw", key.pub, { name: "Ed25519" }, false, ["verify"]);
    } catch (err) {
      key.missing = `this browser's WebCrypto has no Ed25519 (${err.name})`;
    }
    return key;
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

  async function loadKey(mine) {
    try {
      const key = await parseKey(await getText("/v1/key"));
      if (st !== mine) return;
      mine.key = key;
      $("cp-key").textContent = key.text;
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
      return;
    }
    $("cp-size").textContent = nf.format(cp.size);
    $("cp-root").textContent = cp.rootB64;
    $("cp-origin").textContent = cp.origin;
    const key = mine.key;
    const items = [];
    let good = true;

    // The signature, and that it is this election's log.
    if (key.error) {
      items.push(check(null, "Signature", `the key from /v1/key is ${key.error}`));
    } else {
      const wantOrigin = `${key.name}/${mine.election}`;
      const sigOK = await verifyNote(cp, key);
      if (sigOK === null) {
        items.push(check(null, "Signature", key.missing));
      } else if (!sigOK) {
        good = false;
        items.push(check(false, "Signature", `no valid Ed25519 signature by ${key.name}`));
      } else if (cp.origin !== wantOrigin) {
        good = false;
        items.push(check(false, "Signature", `signed, but for origin ${cp.origin}, not ${wantOrigin}`));
      } else {
        items.push(check(true, "Signature", `Ed25519, by the key from /v1/key, for origin ${cp.origin}`));
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
    } else if (cp.size === prev.size) {
      const same = eq(cp.root, prev.root);
      good = good && same;
      items.push(check(same, "Consistency", same ? `same tree as before (size ${cp.size})` : `two different roots for size ${cp.size}`));
    } else {
      try {
        const p = await getJSON(`/v1/elections/${enc(mine.election)}/proof/consistency?from=${prev.size}&to=${cp.size}`);
        const ok = await verifyConsistency(prev.size, cp.size, prev.root, cp.root, p.hashes.map(b64));
        good = good && ok;
        items.push(check(ok, "Consistency", ok
          ? `the tree of size ${nf.format(prev.size)} (the previous checkpoint seen) is a prefix of this one: proof of ${p.hashes.length} hashes recomputed with SHA-256`
          : `the proof from size ${prev.size} does not lead to this root: the history this page saw was changed`));
      } catch (err) {
        items.push(check(null, "Consistency", `could not fetch the proof: ${err.message}`));
      }
    }
    if (st !== mine) return;
    if (!good) {
      $("cp-checks").replaceChildren(...items, ...entryItems(mine, { error: "the checkpoint failed a check, so its entries are not read" }));
      alarm(`the checkpoint of size ${cp.size} failed a check; the last good one stays the reference (size ${prev ? prev.size : "none"}).`);
      $("checkpoint-summary").textContent = `size ${nf.format(cp.size)}: FAILED a check`;
      return;
    }
    mine.prevCp = cp;
    mine.cpChecked++;
    if (!mine.cpFirst) mine.cpFirst = cp.size;
    $("cp-history").textContent = `Since this page was opened: ${mine.cpChecked} checkpoint${mine.cpChecked === 1 ? "" : "s"} ` +
      `checked, sizes ${nf.format(mine.cpFirst)} to ${nf.format(cp.size)}, each consistent with the one before.`;

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
    }
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

  const count = (n, one, many) => `${nf.format(n)} ${n === 1 ? one : many}`;

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
  window.ledgerDashboard = { verifyConsistency, parseNote, parseKey, verifyNote, b64, openSubmission, checkOrigin, eventBytes, keyName };

  // ---- Start -------------------------------------------------------------

  async function start() {
    $("election").addEventListener("change", (e) => pick(e.target.value, true));
    $("picker").addEventListener("submit", (e) => { e.preventDefault(); pick($("election").value, true); });
    window.addEventListener("popstate", () => {
      const e = new URL(location.href).searchParams.get("election");
      if (e) open(e);
    });
    setInterval(loadElections, ELECTIONS_MS);
    let election = new URL(location.href).searchParams.get("election");
    while (!election) {
      const list = await loadElections();
      if (list.length) { election = list[0].id; break; }
      $("contests").replaceChildren(h("p", { class: "notice" }, "No election in the ledger yet: waiting for one."));
      await new Promise((r) => setTimeout(r, WAIT_MS));
    }
    pick(election, false);
  }

  start();
})();
