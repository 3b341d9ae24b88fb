// Runs inside a rendered page (and its same-origin frames): every place an image can hide.
// Returns plain records; Python resolves, dedupes and fetches. Keep in step with static.py.
(maxElements) => {
  const out = [];
  let order = 0;
  const abs = (u) => { try { return new URL(u.trim(), document.baseURI).href; } catch (e) { return null; } };
  const srcsetEntries = (srcset) => {
    // "a.jpg 300w, b.jpg 600w" or "a.jpg 1x, b.jpg 2x"; commas inside URLs are rare, split on ", "
    const entries = [];
    for (const part of srcset.split(/,\s+/)) {
      const bits = part.trim().split(/\s+/);
      if (!bits[0]) continue;
      let score = 1;
      if (bits[1]) { const n = parseFloat(bits[1]); if (!isNaN(n)) score = n * (bits[1].endsWith('x') ? 1000 : 1); }
      entries.push({ url: bits[0], score });
    }
    return entries;
  };
  const largest = (srcset) => {
    const e = srcsetEntries(srcset).sort((a, b) => b.score - a.score);
    return e.length ? e[0].url : null;
  };
  const captionOf = (el) => {
    const fig = el && el.closest ? el.closest('figure') : null;
    const cap = fig ? fig.querySelector('figcaption') : null;
    return cap ? cap.innerText.trim().replace(/\s+/g, ' ').slice(0, 300) : '';
  };
  const add = (url, foundBy, el, extra) => {
    if (!url) return;
    const u = abs(url);
    if (!u || !/^(https?:|data:image\/|blob:)/i.test(u)) return;
    let rw = null, rh = null;
    if (el && el.getBoundingClientRect) { const r = el.getBoundingClientRect(); rw = Math.round(r.width); rh = Math.round(r.height); }
    const attr = (n) => (el && el.getAttribute && el.getAttribute(n)) || '';
    out.push(Object.assign({
      url: u, found_by: foundBy, alt: attr('alt') || attr('aria-label'), title: attr('title'), caption: captionOf(el),
      rendered_width: rw, rendered_height: rh, natural_width: null, natural_height: null, group: null, order: order++,
    }, extra || {}));
  };
  let group = 0;
  for (const img of document.querySelectorAll('img')) {
    group++;
    const nat = { natural_width: img.naturalWidth || null, natural_height: img.naturalHeight || null, group };
    if (img.currentSrc) add(img.currentSrc, img.srcset ? 'srcset' : 'img', img, nat);
    else if (img.getAttribute('src')) add(img.getAttribute('src'), 'img', img, nat);
    if (img.srcset) add(largest(img.srcset), 'srcset', img, { group });
    for (const a of ['data-src', 'data-original', 'data-lazy-src', 'data-lazy']) if (img.getAttribute(a)) add(img.getAttribute(a), 'data-src', img, { group });
    for (const a of ['data-srcset', 'data-lazy-srcset']) if (img.getAttribute(a)) add(largest(img.getAttribute(a)), 'data-srcset', img, { group });
  }
  for (const s of document.querySelectorAll('picture > source')) {
    const ss = s.getAttribute('srcset') || s.getAttribute('data-srcset');
    const img = s.parentElement.querySelector('img');
    if (ss) add(largest(ss), 'picture', img || s, {});
  }
  const all = document.querySelectorAll('body *');
  const limit = Math.min(all.length, maxElements);
  for (let i = 0; i < limit; i++) {
    const el = all[i];
    for (const pseudo of [null, '::before', '::after']) {
      const bg = getComputedStyle(el, pseudo).backgroundImage;
      if (!bg || bg === 'none') continue;
      for (const m of bg.matchAll(/url\(\s*(['"]?)(.*?)\1\s*\)/g)) add(m[2], pseudo ? 'css-' + pseudo.slice(2) : 'css-background', el, {});
    }
  }
  for (const im of document.querySelectorAll('svg image')) add(im.getAttribute('href') || im.getAttribute('xlink:href'), 'svg-image', im, {});
  for (const v of document.querySelectorAll('video[poster]')) add(v.getAttribute('poster'), 'video-poster', v, {});
  for (const l of document.querySelectorAll('link[rel~="image_src"]')) add(l.getAttribute('href'), 'link-image', null, {});
  for (const m of document.querySelectorAll('meta[property="og:image"], meta[name="og:image"], meta[property="og:image:url"], meta[property="og:image:secure_url"]')) add(m.getAttribute('content'), 'og-image', null, {});
  for (const m of document.querySelectorAll('meta[name="twitter:image"], meta[property="twitter:image"], meta[name="twitter:image:src"]')) add(m.getAttribute('content'), 'twitter-image', null, {});
  for (const a of document.querySelectorAll('a[href]')) {
    const h = a.getAttribute('href');
    if (/\.(jpe?g|png|gif|webp|avif|bmp|tiff?|svg|ico)(\?|#|$)/i.test(h)) add(h, 'link', a, { alt: a.innerText.trim().slice(0, 200) });
  }
  return { images: out, elements: all.length, truncated: all.length > maxElements };
}
