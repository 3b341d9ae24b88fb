"""Web pages: capture (or parse) -> sightings -> downloads -> candidates.

    capture.py     rendering in Chromium: the route guard, scrolling, discovery, image bodies, blobs
    static.py      the same discovery rules without a browser
    discover.js    the discovery rules, one copy, shared with the browser extension
    sightings.py   pure rules: one sighting per picture, network-only images, the image limit
    extract.py     extract_page(): the steps above in order, candidates produced lazily
"""
