"""Capacity and one open membership hold under real races between PostgreSQL
connections (skipped on SQLite): many acceptances, or many applications, at once."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tests.factories import (
    MemberFactory,
    ProjectFactory,
    StaffFactory,
    UserFactory,
    token_for,
)
from tests.races import bearer, race
from workforce.accounts.models import Organisation, Role
from workforce.projects.models import (
    MembershipOrigin,
    MembershipState,
    Project,
    ProjectMember,
)


def post_as(token: str, path: str, body: object = None) -> Callable[[FlaskClient], Any]:
    return lambda client: client.post(path, headers=bearer(token), json=body)


def outcomes(results: list) -> Counter:
    """Status codes, with the problem type of refusals: ``{200: 1, "capacity-reached": 9}``."""
    counted: Counter = Counter()
    for response in results:
        if response.status_code < 400:
            counted[response.status_code] += 1
        else:
            counted[response.get_json()["type"].rsplit(":", 1)[-1]] += 1
    return counted


def organisation_of(session: Session, project: Project) -> Organisation:
    return session.get_one(Organisation, project.organisation_id)


def active_members(session: Session, project_id: object) -> int:
    session.expire_all()
    return session.scalar(
        select(func.count()).select_from(ProjectMember).where(
            ProjectMember.project_id == project_id,
            ProjectMember.state == MembershipState.ACTIVE,
        )
    )


def test_invited_trainers_accepting_at_once_never_exceed_capacity(
    live_app: Flask, live_session: Session
) -> None:
    project = ProjectFactory(capacity=1)
    invitations = [
        MemberFactory(project=project, trainer=UserFactory(), state=MembershipState.INVITED,
                      origin=MembershipOrigin.INVITATION, joined_at=None)
        for _ in range(10)
    ]
    calls = [post_as(token_for(m.trainer), f"/api/v1/me/memberships/{m.id}/accept")
             for m in invitations]
    results = race(live_app, calls)
    assert outcomes(results) == {200: 1, "capacity-reached": 9}, [
        r.get_json() for r in results]
    assert active_members(live_session, project.id) == 1


def test_managers_accepting_applications_at_once_never_exceed_capacity(
    live_app: Flask, live_session: Session
) -> None:
    project = ProjectFactory(capacity=3)
    managers = [
        StaffFactory(role=Role.VENDOR_MANAGER, organisation=organisation_of(live_session, project))
        for _ in range(10)
    ]
    applications = [
        MemberFactory(project=project, trainer=UserFactory(), state=MembershipState.APPLIED,
                      joined_at=None)
        for _ in range(10)
    ]
    calls = [
        post_as(token_for(manager), f"/api/v1/projects/{project.id}/members/{a.id}/accept")
        for manager, a in zip(managers, applications, strict=True)
    ]
    results = race(live_app, calls)
    assert outcomes(results) == {200: 3, "capacity-reached": 7}, [
        r.get_json() for r in results]
    assert active_members(live_session, project.id) == 3


def test_one_application_accepted_by_many_managers_at_once(
    live_app: Flask, live_session: Session
) -> None:
    project = ProjectFactory(capacity=5)
    application = MemberFactory(project=project, trainer=UserFactory(),
                                state=MembershipState.APPLIED, joined_at=None)
    organisation = organisation_of(live_session, project)
    tokens = [token_for(StaffFactory(role=Role.ADMIN, organisation=organisation))
              for _ in range(8)]
    path = f"/api/v1/projects/{project.id}/members/{application.id}/accept"
    results = race(live_app, [post_as(token, path) for token in tokens])
    assert outcomes(results) == {200: 1, "illegal-transition": 7}
    assert active_members(live_session, project.id) == 1


def test_one_trainer_applying_many_times_at_once_gets_one_application(
    live_app: Flask, live_session: Session
) -> None:
    project = ProjectFactory()
    trainer = UserFactory()
    token = token_for(trainer)
    path = f"/api/v1/marketplace/projects/{project.id}/applications"
    results = race(live_app, [post_as(token, path, {"message": "me"}) for _ in range(8)])
    assert outcomes(results) == {201: 1, "membership-open": 7}
    live_session.expire_all()
    assert live_session.scalar(
        select(func.count()).select_from(ProjectMember).where(
            ProjectMember.project_id == project.id)
    ) == 1


def test_invitations_and_applications_accepted_at_once_against_a_capacity_of_one(
    live_app: Flask, live_session: Session
) -> None:
    """Both ways into a project at the same moment, for its one place: invited trainers
    accepting and managers accepting applications. One gets in; every other answer is a
    refusal naming the capacity, and no membership is left half made."""
    project = ProjectFactory(capacity=1)
    organisation = organisation_of(live_session, project)
    invited = [
        MemberFactory(project=project, trainer=UserFactory(), state=MembershipState.INVITED,
                      origin=MembershipOrigin.INVITATION, joined_at=None)
        for _ in range(6)
    ]
    applied = [
        MemberFactory(project=project, trainer=UserFactory(), state=MembershipState.APPLIED,
                      joined_at=None)
        for _ in range(6)
    ]
    managers = [StaffFactory(role=Role.VENDOR_MANAGER, organisation=organisation)
                for _ in applied]
    calls = [post_as(token_for(m.trainer), f"/api/v1/me/memberships/{m.id}/accept")
             for m in invited]
    calls += [post_as(token_for(manager), f"/api/v1/projects/{project.id}/members/{a.id}/accept")
              for manager, a in zip(managers, applied, strict=True)]
    results = race(live_app, calls)
    assert outcomes(results) == {200: 1, "capacity-reached": 11}, [
        r.get_json() for r in results]
    assert active_members(live_session, project.id) == 1
    live_session.expire_all()
    states = Counter(live_session.scalars(select(ProjectMember.state).where(
        ProjectMember.project_id == project.id)))
    # The others keep waiting where they were: nothing lost, nothing half accepted.
    assert states == {MembershipState.ACTIVE: 1, MembershipState.INVITED: 5,
                      MembershipState.APPLIED: 6} or states == {
        MembershipState.ACTIVE: 1, MembershipState.INVITED: 6, MembershipState.APPLIED: 5}
