// Settings shared by the service worker, the popup and the options page.
const MEDPIC_DEFAULTS = {
  backend: "https://medpic-medpic.hf.space",  // the public Space; http://127.0.0.1:7860 for `make run`
  token: "",
  threshold: 0.5,       // strictness: p(medical) at or above which an image is flagged
  blur: false,          // hide flagged images until clicked (and, in automatic mode, every image until judged)
  autoScan: false,      // scan every page automatically (asks for access to all sites)
  neverSites: [],       // host names where MedPic never runs
};

async function medpicSettings() {
  const stored = await chrome.storage.local.get(Object.keys(MEDPIC_DEFAULTS));
  return Object.assign({}, MEDPIC_DEFAULTS, stored);
}

function medpicOriginPattern(url) {
  const u = new URL(url);
  return `${u.protocol}//${u.hostname}/*`;
}

// Hosts a person runs MedPic on themselves (`make run`), which speak plain http.
const MEDPIC_LOCAL_HOST = /^(localhost|127\.\d+\.\d+\.\d+|\[::1\]|0\.0\.0\.0|10\.\d+\.\d+\.\d+|192\.168\.\d+\.\d+|[^.:/]+\.local)(:\d+)?(\/|$)/i;

// The backend address as typed, made a URL: "localhost:7860" means http://localhost:7860 and
// "example.hf.space" https://example.hf.space, as people type them; other schemes are refused.
function medpicBackendUrl(typed) {
  let text = typed.trim();
  if (!/^[a-z][a-z0-9+.-]*:\/\//i.test(text)) text = (MEDPIC_LOCAL_HOST.test(text) ? "http://" : "https://") + text;
  let url;
  try { url = new URL(text); } catch (e) { throw new Error("The backend address is not a valid address."); }
  if (!/^https?:$/.test(url.protocol)) throw new Error("The backend address must start with http:// or https://.");
  return url.href.replace(/\/+$/, "");
}

// Where the popup finds a tab's last result in chrome.storage.session.
const medpicResultKey = (tabId) => `result:${tabId}`;
