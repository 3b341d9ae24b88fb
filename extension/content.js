// MedPic content script: finds images by the server's own rules (discover.js, injected just before
// this file), has the service worker judge them, and marks each judged element with data-medpic:
//   pending  waiting for a verdict          clear  not medical (or too small to matter)
//   hidden   flagged, blurred under a veil  shown  flagged, shown with a badge and a "hide" control
// content.css (and early.css in automatic mode) blur by that attribute, so a page that rewrites an
// image's style cannot undo it. Once a page is scanned, from the popup or in automatic mode, it is
// watched for the rest of its life: new images, lazy ones loading, src/srcset changes.
(() => {
  if (window.__medpic) return;  // injected twice: the first copy keeps working
  // Elements rendered smaller than this are not sent. The server skips pictures under
  // Settings.min_image_side (32) decoded pixels anyway; the rendered size is what the page shows.
  const MIN_RENDERED_SIDE = 32;
  const MAX_BYTES = 4 * 1024 * 1024;
  const PLACEHOLDER = /^data:image\/gif;base64,R0lGODlhAQABA/;  // a lazy loader's 1x1 GIF: not worth a request
  const RECHECK_MS = 300;       // a changing page is looked at again at most this often
  const MAX_THUMBS = 30;
  const MAX_THUMB_URL = 100000;  // data: thumbnails over this are left out of the stored result
  const state = window.__medpic = {
    page: crypto.randomUUID(),  // names this document in the stored result: the popup skips a result of a page gone
    next: 0, entries: new Map(), badged: new Set(), blur: false, threshold: 0.5, watching: false, error: null,
  };

  const bigEnough = (r) => r.width >= MIN_RENDERED_SIDE && r.height >= MIN_RENDERED_SIDE;
  // The URL an element offers, its picture first (discover.js decides).
  const offered = (el) => globalThis.__medpicDiscovery.offers(el).map(f => f.url).find(u => !PLACEHOLDER.test(u)) || null;
  // Where an img's picture is written: src, srcset, sizes and data-* (lazy loaders'), not its
  // style, id, alt or our marks. A change there is another picture; a rewrite to the same values is not.
  const PICTURE_ATTRIBUTE = /^(src|srcset|sizes|data-(?!medpic).*)$/;
  const written = (el) => el.getAttributeNames().filter(n => PICTURE_ATTRIBUTE.test(n)).map(n => `${n}=${el.getAttribute(n)}`).join("\n");
  // An img still loading may not have its final size: it is looked at again once loaded.
  const settled = (el) => el.localName !== "img" || el.complete;
  const broken = (el) => el.localName === "img" && el.complete && el.naturalWidth === 0;
  const mark = (el, value) => { if (el.dataset.medpic !== value) el.dataset.medpic = value; };

  async function toDataUri(url) {
    const res = await fetch(url, { credentials: "include" });
    if (!res.ok) throw new Error(`HTTP ${res.status}`);
    const blob = await res.blob();
    if (blob.size > MAX_BYTES) throw new Error("too large");
    return await new Promise((ok, fail) => { const r = new FileReader(); r.onload = () => ok(r.result); r.onerror = fail; r.readAsDataURL(blob); });
  }

  // -- finding what to judge -------------------------------------------------------------------

  // An element's entry, made (and marked pending) the first time the element is sent.
  function track(el, src, url) {
    const key = el.dataset.medpicKey || `m${state.next++}`;
    el.dataset.medpicKey = key;
    let entry = state.entries.get(key);
    if (!entry) {
      entry = { key, el, src, url, written: written(el), verdict: null, row: null, hidden: state.blur, badge: null };
      state.entries.set(key, entry);
      mark(el, "pending");
    }
    return entry;
  }

  // The elements to send: those not judged yet, or every one with everyAgain. [{key, url}]
  async function collect(everyAgain) {
    const items = [];
    for (const el of document.querySelectorAll("body *")) {  // the overlay is outside <body>
      const src = offered(el);
      if (!src) continue;
      let known = state.entries.get(el.dataset.medpicKey);
      if (known && known.src === src && !everyAgain) continue;
      const r = el.getBoundingClientRect();
      if (!r.width || !r.height) continue;  // not drawn (yet): looked at when it shows
      if (known && known.src !== src) { forget(known); known = null; }
      if (!bigEnough(r) || broken(el)) {
        if (!known && settled(el)) mark(el, "clear");
        continue;
      }
      let url = src;
      if (url.startsWith("blob:")) { try { url = await toDataUri(url); } catch (e) { continue; } }
      items.push({ key: track(el, src, url).key, url });
    }
    return items;
  }

  // -- judging: the service worker asks the backend; what it cannot fetch is read here ----------

  async function ask(items) {
    const reply = await chrome.runtime.sendMessage({ type: "judge", items });
    if (!reply || reply.error) throw new Error(reply ? reply.error : "MedPic did not answer.");
    return reply;
  }

  // Images the backend could not fetch (behind a login, on a private network) are read in the page
  // and sent again as data: URIs, in automatic mode as from the popup.
  async function judge(items) {
    const answer = await ask(items);
    const retry = items.filter(it => answer.results[it.key] && answer.results[it.key].status === "error" && !it.url.startsWith("data:"));
    const inPage = [];
    for (const it of retry) {
      try { inPage.push({ key: it.key, url: await toDataUri(it.url) }); } catch (e) { /* unreadable here too */ }
    }
    if (inPage.length) {
      const again = await ask(inPage);
      for (const [key, row] of Object.entries(again.results)) if (row.status === "ok") answer.results[key] = row;
    }
    return answer;
  }

  function settle(key, row) {
    const entry = state.entries.get(key);
    if (!entry) return;  // its picture changed meanwhile: judged again, under a new key
    entry.row = row;
    entry.verdict = !row || row.status === "error" ? "unchecked"
      : row.status === "ok" && row.p_medical >= state.threshold ? "medical" : "clear";
    render(entry);
  }

  // One look at the page: what is new (or everything) is judged and marked. Returns how many were sent.
  async function check(everyAgain) {
    const items = await collect(everyAgain);
    if (!items.length) return 0;
    try {
      const { results, threshold } = await judge(items);
      state.threshold = threshold;
      state.error = null;
      for (const it of items) settle(it.key, results[it.key]);
    } catch (e) {
      state.error = e.message;
      for (const it of items) settle(it.key, { status: "error", reason: e.message });
    }
    place();
    return items.length;
  }

  function result() {
    const judged = [...state.entries.values()].filter(e => e.el.isConnected && (e.verdict === "medical" || e.verdict === "clear"));
    const medical = judged.filter(e => e.verdict === "medical");
    return {
      page: state.page, checked: judged.length, medical: medical.length, error: state.error, at: Date.now(),
      thumbs: medical.slice(0, MAX_THUMBS).map(e => ({ key: e.key, label: badgeText(e.row), confidence: e.row.confidence,
        url: e.url.startsWith("data:") && e.url.length > MAX_THUMB_URL ? "" : e.url })),
    };
  }

  // -- overlay: a veil over each hidden picture, a badge with "hide" on each shown one ----------

  // The model's modality names as people write them (the app's present.py has the same table).
  const MODALITY = { xray: "X-ray", ct: "CT", mri: "MRI", ultrasound: "Ultrasound", nuclear: "Nuclear",
    microscopy: "Microscopy", dermatology: "Dermatology", clinical_photo: "Clinical photo", endoscopy: "Endoscopy",
    ophthalmology: "Ophthalmology", trace: "ECG/EEG trace", other: "Other medical" };
  const percent = (p) => (p > 0.99 ? ">99%" : p < 0.01 ? "<1%" : `${Math.round(100 * p)}%`);

  function badgeText(row) {
    const medical = `Medical ${percent(row.p_medical)}`;
    if (!row.modality) return medical;
    const name = MODALITY[row.modality] || row.modality;
    return row.modality_confidence == null ? `${medical} · ${name}` : `${medical} · ${name} ${percent(row.modality_confidence)}`;
  }

  const overlay = () => {
    let o = document.getElementById("medpic-overlay");
    if (!o) { o = document.createElement("div"); o.id = "medpic-overlay"; document.documentElement.appendChild(o); }
    return o;
  };

  function makeBadge(entry) {
    const badge = document.createElement("div");
    badge.dataset.for = entry.key;
    const label = document.createElement("span");
    label.className = "medpic-label";
    const toggle = document.createElement("button");
    toggle.type = "button";
    toggle.className = "medpic-toggle";
    badge.append(label, toggle);
    // the whole veil shows its picture; on a shown picture only "hide" hides it
    badge.addEventListener("click", (ev) => {
      ev.preventDefault();
      ev.stopPropagation();
      if (entry.hidden || ev.target === toggle) { entry.hidden = !entry.hidden; render(entry); place(); }
    });
    overlay().appendChild(badge);
    resizes.observe(entry.el);
    return badge;
  }

  function dropBadge(entry) {
    if (!entry.badge) return;
    entry.badge.remove();
    entry.badge = null;
    state.badged.delete(entry);
    resizes.unobserve(entry.el);
  }

  // Shows an entry as its verdict and the person's show/hide choice say. A picture MedPic could
  // not judge is treated as flagged while blur is on: only pictures judged not medical show by themselves.
  function render(entry) {
    const flagged = entry.verdict === "medical" || (entry.verdict === "unchecked" && state.blur);
    if (!flagged) { dropBadge(entry); mark(entry.el, entry.verdict ? "clear" : "pending"); return; }
    mark(entry.el, entry.hidden ? "hidden" : "shown");
    if (!entry.badge) { entry.badge = makeBadge(entry); state.badged.add(entry); }
    const medical = entry.verdict === "medical";
    const text = medical ? badgeText(entry.row) : "Not checked by MedPic";
    entry.badge.className = `medpic-badge${entry.hidden ? " medpic-veil" : ""}${medical ? "" : " medpic-unchecked"}`;
    entry.badge.querySelector(".medpic-label").textContent = text;
    entry.badge.querySelector(".medpic-toggle").textContent = entry.hidden ? "show" : "hide";
    entry.badge.title = medical ? (entry.hidden ? "MedPic hid this medical image. Click to show it." : "MedPic: this looks like a medical image.")
      : `MedPic could not check this image: ${entry.row ? entry.row.reason : "no answer"}`;
  }

  // Badges and veils follow their pictures through scrolling, resizing and layout changes.
  function place() {
    for (const entry of state.badged) {
      const r = entry.el.getBoundingClientRect();
      const style = entry.badge.style;
      style.display = entry.el.isConnected && r.width > 0 && r.height > 0 ? "" : "none";
      const inset = entry.hidden ? 0 : 4;  // a veil covers the picture, a badge sits in its corner
      style.transform = `translate(${Math.round(r.left + window.scrollX + inset)}px, ${Math.round(r.top + window.scrollY + inset)}px)`;
      style.width = entry.hidden ? `${Math.round(r.width)}px` : "";
      style.height = entry.hidden ? `${Math.round(r.height)}px` : "";
    }
  }
  let placing = false;
  const schedule = () => { if (!placing) { placing = true; requestAnimationFrame(() => { placing = false; place(); }); } };
  const resizes = new ResizeObserver(schedule);
  window.addEventListener("scroll", schedule, { passive: true, capture: true });
  window.addEventListener("resize", schedule, { passive: true });

  function setBlur(on) {
    state.blur = on;
    document.documentElement.dataset.medpicBlur = on ? "on" : "off";  // early.css and content.css read it
    for (const entry of state.entries.values()) { entry.hidden = on; render(entry); }
    place();
  }

  function showAll(show) {
    for (const entry of state.entries.values()) { entry.hidden = !show; render(entry); }
    place();
  }

  function focus(key) {
    const entry = state.entries.get(key);
    if (!entry || !entry.el.isConnected) return false;
    entry.el.scrollIntoView({ block: "center" });
    if (entry.badge) { entry.badge.classList.add("medpic-flash"); setTimeout(() => entry.badge && entry.badge.classList.remove("medpic-flash"), 1500); }
    return true;
  }

  // -- watching: after the first scan, for the page's life ---------------------------------------

  // A known element shows another picture (a carousel, an SPA): judged again, hidden meanwhile
  // when blur is on. Runs in the mutation callback, before the new picture can be drawn. The new
  // picture gets a new key, so a verdict still on its way for the old one cannot land on it.
  function forget(entry) {
    dropBadge(entry);
    state.entries.delete(entry.key);
    delete entry.el.dataset.medpicKey;
    mark(entry.el, "pending");
  }

  // Only imgs, which early.css hides: other elements' pictures are compared at the next look.
  function pictureChanged(el) {
    if (el.localName !== "img") return;
    const entry = state.entries.get(el.dataset.medpicKey);
    if (entry && entry.written !== written(el)) forget(entry);
    else if (!entry && el.dataset.medpic === "clear") mark(el, "pending");  // was too small: looked at again
  }

  // New images are marked pending at once, so with blur on they never show before their verdict.
  function hideNew(node) {
    if (node.nodeType !== Node.ELEMENT_NODE) return;
    if (node.localName === "img" && !node.dataset.medpic) mark(node, "pending");
    for (const img of node.querySelectorAll("img:not([data-medpic])")) mark(img, "pending");
  }

  function onMutations(records) {
    const own = document.getElementById("medpic-overlay");
    let news = false;
    for (const r of records) {
      if ((own && own.contains(r.target)) || (r.attributeName || "").startsWith("data-medpic")) continue;  // our own doing
      news = true;
      if (!state.watching) continue;
      if (r.attributeName && PICTURE_ATTRIBUTE.test(r.attributeName)) pictureChanged(r.target);
      else if (!r.attributeName && state.blur) r.addedNodes.forEach(hideNew);
    }
    if (!news) return;
    schedule();
    if (state.watching) soon();
  }
  new MutationObserver(onMutations).observe(document, { subtree: true, childList: true, attributes: true });

  // An image finished loading: its size is known now, and with srcset it may be another picture.
  function onLoad(ev) {
    const entry = ev.target instanceof Element && state.entries.get(ev.target.dataset.medpicKey);
    if (entry && offered(entry.el) !== entry.src) forget(entry);
    soon();
  }

  // At most one look at the page per RECHECK_MS, one at a time; each judged batch updates the stored result.
  let timer = null, running = false, again = false;
  function soon() { if (!timer) timer = setTimeout(recheck, RECHECK_MS); }
  async function recheck() {
    timer = null;
    if (running) { again = true; return; }
    running = true;
    try {
      if (await check(false)) chrome.runtime.sendMessage({ type: "result", result: result() }).catch(() => {});
    } finally {
      running = false;
      if (again) { again = false; soon(); }
    }
  }

  function watch() {
    if (state.watching) return;
    state.watching = true;
    document.addEventListener("load", onLoad, true);  // load does not bubble; captured, it tells of every image
    window.addEventListener("scroll", soon, { passive: true, capture: true });
    window.addEventListener("resize", soon, { passive: true });
    soon();
  }

  // -- settings and messages ----------------------------------------------------------------------

  const ready = chrome.storage.local.get(["autoScan", "blur"]).then((s) => {
    setBlur(!!s.blur);
    if (s.autoScan) watch();
  });
  chrome.storage.onChanged.addListener((changes, area) => {
    if (area !== "local") return;
    if (changes.blur) setBlur(!!changes.blur.newValue);
    if (changes.autoScan && changes.autoScan.newValue) watch();
  });

  function note(el, text) {
    const n = document.createElement("div");
    n.className = "medpic-badge medpic-note";
    n.textContent = text;
    const r = el.getBoundingClientRect();
    n.style.transform = `translate(${Math.round(r.left + window.scrollX + 4)}px, ${Math.round(r.top + window.scrollY + 4)}px)`;
    overlay().appendChild(n);
    setTimeout(() => n.remove(), 4000);
  }

  // The context menu's single image: flagged like the others, or a note that fades.
  function single(msg) {
    const el = [...document.querySelectorAll("img")].find(i => i.currentSrc === msg.url || i.src === msg.url);
    if (!el) return;
    const row = msg.row;
    if (row && row.status === "ok" && row.p_medical >= msg.threshold) {
      state.threshold = msg.threshold;
      settle(track(el, msg.url, msg.url).key, row);
      place();
    } else {
      note(el, msg.error ? "MedPic: backend unavailable" : row && row.status === "ok"
        ? `Not medical ${Math.round(100 * row.confidence)}%` : `MedPic: ${row ? row.reason : "no answer"}`);
    }
  }

  chrome.runtime.onMessage.addListener((msg, sender, reply) => {
    if (msg.type === "scan") {
      ready.then(() => check(true)).then(() => { watch(); reply(result()); }, (e) => reply({ error: e.message }));
      return true;
    }
    if (msg.type === "page") { reply({ page: state.page }); return false; }
    if (msg.type === "showAll") { showAll(msg.show); reply({ ok: true }); return false; }
    if (msg.type === "focus") { reply({ found: focus(msg.key) }); return false; }
    if (msg.type === "single") { single(msg); reply({ ok: true }); return false; }
    return false;
  });
})();
