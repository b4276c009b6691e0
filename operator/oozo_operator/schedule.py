"""How far apart the runs of a cron schedule can be (pure): what the stale-index alert compares
the age of the last successful build with. Only the shapes the CRD admits (five fields of
numbers, names, `*`, ranges, lists and steps, or an @-macro); the widest gap is found by walking
the minutes of two weeks, enough for every schedule but the monthly and yearly ones, which get
their calendar's widest gap."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from functools import lru_cache

MACROS = {"@hourly": "0 * * * *", "@daily": "0 0 * * *", "@weekly": "0 0 * * 0"}
LONG_MACROS = {"@monthly": 31 * 86400, "@yearly": 366 * 86400, "@annually": 366 * 86400}
MONTHS = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"]
DAYS = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"]
NAMES = {**{m: i for i, m in enumerate(MONTHS, 1)}, **{d: i for i, d in enumerate(DAYS)}}
BOUNDS = ((0, 59), (0, 23), (1, 31), (1, 12), (0, 7))
WINDOW_MINUTES = 14 * 24 * 60


def _values(field: str, low: int, high: int) -> set[int]:
    out: set[int] = set()
    for part in field.lower().split(","):
        body, _, step_text = part.partition("/")
        step = int(step_text) if step_text else 1
        if body in ("*", "?"):
            start, end = low, high
        elif "-" in body:
            a, b = body.split("-", 1)
            start, end = int(NAMES.get(a, a)), int(NAMES.get(b, b))
        else:
            start = int(NAMES.get(body, body))
            end = high if step_text else start
        if step < 1 or not low <= start <= end <= high:
            raise ValueError(f"cron field {field!r} is outside {low}-{high}")
        out.update(range(start, end + 1, step))
    return out


@lru_cache(maxsize=256)
def widest_gap_seconds(schedule: str) -> int:
    """The longest time between two runs of `schedule`; ValueError for what is not a schedule."""
    schedule = schedule.strip()
    if schedule.lower() in LONG_MACROS:
        return LONG_MACROS[schedule.lower()]
    fields = MACROS.get(schedule.lower(), schedule).split()
    if len(fields) != 5:
        raise ValueError(f"{schedule!r} is not a cron schedule of five fields")
    minute, hour, dom, month, dow = (_values(f, *b) for f, b in zip(fields, BOUNDS, strict=True))
    if 7 in dow:
        dow.add(0)  # 7 and 0 are both Sunday
    # cron's rule: when both day fields are restricted, a day matching either one runs
    either = fields[2] not in ("*", "?") and fields[4] not in ("*", "?")
    start = datetime(2025, 1, 1, tzinfo=UTC)  # any start: two weeks cover every weekly pattern
    runs = []
    for offset in range(WINDOW_MINUTES):
        t = start + timedelta(minutes=offset)
        weekday = (t.weekday() + 1) % 7
        day_ok = (t.day in dom or weekday in dow) if either else (t.day in dom and weekday in dow)
        if t.minute in minute and t.hour in hour and t.month in month and day_ok:
            runs.append(offset)
    if len(runs) < 2:
        return LONG_MACROS["@monthly"] if runs or dom != set(range(1, 32)) else LONG_MACROS["@yearly"]
    gaps = [b - a for a, b in itertools.pairwise(runs)]
    gaps.append(runs[0] + WINDOW_MINUTES - runs[-1])  # around the window, for periodic schedules
    return max(gaps) * 60
