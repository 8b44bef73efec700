// The ledger's dashboard: live totals, a corrections feed, a share chart
// and the latest signed checkpoint, checked in the browser. It reads only
// the ledger's HTTP API (docs/api.md, docs/dashboard.md) on this origin.
"use strict";

(() => {
  const SVG = "http://www.w3.org/2000/svg"; // a namespace name, not a URL that is fetched
  const ENTRY_TYPES = ["election.defined", "count.reported", "count.corrected", "count.retracted",
    "election.certified", "recount.ordered"];
  const CORRECTION_TYPES = ["count.corrected", "count.retracted"];
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
      corrections: new Map(), units: new Map(),
      key: null, prevCp: null, cpQueue: Promise.resolve(), cpChecked: 0, cpFirst: null,
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

  // loadUnits reads the reporting units' names from the manifest, entry 0.
  async function loadUnits(mine) {
    try {
      const entry = await getJSON(`/v1/elections/${enc(mine.election)}/entries/0`);
      for (const u of (entry.event && entry.event.data && entry.event.data.units) || []) mine.units.set(u.id, u.name || u.id);
    } catch (err) {
      console.warn("no unit names:", err.message); // the IDs are shown instead
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
      const cp = JSON.parse(e.data);
      mine.cpQueue = mine.cpQueue.then(() => checkCheckpoint(mine, cp.checkpoint)).catch((err) => {
        console.error(err);
      });
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
    $("cp-checks").replaceChildren(...items);
    if (!good) {
      alarm(`the checkpoint of size ${cp.size} failed a check; the last good one stays the reference (size ${prev ? prev.size : "none"}).`);
      $("checkpoint-summary").textContent = `size ${nf.format(cp.size)}: FAILED a check`;
      return;
    }
    mine.prevCp = cp;
    mine.cpChecked++;
    $("checkpoint-summary").textContent = `size ${nf.format(cp.size)}: ` +
      items.map((li) => li.querySelector(".mark").textContent.toLowerCase()).join("; ");
    if (!mine.cpFirst) mine.cpFirst = cp.size;
    $("cp-history").textContent = `Since this page was opened: ${mine.cpChecked} checkpoint${mine.cpChecked === 1 ? "" : "s"} ` +
      `checked, sizes ${nf.format(mine.cpFirst)} to ${nf.format(cp.size)}, each consistent with the one before.`;
  }

  // Exposed for the browser test and for anyone checking by hand.
  window.ledgerDashboard = { verifyConsistency, parseNote, parseKey, verifyNote, b64 };

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
