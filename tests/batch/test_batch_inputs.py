"""Reading a batch job's list of targets: text with comments, CSV, Parquet, stdin; duplicates once."""

from __future__ import annotations

import io
import subprocess
import sys

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from medpic.batch import read_targets
from medpic.batch.inputs import hosts_in_turn
from medpic.sources.targets import is_image_url
from medpic.errors import InvalidInput


def test_a_text_list_skips_blank_lines_and_comments_and_keeps_fragments(tmp_path):
    path = tmp_path / "targets.txt"
    path.write_text("# pages\nhttps://a.example/x.html#fig-2\n\n  paper.pdf  \n# done\nhttps://a.example/x.html#fig-2\n")
    assert read_targets(path) == ["https://a.example/x.html#fig-2", "paper.pdf"]


def test_csv_and_parquet_lists_need_a_target_column(tmp_path):
    good = tmp_path / "t.csv"
    good.write_text("id,target\n1,https://a.example/p.pdf\n2,\n3,img.png\n", encoding="utf-8")
    assert read_targets(good) == ["https://a.example/p.pdf", "img.png"]
    table = tmp_path / "t.parquet"
    pq.write_table(pa.table({"target": ["a.pdf", None, "b.pdf", "a.pdf"], "n": [1, 2, 3, 4]}), table)
    assert read_targets(table) == ["a.pdf", "b.pdf"]
    bad = tmp_path / "bad.csv"
    bad.write_text("url\nhttps://a.example/\n")
    with pytest.raises(InvalidInput, match="no 'target' column"):
        read_targets(bad)
    pq.write_table(pa.table({"url": ["x"]}), tmp_path / "bad.parquet")
    with pytest.raises(InvalidInput, match="no 'target' column"):
        read_targets(tmp_path / "bad.parquet")


def test_dash_reads_standard_input_and_a_missing_list_is_a_usage_error(tmp_path):
    assert read_targets("-", stdin=io.StringIO("a.pdf\n#x\nb.pdf\n")) == ["a.pdf", "b.pdf"]
    with pytest.raises(InvalidInput, match="no such file"):
        read_targets(tmp_path / "nope.txt")


def test_image_urls_are_told_by_their_extension():
    assert is_image_url("https://a.example/scan.PNG?size=2") and is_image_url("http://a.example/x/y.jpeg")
    assert not is_image_url("https://a.example/paper.pdf") and not is_image_url("https://a.example/gallery")


def test_neither_the_app_nor_the_cli_imports_ray():
    code = "import sys, medpic, medpic.cli, medpic.batch, medpic.app.service; print('ray' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip() \
        == "False"


def test_work_takes_one_target_of_each_host_in_turn_keeping_each_hosts_order():
    listed = ["https://a.org/1", "https://a.org/2", "https://a.org/3", "http://b.net/1", "scan.pdf",
              "https://B.NET/2", "https://a.org:8443/4", "notes/page.pdf"]
    ordered = [target for _, target in hosts_in_turn(list(enumerate(listed)))]
    assert ordered == ["https://a.org/1", "http://b.net/1", "scan.pdf", "https://a.org/2", "https://B.NET/2",
                       "notes/page.pdf", "https://a.org/3", "https://a.org:8443/4"]
    assert sorted(hosts_in_turn(list(enumerate(listed)))) == list(enumerate(listed))  # nothing lost, keys kept
    broken = [(0, "http://[oops/x"), (1, "https://a.org/1")]  # urlsplit raises: the target fails later, as a row
    assert sorted(hosts_in_turn(broken)) == broken
