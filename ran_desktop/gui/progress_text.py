"""Progress wording for a running batch: counts and a time-left estimate. Pure: no Qt."""

from __future__ import annotations

# Estimates from the first image or two mostly measure warm-up (first inference, caches): wait for more.
_MIN_DONE_FOR_ESTIMATE = 2


def seconds_left(done: int, total: int, elapsed: float) -> float | None:
    """Linear estimate of the time still needed; None until it means something."""
    if done < _MIN_DONE_FOR_ESTIMATE or total <= done or elapsed <= 0:
        return None if total > done else 0.0
    return elapsed / done * (total - done)


def duration_text(seconds: float) -> str:
    if seconds < 5:
        return "a few seconds"
    if seconds < 90:
        return f"{int(round(seconds / 5.0) * 5)} s"
    if seconds < 90 * 60:
        return f"{int(round(seconds / 60))} min"
    hours, minutes = divmod(int(round(seconds / 60)), 60)
    return f"{hours} h {minutes:02d} min"


def progress_text(done: int, total: int, left: float | None, queued: int = 0) -> str:
    text = f"Screening {done} of {total}"
    if left is not None and done < total:
        text += f", about {duration_text(left)} left"
    if queued:
        text += f" · {queued} more queued"
    return text
