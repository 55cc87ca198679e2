// Roster's web console: a client of the public API only, like any other.
"use strict";

const API = document.querySelector('meta[name="roster-api"]').content;
// Icons 1–24 are drawn by the server; other ids are left to clients.
const ICON_NAMES = ["person", "driver", "truck", "car", "van", "bus", "bicycle", "wrench", "hammer", "star",
  "heart", "flag", "home", "phone", "package", "pin", "shield", "leaf", "bolt", "clock", "key", "hard hat",
  "first aid", "coffee"];
const PRESET_ICONS = ICON_NAMES.length;
// The rights a security group may hold, as the server accepts them (there
// is no call that lists them).
const GROUP_RIGHTS = ["employee_update", "tag_update", "tracker_update", "tracker_configure",
  "tracker_set_output", "tracker_register", "tracker_rule_update", "task_update", "form_template_update",
  "zone_update", "place_update", "places_custom_fields_update", "vehicle_update", "video_monitoring"];
// The keys employee/list sorts by, with the words a person reads.
const SORT_KEYS = [["last_name", "Last name"], ["first_name", "First name"], ["middle_name", "Middle name"],
  ["id", "Id"], ["email", "Email"], ["phone", "Phone"], ["personnel_number", "Personnel number"],
  ["department_label", "Department"], ["hardware_key", "Hardware key"], ["address", "Address"],
  ["driver_license_number", "Licence number"], ["driver_license_cats", "Licence categories"],
  ["driver_license_valid_till", "Licence valid till"], ["ssn", "SSN"], ["tracker_id", "Tracker id"]];
// Words for the parameters the server names in its errors.
const FIELD_WORDS = Object.fromEntries([...SORT_KEYS, ["driver_license_issue_date", "Licence issued on"],
  ["department_id", "Department"], ["tags", "Tags"], ["lat", "Latitude"], ["lng", "Longitude"],
  ["radius", "Radius"], ["label", "Name"], ["name", "Name"], ["color", "Colour"], ["login", "Login"],
  ["password", "Password"], ["security_group_id", "Group"], ["title", "Title"], ["rights", "Rights"],
  ["location", "Location"], ["store_period", "History kept for"]]);
// The codes a person can act on, in their words; the server's description follows.
const CODE_WORDS = {
  13: "You are not allowed to do this", 201: "It no longer exists (someone may have deleted it)",
  206: "That login is taken", 247: "It already exists", 268: "The account's limit is reached",
  15: "The server is busy; try again in a moment", 102: "Wrong login or password",
  11: "This login is deactivated",
};
const $ = (id) => document.getElementById(id);
// A touch screen's keyboard covers half of it: focus no text field there unasked.
const touch = () => navigator.maxTouchPoints > 0 || matchMedia("(pointer: coarse)").matches;

let hash = sessionStorage.getItem("roster-hash");
let me = { master: true, rights: new Set() };
let departments = [];
let tags = [];
let current = null; // the employee open in the editor, null for a new one

// ApiError carries a Navixy error in words: what the server said about
// each parameter at fault, or the code's meaning, with its description.
class ApiError extends Error {
  constructor(body) {
    const st = body.status || {};
    const details = (body.errors || []).map((e) => {
      const field = String(e.parameter || "").split(".").pop();
      return FIELD_WORDS[field] ? `${FIELD_WORDS[field]} ${e.error}` : `${e.parameter}: ${e.error}`;
    });
    const lead = CODE_WORDS[st.code];
    let text = details.length ? details.join("; ")
      : lead && lead !== st.description ? `${lead} (${st.description})` : st.description;
    super(text || "The request failed");
    this.code = st.code;
    this.description = st.description;
    this.params = (body.errors || []).map((e) => String(e.parameter || "").split(".").pop());
  }
}

async function call(name, params = {}) {
  let res;
  try {
    res = await fetch(`${API}/${name}`, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(hash ? { ...params, hash } : params),
    });
  } catch {
    throw new Error("The server cannot be reached");
  }
  let body;
  try {
    body = await res.json();
  } catch {
    throw new Error(`Unexpected answer (HTTP ${res.status})`);
  }
  if (!body.success) {
    const err = new ApiError(body);
    if (err.code === 3 || err.code === 4) signedOut("Your session has ended; please sign in again.");
    throw err;
  }
  return body;
}

// softFocus focuses el only where that opens no on-screen keyboard.
function softFocus(el) {
  if (!touch()) el.focus();
}

// focusIn gives an opened dialog's focus to its first field, or on a touch
// screen to its title, so that no keyboard covers the dialog unasked.
function focusIn(field, title) {
  if (touch() || !field) title.focus();
  else field.focus();
}

function el(tag, props = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(props)) {
    if (k === "class") e.className = v;
    else if (k === "bg") e.style.background = v; // CSSOM: the CSP forbids style attributes
    else if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
    else if (k in e && typeof v !== "string") e[k] = v;
    else e.setAttribute(k, v);
  }
  e.append(...children.filter((c) => c != null));
  return e;
}

const plural = (n, one, many) => `${n.toLocaleString("en")} ${n === 1 ? one : many}`;

// --- signing in and out ---

function signedOut(message) {
  hash = null;
  sessionStorage.removeItem("roster-hash");
  for (const d of document.querySelectorAll("dialog[open]")) d.close();
  resetImport(); // the next one to sign in sees nothing of this import
  $("import-file").value = "";
  $("app").hidden = true;
  $("signin").hidden = false;
  $("signin-error").textContent = message || "";
  softFocus($("login"));
}

$("signin-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  $("signin-error").textContent = "";
  try {
    const body = await call("user/auth", { login: $("login").value, password: $("password").value });
    hash = body.hash;
    sessionStorage.setItem("roster-hash", hash);
    $("password").value = "";
    await showApp();
  } catch (e) {
    $("signin-error").textContent = e.message;
  }
});

$("signout").addEventListener("click", async () => {
  try {
    await call("user/logout");
  } catch {
    // signed out locally whatever the server says
  }
  signedOut("You are signed out.");
});

const can = (right) => me.master || me.rights.has(right);

// showApp learns who is signed in and what they may do, and hides every
// control that would answer 13.
async function showApp() {
  const info = (await call("user/get_info")).user_info;
  me = { master: !info.master, rights: new Set((info.privileges && info.privileges.rights) || []), login: info.login };
  $("who").textContent = info.login;
  const write = can("employee_update");
  for (const e of document.querySelectorAll("[data-write]")) e.hidden = !write;
  for (const e of document.querySelectorAll("[data-tag-write]")) e.hidden = !can("tag_update");
  for (const e of document.querySelectorAll("[data-master]")) e.hidden = !me.master;
  $("readonly").hidden = write;
  $("editor-fields").disabled = !write;
  $("signin").hidden = true;
  $("app").hidden = false;
  await Promise.all([loadDepartments(), loadTags()]);
  await showView(location.hash.slice(1));
}

// --- views ---

// VIEWS maps a section to what loads it; the nav and location.hash pick one.
const VIEWS = {
  employees: () => refresh(),
  departments: () => loadDepartments(),
  tags: () => loadTags(),
  people: () => loadPeople(),
  import: () => {},
};

async function showView(name) {
  if (!VIEWS[name] || (name === "people" && !me.master) || (name === "import" && !can("employee_update"))) name = "employees";
  for (const p of document.querySelectorAll("[data-view-panel]")) p.hidden = p.dataset.viewPanel !== name;
  for (const a of document.querySelectorAll("#nav a")) {
    if (a.dataset.view === name) a.setAttribute("aria-current", "page");
    else a.removeAttribute("aria-current");
  }
  $("main").setAttribute("aria-busy", "true");
  try {
    await VIEWS[name]();
  } finally {
    $("main").removeAttribute("aria-busy");
  }
  if (name === "employees") softFocus($("filter"));
}

window.addEventListener("hashchange", () => {
  if (hash) showView(location.hash.slice(1)).then(() => $("main").focus({ preventScroll: true }));
});

// --- the employee list ---

const list = { offset: 0, limit: 50, sort: "last_name", desc: false, table: false, seq: 0, total: 0 };

for (const [key, words] of SORT_KEYS) {
  $("sort").append(el("option", { value: `${key}=asc` }, `${words}, A to Z`),
    el("option", { value: `${key}=desc` }, `${words}, Z to A`));
}
$("sort").value = "last_name=asc";

function initials(e) {
  return ((e.first_name || "").slice(0, 1) + (e.last_name || "").slice(0, 1)).toUpperCase() || "?";
}

// avatarImage gives the image to show for an employee: a preset icon, the
// uploaded picture at the size asked for, or null (initials instead).
function avatarImage(e, size) {
  if (e.icon_id != null) {
    if (e.icon_id >= 1 && e.icon_id <= PRESET_ICONS) {
      return { src: `${API}/static/employee/icons/${e.icon_id}.svg` };
    }
    return null;
  }
  if (e.avatar_file_name) {
    const base = `${API}/static/employee/avatars/${encodeURIComponent(e.avatar_file_name)}`;
    return { src: `${base}?size=${size}`, srcset: `${base}?size=${size * 2} 2x` };
  }
  return null;
}

function avatarElement(e, size) {
  const img = avatarImage(e, size);
  if (!img) return el("span", { class: "initials", "aria-hidden": "true" }, initials(e));
  const i = el("img", { class: "avatar", alt: "", width: size, height: size, src: img.src });
  if (img.srcset) i.srcset = img.srcset;
  return i;
}

const fullName = (e) => [e.first_name, e.middle_name, e.last_name].filter(Boolean).join(" ");
const departmentLabel = (id) => (departments.find((d) => d.id === id) || {}).label || "";
const tagOf = (id) => tags.find((t) => t.id === id);

function tagChips(e) {
  const chips = (e.tags || []).map(tagOf).filter(Boolean);
  if (!chips.length) return null;
  return el("span", { class: "chips" }, ...chips.map((t) => el("span", { class: "chip" },
    el("span", { class: "swatch", bg: `#${t.color}`, "aria-hidden": "true" }), t.name)));
}

// The table's columns: a sort key (or none) and how to show a value.
const COLUMNS = [
  ["last_name", "Name", (e) => el("span", { class: "who-cell" }, avatarElement(e, 32), el("span", { class: "name" }, fullName(e)))],
  ["email", "Email", (e) => e.email],
  ["phone", "Phone", (e) => e.phone && "+" + e.phone],
  ["personnel_number", "Personnel no.", (e) => e.personnel_number],
  ["department_label", "Department", (e) => departmentLabel(e.department_id)],
  ["driver_license_valid_till", "Licence valid till", (e) => e.driver_license_valid_till || ""],
  [null, "Tags", (e) => tagChips(e)],
];

function renderHead() {
  $("table-head").replaceChildren(...COLUMNS.map(([key, words]) => {
    if (!key) return el("th", { scope: "col" }, words);
    const on = list.sort === key;
    const th = el("th", { scope: "col" }, el("button", {
      type: "button", class: "sorter",
      onclick: () => { list.desc = on ? !list.desc : false; list.sort = key; list.offset = 0; syncSort(); refresh(); },
    }, words, el("span", { "aria-hidden": "true" }, on ? (list.desc ? " ▼" : " ▲") : "")));
    if (on) th.setAttribute("aria-sort", list.desc ? "descending" : "ascending");
    return th;
  }));
}

function syncSort() {
  $("sort").value = `${list.sort}=${list.desc ? "desc" : "asc"}`;
}

function render(employees) {
  $("list").hidden = list.table;
  $("table-wrap").hidden = !list.table;
  if (list.table) {
    renderHead();
    $("table-body").replaceChildren(...employees.map((e) => el("tr", {},
      ...COLUMNS.map(([, , show], i) => {
        const v = show(e);
        if (i === 0) return el("th", { scope: "row" }, el("button", { type: "button", class: "link", "data-id": e.id, onclick: () => openEditor(e) }, v));
        return el("td", {}, v);
      }))));
    return;
  }
  $("list").replaceChildren(...employees.map((e) => el("li", {}, el("button", {
    type: "button", "data-id": e.id, onclick: () => openEditor(e),
  }, avatarElement(e, 48), el("span", {},
    el("span", { class: "name" }, fullName(e)),
    // One line each, cut with an ellipsis rather than broken mid-word.
    ...[e.email, [e.phone && "+" + e.phone, e.personnel_number, departmentLabel(e.department_id)].filter(Boolean).join(" · ")]
      .filter(Boolean).map((t) => el("span", { class: "sub", title: t }, t)),
    tagChips(e))))));
}

// fetchPage asks the server for one page. With a tag chosen, it asks
// tag/search, which answers every carrier at once, and pages, filters and
// sorts that answer here (employee/list has no tag parameter).
async function fetchPage() {
  const filter = $("filter").value.trim();
  const tag = Number($("tag-filter").value);
  if (!tag) {
    const params = { limit: list.limit, offset: list.offset, sort: [`${list.sort}=${list.desc ? "desc" : "asc"}`] };
    if (filter) params.filter = filter;
    const body = await call("employee/list", params);
    return { rows: body.list, total: body.count };
  }
  const body = await call("tag/search", { tag_ids: [tag], entity_types: ["employee"] });
  const needle = filter.toLowerCase();
  const key = list.sort === "department_label" ? (e) => departmentLabel(e.department_id)
    : list.sort === "address" ? (e) => (e.location && e.location.address) || "" : (e) => e[list.sort];
  const rows = (body.result.employee || [])
    .filter((e) => !needle || [fullName(e), e.email, e.phone, e.personnel_number].join(" ").toLowerCase().includes(needle))
    .sort((a, b) => {
      const x = key(a) ?? "", y = key(b) ?? "";
      const c = typeof x === "number" && typeof y === "number" ? x - y : String(x).localeCompare(String(y));
      return (list.desc ? -c : c) || a.id - b.id;
    });
  return { rows: rows.slice(list.offset, list.offset + list.limit), total: rows.length };
}

async function refresh() {
  const seq = ++list.seq;
  try {
    const { rows, total } = await fetchPage();
    if (seq !== list.seq) return; // a newer request is on its way
    if (!rows.length && total > 0 && list.offset > 0) {
      list.offset = Math.max(0, Math.floor((total - 1) / list.limit) * list.limit);
      return refresh();
    }
    list.total = total;
    render(rows);
    const filtered = $("filter").value.trim() || $("tag-filter").value;
    if (!total) {
      $("status").textContent = filtered
        ? "No employee matches. Clear the filter or the tag, or try fewer letters."
        : can("employee_update") ? "No employees yet. Press New employee to add the first one." : "No employees yet.";
    } else {
      $("status").textContent = `${(list.offset + 1).toLocaleString("en")}–${(list.offset + rows.length).toLocaleString("en")} of ${plural(total, "employee", "employees")}`;
    }
    const pages = Math.max(1, Math.ceil(total / list.limit));
    $("page").value = String(Math.floor(list.offset / list.limit) + 1);
    $("page").max = String(pages);
    $("page-info").textContent = `of ${pages.toLocaleString("en")}`;
    $("prev").disabled = list.offset === 0;
    $("next").disabled = list.offset + list.limit >= total;
  } catch (e) {
    $("status").textContent = `The employees could not be listed: ${e.message}`;
  }
}

let filterTimer;
$("filter").addEventListener("input", () => {
  clearTimeout(filterTimer);
  filterTimer = setTimeout(() => { list.offset = 0; refresh(); }, 250);
});
$("tag-filter").addEventListener("change", () => { list.offset = 0; refresh(); });
$("sort").addEventListener("change", () => {
  const [key, dir] = $("sort").value.split("=");
  list.sort = key;
  list.desc = dir === "desc";
  list.offset = 0;
  refresh();
});
$("page-size").addEventListener("change", () => {
  list.limit = Number($("page-size").value);
  list.offset = 0;
  refresh();
});
$("page").addEventListener("change", () => {
  const pages = Math.max(1, Math.ceil(list.total / list.limit));
  const n = Math.min(pages, Math.max(1, Math.round(Number($("page").value)) || 1));
  list.offset = (n - 1) * list.limit;
  refresh();
});
$("prev").addEventListener("click", () => { list.offset = Math.max(0, list.offset - list.limit); refresh(); });
$("next").addEventListener("click", () => { list.offset += list.limit; refresh(); });
for (const [id, table] of [["as-cards", false], ["as-table", true]]) {
  $(id).addEventListener("click", () => {
    list.table = table;
    $("as-cards").setAttribute("aria-pressed", String(!table));
    $("as-table").setAttribute("aria-pressed", String(table));
    refresh();
  });
}
$("new").addEventListener("click", () => openEditor(null));

// --- the editor ---

const TEXT_FIELDS = ["first_name", "middle_name", "last_name", "email", "phone", "personnel_number",
  "driver_license_number", "driver_license_cats", "ssn"];
const NULLABLE_FIELDS = ["hardware_key", "driver_license_issue_date", "driver_license_valid_till"];

function fillDepartments(select, chosen) {
  select.replaceChildren(el("option", { value: "" }, "No department"),
    ...departments.map((d) => el("option", { value: String(d.id) }, d.label)));
  select.value = chosen == null ? "" : String(chosen);
}

// Location fields are the same on employees and departments: all empty is
// no location; otherwise latitude and longitude are needed.
function fillLocation(form, loc) {
  form.elements.address.value = loc ? loc.address : "";
  form.elements.lat.value = loc ? loc.lat : "";
  form.elements.lng.value = loc ? loc.lng : "";
  form.elements.radius.value = loc && loc.radius ? loc.radius : "";
}

function readLocation(form) {
  const [address, lat, lng, radius] = ["address", "lat", "lng", "radius"].map((n) => form.elements[n].value.trim());
  if (!address && !lat && !lng && !radius) return null;
  const num = (v) => (v === "" ? NaN : Number(v));
  return { address, lat: num(lat), lng: num(lng), radius: radius === "" ? 0 : Number(radius) };
}

function checkLocation(form, loc) {
  if (!loc) return true;
  for (const n of ["lat", "lng"]) {
    if (Number.isNaN(loc[n])) {
      markInvalid(form, [n]);
      throw new Error("A location needs both latitude and longitude (or leave every location field empty)");
    }
  }
  return true;
}

function markInvalid(form, names) {
  for (const e of form.querySelectorAll("[aria-invalid]")) e.removeAttribute("aria-invalid");
  for (const n of names) if (form.elements[n]) form.elements[n].setAttribute("aria-invalid", "true");
  const first = names.map((n) => form.elements[n]).find(Boolean);
  if (first) first.focus();
}

function openEditor(e) {
  current = e;
  const form = $("editor-form");
  for (const f of TEXT_FIELDS) form.elements[f].value = e ? e[f] || "" : "";
  for (const f of NULLABLE_FIELDS) form.elements[f].value = e ? e[f] || "" : "";
  form.elements.tracker_id.value = e && e.tracker_id != null ? e.tracker_id : "";
  fillDepartments(form.elements.department_id, e && e.department_id);
  fillLocation(form, e && e.location);
  const chosen = new Set((e && e.tags) || []);
  $("editor-tags").replaceChildren(...(tags.length ? tags.map((t) => el("label", { class: "check" },
    el("input", { type: "checkbox", name: "tag", value: String(t.id), checked: chosen.has(t.id) }),
    el("span", { class: "swatch", bg: `#${t.color}`, "aria-hidden": "true" }), t.name))
    : [el("p", { class: "hint" }, "No tags yet: make them under Tags.")]));
  markInvalid(form, []);
  $("editor-title").textContent = e ? fullName(e) : "New employee";
  $("editor-error").textContent = "";
  $("upload-error").textContent = "";
  $("progress").hidden = true;
  $("delete").hidden = !e || !can("employee_update");
  showAvatar();
  $("editor").showModal();
  if (can("employee_update")) focusIn(form.elements.first_name, $("editor-title"));
  else $("close").focus();
}

$("close").addEventListener("click", () => $("editor").close());

function readEmployee(form) {
  const fields = {};
  for (const f of TEXT_FIELDS) fields[f] = form.elements[f].value.trim();
  for (const f of NULLABLE_FIELDS) fields[f] = form.elements[f].value.trim() || null;
  const tracker = form.elements.tracker_id.value.trim();
  fields.tracker_id = tracker === "" ? null : Number(tracker);
  const dep = form.elements.department_id.value;
  fields.department_id = dep === "" ? null : Number(dep);
  fields.location = readLocation(form);
  fields.tags = [...form.querySelectorAll('input[name="tag"]:checked')].map((c) => Number(c.value));
  return fields;
}

$("editor-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const form = ev.target;
  $("editor-error").textContent = "";
  try {
    if (!form.elements.first_name.value.trim()) {
      markInvalid(form, ["first_name"]);
      throw new Error("First name must not be empty");
    }
    const fields = readEmployee(form);
    checkLocation(form, fields.location);
    if (current) {
      await call("employee/update", { employee: { ...current, ...fields } });
    } else {
      const body = await call("employee/create", { employee: fields });
      current = { id: body.id };
    }
    markInvalid(form, []);
    await reloadCurrent();
    $("editor-title").textContent = fullName(current);
    $("delete").hidden = false;
    $("status").textContent = "Saved.";
    await refresh();
  } catch (e) {
    // 247 and 201 name no parameter: say which fields they can be about.
    if (e.code === 247) {
      e.params = ["hardware_key", "tracker_id"];
      e.message = `Another employee has this hardware key or tracker id (${e.description})`;
    } else if (e.code === 201 && current) {
      e.message = `The employee, the department or a tag was deleted meanwhile (${e.description})`;
    }
    if (e.params) markInvalid(form, e.params);
    $("editor-error").textContent = e.message;
  }
});

// confirmDelete asks before anything is deleted, saying what follows.
function confirmDelete(title, text) {
  const d = $("confirm");
  $("confirm-title").textContent = title;
  $("confirm-text").textContent = text;
  d.showModal();
  $("confirm-no").focus();
  return new Promise((resolve) => {
    const done = (yes) => () => { d.close(); cleanup(); resolve(yes); };
    const yes = done(true), no = done(false);
    const cleanup = () => {
      $("confirm-yes").removeEventListener("click", yes);
      $("confirm-no").removeEventListener("click", no);
      d.removeEventListener("cancel", no);
    };
    $("confirm-yes").addEventListener("click", yes);
    $("confirm-no").addEventListener("click", no);
    d.addEventListener("cancel", no);
  });
}

$("delete").addEventListener("click", async () => {
  if (!current) return;
  const yes = await confirmDelete(`Delete ${fullName(current)}?`,
    "The employee, their avatar and their tags are removed for good. Their department and the tags themselves stay.");
  if (!yes) return;
  try {
    await call("employee/delete", { employee_id: current.id });
    $("editor").close();
    $("status").textContent = "Deleted.";
    await refresh();
  } catch (e) {
    $("editor-error").textContent = e.message;
  }
});

async function reloadCurrent() {
  const body = await call("employee/read", { employee_id: current.id });
  current = body.value;
  showAvatar();
}

// --- the avatar ---

const iconButtons = [];
for (let id = 1; id <= PRESET_ICONS; id++) {
  const b = el("button", { type: "button", "data-icon": String(id), "aria-pressed": "false",
    "aria-label": `${ICON_NAMES[id - 1]} (icon ${id})`, title: ICON_NAMES[id - 1], onclick: () => assign(id) },
  el("img", { src: `${API}/static/employee/icons/${id}.svg`, alt: "" }));
  iconButtons.push(b);
}
$("icons").append(...iconButtons);
$("use-photo").addEventListener("click", () => assign(null));

function showAvatar(previewURL) {
  const e = current;
  $("avatar-hint").hidden = !!e || !can("employee_update");
  $("avatar-tools").hidden = !e;
  if (!e) return;
  for (const b of iconButtons) b.setAttribute("aria-pressed", String(Number(b.dataset.icon) === e.icon_id));
  $("use-photo").setAttribute("aria-pressed", String(e.icon_id == null && !!e.avatar_file_name));
  $("use-photo").disabled = !e.avatar_file_name;
  $("use-photo").title = e.avatar_file_name ? "" : "No picture has been uploaded yet";
  const img = previewURL ? { src: previewURL } : avatarImage(e, 96);
  const preview = $("preview");
  preview.hidden = !img;
  $("preview-initials").hidden = !!img;
  $("preview-initials").textContent = initials(e);
  if (img) {
    preview.src = img.src;
    preview.srcset = img.srcset || "";
  }
}

async function assign(icon) {
  if (!current) return;
  $("upload-error").textContent = "";
  try {
    await call("employee/avatar/assign", { employee_id: current.id, icon_id: icon });
    await reloadCurrent();
    await refresh();
  } catch (e) {
    $("upload-error").textContent = e.message;
  }
}

// send posts a file with fields to an upload call (an employee's or a
// tag's avatar, a spreadsheet) as multipart with upload progress (fetch
// cannot report it), and resolves with the answer or rejects with the
// server's reason, saying what was refused.
function send(path, fields, file, progress, what = "picture") {
  return new Promise((resolve, reject) => {
    const data = new FormData();
    data.append("hash", hash);
    for (const [k, v] of Object.entries(fields)) data.append(k, v);
    data.append("file", file, file.name || "picture");
    const xhr = new XMLHttpRequest();
    xhr.open("POST", `${API}/${path}`);
    if (progress) {
      progress.hidden = false;
      progress.max = file.size || 1;
      progress.value = 0;
      xhr.upload.addEventListener("progress", (ev) => {
        if (ev.lengthComputable) {
          progress.max = ev.total;
          progress.value = ev.loaded;
        }
      });
    }
    xhr.addEventListener("load", () => {
      let body;
      try {
        body = JSON.parse(xhr.responseText);
      } catch {
        reject(new Error(`The upload failed (HTTP ${xhr.status}).`));
        return;
      }
      if (body.success) resolve(body);
      else reject(new Error(`The ${what} was refused: ${new ApiError(body).message}`));
    });
    xhr.addEventListener("error", () => reject(new Error("The upload failed: the server cannot be reached.")));
    xhr.send(data);
  });
}

// upload gives the open employee the picture and shows it: an upload does
// not change icon_id, so the console assigns null to show the new picture
// instead of an icon.
async function upload(file) {
  if (!current) return;
  const err = $("upload-error");
  err.textContent = "";
  const local = URL.createObjectURL(file);
  showAvatar(local);
  try {
    await send("employee/avatar/upload", { employee_id: current.id }, file, $("progress"));
  } catch (e) {
    err.textContent = e.message;
    showAvatar();
    return;
  } finally {
    URL.revokeObjectURL(local);
    $("progress").hidden = true;
  }
  if (current.icon_id != null) {
    await assign(null);
  } else {
    await reloadCurrent();
    await refresh();
  }
}

$("file").addEventListener("change", (ev) => {
  const file = ev.target.files[0];
  ev.target.value = "";
  if (file) crop(file, upload);
});

const drop = $("drop");
drop.addEventListener("dragover", (ev) => {
  ev.preventDefault();
  drop.classList.add("over");
});
drop.addEventListener("dragleave", () => drop.classList.remove("over"));
drop.addEventListener("drop", (ev) => {
  ev.preventDefault();
  drop.classList.remove("over");
  const file = ev.dataTransfer.files[0];
  if (file) crop(file, upload);
});

// --- the square crop ---

// The crop shows the picture under a square window: zoom 1 fits its
// shorter side to the square; the offset (in picture pixels) is where the
// square's centre is. Uploading draws that square, at most 1024 pixels a
// side, as PNG (which keeps transparency) or JPEG for a photo, and hands it
// to deliver. A file the browser cannot draw is handed on as it is, so the
// server says why it refuses.
const crop = (() => {
  const canvas = $("crop-canvas"), g = canvas.getContext("2d"), zoom = $("crop-zoom");
  let img = null, file = null, url = null, cx = 0, cy = 0, then = null;
  const side = () => Math.min(img.naturalWidth, img.naturalHeight) / Number(zoom.value); // picture pixels in the square
  const clamp = () => {
    const h = side() / 2;
    cx = Math.min(Math.max(cx, h), img.naturalWidth - h);
    cy = Math.min(Math.max(cy, h), img.naturalHeight - h);
  };
  const draw = () => {
    clamp();
    const s = side();
    g.clearRect(0, 0, canvas.width, canvas.height);
    g.drawImage(img, cx - s / 2, cy - s / 2, s, s, 0, 0, canvas.width, canvas.height);
  };
  const move = (dx, dy) => { // dx, dy in screen pixels of the canvas
    const scale = side() / canvas.getBoundingClientRect().width;
    cx -= dx * scale;
    cy -= dy * scale;
    draw();
  };
  const setZoom = (z) => {
    zoom.value = String(Math.min(4, Math.max(1, z)));
    draw();
  };
  const close = () => {
    $("cropper").close();
    if (url) URL.revokeObjectURL(url);
    img = file = url = then = null;
  };
  let drag = null;
  canvas.addEventListener("pointerdown", (ev) => { drag = { x: ev.clientX, y: ev.clientY }; canvas.setPointerCapture(ev.pointerId); });
  canvas.addEventListener("pointermove", (ev) => {
    if (!drag) return;
    move(ev.clientX - drag.x, ev.clientY - drag.y);
    drag = { x: ev.clientX, y: ev.clientY };
  });
  canvas.addEventListener("pointerup", () => { drag = null; });
  canvas.addEventListener("wheel", (ev) => { ev.preventDefault(); setZoom(Number(zoom.value) * (ev.deltaY < 0 ? 1.1 : 1 / 1.1)); });
  zoom.addEventListener("input", draw);
  $("crop-area").addEventListener("keydown", (ev) => {
    const step = ev.shiftKey ? 40 : 10;
    const keys = { ArrowLeft: [step, 0], ArrowRight: [-step, 0], ArrowUp: [0, step], ArrowDown: [0, -step] };
    if (keys[ev.key]) move(...keys[ev.key]);
    else if (ev.key === "+" || ev.key === "=") setZoom(Number(zoom.value) * 1.1);
    else if (ev.key === "-") setZoom(Number(zoom.value) / 1.1);
    else if (ev.key === "Enter") $("crop-upload").click();
    else return;
    ev.preventDefault();
  });
  $("crop-cancel").addEventListener("click", close);
  $("cropper").addEventListener("close", () => { if (img) close(); });
  $("crop-whole").addEventListener("click", () => { const f = file, t = then; close(); t(f); });
  $("crop-upload").addEventListener("click", () => {
    const s = side(), out = Math.round(Math.min(1024, s));
    const c = el("canvas", { width: out, height: out });
    c.getContext("2d").drawImage(img, cx - s / 2, cy - s / 2, s, s, 0, 0, out, out);
    const type = file.type === "image/jpeg" ? "image/jpeg" : "image/png";
    const name = (file.name || "picture").replace(/\.[^.]*$/, "") + (type === "image/jpeg" ? ".jpg" : ".png");
    const t = then;
    close();
    c.toBlob((blob) => t(new File([blob], name, { type })), type, 0.92);
  });
  return (f, deliver) => {
    const u = URL.createObjectURL(f);
    const i = new Image();
    i.onload = () => {
      img = i; file = f; url = u; then = deliver;
      cx = i.naturalWidth / 2; cy = i.naturalHeight / 2;
      zoom.value = "1";
      $("cropper").showModal();
      draw();
      $("crop-area").focus();
    };
    i.onerror = () => { URL.revokeObjectURL(u); deliver(f); };
    i.src = u;
  };
})();

// --- generic forms (departments, tags, sub-users, groups) ---

// editForm shows a dialog of fields and calls save with what was typed;
// it stays open with the server's reason until save succeeds. Each field:
// [name, words, type, value, extra attributes]; type "location" adds the
// location fields, "rights" a checkbox per right, "select" a choice.
function editForm(title, fields, save) {
  const box = $("form-fields");
  box.replaceChildren();
  for (const [name, words, type, value, extra = {}] of fields) {
    if (type === "location") {
      box.append(el("fieldset", { class: "wide" }, el("legend", {}, "Location"), el("div", { class: "fields" },
        el("label", { class: "wide" }, "Address ", el("input", { name: "address", maxlength: "255" })),
        el("label", {}, "Latitude ", el("input", { name: "lat", type: "number", step: "any", min: "-90", max: "90" })),
        el("label", {}, "Longitude ", el("input", { name: "lng", type: "number", step: "any", min: "-180", max: "180" })),
        el("label", {}, "Radius (metres) ", el("input", { name: "radius", type: "number", step: "1", min: "0", max: "1000000" })))));
      fillLocation($("form"), value);
    } else if (type === "rights") {
      box.append(el("fieldset", { class: "wide" }, el("legend", {}, words), el("div", { class: "rights" },
        ...GROUP_RIGHTS.map((r) => el("label", { class: "check" },
          el("input", { type: "checkbox", name: "right", value: r, checked: value.includes(r) }), r.replaceAll("_", " "))))));
    } else if (type === "select") {
      const s = el("select", { name });
      s.append(...extra.options.map(([v, w]) => el("option", { value: v }, w)));
      s.value = value;
      box.append(el("label", {}, `${words} `, s));
    } else if (type === "checkbox") {
      box.append(el("label", { class: "check" }, el("input", { type: "checkbox", name, checked: value }), words));
    } else {
      box.append(el("label", {}, `${words} `, el("input", { name, type: type || "text", value: value ?? "", ...extra })));
    }
  }
  $("form-title").textContent = title;
  $("form-error").textContent = "";
  const d = $("form-dialog");
  d.showModal();
  focusIn(box.querySelector("input, select"), $("form-title"));
  $("form").onsubmit = async (ev) => {
    ev.preventDefault();
    const form = $("form");
    $("form-error").textContent = "";
    try {
      for (const input of form.querySelectorAll("input[required]")) {
        if (!input.value.trim()) {
          markInvalid(form, [input.name]);
          throw new Error(`${input.closest("label").firstChild.textContent.trim()} must not be empty`);
        }
      }
      const values = {};
      for (const [name, , type] of fields) {
        if (type === "location") {
          values.location = readLocation(form);
          checkLocation(form, values.location);
        } else if (type === "rights") {
          values[name] = [...form.querySelectorAll('input[name="right"]:checked')].map((c) => c.value);
        } else if (type === "checkbox") {
          values[name] = form.elements[name].checked;
        } else {
          values[name] = form.elements[name].value.trim();
        }
      }
      await save(values);
      d.close();
    } catch (e) {
      if (e.params) markInvalid(form, e.params);
      $("form-error").textContent = e.message;
    }
  };
}
$("form-cancel").addEventListener("click", () => $("form-dialog").close());

// actionsCell holds a row's buttons.
const actionsCell = (...buttons) => el("td", { class: "row-actions" }, ...buttons);
const button = (words, label, onclick, cls) => el("button", { type: "button", class: cls || "", "aria-label": label, onclick }, words);
const emptyRow = (cols, text) => el("tr", {}, el("td", { colspan: String(cols), class: "empty" }, text));

// --- departments ---

async function loadDepartments() {
  try {
    departments = (await call("department/list")).list;
  } catch (e) {
    $("departments-status").textContent = `The departments could not be listed: ${e.message}`;
    return;
  }
  const write = can("employee_update");
  $("departments-status").textContent = plural(departments.length, "department", "departments");
  $("departments-body").replaceChildren(...(departments.length ? departments.map((d) => el("tr", {},
    el("th", { scope: "row" }, d.label),
    el("td", {}, d.location ? d.location.address : ""),
    el("td", {}, d.location ? `${d.location.lat}, ${d.location.lng}${d.location.radius ? ` (${d.location.radius} m)` : ""}` : ""),
    write ? actionsCell(button("Edit", `Edit ${d.label}`, () => editDepartment(d)),
      button("Delete", `Delete ${d.label}`, () => deleteDepartment(d), "danger")) : el("td")))
    : [emptyRow(4, write ? "No departments yet. Press New department to add one." : "No departments yet.")]));
}

function editDepartment(d) {
  editForm(d ? `Department ${d.label}` : "New department",
    [["label", "Name", "text", d ? d.label : "", { required: true, maxlength: "100" }], ["location", "", "location", d && d.location]],
    async (v) => {
      if (d) await call("department/update", { department: { id: d.id, label: v.label, location: v.location } });
      else await call("department/create", { department: { label: v.label, location: v.location } });
      await loadDepartments();
      $("departments-status").textContent = "Saved.";
    });
}

async function deleteDepartment(d) {
  const yes = await confirmDelete(`Delete the department ${d.label}?`,
    "Its employees are kept: they are left without a department. This cannot be undone.");
  if (!yes) return;
  try {
    await call("department/delete", { department_id: d.id });
    await loadDepartments();
    $("departments-status").textContent = `${d.label} is deleted; its employees have no department now.`;
  } catch (e) {
    $("departments-status").textContent = e.message;
  }
}
$("new-department").addEventListener("click", () => editDepartment(null));

// --- tags ---

async function loadTags() {
  try {
    tags = (await call("tag/list")).list;
  } catch (e) {
    $("tags-status").textContent = `The tags could not be listed: ${e.message}`;
    return;
  }
  const chosen = $("tag-filter").value;
  $("tag-filter").replaceChildren(el("option", { value: "" }, "Any tag"), ...tags.map((t) => el("option", { value: String(t.id) }, t.name)));
  $("tag-filter").value = tags.some((t) => String(t.id) === chosen) ? chosen : "";
  const write = can("tag_update");
  $("tags-status").textContent = plural(tags.length, "tag", "tags");
  $("tags-body").replaceChildren(...(tags.length ? tags.map((t) => el("tr", {},
    el("th", { scope: "row" }, el("span", { class: "chip" }, tagAvatar(t) ||
      el("span", { class: "swatch", bg: `#${t.color}`, "aria-hidden": "true" }), t.name)),
    el("td", {}, el("span", { class: "chip" }, el("span", { class: "swatch", bg: `#${t.color}`, "aria-hidden": "true" }), `#${t.color}`)),
    write ? actionsCell(button("Edit", `Edit ${t.name}`, () => editTag(t)),
      button("Picture…", `Choose a picture for ${t.name}`, () => chooseTagPicture(t)),
      button("Delete", `Delete ${t.name}`, () => deleteTag(t), "danger")) : el("td")))
    : [emptyRow(3, write ? "No tags yet. Press New tag, then tick it on employees in their editor." : "No tags yet.")]));
}

// tagAvatar is a tag's icon or uploaded picture, or null.
function tagAvatar(t) {
  if (t.icon_id != null && t.icon_id >= 1 && t.icon_id <= PRESET_ICONS) {
    return el("img", { class: "tag-avatar", alt: "", width: 20, height: 20, src: `${API}/static/employee/icons/${t.icon_id}.svg` });
  }
  if (t.icon_id == null && t.avatar_file_name) {
    const base = `${API}/static/tag/avatars/${encodeURIComponent(t.avatar_file_name)}`;
    return el("img", { class: "tag-avatar", alt: "", width: 20, height: 20, src: `${base}?size=32`, srcset: `${base}?size=64 2x` });
  }
  return null;
}

// chooseTagPicture lets a person pick a picture for a tag, crop it, and
// uploads it as the tag's avatar.
function chooseTagPicture(t) {
  const input = $("tag-file");
  input.onchange = () => {
    const file = input.files[0];
    input.value = "";
    if (!file) return;
    crop(file, async (f) => {
      $("tags-status").textContent = `Uploading ${t.name}'s picture…`;
      try {
        await send("tag/avatar/upload", { tag_id: t.id }, f, null);
        if (t.icon_id != null) await call("tag/avatar/assign", { tag_id: t.id, icon_id: null });
        await loadTags();
        $("tags-status").textContent = `${t.name} has a new picture.`;
      } catch (e) {
        $("tags-status").textContent = e.message;
      }
    });
  };
  input.click();
}

function editTag(t) {
  editForm(t ? `Tag ${t.name}` : "New tag",
    [["name", "Name", "text", t ? t.name : "", { required: true, maxlength: "60" }],
      ["color", "Colour", "color", t ? `#${t.color.toLowerCase()}` : "#1f5fa8"]],
    async (v) => {
      const tag = { name: v.name, color: v.color.replace("#", "").toUpperCase() };
      if (t) await call("tag/update", { tag: { ...t, ...tag } });
      else await call("tag/create", { tag });
      await loadTags();
      $("tags-status").textContent = "Saved.";
    });
}

async function deleteTag(t) {
  const yes = await confirmDelete(`Delete the tag ${t.name}?`, "It is taken off every employee that carries it; the employees stay.");
  if (!yes) return;
  try {
    await call("tag/delete", { tag_id: t.id });
    await loadTags();
    $("tags-status").textContent = `${t.name} is deleted.`;
  } catch (e) {
    $("tags-status").textContent = e.message;
  }
}
$("new-tag").addEventListener("click", () => editTag(null));

// --- people and access ---

let groups = [];

async function loadPeople() {
  await Promise.all([loadGroups(), loadKeys()]);
  await loadSubusers();
}

async function loadSubusers() {
  let subs;
  try {
    subs = (await call("subuser/list")).list;
  } catch (e) {
    $("subusers-status").textContent = `The sub-users could not be listed: ${e.message}`;
    return;
  }
  const groupLabel = (id) => (id == null ? "Default (no rights)" : (groups.find((g) => g.id === id) || {}).label || `#${id}`);
  $("subusers-status").textContent = plural(subs.length, "sub-user", "sub-users");
  $("subusers-body").replaceChildren(...(subs.length ? subs.map((u) => el("tr", {},
    el("th", { scope: "row" }, u.login), el("td", {}, fullName(u)), el("td", {}, groupLabel(u.security_group_id)),
    el("td", {}, u.activated ? "Active" : "Deactivated"),
    actionsCell(button("Edit", `Edit ${u.login}`, () => editSubuser(u)),
      button("Delete", `Delete ${u.login}`, () => deleteSubuser(u), "danger"))))
    : [emptyRow(5, "No sub-users yet. Register one to give someone their own login.")]));
}

function editSubuser(u) {
  const options = [["", "Default (no rights)"], ...groups.map((g) => [String(g.id), g.label])];
  const fields = [["login", "Login (an e-mail address)", "email", u ? u.login : "", { required: true, maxlength: "100", autocomplete: "off" }]];
  if (!u) fields.push(["password", "Password (6–20 characters: upper and lower case, a digit, a sign)", "password", "", { required: true, autocomplete: "new-password" }]);
  fields.push(["first_name", "First name", "text", u ? u.first_name : ""], ["last_name", "Last name", "text", u ? u.last_name : ""],
    ["phone", "Phone (digits)", "text", u ? u.phone : "", { inputmode: "numeric" }],
    ["security_group_id", "Group", "select", u && u.security_group_id != null ? String(u.security_group_id) : "", { options }],
    ["activated", "Active: may sign in", "checkbox", u ? u.activated : true]);
  editForm(u ? `Sub-user ${u.login}` : "Register a sub-user", fields, async (v) => {
    const user = { ...(u || {}), login: v.login, first_name: v.first_name, last_name: v.last_name, phone: v.phone,
      activated: v.activated, security_group_id: v.security_group_id === "" ? null : Number(v.security_group_id) };
    delete user.creation_date;
    if (u) await call("subuser/update", { user });
    else await call("subuser/register", { user, password: v.password });
    await loadSubusers();
    $("subusers-status").textContent = "Saved.";
  });
}

async function deleteSubuser(u) {
  const yes = await confirmDelete(`Delete the sub-user ${u.login}?`, "They can no longer sign in, and their sessions end. The account's employees stay.");
  if (!yes) return;
  try {
    await call("subuser/delete", { subuser_id: u.id });
    await loadSubusers();
    $("subusers-status").textContent = `${u.login} is deleted.`;
  } catch (e) {
    $("subusers-status").textContent = e.message;
  }
}
$("new-subuser").addEventListener("click", () => editSubuser(null));

async function loadGroups() {
  try {
    groups = (await call("subuser/security_group/list")).list;
  } catch (e) {
    $("groups-status").textContent = `The groups could not be listed: ${e.message}`;
    return;
  }
  $("groups-status").textContent = plural(groups.length, "group", "groups");
  $("groups-body").replaceChildren(...(groups.length ? groups.map((g) => el("tr", {},
    el("th", { scope: "row" }, g.label),
    el("td", {}, g.privileges.rights.length ? g.privileges.rights.map((r) => r.replaceAll("_", " ")).join(", ") : "No rights: can only look"),
    actionsCell(button("Edit", `Edit ${g.label}`, () => editGroup(g)),
      button("Delete", `Delete ${g.label}`, () => deleteGroup(g), "danger"))))
    : [emptyRow(3, "No groups yet. Every sub-user is in the default group, which may only look; make a group to give rights.")]));
}

function editGroup(g) {
  editForm(g ? `Group ${g.label}` : "New security group",
    [["label", "Name", "text", g ? g.label : "", { required: true, maxlength: "100" }],
      ["store_period", "History kept for (such as 30d or 1y; empty: no limit)", "text", g ? g.privileges.store_period : ""],
      ["rights", "Rights", "rights", g ? g.privileges.rights : []]],
    async (v) => {
      const group = { label: v.label, privileges: { rights: v.rights, store_period: v.store_period } };
      if (g) await call("subuser/security_group/update", { group: { id: g.id, ...group } });
      else await call("subuser/security_group/create", { group });
      await loadPeople();
      $("groups-status").textContent = "Saved.";
    });
}

async function deleteGroup(g) {
  const yes = await confirmDelete(`Delete the group ${g.label}?`, "Its sub-users move to the default group, which has no rights.");
  if (!yes) return;
  try {
    await call("subuser/security_group/delete", { security_group_id: g.id });
    await loadPeople();
    $("groups-status").textContent = `${g.label} is deleted.`;
  } catch (e) {
    $("groups-status").textContent = e.message;
  }
}
$("new-group").addEventListener("click", () => editGroup(null));

async function loadKeys() {
  let keys;
  try {
    keys = (await call("api/key/list")).list;
  } catch (e) {
    $("keys-status").textContent = `The API keys could not be listed: ${e.message}`;
    return;
  }
  $("keys-status").textContent = plural(keys.length, "key", "keys");
  $("keys-body").replaceChildren(...(keys.length ? keys.map((k) => el("tr", {},
    el("th", { scope: "row" }, k.title), el("td", {}, k.create_date),
    actionsCell(button("Delete", `Delete the key ${k.title}`, () => deleteKey(k), "danger"))))
    : [emptyRow(3, "No API keys yet. Give a title above and create one for each program that calls Roster.")]));
}

$("key-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const title = ev.target.elements.title;
  if (!title.value.trim()) {
    $("keys-status").textContent = "Title must not be empty";
    title.focus();
    return;
  }
  try {
    const key = (await call("api/key/create", { title: title.value.trim() })).value;
    title.value = "";
    await loadKeys();
    $("key-value").value = key.hash;
    $("key-copied").textContent = "";
    $("key-shown").showModal();
    $("key-value").select();
  } catch (e) {
    $("keys-status").textContent = e.message;
  }
});
$("key-copy").addEventListener("click", async () => {
  $("key-value").select();
  try {
    await navigator.clipboard.writeText($("key-value").value);
    $("key-copied").textContent = "Copied.";
  } catch {
    $("key-copied").textContent = "The browser would not copy; the key is selected: copy it with the keyboard.";
  }
});
$("key-shown").addEventListener("close", () => { $("key-value").value = ""; });
$("key-done").addEventListener("click", () => $("key-shown").close());

async function deleteKey(k) {
  const yes = await confirmDelete(`Delete the key ${k.title}?`, "Programs using it stop working at once.");
  if (!yes) return;
  try {
    await call("api/key/delete", { key_id: k.id });
    await loadKeys();
    $("keys-status").textContent = `${k.title} is deleted.`;
  } catch (e) {
    $("keys-status").textContent = e.message;
  }
}

// --- importing employees ---

// The fields a column may hold, as employee/import/start names them, with
// the words a person reads; "undefined" skips a column.
const IMPORT_FIELDS = [["first_name", "First name"], ["middle_name", "Middle name"], ["last_name", "Last name"],
  ["email", "Email"], ["phone", "Phone"], ["personnel_number", "Personnel number"], ["hardware_key", "Hardware key"],
  ["ssn", "SSN"], ["driver_license_number", "Licence number"], ["driver_license_cats", "Licence categories"],
  ["driver_license_issue_date", "Licence issued on"], ["driver_license_valid_till", "Licence valid till"],
  ["address", "Address"], ["lat", "Latitude"], ["lng", "Longitude"], ["radius", "Radius"],
  ["tracker_label", "Tracker label"], ["tags", "Tags"], ["undefined", "Skip this column"]];
// Other header texts a spreadsheet commonly has for a field, in the form
// squash gives them.
const IMPORT_ALIASES = {
  first_name: ["first", "firstname", "givenname", "forename"], middle_name: ["middle", "patronymic"],
  last_name: ["last", "surname", "familyname"], email: ["mail", "emailaddress"],
  phone: ["phonenumber", "telephone", "tel", "mobile", "cell"], personnel_number: ["employeenumber", "staffnumber", "personnelno"],
  ssn: ["socialsecuritynumber"], driver_license_number: ["driverlicense", "license", "licensenumber"],
  driver_license_cats: ["licensecats", "categories"], driver_license_issue_date: ["licenseissued", "issuedate", "issuedon"],
  driver_license_valid_till: ["validtill", "validuntil", "expires", "expiry", "licenseexpires"],
  lat: ["latitude"], lng: ["lon", "long", "longitude"], radius: ["radiusm", "radiusmetres", "radiusmeters"],
  tracker_label: ["tracker"], tags: ["tag", "tagids"],
};
// squash reduces a header text to lower-case letters and digits, spelling
// licence as license: "E-mail" and "email", "First name" and "first_name"
// meet.
const squash = (text) => text.normalize("NFKD").toLowerCase().replace(/[^a-z0-9]/g, "").replaceAll("licence", "license");
const IMPORT_GUESS = new Map();
for (const [field, words] of IMPORT_FIELDS.slice(0, -1)) {
  for (const name of [field, words, ...(IMPORT_ALIASES[field] || [])]) IMPORT_GUESS.set(squash(name), field);
}

// guessFields gives each header the field its text names, each field to
// its first column only (the server refuses a field named twice), and
// undefined to the rest.
function guessFields(header) {
  const taken = new Set();
  return header.map((text) => {
    const f = IMPORT_GUESS.get(squash(text));
    if (!f || taken.has(f)) return "undefined";
    taken.add(f);
    return f;
  });
}

// previewColumns names the preview's keys as the server does (it keys each
// row by its column's trimmed header, or by the column's number from 1 when
// that is empty or taken), so that the cells show in the file's order.
function previewColumns(header, rows) {
  const n = Math.max(header.length, ...rows.map((r) => Object.keys(r).length));
  const taken = new Set();
  return Array.from({ length: n }, (_, i) => {
    let k = (header[i] || "").trim();
    if (!k || taken.has(k)) k = String(i + 1);
    taken.add(k);
    return { key: k, text: (header[i] || "").trim() || `Column ${i + 1}` };
  });
}

const imp = { file: null, columns: [], id: 0, timer: 0, url: "" };

function resetImport() {
  clearTimeout(imp.timer);
  if (imp.url) URL.revokeObjectURL(imp.url);
  Object.assign(imp, { file: null, columns: [], id: 0, timer: 0, url: "" });
  for (const id of ["import-map", "import-run", "import-failed", "import-warned", "import-download"]) $(id).hidden = true;
  for (const id of ["import-error", "import-status", "import-progress-text"]) $(id).textContent = "";
  $("import-progress").value = 0;
}

$("import-file").addEventListener("change", async () => {
  const file = $("import-file").files[0];
  resetImport();
  if (!file) return;
  $("import-status").textContent = `Reading ${file.name}…`;
  let body;
  try {
    body = await send("data/spreadsheet/parse", { preview_count: 20, parse_header: true }, file, $("import-upload"), "spreadsheet");
  } catch (e) {
    $("import-status").textContent = "";
    $("import-error").textContent = e.message;
    return;
  } finally {
    $("import-upload").hidden = true;
  }
  const header = body.header || [];
  imp.file = body.file_id;
  imp.columns = previewColumns(header, body.preview);
  const guess = guessFields(imp.columns.map((c) => c.text));
  $("import-head").replaceChildren(...imp.columns.map((c, i) => el("th", { scope: "col" },
    el("label", {}, el("span", { class: "column-name" }, c.text),
      el("select", { "data-column": String(i), "aria-label": `What ${c.text} holds` },
        ...IMPORT_FIELDS.map(([f, words]) => el("option", { value: f, selected: f === guess[i] }, words)))))));
  $("import-rows").replaceChildren(...body.preview.map((r) => el("tr", {},
    ...imp.columns.map((c) => el("td", {}, r[c.key] ?? "")))));
  $("import-status").textContent = body.preview.length
    ? `${file.name}: its first ${plural(body.preview.length, "row", "rows")} below.`
    : `${file.name} has no rows below its header.`;
  $("import-map").hidden = false;
});

$("import-map").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  $("import-error").textContent = "";
  const selects = [...$("import-head").querySelectorAll("select")];
  const headers = selects.map((s) => s.value);
  for (const s of selects) s.removeAttribute("aria-invalid");
  const twice = selects.find((s, i) => s.value !== "undefined" && headers.indexOf(s.value) !== i);
  if (twice) {
    twice.setAttribute("aria-invalid", "true");
    $("import-error").textContent = `Two columns hold ${twice.selectedOptions[0].textContent}: choose Skip for one of them.`;
    return;
  }
  if (!headers.includes("first_name")) {
    $("import-error").textContent = "Choose the column that holds the first name: every employee needs one.";
    return;
  }
  try {
    imp.id = (await call("employee/import/start", { filename: imp.file, headers, user_headers: imp.columns.map((c) => c.text) })).id;
  } catch (e) {
    $("import-error").textContent = `The import did not start: ${e.message}`;
    return;
  }
  $("import-map").hidden = true;
  $("import-status").textContent = `Importing ${$("import-file").files[0]?.name || "the spreadsheet"}.`;
  $("import-run").hidden = false;
  $("import-progress-text").textContent = "Waiting for the server to start…";
  $("import-run-title").focus();
  followImport();
});

// followImport reads the import's progress into the bar every half second
// until the server says it has ended.
async function followImport() {
  const id = imp.id;
  let p;
  try {
    p = (await call("employee/import/read", { process_id: id })).value;
  } catch (e) {
    if (id !== imp.id || !hash) return; // another import, or signed out
    const again = e.code !== 201; // 201: the import is gone; anything else may pass
    $("import-progress-text").textContent = `The progress could not be read: ${e.message}.${again ? " Trying again…" : ""}`;
    if (again) imp.timer = setTimeout(followImport, 2000);
    return;
  }
  if (id !== imp.id) return; // another import has begun since
  const g = p.progress;
  const bar = $("import-progress");
  if (g.percent == null) bar.removeAttribute("value"); // the server cannot tell yet: indeterminate
  else bar.value = g.percent;
  const ended = ["done", "failed", "finished"].includes(p.status);
  const counts = `${plural(g.processed_lines, "row", "rows")} read: ${g.imported.toLocaleString("en")} imported, ${g.failed.toLocaleString("en")} failed`;
  $("import-progress-text").textContent = !ended ? `${counts}…`
    : p.status === "failed" ? `The import stopped: ${counts}.` : `Done: ${counts}.`;
  if (!ended) {
    imp.timer = setTimeout(followImport, 500);
    return;
  }
  const shown = (g.errors || []).length;
  if (g.failed) {
    $("import-failed").hidden = false;
    $("import-failed-note").textContent = shown < g.failed
      ? `The first ${shown} of ${g.failed.toLocaleString("en")} are shown; the download holds every one, with why it failed in a last column.`
      : "The download holds these rows as they were read, with why each failed in a last column: fix them and import it again.";
    $("import-failed-body").replaceChildren(...g.errors.map((m) => el("tr", {}, el("th", { scope: "row" }, String(m.line)), el("td", {}, m.message))));
    await offerFailed(id);
  }
  if ((g.warnings || []).length) {
    $("import-warned").hidden = false;
    $("import-warnings").replaceChildren(...g.warnings.map((m) => el("li", {}, `Line ${m.line}: ${m.message}`)));
  }
  refresh(); // the employee list has the new ones when next shown
}

// offerFailed fetches the failed rows' file (a TSV, not JSON; a JSON error
// when there is none) and offers it for download from memory.
async function offerFailed(id) {
  const a = $("import-download");
  a.hidden = true;
  try {
    const res = await fetch(`${API}/employee/import/download_failed`, {
      method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ hash, process_id: id }),
    });
    if ((res.headers.get("Content-Type") || "").startsWith("application/json")) throw new ApiError(await res.json());
    if (!res.ok) throw new Error(`HTTP ${res.status}`);
    const blob = await res.blob();
    if (id !== imp.id) return;
    if (imp.url) URL.revokeObjectURL(imp.url);
    imp.url = URL.createObjectURL(blob);
    a.href = imp.url;
    a.download = `employee-import-${id}-failed.tsv`;
    a.hidden = false;
  } catch (e) {
    $("import-failed-note").textContent = `The file of failed rows could not be fetched: ${e.message}`;
  }
}

// --- start ---

if (hash) {
  showApp().catch(() => signedOut());
} else {
  signedOut();
}
