"""The floor of the claim-and-submit benchmark: a bare Flask app with the same two routes
running the same SQL as workforce's claim and submit, through psycopg, without the ORM,
the schemas, the problem+json layer or the wellbeing gates.

It authenticates the bearer token the same way (one indexed look-up of its SHA-256),
reads and locks the same rows in the same order (the project shared, with its current
guidelines, its rate in force and whether a task is sensitive on its own; the trainer's
row; the membership; the live lease), picks the next task with the same ``FOR UPDATE
SKIP LOCKED`` query (hidden and sensitive tasks left out), takes the slot with the same
conditional UPDATE returning the task, inserts the lease with the same ``ON CONFLICT DO
NOTHING``, and submits under the same row lock, read with the task, the project and the
rates in force at the claim and now (paying the higher). It is what a hand-written
service would cost on this machine; workforce is measured against it.

Served by gunicorn as ``bench.floor:app`` with the same number of workers as workforce.
"""

from __future__ import annotations

import hashlib
import json
import os
import uuid
from datetime import UTC, datetime, timedelta

import psycopg
from flask import Flask, jsonify, request
from psycopg.types.json import Jsonb

app = Flask("floor")
_conn: psycopg.Connection | None = None


def conn() -> psycopg.Connection:
    """One connection per (single-threaded, sync) gunicorn worker; behind PgBouncer
    (``BENCH_FLOOR_POOLER=pgbouncer``) without server-side prepared statements, as
    workforce's ``?pooler=pgbouncer``."""
    global _conn
    if _conn is None or _conn.closed:
        _conn = psycopg.connect(os.environ["BENCH_FLOOR_DATABASE"], autocommit=False)
        if os.environ.get("BENCH_FLOOR_POOLER"):
            _conn.prepare_threshold = None
    return _conn


def _trainer(cur: psycopg.Cursor) -> uuid.UUID | None:
    raw = request.headers.get("Authorization", "").removeprefix("Bearer ")
    row = cur.execute(
        """SELECT u.id FROM api_tokens t JOIN users u ON u.id = t.user_id
           WHERE t.token_hash = %s AND t.revoked_at IS NULL AND t.expires_at > now()
             AND u.is_active AND u.role = 'trainer'""",
        [hashlib.sha256(raw.encode()).hexdigest()],
    ).fetchone()
    return row[0] if row else None


def _problem(status: int, code: str):
    return jsonify({"type": f"urn:workforce:problem:{code}", "status": status}), status


@app.post("/floor/projects/<uuid:project_id>/claims")
def claim(project_id: uuid.UUID):
    return claim_as(None, project_id)


def claim_as(trainer_id: uuid.UUID | None, project_id: uuid.UUID):
    """The claim's SQL and answer; ``trainer_id`` None: read from the token first."""
    c = conn()
    try:
        with c.cursor() as cur:
            trainer_id = trainer_id or _trainer(cur)
            if trainer_id is None:
                c.rollback()
                return _problem(401, "invalid-token")
            # The project with whether a task is sensitive on its own and the current
            # guidelines (for the answer), share-locked, as workforce reads it.
            project = cur.execute(
                """SELECT p.state, p.lease_seconds, p.sensitivity,
                          EXISTS (SELECT 1 FROM tasks s WHERE s.project_id = p.id
                                  AND s.open_slots > 0
                                  AND s.sensitivity IN ('sensitive', 'graphic')),
                          g.body, r.amount
                   FROM projects p
                   LEFT JOIN project_guidelines g ON g.project_id = p.id AND g.number = (
                       SELECT max(number) FROM project_guidelines
                       WHERE project_id = p.id)
                   LEFT JOIN project_rates r ON r.id = (
                       SELECT id FROM project_rates WHERE project_id = p.id
                         AND effective_from <= %s
                       ORDER BY effective_from DESC, number DESC LIMIT 1)
                   WHERE p.id = %s FOR SHARE OF p""",
                [datetime.now(UTC), project_id]).fetchone()
            # The floor knows no wellbeing gate: it serves plain projects only (the
            # benchmark's claim projects are plain, as workforce's gate-free path).
            if project is None or project[0] != "active" or project[2] != "none" \
                    or project[3]:
                c.rollback()
                return _problem(409, "project-not-active")
            cur.execute("SELECT id FROM users WHERE id = %s FOR UPDATE", [trainer_id])
            member = cur.execute(
                """SELECT id FROM project_members WHERE project_id = %s AND trainer_id = %s
                   AND state = 'active' FOR UPDATE""", [project_id, trainer_id]).fetchone()
            if member is None:
                c.rollback()
                return _problem(403, "not-staffed")
            now = datetime.now(UTC)
            held = cur.execute(
                """SELECT id, task_id, lease_expires_at FROM task_assignments
                   WHERE trainer_id = %s AND project_id = %s AND state = 'leased'
                   FOR UPDATE""", [trainer_id, project_id]).fetchall()
            for assignment_id, task_id, expires in held:
                if expires > now:
                    payload = cur.execute("SELECT payload FROM tasks WHERE id = %s",
                                          [task_id]).fetchone()[0]
                    c.commit()
                    return _answer(assignment_id, task_id, payload, expires), 200
            lease_until = now + timedelta(seconds=project[1])
            for _ in range(10):
                candidates = [row[0] for row in cur.execute(
                    """SELECT t.id FROM tasks t
                       WHERE t.project_id = %s AND t.open_slots > 0
                         AND NOT EXISTS (SELECT 1 FROM task_assignments a
                                         WHERE a.task_id = t.id AND a.trainer_id = %s)
                         AND NOT EXISTS (SELECT 1 FROM content_flags f
                                         WHERE f.task_id = t.id AND f.severity = 'high'
                                           AND f.state IN ('open', 'escalated'))
                         AND (t.sensitivity IS NULL
                              OR t.sensitivity NOT IN ('sensitive', 'graphic'))
                       ORDER BY t.priority DESC, t.created_at, t.id LIMIT 5
                       FOR UPDATE OF t SKIP LOCKED""", [project_id, trainer_id])]
                if not candidates:
                    break
                for task_id in candidates:
                    task = cur.execute(
                        """UPDATE tasks SET open_slots = open_slots - 1, updated_at = %s
                           WHERE id = %s AND open_slots > 0 RETURNING payload, *""",
                        [now, task_id]).fetchone()
                    if task is None:
                        continue
                    assignment_id = uuid.uuid4()
                    inserted = cur.execute(
                        """INSERT INTO task_assignments (id, task_id, project_id, trainer_id,
                               state, claimed_at, revealed_at, lease_expires_at,
                               auto_approved, revisions, created_at, updated_at)
                           VALUES (%s, %s, %s, %s, 'leased', %s, %s, %s, false, 0, %s, %s)
                           ON CONFLICT (task_id, trainer_id) DO NOTHING RETURNING *""",
                        [assignment_id, task_id, project_id, trainer_id, now, now,
                         lease_until, now, now]).fetchone()
                    if inserted is None:
                        continue
                    c.commit()
                    return _answer(assignment_id, task_id, task[0], lease_until), 201
            c.rollback()
            return _problem(409, "no-task-available")
    except BaseException:
        c.rollback()
        raise


def _answer(assignment_id: uuid.UUID, task_id: uuid.UUID, payload: dict,
            expires: datetime):
    return jsonify({"id": str(assignment_id), "task_id": str(task_id), "payload": payload,
                    "lease_expires_at": expires.isoformat()})


@app.post("/floor/assignments/<uuid:assignment_id>/submit")
def submit(assignment_id: uuid.UUID):
    return submit_as(None, assignment_id)


def submit_as(trainer_id: uuid.UUID | None, assignment_id: uuid.UUID):
    """The submit's SQL and answer; ``trainer_id`` None: read from the token first."""
    body = request.get_json()
    if not isinstance(body, dict) or body.get("answer") is None \
            or not isinstance(body.get("active_seconds"), int):
        return _problem(422, "validation-error")
    c = conn()
    try:
        with c.cursor() as cur:
            trainer_id = trainer_id or _trainer(cur)
            if trainer_id is None:
                c.rollback()
                return _problem(401, "invalid-token")
            now = datetime.now(UTC)
            # The assignment with its task, its project and the rates in force at the
            # claim and now (it pays the higher), locked, as workforce reads it.
            row = cur.execute(
                """SELECT a.trainer_id, a.project_id, a.state, a.revealed_at,
                          a.lease_expires_at, r.id, t.payload, p.review_sample_percent,
                          c.id, c.amount, r.amount
                   FROM task_assignments a
                   JOIN tasks t ON t.id = a.task_id
                   JOIN projects p ON p.id = a.project_id
                   LEFT JOIN project_rates c ON c.id = (
                       SELECT id FROM project_rates WHERE project_id = a.project_id
                         AND effective_from <= a.claimed_at
                       ORDER BY effective_from DESC, number DESC LIMIT 1)
                   LEFT JOIN project_rates r ON r.id = (
                       SELECT id FROM project_rates WHERE project_id = a.project_id
                         AND effective_from <= %s
                       ORDER BY effective_from DESC, number DESC LIMIT 1)
                   WHERE a.id = %s FOR UPDATE OF a""",
                [now, assignment_id]).fetchone()
            if row is None or row[0] != trainer_id:
                c.rollback()
                return _problem(404, "not-found")
            if row[2] != "leased" or row[4] <= now or row[3] is None:
                c.rollback()
                return _problem(409, "not-leased")
            higher_at_claim = None not in (row[9], row[10]) and row[9] > row[10]
            rate = row[8:9] if higher_at_claim else row[5:6]
            worked = min(body["active_seconds"], int((now - row[3]).total_seconds()))
            cur.execute(
                """UPDATE task_assignments SET state = 'submitted', answer = %s,
                       active_seconds = %s, submitted_at = %s, rate_id = %s, sampled = true,
                       updated_at = %s
                   WHERE id = %s""",
                [Jsonb(body["answer"]), max(worked, 0), now, rate[0], now, assignment_id])
            c.commit()
            return jsonify({"id": str(assignment_id), "state": "submitted",
                            "answer": json.loads(json.dumps(body["answer"]))})
    except BaseException:
        c.rollback()
        raise


@app.get("/floor/health")
def health():
    return jsonify({"status": "ok"})
