// The popup: "Scan this page", progress, the result, the blur switch. Errors are said plainly.
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

function showResult(r) {
  $("error").hidden = true;
  $("result").hidden = false;
  $("status").textContent = "";
  $("summary").textContent = `${r.checked} images checked, ${r.medical} look medical.`;
  const list = $("thumbs");
  list.textContent = "";
  for (const t of r.thumbs.slice(0, 30)) {
    const li = document.createElement("li");
    if (t.url) { const img = document.createElement("img"); img.src = t.url; img.alt = ""; li.appendChild(img); }
    li.appendChild(document.createTextNode(` ${Math.round(100 * t.confidence)}%`));
    list.appendChild(li);
  }
}

chrome.runtime.onMessage.addListener((msg) => {
  if (msg.type === "progress" && msg.tabId === tabId && msg.text !== "done" && msg.text !== "error") $("status").textContent = msg.text;
});

$("scan").addEventListener("click", async () => {
  $("scan").disabled = true;
  $("error").hidden = true;
  $("status").textContent = "Starting…";
  try {
    const r = await chrome.runtime.sendMessage({ type: "scan", tabId });
    if (!r) showError("MedPic did not answer. Try again.");
    else if (r.error) showError(r.error);
    else showResult(r);
  } catch (e) {
    showError(`MedPic could not scan this page: ${e.message}`);
  } finally {
    $("scan").disabled = false;
  }
});

$("blur").addEventListener("change", () => chrome.runtime.sendMessage({ type: "setBlur", tabId, blur: $("blur").checked }));

(async () => {
  tabId = await targetTab();
  const settings = await medpicSettings();
  $("blur").checked = settings.blur;
  const last = await chrome.runtime.sendMessage({ type: "lastScan", tabId });
  if (last) showResult(last);
})();
