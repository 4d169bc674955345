"""The floor of the claim-and-submit benchmark: a bare Flask app with the same two routes
running the same SQL as workforce's claim and submit, through psycopg, without the ORM,
the schemas, the problem+json layer or the wellbeing gates.

It authenticates the bearer token the same way (one indexed look-up of its SHA-256), takes
the same locks (the project shared, the trainer's row, the membership, the live lease),
picks the next task with the same ``FOR UPDATE SKIP LOCKED`` query, takes the slot with
the same conditional UPDATE, and submits under the same row lock. It is what a
hand-written service would cost on this machine; workforce is measured against it.

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
    """One connection per (single-threaded, sync) gunicorn worker."""
    global _conn
    if _conn is None or _conn.closed:
        _conn = psycopg.connect(os.environ["BENCH_FLOOR_DATABASE"], autocommit=False)
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
    c = conn()
    try:
        with c.cursor() as cur:
            trainer_id = _trainer(cur)
            if trainer_id is None:
                c.rollback()
                return _problem(401, "invalid-token")
            project = cur.execute(
                "SELECT state, lease_seconds FROM projects WHERE id = %s FOR SHARE",
                [project_id]).fetchone()
            if project is None or project[0] != "active":
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
                    answer = _answer(cur, assignment_id, task_id, expires)
                    c.commit()
                    return answer, 200
            lease_until = now + timedelta(seconds=project[1])
            for _ in range(10):
                candidates = [row[0] for row in cur.execute(
                    """SELECT t.id FROM tasks t
                       WHERE t.project_id = %s AND t.open_slots > 0
                         AND NOT EXISTS (SELECT 1 FROM task_assignments a
                                         WHERE a.task_id = t.id AND a.trainer_id = %s)
                       ORDER BY t.priority DESC, t.created_at, t.id LIMIT 5
                       FOR UPDATE OF t SKIP LOCKED""", [project_id, trainer_id])]
                if not candidates:
                    break
                for task_id in candidates:
                    taken = cur.execute(
                        """UPDATE tasks SET open_slots = open_slots - 1
                           WHERE id = %s AND open_slots > 0""", [task_id]).rowcount
                    if not taken:
                        continue
                    assignment_id = uuid.uuid4()
                    cur.execute(
                        """INSERT INTO task_assignments (id, task_id, project_id, trainer_id,
                               state, claimed_at, lease_expires_at, auto_approved, revisions,
                               created_at, updated_at)
                           VALUES (%s, %s, %s, %s, 'leased', %s, %s, false, 0, %s, %s)""",
                        [assignment_id, task_id, project_id, trainer_id, now, lease_until,
                         now, now])
                    answer = _answer(cur, assignment_id, task_id, lease_until)
                    c.commit()
                    return answer, 201
            c.rollback()
            return _problem(409, "no-task-available")
    except BaseException:
        c.rollback()
        raise


def _answer(cur: psycopg.Cursor, assignment_id: uuid.UUID, task_id: uuid.UUID,
            expires: datetime):
    payload = cur.execute("SELECT payload FROM tasks WHERE id = %s", [task_id]).fetchone()[0]
    return jsonify({"id": str(assignment_id), "task_id": str(task_id), "payload": payload,
                    "lease_expires_at": expires.isoformat()})


@app.post("/floor/assignments/<uuid:assignment_id>/submit")
def submit(assignment_id: uuid.UUID):
    body = request.get_json()
    if not isinstance(body, dict) or body.get("answer") is None \
            or not isinstance(body.get("active_seconds"), int):
        return _problem(422, "validation-error")
    c = conn()
    try:
        with c.cursor() as cur:
            trainer_id = _trainer(cur)
            if trainer_id is None:
                c.rollback()
                return _problem(401, "invalid-token")
            row = cur.execute(
                """SELECT trainer_id, project_id, state, claimed_at, lease_expires_at
                   FROM task_assignments WHERE id = %s FOR UPDATE""",
                [assignment_id]).fetchone()
            if row is None or row[0] != trainer_id:
                c.rollback()
                return _problem(404, "not-found")
            now = datetime.now(UTC)
            if row[2] != "leased" or row[4] <= now:
                c.rollback()
                return _problem(409, "not-leased")
            rate = cur.execute(
                """SELECT id FROM project_rates WHERE project_id = %s AND effective_from <= %s
                   ORDER BY effective_from DESC, number DESC LIMIT 1""",
                [row[1], now]).fetchone()
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
