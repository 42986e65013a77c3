"""The audit trail as a hash chain: each entry's hash covers the entry and the hash of the one before it.

The database's triggers refuse UPDATE and DELETE on the trail, but anyone with the file can drop a trigger, rewrite
an entry and recreate it, or change `decisions` directly. The chain makes that visible: an entry changed, removed
or inserted breaks every hash after it, and a current decision that is not what the trail's last entry for its image
says is reported too. It is tamper evidence, not a signature (no secret key: someone who rewrites the whole chain
with this code can hide an edit); the data folder's permissions are what keeps others out.

Imports neither Qt nor torch.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, Select, select, update

from ran_desktop.engine.records.tables import audit, decisions

GENESIS = "0" * 64  # the "previous hash" of the first entry
# Quality assurance's entries: the grading that settles an image becomes its decision (an entry like any other); a
# second grading that disagrees goes to arbitration and leaves the decision as it was, so its entry decides nothing.
QA_ACTIONS = {"second": "second grading", "arbitration": "arbitration"}
SENT_TO_ARBITRATION = "second grading, sent to arbitration"
FIELDS = ("image_id", "image_key", "action", "previous", "new", "grader", "at")


def entry_hash(previous_hash: str, values: Sequence[object]) -> str:
    """The hash of one audit entry (`values` in FIELDS order) chained to the entry before it."""
    canonical = json.dumps([previous_hash, *values], ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def last_hash(db: Connection) -> str:
    value = db.execute(select(audit.c.entry_hash).order_by(audit.c.id.desc()).limit(1)).scalar()
    return GENESIS if value is None else str(value)


def _entries() -> Select[Any]:
    return select(audit.c.id, audit.c.entry_hash, *(audit.c[name] for name in FIELDS)).order_by(audit.c.id)


def chain_all(db: Connection) -> int:
    """Give every entry without a hash its place in the chain, in order (the upgrade to schema 5 adopts the trail
    as it stands then). Runs inside the caller's transaction; returns how many entries were chained."""
    previous = GENESIS
    done = 0
    for row in db.execute(_entries()).all():
        if row[1] is None:
            digest = entry_hash(previous, tuple(row[2:]))
            db.execute(update(audit).where(audit.c.id == row[0]).values(entry_hash=digest))
            done += 1
            previous = digest
        else:
            previous = row[1]
    return done


def verify(db: Connection, limit: int = 10) -> list[str]:
    """What is wrong with the trail, in words (at most `limit` findings); [] when the chain and the decisions hold."""
    problems: list[str] = []
    previous = GENESIS
    last_new: dict[int, str | None] = {}
    for row in db.execute(_entries()):
        entry_id, stored = row[0], row[1]
        expected = entry_hash(previous, tuple(row[2:]))
        if stored != expected:
            problems.append(f"audit entry {entry_id} ({row[4]} by {row[7]} at {row[8]}) does not match the chain: "
                            "it, or an entry before it, was changed, removed or inserted outside the app")
            if len(problems) >= limit:
                return problems
        previous = stored if stored is not None else expected
        if row[4] != SENT_TO_ARBITRATION:
            last_new[int(row[2])] = row[6]
    current = {int(r[0]): r for r in db.execute(select(
        decisions.c.image_id, decisions.c.dr_grade, decisions.c.dme_grade, decisions.c.kind, decisions.c.grader,
        decisions.c.decided_at))}
    for image_id in sorted(set(current) | set(last_new)):
        new_json = last_new.get(image_id)
        said = json.loads(new_json) if new_json else None
        stored = current.get(image_id)
        now = None if stored is None else {"dr_grade": stored[1], "dme_grade": stored[2], "kind": stored[3],
                                           "grader": stored[4], "decided_at": stored[5]}
        if said is not None:
            said = {k: said.get(k) for k in ("dr_grade", "dme_grade", "kind", "grader", "decided_at")}
        if now != said:
            problems.append(f"the decision on image {image_id} is not the one its audit trail ends with: it was "
                            "changed outside the app")
            if len(problems) >= limit:
                break
    return problems
