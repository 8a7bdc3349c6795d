"""`hall attendance evaluate`: CSV files in, JSON out; malformed rows named by line."""

import json

import pytest

from tests.helpers.attendance import run_cli


def write(path, text):
    path.write_text(text, encoding="utf-8")
    return path


def evaluate(capsys, *argv):
    code = run_cli(["attendance", "evaluate", "--json", *map(str, argv)])
    out, err = capsys.readouterr()
    return code, (json.loads(out) if code == 0 else None), err


def test_the_example_from_the_issue(tmp_path, capsys):
    p = write(tmp_path / "p.csv", "staff,time\n"
              "s023,2026-11-30 09:07:00\ns023,2026-11-30T11:45:00+08:00\ns023,2026-11-30 12:59:10\n"
              "s023,2026-11-30 12:59:40\ns023,2026-11-30T09:20:00Z\n")
    code, days, _ = evaluate(capsys, "--punches", p)
    assert code == 0
    assert days == [{
        "staff": "s023", "date": "2026-11-30", "workday": True, "status": "abnormal",
        "slots": {"am_in": {"status": "late", "at": "09:07:00", "minutes": 7},
                  "am_out": {"status": "ok", "at": "11:45:00", "minutes": 0},
                  "pm_in": {"status": "ok", "at": "12:59:10", "minutes": 0},
                  "pm_out": {"status": "ok", "at": "17:20:00", "minutes": 0}},
        "overtime": []}]


def test_people_and_dates_default_to_the_files(tmp_path, capsys):
    p = write(tmp_path / "p.csv", "staff,time\ns002,2026-11-27 08:59:00\ns001,2026-11-30 17:00:00\n")
    lv = write(tmp_path / "l.csv", "staff,start,end,kind\ns003,2026-11-30,2026-11-30,请假\n")
    code, days, _ = evaluate(capsys, "--punches", p, "--leave", lv)
    assert code == 0
    assert [(d["staff"], d["date"], d["status"]) for d in days] == [
        ("s001", "2026-11-27", "absent"), ("s001", "2026-11-28", "rest"), ("s001", "2026-11-29", "rest"),
        ("s001", "2026-11-30", "abnormal"),
        ("s002", "2026-11-27", "abnormal"), ("s002", "2026-11-28", "rest"), ("s002", "2026-11-29", "rest"),
        ("s002", "2026-11-30", "absent"),
        ("s003", "2026-11-27", "absent"), ("s003", "2026-11-28", "rest"), ("s003", "2026-11-29", "rest"),
        ("s003", "2026-11-30", "leave")]
    rest = days[1]
    assert rest["slots"] is None and rest["workday"] is False


def test_staff_file_and_date_range(tmp_path, capsys):
    p = write(tmp_path / "p.csv", "staff,time\ns001,2026-11-30 08:59:00\ns999,2026-11-30 08:59:00\n")
    s = write(tmp_path / "s.csv", "staff,name,window\ns001,武轩博,1\ns002,熊然,1\n")
    code, days, err = evaluate(capsys, "--punches", p, "--staff", s, "--from", "2026-11-29", "--to", "2026-11-30")
    assert code == 0
    assert [(d["staff"], d["date"]) for d in days] == [
        ("s001", "2026-11-29"), ("s001", "2026-11-30"), ("s002", "2026-11-29"), ("s002", "2026-11-30")]
    assert "s999" in err


def test_rest_day_overtime_and_english_leave_kinds(tmp_path, capsys):
    p = write(tmp_path / "p.csv", "staff,time\ns001,2026-10-01 10:00:00\ns001,2026-10-01 10:00:30\n")
    lv = write(tmp_path / "l.csv", "staff,start,end,kind\ns001,2026-10-08 00:00,2026-10-08 23:59,business\n"
               "s001,2026-10-09 08:00:00,2026-10-09T12:00:00+08:00,in_lieu\n")
    code, days, _ = evaluate(capsys, "--punches", p, "--leave", lv, "--to", "2026-10-09")
    assert code == 0
    by_date = {d["date"]: d for d in days}
    assert by_date["2026-10-01"]["status"] == "rest" and by_date["2026-10-01"]["overtime"] == ["10:00:00"]
    assert by_date["2026-10-08"]["status"] == "leave"
    assert by_date["2026-10-09"]["status"] == "absent"


def test_a_2027_date_warns_on_stderr(tmp_path, capsys):
    p = write(tmp_path / "p.csv", "staff,time\ns001,2027-01-04 08:59:00\n")
    code, days, err = evaluate(capsys, "--punches", p)
    assert code == 0 and days[0]["workday"] is True
    assert "2027" in err and "warning" in err


def test_a_config_file_changes_the_schedule(tmp_path, capsys):
    from hall.settings import DEFAULT_HALL

    text = DEFAULT_HALL.read_text(encoding="utf-8").replace('am_in = "09:00"', 'am_in = "08:30"')
    for name in ("catalogue.json", "staff.csv"):
        (tmp_path / name).write_bytes((DEFAULT_HALL.parent / name).read_bytes())
    config = write(tmp_path / "hall.toml", text)
    p = write(tmp_path / "p.csv", "staff,time\ns001,2026-11-30 08:45:00\n")
    code, days, _ = evaluate(capsys, "--punches", p, "--config", config)
    assert days[0]["slots"]["am_in"] == {"status": "late", "at": "08:45:00", "minutes": 15}


def test_table_output_without_json(tmp_path, capsys):
    p = write(tmp_path / "p.csv", "staff,time\ns001,2026-11-30 09:07:00\n")
    assert run_cli(["attendance", "evaluate", "--punches", str(p)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("s001\t2026-11-30\tabnormal\tam_in:late(7)")


# ---------------------------------------------------------------- malformed rows

@pytest.mark.parametrize(("text", "expected"), [
    ("staff,time\ns001,2026-11-30 09:00:00\ns001,yesterday\n", "line 3: time: got 'yesterday'"),
    ("staff,time\ns001,2026-11-30 09:00:00\n,2026-11-30 09:00:00\n", "line 3: staff: empty"),
    ("staff,time\ns001,2026-11-30 09:00:00,extra\n", "line 2: 3 columns, expected 2"),
    ("staff,time\ns001,2026-13-30 09:00:00\n", "line 2: time: got '2026-13-30 09:00:00'"),
    ("staff,when\ns001,2026-11-30 09:00:00\n", "line 1: header must name the columns staff,time; missing time"),
    ("", "line 1: empty file"),
])
def test_malformed_punch_rows_name_the_line(tmp_path, capsys, text, expected):
    p = write(tmp_path / "p.csv", text)
    code, _, err = evaluate(capsys, "--punches", p)
    assert code != 0
    assert f"{p}: {expected}" in err


def test_every_bad_row_is_reported_at_once(tmp_path, capsys):
    p = write(tmp_path / "p.csv", "staff,time\ns001,x\ns001,2026-11-30 09:00\ns002,y\n")
    lv = write(tmp_path / "l.csv", "staff,start,end,kind\ns001,2026-11-30 12:00,2026-11-30 08:00,请假\n"
               "s001,2026-11-30 08:00,2026-11-30 12:00,vacation\ns001,soon,2026-11-30 12:00,公出\n")
    code, _, err = evaluate(capsys, "--punches", p, "--leave", lv)
    assert code != 0
    assert "p.csv: line 2: time" in err and "p.csv: line 4: time" in err
    assert "l.csv: line 2: end: '2026-11-30 08:00' comes before start" in err
    assert "l.csv: line 3: kind: got 'vacation', expected 请假, 公出 or 调休" in err
    assert "l.csv: line 4: start: got 'soon'" in err
    assert err.count("error") == 5


def test_missing_file(tmp_path, capsys):
    code, _, err = evaluate(capsys, "--punches", tmp_path / "none.csv")
    assert code != 0 and "none.csv: file not found" in err


def test_bad_staff_file(tmp_path, capsys):
    p = write(tmp_path / "p.csv", "staff,time\ns001,2026-11-30 09:00:00\n")
    s = write(tmp_path / "s.csv", "staff,name,window\ns001,A,1\ns001,B,1\n")
    code, _, err = evaluate(capsys, "--punches", p, "--staff", s)
    assert code != 0 and "line 3" in err and "duplicate" in err
