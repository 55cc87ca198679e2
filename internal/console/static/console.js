// Roster's web console: a client of the public API only, like any other.
"use strict";

const API = document.querySelector('meta[name="roster-api"]').content;
// Icons 1–24 are drawn by the server; other ids are left to clients.
const ICON_NAMES = ["person", "driver", "truck", "car", "van", "bus", "bicycle", "wrench", "hammer", "star",
  "heart", "flag", "home", "phone", "package", "pin", "shield", "leaf", "bolt", "clock", "key", "hard hat",
  "first aid", "coffee"];
const PRESET_ICONS = ICON_NAMES.length;
const $ = (id) => document.getElementById(id);

let hash = sessionStorage.getItem("roster-hash");
let employees = [];
let current = null; // the employee open in the editor, null for a new one

// ApiError carries a Navixy error: the status description and, when the
// server names them, the parameters at fault.
class ApiError extends Error {
  constructor(body) {
    const st = body.status || {};
    const details = (body.errors || []).map((e) => e.error).join("; ");
    super(details || st.description || "The request failed");
    this.code = st.code;
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

// --- signing in and out ---

function signedOut(message) {
  hash = null;
  sessionStorage.removeItem("roster-hash");
  if ($("editor").open) $("editor").close();
  $("app").hidden = true;
  $("signin").hidden = false;
  $("signin-error").textContent = message || "";
  $("login").focus();
}

$("signin-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  $("signin-error").textContent = "";
  try {
    const body = await call("user/auth", { login: $("login").value, password: $("password").value });
    hash = body.hash;
    sessionStorage.setItem("roster-hash", hash);
    $("password").value = "";
    showApp();
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

async function showApp() {
  $("signin").hidden = true;
  $("app").hidden = false;
  await refresh();
  $("filter").focus();
}

// --- the list ---

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
  if (!img) {
    const span = document.createElement("span");
    span.className = "initials";
    span.textContent = initials(e);
    span.setAttribute("aria-hidden", "true");
    return span;
  }
  const el = document.createElement("img");
  el.className = "avatar";
  el.alt = "";
  el.width = el.height = size;
  el.src = img.src;
  if (img.srcset) el.srcset = img.srcset;
  return el;
}

function fullName(e) {
  return [e.first_name, e.middle_name, e.last_name].filter(Boolean).join(" ");
}

function render() {
  const list = $("list");
  list.replaceChildren();
  for (const e of employees) {
    const li = document.createElement("li");
    const b = document.createElement("button");
    b.type = "button";
    b.dataset.id = e.id;
    b.append(avatarElement(e, 48));
    const text = document.createElement("span");
    const name = document.createElement("span");
    name.className = "name";
    name.textContent = fullName(e);
    const sub = document.createElement("span");
    sub.className = "sub";
    sub.textContent = [e.email, e.phone && "+" + e.phone, e.personnel_number].filter(Boolean).join(" · ");
    text.append(name, sub);
    b.append(text);
    b.addEventListener("click", () => openEditor(e));
    li.append(b);
    list.append(li);
  }
}

let listSeq = 0;
async function refresh() {
  const seq = ++listSeq;
  const filter = $("filter").value.trim();
  try {
    const body = await call("employee/list", filter ? { filter } : {});
    if (seq !== listSeq) return; // a newer filter is on its way
    employees = body.list;
    render();
    $("status").textContent = body.count === 1 ? "1 employee" : `${body.count} employees`;
  } catch (e) {
    $("status").textContent = e.message;
  }
}

let filterTimer;
$("filter").addEventListener("input", () => {
  clearTimeout(filterTimer);
  filterTimer = setTimeout(refresh, 250);
});

$("new").addEventListener("click", () => openEditor(null));

// --- the editor ---

const FIELDS = ["first_name", "middle_name", "last_name", "email", "phone", "personnel_number"];

function openEditor(e) {
  current = e;
  const form = $("editor-form");
  for (const f of FIELDS) form.elements[f].value = e ? e[f] || "" : "";
  $("editor-title").textContent = e ? fullName(e) : "New employee";
  $("editor-error").textContent = "";
  $("upload-error").textContent = "";
  $("progress").hidden = true;
  $("delete").hidden = !e;
  $("delete").textContent = "Delete";
  deleteArmed = 0;
  showAvatar();
  $("editor").showModal();
  form.elements.first_name.focus();
}

$("close").addEventListener("click", () => $("editor").close());

$("editor-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const form = ev.target;
  if (!form.reportValidity()) return;
  const fields = {};
  for (const f of FIELDS) fields[f] = form.elements[f].value.trim();
  $("editor-error").textContent = "";
  try {
    if (current) {
      await call("employee/update", { employee: { ...current, ...fields } });
    } else {
      const body = await call("employee/create", { employee: fields });
      current = { id: body.id };
    }
    await reloadCurrent();
    $("editor-title").textContent = fullName(current);
    $("delete").hidden = false;
    $("status").textContent = "Saved.";
    await refresh();
  } catch (e) {
    $("editor-error").textContent = e.message;
  }
});

// Deleting takes two presses of Delete, so a stray key or tap cannot do it.
let deleteArmed = 0;
$("delete").addEventListener("click", async () => {
  if (!current) return;
  if (Date.now() - deleteArmed > 5000) {
    deleteArmed = Date.now();
    $("delete").textContent = "Press again to delete";
    $("editor-error").textContent = `Press Delete again to delete ${fullName(current)}.`;
    return;
  }
  deleteArmed = 0;
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
  const b = document.createElement("button");
  b.type = "button";
  b.dataset.icon = id;
  b.setAttribute("aria-pressed", "false");
  b.setAttribute("aria-label", `${ICON_NAMES[id - 1]} (icon ${id})`);
  b.title = ICON_NAMES[id - 1];
  const img = document.createElement("img");
  img.src = `${API}/static/employee/icons/${id}.svg`;
  img.alt = "";
  b.append(img);
  b.addEventListener("click", () => assign(id));
  iconButtons.push(b);
}
$("icons").append(...iconButtons);
$("use-photo").addEventListener("click", () => assign(null));

function showAvatar(previewURL) {
  const e = current;
  $("avatar-hint").hidden = !!e;
  $("avatar-tools").hidden = !e;
  if (!e) return;
  for (const b of iconButtons) b.setAttribute("aria-pressed", String(Number(b.dataset.icon) === e.icon_id));
  $("use-photo").setAttribute("aria-pressed", String(e.icon_id == null && !!e.avatar_file_name));
  $("use-photo").disabled = !e.avatar_file_name;
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

// upload sends the picture as a multipart POST with upload progress (fetch
// cannot report it), then shows it: an upload does not change icon_id, so
// the console assigns null to show the new picture instead of an icon.
function upload(file) {
  if (!current) return;
  const err = $("upload-error");
  const progress = $("progress");
  err.textContent = "";
  const local = URL.createObjectURL(file);
  showAvatar(local);
  progress.hidden = false;
  progress.max = file.size || 1;
  progress.value = 0;
  const data = new FormData();
  data.append("hash", hash);
  data.append("employee_id", current.id);
  data.append("file", file);
  const xhr = new XMLHttpRequest();
  xhr.open("POST", `${API}/employee/avatar/upload`);
  xhr.upload.addEventListener("progress", (ev) => {
    if (ev.lengthComputable) {
      progress.max = ev.total;
      progress.value = ev.loaded;
    }
  });
  const done = async (message) => {
    URL.revokeObjectURL(local);
    progress.hidden = true;
    if (message) {
      err.textContent = message;
      showAvatar();
      return;
    }
    if (current.icon_id != null) {
      await assign(null);
    } else {
      await reloadCurrent();
      await refresh();
    }
  };
  xhr.addEventListener("load", () => {
    let body;
    try {
      body = JSON.parse(xhr.responseText);
    } catch {
      done(`The upload failed (HTTP ${xhr.status}).`);
      return;
    }
    done(body.success ? null : `The picture was refused: ${new ApiError(body).message}`);
  });
  xhr.addEventListener("error", () => done("The upload failed: the server cannot be reached."));
  xhr.send(data);
}

$("file").addEventListener("change", (ev) => {
  const file = ev.target.files[0];
  ev.target.value = "";
  if (file) upload(file);
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
  if (file) upload(file);
});

// --- start ---

if (hash) {
  showApp();
} else {
  signedOut();
}
