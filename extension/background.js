// MedPic service worker: talks to the MedPic backend (Gradio API) for the content script and popup.
importScripts("common.js");

const BATCH = 24;                       // URLs per classify_urls call
const CALL_TIMEOUT_MS = 60000;          // a slow backend gets a plain "too slow" message
const verdicts = new Map();             // image URL -> verdict row, cached for this browser session
const lastScan = new Map();             // tabId -> summary for the popup
// discover.js (the server's discovery rules, copied in by tools/build_extension.py) before content.js, which uses them
const CONTENT_SCRIPTS = ["discover.js", "content.js"];

class BackendError extends Error {}

async function callBackend(name, data, settings) {
  const base = settings.backend.replace(/\/+$/, "");
  const headers = { "Content-Type": "application/json" };
  if (settings.token) headers["X-MedPic-Token"] = settings.token;
  const ctrl = new AbortController();
  const timer = setTimeout(() => ctrl.abort(), CALL_TIMEOUT_MS);
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

// The whole scan of one tab: used by the popup, the context menu and tests.
async function medpicScan(tabId) {
  try {
    const settings = await medpicSettings();
    const tab = await chrome.tabs.get(tabId);
    if (!siteAllowed(tab.url, settings)) return { error: "MedPic is switched off for this site (see the options)." };
    progress(tabId, "Looking for images…");
    await ensureContentScript(tabId);
    const found = await chrome.tabs.sendMessage(tabId, { type: "collect" });
    progress(tabId, `Checking ${found.items.length} images…`);
    const results = await classify(found.items, tab.url, settings, (d, n) => progress(tabId, `Checked ${d} of ${n}…`));
    // images the server could not reach (login, private network): send their bytes, read in the page
    const retry = found.items.filter(it => results[it.key] && results[it.key].status === "error" && !it.url.startsWith("data:"));
    if (retry.length) {
      const bytes = await chrome.tabs.sendMessage(tabId, { type: "readBytes", keys: retry.map(r => r.key) });
      const again = await classify(bytes.items, tab.url, settings);
      for (const k of Object.keys(again)) if (again[k].status === "ok") results[k] = again[k];
    }
    const shown = await chrome.tabs.sendMessage(tabId, { type: "verdicts", results, threshold: settings.threshold, blur: settings.blur });
    const summary = { checked: found.items.length, medical: shown.medical, thumbs: shown.thumbs, at: Date.now() };
    lastScan.set(tabId, summary);
    progress(tabId, "done");
    return summary;
  } catch (e) {
    const message = e instanceof BackendError ? e.message : `MedPic could not scan this page: ${e.message}`;
    progress(tabId, "error");
    return { error: message };
  }
}

async function setBlur(tabId, blur) {
  await chrome.storage.local.set({ blur });
  try { await chrome.tabs.sendMessage(tabId, { type: "blur", blur }); } catch (e) { /* no content script there */ }
}

// Automatic scanning: a content script on every page, registered only when the user turns it on.
async function syncAutoScan() {
  const settings = await medpicSettings();
  let registered = await chrome.scripting.getRegisteredContentScripts({ ids: ["medpic-auto"] });
  const granted = await chrome.permissions.contains({ origins: ["<all_urls>"] }).catch(() => false);
  if (registered.length && registered[0].js.join() !== CONTENT_SCRIPTS.join()) {  // registered by an older version
    await chrome.scripting.unregisterContentScripts({ ids: ["medpic-auto"] });
    registered = [];
  }
  if (settings.autoScan && granted && !registered.length) {
    await chrome.scripting.registerContentScripts([{ id: "medpic-auto", matches: ["<all_urls>"], js: CONTENT_SCRIPTS,
      css: ["content.css"], runAt: "document_idle", excludeMatches: settings.neverSites.map(h => `*://${h}/*`) }]);
  } else if ((!settings.autoScan || !granted) && registered.length) {
    await chrome.scripting.unregisterContentScripts({ ids: ["medpic-auto"] });
  }
}

chrome.runtime.onInstalled.addListener(() => {
  chrome.contextMenus.create({ id: "medpic-check", title: "Check this image with MedPic", contexts: ["image"] });
  syncAutoScan();
});
chrome.runtime.onStartup.addListener(syncAutoScan);
chrome.storage.onChanged.addListener((changes) => { if (changes.autoScan || changes.neverSites) syncAutoScan(); });

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
  if (msg.type === "setBlur") { setBlur(msg.tabId, msg.blur).then(() => reply({ ok: true })); return true; }
  if (msg.type === "lastScan") { reply(lastScan.get(msg.tabId) || null); return false; }
  if (msg.type === "autoItems" && sender.tab) {  // automatic mode: new images on a page
    (async () => {
      const settings = await medpicSettings();
      if (!settings.autoScan || !siteAllowed(sender.tab.url, settings)) return reply({ results: {} });
      try { reply({ results: await classify(msg.items, sender.tab.url, settings), threshold: settings.threshold, blur: settings.blur }); }
      catch (e) { reply({ error: e.message }); }
    })();
    return true;
  }
  return false;
});
