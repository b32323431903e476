// mqstore console. Plain DOM, no library: every value is put into the page with textContent
// (never innerHTML), so message bodies and names are always escaped.
"use strict";

const TOKEN = document.querySelector('meta[name="mqstore-console-token"]').content;
const API = "/console/api/";
const app = document.getElementById("app");

// el builds an element: attrs (class, id, data-*, on*) and children (nodes or text).
function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
    else if (k === "class") e.className = v;
    else e.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children.flat()) {
    if (c === undefined || c === null) continue;
    e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return e;
}

const numberFormat = new Intl.NumberFormat("en-US"); // one formatter: toLocaleString makes one per call
const fmt = {
  n: (v) => numberFormat.format(v),
  time: (ms) => (ms > 0 ? new Date(ms).toISOString().replace("T", " ").replace("Z", "") : "—"),
  age: (ms) => {
    if (!(ms > 0)) return "—";
    const s = Math.floor(ms / 1000);
    if (s < 60) return s + "s";
    if (s < 3600) return Math.floor(s / 60) + "m " + (s % 60) + "s";
    if (s < 86400) return Math.floor(s / 3600) + "h " + Math.floor((s % 3600) / 60) + "m";
    return Math.floor(s / 86400) + "d " + Math.floor((s % 86400) / 3600) + "h";
  },
  bytes: (b) => {
    const u = ["B", "KiB", "MiB", "GiB", "TiB"];
    let i = 0;
    while (b >= 1024 && i < u.length - 1) { b /= 1024; i++; }
    return (i ? b.toFixed(1) : b) + " " + u[i];
  },
  pct: (r) => (r * 100).toFixed(1) + "%",
  perm: (p) => (p & 4 ? "R" : "-") + (p & 2 ? "W" : "-") + (p & 1 ? "X" : "-"),
};

// parseTime reads a time typed into a form: "YYYY-MM-DD HH:MM[:SS[.mmm]]" in UTC (as the pages
// show times), Unix milliseconds, or "end" (-1: the end of each queue, for a reset). Empty: null.
function parseTime(v, what) {
  v = v.trim();
  if (!v) return null;
  if (v === "end") return -1;
  if (/^\d+$/.test(v)) return Number(v);
  const ms = Date.parse(v.replace(" ", "T") + (/(z|[+-]\d\d:?\d\d)$/i.test(v) ? "" : "Z"));
  if (Number.isNaN(ms)) throw new Error(`${what}: "${v}" is not a time (YYYY-MM-DD HH:MM:SS in UTC, or Unix ms)`);
  return ms;
}

async function get(path) {
  const r = await fetch(API + path, { headers: { Accept: "application/json" } });
  const body = await r.json();
  if (!r.ok) throw new Error(body.error || r.statusText);
  return body;
}

// ACL: when the broker checks ACL, every write is signed with an admin account's keys, kept in
// this tab's sessionStorage (never sent): Signature = base64(HMAC-SHA1(secretKey, accessKey +
// "POST" + path + timestamp + body)), RocketMQ's recipe over the fields AccessKey, Method,
// Path, Timestamp and the body. WebCrypto needs a secure context: HTTPS, or loopback.
const ACL = document.querySelector('meta[name="mqstore-console-acl"]').content === "on";

async function signHeaders(path, body) {
  const ak = sessionStorage.getItem("aclAccessKey"), sk = sessionStorage.getItem("aclSecretKey");
  if (!ak || !sk) throw new Error("ACL is on: enter an admin account's accessKey and secretKey at the top of the page first.");
  if (!window.crypto?.subtle) throw new Error("Signing needs a secure context: open the console over HTTPS (tls.server.mode) or on loopback.");
  const ts = String(Date.now());
  const enc = new TextEncoder();
  const key = await crypto.subtle.importKey("raw", enc.encode(sk), { name: "HMAC", hash: "SHA-1" }, false, ["sign"]);
  const mac = new Uint8Array(await crypto.subtle.sign("HMAC", key, enc.encode(ak + "POST" + path + ts + body)));
  let bin = "";
  for (const b of mac) bin += String.fromCharCode(b);
  return { "X-Mqstore-AccessKey": ak, "X-Mqstore-Timestamp": ts, "X-Mqstore-Signature": btoa(bin) };
}

function setupSignin() {
  const f = document.getElementById("signin");
  if (!f) return;
  const state = document.getElementById("signin-state");
  const show = () => { state.textContent = sessionStorage.getItem("aclAccessKey") ? "signing as " + sessionStorage.getItem("aclAccessKey") : "writes need admin keys"; };
  f.addEventListener("submit", (e) => {
    e.preventDefault();
    sessionStorage.setItem("aclAccessKey", document.getElementById("signin-ak").value.trim());
    sessionStorage.setItem("aclSecretKey", document.getElementById("signin-sk").value);
    document.getElementById("signin-sk").value = "";
    show();
  });
  show();
}

// post sends a write: JSON body, the CSRF token in its header, same-origin only; signed when
// ACL is on.
async function post(path, data) {
  const body = JSON.stringify(data);
  const headers = { "Content-Type": "application/json", "X-Mqstore-Console-Token": TOKEN };
  if (ACL) Object.assign(headers, await signHeaders(API + path, body));
  const r = await fetch(API + path, { method: "POST", credentials: "same-origin", headers, body });
  const answer = await r.json();
  if (!r.ok) throw new Error(answer.error || r.statusText);
  return answer;
}

function flash(text, error) {
  const f = document.getElementById("flash");
  f.replaceChildren(el("div", { class: error ? "error" : "", id: error ? "flash-error" : "flash-ok" }, text));
}

// confirmAction shows the confirmation dialog; resolves true on Confirm.
function confirmAction(text) {
  const d = document.getElementById("confirm");
  document.getElementById("confirm-text").textContent = text;
  return new Promise((resolve) => {
    d.addEventListener("close", () => resolve(d.returnValue === "ok"), { once: true });
    d.returnValue = "";
    d.showModal();
  });
}

// act confirms, posts, reports, then reloads the page's data.
async function act(question, path, data, done) {
  if (!(await confirmAction(question))) return;
  try {
    const r = await post(path, data);
    flash(done(r));
  } catch (e) {
    flash(e.message, true);
  }
  await render();
}

// table builds a table; rows are built into one DocumentFragment (one insertion, one layout).
// cls "fixed" gives it table-layout: fixed with the columns' widths (h.w), so a long page lays
// out without measuring every cell.
function table(id, head, rows, cls) {
  const body = document.createElement("tbody");
  const frag = document.createDocumentFragment();
  for (const r of rows) frag.append(r);
  body.append(frag);
  return el("table", { id, class: cls },
    cls === "fixed" ? el("colgroup", {}, head.map((h) => el("col", { style: h.w ? "width:" + h.w : null }))) : null,
    el("thead", {}, el("tr", {}, head.map((h) => el("th", { class: h.num ? "num" : "" }, h.label ?? h)))),
    body);
}

// ROWS is how many rows a long list shows per page: ?rows=N (1–1000), default 100.
const ROWS = Math.min(1000, Math.max(1, Number(new URLSearchParams(location.search).get("rows")) || 100));

// pager shows "first–last of total" with previous / next buttons; move(offset) re-renders.
function pager(id, offset, shown, total, move) {
  return el("div", { class: "pager", id },
    el("button", { class: "prev", disabled: offset <= 0, onclick: () => move(Math.max(0, offset - ROWS)) }, "‹ previous"), " ",
    el("span", { class: "range" }, total ? `${fmt.n(offset + 1)}–${fmt.n(offset + shown)} of ${fmt.n(total)}` : "none"), " ",
    el("button", { class: "next", disabled: offset + shown >= total, onclick: () => move(offset + ROWS) }, "next ›"));
}

function kv(id, pairs) {
  return el("table", { id, class: "kv" },
    el("tbody", {}, pairs.map(([k, label, v]) => el("tr", {}, el("th", {}, label), el("td", { "data-k": k }, v)))));
}

function card(k, label, v) {
  return el("div", { class: "card" }, el("div", { class: "label" }, label), el("div", { class: "value", "data-k": k }, v));
}

// ---- overview -------------------------------------------------------------------------------

async function overview() {
  const [o, tp] = await Promise.all([get("overview"), get("throughput")]);
  const b = o.broker;
  const last = tp.points.length ? tp.points[tp.points.length - 1] : null;
  return [
    el("h2", {}, "Broker"),
    el("div", { class: "cards" },
      card("messagesPut", "messages put", fmt.n(b.messagesPut)),
      card("messagesGot", "messages got", fmt.n(b.messagesGot)),
      card("putTps", "put TPS", last ? last.inTps.toFixed(1) : "—"),
      card("getTps", "get TPS", last ? last.outTps.toFixed(1) : "—"),
      card("topics", "topics", fmt.n(b.topics)),
      card("openTransactions", "open transactions", fmt.n(b.openTransactions)),
      card("diskUsage", "disk used", fmt.pct(b.diskUsage))),
    el("div", { class: "split" },
      kv("broker", [
        ["brokerName", "broker", b.brokerName],
        ["clusterName", "cluster", b.clusterName],
        ["role", "role", b.role + " (brokerId " + b.brokerId + ")"],
        ["addr", "address", b.addr],
        ["version", "version", b.version],
        ["uptime", "uptime", fmt.age(b.uptimeSeconds * 1000)],
        ["permission", "permission", fmt.perm(b.permission)],
        ["flushDiskType", "flush", b.flushDiskType],
        ["storePath", "store", b.storePath],
        ["diskUsageDetail", "disk", fmt.pct(b.diskUsage) + " used, puts refused above " + fmt.pct(b.diskFullRatio)],
        ["commitLog", "commit log", fmt.n(b.commitLogMinOffset) + " … " + fmt.n(b.commitLogMaxOffset) + " (" + fmt.bytes(b.commitLogMaxOffset - b.commitLogMinOffset) + ")"],
        ["dispatchBehind", "dispatch behind", fmt.bytes(b.dispatchBehindBytes)],
        ["flushBehind", "flush behind", fmt.bytes(b.flushBehindBytes)],
        ["connections", "connections", fmt.n(b.connections)],
        ["groups", "consumer / producer groups online", b.consumerGroups + " / " + b.producerGroups],
        ["nameServers", "name servers", o.nameServers.length ? o.nameServers.join(", ") : "(none)"],
        ["writable", "console writes", o.writable ? (o.acl ? "signed by an ACL admin account" : "allowed") : o.writeRefusal],
      ]),
      throughputChart(tp)),
  ];
}

// throughputChart draws put/get TPS and put latency as SVG lines (no chart library).
function throughputChart(tp) {
  const box = el("div", { class: "chart", id: "throughput" });
  if (!tp.enabled) return el("div", { class: "chart muted", id: "throughput" }, "No metrics registry: the chart needs the metrics port.");
  const W = 560, H = 220, P = 30;
  const pts = tp.points.slice(-300);
  const maxTps = Math.max(1, ...pts.map((p) => Math.max(p.inTps, p.outTps)));
  const maxLat = Math.max(0.001, ...pts.map((p) => p.putLatencyMillis));
  const t0 = pts.length ? pts[0].t : 0, t1 = pts.length ? pts[pts.length - 1].t : 1;
  const x = (t) => P + ((t - t0) / Math.max(1, t1 - t0)) * (W - 2 * P);
  const line = (f, max, color, cls) => {
    const p = document.createElementNS("http://www.w3.org/2000/svg", "polyline");
    p.setAttribute("points", pts.map((q) => x(q.t).toFixed(1) + "," + (H - P - (f(q) / max) * (H - 2 * P)).toFixed(1)).join(" "));
    p.setAttribute("fill", "none");
    p.setAttribute("stroke", color);
    p.setAttribute("stroke-width", "1.5");
    p.setAttribute("class", cls);
    return p;
  };
  const svg = document.createElementNS("http://www.w3.org/2000/svg", "svg");
  svg.setAttribute("width", W);
  svg.setAttribute("height", H);
  const axis = document.createElementNS("http://www.w3.org/2000/svg", "path");
  axis.setAttribute("d", `M${P},${P} V${H - P} H${W - P}`);
  axis.setAttribute("stroke", "#b9c0cc");
  axis.setAttribute("fill", "none");
  svg.append(axis);
  const label = (txt, lx, ly) => {
    const t = document.createElementNS("http://www.w3.org/2000/svg", "text");
    t.setAttribute("x", lx); t.setAttribute("y", ly); t.setAttribute("font-size", "10"); t.setAttribute("fill", "#6b7385");
    t.textContent = txt;
    return t;
  };
  svg.append(label(maxTps.toFixed(0) + " msg/s", 2, P - 6), label(maxLat.toFixed(2) + " ms", W - 70, P - 6));
  if (pts.length > 1) {
    svg.append(line((q) => q.inTps, maxTps, "#2458c5", "in"), line((q) => q.outTps, maxTps, "#c26b00", "out"),
      line((q) => q.putLatencyMillis, maxLat, "#7b3fb8", "lat"));
  }
  const l = tp.latest;
  box.append(
    el("div", { class: "legend" },
      el("span", { class: "in" }, "● put TPS"), el("span", { class: "out" }, "● get TPS"), el("span", { class: "lat" }, "● put latency (mean)")),
    svg,
    el("div", { class: "muted", id: "throughput-totals" },
      "from /metrics: in ", el("span", { "data-k": "metricsMessagesIn" }, fmt.n(l.messagesIn)),
      " msgs, out ", el("span", { "data-k": "metricsMessagesOut" }, fmt.n(l.messagesOut)),
      " msgs; ", pts.length > 1 ? "" : "the chart fills while this page is open."));
  return box;
}

// ---- topics ---------------------------------------------------------------------------------

let selectedTopic = new URLSearchParams(location.search).get("topic");
const topicView = { kind: sessionStorage.getItem("topicFilter") || "normal", q: "", offset: 0 };

async function topics() {
  const kinds = ["all", "normal", "retry", "dlq", "system"];
  const qs = new URLSearchParams({ kind: topicView.kind, q: topicView.q, offset: topicView.offset, limit: ROWS });
  const [res, detail] = await Promise.all([get("topics?" + qs), selectedTopic ? topicDetail(selectedTopic) : el("div", { id: "topic-detail" })]);
  if (!res.topics.length && topicView.offset > 0 && res.matched > 0) { // the list shrank under the page
    topicView.offset = Math.floor((res.matched - 1) / ROWS) * ROWS;
    return topics();
  }
  const rows = res.topics.map((t) =>
    el("tr", { class: "clickable" + (t.topic === selectedTopic ? " selected" : ""), "data-topic": t.topic, onclick: () => { selectedTopic = t.topic; render(); } },
      el("td", { class: "name" }, t.topic), el("td", {}, t.kind),
      el("td", { class: "num queues" }, t.readQueueNums + " / " + t.writeQueueNums),
      el("td", {}, fmt.perm(t.perm)),
      el("td", { class: "num messages" }, fmt.n(t.messages)),
      el("td", { class: "num max" }, fmt.n(t.maxOffsetSum)),
      el("td", {}, fmt.time(t.lastUpdate))));
  const search = el("form", { class: "inline", id: "topic-search-form" },
    el("label", {}, "show", el("select", { id: "topic-filter", onchange: (e) => { topicView.kind = e.target.value; topicView.offset = 0; sessionStorage.setItem("topicFilter", e.target.value); render(); } },
      kinds.map((k) => el("option", { value: k, selected: k === topicView.kind }, k)))),
    el("label", {}, "name contains", el("input", { id: "topic-search", value: topicView.q })),
    el("button", { id: "topic-search-go", type: "submit" }, "Filter"));
  search.addEventListener("submit", (e) => { e.preventDefault(); topicView.q = document.getElementById("topic-search").value.trim(); topicView.offset = 0; render(); });
  const move = (o) => { topicView.offset = o; render(); };
  return [
    el("h2", {}, "Topics ", el("span", { class: "muted", id: "topic-count" }, res.matched + " of " + res.total)),
    search,
    createTopicForm(),
    el("div", { class: "split" },
      el("div", { class: "list" },
        pager("topics-pager", res.offset, res.topics.length, res.matched, move),
        table("topics", ["topic", { label: "kind", w: "5rem" }, { label: "queues r/w", num: 1, w: "6.5rem" }, { label: "perm", w: "3.5rem" }, { label: "messages", num: 1, w: "7rem" }, { label: "Σ max offset", num: 1, w: "7.5rem" }, { label: "last write", w: "14rem" }], rows, "fixed")),
      detail),
  ];
}

function createTopicForm() {
  const f = el("form", { class: "inline", id: "create-topic-form" },
    el("label", {}, "topic", el("input", { id: "new-topic", required: true, placeholder: "name" })),
    el("label", {}, "read queues", el("input", { id: "new-topic-read", type: "number", min: 1, max: 1024, value: 4 })),
    el("label", {}, "write queues", el("input", { id: "new-topic-write", type: "number", min: 1, max: 1024, value: 4 })),
    el("label", {}, "perm", el("select", { id: "new-topic-perm" }, el("option", { value: 6 }, "RW-"), el("option", { value: 4 }, "R--"), el("option", { value: 2 }, "-W-"))),
    el("button", { id: "create-topic", type: "submit" }, "Create / update"));
  f.addEventListener("submit", (e) => {
    e.preventDefault();
    const body = {
      topic: document.getElementById("new-topic").value.trim(),
      readQueueNums: Number(document.getElementById("new-topic-read").value),
      writeQueueNums: Number(document.getElementById("new-topic-write").value),
      perm: Number(document.getElementById("new-topic-perm").value),
    };
    selectedTopic = body.topic;
    act(`Create or update topic "${body.topic}" with ${body.readQueueNums} read and ${body.writeQueueNums} write queues?`,
      "topics/update", body, () => `Topic ${body.topic} saved.`);
  });
  return f;
}

async function topicDetail(name) {
  let d, tm;
  try {
    [d, tm] = await Promise.all([get("topics/" + encodeURIComponent(name)), get("timers?topic=" + encodeURIComponent(name))]);
  } catch (e) { selectedTopic = null; return el("div", { id: "topic-detail" }); }
  return el("div", { id: "topic-detail", "data-topic": d.topic },
    el("h2", {}, "Topic ", d.topic),
    kv("topic-summary", [["kind", "kind", d.kind], ["perm", "perm", fmt.perm(d.perm)], ["messages", "messages", fmt.n(d.messages)],
      ["groups", "consumer groups", d.groups.length ? d.groups.join(", ") : "(none)"],
      ["timersCount", "pending timers", el("span", { id: "timers-count" }, fmt.n(tm.count))],
      ["timersNext", "next timer due", el("span", { id: "timers-next", "data-ms": tm.nextDueMs },
        tm.count ? fmt.time(tm.nextDueMs) + " UTC (in " + fmt.age(tm.nextDueMs - Date.now()) + ")" : "—")]]),
    el("p", { class: "muted" }, "Timers: the topic's delayed and timed messages still in the timing wheel (of ", fmt.n(tm.wheelPending), " pending on this broker)."),
    el("p", {}, el("a", { id: "topic-browse", href: "/console/messages?topic=" + encodeURIComponent(d.topic) + "&begin=" + (Date.now() - 3600_000) }, "Messages of the last hour →")),
    table("queues", [{ label: "queue", num: 1 }, { label: "min offset", num: 1 }, { label: "max offset", num: 1 }, "last write"],
      d.queues.map((q) => el("tr", { "data-queue": q.queueId },
        el("td", { class: "num" }, q.queueId), el("td", { class: "num min" }, q.minOffset), el("td", { class: "num max" }, q.maxOffset), el("td", {}, fmt.time(q.lastUpdate))))),
    el("button", { class: "danger", id: "delete-topic", onclick: () => act(`Delete topic "${d.topic}" with its ${fmt.n(d.messages)} messages' queues and its consumer offsets? This cannot be undone.`,
      "topics/delete", { topic: d.topic }, () => { selectedTopic = null; return `Topic ${d.topic} deleted.`; }) }, "Delete topic…"));
}

// ---- consumer groups ------------------------------------------------------------------------

let selectedGroup = new URLSearchParams(location.search).get("group");

async function groups() {
  const { groups } = await get("groups");
  const rows = groups.map((g) =>
    el("tr", { class: "clickable" + (g.group === selectedGroup ? " selected" : ""), "data-group": g.group, onclick: () => { selectedGroup = g.group; render(); } },
      el("td", { class: "name" }, g.group),
      el("td", { class: g.online ? "ok" : "muted" }, g.online ? "online" : "offline"),
      el("td", { class: "num clients" }, g.clients.length),
      el("td", {}, g.messageModel || "—"), el("td", {}, g.consumeType || "—"),
      el("td", {}, g.subscriptions.map((s) => s.topic + " (" + s.expression + ")").join(", ") || "—"),
      el("td", { class: "num lag" }, fmt.n(g.lag)),
      el("td", { class: "num" }, fmt.age(g.lagAgeMillis))));
  const out = [
    el("h2", {}, "Consumer groups ", el("span", { class: "muted" }, groups.length)),
    table("groups", ["group", "state", { label: "clients", num: 1 }, "model", "type", "subscriptions", { label: "lag", num: 1 }, { label: "lag age", num: 1 }], rows),
  ];
  if (selectedGroup) out.push(await groupDetail(selectedGroup));
  return out;
}

async function groupDetail(name) {
  let d;
  try { d = await get("groups/" + encodeURIComponent(name)); } catch (e) { return el("div", { id: "group-detail" }, el("p", { class: "bad" }, e.message)); }
  return el("div", { id: "group-detail", "data-group": d.group },
    el("h2", {}, "Group ", d.group, " — lag ", el("span", { id: "group-lag" }, fmt.n(d.lag))),
    el("div", { class: "split" },
      table("group-queues", ["topic", { label: "queue", num: 1 }, { label: "broker offset", num: 1 }, { label: "consumer offset", num: 1 }, { label: "lag", num: 1 }, "last consumed", "oldest unconsumed"],
        d.queues.map((q) => el("tr", { "data-topic": q.topic, "data-queue": q.queueId },
          el("td", {}, q.topic), el("td", { class: "num" }, q.queueId), el("td", { class: "num broker" }, q.brokerOffset),
          el("td", { class: "num consumer" }, q.consumerOffset), el("td", { class: "num lag" }, q.lag),
          el("td", {}, fmt.time(q.lastTimestamp)), el("td", {}, fmt.time(q.oldestUnconsumed))))),
      table("group-clients", ["client", "address", "last heartbeat"],
        d.clients.map((c) => el("tr", {}, el("td", {}, c.clientId), el("td", {}, c.addr), el("td", {}, fmt.time(c.lastHeartbeat)))))),
    resetForm(d));
}

// resetForm resets the group's offsets on one topic by time (INVOKE_BROKER_TO_RESET_OFFSET's
// rule: the first message stored at or after the time; without force a queue only moves back).
function resetForm(d) {
  const topics = [...new Set([...d.queues.map((q) => q.topic), ...d.subscriptions.map((s) => s.topic)])]
    .filter((t) => !t.startsWith("%RETRY%") && !t.startsWith("%DLQ%")).sort();
  const f = el("form", { class: "inline", id: "reset-form" },
    el("label", {}, "reset offsets of topic", el("select", { id: "reset-topic" }, topics.map((t) => el("option", { value: t }, t)))),
    el("label", {}, "to the first message stored at or after (UTC, Unix ms, or end)",
      el("input", { id: "reset-time", size: 26, required: true, placeholder: "YYYY-MM-DD HH:MM:SS", value: fmt.time(Date.now() - 3600_000).slice(0, 19) })),
    el("label", { class: "check" }, el("input", { id: "reset-force", type: "checkbox" }), "force (also move forward, skipping messages)"),
    el("button", { id: "reset-go", type: "submit", class: "danger", disabled: !topics.length }, "Reset offsets…"));
  f.addEventListener("submit", (e) => {
    e.preventDefault();
    let ts;
    try { ts = parseTime(document.getElementById("reset-time").value, "time"); } catch (err) { flash(err.message, true); return; }
    if (ts === null) { flash("time: enter a time, Unix ms, or end", true); return; }
    const body = { group: d.group, topic: document.getElementById("reset-topic").value, timestamp: ts, force: document.getElementById("reset-force").checked };
    const when = ts === -1 ? "the end of each queue" : "the first message stored at or after " + fmt.time(ts) + " UTC";
    act(`Reset the offsets of group "${body.group}" on topic "${body.topic}" to ${when}${body.force ? " (forced: queues may move forward, skipping messages)" : " (queues only move back)"}? Online consumers are told to follow.`,
      "groups/reset", body,
      (r) => `Offsets of ${body.group} on ${body.topic} reset: ` + r.offsets.map((o) => `queue ${o.queueId} → ${o.offset}`).join(", ") + (r.notified ? ` (${r.notified} consumers told).` : "."));
  });
  return el("div", { id: "group-reset" }, el("h3", {}, "Reset offset by time"), f);
}

// ---- transactions ---------------------------------------------------------------------------

let txnOffset = 0;

async function transactions() {
  const [open, disc] = await Promise.all([get(`transactions?limit=${ROWS}&offset=${txnOffset}`), get("transactions/discarded?limit=200")]);
  if (!open.transactions.length && txnOffset > 0 && open.total > 0) {
    txnOffset = Math.floor((open.total - 1) / ROWS) * ROWS;
    return transactions();
  }
  const rows = open.transactions.map((t) =>
    el("tr", { "data-offset": t.commitLogOffset },
      el("td", { class: "num" }, t.commitLogOffset), el("td", {}, t.topic), el("td", { class: "num" }, t.queueId),
      el("td", {}, t.producerGroup), el("td", { class: "mono" }, t.transactionId),
      el("td", { class: "num age" }, fmt.age(t.ageMillis)), el("td", { class: "num checks" }, t.checkTimes),
      el("td", {}, t.lastCheckResult + (t.lastCheckTimestamp ? " at " + fmt.time(t.lastCheckTimestamp) : "")),
      el("td", {},
        el("button", { class: "commit", onclick: () => act(`Commit transaction ${t.transactionId} (topic ${t.topic})? Its message will be delivered to consumers.`,
          "transactions/commit", { commitLogOffset: t.commitLogOffset },
          (r) => r.changed ? `Committed: message ${r.msgId} at ${r.topic}/${r.queueId} offset ${r.queueOffset}.` : `Nothing changed: ${r.reason}.`) }, "Commit…"), " ",
        el("button", { class: "rollback danger", onclick: () => act(`Roll back transaction ${t.transactionId} (topic ${t.topic})? Its message will never be delivered.`,
          "transactions/rollback", { commitLogOffset: t.commitLogOffset },
          (r) => r.changed ? `Rolled back ${t.transactionId}.` : `Nothing changed: ${r.reason}.`) }, "Roll back…"))));
  const drows = disc.messages.map((m) =>
    el("tr", { "data-offset": m.commitLogOffset },
      el("td", { class: "num" }, m.commitLogOffset), el("td", {}, m.topic), el("td", {}, m.producerGroup),
      el("td", {}, m.transactionId), el("td", { class: "num" }, m.checkTimes), el("td", {}, fmt.time(m.storeTimestamp)),
      el("td", {}, el("button", { class: "resume", onclick: () => act(`Resume discarded transaction ${m.transactionId}? It is checked with its producer again.`,
        "transactions/resume", { commitLogOffset: m.commitLogOffset }, (r) => `Resumed as half message ${r.commitLogOffset}.`) }, "Resume…"))));
  return [
    el("div", { class: "cards" },
      card("openTotal", "open transactions", el("span", { id: "txn-total" }, fmt.n(open.total))),
      card("oldest", "oldest", fmt.age(open.oldestAgeMillis)),
      card("discardedTotal", "discarded", fmt.n(disc.total))),
    el("h2", {}, "Open transactions ", el("span", { class: "muted" }, "oldest first")),
    pager("txns-pager", open.offset, open.transactions.length, open.total, (o) => { txnOffset = o; render(); }),
    table("txns", [{ label: "half offset", num: 1, w: "8rem" }, "topic", { label: "queue", num: 1, w: "4rem" }, "producer group", { label: "transaction id", w: "18rem" }, { label: "age", num: 1, w: "6rem" }, { label: "checks", num: 1, w: "4.5rem" }, "last check", { label: "", w: "12rem" }], rows, "fixed"),
    el("h2", {}, "Discarded (unresolved after the check limit)"),
    table("discarded", [{ label: "offset", num: 1 }, "topic", "producer group", "transaction id", { label: "checks", num: 1 }, "discarded at", ""], drows),
  ];
}

// ---- messages -------------------------------------------------------------------------------

// The query is the page's URL: ?id=ID[&topic=T] | ?topic=T&key=K | ?topic=T&begin=ms[&end=ms]
// (time range, paged) | ?dlq=GROUP (the group's dead letters, %DLQ%GROUP, paged).
let msgOffset = 0;

async function messages() {
  const p = new URLSearchParams(location.search);
  const timeText = (k) => (p.get(k) ? fmt.time(Number(p.get(k))) : "");
  const form = el("form", { class: "inline", id: "query-form" },
    el("label", {}, "topic", el("input", { id: "q-topic", value: p.get("topic") || "" })),
    el("label", {}, "key", el("input", { id: "q-key", value: p.get("key") || "" })),
    el("label", {}, "or message id (offset id or UNIQ_KEY)", el("input", { id: "q-id", size: 34, value: p.get("id") || "" })),
    el("label", {}, "stored from (UTC or ms)", el("input", { id: "q-begin", size: 22, placeholder: "YYYY-MM-DD HH:MM:SS", value: timeText("begin") })),
    el("label", {}, "to (empty: now)", el("input", { id: "q-end", size: 22, placeholder: "YYYY-MM-DD HH:MM:SS", value: timeText("end") })),
    el("button", { id: "q-go", type: "submit" }, "Search"));
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    const q = new URLSearchParams();
    try {
      for (const k of ["topic", "key", "id"]) {
        const v = document.getElementById("q-" + k).value.trim();
        if (v) q.set(k, v);
      }
      for (const k of ["begin", "end"]) {
        const v = parseTime(document.getElementById("q-" + k).value, k);
        if (v !== null && v >= 0) q.set(k, v);
      }
    } catch (err) { flash(err.message, true); return; }
    // A topic alone browses it from the start.
    if (q.has("topic") && !q.has("key") && !q.has("id") && !q.has("begin")) q.set("begin", 0);
    go(q);
  });
  const dlqForm = el("form", { class: "inline", id: "dlq-form" },
    el("label", {}, "dead letters of group", el("input", { id: "dlq-group", value: p.get("dlq") || "" })),
    el("button", { id: "dlq-go", type: "submit" }, "Show DLQ"));
  dlqForm.addEventListener("submit", (e) => {
    e.preventDefault();
    const g = document.getElementById("dlq-group").value.trim();
    if (g) go(new URLSearchParams({ dlq: g }));
  });
  const out = [el("h2", {}, "Messages"), form, dlqForm];
  const dlq = p.get("dlq");
  const listing = dlq || (p.get("topic") && !p.get("key") && !p.get("id"));
  if (!p.toString()) return out;
  const api = new URLSearchParams(p);
  api.delete("rows");
  if (dlq) { api.delete("dlq"); api.set("topic", "%DLQ%" + dlq); api.set("begin", 0); }
  if (listing) { api.set("offset", msgOffset); api.set("max", ROWS); }
  let res;
  try { res = await get("messages?" + api); } catch (e) {
    out.push(el("p", { class: "bad", id: "query-error" }, dlq && e.message.includes("no topic") ? `Group ${dlq} has no dead letters (no topic %DLQ%${dlq}).` : e.message));
    return out;
  }
  if (!listing) {
    out.push(el("p", { class: "muted", id: "result-count" }, res.messages.length + " found"));
    for (const m of res.messages) out.push(messageDetail(m));
    return out;
  }
  out.push(messageList(res, dlq));
  return out;
}

// go puts a query into the page's URL and renders it from its first page.
function go(q) {
  const rows = new URLSearchParams(location.search).get("rows");
  if (rows) q.set("rows", rows);
  history.replaceState(null, "", "?" + q.toString());
  msgOffset = 0;
  render();
}

// messageList is a paged table of a time range or a DLQ, a resend button per message; a click
// on a row shows the message.
function messageList(res, dlq) {
  const group = el("input", { id: "resend-group", value: dlq || sessionStorage.getItem("resendGroup") || "", placeholder: "consumer group" });
  group.addEventListener("change", () => sessionStorage.setItem("resendGroup", group.value.trim()));
  const detail = el("div", { id: "message-detail" });
  const rows = res.messages.map((m) =>
    el("tr", { class: "clickable", "data-msgid": m.msgId, "data-offset": m.commitLogOffset, onclick: () => { detail.replaceChildren(messageDetail(m)); } },
      el("td", { class: "num" }, m.queueId), el("td", { class: "num" }, m.queueOffset), el("td", {}, fmt.time(m.storeTimestamp)),
      el("td", {}, m.tags), el("td", {}, m.keys.join(" ")),
      el("td", { class: "num" }, m.reconsumeTimes),
      el("td", { class: "body" }, m.bodyIsText ? m.bodyText.slice(0, 120) : "(binary, " + fmt.bytes(m.bodySize) + ")"),
      el("td", {}, el("button", { class: "resend", onclick: (e) => { e.stopPropagation(); resend(m, group.value.trim()); } }, "Resend…"))));
  const shown = res.messages.length;
  return el("div", { id: "message-list", "data-topic": dlq ? "%DLQ%" + dlq : "" },
    el("p", { class: "muted", id: "result-count" }, (dlq ? `Dead letters of ${dlq}: ` : "") + (shown ? `${fmt.n(res.offset + 1)}–${fmt.n(res.offset + shown)}` : "none") + (res.more ? ", more follow" : "")),
    el("form", { class: "inline", onsubmit: (e) => e.preventDefault() }, el("label", {}, "resend to group (a copy goes to its %RETRY% topic)", group)),
    el("div", { class: "pager", id: "messages-pager" },
      el("button", { class: "prev", disabled: res.offset <= 0, onclick: () => { msgOffset = Math.max(0, res.offset - ROWS); render(); } }, "‹ previous"), " ",
      el("button", { class: "next", disabled: !res.more, onclick: () => { msgOffset = res.offset + ROWS; render(); } }, "next ›")),
    table("messages", [{ label: "queue", num: 1, w: "4rem" }, { label: "offset", num: 1, w: "5.5rem" }, { label: "stored (UTC)", w: "14.5rem" }, { label: "tags", w: "7rem" }, { label: "keys", w: "10rem" }, { label: "reconsumed", num: 1, w: "6rem" }, "body", { label: "", w: "6rem" }], rows, "fixed"),
    detail);
}

// resend copies a message to a group's retry topic, after confirmation.
function resend(m, group) {
  if (!group) { flash("Enter the consumer group to resend to.", true); return; }
  act(`Resend message ${m.uniqKey || m.msgId} (${m.topic}, queue ${m.queueId}, offset ${m.queueOffset}) to group "${group}"? Its consumers get it again through %RETRY%${group}.`,
    "messages/resend", { commitLogOffset: m.commitLogOffset, group },
    (r) => `Resent to ${r.topic}: message ${r.msgId} (queue ${r.queueId}, offset ${r.queueOffset}).`);
}

function messageDetail(m) {
  const hexLines = (m.bodyHex.match(/.{1,64}/g) || []).join("\n");
  return el("section", { class: "message", "data-msgid": m.msgId },
    el("h2", {}, "Message ", m.uniqKey || m.msgId),
    el("div", { class: "split" },
      kv("", [["msgId", "offset msg id", m.msgId], ["uniqKey", "UNIQ_KEY", m.uniqKey], ["topic", "topic", m.topic],
        ["queue", "queue / offset", m.queueId + " / " + m.queueOffset], ["commitLogOffset", "commit log offset", m.commitLogOffset],
        ["tags", "tags", m.tags], ["keys", "keys", m.keys.join(" ")], ["born", "born", fmt.time(m.bornTimestamp) + " at " + m.bornHost],
        ["stored", "stored", fmt.time(m.storeTimestamp) + " at " + m.storeHost], ["reconsume", "reconsume times", m.reconsumeTimes],
        ["bodySize", "body", fmt.bytes(m.bodySize) + (m.compressed ? " (stored compressed, " + fmt.bytes(m.storedBodySize) + ")" : "")]]),
      table("", ["property", "value"], Object.keys(m.properties).sort().map((k) => el("tr", {}, el("td", {}, k), el("td", { "data-prop": k }, m.properties[k])))),
      table("", ["group", "status"], m.consumers.map((c) => el("tr", { "data-group": c.group }, el("td", {}, c.group),
        el("td", { class: c.consumed ? "ok consumed" : "muted consumed" }, c.consumed ? "consumed" : c.consumerOffset < 0 ? "no offset" : "not yet")))))
    ,
    m.bodyError ? el("p", { class: "bad" }, m.bodyError) : null,
    el("h3", {}, "Body", m.bodyTruncated ? " (first 16 KiB)" : ""),
    m.bodyIsText ? el("pre", { class: "body-text" }, m.bodyText) : el("p", { class: "muted" }, "not UTF-8 text"),
    el("details", {}, el("summary", {}, "hex"), el("pre", { class: "body-hex" }, hexLines)),
    resendForm(m));
}

// resendForm resends one message to a group chosen by name (its consuming groups offered).
function resendForm(m) {
  const input = el("input", { class: "resend-group", list: "groups-of-" + m.commitLogOffset, placeholder: "consumer group",
    value: m.topic.startsWith("%DLQ%") ? m.topic.slice(5) : m.topic.startsWith("%RETRY%") ? m.topic.slice(7) : (m.consumers[0]?.group || "") });
  const f = el("form", { class: "inline resend-form" },
    el("label", {}, "resend to group", input),
    el("datalist", { id: "groups-of-" + m.commitLogOffset }, m.consumers.map((c) => el("option", { value: c.group }))),
    el("button", { class: "resend", type: "submit" }, "Resend…"));
  f.addEventListener("submit", (e) => { e.preventDefault(); resend(m, input.value.trim()); });
  return f;
}

// ---- page -----------------------------------------------------------------------------------

const pages = { overview, topics, groups, transactions, messages };
const page = document.body.dataset.page;
let refreshTimer = null;

async function render() {
  try {
    const nodes = await pages[page]();
    app.replaceChildren(...nodes);
  } catch (e) {
    app.replaceChildren(el("p", { class: "bad", id: "load-error" }, "Could not load: " + e.message));
  }
  document.body.dataset.loaded = page;
  document.body.dataset.renders = String(Number(document.body.dataset.renders || 0) + 1);
  // The first render's time from navigation to the frame after the data is in the DOM, for
  // BenchmarkPageRender.
  if (!document.body.dataset.firstPaintMs) requestAnimationFrame(() => setTimeout(() => { document.body.dataset.firstPaintMs = String(Math.round(performance.now())); }));
}

setupSignin();
render().then(() => {
  if (page === "overview") refreshTimer = setInterval(render, 2000);
});
