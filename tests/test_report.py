"""The progress report: the numbers behind each figure, the files, escaping, and a real browser rendering it."""

import csv
import subprocess
from dataclasses import replace
from datetime import date, timedelta

import matplotlib.image
import numpy as np
import pytest
from tests.browser import chromium, needs_chromium

from imutrack.cli import main
from imutrack.metrics import HoldMetrics
from imutrack.report import progress_report as report
from imutrack.store import StoredSession

HOLD = HoldMetrics(rep=1, side="left", turn_start_s=10.0, hold_start_s=13.0, hold_end_s=73.0, duration_s=60.0,
                   time_to_end_s=3.0, mean_twist_deg=45.0, peak_twist_deg=47.0, rom_deg=45.0, creep_deg=2.0,
                   twist_sd_deg=0.5, twist_rate_rms_deg_s=0.3, tremor_rms_deg_s=0.1, bounce_deg=0.1, forced=False,
                   slouch_fraction=0.0, max_flexion_deg=3.0, mean_lean_deg=1.0, max_abs_lean_deg=2.0,
                   breath_rate_bpm=7.0, breath_depth_deg=1.0)


def history(device="chest sensor"):
    """Four days: day 0 morning+evening, day 1 missed, day 2 afternoon, day 3 morning (unassisted)."""
    plan = [(0, "morning", 40.0, 35.0, "assisted"), (0, "evening", 42.0, 36.0, "assisted"),
            (2, "afternoon", 44.0, 36.0, "assisted"), (3, "morning", 47.0, 38.0, "unassisted")]
    start = date(2026, 11, 2)
    sessions, holds = [], []
    for k, (day, slot, left, right, hands) in enumerate(plan, start=1):
        d = (start + timedelta(days=day)).isoformat()
        clock = {"morning": "08:00", "afternoon": "14:30", "evening": "19:15"}[slot]
        sessions.append(StoredSession(k, f"h{k}", f"{d}T{clock}:00+01:00", d, slot, device, hands, "", 300.0, 1, 1,
                                      left, right, left - right))
        holds += [(k, replace(HOLD, rom_deg=left, duration_s=50.0 + 5 * k, twist_sd_deg=0.1 * k)),
                  (k, replace(HOLD, side="right", rom_deg=right, duration_s=60.0, twist_sd_deg=0.2))]
    return sessions, holds


def test_the_numbers_behind_each_figure():
    sessions, holds = history()
    data = report.report_data(sessions, holds)
    assert data.rom.day["left"] == [0.0, 0.0, 2.0, 3.0]
    assert data.rom.rom_deg["right"] == [35.0, 36.0, 36.0, 38.0]
    assert data.rom.unassisted["left"] == [False, False, False, True]
    # least-squares line through (0,40) (0,42) (2,44) (3,47): x̄ = 1.25, ȳ = 43.25, Sxx = 6.75, Sxy = 12.75,
    # slope 17/9, intercept 43.25 − 1.25·17/9
    intercept = 43.25 - 1.25 * 17 / 9
    np.testing.assert_allclose(data.rom.trend_deg["left"], [intercept, intercept + 3 * 17 / 9])
    assert data.holds.dates == ["2026-11-02", "2026-11-04", "2026-11-05"]
    np.testing.assert_allclose(data.holds.mean_duration_s, [(55 + 60 + 60 + 60) / 4, (65 + 60) / 2, (70 + 60) / 2])
    np.testing.assert_allclose(data.holds.median_sway_deg, [0.2, 0.25, 0.3])
    np.testing.assert_allclose(data.asymmetry.asymmetry_deg, [5.5, 8.0, 9.0])
    assert data.calendar.dates == ["2026-11-02", "2026-11-03", "2026-11-04", "2026-11-05"]
    assert data.calendar.done == [[1, 0, 1], [0, 0, 0], [0, 1, 0], [1, 0, 0]]


def test_files_pdf_csv_png(tmp_path):
    sessions, holds = history()
    data = report.report_data(sessions, holds)
    pdf = report.write_pdf(data, sessions, tmp_path / "r.pdf")
    from pypdf import PdfReader

    assert pdf.read_bytes()[:5] == b"%PDF-" and len(PdfReader(pdf).pages) >= 2  # text, then figures and tables
    rows = (report.write_csv(sessions, holds, tmp_path / "r.csv")).read_text().splitlines()
    assert len(rows) == 1 + len(holds) and rows[0].startswith("session_start,local_date,time_slot,assisted,device,rep")
    pngs = report.write_png(data, tmp_path / "png")
    assert sorted(p.name for p in pngs) == ["asymmetry.png", "calendar.png", "holds.png", "rom.png"]


def test_html_is_self_contained_and_escapes_user_text(tmp_path):
    sessions, holds = history(device='<script>alert("x")</script> & co')
    sessions[0] = replace(sessions[0], notes="stiff <b>today</b>")
    page = report.write_html(report.report_data(sessions, holds), sessions, tmp_path / "r.html").read_text()
    assert "<script>" not in page and "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; co" in page
    assert '<td class="note">stiff &lt;b&gt;today&lt;/b&gt;</td>' in page  # the person's notes, escaped
    assert page.count('src="data:image/png;base64,') == 4
    assert "http://" not in page and "https://" not in page
    assert "measurement noise" in page and "60 s" in page
    sessions[-1] = replace(sessions[-1], gyro_scale=1.012)  # the last session's sensor was calibrated
    page = report.write_html(report.report_data(sessions, holds), sessions, tmp_path / "r.html").read_text()
    table = page.split('<table id="sessions">')[1].split("<tbody>")[1].split("</tbody>")[0]
    cells = [row.split("</td>")[-4].split(">")[-1] for row in table.split("</tr>")[:-1]]
    assert cells == ["no"] * (len(sessions) - 1) + ["+1.2 %"] and "Gyro calibrated" in page


@needs_chromium
def test_a_real_browser_renders_the_report(tmp_path):
    assert chromium() is not None, "Chromium is required here (IMUTRACK_REQUIRE_BROWSER is set)"
    sessions, holds = history()
    page = report.write_html(report.report_data(sessions, holds), sessions, tmp_path / "r.html")
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             f"--user-data-dir={tmp_path / 'profile'}", "--window-size=1000,2400", "--hide-scrollbars"]
    shot = tmp_path / "shot.png"
    subprocess.run([chromium(), *flags, f"--screenshot={shot}", page.as_uri()], check=True, timeout=120,
                   capture_output=True, stdin=subprocess.DEVNULL)
    dom = subprocess.run([chromium(), *flags, "--dump-dom", page.as_uri()], check=True, timeout=120,
                         capture_output=True, text=True, stdin=subprocess.DEVNULL).stdout
    table = dom.split('id="sessions"')[1].split("</table>")[0]
    assert dom.count("<img") == 4 and table.count("<tr>") == 1 + len(sessions)
    pixels = matplotlib.image.imread(shot)[..., :3]
    assert pixels.std() > 0.1  # not blank
    blue = np.all(np.abs(pixels - np.array([0x1F, 0x77, 0xB4]) / 255) < 0.03, axis=-1)
    red = np.all(np.abs(pixels - np.array([0xD6, 0x27, 0x28]) / 255) < 0.03, axis=-1)
    assert blue.sum() > 500 and red.sum() > 200  # the left/right figures were decoded and drawn


def test_cli_report_writes_what_is_asked(tmp_path, capsys):
    from imutrack.analysis import analyze
    from imutrack.recording import RecordingMeta, write_recording
    from imutrack.sources.simulator import SimulatorConfig, simulate

    session = simulate(SimulatorConfig(seed=4, reps_per_side=2, hold_s=20.0, sample_rate_hz=25.0,
                                       forced_probability=0.5))
    rec = write_recording(tmp_path / "s.csv", session.samples, RecordingMeta(start_time="2026-11-20T18:00:00+01:00"))
    forced = [h.forced for h in analyze(rec).holds]
    assert forced == [r.forced for r in session.truth.reps] and True in forced and False in forced
    db = tmp_path / "p.sqlite3"
    assert main(["analyze", str(rec), "--store", "--db", str(db)]) == 0
    assert main(["report", "--db", str(db), "--html", str(tmp_path / "r.html"), "--csv", str(tmp_path / "r.csv"),
                 "--pdf", str(tmp_path / "r.pdf"), "--png", str(tmp_path / "figs")]) == 0
    assert all((tmp_path / n).exists() for n in ("r.html", "r.csv", "r.pdf", "figs/rom.png"))
    with open(tmp_path / "r.csv", encoding="utf-8") as f:  # what was stored is what was measured
        assert [row["forced"] == "True" for row in csv.DictReader(f)] == forced
    assert main(["report", "--db", str(db), "--from", "2027-01-01", "--html", str(tmp_path / "x.html")]) == 1
    assert "nothing to report" in capsys.readouterr().err


def test_the_csv_of_holds_opens_as_data_in_a_spreadsheet(tmp_path):
    sessions, holds = history(device='=HYPERLINK("http://x","click")')  # a device name is user text
    path = report.write_csv(sessions, holds, tmp_path / "r.csv")
    with open(path, encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert {row["device"] for row in rows} == {"'=HYPERLINK(\"http://x\",\"click\")"}
    assert rows[0]["mean_lean_deg"] != "" and float(rows[0]["rom_deg"]) == 40.0  # numbers stay numbers


def test_a_pdf_stopped_halfway_leaves_no_half_file(tmp_path, monkeypatch):
    sessions, holds = history()
    data = report.report_data(sessions, holds)

    def stopped(data, figs, sessions, path, title, size_in):
        path.write_bytes(b"%PDF-1.4 half")
        raise KeyboardInterrupt  # Ctrl-C while the pages are written

    monkeypatch.setattr(report, "_write_pdf_pages", stopped)
    with pytest.raises(KeyboardInterrupt):
        report.write_pdf(data, sessions, tmp_path / "r.pdf")
    assert list(tmp_path.iterdir()) == []


def _store_of(days: int, per_day: int):
    sessions, holds, k = [], [], 0
    for d in range(days):
        day = (date(2024, 1, 1) + timedelta(days=d)).isoformat()
        for clock in ("08:00", "14:00", "19:00")[:per_day]:
            k += 1
            sessions.append(StoredSession(k, f"h{k}", f"{day}T{clock}:00+01:00", day, "morning", "sim", "assisted", "",
                                          300.0, 1, 1, 50.0 + 0.01 * d, 48.0, 2.0))
            holds += [(k, replace(HOLD, rom_deg=50.0)), (k, replace(HOLD, side="right", rom_deg=48.0))]
    return sessions, holds


@pytest.mark.parametrize(("days", "per_day"), [(1, 1), (7, 2), (1095, 3)])
def test_figures_read_well_for_one_day_or_three_years(days, per_day):
    import matplotlib.dates as mdates
    import matplotlib.pyplot as plt

    from imutrack.progress import MDC_DEG

    sessions, holds = _store_of(days, per_day)
    figs = report.figures(report.report_data(sessions, holds))
    try:
        for name, fig in figs.items():
            ax = fig.axes[-1]
            # dates, not "days since"
            assert isinstance(ax.xaxis.get_major_formatter(), mdates.ConciseDateFormatter), name
            lo, hi = ax.get_xlim()
            # a week at least, and every day in view
            assert hi - lo >= 7.0 and lo <= mdates.date2num(date(2024, 1, 1)) <= hi, name
        rom_lo, rom_hi = figs["rom"].axes[0].get_ylim()
        assert rom_hi - rom_lo >= 4 * MDC_DEG  # differences smaller than the noise do not fill the axis
        assert figs["holds"].axes[0].get_ylim()[0] == 0.0  # hold bars start at zero
        if days == 1:
            [bar] = figs["asymmetry"].axes[0].patches[:1]
            assert bar.get_width() == pytest.approx(0.8)  # a day's bar, not the axis' width
    finally:
        report.close(figs)
        plt.close("all")


def test_figures_without_data_say_so():
    import matplotlib.pyplot as plt

    sessions, holds = _store_of(1, 1)
    sessions = [replace(s, asymmetry_deg=None, best_rom_right_deg=None) for s in sessions]
    figs = report.figures(report.report_data(sessions, []))
    try:
        texts = {name: " ".join(t.get_text() for ax in fig.axes for t in ax.texts) for name, fig in figs.items()}
    finally:
        report.close(figs)
        plt.close("all")
    assert "not enough data yet" in texts["asymmetry"] and "not enough data yet" in texts["holds"]
    assert "trend: after sessions on at least two days" in texts["rom"]


def test_the_pdf_is_an_a4_document_whose_text_can_be_read_back(tmp_path):
    from pypdf import PdfReader

    from imutrack.plan import Plan

    sessions, holds = _store_of(30, 2)
    sessions = [replace(s, best_rom_left_deg=50.0 + 0.5 * k) for k, s in enumerate(sessions)]  # a real change
    sessions[-1] = replace(sessions[-1], notes="after the walk: $stiff$")
    plans = [Plan("2024-01-15", hold_s=30.0, parts=("morning", "afternoon"), note="shorter holds $x$ <b>")]
    data = report.report_data(sessions, holds, plans=plans, profile={"name": "Ana $O'Neil$", "patient_id": "P-17"})
    path = report.write_pdf(data, sessions, tmp_path / "r.pdf")
    reader = PdfReader(path)
    assert all(round(float(p.mediabox.width)) == 595 and round(float(p.mediabox.height)) == 842 for p in reader.pages)
    text = " ".join(" ".join(page.extract_text().split()) for page in reader.pages)
    words = report.report_text(data, sessions)
    assert "Ana $O'Neil$ · ID P-17 · period 2024-01-01 to 2024-01-30" in text  # user text as written, not mathtext
    for sentence in (*words.summary, *words.prescription):
        assert " ".join(sentence.split())[:60] in text, sentence
    assert "a real change (larger than the ±4° measurement noise)" in text
    assert "From 2024-01-15: 1 rep per side" not in text and "From 2024-01-15: 2 reps per side, holds of 30 s" in text
    assert "Sessions done as planned" in text and "What the numbers mean" in text and "Measurement noise (MDC)" in text
    assert "Weeks and form (newest first)" in text and text.index("2024-01-29") < text.index("2024-01-22")
    assert "Personal best left: 79.5° on 2024-01-30." in text and "Forced" in text
    assert "after the walk: $stiff$" in text  # notes as written
    _assert_headings_keep_with_what_follows(reader)


FIGURE_HEADINGS = {"Range of motion", "Holds", "Symmetry", "Adherence"}  # each followed by its figure, an image
TEXT_HEADINGS = {"Summary", "Prescription and what was done", "Weeks and form (newest first)",
                 "Sessions (newest first)", "What the numbers mean"}


def _assert_headings_keep_with_what_follows(reader) -> None:
    """Each figure's heading is on the page of its figure (as many figure headings as images drawn on every page:
    the pages share one resource list, so the images drawn are counted from the page's own content), and no other
    heading is a page's last line."""
    import re

    for k, page in enumerate(reader.pages):
        lines = [line.strip() for line in page.extract_text().strip().splitlines()]
        drawn = len(re.findall(rb"/I\d+ Do", page.get_contents().get_data()))
        assert sum(line in FIGURE_HEADINGS for line in lines) == drawn, (k, lines)
        assert lines[-1] not in TEXT_HEADINGS, (k, lines[-1])


@pytest.mark.parametrize("days", [1, 21, 60])
def test_no_section_heading_is_left_alone_at_the_foot_of_a_page(tmp_path, days):
    from pypdf import PdfReader

    sessions, holds = _store_of(days, 3)
    path = report.write_pdf(report.report_data(sessions, holds), sessions, tmp_path / "r.pdf")
    _assert_headings_keep_with_what_follows(PdfReader(path))


LAYOUT = """(() => {
  const blocks = [...document.body.children].filter((e) => e.getBoundingClientRect().height > 0);
  const boxes = blocks.map((e) => { const r = e.getBoundingClientRect();
    return {tag: e.tagName, top: r.top + scrollY, bottom: r.bottom + scrollY, left: r.left, right: r.right}; });
  const overlaps = [];
  for (let i = 1; i < boxes.length; i++) {
    if (boxes[i].top < boxes[i - 1].bottom - 0.5) overlaps.push([boxes[i - 1].tag, boxes[i].tag]);
  }
  const images = [...document.images].map((img) => img.complete && img.naturalWidth > 0);
  return {overlaps, wide: boxes.filter((b) => b.right > innerWidth + 0.5 || b.left < -0.5).map((b) => b.tag),
          images, scrollWidth: document.documentElement.scrollWidth, width: innerWidth};
})()"""


@needs_chromium
@pytest.mark.parametrize(("days", "per_day"), [(1, 1), (7, 2), (1095, 3)])
def test_the_html_report_lays_out_without_overlap_in_a_browser(tmp_path, days, per_day):
    import asyncio

    from tests.browser import Browser

    sessions, holds = _store_of(days, per_day)
    page_path = report.write_html(report.report_data(sessions, holds), sessions, tmp_path / "r.html")

    async def look():
        async with Browser() as browser:
            results = []
            for width in (1280, 420):  # a desk and a phone
                page = await browser.open(page_path.as_uri(), width=width, height=900)
                results.append(await page.evaluate(LAYOUT))
            return results

    for layout in asyncio.run(look()):
        assert layout["overlaps"] == [] and layout["wide"] == [], layout
        assert layout["scrollWidth"] <= layout["width"], layout  # nothing pushes the page sideways
        assert layout["images"] == [True] * 4


def test_form_per_week_from_hand_computed_holds():
    from imutrack.plan import Adherence

    sessions = [StoredSession(1, "h1", "2026-11-17T08:00:00+01:00", "2026-11-17", "morning", "sim", "assisted", "",
                              300.0, 1, 1, 50.0, 45.0, 5.0),
                StoredSession(2, "h2", "2026-11-10T08:00:00+01:00", "2026-11-10", "morning", "sim", "assisted", "",
                              300.0, 1, 0, 48.0, None, None)]
    holds = [(1, replace(HOLD, duration_s=60.0, slouch_fraction=0.5, forced=True, breath_rate_bpm=6.0, creep_deg=1.0)),
             (1, replace(HOLD, duration_s=40.0, slouch_fraction=0.0, forced=False, breath_rate_bpm=10.0,
                         creep_deg=3.0)),
             (2, replace(HOLD, duration_s=50.0, slouch_fraction=0.0, forced=False, breath_rate_bpm=float("nan"),
                         creep_deg=-1.0))]
    adherence = Adherence(per_day={"2026-11-17": (["morning"], ["morning", "evening"]),
                                   "2026-11-10": (["morning"], ["morning"])})
    rows = report.weekly_rows(sessions, holds, adherence)
    # 30 s of 100 s slouched; 1 of 2 forced; median of 6 and 10 breaths; median of +1 and +3° creep
    assert rows[0] == ["2026-11-16", "1 of 2", "50.0", "45.0", "30 %", "50 %", "8.0", "+2.0"]
    assert rows[1] == ["2026-11-09", "1 of 1", "48.0", "–", "0 %", "0 %", "–", "-1.0"]


def test_the_report_command_prints_on_letter_paper_too(tmp_path, capsys):
    from pypdf import PdfReader

    from imutrack.plan import Plan
    from imutrack.store import Store

    sessions, holds = _store_of(3, 2)
    db = tmp_path / "p.sqlite3"
    with Store(db) as store:
        store.add_plan(Plan("2024-01-01", hold_s=45.0))
    # the store's sessions come from analyses; the command is exercised on an empty period's error and on a real one
    assert main(["report", "--pdf", str(tmp_path / "r.pdf"), "--paper", "letter", "--db", str(db)]) == 1
    assert "nothing to report" in capsys.readouterr().err
    data = report.report_data(sessions, holds)
    path = report.write_pdf(data, sessions, tmp_path / "letter.pdf", paper="letter")
    assert {(round(float(p.mediabox.width)), round(float(p.mediabox.height))) for p in PdfReader(path).pages} == {
        (612, 792)}
