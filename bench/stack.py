"""The second floor of the claim-and-submit benchmark, ``stack``: workforce's own Flask
app (its limiter, its token check and request session, its request log) with two more
routes that run the floor's SQL (``bench.floor``, workforce's claim and submit SQL)
through psycopg and answer with hand-built JSON. Beside workforce it measures what the
claim and submit services (the ORM, the schemas, the rules' code) cost on top of the
stack every request pays.

Served by gunicorn as ``bench.stack:app`` with the floor's environment
(``BENCH_FLOOR_DATABASE``) and workforce's.
"""

from __future__ import annotations

import uuid

from flask import Blueprint, g

from bench import floor
from workforce.accounts.models import Role
from workforce.api.security import Policy, authorize
from workforce.app import create_app

TRAINERS = Policy(frozenset({Role.TRAINER}))
blueprint = Blueprint("stack", __name__)


@blueprint.post("/stack/projects/<uuid:project_id>/claims")
def claim(project_id: uuid.UUID):
    authorize(TRAINERS)
    return floor.claim_as(g.user_id, project_id)


@blueprint.post("/stack/assignments/<uuid:assignment_id>/submit")
def submit(assignment_id: uuid.UUID):
    authorize(TRAINERS)
    return floor.submit_as(g.user_id, assignment_id)


app = create_app()
app.register_blueprint(blueprint)
