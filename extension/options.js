// Options: saved to chrome.storage.local. Saving asks for the backend's host as an optional host
// permission (and for all sites when automatic scanning is on): nothing is granted up front.
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
}

$("threshold").addEventListener("input", () => { $("thresholdValue").textContent = Number($("threshold").value).toFixed(2); });

$("save").addEventListener("click", async () => {
  $("saved").textContent = ""; $("problem").textContent = "";
  let backend;
  try { backend = new URL($("backend").value.trim()); } catch (e) { $("problem").textContent = "The backend URL is not a valid address."; return; }
  if (!/^https?:$/.test(backend.protocol)) { $("problem").textContent = "The backend URL must start with http:// or https://."; return; }
  const origins = [medpicOriginPattern(backend.href)];
  if ($("autoScan").checked) origins.push("<all_urls>");
  const granted = await chrome.permissions.request({ origins }).catch(() => false);
  if (!granted) { $("problem").textContent = "Without access to the backend's address MedPic cannot ask it about images."; }
  await chrome.storage.local.set({
    backend: backend.href.replace(/\/+$/, ""),
    token: $("token").value.trim(),
    threshold: Number($("threshold").value),
    blur: $("blur").checked,
    autoScan: $("autoScan").checked && granted,
    neverSites: $("neverSites").value.split(/\s+/).map(h => h.trim().toLowerCase()).filter(Boolean),
  });
  if (granted) $("saved").textContent = "Saved.";
});

load();
