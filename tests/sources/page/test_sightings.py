"""The pure sighting rules: no browser, no network."""

from medpic.sources.page.sightings import Sighting, add_network_only, choose, split_at_limit, variant_key


def s(url, found_by="img", order=0, **kw):
    return Sighting(url=url, found_by=found_by, order=order, **kw)


def test_variant_keys_group_size_suffixes():
    assert variant_key("https://x.org/a/photo-300x200.jpg") == variant_key("https://x.org/a/photo.jpg")
    assert variant_key("https://x.org/a/photo@2x.png") == variant_key("https://x.org/a/photo.png")
    assert variant_key("https://x.org/a/photo-2.jpg") != variant_key("https://x.org/a/photo.jpg")
    assert variant_key("https://X.org/a.jpg") == variant_key("https://x.org/a.jpg")


def test_within_one_element_srcset_beats_a_placeholder_src():
    chosen = choose([s("data:image/gif;base64,R0lGOD", "img", 0, group="1"),
                     s("https://x.org/real.jpg", "srcset", 1, group="1", alt="an x-ray")])
    assert [c.url for c in chosen] == ["https://x.org/real.jpg"]
    assert chosen[0].order == 0 and chosen[0].alt == "an x-ray"


def test_size_variants_keep_the_largest_in_first_page_order():
    chosen = choose([s("https://x.org/a-300x200.jpg", order=0, group="1"),
                     s("https://x.org/b.jpg", order=1, group="2"),
                     s("https://x.org/a-1200x800.jpg", order=2, group="3")])
    assert [(c.url, c.order) for c in chosen] == [("https://x.org/a-1200x800.jpg", 0), ("https://x.org/b.jpg", 1)]


def test_the_same_url_twice_is_one_sighting_filled_in_by_the_later_one():
    chosen = choose([s("https://x.org/a.jpg#top", order=0), s("https://x.org/a.jpg", order=1, alt="later alt",
                                                                natural_width=640)])
    assert len(chosen) == 1
    assert chosen[0].url == "https://x.org/a.jpg" and chosen[0].alt == "later alt" and chosen[0].natural_width == 640


def test_choose_does_not_change_its_input():
    original = [s("https://x.org/a.jpg#frag", order=3)]
    choose(original)
    assert original[0].url == "https://x.org/a.jpg#frag" and original[0].order == 3


def test_network_only_images_are_appended_once_and_blobs_never():
    chosen = [s("https://x.org/a.jpg")]
    out = add_network_only(chosen, ["https://x.org/a.jpg", "https://x.org/a@2x.jpg", "https://x.org/late.png",
                                    "https://x.org/late.png", "blob:https://x.org/123"])
    assert [(o.url, o.found_by, o.order) for o in out] == [("https://x.org/a.jpg", "img", 0),
                                                             ("https://x.org/late.png", "network", 1)]


def test_label_prefers_alt_then_title_then_caption():
    assert s("u", alt="a", title="t", caption="c").label == "a"
    assert s("u", title="t", caption="c").label == "t"
    assert s("u", caption="c").label == "c"


def test_split_at_limit():
    items = [s(f"https://x.org/{i}.jpg", order=i) for i in range(5)]
    judged, left = split_at_limit(items, 3)
    assert len(judged) == 3 and [x.order for x in left] == [3, 4]


def test_a_shared_placeholder_never_hides_the_pictures_offered_by_srcset():
    placeholder = "data:image/gif;base64,R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7"
    chosen = choose([  # the browser reports the 1x src as currentSrc: found_by "srcset" for both elements
        s(placeholder, "srcset", 0, group="1"), s("https://x.org/a.jpg", "srcset", 1, group="1"),
        s(placeholder, "srcset", 2, group="2"), s("https://x.org/b.jpg", "srcset", 3, group="2"),
    ])
    assert [c.url for c in chosen] == ["https://x.org/a.jpg", "https://x.org/b.jpg"]


def test_a_data_uri_alone_in_its_element_is_still_its_picture():
    inline = "data:image/png;base64,iVBORw0KGgo"
    chosen = choose([s(inline, "img", 0, group="1"), s(inline, "img", 1, group="2")])
    assert [c.url for c in chosen] == [inline]  # the same bytes twice: one picture
