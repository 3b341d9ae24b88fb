// Options: saved to chrome.storage.local. Saving (and "Test connection") asks for the backend's host
// as an optional host permission, and for all sites when automatic scanning is on: nothing is
// granted up front. The page says what the browser is about to ask before it asks.
const $ = (id) => document.getElementById(id);

async function load() {
  const s = await medpicSettings();
  $("backend").value = s.backend;
  $("token").value = s.token;
  $("threshold").value = s.threshold;
  $("thresholdValue").textContent = Number(s.threshold).toFixed(2);
  $("blur").checked = s.blur;
  $("autoScan").checked = s.autoScan;
  $("neverSites").value = s.neverSites.join("\n");
  explainPermissions();
}

// One message at a time, the outcome of the last click; kind "ok" or "bad" colours the connection line.
function say(id, text, kind = "") {
  for (const other of ["saved", "problem", "connection"]) $(other).textContent = "";
  $(id).textContent = text;
  $(id).className = kind;
}

// The typed address as a URL (localhost:7860 gets its http://), shown back as it will be used.
function backendOrSay() {
  try {
    const backend = medpicBackendUrl($("backend").value);
    $("backend").value = backend;
    return backend;
  } catch (e) {
    say("problem", e.message);
    return null;
  }
}

const wanted = (backend) => [medpicOriginPattern(backend), ...($("autoScan").checked ? ["<all_urls>"] : [])];

// The sentence before the browser's prompt: what it will ask for, and why.
async function explainPermissions() {
  let backend;
  try { backend = medpicBackendUrl($("backend").value); } catch (e) { $("permissions").textContent = ""; return; }
  const granted = await chrome.permissions.contains({ origins: wanted(backend) }).catch(() => false);
  const host = new URL(backend).host;
  const all = $("autoScan").checked;
  const why = all ? `it sends images to ${host} to be checked, and looks at the images of every page you open`
    : "it sends images there to be checked";
  $("permissions").textContent = granted ? ""
    : `When you save, your browser will ask you to let MedPic read and change data on ${all ? `${host} and all sites` : host}: ${why}.`;
}

async function health(backend) {
  return chrome.runtime.sendMessage({ type: "health", settings: { backend, token: $("token").value.trim() } });
}

const describe = (h) => `MedPic ${h.medpic}, model ${h.model.name} ${h.model.version}`
  + (h.model.modalities && h.model.modalities.length ? ` (${h.model.modalities.length} modalities)` : "");

async function testConnection() {
  const backend = backendOrSay();
  if (!backend) return;
  // first thing after the click: the browser asks only during a click
  const granted = await chrome.permissions.request({ origins: [medpicOriginPattern(backend)] }).catch(() => false);
  if (!granted) { say("connection", `Without access to ${new URL(backend).host}, MedPic cannot reach the backend.`, "bad"); return; }
  $("test").disabled = true;
  say("connection", "Connecting…");
  try {
    const answer = await health(backend);
    if (answer.error) say("connection", answer.error, "bad");
    else say("connection", `Connected: ${describe(answer.health)}.`, "ok");
  } finally {
    $("test").disabled = false;
  }
  explainPermissions();
}

async function save() {
  const backend = backendOrSay();
  if (!backend) return;
  const granted = await chrome.permissions.request({ origins: wanted(backend) }).catch(() => false);
  await chrome.storage.local.set({
    backend,
    token: $("token").value.trim(),
    threshold: Number($("threshold").value),
    blur: $("blur").checked,
    autoScan: $("autoScan").checked && granted,
    neverSites: $("neverSites").value.split(/\s+/).map(h => h.trim().toLowerCase()).filter(Boolean),
  });
  explainPermissions();
  if (!granted) { say("problem", "Saved, but without access to the backend's address MedPic cannot ask it about images."); return; }
  say("saved", "Saved. Checking the backend…");
  const answer = await health(backend);
  if (answer.error) say("problem", `Saved, but the backend does not answer: ${answer.error}`);
  else say("saved", `Saved. Connected: ${describe(answer.health)}.`);
}

$("threshold").addEventListener("input", () => { $("thresholdValue").textContent = Number($("threshold").value).toFixed(2); });
$("backend").addEventListener("input", explainPermissions);
$("autoScan").addEventListener("change", explainPermissions);
$("test").addEventListener("click", testConnection);
$("save").addEventListener("click", save);

load();
