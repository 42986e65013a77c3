"""Claims: while a grader has an image open, their window holds a claim on it, so a second grader on another
workstation sees who is grading it and cannot save a decision over theirs.

A claim lasts CLAIM_SECONDS by the database server's clock (one clock for every workstation) and is renewed while the
image stays open; a window that crashes or loses its network leaves a claim that simply expires. Each window has
its own token, so the same grader in two windows is two claimants. Runs inside the caller's transaction.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Connection, delete, insert, select, update

from ran_desktop.engine.records.conflicts import CLAIM_SECONDS as CLAIM_SECONDS
from ran_desktop.engine.records.conflicts import ClaimedError
from ran_desktop.engine.records.connect import epoch_now
from ran_desktop.engine.records.tables import claims, images


@dataclass(frozen=True)
class Claim:
    image_id: int
    holder: str  # who holds it now, in words ("A. Grader on WS-3")
    mine: bool  # whether the token that asked holds it
    seconds_left: float


def take(db: Connection, image_id: int, token: str, holder: str, seconds: float) -> Claim:
    """Claim the image (or renew this token's claim) unless another token's claim is still live. The caller holds
    the write lock (Storage), so reading and writing the row cannot interleave with another claimant's."""
    now = db.execute(select(epoch_now())).scalar_one()
    row = db.execute(select(claims.c.token, claims.c.holder, claims.c.expires_at)
                     .where(claims.c.image_id == image_id)).first()
    if row is not None and row[0] != token and row[2] > now:
        return Claim(image_id, row[1], False, float(row[2] - now))
    values = {"token": token, "holder": holder, "expires_at": now + seconds}
    if row is None:
        db.execute(insert(claims).values(image_id=image_id, **values))
    else:
        db.execute(update(claims).where(claims.c.image_id == image_id).values(**values))
    return Claim(image_id, holder, True, seconds)


def release(db: Connection, image_id: int, token: str) -> None:
    db.execute(delete(claims).where(claims.c.image_id == image_id, claims.c.token == token))


def check_not_taken(db: Connection, image_id: int, token: str) -> None:
    """Raise ClaimedError when another token holds a live claim on the image."""
    row = db.execute(select(claims.c.holder).where(claims.c.image_id == image_id, claims.c.token != token,
                                                   claims.c.expires_at > epoch_now())).first()
    if row is not None:
        raise ClaimedError(image_id, row[0])


def held_by_others(db: Connection, session_id: int, token: str) -> dict[int, str]:
    query = (select(claims.c.image_id, claims.c.holder).select_from(claims.join(images))
             .where(images.c.session_id == session_id, claims.c.token != token, claims.c.expires_at > epoch_now()))
    return {int(r[0]): r[1] for r in db.execute(query)}
