// MedPic service worker: talks to the MedPic backend (Gradio API) for the content script, the popup
// and the options page; keeps each tab's last result and shows its count on the toolbar icon.
importScripts("common.js");

const BATCH = 24;                       // URLs per classify_urls call
const CALL_TIMEOUT_MS = 60000;          // a slow backend gets a plain "too slow" message
const HEALTH_TIMEOUT_MS = 10000;        // "Test connection" should not keep the options page waiting
const verdicts = new Map();             // image URL -> verdict row, cached for this browser session
// discover.js (the server's discovery rules, copied in by tools/build_extension.py) before content.js, which uses them
const CONTENT_SCRIPTS = ["discover.js", "content.js"];
const AUTO_ID = "medpic-auto";

class BackendError extends Error {}

async function callBackend(name, data, settings, timeoutMs = CALL_TIMEOUT_MS) {
  const base = settings.backend.replace(/\/+$/, "");
  const headers = { "Content-Type": "application/json" };
  if (settings.token) headers["X-MedPic-Token"] = settings.token;
  const ctrl = new AbortController();
  const timer = setTimeout(() => ctrl.abort(), timeoutMs);
  try {
    let res;
    try {
      res = await fetch(`${base}/gradio_api/call/${name}`, { method: "POST", headers, body: JSON.stringify({ data }), signal: ctrl.signal });
    } catch (e) {
      throw new BackendError(ctrl.signal.aborted ? `The MedPic backend at ${base} is too slow to answer.`
        : `The MedPic backend at ${base} is not reachable. Is it running, and is its address right in the options?`);
    }
    if (res.status === 401 || res.status === 403) throw new BackendError("The MedPic backend refused the API token. Check it in the options.");
    if (!res.ok) throw new BackendError(`The MedPic backend answered HTTP ${res.status}.`);
    const { event_id } = await res.json();
    const stream = await fetch(`${base}/gradio_api/call/${name}/${event_id}`, { headers, signal: ctrl.signal });
    const text = await stream.text();
    let event = null, payload = null;
    for (const line of text.split("\n")) {
      if (line.startsWith("event:")) event = line.slice(6).trim();
      else if (line.startsWith("data:")) payload = line.slice(5).trim();
    }
    if (event === "complete") return JSON.parse(payload);
    let reason = "";
    try { reason = (JSON.parse(payload) || {}).error || ""; } catch (e) { reason = payload || ""; }
    if (/token/i.test(reason)) throw new BackendError("The MedPic backend refused the API token. Check it in the options.");
    throw new BackendError(`The MedPic backend could not classify these images${reason ? ": " + reason : "."}`);
  } catch (e) {
    if (e instanceof BackendError) throw e;
    throw new BackendError(ctrl.signal.aborted ? `The MedPic backend at ${base} is too slow to answer.` : `MedPic backend error: ${e.message}`);
  } finally {
    clearTimeout(timer);
  }
}

// Classify [{key, url}] (url may be a data: URI); cached verdicts are not asked again.
async function classify(items, pageUrl, settings, onProgress) {
  const out = {};
  const todo = [];
  for (const it of items) {
    const cached = verdicts.get(`${settings.threshold}|${it.url}`);
    if (cached) out[it.key] = cached; else todo.push(it);
  }
  for (let i = 0; i < todo.length; i += BATCH) {
    const batch = todo.slice(i, i + BATCH);
    const [report] = await callBackend("classify_urls", [batch.map(b => b.url), pageUrl, settings.threshold], settings);
    report.images.forEach((row, j) => {
      out[batch[j].key] = row;
      if (row.status === "ok" && !batch[j].url.startsWith("data:")) verdicts.set(`${settings.threshold}|${batch[j].url}`, row);
    });
    if (onProgress) onProgress(Math.min(i + BATCH, todo.length), todo.length);
  }
  return out;
}

function siteAllowed(url, settings) {
  try { return !settings.neverSites.includes(new URL(url).hostname); } catch (e) { return false; }
}

async function ensureContentScript(tabId) {
  await chrome.scripting.executeScript({ target: { tabId, allFrames: false }, files: CONTENT_SCRIPTS });
  await chrome.scripting.insertCSS({ target: { tabId }, files: ["content.css"] });
}

function progress(tabId, text) {
  chrome.runtime.sendMessage({ type: "progress", tabId, text }).catch(() => {});
}

// The content script's question: verdicts for [{key, url}] of one page. Errors come back as text,
// which the page shows ("not checked") and the toolbar as "!".
async function judge(items, tab) {
  const settings = await medpicSettings();
  if (!siteAllowed(tab.url, settings)) return { error: "MedPic is switched off for this site (see the options)." };
  progress(tab.id, `Checking ${items.length} images…`);
  try {
    const results = await classify(items, tab.url, settings, (d, n) => progress(tab.id, `Checked ${d} of ${n}…`));
    return { results, threshold: settings.threshold };
  } catch (e) {
    return { error: e instanceof BackendError ? e.message : `MedPic could not check these images: ${e.message}` };
  }
}

// -- each tab's last result: in session storage for the popup, its count on the toolbar icon ----
// Chromium clears a tab's badge when the tab loads a new page; the popup ignores a stored result
// whose page is gone (the content script names its page).
async function keepResult(tabId, result) {
  await chrome.storage.session.set({ [medpicResultKey(tabId)]: result });
  const text = result.error ? "!" : result.medical ? String(result.medical) : "";
  const title = result.error ? `MedPic: ${result.error}`
    : `MedPic: ${result.medical} of ${result.checked} images look medical`;
  await chrome.action.setBadgeBackgroundColor({ tabId, color: result.error ? "#e65100" : "#c62828" });
  await chrome.action.setBadgeText({ tabId, text });
  await chrome.action.setTitle({ tabId, title });
}

// The whole scan of one tab: used by the popup and tests. The page keeps being watched afterwards.
async function medpicScan(tabId) {
  try {
    const settings = await medpicSettings();
    const tab = await chrome.tabs.get(tabId);
    if (!siteAllowed(tab.url, settings)) return { error: "MedPic is switched off for this site (see the options)." };
    progress(tabId, "Looking for images…");
    await ensureContentScript(tabId);
    const result = await chrome.tabs.sendMessage(tabId, { type: "scan" });
    await keepResult(tabId, result);
    progress(tabId, result.error ? "error" : "done");
    return result;
  } catch (e) {
    progress(tabId, "error");
    return { error: `MedPic could not scan this page: ${e.message}` };
  }
}

// Automatic mode: content.js on the granted sites from document_start, so pages are watched from
// their first image; with blur on, early.css too, which hides every picture until it is judged.
let syncing = Promise.resolve();
function syncAutoScan() {
  syncing = syncing.then(registerAutoScan).catch((e) => console.error("MedPic: automatic mode not set up:", e));
  return syncing;
}

async function registerAutoScan() {
  const settings = await medpicSettings();
  const { origins } = await chrome.permissions.getAll();
  if ((await chrome.scripting.getRegisteredContentScripts({ ids: [AUTO_ID] })).length) {
    await chrome.scripting.unregisterContentScripts({ ids: [AUTO_ID] });
  }
  if (!settings.autoScan || !origins.length) return;
  await chrome.scripting.registerContentScripts([{
    id: AUTO_ID, matches: origins, excludeMatches: settings.neverSites.map(h => `*://${h}/*`),
    js: CONTENT_SCRIPTS, css: settings.blur ? ["early.css", "content.css"] : ["content.css"], runAt: "document_start",
  }]);
}

chrome.runtime.onInstalled.addListener((details) => {
  chrome.contextMenus.create({ id: "medpic-check", title: "Check this image with MedPic", contexts: ["image"] });
  if (details.reason === "install") chrome.runtime.openOptionsPage();  // nothing works before a backend is set
  syncAutoScan();
});
chrome.runtime.onStartup.addListener(syncAutoScan);
chrome.permissions.onAdded.addListener(syncAutoScan);
chrome.permissions.onRemoved.addListener(syncAutoScan);
chrome.storage.onChanged.addListener((changes, area) => {
  if (area === "local" && (changes.autoScan || changes.neverSites || changes.blur)) syncAutoScan();
});
chrome.tabs.onRemoved.addListener((tabId) => chrome.storage.session.remove(medpicResultKey(tabId)));

chrome.contextMenus.onClicked.addListener(async (info, tab) => {
  if (info.menuItemId !== "medpic-check" || !tab) return;
  const settings = await medpicSettings();
  try {
    await ensureContentScript(tab.id);
    const results = await classify([{ key: "menu", url: info.srcUrl }], tab.url, settings);
    await chrome.tabs.sendMessage(tab.id, { type: "single", url: info.srcUrl, row: results.menu, threshold: settings.threshold });
  } catch (e) {
    await chrome.tabs.sendMessage(tab.id, { type: "single", url: info.srcUrl, error: e.message }).catch(() => {});
  }
});

chrome.runtime.onMessage.addListener((msg, sender, reply) => {
  if (msg.type === "scan") { medpicScan(msg.tabId).then(reply); return true; }
  if (msg.type === "judge" && sender.tab) { judge(msg.items, sender.tab).then(reply); return true; }
  if (msg.type === "result" && sender.tab) { keepResult(sender.tab.id, msg.result).then(() => reply({ ok: true })); return true; }
  if (msg.type === "health") {  // the options page's "Test connection", with the settings being edited
    callBackend("health", [], msg.settings, HEALTH_TIMEOUT_MS).then(([health]) => reply({ health }), (e) => reply({ error: e.message }));
    return true;
  }
  return false;
});
