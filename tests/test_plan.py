"""The prescription: set and shown by `imutrack plan`, followed by `imutrack live`, measured in progress and the
report; the profile in the report's header (escaped)."""

from __future__ import annotations

import re
from datetime import date

import pytest

from imutrack.cli import main
from imutrack.errors import ImutrackError
from imutrack.plan import DEFAULT_PLAN, Plan, plan_on


def test_the_plan_in_force_is_the_latest_started():
    plans = [Plan("2026-11-10", hold_s=30.0), Plan("2026-11-20", hold_s=45.0)]
    assert plan_on(plans, "2026-11-09") == DEFAULT_PLAN
    assert plan_on(plans, "2026-11-19").hold_s == 30.0 and plan_on(plans, "2026-11-20").hold_s == 45.0
    for wrong in (dict(hold_s=2.0), dict(reps_per_side=0), dict(parts=("night",)), dict(parts=()),
                  dict(start_date="20-11-2026")):
        with pytest.raises(ImutrackError):
            Plan(**wrong)
    assert Plan.from_json(plans[1].to_json()) == plans[1]


def test_plan_and_profile_commands(tmp_path, capsys):
    db = str(tmp_path / "p.sqlite3")
    assert main(["plan", "--db", db]) == 0
    assert "no plan set: the exercise as described — 2 reps per side, holds of 60 s" in capsys.readouterr().out
    assert main(["plan", "--hold", "45", "--reps", "3", "--parts", "morning,evening", "--note", "after review",
                 "--from", "2026-11-20", "--db", db]) == 0
    assert main(["plan", "--unassisted", "--db", db]) == 0  # from today: changes the hands, keeps the rest
    capsys.readouterr()
    assert main(["plan", "--db", db]) == 0
    text = capsys.readouterr().out
    assert "in force: 3 reps per side, holds of 45 s, 2 sessions a day (morning, evening), without hands" in text
    assert "from 2026-11-20: 3 reps per side, holds of 45 s, 2 sessions a day (morning, evening), with hands — " \
           "after review" in text
    assert main(["plan", "--parts", "morning,night", "--db", db]) == 1
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "parts of the day must be some of" in err
    assert main(["profile", "--name", "Ana <b>$x$</b>", "--id", "P-17", "--db", db]) == 0
    assert "name: Ana <b>$x$</b>" in capsys.readouterr().out


def test_live_follows_the_plan_and_the_report_measures_against_it(tmp_path, capsys):
    db, out = str(tmp_path / "p.sqlite3"), tmp_path / "live.csv"
    today = date.today().isoformat()
    assert main(["plan", "--hold", "20", "--reps", "1", "--parts", "morning,afternoon,evening",
                 "--note", "<script>alert(1)</script>", "--from", today, "--db", db]) == 0
    assert main(["profile", "--name", "Ana <b>O'Neil</b>", "--db", db]) == 0
    capsys.readouterr()
    assert main(["live", "--simulate", "--seed", "0", "--lenient", "--speed", "0", "--plain", "--rest", "4",
                 "--db", db, "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert "your plan: 1 rep per side, holds of 20 s" in text and "Hold, breathe deeply and relax into it: 20 s" in text
    assert len(re.findall(r"\d+ of 20 s", text)) == 2  # one rep per side in the summary
    html = tmp_path / "r.html"
    assert main(["report", "--html", str(html), "--db", db]) == 0
    page = html.read_text()
    assert "Ana &lt;b&gt;O&#x27;Neil&lt;/b&gt;" in page and "<b>O'Neil" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page and "<script>" not in page
    assert "Sessions done as planned: 1 of 3" in page
    assert "Holds meeting the plan in force that day (at least 90 % of its hold length): 100 % of 2" in page
