// The popup: "Scan this page", progress, the tab's last result (kept in chrome.storage.session by the
// service worker, so it is there again when the popup reopens), the blur switch, "Reveal all" and
// "Hide all", and thumbnails that lead to their image on the page. Errors are said plainly.
const $ = (id) => document.getElementById(id);
let tabId = null;

async function targetTab() {
  const forced = new URLSearchParams(location.search).get("tab");  // popup.html?tab=N (tests, keyboard use)
  if (forced) return Number(forced);
  const [tab] = await chrome.tabs.query({ active: true, currentWindow: true });
  return tab ? tab.id : null;
}

function showError(text) {
  $("error").textContent = text;
  $("error").hidden = false;
  $("status").textContent = "";
}

function thumb(t) {
  const li = document.createElement("li");
  const button = document.createElement("button");
  button.type = "button";
  button.title = "Go to this image on the page";
  const frame = document.createElement("span");
  frame.className = "frame";
  if (t.url) { const img = document.createElement("img"); img.src = t.url; img.alt = ""; frame.appendChild(img); }
  button.append(frame, document.createTextNode(t.label));
  button.addEventListener("click", () => chrome.tabs.sendMessage(tabId, { type: "focus", key: t.key }).catch(() => {}));
  li.appendChild(button);
  return li;
}

function showResult(r) {
  if (r.error) showError(r.error);
  else { $("error").hidden = true; $("status").textContent = ""; }
  $("result").hidden = !!r.error && !r.checked;  // a failed first scan has nothing else to show
  $("summary").textContent = `${r.checked} images checked, ${r.medical} look medical.`;
  $("actions").hidden = !r.medical;
  $("thumbs").replaceChildren(...r.thumbs.map(thumb));
}

function showBlur(on) {
  $("blur").checked = on;
  $("thumbs").classList.toggle("blurred", on);
}

// The stored result, if it is of the page the tab shows now: the content script names its page,
// and a reloaded or new page has another name (or no content script yet).
async function storedResult() {
  const key = medpicResultKey(tabId);
  const stored = (await chrome.storage.session.get(key))[key];
  if (!stored) return null;
  const live = await chrome.tabs.sendMessage(tabId, { type: "page" }).catch(() => null);
  return live && live.page === stored.page ? stored : null;
}

chrome.runtime.onMessage.addListener((msg) => {
  if (msg.type === "progress" && msg.tabId === tabId && msg.text !== "done" && msg.text !== "error") $("status").textContent = msg.text;
});

// The page keeps being watched after a scan: its result grows while the popup is open (during a
// scan the progress line has the word, and the scan's own answer follows).
chrome.storage.onChanged.addListener((changes, area) => {
  const change = area === "session" && tabId !== null && changes[medpicResultKey(tabId)];
  if (change && change.newValue && !$("scan").disabled) showResult(change.newValue);
});

$("scan").addEventListener("click", async () => {
  $("scan").disabled = true;
  $("error").hidden = true;
  $("status").textContent = "Starting…";
  try {
    const r = await chrome.runtime.sendMessage({ type: "scan", tabId });
    if (!r) showError("MedPic did not answer. Try again.");
    else if (r.page) showResult(r);
    else showError(r.error);
  } catch (e) {
    showError(`MedPic could not scan this page: ${e.message}`);
  } finally {
    $("scan").disabled = false;
  }
});

$("blur").addEventListener("change", () => {
  showBlur($("blur").checked);
  chrome.storage.local.set({ blur: $("blur").checked });  // every watched page follows (content.js)
});
$("revealAll").addEventListener("click", () => chrome.tabs.sendMessage(tabId, { type: "showAll", show: true }).catch(() => {}));
$("hideAll").addEventListener("click", () => chrome.tabs.sendMessage(tabId, { type: "showAll", show: false }).catch(() => {}));

(async () => {
  tabId = await targetTab();
  showBlur((await medpicSettings()).blur);
  const last = await storedResult();
  if (last) showResult(last);
})();
