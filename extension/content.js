// MedPic content script: finds images by the server's own rules (discover.js, injected just before
// this file), shows badges on the ones the backend calls medical, blurs them on request. Injected on demand.
(() => {
  if (window.__medpic) return;  // injected twice: the first copy keeps working
  // Elements rendered smaller than this are not sent. The server skips pictures under
  // Settings.min_image_side (32) decoded pixels anyway; the rendered size is what the page shows.
  const MIN_RENDERED_SIDE = 32;
  const MAX_BYTES = 4 * 1024 * 1024;
  const PLACEHOLDER = /^data:image\/gif;base64,R0lGODlhAQABA/;  // a lazy loader's 1x1 GIF: not worth a request
  const state = window.__medpic = { next: 0, byKey: new Map(), flagged: new Map(), blur: false, threshold: 0.5, auto: false };

  const bigEnough = (el) => { const r = el.getBoundingClientRect(); return r.width >= MIN_RENDERED_SIDE && r.height >= MIN_RENDERED_SIDE; };
  // The URLs an element offers, its picture first (discover.js decides both).
  const urlsOf = (el) => globalThis.__medpicDiscovery.offers(el).map(f => f.url).filter(u => !PLACEHOLDER.test(u));

  async function toDataUri(url) {
    const res = await fetch(url, { credentials: "include" });
    const blob = await res.blob();
    if (blob.size > MAX_BYTES) throw new Error("too large");
    return await new Promise((ok, fail) => { const r = new FileReader(); r.onload = () => ok(r.result); r.onerror = fail; r.readAsDataURL(blob); });
  }

  async function collect(onlyNew) {
    const items = [];
    for (const el of document.querySelectorAll("body *")) {  // the badges' overlay is outside <body>
      if ((onlyNew && el.dataset.medpicKey) || !bigEnough(el)) continue;
      const urls = urlsOf(el);
      if (!urls.length) continue;
      const key = el.dataset.medpicKey || `m${state.next++}`;
      el.dataset.medpicKey = key;
      let url = urls[0];
      if (url.startsWith("blob:")) { try { url = await toDataUri(url); } catch (e) { continue; } }
      state.byKey.set(key, { el, url });
      items.push({ key, url });
    }
    return { items };
  }

  // -- badges, kept over their images through scrolling, resizing and layout changes ----------
  const overlay = () => {
    let o = document.getElementById("medpic-overlay");
    if (!o) { o = document.createElement("div"); o.id = "medpic-overlay"; document.documentElement.appendChild(o); }
    return o;
  };
  function place() {
    for (const [key, f] of state.flagged) {
      const r = f.el.getBoundingClientRect();
      const visible = r.width > 0 && r.height > 0 && f.el.isConnected;
      f.badge.style.display = visible ? "" : "none";
      f.badge.style.transform = `translate(${Math.round(r.left + window.scrollX + 4)}px, ${Math.round(r.top + window.scrollY + 4)}px)`;
    }
  }
  let scheduled = false;
  const schedule = () => { if (!scheduled) { scheduled = true; requestAnimationFrame(() => { scheduled = false; place(); }); } };
  window.addEventListener("scroll", schedule, { passive: true, capture: true });
  window.addEventListener("resize", schedule, { passive: true });
  const resizes = new ResizeObserver(schedule);
  new MutationObserver(schedule).observe(document.documentElement, { subtree: true, childList: true, attributes: true,
    attributeFilter: ["class", "style", "width", "height", "src"] });

  function applyBlur(el) {
    const f = state.flagged.get(el.dataset.medpicKey);
    if (!f) return;
    if (state.blur && !f.revealed) el.style.setProperty("filter", "blur(18px)", "important");
    else if (el.style.getPropertyValue("filter").startsWith("blur(18px)")) el.style.removeProperty("filter");
  }
  const styleWatch = new MutationObserver((records) => { for (const r of records) applyBlur(r.target); });

  function flag(key, row) {
    const entry = state.byKey.get(key);
    if (!entry || state.flagged.has(key)) return;
    const badge = document.createElement("div");
    badge.className = "medpic-badge";
    badge.dataset.for = key;
    badge.textContent = `Medical ${Math.round(100 * row.confidence)}%`;
    badge.title = "MedPic: this looks like a medical image. Click the image to reveal it when blurred.";
    overlay().appendChild(badge);
    const f = { el: entry.el, badge, row, revealed: false };
    state.flagged.set(key, f);
    entry.el.dataset.medpicFlagged = "medical";
    resizes.observe(entry.el);
    styleWatch.observe(entry.el, { attributes: true, attributeFilter: ["style"] });
    entry.el.addEventListener("click", (ev) => {
      if (state.blur && !f.revealed) { ev.preventDefault(); ev.stopPropagation(); f.revealed = true; applyBlur(entry.el); }
    }, true);
    applyBlur(entry.el);
  }

  function showVerdicts(results, threshold) {
    let medical = 0;
    const thumbs = [];
    for (const [key, row] of Object.entries(results)) {
      if (row && row.status === "ok" && row.p_medical >= threshold) {
        medical++;
        flag(key, row);
        const url = state.byKey.get(key).url;
        thumbs.push({ url: url.startsWith("data:") && url.length > 200000 ? "" : url, confidence: row.confidence });
      }
    }
    place();
    return { medical, thumbs };
  }

  function setBlur(on) {
    state.blur = on;
    for (const f of state.flagged.values()) applyBlur(f.el);
  }

  // -- automatic mode: late and lazy images are checked as they appear --------------------------
  let autoTimer = null;
  function autoCheck() {
    clearTimeout(autoTimer);
    autoTimer = setTimeout(async () => {
      const { items } = await collect(true);
      if (!items.length) return;
      const reply = await chrome.runtime.sendMessage({ type: "autoItems", items });
      if (reply && reply.results) { if (reply.blur !== undefined) state.blur = reply.blur; showVerdicts(reply.results, reply.threshold); }
    }, 400);
  }
  function startAuto() {
    if (state.auto) return;
    state.auto = true;
    new MutationObserver(autoCheck).observe(document.documentElement, { subtree: true, childList: true, attributes: true,
      attributeFilter: ["src", "srcset", "style", "class"] });
    window.addEventListener("scroll", autoCheck, { passive: true });
    autoCheck();
  }
  chrome.storage.local.get(["autoScan", "blur"]).then((s) => { state.blur = !!s.blur; if (s.autoScan) startAuto(); });
  chrome.storage.onChanged.addListener((c) => { if (c.autoScan && c.autoScan.newValue) startAuto(); });

  chrome.runtime.onMessage.addListener((msg, sender, reply) => {
    if (msg.type === "collect") { collect(false).then(reply); return true; }
    if (msg.type === "readBytes") {
      (async () => {
        const items = [];
        for (const key of msg.keys) {
          const e = state.byKey.get(key);
          if (!e) continue;
          try { items.push({ key, url: await toDataUri(e.url) }); } catch (err) { /* unreadable here too */ }
        }
        reply({ items });
      })();
      return true;
    }
    if (msg.type === "verdicts") { state.threshold = msg.threshold; state.blur = msg.blur; reply(showVerdicts(msg.results, msg.threshold)); return false; }
    if (msg.type === "blur") { setBlur(msg.blur); reply({ ok: true }); return false; }
    if (msg.type === "single") {
      const el = [...document.querySelectorAll("img")].find(i => i.currentSrc === msg.url || i.src === msg.url);
      if (el) {
        const key = el.dataset.medpicKey || `m${state.next++}`;
        el.dataset.medpicKey = key;
        state.byKey.set(key, { el, url: msg.url });
        if (msg.row && msg.row.status === "ok" && msg.row.p_medical >= msg.threshold) flag(key, msg.row);
        else {
          const note = document.createElement("div");
          note.className = "medpic-badge medpic-note";
          note.textContent = msg.error ? "MedPic: backend unavailable" : msg.row && msg.row.status === "ok"
            ? `Not medical ${Math.round(100 * msg.row.confidence)}%` : `MedPic: ${msg.row ? msg.row.reason : "no answer"}`;
          const r = el.getBoundingClientRect();
          note.style.transform = `translate(${Math.round(r.left + scrollX + 4)}px, ${Math.round(r.top + scrollY + 4)}px)`;
          overlay().appendChild(note);
          setTimeout(() => note.remove(), 4000);
        }
      }
      reply({ ok: true });
      return false;
    }
    return false;
  });
})();
