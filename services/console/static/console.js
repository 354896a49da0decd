// The Licentia console: one page, no framework, no third-party code. Every figure and
// action is a call to the services' Connect (JSON) face with the signed-in party's API
// key; the services decide what that key may see and do, the console only reflects it.
// The key lives in this tab's sessionStorage: never in a URL, a cookie or a log.

const SESSION = "licentia.session";
const DAY_MS = 86_400_000;
const COLOURS = ["#1f5fbf", "#d9822b", "#2a9d6f", "#a23b72", "#6c5ce7", "#8d6e63", "#00838f", "#c0392b"];

// ---------------------------------------------------------------- session and calls

const session = {
  get() {
    try { return JSON.parse(sessionStorage.getItem(SESSION) || "null"); } catch { return null; }
  },
  set(value) { sessionStorage.setItem(SESSION, JSON.stringify(value)); },
  clear() { sessionStorage.removeItem(SESSION); },
};

class ApiError extends Error {
  constructor(code, message, reason = "", violations = [], retryDelay = "", metadata = {}) {
    super(message);
    this.code = code;
    this.reason = reason;
    this.violations = violations;
    this.retryDelay = retryDelay;
    this.metadata = metadata;
  }

  // Connect's JSON error: {code, message, details: [{type, value, debug}]}.
  static from(body, status) {
    const details = Array.isArray(body.details) ? body.details : [];
    const debug = (type) => (details.find((d) => d.type === type) || {}).debug || {};
    return new ApiError(
      body.code || `http_${status}`,
      body.message || `The server answered ${status}.`,
      debug("google.rpc.ErrorInfo").reason || "",
      debug("google.rpc.BadRequest").fieldViolations || [],
      debug("google.rpc.RetryInfo").retryDelay || "",
      debug("google.rpc.ErrorInfo").metadata || {},
    );
  }
}

const SERVICES = {
  catalog: "licentia.catalog.v1.CatalogService",
  licensing: "licentia.licensing.v1.LicensingService",
  metering: "licentia.metering.v1.MeteringService",
  settlement: "licentia.settlement.v1.SettlementService",
  provenance: "licentia.provenance.v1.ProvenanceService",
};

async function call(service, method, body = {}, key = null) {
  return request(`/${SERVICES[service]}/${method}`, {
    method: "POST", body: JSON.stringify(body),
    headers: { "Content-Type": "application/json", "Connect-Protocol-Version": "1" },
  }, key);
}

// The edge's crawler analytics, through the console (same key, same error shape).
async function crawlerRows(hours) {
  return (await request(`/edge/crawlers?hours=${hours}`, {})).rows || [];
}

// One call with the session's key (or `key`): its JSON, or an ApiError from Connect's
// error JSON.
async function request(url, init, key = null) {
  const credential = key || (session.get() || {}).key;
  const headers = { ...(init.headers || {}) };
  if (credential) headers.Authorization = `Bearer ${credential}`;
  let response;
  try {
    response = await fetch(url, { ...init, headers, cache: "no-store", credentials: "omit", referrerPolicy: "no-referrer" });
  } catch {
    throw new ApiError("unavailable", "The console cannot reach its server. Check the connection and retry.");
  }
  const text = await response.text();
  let data = {};
  try { data = text ? JSON.parse(text) : {}; } catch { data = {}; }
  if (!response.ok) throw ApiError.from(data, response.status);
  return data;
}

// Every page of a list, up to a bound (the console shows the newest first).
async function all(service, method, body, field, pages = 20) {
  const items = [];
  let pageToken = "";
  for (let i = 0; i < pages; i += 1) {
    const answer = await call(service, method, { ...body, pageSize: 100, pageToken });
    items.push(...(answer[field] || []));
    pageToken = answer.nextPageToken || "";
    if (!pageToken) break;
  }
  return items;
}

// ---------------------------------------------------------------- building the page

function h(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
    else if (name === "dataset") Object.assign(node.dataset, value);
    else node.setAttribute(name, value === true ? "" : String(value));
  }
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

function svg(tag, attrs = {}, ...children) {
  const node = document.createElementNS("http://www.w3.org/2000/svg", tag);
  for (const [name, value] of Object.entries(attrs)) node.setAttribute(name, String(value));
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

function errorBox(error) {
  const e = error instanceof ApiError ? error : new ApiError("unknown", String(error && error.message || error));
  return h("div", { class: "error", role: "alert" },
    h("strong", {}, humanCode(e.code)), ": ", e.message,
    e.reason ? h("div", {}, "Reason: ", h("code", {}, e.reason)) : null,
    e.violations.length
      ? h("ul", {}, e.violations.map((v) => h("li", {}, h("code", {}, v.field || "request"), ": ", v.description || "")))
      : null,
    e.retryDelay ? h("div", {}, `Retry after ${e.retryDelay}.`) : null,
    Object.keys(e.metadata || {}).length
      ? h("dl", { class: "facts" }, Object.entries(e.metadata).map(([k, v]) => [h("dt", {}, k), h("dd", {}, v)]))
      : null,
  );
}

function humanCode(code) {
  const words = { permission_denied: "Not allowed", unauthenticated: "Not signed in",
    invalid_argument: "Check the form", not_found: "Not found", failed_precondition: "Not possible now",
    resource_exhausted: "Too many requests", unavailable: "Unavailable", aborted: "Changed meanwhile" };
  return words[code] || code;
}

function table(columns, rows, empty) {
  if (!rows.length) return h("p", { class: "empty" }, empty);
  return h("div", { class: "table-wrap" }, h("table", {},
    h("thead", {}, h("tr", {}, columns.map((c) => h("th", { scope: "col", class: c.num ? "num" : null }, c.title)))),
    h("tbody", {}, rows.map((row) => h("tr", {}, columns.map((c) => h("td", { class: c.num ? "num" : null }, c.cell(row)))))),
  ));
}

function state(value) {
  const text = String(value || "").replace(/^STATE_/, "").toLowerCase();
  const tone = { active: "good", published: "good", accepted: "good", paid: "good", closed: "good",
    open: "warn", draft: "warn", pending: "warn", closing: "warn", suspended: "warn",
    revoked: "bad", rejected: "bad", withdrawn: "bad", expired: "bad", failed: "bad" }[text] || "";
  return h("span", { class: `state ${tone}` }, text || "—");
}

// An action button: disabled while its call runs; the page reloads after, or shows why not.
function action(label, run, { kind = "", name = null } = {}) {
  const button = h("button", { type: "button", class: kind || null, "aria-label": name });
  button.textContent = label;
  button.addEventListener("click", async () => {
    button.disabled = true;
    try {
      await run();
      await render();
    } catch (error) {
      button.disabled = false;
      button.after(errorBox(error));
    }
  });
  return button;
}

// A form whose submit calls `run(values)`; errors appear under it, success reloads the page
// (or shows `run`'s own answer when it returns a node).
function form(attrs, fields, submitLabel, run) {
  const problems = h("div", { "aria-live": "polite" });
  const node = h("form", { class: "stack", novalidate: true, ...attrs }, fields,
    h("div", { class: "actions" }, h("button", { type: "submit" }, submitLabel)), problems);
  node.addEventListener("submit", async (event) => {
    event.preventDefault();
    const submit = node.querySelector("button[type=submit]");
    submit.disabled = true;
    problems.replaceChildren();
    try {
      const values = Object.fromEntries(new FormData(node).entries());
      const shown = await run(values, node);
      if (shown instanceof Node) { problems.replaceChildren(shown); submit.disabled = false; }
      else await render();
    } catch (error) {
      submit.disabled = false;
      problems.replaceChildren(errorBox(error));
    }
  });
  return node;
}

let fieldIds = 0;
function field(label, input, hint = "") {
  if (!hint) return h("label", {}, label, input);
  const id = `hint-${++fieldIds}`;
  input.setAttribute("aria-describedby", id);
  return h("div", { class: "field" }, h("label", {}, label, input), h("span", { class: "hint", id }, hint));
}

// ---------------------------------------------------------------- money and time

// Minor units (statements, charges, payouts) in their currency.
function money(amount, currency) {
  const value = Number(amount || 0);
  const digits = currencyDigits(currency);
  try {
    return new Intl.NumberFormat("en-US", { style: "currency", currency, minimumFractionDigits: digits })
      .format(value / 10 ** digits);
  } catch { return `${(value / 10 ** digits).toFixed(digits)} ${currency}`; }
}

function currencyDigits(currency) {
  try {
    return new Intl.NumberFormat("en-US", { style: "currency", currency }).resolvedOptions().maximumFractionDigits;
  } catch { return 2; }
}

// Prices are micros (millionths) of the currency: exact, shown with every digit they have.
function micros(amount, currency) {
  const value = BigInt(amount || 0);
  const whole = value / 1_000_000n;
  let fraction = (value % 1_000_000n).toString().padStart(6, "0").replace(/0+$/, "");
  if (fraction.length < 2) fraction = fraction.padEnd(2, "0");
  return `${currency || ""} ${whole}.${fraction}`.trim();
}

// "0.002" -> "2000": decimal text to micros without floating point.
function toMicros(text) {
  const match = /^\s*(\d{1,12})(?:\.(\d{0,6}))?\s*$/.exec(text || "");
  if (!match) throw new ApiError("invalid_argument", "A price is a number with at most six decimals, such as 0.002.", "", [{ field: "price", description: "not a decimal number with at most six decimals" }]);
  return (BigInt(match[1]) * 1_000_000n + BigInt((match[2] || "").padEnd(6, "0"))).toString();
}

function when(timestamp) {
  if (!timestamp) return "—";
  const date = new Date(timestamp);
  return date.toISOString().replace("T", " ").replace(/:\d\d(\.\d+)?Z$/, " UTC");
}

function price(terms) {
  const p = (terms || {}).price || {};
  const model = String(p.model || "MODEL_UNSPECIFIED").replace(/^MODEL_/, "").toLowerCase().replaceAll("_", " ");
  if (p.model === "MODEL_FREE") return "free";
  if (p.model === "MODEL_REVENUE_SHARE") return `revenue share ${(p.shareBps || 0) / 100}%`;
  if (p.model === "MODEL_SUBSCRIPTION") return `${micros(p.amountMicros, p.currency)} per ${String(p.interval || "").replace("INTERVAL_", "").toLowerCase() || "period"}`;
  return `${micros(p.amountMicros, p.currency)} ${model}`;
}

// The last 30 days, in whole hours (usage is summed per hour), to the end of this hour.
function usageWindow() {
  const hour = 3_600_000;
  const end = new Date(Math.ceil(Date.now() / hour) * hour);
  return { start: new Date(end.getTime() - 30 * DAY_MS), end };
}

// "MM-DD" of each day from start to end (the usage charts' x axis).
function daysOf(start, end) {
  const days = [];
  for (let t = start.getTime(); t <= end.getTime(); t += DAY_MS) days.push(new Date(t).toISOString().slice(5, 10));
  return days;
}

function shortName(name) { return String(name || "").split("/").slice(-1)[0]; }

function sumBy(rows, key, value) {
  const out = new Map();
  for (const row of rows) out.set(key(row), (out.get(key(row)) || 0) + Number(value(row) || 0));
  return out;
}

function csv(rows) {
  const quote = (v) => { const s = String(v ?? ""); return /[",\n]/.test(s) ? `"${s.replaceAll('"', '""')}"` : s; };
  return rows.map((r) => r.map(quote).join(",")).join("\r\n") + "\r\n";
}

function download(filename, text) {
  const url = URL.createObjectURL(new Blob([text], { type: "text/csv" }));
  const link = h("a", { href: url, download: filename });
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}

// ---------------------------------------------------------------- charts (SVG, no library)

// Stacked bars: `series` is [{label, values: Map(x -> number)}], `xs` the x labels in order.
function barChart(title, xs, series, format = (v) => String(v)) {
  // As wide as the page's content (so labels stay readable on a phone).
  const available = (document.getElementById("main").clientWidth || 760) - 40;
  const width = Math.max(300, Math.min(1120, available)), height = 260, left = 64, bottom = 36, top = 12, right = 8;
  const totals = xs.map((x) => series.reduce((sum, s) => sum + (s.values.get(x) || 0), 0));
  const step0 = Math.max(1, ...totals) / 4;
  const magnitude = 10 ** Math.floor(Math.log10(step0));
  const tick = Math.max(1, [1, 2, 5, 10].map((f) => f * magnitude).find((s) => s >= step0));
  const max = tick * 4;
  const plotW = width - left - right, plotH = height - top - bottom;
  const step = plotW / Math.max(1, xs.length);
  const barW = Math.max(4, Math.min(48, step * 0.7));
  const children = [svg("title", {}, title)];
  for (let i = 0; i <= 4; i += 1) {
    const y = top + plotH - (plotH * i) / 4;
    children.push(svg("line", { x1: left, x2: width - right, y1: y, y2: y, stroke: "#e3e7ec" }));
    children.push(svg("text", { x: left - 6, y: y + 4, "text-anchor": "end", "font-size": 11, fill: "#5b6470" }, format(tick * i)));
  }
  xs.forEach((x, i) => {
    let y = top + plotH;
    const cx = left + step * i + step / 2;
    series.forEach((s, k) => {
      const v = s.values.get(x) || 0;
      if (!v) return;
      const barH = (plotH * v) / max;
      y -= barH;
      children.push(svg("rect", { x: cx - barW / 2, y, width: barW, height: barH, fill: COLOURS[k % COLOURS.length] },
        svg("title", {}, `${s.label}, ${x}: ${format(v)}`)));
    });
    const labels = Math.max(2, Math.floor(plotW / 56));
    if (xs.length <= labels || i % Math.ceil(xs.length / labels) === 0) {
      children.push(svg("text", { x: cx, y: height - bottom + 16, "text-anchor": "middle", "font-size": 11, fill: "#5b6470" }, x));
    }
  });
  return h("figure", { class: "card chart" },
    h("figcaption", {}, h("strong", {}, title)),
    svg("svg", { viewBox: `0 0 ${width} ${height}`, role: "img", "aria-label": title }, children),
    h("div", { class: "legend" }, series.map((s, k) => h("span", {}, h("span", { class: "swatch", style: null, dataset: { colour: k } }), s.label))),
  );
}

// Swatch colours are set from script (the CSP allows no inline style attributes).
function paintSwatches(root) {
  for (const swatch of root.querySelectorAll(".swatch")) {
    swatch.style.background = COLOURS[Number(swatch.dataset.colour) % COLOURS.length];
  }
}

// ---------------------------------------------------------------- sign-in

function roleOf(account) {
  if (account === "operator") return "operator";
  if (/^publishers\/[a-z][a-z0-9-]{0,62}$/.test(account)) return "publisher";
  if (/^vendors\/[a-z][a-z0-9-]{0,62}$/.test(account)) return "vendor";
  return null;
}

function home(s) {
  if (!s) return "#/signin";
  return s.role === "operator" ? "#/operator/settlement"
    : s.role === "publisher" ? `#/${s.account}/overview` : `#/${s.account}/offers`;
}

function signInPage() {
  return h("section", { class: "signin card" },
    h("h1", {}, "Sign in"),
    h("p", {}, "Use the API key your Licentia operator gave your account. It is kept only in this browser tab and forgotten when the tab closes."),
    form({ id: "signin", "aria-label": "Sign in" }, [
      field("Account", h("input", { name: "account", required: true, autocomplete: "username", placeholder: "publishers/acme, vendors/answerco or operator" }),
        "publishers/<id>, vendors/<id>, or operator"),
      field("API key", h("input", { name: "key", type: "password", required: true, autocomplete: "current-password" })),
    ], "Sign in", async ({ account, key }) => {
      account = String(account || "").trim();
      const role = roleOf(account);
      if (!role) throw new ApiError("invalid_argument", "The account is publishers/<id>, vendors/<id> or operator.", "", [{ field: "account", description: "not an account name" }]);
      if (!key) throw new ApiError("invalid_argument", "Enter the account's API key.", "", [{ field: "key", description: "required" }]);
      await mayOpen({ role, account }, key); // the services decide
      session.set({ account, key, role });
      location.hash = home(session.get());
    }),
  );
}

// ---------------------------------------------------------------- publisher pages

// The party's statements with their lines (a list gives only the totals), newest first.
async function fullStatements(party, limit) {
  const listed = await all("settlement", "ListStatements", { party }, "statements");
  listed.sort((a, b) => Number(shortName(b.period)) - Number(shortName(a.period)));
  return Promise.all(listed.slice(0, limit).map((s) => call("settlement", "GetStatement", { name: s.name })));
}

async function publisherOverview(account) {
  const { start, end } = usageWindow();
  const [statements, byDay, byWork, byUse] = await Promise.all([
    fullStatements(account, 24),
    call("metering", "GetUsageSummary", { publisher: account, startTime: start.toISOString(), endTime: end.toISOString(), granularity: "GRANULARITY_DAY", groupBy: ["DIMENSION_VENDOR"] }),
    call("metering", "GetUsageSummary", { publisher: account, startTime: start.toISOString(), endTime: end.toISOString(), groupBy: ["DIMENSION_WORK"] }),
    call("metering", "GetUsageSummary", { publisher: account, startTime: start.toISOString(), endTime: end.toISOString(), groupBy: ["DIMENSION_USE"] }),
  ]);
  const currencies = [...new Set(statements.map((s) => s.currency))];
  const currency = currencies[0] || "USD";
  const inCurrency = statements.filter((s) => s.currency === currency);
  const periods = [...new Set(inCurrency.map((s) => shortName(s.period)))].sort((a, b) => Number(a) - Number(b));
  const vendors = [...new Set(inCurrency.flatMap((s) => (s.lines || []).map((l) => l.vendor)))];
  const revenue = vendors.map((vendor) => ({
    label: shortName(vendor),
    values: sumBy(inCurrency.flatMap((s) => (s.lines || []).filter((l) => l.vendor === vendor).map((l) => ({ ...l, p: shortName(s.period) }))), (l) => l.p, (l) => l.net),
  }));
  const net = inCurrency.reduce((sum, s) => sum + Number(s.net || 0), 0);
  const gross = inCurrency.reduce((sum, s) => sum + Number(s.gross || 0), 0);
  const commission = inCurrency.reduce((sum, s) => sum + Number(s.commission || 0), 0);
  const days = daysOf(start, end);
  const usageVendors = [...new Set((byDay.rows || []).map((r) => r.vendor))];
  const usage = usageVendors.map((vendor) => ({
    label: shortName(vendor),
    values: sumBy((byDay.rows || []).filter((r) => r.vendor === vendor), (r) => String(r.bucketStart).slice(5, 10), (r) => r.events),
  }));
  const worksByRevenue = [...sumBy(inCurrency.flatMap((s) => s.lines || []), (l) => l.work, (l) => l.net)]
    .sort((a, b) => b[1] - a[1]).slice(0, 10);
  const worksByUse = (byWork.rows || []).slice().sort((a, b) => Number(b.quantity) - Number(a.quantity)).slice(0, 10);
  const node = h("div", {},
    h("h1", {}, "Overview"),
    h("div", { class: "grid figures" },
      h("div", { class: "card" }, h("div", { class: "label" }, "Earned, net of commission"), h("div", { class: "figure", id: "net-revenue" }, money(net, currency))),
      h("div", { class: "card" }, h("div", { class: "label" }, "Billed to vendors (gross)"), h("div", { class: "figure" }, money(gross, currency))),
      h("div", { class: "card" }, h("div", { class: "label" }, "Marketplace commission"), h("div", { class: "figure" }, money(commission, currency))),
      h("div", { class: "card" }, h("div", { class: "label" }, "Statements"), h("div", { class: "figure" }, String(statements.length))),
    ),
    periods.length
      ? barChart(`Revenue per settlement period, net, by vendor (${currency})`, periods.map((p) => p), revenue, (v) => money(v, currency))
      : h("div", { class: "card" }, h("p", { class: "empty" }, "No revenue yet: revenue appears here once a settlement period that includes your works' usage is closed.")),
    (byDay.rows || []).length
      ? barChart("Usage events per day, last 30 days, by vendor", days, usage, (v) => Math.round(v).toLocaleString("en-US"))
      : h("div", { class: "card" }, h("p", { class: "empty" }, "No usage reported in the last 30 days.")),
    h("div", { class: "grid" },
      h("section", { class: "card" }, h("h2", {}, "Top works by revenue"),
        table([{ title: "Work", cell: (r) => shortName(r[0]) }, { title: "Net", num: true, cell: (r) => money(r[1], currency) }], worksByRevenue, "No billed works yet.")),
      h("section", { class: "card" }, h("h2", {}, "Top works by use (30 days)"),
        table([{ title: "Work", cell: (r) => shortName(r.work) }, { title: "Quantity", num: true, cell: (r) => Number(r.quantity).toLocaleString("en-US") }, { title: "Unit", cell: (r) => String(r.unit || "").replace("UNIT_", "").toLowerCase() }], worksByUse, "No usage yet.")),
      h("section", { class: "card" }, h("h2", {}, "By use (30 days)"),
        table([{ title: "Use", cell: (r) => r.use }, { title: "Events", num: true, cell: (r) => Number(r.events).toLocaleString("en-US") }], byUse.rows || [], "No usage yet.")),
    ),
  );
  return node;
}

// What the toll did with a crawler's request, in four kinds a person reads at a glance.
function outcomeKind(outcome) {
  if (outcome === "paid") return "charged";
  if (outcome === "payment-required") return "asked to pay";
  if (["licensed", "unlisted", "unverified-allowed"].includes(outcome)) return "allowed";
  return "refused";
}
const KINDS = ["allowed", "charged", "asked to pay", "refused"];

async function publisherCrawlers(account) {
  const rows = await crawlerRows(24 * 7);
  const days = [];
  const today = new Date();
  for (let i = 6; i >= 0; i -= 1) days.push(new Date(today.getTime() - i * DAY_MS).toISOString().slice(5, 10));
  const series = KINDS.map((kind) => ({
    label: kind,
    values: sumBy(rows.filter((r) => outcomeKind(r.outcome) === kind), (r) => String(r.hour).slice(5, 10), (r) => r.requests),
  }));
  const bots = new Map();
  for (const r of rows) {
    const key = `${r.crawler}\u0000${r.vendor}`;
    const bot = bots.get(key) || { crawler: r.crawler, vendor: r.vendor, total: 0, ...Object.fromEntries(KINDS.map((k) => [k, 0])) };
    bot[outcomeKind(r.outcome)] += Number(r.requests);
    bot.total += Number(r.requests);
    bots.set(key, bot);
  }
  const perBot = [...bots.values()].sort((a, b) => b.total - a.total);
  const count = (v) => Number(v || 0).toLocaleString("en-US");
  return h("div", {},
    h("h1", {}, "AI crawlers at your edge"),
    h("p", { class: "hint" }, "What the toll at your site did with AI crawlers' requests in the last 7 days (as counted by the edge that answered them)."),
    rows.length
      ? barChart("Crawler requests per day, by what the toll did", days, series, (v) => Math.round(v).toLocaleString("en-US"))
      : h("div", { class: "card" }, h("p", { class: "empty" }, "No AI crawler has reached your edge in the last 7 days.")),
    table([
      { title: "Crawler", cell: (b) => b.crawler }, { title: "Vendor", cell: (b) => b.vendor === "-" ? "unknown" : shortName(b.vendor) },
      ...KINDS.map((k) => ({ title: k[0].toUpperCase() + k.slice(1), num: true, cell: (b) => count(b[k]) })),
      { title: "Total", num: true, cell: (b) => count(b.total) },
    ], perBot, "No crawler traffic yet."),
  );
}

const MODELS = [
  ["MODEL_PER_USE", "Per use"], ["MODEL_PER_1K_TOKENS", "Per 1,000 tokens"], ["MODEL_PER_CRAWL", "Per crawl"],
  ["MODEL_SUBSCRIPTION", "Subscription"], ["MODEL_REVENUE_SHARE", "Revenue share"], ["MODEL_FREE", "Free"],
];
const USES = ["ai-train", "ai-input", "ai-index", "search"];

function offerForm(account) {
  return form({ id: "new-offer", "aria-label": "New offer" }, [
    field("Name", h("input", { name: "displayName", required: true, placeholder: "AI answers, all sections" })),
    field("Price model", h("select", { name: "model" }, MODELS.map(([v, t]) => h("option", { value: v }, t)))),
    h("div", { class: "grid" },
      field("Currency", h("input", { name: "currency", value: "USD", maxlength: 3 })),
      field("Price", h("input", { name: "amount", inputmode: "decimal", placeholder: "0.002" }), "per use, crawl, 1,000 tokens or period"),
      field("Revenue share (%)", h("input", { name: "share", inputmode: "decimal", placeholder: "for revenue share" })),
      field("Subscription interval", h("select", { name: "interval" }, h("option", { value: "INTERVAL_MONTH" }, "month"), h("option", { value: "INTERVAL_YEAR" }, "year"))),
      field("Auto-accept floor", h("input", { name: "floor", inputmode: "decimal", placeholder: "optional" }), "proposals at or above this price become licenses at once"),
      field("Licensed from (your time)", h("input", { name: "start", type: "datetime-local" }), "optional: licenses may cover use from this time on"),
    ),
    h("fieldset", {}, h("legend", {}, "Permitted uses"),
      USES.map((use) => h("label", { class: "check" }, h("input", { type: "checkbox", name: `use:${use}`, checked: use === "ai-input" }), use))),
  ], "Create offer", async (v) => {
    const price = { model: v.model, currency: (v.currency || "").toUpperCase() };
    if (["MODEL_PER_USE", "MODEL_PER_1K_TOKENS", "MODEL_PER_CRAWL", "MODEL_SUBSCRIPTION"].includes(v.model)) price.amountMicros = toMicros(v.amount);
    if (v.model === "MODEL_SUBSCRIPTION") price.interval = v.interval;
    if (v.model === "MODEL_REVENUE_SHARE") price.shareBps = Math.round(Number(v.share || 0) * 100);
    if (v.model === "MODEL_FREE") delete price.currency;
    const offer = {
      displayName: v.displayName,
      terms: { permittedUses: USES.filter((u) => v[`use:${u}`]), price },
    };
    if (v.floor) offer.autoAcceptFloorMicros = toMicros(v.floor);
    if (v.start) offer.terms.startTime = new Date(v.start).toISOString();
    await call("licensing", "CreateOffer", { parent: account, offer });
  });
}

async function publisherOffers(account) {
  const offers = await all("licensing", "ListOffers", { parent: account }, "offers");
  return h("div", {},
    h("h1", {}, "Offers"),
    table([
      { title: "Offer", cell: (o) => o.displayName || shortName(o.name) },
      { title: "Price", cell: (o) => price(o.terms) },
      { title: "Uses", cell: (o) => ((o.terms || {}).permittedUses || []).join(", ") || "any" },
      { title: "State", cell: (o) => state(o.state) },
      { title: "", cell: (o) => h("div", { class: "actions" },
        o.state === "STATE_DRAFT" ? action("Publish", () => call("licensing", "PublishOffer", { name: o.name, etag: o.etag }), { name: `Publish ${o.displayName}` }) : null,
        o.state === "STATE_PUBLISHED" ? action("Withdraw", () => call("licensing", "WithdrawOffer", { name: o.name, etag: o.etag }), { kind: "danger", name: `Withdraw ${o.displayName}` }) : null) },
    ], offers, "No offers yet: create your first one below, then publish it so vendors can see it."),
    h("section", { class: "card" }, h("h2", {}, "New offer"), offerForm(account)),
  );
}

function counterForm(proposal) {
  const p = ((proposal.terms || {}).price) || {};
  return form({ class: "row", "aria-label": `Counter ${shortName(proposal.name)}` }, [
    field(`Price (${p.currency || ""})`, h("input", { name: "amount", inputmode: "decimal", value: p.amountMicros ? micros(p.amountMicros).trim() : "" })),
    field("Note", h("input", { name: "note" })),
  ], "Counter", async ({ amount, note }) => {
    const terms = structuredClone(proposal.terms || {});
    terms.price = { ...(terms.price || {}), amountMicros: toMicros(amount) };
    await call("licensing", "CounterProposal", { name: proposal.name, terms, note, etag: proposal.etag });
  });
}

async function proposalsPage(account, party) {
  const proposals = await all("licensing", "ListProposals", {}, "proposals");
  const mine = proposals.filter((p) => (party === "PARTY_PUBLISHER" ? p.publisher : p.vendor) === account);
  const myTurn = (p) => p.state === "STATE_OPEN" && p.turn === party;
  return h("div", {},
    h("h1", {}, "Proposals"),
    table([
      { title: "Proposal", cell: (p) => shortName(p.name) },
      { title: party === "PARTY_PUBLISHER" ? "Vendor" : "Publisher", cell: (p) => shortName(party === "PARTY_PUBLISHER" ? p.vendor : p.publisher) },
      { title: "Price", cell: (p) => price(p.terms) },
      { title: "State", cell: (p) => h("span", {}, state(p.state), p.state === "STATE_OPEN" ? h("span", { class: "hint" }, myTurn(p) ? " your turn" : " waiting") : null) },
      { title: "Last step", cell: (p) => { const s = (p.steps || []).slice(-1)[0] || {}; return `${String(s.action || "").replace("ACTION_", "").toLowerCase()} ${s.note ? `— “${s.note}”` : ""}`; } },
      { title: "", cell: (p) => myTurn(p) ? h("div", {},
        h("div", { class: "actions" },
          action("Accept", () => call("licensing", "AcceptProposal", { name: p.name, etag: p.etag }), { name: `Accept ${shortName(p.name)}` }),
          action("Reject", () => call("licensing", "RejectProposal", { name: p.name, etag: p.etag }), { kind: "danger", name: `Reject ${shortName(p.name)}` })),
        counterForm(p)) : (p.license ? h("span", { class: "hint" }, `license ${shortName(p.license)}`) : null) },
    ], mine, "No proposals yet."),
  );
}

function reasonAction(label, run, kind, name) {
  return form({ class: "row", "aria-label": name }, [
    h("input", { name: "reason", placeholder: "reason", "aria-label": `${name}: reason` }),
  ], label, ({ reason }) => run(reason));
}

async function licensesPage(account, side) {
  const licenses = await all("licensing", "ListLicenses", { [side]: account }, "licenses");
  const publisher = side === "publisher";
  return h("div", {},
    h("h1", {}, "Licenses"),
    table([
      { title: "License", cell: (l) => shortName(l.name) },
      { title: publisher ? "Vendor" : "Publisher", cell: (l) => shortName(publisher ? l.vendor : l.publisher) },
      { title: "Price", cell: (l) => price(l.terms) },
      { title: "Commission", num: true, cell: (l) => `${(l.commissionBps || 0) / 100}%` },
      { title: "State", cell: (l) => h("span", {}, state(l.state), l.stateReason ? h("span", { class: "hint" }, ` ${l.stateReason}`) : null) },
      { title: "", cell: (l) => publisher ? h("div", {},
        l.state === "STATE_ACTIVE" ? reasonAction("Suspend", (reason) => call("licensing", "SuspendLicense", { name: l.name, reason }), "", `Suspend ${shortName(l.name)}`) : null,
        l.state === "STATE_SUSPENDED" ? action("Resume", () => call("licensing", "ResumeLicense", { name: l.name })) : null,
        ["STATE_ACTIVE", "STATE_SUSPENDED"].includes(l.state) ? reasonAction("Revoke", (reason) => call("licensing", "RevokeLicense", { name: l.name, reason }), "danger", `Revoke ${shortName(l.name)}`) : null)
        : (l.state === "STATE_ACTIVE" ? tokenButton(l) : null) },
    ], licenses, publisher ? "No licenses yet: they appear when a vendor's proposal is accepted." : "No licenses yet: propose on an offer to get one."),
  );
}

function tokenButton(license) {
  return resultButton("Issue token", null, () => call("licensing", "IssueLicenseToken", { license: license.name, ttl: "3600s" }),
    (answer) => h("label", {}, `Token (expires ${when(answer.expireTime)})`, h("textarea", { readonly: true, rows: 3, class: "token" }, answer.token)));
}

// A button whose call's answer (or error) is shown beside it, without reloading the page.
function resultButton(label, name, run, show) {
  const out = h("span", {});
  const button = h("button", { type: "button", class: "secondary", "aria-label": name }, label);
  button.addEventListener("click", async () => {
    button.disabled = true;
    try {
      out.replaceChildren(show(await run()));
    } catch (error) { out.replaceChildren(errorBox(error)); }
    button.disabled = false;
  });
  return h("div", {}, button, out);
}

async function statementsPage(account) {
  const statements = await all("settlement", "ListStatements", { party: account }, "statements");
  statements.sort((a, b) => Number(shortName(b.period)) - Number(shortName(a.period)));
  const latest = statements.length ? await call("settlement", "GetStatement", { name: statements[0].name }) : null;
  return h("div", {},
    h("h1", {}, "Statements"),
    table([
      { title: "Period", cell: (s) => shortName(s.period) },
      { title: "Currency", cell: (s) => s.currency },
      { title: "Gross", num: true, cell: (s) => money(s.gross, s.currency) },
      { title: "Commission", num: true, cell: (s) => money(s.commission, s.currency) },
      { title: "Net", num: true, cell: (s) => money(s.net, s.currency) },
      { title: "Issued", cell: (s) => when(s.issueTime) },
      { title: "", cell: (s) => h("div", { class: "actions" },
        h("button", { type: "button", class: "secondary", "aria-label": `Download statement ${shortName(s.name)} as CSV`, onclick: async () => download(`${s.name.replaceAll("/", "-")}.csv`, statementCsv(await call("settlement", "GetStatement", { name: s.name }))) }, "CSV")) },
    ], statements, "No statements yet: one is issued for each settlement period your works earned in."),
    latest ? h("section", { class: "card" }, h("h2", {}, `Lines of period ${shortName(latest.period)}`),
      table([
        { title: "Vendor", cell: (l) => shortName(l.vendor) }, { title: "Work", cell: (l) => shortName(l.work) },
        { title: "Use", cell: (l) => l.use }, { title: "Kind", cell: (l) => l.kind },
        { title: "Gross", num: true, cell: (l) => money(l.gross, latest.currency) },
        { title: "Commission", num: true, cell: (l) => money(l.commission, latest.currency) },
        { title: "Net", num: true, cell: (l) => money(l.net, latest.currency) },
      ], latest.lines || [], "No lines.")) : null,
    await payoutsSection(account),
  );
}

function statementCsv(s) {
  const digits = currencyDigits(s.currency);
  const amount = (v) => (Number(v || 0) / 10 ** digits).toFixed(digits);
  return csv([
    ["statement", "period", "currency", "vendor", "license", "work", "use", "unit", "kind", "gross", "commission_bps", "commission", "net", "adjustment"],
    ...(s.lines || []).map((l) => [s.name, s.period, s.currency, l.vendor, l.license, l.work, l.use, l.unit, l.kind, amount(l.gross), l.commissionBps || 0, amount(l.commission), amount(l.net), l.adjustment ? "yes" : "no"]),
    [s.name, s.period, s.currency, "", "", "", "", "", "total", amount(s.gross), "", amount(s.commission), amount(s.net), ""],
  ]);
}

async function payoutsSection(party, operator = false) {
  const payouts = await all("settlement", "ListPayouts", party ? { party } : {}, "payouts");
  const confirm = (p) => h("div", {},
    form({ class: "row", "aria-label": `Paid ${shortName(p.name)}` }, [
      h("input", { name: "reference", placeholder: "bank reference", "aria-label": `Bank reference of ${shortName(p.name)}` }),
    ], "Paid", ({ reference }) => call("settlement", "ConfirmPayout", { name: p.name, outcome: "OUTCOME_PAID", externalReference: reference })),
    form({ class: "row", "aria-label": `Failed ${shortName(p.name)}` }, [
      h("input", { name: "reason", placeholder: "why it failed", "aria-label": `Why ${shortName(p.name)} failed` }),
    ], "Failed", ({ reason }) => call("settlement", "ConfirmPayout", { name: p.name, outcome: "OUTCOME_FAILED", failureReason: reason })));
  return h("section", { class: "card" }, h("h2", {}, "Payouts"),
    table([
      { title: "Payout", cell: (p) => shortName(p.name) },
      { title: "Party", cell: (p) => p.party },
      { title: "Amount", num: true, cell: (p) => money(p.amount, p.currency) },
      { title: "State", cell: (p) => state(p.state) },
      { title: "Reference", cell: (p) => p.externalReference || p.failureReason || "" },
      { title: "Updated", cell: (p) => when(p.updateTime) },
      ...(operator ? [{ title: "", cell: (p) => (p.state === "STATE_PENDING" ? confirm(p) : null) }] : []),
    ], payouts, "No payouts yet."),
    payouts.length ? h("button", { type: "button", class: "secondary", onclick: () => download("payouts.csv", csv([["payout", "party", "currency", "amount", "state", "reference"], ...payouts.map((p) => [p.name, p.party, p.currency, (Number(p.amount) / 10 ** currencyDigits(p.currency)).toFixed(currencyDigits(p.currency)), p.state, p.externalReference || ""])])) }, "Download payouts CSV") : null);
}

// ---------------------------------------------------------------- vendor pages

async function vendorOffers(account) {
  const offers = await all("licensing", "ListOffers", { parent: "publishers/-", state: "STATE_PUBLISHED" }, "offers");
  return h("div", {},
    h("h1", {}, "Offers you can take"),
    table([
      { title: "Offer", cell: (o) => o.displayName || shortName(o.name) },
      { title: "Publisher", cell: (o) => o.name.split("/")[1] },
      { title: "Price", cell: (o) => price(o.terms) },
      { title: "Uses", cell: (o) => ((o.terms || {}).permittedUses || []).join(", ") || "any" },
      { title: "Propose", cell: (o) => proposeForm(o) },
    ], offers, "No published offers yet."),
  );
}

function proposeForm(offer) {
  const p = ((offer.terms || {}).price) || {};
  const priced = p.amountMicros !== undefined;
  return form({ class: "row", "aria-label": `Propose on ${offer.displayName}` }, [
    priced ? field(`Price (${p.currency || ""})`, h("input", { name: "amount", inputmode: "decimal", value: micros(p.amountMicros).trim() })) : null,
    field("Note", h("input", { name: "note" })),
  ], "Propose", async ({ amount, note }) => {
    const terms = structuredClone(offer.terms || {});
    if (priced) terms.price = { ...terms.price, amountMicros: toMicros(amount) };
    const proposal = await call("licensing", "CreateProposal", { offer: offer.name, terms, note });
    return h("div", { class: "notice", role: "status" }, proposal.license
      ? `Accepted at once: license ${shortName(proposal.license)}.`
      : `Proposal ${shortName(proposal.name)} sent; the publisher answers on your Proposals page.`);
  });
}

async function vendorCharges(account) {
  const charges = await call("settlement", "GetRunningCharges", { vendor: account });
  return h("div", {},
    h("h1", {}, "Running charges"),
    h("p", {}, `This period so far: from ${when(charges.startTime)} to ${when(charges.asOfTime)}.`),
    h("div", { class: "grid" }, (charges.totals || []).map((t) => h("div", { class: "card" },
      h("div", { class: "label" }, `Charges in ${t.currency}`), h("div", { class: "figure" }, money(t.total, t.currency)),
      t.budget ? h("div", {}, `Budget ${money(t.budget.amount, t.currency)}`, t.overBudget ? h("span", { class: "state bad" }, " over budget") : t.alert ? h("span", { class: "state warn" }, " near budget") : null) : h("div", { class: "hint" }, "No budget set.")))),
    table([
      { title: "License", cell: (l) => shortName(l.license) }, { title: "Work", cell: (l) => shortName(l.work) },
      { title: "Use", cell: (l) => l.use }, { title: "Quantity", num: true, cell: (l) => `${Number(l.quantity).toLocaleString("en-US")} ${l.unit}` },
      { title: "Amount", num: true, cell: (l) => money(l.amount, ((charges.totals || [])[0] || {}).currency || "USD") },
    ], charges.lines || [], "No charges this period."),
    h("section", { class: "card" }, h("h2", {}, "Budget"),
      form({ class: "row", "aria-label": "Set budget" }, [
        field("Currency", h("input", { name: "currency", value: "USD", maxlength: 3 })),
        field("Amount", h("input", { name: "amount", inputmode: "decimal" })),
        field("Alert at (%)", h("input", { name: "alert", value: "80", inputmode: "numeric" })),
      ], "Set budget", async ({ currency, amount, alert }) => {
        const digits = currencyDigits(currency);
        const minor = Math.round(Number(amount) * 10 ** digits);
        if (!Number.isFinite(minor) || minor <= 0) throw new ApiError("invalid_argument", "The budget is a positive amount.", "", [{ field: "amount", description: "not a positive amount" }]);
        await call("settlement", "SetBudget", { budget: { vendor: account, currency: currency.toUpperCase(), amount: String(minor), alertThresholdBps: Math.round(Number(alert) * 100) } });
      })),
  );
}

async function vendorUsage(account) {
  const { start, end } = usageWindow();
  const [byDay, byWork] = await Promise.all([
    call("metering", "GetUsageSummary", { vendor: account, startTime: start.toISOString(), endTime: end.toISOString(), granularity: "GRANULARITY_DAY", groupBy: ["DIMENSION_PUBLISHER"] }),
    call("metering", "GetUsageSummary", { vendor: account, startTime: start.toISOString(), endTime: end.toISOString(), groupBy: ["DIMENSION_WORK", "DIMENSION_USE"] }),
  ]);
  const days = daysOf(start, end);
  const publishers = [...new Set((byDay.rows || []).map((r) => r.publisher))];
  return h("div", {},
    h("h1", {}, "Usage"),
    (byDay.rows || []).length
      ? barChart("Usage events per day, last 30 days, by publisher", days, publishers.map((p) => ({ label: shortName(p), values: sumBy((byDay.rows || []).filter((r) => r.publisher === p), (r) => String(r.bucketStart).slice(5, 10), (r) => r.events) })), (v) => Math.round(v).toLocaleString("en-US"))
      : h("p", { class: "empty" }, "No usage reported in the last 30 days."),
    table([
      { title: "Work", cell: (r) => r.work }, { title: "Use", cell: (r) => r.use },
      { title: "Quantity", num: true, cell: (r) => Number(r.quantity).toLocaleString("en-US") },
      { title: "Events", num: true, cell: (r) => Number(r.events).toLocaleString("en-US") },
    ], byWork.rows || [], "No usage yet."),
  );
}

// ---------------------------------------------------------------- operator pages

async function operatorAccounts() {
  const [publishers, vendors] = await Promise.all([
    all("catalog", "ListPublishers", {}, "publishers"),
    all("catalog", "ListVendors", {}, "vendors"),
  ]);
  const keyForm = (account) => form({ class: "row", "aria-label": `New key for ${account}` }, [
    h("input", { name: "label", placeholder: "key label", "aria-label": `Label of a new key for ${account}` }),
  ], "New key", async ({ label }) => {
    const answer = await call("catalog", "CreateApiKey", { parent: account, apiKey: { displayName: label || "console" } });
    return h("div", { class: "notice", role: "status" }, "Shown once — hand it to the account over a safe channel: ", h("code", {}, answer.key));
  });
  const keys = new Map(await Promise.all([...publishers, ...vendors].map(async (a) =>
    [a.name, await all("catalog", "ListApiKeys", { parent: a.name }, "apiKeys")])));
  const keyList = (account) => h("ul", { class: "keys" }, (keys.get(account) || []).map((k) => h("li", {},
    `${k.displayName || shortName(k.name)} · since ${when(k.createTime)} `,
    k.revokeTime ? h("span", { class: "state bad" }, "revoked")
      : action("Revoke", () => call("catalog", "RevokeApiKey", { name: k.name }), { kind: "danger", name: `Revoke key ${k.displayName || shortName(k.name)} of ${account}` }))));
  const accountTable = (rows, empty) => table([
    { title: "Account", cell: (a) => a.name }, { title: "Name", cell: (a) => a.displayName },
    { title: "Contact", cell: (a) => a.contactEmail || "" }, { title: "Since", cell: (a) => when(a.createTime) },
    { title: "API keys", cell: (a) => h("div", {}, keyList(a.name), keyForm(a.name)) },
  ], rows, empty);
  return h("div", {},
    h("h1", {}, "Accounts"),
    h("h2", {}, "Publishers"), accountTable(publishers, "No publishers yet."),
    h("h2", {}, "Vendors"), accountTable(vendors, "No vendors yet."),
    h("section", { class: "card" }, h("h2", {}, "Commission rate"),
      form({ class: "row", "aria-label": "Commission rate" }, [
        field("Publisher", h("select", { name: "publisher" }, publishers.map((p) => h("option", { value: p.name }, p.name)))),
        field("Commission (%)", h("input", { name: "rate", inputmode: "decimal", placeholder: "e.g. 15" })),
      ], "Set rate", async ({ publisher, rate }) => {
        const bps = Math.round(Number(rate) * 100);
        const answer = await call("licensing", "SetCommissionRate", { publisher, commissionBps: bps });
        return h("div", { class: "notice", role: "status" }, `${answer.publisher}: ${(answer.commissionBps || 0) / 100}% on licenses agreed from now on.`);
      })),
  );
}

async function operatorSettlement() {
  const [periods, balance] = await Promise.all([
    all("settlement", "ListSettlementPeriods", {}, "periods"),
    call("settlement", "GetTrialBalance", {}),
  ]);
  periods.sort((a, b) => Number(b.number) - Number(a.number));
  const last = periods[0];
  const hour = 3_600_000;
  const lastHour = new Date(Math.floor(Date.now() / hour) * hour);
  const local = (d) => new Date(d.getTime() - d.getTimezoneOffset() * 60000).toISOString().slice(0, 16);
  const statements = last ? await all("settlement", "ListStatements", { period: last.name }, "statements") : [];
  return h("div", {},
    h("h1", {}, "Settlement"),
    h("section", { class: "card" }, h("h2", {}, "Close a period"),
      h("p", {}, last ? `The next period starts where period ${last.number} ended (${when(last.endTime)}).` : "The first period starts with the first usage."),
      form({ class: "row", id: "close-period", "aria-label": "Close a period" }, [
        last ? null : field("Starts at (your time)", h("input", { name: "start", type: "datetime-local", step: 3600, value: local(new Date(lastHour.getTime() - DAY_MS)) }), "the first period only; later ones start where the last ended"),
        field("Ends at (your time)", h("input", { name: "end", type: "datetime-local", step: 3600, value: local(lastHour) }), "on the hour, and not in the future"),
      ], "Close period", async ({ start, end }) => {
        const endTime = new Date(end);
        if (Number.isNaN(endTime.getTime())) throw new ApiError("invalid_argument", "Choose when the period ends.", "", [{ field: "end_time", description: "not a time" }]);
        const body = { endTime: endTime.toISOString() };
        if (start) body.startTime = new Date(start).toISOString();
        const period = await call("settlement", "CloseSettlementPeriod", body);
        return h("div", { class: "notice", role: "status" }, `Period ${period.number} is ${String(period.state).replace("STATE_", "").toLowerCase()}.`);
      })),
    h("h2", {}, "Periods"),
    table([
      { title: "Period", cell: (p) => p.number }, { title: "From", cell: (p) => when(p.startTime) },
      { title: "To", cell: (p) => when(p.endTime) }, { title: "State", cell: (p) => state(p.state) },
      { title: "Step", cell: (p) => p.step || "" },
    ], periods, "No periods closed yet."),
    h("h2", {}, "Trial balance"),
    table([
      { title: "Currency", cell: (c) => c.currency },
      { title: "Debits", num: true, cell: (c) => money(c.totalDebits, c.currency) },
      { title: "Credits", num: true, cell: (c) => money(c.totalCredits, c.currency) },
      { title: "Balanced", cell: (c) => c.balanced ? h("span", { class: "state good" }, "balanced") : h("span", { class: "state bad" }, "NOT balanced") },
    ], balance.currencies || [], "The ledger is empty."),
    last ? h("section", {}, h("h2", {}, `Statements of period ${last.number}`),
      table([
        { title: "Party", cell: (s) => s.party }, { title: "Net", num: true, cell: (s) => money(s.net, s.currency) },
        { title: "Verify", cell: (s) => verifyButton(s) },
        { title: "Pay out", cell: (s) => action("Pay out", () => call("settlement", "CreatePayout", { party: s.party, currency: s.currency, requestId: `console-${s.name}` }), { kind: "secondary", name: `Pay out ${s.party}'s balance` }) },
      ], statements, "No statements in this period.")) : null,
    await payoutsSection("", true),
  );
}

function verifyButton(statement) {
  return resultButton("Verify", `Verify ${statement.name}`, () => call("settlement", "VerifyStatement", { name: statement.name }),
    (answer) => (answer.valid ? h("span", { class: "state good" }, " valid") : h("span", { class: "state bad" }, ` invalid: ${(answer.problems || []).join("; ")}`)));
}

// ---------------------------------------------------------------- routing

const PAGES = {
  publisher: [
    ["overview", "Overview", publisherOverview],
    ["offers", "Offers", publisherOffers],
    ["proposals", "Proposals", (a) => proposalsPage(a, "PARTY_PUBLISHER")],
    ["licenses", "Licenses", (a) => licensesPage(a, "publisher")],
    ["statements", "Statements", statementsPage],
    ["crawlers", "Crawlers", publisherCrawlers],
  ],
  vendor: [
    ["offers", "Offers", vendorOffers],
    ["proposals", "Proposals", (a) => proposalsPage(a, "PARTY_VENDOR")],
    ["licenses", "Licenses", (a) => licensesPage(a, "vendor")],
    ["charges", "Charges", vendorCharges],
    ["usage", "Usage", vendorUsage],
  ],
  operator: [
    ["settlement", "Settlement", operatorSettlement],
    ["accounts", "Accounts", operatorAccounts],
  ],
};

function route() {
  const parts = location.hash.replace(/^#\/?/, "").split("/").filter(Boolean);
  if (parts[0] === "operator") return { role: "operator", account: "operator", page: parts[1] || "settlement" };
  if (parts[0] === "publishers" && parts[1]) return { role: "publisher", account: `publishers/${parts[1]}`, page: parts[2] || "overview" };
  if (parts[0] === "vendors" && parts[1]) return { role: "vendor", account: `vendors/${parts[1]}`, page: parts[2] || "offers" };
  return { role: null, page: parts[0] || "" };
}

function renderChrome(s, r) {
  const nav = document.getElementById("nav");
  const who = document.getElementById("who");
  nav.replaceChildren();
  who.replaceChildren();
  if (!s) return;
  const base = s.role === "operator" ? "#/operator" : `#/${s.account}`;
  for (const [id, title] of PAGES[s.role]) {
    nav.append(h("a", { href: `${base}/${id}`, "aria-current": r.page === id && r.account === s.account ? "page" : null }, title));
  }
  who.append(h("span", {}, s.account), h("button", { type: "button", class: "secondary", onclick: () => { session.clear(); location.hash = "#/signin"; } }, "Sign out"));
}

// An account's pages open only if the services let this key read the account (some
// lists quietly narrow to the caller's own rows: without this a page could show the
// caller's data under another account's name).
const readable = new Set();
async function mayOpen(r, key = (session.get() || {}).key) {
  const seen = `${key}|${r.account}`;
  if (readable.has(seen)) return;
  if (r.role === "publisher") await call("catalog", "GetPublisher", { name: r.account }, key);
  else if (r.role === "vendor") await call("catalog", "GetVendor", { name: r.account }, key);
  else await call("catalog", "ListVendors", { pageSize: 1 }, key);
  readable.add(seen);
}

let rendering = 0;
async function render() {
  const ticket = ++rendering;
  const main = document.getElementById("main");
  const s = session.get();
  const r = route();
  renderChrome(s, r);
  if (!s || r.page === "signin" && !r.role) {
    if (s && r.page === "signin") { location.hash = home(s); return; }
    main.replaceChildren(signInPage());
    main.dataset.shown = location.hash;
    document.title = "Sign in · Licentia console";
    main.querySelector("input").focus();
    return;
  }
  if (!r.role) { location.hash = home(s); return; }
  const page = (PAGES[r.role] || []).find(([id]) => id === r.page);
  if (!page) {
    main.replaceChildren(h("h1", {}, "Not found"), h("p", {}, "There is no such page. ", h("a", { href: home(s) }, "Go to your start page.")));
    return;
  }
  document.title = `${page[1]} · Licentia console`;
  main.setAttribute("aria-busy", "true");
  delete main.dataset.shown;
  main.replaceChildren(h("p", { class: "loading" }, `Loading ${page[1].toLowerCase()}…`));
  let content;
  try {
    await mayOpen(r);
    content = await page[2](r.account);
  } catch (error) {
    content = h("div", {}, h("h1", {}, page[1]), errorBox(error));
  }
  if (ticket !== rendering) return; // a newer navigation won
  main.removeAttribute("aria-busy");
  main.replaceChildren(content);
  main.dataset.shown = location.hash; // the page for this address is complete
  performance.mark("licentia:data-shown", { detail: location.hash });
  paintSwatches(main);
}

// The skip link moves focus to the page's content without touching the address (which
// is the page's route).
document.querySelector(".skip").addEventListener("click", (event) => {
  event.preventDefault();
  document.getElementById("main").focus();
});
window.addEventListener("hashchange", () => { render(); document.getElementById("main").focus({ preventScroll: true }); });
render();
