// The agent console: one screen of a customer from the ucid serving API.
// Plain ES module, no framework, no build. Every value from the API is written with textContent
// (never innerHTML), and every /v1 call carries the agent's key (X-API-Key, kept in sessionStorage).

const KEY_STORE = "ucid.console.key";
const UCID = /^U[0-9A-HJKMNP-TV-Z]{20}$/;
const PHONE_LIKE = /^[+()\d\s.\-]+$/;
const PLAN_KEYS = ["plan", "monthly_amount", "account_status", "payment_method", "last_payment_date",
  "customer_since", "loyalty_tier", "loyalty_enrolled_at"];

const $ = (sel) => document.querySelector(sel);
const state = { key: sessionStorage.getItem(KEY_STORE), types: [], searched: null, ucid: null };

// -- small helpers -------------------------------------------------------------------------

function el(tag, text, cls) {
  const node = document.createElement(tag);
  if (text !== undefined && text !== null) node.textContent = String(text);
  if (cls) node.className = cls;
  return node;
}

function when(iso) {
  if (!iso) return "";
  return String(iso).replace("T", " ").slice(0, 16);
}

function say(text, kind = "info") {
  const box = $("#message");
  box.textContent = text || "";
  box.dataset.kind = kind;
}

function fill(target, nodes) {
  target.replaceChildren(...nodes);
}

function facts(dl, pairs) {
  const nodes = [];
  for (const [label, value] of pairs) {
    if (value === undefined || value === null || value === "") continue;
    nodes.push(el("dt", label), el("dd", value));
  }
  if (!nodes.length) nodes.push(el("dd", "nothing recorded", "empty"));
  fill(dl, nodes);
}

class ApiError extends Error {
  constructor(status, body) {
    super((body && body.detail && typeof body.detail === "string") ? body.detail : `HTTP ${status}`);
    this.status = status;
    this.code = body && body.error;
  }
}

async function api(path, options = {}) {
  const headers = { "X-API-Key": state.key || "", ...(options.body ? { "Content-Type": "application/json" } : {}) };
  const response = await fetch(path, { ...options, headers });
  const body = await response.json().catch(() => null);
  if (!response.ok) throw new ApiError(response.status, body);
  return body;
}

// -- the key -------------------------------------------------------------------------------

function askForKey(text, kind = "info") {
  $("#key-form").hidden = false;
  $("#search-form").hidden = true;
  $("#customer").hidden = true;
  $("#forget-key").hidden = true;
  say(text, kind);
  $("#key-input").focus();
}

async function checkKey() {
  let session;
  try {
    session = await api("/v1/console/session");
  } catch (err) {
    if (err.status === 403) {
      return askForKey(`This key does not open the console: it lacks the "console" scope. ` +
        `Ask for a key with: ucid keys create --name <you> --scope console --scope resolve ` +
        `--scope profile:read --scope explain. (${err.message})`, "error");
    }
    if (err.status === 401) return askForKey(`This key is not accepted: ${err.message}`, "error");
    return askForKey(`The API did not answer (${err.message}); try again.`, "error");
  }
  if (session.missing.length) {
    return askForKey(`This key holds "console" but lacks ${session.missing.join(", ")}: ` +
      `the console needs them to show a customer.`, "error");
  }
  state.types = session.identifierTypes;
  const select = $("#id-type");
  fill(select, [el("option", "auto"), ...state.types.map((t) => el("option", t))]);
  $("#who").textContent = `${session.name} (${session.keyId})`;
  $("#key-form").hidden = true;
  $("#search-form").hidden = false;
  $("#forget-key").hidden = false;
  say("Search by phone, e-mail, any identifier or UCID.");
  $("#search").focus();
}

// -- search --------------------------------------------------------------------------------

function candidates(value) {
  if (value.includes("@")) return ["email"];
  const digits = value.replace(/\D/g, "").length;
  const rest = state.types.filter((t) => t !== "email" && t !== "phone");
  if (PHONE_LIKE.test(value) && digits >= 7) return ["phone", ...rest];
  return rest;
}

async function search(raw) {
  const value = raw.trim();
  if (!value) return;
  $("#choices").hidden = true;
  const chosen = $("#id-type").value;
  if (chosen === "auto" && UCID.test(value.toUpperCase())) {
    return show(value.toUpperCase(), null);
  }
  const types = chosen === "auto" ? candidates(value) : [chosen];
  say(`Searching ${value} …`);
  let answer;
  try {
    answer = await api("/v1/resolve/batch", {
      method: "POST", body: JSON.stringify({ identifiers: types.map((type) => ({ type, value })) }),
    });
  } catch (err) {
    return say(`Search failed: ${err.message}`, "error");
  }
  const found = answer.results.filter((r) => r.status === "found");
  const byUcid = new Map();
  for (const r of found) if (!byUcid.has(r.resolution.ucid)) byUcid.set(r.resolution.ucid, r.resolution);
  if (byUcid.size === 0) {
    $("#customer").hidden = true;
    const invalid = answer.results.filter((r) => r.status === "invalid");
    const why = types.length === 1 && invalid.length ? ` (${invalid[0].detail})` : "";
    return say(`No customer found for ${value}${why}.`, "warn");
  }
  if (byUcid.size === 1) {
    const [resolution] = byUcid.values();
    return show(resolution.ucid, resolution);
  }
  say(`${byUcid.size} customers hold ${value} as different identifier types; pick one:`);
  const items = [...byUcid.values()].map((r) => {
    const li = el("li");
    const button = el("button", `${r.type} ${r.value} → ${r.ucid}`);
    button.type = "button";
    button.addEventListener("click", () => { $("#choices").hidden = true; show(r.ucid, r); });
    li.append(button);
    return li;
  });
  fill($("#choices"), items);
  $("#choices").hidden = false;
  $("#choices button").focus();
}

// -- the 360 -------------------------------------------------------------------------------

async function show(ucid, resolution) {
  state.searched = resolution ? { type: resolution.type, value: resolution.value } : null;
  say(`Loading ${ucid} …`);
  const started = performance.now();
  const calls = await Promise.allSettled([
    api(`/v1/profiles/${encodeURIComponent(ucid)}?limit=10`),
    api(`/v1/profiles/${encodeURIComponent(ucid)}/consents`),
    api(`/v1/profiles/${encodeURIComponent(ucid)}/contacts?limit=12`),
    api(`/v1/console/customers/${encodeURIComponent(ucid)}/history`),
  ]);
  const [doc, consents, contacts, history] = calls;
  if (doc.status === "rejected") {
    $("#customer").hidden = true;
    const err = doc.reason;
    return say(err.status === 404 ? `No live customer for ${ucid}.` : `Could not load ${ucid}: ${err.message}`,
      err.status === 404 ? "warn" : "error");
  }
  const profile = doc.value;
  state.ucid = profile._id.ucid;
  renderSummary(profile, resolution);
  renderIdentities(profile);
  renderProducts(profile);
  renderTraits(profile);
  section("#consents", consents, renderConsents);
  section("#contacts", contacts, renderContacts);
  section("#history", history, renderHistory);
  section("#triggers", history, renderTriggers);
  fill($("#explain"), []);
  $("#customer").hidden = false;
  $("#customer").dataset.ucid = state.ucid;
  say(`Customer ${state.ucid} (${Math.round(performance.now() - started)} ms).`);
}

function section(id, settled, render) {
  const node = $(id);
  node.querySelector(".failed")?.remove();
  if (settled.status === "fulfilled") return render(settled.value);
  node.append(el("p", `Not available: ${settled.reason.message}`, "failed"));
}

function renderSummary(doc, resolution) {
  const a = doc.profile.attributes;
  const name = a.full_name || [a.first_name, a.last_name].filter(Boolean).join(" ") || "(no name on file)";
  $("#customer-name").textContent = name;
  $("#customer-ucid").textContent = doc._id.ucid;
  const note = $("#merged-note");
  const mergedFrom = (resolution && resolution.merged_from.length) ? resolution.merged_from : doc._id.mergedFrom;
  if (mergedFrom.length) {
    const asked = resolution ? `${resolution.type} ${resolution.value}` : doc._id.requested;
    note.textContent = `Merged: ${asked} was under ${mergedFrom.join(" → ")}, now part of ${doc._id.ucid}.`;
    note.hidden = false;
  } else {
    note.hidden = true;
  }
  const fresh = doc.platformHeader.dataFreshness;
  facts($("#summary-facts"), [
    ["city", [a.city, a.state, a.country].filter(Boolean).join(", ")],
    ["born", a.birth_date],
    ["lifetime spend", doc.profile.lifetimeSpend],
    ["first seen", when(doc.profile.firstSeen)],
    ["last seen", when(doc.profile.lastSeen)],
    ["data", `batch ${when(fresh.batchSnapshot) || "none"}; ${fresh.speedUpdatesApplied} real-time update(s)` +
      (fresh.speedUpdatedAt ? ` until ${when(fresh.speedUpdatedAt)}` : "")],
  ]);
}

function renderIdentities(doc) {
  const rows = [];
  const first = Object.entries(doc.identity).flatMap(([t, list]) => list.map((i) => ({ type: t, value: i.value })))[0];
  const anchor = state.searched || first;
  for (const [type, list] of Object.entries(doc.identity).sort()) {
    for (const id of list) {
      const tr = el("tr");
      tr.append(el("td", type), el("td", id.value), el("td", id.source), el("td", when(id.lastSeen).slice(0, 10)));
      const cell = el("td");
      const isAnchor = anchor && anchor.type === type && anchor.value === id.value;
      if (isAnchor && state.searched) tr.className = "searched";
      if (anchor && !isAnchor) {
        const button = el("button", "why?");
        button.type = "button";
        button.title = `why is ${type} ${id.value} the same customer as ${anchor.type} ${anchor.value}?`;
        button.addEventListener("click", () => explain(anchor, { type, value: id.value }));
        cell.append(button);
      }
      tr.append(cell);
      rows.push(tr);
    }
  }
  if (!rows.length) rows.push(emptyRow(5));
  fill($("#identities tbody"), rows);
}

function emptyRow(span) {
  const tr = el("tr");
  const td = el("td", "nothing recorded", "empty");
  td.colSpan = span;
  tr.append(td);
  return tr;
}

function renderProducts(doc) {
  const a = doc.profile.attributes;
  const products = [...new Set(doc.events.map((e) => e.attributes.product).filter(Boolean))];
  facts($("#products dl"), [...PLAN_KEYS.map((k) => [k.replaceAll("_", " "), a[k]]),
    ["products (recent events)", products.join(", ")]]);
}

function renderTraits(doc) {
  const segments = Array.isArray(doc.segments) ? doc.segments : [];
  fill($("#segments"), segments.map((s) => el("li", typeof s === "string" ? s : s.name)));
  facts($("#traits dl"), Object.entries(doc.traits).sort().map(([k, v]) => [k.replaceAll("_", " "), v]));
}

function renderConsents(answer) {
  const channels = [...new Set(answer.decisions.map((d) => d.channel))];
  const purposes = [...new Set(answer.decisions.map((d) => d.purpose))];
  const head = el("tr");
  head.append(el("th", "purpose"), ...channels.map((c) => el("th", c)));
  fill($("#consents thead"), [head]);
  const rows = purposes.map((p) => {
    const tr = el("tr");
    tr.append(el("th", p));
    for (const c of channels) {
      const d = answer.decisions.find((x) => x.purpose === p && x.channel === c);
      const td = el("td", d.allowed ? "yes" : "no", d.allowed ? "allowed" : "denied");
      td.title = d.reason.replaceAll("_", " ") + (d.statement ? ` (${d.statement.source}, ${when(d.statement.eventTime)})` : "");
      tr.append(td);
    }
    return tr;
  });
  fill($("#consents tbody"), rows);
}

function renderContacts(page) {
  const rows = page.contacts.map((c) => {
    const tr = el("tr");
    tr.append(el("td", when(c.startedAt)), el("td", `${c.channel} (${c.direction})`), el("td", c.topic || ""),
      el("td", c.outcome.replaceAll("_", " "), `outcome ${c.outcome}`));
    return tr;
  });
  fill($("#contacts tbody"), rows.length ? rows : [emptyRow(4)]);
}

function renderTriggers(history) {
  const items = history.triggers.map((t) => el("li", t.state === "waiting"
    ? `${t.rule}: waiting until ${when(t.dueAt)} (since ${when(t.since)})`
    : `${t.rule}: fired ${when(t.firedAt)}, window until ${when(t.windowEnds)}`, t.state));
  fill($("#triggers ul"), items.length ? items : [el("li", "none open", "empty")]);
}

function renderHistory(history) {
  const items = history.identityChanges.map((c) => {
    const li = el("li");
    const text = c.kind === "merge"
      ? `${when(c.changedAt)} merged ${c.oldUcids.join(", ")} into ${c.ucid}`
      : `${when(c.changedAt)} ${c.kind} ${c.ucid}${c.oldUcids.length ? " (" + c.oldUcids.join(", ") + ")" : ""}`;
    li.append(el("span", text));
    if (c.rule) li.append(el("span", ` rule ${c.rule}`, "muted"));
    if (c.evidence && c.evidence !== "[]") li.append(el("span", ` evidence ${c.evidence}`, "muted"));
    return li;
  });
  fill($("#merge-history"), items.length ? items : [el("li", "no merges: one customer from the start", "empty")]);
}

async function explain(a, b) {
  const box = $("#explain");
  fill(box, [el("p", `Why is ${b.type} ${b.value} this customer? …`)]);
  const q = new URLSearchParams({ a_type: a.type, a_value: a.value, b_type: b.type, b_value: b.value });
  let answer;
  try {
    answer = await api(`/v1/explain?${q}`);
  } catch (err) {
    return fill(box, [el("p", `No explanation: ${err.message}`, "failed")]);
  }
  const nodes = [el("h3", "Why one customer"), el("p", answer.detail)];
  const ol = el("ol");
  for (const step of answer.chain || []) {
    const records = step.records.map((r) => `${r.source} ${r.record_id}`).join(", ");
    ol.append(el("li", `${step.from_type} ${step.from_value} ↔ ${step.to_type} ${step.to_value}: ` +
      `rule ${step.rule}${records ? `, in ${records}` : ""}${step.match ? ` (${step.match.summary})` : ""}`));
  }
  nodes.push(ol);
  fill(box, nodes);
  box.closest("section").focus();
}

// -- keyboard and start ----------------------------------------------------------------------

function sections() {
  return [...document.querySelectorAll("#customer section")];
}

document.addEventListener("keydown", (event) => {
  const typing = ["INPUT", "SELECT", "TEXTAREA"].includes(document.activeElement?.tagName);
  if (event.key === "Escape") {
    $("#search").focus();
    $("#search").select();
    return;
  }
  if (typing || event.ctrlKey || event.metaKey || event.altKey) return;
  if (event.key === "/") {
    event.preventDefault();
    $("#search").focus();
    $("#search").select();
  } else if ((event.key === "j" || event.key === "k") && !$("#customer").hidden) {
    const all = sections();
    const at = all.indexOf(document.activeElement?.closest("section"));
    const next = event.key === "j" ? Math.min(at + 1, all.length - 1) : Math.max(at - 1, 0);
    all[at === -1 ? 0 : next].focus();
  }
});

$("#search-form").addEventListener("submit", (event) => {
  event.preventDefault();
  search($("#search").value);
});

$("#key-form").addEventListener("submit", (event) => {
  event.preventDefault();
  state.key = $("#key-input").value.trim();
  $("#key-input").value = "";
  sessionStorage.setItem(KEY_STORE, state.key);
  checkKey();
});

$("#forget-key").addEventListener("click", () => {
  sessionStorage.removeItem(KEY_STORE);
  state.key = null;
  askForKey("Key forgotten. Enter a key.");
});

if (state.key) checkKey();
else askForKey("Enter your API key to start.");
