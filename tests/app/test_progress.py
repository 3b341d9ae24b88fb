"""Progress as the chat shows it: counts as images arrive, and time that visibly passes."""

import time

from medpic.app.service import _counted


def test_counts_are_said_as_candidates_arrive():
    said = []
    assert list(_counted(iter(range(9)), said.append)) == list(range(9))
    assert said[0] == "found 1 image so far, judging them" and said[-1] == "judging the last of 9 images"
    assert "found 5 images so far, judging them" in said


def test_a_slow_job_shows_time_passing():
    from concurrent.futures import ThreadPoolExecutor

    from medpic.app.ui import _run

    class Service:
        jobs = ThreadPoolExecutor(1)

    def job(stage):
        stage("rendering the page")
        time.sleep(2.5)
        return "the report"

    events = list(_run(Service(), job))
    stages = [text for kind, text in events if kind == "stage"]
    assert len(stages) >= 3 and stages[0].startswith("rendering the page (")
    assert stages[-1].endswith("(2 s)") and events[-1] == ("report", "the report")
