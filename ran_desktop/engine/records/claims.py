"""Claims: while a grader has an image open, their window holds a claim on it, so a second grader on another
workstation sees who is grading it and cannot save a decision over theirs.

A claim lasts CLAIM_SECONDS by the database server's clock (one clock for every workstation) and is renewed while the
image stays open; a window that crashes or loses its network leaves a claim that simply expires. Each window has
its own token, so the same grader in two windows is two claimants. Runs inside the caller's transaction.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Connection, delete, select
from sqlalchemy.dialects import postgresql, sqlite

from ran_desktop.engine.errors import StorageError
from ran_desktop.engine.records.connect import epoch_now
from ran_desktop.engine.records.tables import claims, images

CLAIM_SECONDS = 120.0
RENEW_SECONDS = 40.0  # how often an open image's claim is renewed: well inside CLAIM_SECONDS


@dataclass(frozen=True)
class Claim:
    image_id: int
    holder: str  # who holds it now, in words ("A. Grader on WS-3")
    mine: bool  # whether the token that asked holds it
    seconds_left: float


class ClaimedError(StorageError):
    """Another window holds a live claim on the image: nothing was saved."""

    def __init__(self, image_id: int, holder: str):
        self.image_id = image_id
        self.holder = holder
        super().__init__(f"{holder} is grading this image now; your decision was not saved. Choose another image, "
                         "or wait until they have finished.")


def take(db: Connection, image_id: int, token: str, holder: str, seconds: float) -> Claim:
    """Claim the image (or renew this token's claim) unless another token's claim is still live."""
    now = epoch_now()
    upsert = (sqlite.insert if db.dialect.name == "sqlite" else postgresql.insert)(claims).values(
        image_id=image_id, token=token, holder=holder, expires_at=now + seconds)
    db.execute(upsert.on_conflict_do_update(
        index_elements=[claims.c.image_id],
        set_={"token": upsert.excluded.token, "holder": upsert.excluded.holder,
              "expires_at": upsert.excluded.expires_at},
        where=(claims.c.token == token) | (claims.c.expires_at <= now),
    ))
    row = db.execute(select(claims.c.token, claims.c.holder, claims.c.expires_at - now)
                     .where(claims.c.image_id == image_id)).one()
    return Claim(image_id, row[1], row[0] == token, max(0.0, float(row[2])))


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
