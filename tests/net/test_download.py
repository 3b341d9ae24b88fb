"""The one image downloader, through the transport seam: order, Referer and cookie policy, caps."""

import base64

from medpic.net.download import ImageDownloader
from medpic.net.fetch import Fetcher, MockTransport
from medpic.settings import Settings

PAGE = "http://93.184.215.14/articles/private-page.html?user=42"
OTHER = "http://93.184.216.34"


def downloader(routes, **settings):
    transport = MockTransport(lambda r: routes.get(f"{r.target.address}{r.path}", (404, {}, b"")))
    s = Settings(**settings)
    return ImageDownloader(Fetcher(s.net_policy(), transport=transport), s.web_limits(), page_url=PAGE,
                           cookies="session=abc", known={"http://93.184.215.14/known.png": b"known"}), transport


def test_results_come_in_the_order_asked_with_reasons_in_place():
    png = b"\x89PNG-bytes"
    d, _ = downloader({"93.184.215.14/a.png": (200, {}, png), "93.184.216.34/b.png": (200, {}, b"b")})
    urls = ["http://93.184.215.14/a.png", "http://93.184.215.14/missing.png", OTHER + "/b.png",
            "data:image/png;base64," + base64.b64encode(png).decode(), "blob:http://93.184.215.14/1",
            "http://10.0.0.1/internal.png", "http://93.184.215.14/known.png"]
    got = list(d.download(urls))
    assert [g.url for g in got] == urls
    assert [g.data for g in got] == [png, None, b"b", png, None, None, b"known"]
    assert "HTTP 404" in got[1].reason and "blob URL" in got[4].reason and "private or internal" in got[5].reason


def test_referer_is_the_page_origin_and_cookies_stay_on_the_page_host():
    d, transport = downloader({"93.184.215.14/a.png": (200, {}, b"a"), "93.184.216.34/b.png": (200, {}, b"b")})
    list(d.download(["http://93.184.215.14/a.png", OTHER + "/b.png"]))
    own, other = sorted(transport.requests, key=lambda r: r.target.address)
    assert own.headers["Referer"] == other.headers["Referer"] == "http://93.184.215.14/"
    assert own.headers["Cookie"] == "session=abc" and "Cookie" not in other.headers


def test_the_page_byte_total_is_shared_by_every_download():
    d, _ = downloader({f"93.184.215.14/{i}.png": (200, {}, b"x" * 600) for i in range(3)}, max_total_bytes=1000)
    got = list(d.download([f"http://93.184.215.14/{i}.png" for i in range(3)]))
    assert [g.data is not None for g in got].count(True) == 1  # 5 known bytes + 600 fit; 1,205 do not
    assert all(g.skipped for g in got if g.data is None) and any("total bytes limit" in g.reason for g in got)


def test_an_image_over_its_cap_is_refused_with_the_limit():
    d, _ = downloader({"93.184.215.14/big.png": (200, {}, b"x" * 2000)}, max_image_bytes=1000)
    got, = d.download(["http://93.184.215.14/big.png"])
    assert got.data is None and "over the limit of 1,000" in got.reason
