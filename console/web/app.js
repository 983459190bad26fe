// natsauth console: a small single-page app over the HTTP API
// (/api/openapi.json). No framework, no build step. Every element is made
// with h(), which sets text, never HTML, so data from the API cannot
// inject markup.
"use strict";

const state = { session: null, csrf: "" };
const $main = () => document.getElementById("main");

function h(tag, attrs, ...kids) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else if (k === "class") el.className = v;
    else el.setAttribute(k, v === true ? "" : String(v));
  }
  for (const k of kids.flat(Infinity)) {
    if (k === null || k === undefined || k === false) continue;
    el.append(k instanceof Node ? k : document.createTextNode(String(k)));
  }
  return el;
}

function say(msg, kind) {
  const st = document.getElementById("status");
  st.replaceChildren(msg ? h("p", { class: kind || "" }, msg) : "");
}

class APIError extends Error {
  constructor(status, problem) {
    super(problem.detail || problem.title || "HTTP " + status);
    this.status = status;
    this.problem = problem;
  }
}

async function api(method, path, body) {
  const opts = { method, headers: {}, credentials: "same-origin" };
  if (body !== undefined) {
    opts.headers["Content-Type"] = "application/json";
    opts.body = JSON.stringify(body);
  }
  if (method !== "GET" && state.csrf) opts.headers["X-CSRF-Token"] = state.csrf;
  const resp = await fetch(path, opts);
  if (resp.status === 204) return null;
  const ct = resp.headers.get("Content-Type") || "";
  if (ct.includes("octet-stream")) {
    if (!resp.ok) throw new APIError(resp.status, {});
    return resp.blob();
  }
  const data = await resp.json().catch(() => ({}));
  if (resp.status === 401 && path !== "/api/login") {
    state.session = null;
    location.hash = "#/login";
    throw new APIError(401, data);
  }
  if (resp.status === 202 && ct.includes("problem")) {
    say("Saved in the home, but not applied by every server: " + (data.failures || []).map(f => f.target + ": " + f.error).join("; "), "warn");
    return data;
  }
  if (!resp.ok) throw new APIError(resp.status, data);
  return data;
}

// fail shows an API error; field errors go next to their inputs.
function fail(err, form) {
  if (form) {
    form.querySelectorAll(".field-error").forEach(e => e.remove());
    form.querySelectorAll("[aria-invalid]").forEach(e => e.removeAttribute("aria-invalid"));
  }
  const p = err.problem || {};
  const errs = p.errors || [];
  let placed = 0;
  if (form) {
    for (const fe of errs) {
      const input = form.querySelector(`[name="${CSS.escape(fe.field || "")}"]`);
      if (!input) continue;
      const id = "err-" + fe.field;
      input.setAttribute("aria-invalid", "true");
      input.setAttribute("aria-describedby", id);
      input.closest("label").append(h("span", { class: "field-error", id }, fe.detail));
      placed++;
    }
  }
  const rest = errs.length > placed ? " " + errs.map(e => (e.field ? e.field + ": " : "") + e.detail).join("; ") : "";
  say((p.title ? p.title + ": " : "") + (err.message || "") + rest, "error");
}

const fmt = {
  n: v => (v === undefined || v === null ? "" : v < 0 ? "unlimited" : Number(v).toLocaleString()),
  size: v => {
    if (v === undefined || v === null) return "";
    if (v < 0) return "unlimited";
    const u = ["B", "KB", "MB", "GB", "TB"];
    let i = 0;
    while (v >= 1000 && i < u.length - 1) { v /= 1000; i++; }
    return (Math.round(v * 10) / 10) + " " + u[i];
  },
  time: v => (!v || v.startsWith("0001") ? "" : new Date(v).toLocaleString()),
  short: k => (k && k.length > 14 ? k.slice(0, 6) + "…" + k.slice(-6) : k || ""),
};

function can(change, account) {
  const u = state.session && state.session.user;
  if (!u) return false;
  if (u.role === "operator-admin") return true;
  if (u.role === "account-admin") return change ? account === u.account : true;
  if (u.role === "operator-observer") return !change;
  return !change && account === u.account;
}
const opRole = () => state.session && state.session.user.role.startsWith("operator");

function field(label, name, attrs, hint) {
  return h("label", {}, label, hint ? h("span", { class: "hint" }, hint) : null,
    h("input", Object.assign({ name, id: "f-" + name }, attrs || {})));
}

function formData(form) {
  const out = {};
  for (const el of form.elements) {
    if (!el.name || el.disabled) continue;
    if (el.type === "checkbox") { if (el.checked) out[el.name] = true; continue; }
    const v = el.value.trim();
    if (v === "") continue;
    if (el.dataset.list) out[el.name] = v.split(",").map(s => s.trim()).filter(Boolean);
    else if (el.dataset.int) out[el.name] = Number(v);
    else out[el.name] = v;
  }
  return out;
}

function table(caption, cols, rows, rowAttrs) {
  return h("div", { class: "table-wrap" }, h("table", {},
    h("caption", { class: "muted", hidden: !caption }, caption || ""),
    h("thead", {}, h("tr", {}, cols.map(c => h("th", { scope: "col", class: c.cls || "" }, c.label)))),
    h("tbody", {}, rows.length ? rows.map(r => h("tr", rowAttrs ? rowAttrs(r) : {},
      cols.map(c => h("td", { class: c.cls || "" }, c.cell(r))))) :
      h("tr", {}, h("td", { colspan: cols.length, class: "muted" }, "None.")))));
}

function page(title, ...kids) {
  document.title = title + " · natsauth console";
  const m = $main();
  m.replaceChildren(h("h1", { tabindex: "-1", id: "page-title" }, title), ...kids.filter(k => k !== null && k !== undefined));
  document.getElementById("page-title").focus();
}

// ---------------------------------------------------------------- login

function loginPage() {
  document.getElementById("nav").hidden = true;
  document.getElementById("who").replaceChildren();
  const form = h("form", { onsubmit: async ev => {
    ev.preventDefault();
    try {
      const s = await api("POST", "/api/login", formData(form));
      state.session = s; state.csrf = s.csrf;
      say("");
      location.hash = s.user.role.startsWith("account") ? "#/accounts/" + encodeURIComponent(s.user.account) : "#/";
      chrome();
    } catch (e) { fail(e, form); }
  } },
  field("User name", "name", { autocomplete: "username", required: true }),
  field("Password", "password", { type: "password", autocomplete: "current-password", required: true }),
  h("button", { class: "primary", type: "submit" }, "Sign in"));
  $main().replaceChildren(h("section", { class: "login", "aria-labelledby": "page-title" },
    h("h1", { id: "page-title", tabindex: "-1" }, "Sign in to natsauth"), form));
  document.title = "Sign in · natsauth console";
  form.querySelector("input").focus();
}

function chrome() {
  const s = state.session;
  document.getElementById("nav").hidden = false;
  document.getElementById("operator").textContent = "operator " + s.operator;
  for (const a of document.querySelectorAll("[data-nav]")) {
    const opOnly = ["overview", "failures", "admin"].includes(a.dataset.nav);
    a.parentElement.hidden = (a.dataset.nav === "admin" && s.user.role !== "operator-admin") ||
      (opOnly && a.dataset.nav === "overview" && !opRole());
  }
  document.getElementById("who").replaceChildren(
    h("span", {}, s.user.name + " · " + s.user.role + (s.user.account ? " of " + s.user.account : "")),
    h("button", { type: "button", onclick: async () => {
      try { await api("POST", "/api/logout"); } catch (e) { /* signed out anyway */ }
      state.session = null; state.csrf = ""; location.hash = "#/login";
    } }, "Sign out"));
}

// ------------------------------------------------------------- overview

async function overviewPage() {
  const ov = await api("GET", "/api/overview");
  const reasons = Object.entries(ov.auth_failures_last_hour).sort((a, b) => b[1] - a[1]);
  page("Overview",
    h("div", { class: "cards" },
      h("div", { class: "card" }, h("span", { class: "n" }, ov.accounts), "accounts"),
      h("div", { class: "card" }, h("span", { class: "n" }, ov.connections), "connections now"),
      h("div", { class: "card" }, h("span", { class: "n" }, ov.nodes.length), "servers"),
      h("div", { class: "card" }, h("span", { class: "n" }, reasons.reduce((a, r) => a + r[1], 0)), "auth failures, last hour")),
    ov.live_error ? h("p", { class: "badge warn" }, ov.live_error) : null,
    h("h2", {}, "Operator"),
    h("p", {}, ov.operator.name, " ", h("code", {}, ov.operator.pub), h("br"),
      h("span", { class: "muted" }, "home " + ov.operator.home + " · store " + ov.operator.store)),
    h("h2", {}, "Servers"),
    table("", [
      { label: "Name", cell: n => n.name },
      { label: "Version", cell: n => n.version, cls: "opt" },
      { label: "Cluster", cell: n => n.cluster || "", cls: "opt" },
      { label: "Connections", cell: n => fmt.n(n.connections), cls: "num" },
      { label: "Routes", cell: n => n.routes, cls: "num opt" },
      { label: "JetStream", cell: n => (n.jetstream ? "on" : "off") },
      { label: "Up", cell: n => n.uptime },
    ], ov.nodes),
    h("h2", {}, "Auth failures in the last hour, by reason"),
    table("", [{ label: "Reason", cell: r => r[0] }, { label: "Failures", cell: r => r[1], cls: "num" }], reasons),
    h("h2", {}, "Busiest accounts"),
    table("", [
      { label: "Account", cell: a => a.name ? h("a", { href: "#/accounts/" + encodeURIComponent(a.name) }, a.name) : h("code", {}, fmt.short(a.account)) },
      { label: "Connections", cell: a => a.connections, cls: "num" },
      { label: "Subscriptions", cell: a => a.subscriptions, cls: "num opt" },
    ], ov.busiest_accounts));
}

// ------------------------------------------------------------- accounts

async function accountsPage(params) {
  const q = params.get("q") || "", offset = Number(params.get("offset") || 0), limit = 50;
  const data = await api("GET", `/api/accounts?q=${encodeURIComponent(q)}&offset=${offset}&limit=${limit}`);
  const go = (o, s) => { location.hash = `#/accounts?q=${encodeURIComponent(s)}&offset=${o}`; };
  const search = h("form", { class: "inline", role: "search", onsubmit: ev => { ev.preventDefault(); go(0, search.elements.q.value); } },
    field("Search accounts", "q", { type: "search", value: q, placeholder: "name, key, tag" }),
    h("button", { type: "submit" }, "Search"));
  const create = can(true, "") ? createAccountForm() : null;
  const last = Math.min(offset + limit, data.total);
  page("Accounts", search,
    h("p", { class: "muted", id: "count" }, `${data.total ? offset + 1 : 0}–${last} of ${data.total} accounts`),
    table("", [
      { label: "Name", cell: a => h("a", { href: "#/accounts/" + encodeURIComponent(a.name) }, a.name, a.system ? " (system)" : "") },
      { label: "Public key", cell: a => h("code", { title: a.pub }, fmt.short(a.pub)), cls: "opt" },
      { label: "Max conns", cell: a => fmt.n(a.max_connections), cls: "num" },
      { label: "Max payload", cell: a => fmt.size(a.max_payload), cls: "num opt" },
      { label: "JetStream", cell: a => (a.jetstream ? "yes" : "no") },
      { label: "Revoked", cell: a => a.revocations, cls: "num opt" },
    ], data.accounts),
    h("nav", { class: "pager", "aria-label": "Pages" },
      h("button", { type: "button", disabled: offset === 0, onclick: () => go(Math.max(0, offset - limit), q) }, "Previous"),
      h("button", { type: "button", disabled: last >= data.total, onclick: () => go(offset + limit, q) }, "Next")),
    create);
}

function createAccountForm() {
  const form = h("form", { onsubmit: async ev => {
    ev.preventDefault();
    try {
      const body = formData(form);
      await api("POST", "/api/accounts", body);
      say("Account " + body.name + " created.");
      location.hash = "#/accounts/" + encodeURIComponent(body.name);
    } catch (e) { fail(e, form); }
  } },
  h("fieldset", {}, h("legend", {}, "New account"), h("div", { class: "grid" },
    field("Name", "name", { required: true }),
    field("Max connections", "max_connections", { placeholder: "-1 unlimited" }),
    field("Max payload", "max_payload", { placeholder: "1MB" }),
    field("JetStream memory", "js_mem_storage", { placeholder: "256MB" }),
    field("JetStream disk", "js_disk_storage", { placeholder: "1GB" })),
  h("p", {}, h("button", { class: "primary", type: "submit" }, "Create account"))));
  return h("section", { "aria-label": "Create account" }, form);
}

const limitFields = [
  ["max_connections", "Max connections", "conn", "n"], ["max_leafnodes", "Max leaf nodes", "leaf", "n"],
  ["max_data", "Max data", "data", "size"], ["max_payload", "Max payload", "payload", "size"],
  ["max_subscriptions", "Max subscriptions", "subs", "n"], ["max_exports", "Max exports", "exports", "n"],
  ["max_imports", "Max imports", "imports", "n"],
  ["js_mem_storage", "JetStream memory", "mem_storage", "size"], ["js_disk_storage", "JetStream disk", "disk_storage", "size"],
  ["js_streams", "JetStream streams", "streams", "n"], ["js_consumer", "JetStream consumers", "consumer", "n"],
];

async function accountPage(name) {
  const enc = encodeURIComponent(name);
  const acc = await api("GET", "/api/accounts/" + enc);
  const edit = can(true, name);
  const lim = Object.assign({}, acc.claims.nats.limits || {});
  const limits = h("form", { "aria-label": "Limits", onsubmit: async ev => {
    ev.preventDefault();
    try {
      const body = {};
      for (const el of limits.elements) if (el.name && el.value.trim() !== el.dataset.orig) body[el.name] = el.value.trim();
      if (!Object.keys(body).length) { say("Nothing changed."); return; }
      const res = await api("PATCH", "/api/accounts/" + enc, body);
      if (res && res.applied) say("Limits saved and applied by " + (res.applied.length || 0) + " server(s).");
      route();
    } catch (e) { fail(e, limits); }
  } },
  h("div", { class: "grid" }, limitFields.map(([f, label, k]) => {
    const v = lim[k] === undefined ? "" : String(lim[k]);
    return field(label, f, { value: v, "data-orig": v, readonly: !edit, "aria-describedby": "limits-hint" });
  })),
  edit ? h("p", {}, h("button", { class: "primary", type: "submit" }, "Save limits")) : null);

  const users = h("section", { "aria-labelledby": "users-h" });
  const conns = h("section", { "aria-labelledby": "conns-h" });
  const js = h("section", { "aria-labelledby": "js-h" });
  page("Account " + name,
    h("p", {}, h("code", {}, acc.pub), acc.system ? " · system account" : "",
      acc.expires ? " · expires " + fmt.time(acc.expires) : "", " · ", acc.users + " users"),
    h("h2", {}, "Limits"),
    h("p", { class: "hint", id: "limits-hint" }, "-1 is unlimited; sizes take units (1MB, 10GB). Empty JetStream limits: JetStream off."),
    limits,
    users, conns, js,
    h("h2", {}, "Exports"),
    table("", [{ label: "Subject", cell: x => h("code", {}, x.subject) }, { label: "Type", cell: x => x.type },
      { label: "Private", cell: x => (x.private ? "yes" : "no") }, { label: "Name", cell: x => x.name || "", cls: "opt" }], acc.exports),
    h("h2", {}, "Imports"),
    table("", [{ label: "Subject", cell: x => h("code", {}, x.subject) }, { label: "From", cell: x => x.account_name || fmt.short(x.account) },
      { label: "Type", cell: x => x.type }, { label: "Local subject", cell: x => x.local_subject || "", cls: "opt" }], acc.imports),
    h("h2", {}, "Signing keys"),
    table("", [{ label: "Key", cell: k => h("code", {}, k.key) }, { label: "Role", cell: k => (k.scoped ? k.role : "unscoped") },
      { label: "", cell: k => edit ? h("button", { type: "button", class: "danger", onclick: () => act("DELETE",
        `/api/accounts/${enc}/signing-keys/${k.key}`, "Signing key removed.", "Remove signing key " + k.key + "?") }, "Remove") : "" }],
    acc.signing_key_list),
    edit ? h("p", {}, h("button", { type: "button", onclick: () => act("POST", `/api/accounts/${enc}/signing-keys`, "Signing key added.") }, "Generate signing key")) : null,
    h("h2", {}, "Revocations"),
    table("", [{ label: "User", cell: r => r.user_name || fmt.short(r.user) }, { label: "JWTs issued before", cell: r => fmt.time(r.before) }],
      acc.revocation_list),
    can(true, "") && !acc.system ? h("p", {}, h("button", { type: "button", class: "danger", onclick: async () => {
      if (!confirm("Delete account " + name + " with its users? Servers refuse it at once.")) return;
      try { await api("DELETE", "/api/accounts/" + enc); say("Account " + name + " deleted."); location.hash = "#/accounts"; } catch (e) { fail(e); }
    } }, "Delete account " + name)) : null);
  usersSection(users, name, edit);
  connectionsSection(conns, name, edit);
  jetstreamSection(js, name);
}

async function act(method, path, done, confirmText) {
  if (confirmText && !confirm(confirmText)) return;
  try {
    await api(method, path);
    say(done);
    route();
  } catch (e) { fail(e); }
}

async function usersSection(sec, account, edit) {
  const enc = encodeURIComponent(account);
  const data = await api("GET", `/api/accounts/${enc}/users?limit=500`);
  const rows = data.users;
  sec.replaceChildren(h("h2", { id: "users-h" }, "Users"),
    table("", [
      { label: "Name", cell: u => u.name },
      { label: "Public key", cell: u => h("code", { title: u.pub }, fmt.short(u.pub)), cls: "opt" },
      { label: "Expires", cell: u => u.expires ? [fmt.time(u.expires), u.expired ? h("span", { class: "badge bad" }, " expired") :
        u.expires_soon ? h("span", { class: "badge warn" }, " expires soon") : ""] : "never" },
      { label: "State", cell: u => (u.revoked ? h("span", { class: "badge bad" }, "revoked") : "active") },
      { label: "Actions", cell: u => edit ? h("span", { class: "toolbar" },
        u.has_creds ? h("button", { type: "button", onclick: () => downloadCreds(account, u.name) }, "Download creds") : null,
        u.revoked ? h("button", { type: "button", onclick: () => act("DELETE", `/api/accounts/${enc}/users/${encodeURIComponent(u.name)}/revoke`, "Revocation of " + u.name + " removed.") }, "Unrevoke")
          : h("button", { type: "button", class: "danger", onclick: () => act("POST", `/api/accounts/${enc}/users/${encodeURIComponent(u.name)}/revoke`,
            "User " + u.name + " revoked.", "Revoke " + u.name + "? Servers close its connections.") }, "Revoke " + u.name),
        h("button", { type: "button", class: "danger", onclick: () => act("DELETE", `/api/accounts/${enc}/users/${encodeURIComponent(u.name)}?revoke=true`,
          "User " + u.name + " revoked and deleted.", "Delete " + u.name + "? Its JWTs are revoked first.") }, "Delete")) : "" },
    ], rows, u => ({ class: u.expired || u.revoked ? "bad" : u.expires_soon ? "warn" : "" })),
    edit ? createUserForm(account) : null);
}

async function downloadCreds(account, user) {
  try {
    const blob = await api("POST", `/api/accounts/${encodeURIComponent(account)}/users/${encodeURIComponent(user)}/creds`);
    const a = h("a", { href: URL.createObjectURL(blob), download: user + ".creds" });
    document.body.append(a);
    a.click();
    a.remove();
    say("Creds of " + user + " downloaded. They cannot be downloaded again: keep them safe.");
  } catch (e) { fail(e); }
}

function createUserForm(account) {
  const form = h("form", { onsubmit: async ev => {
    ev.preventDefault();
    try {
      const body = formData(form);
      const res = await api("POST", `/api/accounts/${encodeURIComponent(account)}/users`, body);
      say("User " + body.name + " created.");
      await route();
      if (res && res.user && res.user.has_creds) {
        document.getElementById("status").append(h("p", {}, "Download its creds now — only once: ",
          h("button", { type: "button", id: "creds-now", onclick: () => downloadCreds(account, body.name) }, "Download " + body.name + ".creds")));
      }
    } catch (e) { fail(e, form); }
  } },
  h("fieldset", {}, h("legend", {}, "New user"), h("div", { class: "grid" },
    field("Name", "name", { required: true }),
    field("Allow publish", "allow_pub", { "data-list": "1", placeholder: "orders.>" }, "comma-separated subjects"),
    field("Allow subscribe", "allow_sub", { "data-list": "1", placeholder: "orders.alice.>, _INBOX.>" }, "comma-separated; 'subject queue' for queues"),
    field("Deny publish", "deny_pub", { "data-list": "1" }),
    field("Deny subscribe", "deny_sub", { "data-list": "1" }),
    field("Allow responses", "allow_pub_response", { "data-int": "1", inputmode: "numeric", placeholder: "1" }, "responses per request (-1 unlimited)"),
    field("Response TTL", "response_ttl", { placeholder: "5s" }),
    field("Expiry", "expiry", { placeholder: "30d, 2w, 1y, 2026-12-31, 0" }),
    field("Source networks", "source_networks", { "data-list": "1", placeholder: "10.0.0.0/8" }),
    h("label", { class: "check" }, h("input", { type: "checkbox", name: "bearer" }), "Bearer token")),
  h("p", {}, h("button", { class: "primary", type: "submit" }, "Create user"))));
  return form;
}

async function connectionsSection(sec, account, edit) {
  const enc = encodeURIComponent(account);
  sec.replaceChildren(h("h2", { id: "conns-h" }, "Live connections"), h("p", { class: "muted" }, "Loading…"));
  try {
    const data = await api("GET", `/api/accounts/${enc}/connections`);
    sec.replaceChildren(h("h2", { id: "conns-h" }, "Live connections"),
      table("", [
        { label: "User", cell: c => c.user_name || fmt.short(c.user) },
        { label: "Client", cell: c => c.name || "", cls: "opt" },
        { label: "From", cell: c => c.ip + ":" + c.port },
        { label: "Server", cell: c => c.server, cls: "opt" },
        { label: "Subs", cell: c => c.subscriptions, cls: "num" },
        { label: "Up", cell: c => c.uptime, cls: "opt" },
        { label: "Actions", cell: c => edit ? h("span", { class: "toolbar" },
          h("button", { type: "button", onclick: () => act("POST", `/api/accounts/${enc}/connections/${c.server_id}/${c.cid}/kick`, "Connection closed (it may reconnect).") }, "Kick"),
          c.user_name ? h("button", { type: "button", class: "danger", onclick: () => act("POST",
            `/api/accounts/${enc}/users/${encodeURIComponent(c.user_name)}/revoke`, "User " + c.user_name + " revoked.",
            "Revoke " + c.user_name + "? Servers close its connections.") }, "Revoke") : null) : "" },
      ], data.connections));
  } catch (e) {
    sec.replaceChildren(h("h2", { id: "conns-h" }, "Live connections"), h("p", { class: "muted" }, e.message));
  }
}

async function jetstreamSection(sec, account) {
  try {
    const u = await api("GET", `/api/accounts/${encodeURIComponent(account)}/jetstream`);
    sec.replaceChildren(h("h2", { id: "js-h" }, "JetStream usage"),
      h("div", { class: "cards" },
        h("div", { class: "card" }, h("span", { class: "n" }, fmt.size(u.memory)), "memory"),
        h("div", { class: "card" }, h("span", { class: "n" }, fmt.size(u.storage)), "disk"),
        h("div", { class: "card" }, h("span", { class: "n" }, u.streams), "streams"),
        h("div", { class: "card" }, h("span", { class: "n" }, u.consumers), "consumers")));
  } catch (e) {
    sec.replaceChildren(h("h2", { id: "js-h" }, "JetStream usage"), h("p", { class: "muted" }, e.message));
  }
}

// ---------------------------------------------------------- failures, audit

async function failuresPage(params) {
  const since = params.get("since") || "1h";
  const data = await api("GET", "/api/auth-failures?since=" + encodeURIComponent(since));
  const form = h("form", { class: "inline", onsubmit: ev => { ev.preventDefault(); location.hash = "#/failures?since=" + encodeURIComponent(form.elements.since.value); } },
    h("label", {}, "Period", h("select", { name: "since" }, ["1h", "6h", "24h", "168h"].map(v => h("option", { value: v, selected: v === since }, "last " + v)))),
    h("button", { type: "submit" }, "Show"));
  page("Auth failures", form,
    data.following ? null : h("p", { class: "badge warn" }, "Not receiving server events now: no running server answers."),
    h("h2", {}, "By reason"),
    table("", [{ label: "Reason", cell: r => r[0] }, { label: "Failures", cell: r => r[1], cls: "num" }], Object.entries(data.by_reason)),
    h("h2", {}, "Latest"),
    table("", [
      { label: "When", cell: r => fmt.time(r.time) },
      { label: "Why", cell: r => [h("strong", {}, r.cause), r.detail ? h("div", { class: "muted" }, r.detail) : null] },
      { label: "Who", cell: r => r.user_name || fmt.short(r.user) || "(no user)" },
      { label: "Account", cell: r => r.account_name || fmt.short(r.account) },
      { label: "From", cell: r => r.remote || "" },
      { label: "Server", cell: r => r.server || "", cls: "opt" },
    ], data.failures));
}

function changeList(changes) {
  if (!changes || !changes.length) return "";
  return h("ul", { class: "changes" }, changes.map(c => h("li", {}, h("code", {}, c.path), ": ",
    c.old ? h("span", { class: "before" }, h("span", { class: "sr" }, "before "), c.old) : "(none)", " → ",
    c.new ? h("span", { class: "after" }, h("span", { class: "sr" }, "after "), c.new) : "(removed)")));
}

async function auditPage(params) {
  const qs = new URLSearchParams();
  for (const k of ["account", "actor", "action", "since"]) if (params.get(k)) qs.set(k, params.get(k));
  const data = await api("GET", "/api/audit?" + qs.toString());
  const form = h("form", { class: "inline", onsubmit: ev => {
    ev.preventDefault();
    const f = new URLSearchParams();
    for (const el of form.elements) if (el.name && el.value.trim()) f.set(el.name, el.value.trim());
    location.hash = "#/audit?" + f.toString();
  } },
  field("Account", "account", { value: params.get("account") || "" }),
  field("Actor", "actor", { value: params.get("actor") || "" }),
  field("Action", "action", { value: params.get("action") || "" }),
  field("Since", "since", { value: params.get("since") || "", placeholder: "24h" }),
  h("button", { type: "submit" }, "Filter"));
  page("Audit log", form, h("p", { class: "muted" }, data.total + " entries"),
    table("", [
      { label: "When", cell: e => fmt.time(e.time) },
      { label: "Who", cell: e => [e.principal || e.os_user || "", h("div", { class: "muted" }, [e.via, e.remote].filter(Boolean).join(" · "))] },
      { label: "What", cell: e => [h("strong", {}, e.action), " ", [e.account_name, e.user_name].filter(Boolean).join(" / "),
        e.detail ? h("div", { class: "muted" }, e.detail) : null] },
      { label: "Before → after", cell: e => changeList(e.changes) },
    ], data.entries));
}

// ---------------------------------------------------------------- admin

async function adminPage() {
  const [users, tokens] = await Promise.all([api("GET", "/api/console-users"), api("GET", "/api/tokens")]);
  const form = h("form", { onsubmit: async ev => {
    ev.preventDefault();
    try {
      await api("POST", "/api/console-users", formData(form));
      say("Console user added.");
      route();
    } catch (e) { fail(e, form); }
  } }, h("fieldset", {}, h("legend", {}, "New console user"), h("div", { class: "grid" },
    field("Name", "name", { required: true, autocomplete: "off" }),
    h("label", {}, "Role", h("select", { name: "role" }, ["operator-observer", "operator-admin", "account-admin", "account-observer"].map(r => h("option", { value: r }, r)))),
    field("Account", "account", {}, "for account roles"),
    field("Password", "password", { type: "password", autocomplete: "new-password", required: true }, "at least 10 characters")),
  h("p", {}, h("button", { class: "primary", type: "submit" }, "Add console user"))));
  const tform = h("form", { class: "inline", onsubmit: async ev => {
    ev.preventDefault();
    try {
      const t = await api("POST", "/api/tokens", formData(tform));
      await route();
      document.getElementById("status").replaceChildren(h("p", { class: "warn" }, "Token made. Copy it now, it is not shown again: ",
        h("code", { class: "secret", id: "token-secret" }, t.secret)));
    } catch (e) { fail(e, tform); }
  } }, field("Token name", "name", { required: true }), field("Lifetime", "ttl", { placeholder: "720h" }),
  h("button", { type: "submit" }, "Make API token"));
  page("Console users",
    table("", [{ label: "Name", cell: u => u.name }, { label: "Role", cell: u => u.role }, { label: "Account", cell: u => u.account || "" },
      { label: "", cell: u => u.name === state.session.user.name ? "(you)" : h("button", { type: "button", class: "danger",
        onclick: () => act("DELETE", "/api/console-users/" + encodeURIComponent(u.name), "Console user removed.", "Remove " + u.name + "?") }, "Remove") }], users),
    form, h("h2", {}, "API tokens"),
    table("", [{ label: "Name", cell: t => t.name }, { label: "User", cell: t => t.user }, { label: "Expires", cell: t => fmt.time(t.expires) || "never" },
      { label: "", cell: t => h("button", { type: "button", class: "danger", onclick: () => act("DELETE", "/api/tokens/" + t.id, "Token deleted.") }, "Delete") }], tokens),
    tform);
}

// ---------------------------------------------------------------- router

async function byKey(pub) {
  const data = await api("GET", "/api/accounts?q=" + encodeURIComponent(pub));
  if (data.accounts.length) location.replace("#/accounts/" + encodeURIComponent(data.accounts[0].name));
  else page("Unknown account", h("p", {}, pub));
}

async function route() {
  const hash = location.hash.slice(1) || "/";
  const [path, query] = hash.split("?");
  const params = new URLSearchParams(query || "");
  if (path === "/login") { loginPage(); return; }
  if (!state.session) {
    try {
      const s = await api("GET", "/api/session");
      state.session = s; state.csrf = s.csrf;
      chrome();
    } catch (e) { return; }
  }
  const navKey = path === "/" ? "overview" : path.split("/")[1];
  for (const a of document.querySelectorAll("[data-nav]")) {
    if (a.dataset.nav === navKey) a.setAttribute("aria-current", "page"); else a.removeAttribute("aria-current");
  }
  try {
    const parts = path.split("/").filter(Boolean).map(decodeURIComponent);
    if (parts.length === 0) {
      if (opRole()) await overviewPage(); else location.replace("#/accounts/" + encodeURIComponent(state.session.user.account));
    } else if (parts[0] === "accounts" && parts.length === 1) await accountsPage(params);
    else if (parts[0] === "accounts" && parts[1] === "by-key") await byKey(parts[2]);
    else if (parts[0] === "accounts") await accountPage(parts[1]);
    else if (parts[0] === "failures") await failuresPage(params);
    else if (parts[0] === "audit") await auditPage(params);
    else if (parts[0] === "admin") await adminPage();
    else page("Not found", h("p", {}, "No such page."));
  } catch (e) {
    if (e.status !== 401) page("Error", h("p", {}, e.message));
  }
}

window.addEventListener("hashchange", () => { say(""); route(); });
document.addEventListener("DOMContentLoaded", route);
