// Settings shared by the service worker, the popup and the options page.
const MEDPIC_DEFAULTS = {
  backend: "https://medpic-medpic.hf.space",  // the public Space; http://127.0.0.1:7860 for `make run`
  token: "",
  threshold: 0.5,       // strictness: p(medical) at or above which an image is flagged
  blur: false,          // blur flagged images until clicked
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
