// MedPic's image-discovery rules, the one copy: every place an image can hide on a rendered page.
//
// Two users run this file. capture.py evaluates it with Playwright (frame.evaluate(DISCOVER_JS, n)):
// the file's value is `discover`, which Playwright calls with the element limit; it returns plain
// records and Python dedupes and fetches. The browser extension ships a copy (made by
// tools/build_extension.py, never kept in git) and injects it as a classic script just before
// content.js; content.js reads the rules for one element from globalThis.__medpicDiscovery.
// The IIFE keeps both uses free of global `const`s, so injecting the file twice is harmless.
//
// medpic/sources/page/static.py applies the same rules to HTML without a browser: the lists below
// are named there too (LAZY_SRC, LAZY_SRCSET, OG_META, TWITTER_META, IMAGE_LINK, CSS_URL); change
// both together. tests/sources/page/test_discovery_rules.py fails when the two disagree.
(() => {
  const LAZY_SRC = ['data-src', 'data-original', 'data-lazy-src', 'data-lazy'];  // lazy loaders' src
  const LAZY_SRCSET = ['data-srcset', 'data-lazy-srcset'];                        // and srcset
  const OG_META = [['property', 'og:image'], ['name', 'og:image'], ['property', 'og:image:url'], ['property', 'og:image:secure_url']];
  const TWITTER_META = [['name', 'twitter:image'], ['property', 'twitter:image'], ['name', 'twitter:image:src']];
  const IMAGE_LINK = /\.(jpe?g|png|gif|webp|avif|bmp|tiff?|svg|ico)(\?|#|$)/i;
  const CSS_URL = /url\(\s*(['"]?)(.*?)\1\s*\)/g;
  const KEPT = /^(https?:|data:image\/|blob:)/i;
  const PSEUDOS = [[null, 'css-background'], ['::before', 'css-before'], ['::after', 'css-after']];
  // Which of one element's URLs is its picture, lower first: the server's choice (_PREFERENCE in
  // sightings.py; the test checks they match). The extension sends an element's first URL.
  const PREFERENCE = { 'srcset': 0, 'data-srcset': 0, 'picture': 1, 'data-src': 1, 'img': 2 };

  const resolve = (u) => {
    if (!u) return null;
    try { const href = new URL(u.trim(), document.baseURI).href; return KEPT.test(href) ? href : null; } catch (e) { return null; }
  };
  const largest = (srcset) => {
    // "a.jpg 300w, b.jpg 600w" or "a.jpg 1x, b.jpg 2x": the widest, or the densest (x counts 1000 w);
    // commas inside URLs are rare, split on ", "; the first of equals wins
    let best = null, bestScore = -Infinity;
    for (const part of srcset.split(/,\s+/)) {
      const bits = part.trim().split(/\s+/);
      if (!bits[0]) continue;
      let score = 1;
      if (bits[1]) { const n = parseFloat(bits[1]); if (!isNaN(n)) score = n * (bits[1].endsWith('x') ? 1000 : 1); }
      if (score > bestScore) { best = bits[0]; bestScore = score; }
    }
    return best;
  };
  const metaSelector = (pairs) => pairs.map(([attr, value]) => `meta[${attr}="${value}"]`).join(', ');

  // What an element names itself, as {url as written, found_by}; an img's shown picture first, marked.
  const named = (el) => {
    const attr = (n) => el.getAttribute(n);
    if (el.localName === 'img') {
      const out = [];
      if (el.currentSrc) out.push({ url: el.currentSrc, found_by: el.srcset ? 'srcset' : 'img', shown: true });
      else if (attr('src')) out.push({ url: attr('src'), found_by: 'img', shown: true });
      if (el.srcset) out.push({ url: largest(el.srcset), found_by: 'srcset' });
      for (const a of LAZY_SRC) if (attr(a)) out.push({ url: attr(a), found_by: 'data-src' });
      for (const a of LAZY_SRCSET) if (attr(a)) out.push({ url: largest(attr(a)), found_by: 'data-srcset' });
      return out;
    }
    if (el.localName === 'source' && el.parentElement && el.parentElement.localName === 'picture') {
      const ss = attr('srcset') || attr('data-srcset');
      return ss ? [{ url: largest(ss), found_by: 'picture' }] : [];
    }
    if (el.localName === 'image' && el.closest('svg')) return [{ url: attr('href') || attr('xlink:href'), found_by: 'svg-image' }];
    if (el.localName === 'video' && attr('poster')) return [{ url: attr('poster'), found_by: 'video-poster' }];
    return [];
  };
  // CSS background images of an element and of its ::before and ::after.
  const backgrounds = (el) => {
    const out = [];
    for (const [pseudo, foundBy] of PSEUDOS) {
      const bg = getComputedStyle(el, pseudo).backgroundImage;
      if (bg && bg !== 'none') for (const m of bg.matchAll(CSS_URL)) out.push({ url: m[2], found_by: foundBy });
    }
    return out;
  };
  // Every image URL one element offers, resolved, its picture first: the extension's question.
  const offers = (el) => {
    const sources = el.localName === 'img' && el.parentElement && el.parentElement.localName === 'picture'
      ? [...el.parentElement.children].filter((s) => s.localName === 'source').flatMap(named) : [];
    const found = [...named(el), ...sources, ...backgrounds(el)]
      .map((f) => ({ url: resolve(f.url), found_by: f.found_by })).filter((f) => f.url);
    return found.sort((a, b) => (PREFERENCE[a.found_by] ?? 3) - (PREFERENCE[b.found_by] ?? 3));  // stable
  };

  // The whole page (one frame), for capture.py: records in the order of the passes below.
  const discover = (maxElements) => {
    const out = [];
    let order = 0;
    const captionOf = (el) => {
      const fig = el && el.closest ? el.closest('figure') : null;
      const cap = fig ? fig.querySelector('figcaption') : null;
      return cap ? cap.innerText.trim().replace(/\s+/g, ' ').slice(0, 300) : '';
    };
    const add = (found, el, extra) => {
      const url = resolve(found.url);
      if (!url) return;
      let rw = null, rh = null;
      if (el && el.getBoundingClientRect) { const r = el.getBoundingClientRect(); rw = Math.round(r.width); rh = Math.round(r.height); }
      const attr = (n) => (el && el.getAttribute && el.getAttribute(n)) || '';
      out.push(Object.assign({
        url, found_by: found.found_by, alt: attr('alt') || attr('aria-label'), title: attr('title'), caption: captionOf(el),
        rendered_width: rw, rendered_height: rh, natural_width: null, natural_height: null, group: null, order: order++,
      }, extra));
    };
    let group = 0;
    for (const img of document.querySelectorAll('img')) {
      group++;
      for (const f of named(img)) {
        add(f, img, f.shown ? { natural_width: img.naturalWidth || null, natural_height: img.naturalHeight || null, group } : { group });
      }
    }
    for (const s of document.querySelectorAll('picture > source')) for (const f of named(s)) add(f, s.parentElement.querySelector('img') || s, {});
    const all = document.querySelectorAll('body *');
    const limit = Math.min(all.length, maxElements);
    for (let i = 0; i < limit; i++) for (const f of backgrounds(all[i])) add(f, all[i], {});
    for (const sel of ['svg image', 'video[poster]']) for (const el of document.querySelectorAll(sel)) for (const f of named(el)) add(f, el, {});
    for (const l of document.querySelectorAll('link[rel~="image_src"]')) add({ url: l.getAttribute('href'), found_by: 'link-image' }, null, {});
    for (const m of document.querySelectorAll(metaSelector(OG_META))) add({ url: m.getAttribute('content'), found_by: 'og-image' }, null, {});
    for (const m of document.querySelectorAll(metaSelector(TWITTER_META))) add({ url: m.getAttribute('content'), found_by: 'twitter-image' }, null, {});
    for (const a of document.querySelectorAll('a[href]')) {
      const h = a.getAttribute('href');
      if (IMAGE_LINK.test(h)) add({ url: h, found_by: 'link' }, a, { alt: (a.innerText || '').trim().slice(0, 200) });
    }
    return { images: out, elements: all.length, truncated: all.length > maxElements };
  };

  globalThis.__medpicDiscovery = { offers, PREFERENCE };
  return discover;
})()
