"""Staffing through the API: the trainers' marketplace and eligibility, applications,
invitations, acceptance within capacity, declines, removal and leaving, candidates."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tests.client import ApiClient, assert_problem
from tests.factories import (
    MemberFactory,
    ProjectFactory,
    QualificationFactory,
    StaffFactory,
    TaskFactory,
    UserFactory,
    grant,
    staff,
)
from workforce import clock
from workforce.accounts.models import AuditEvent, Role, User
from workforce.assessments.models import QualificationStatus
from workforce.notifications.models import Notification
from workforce.pagination import encode_cursor
from workforce.projects.eligibility import locale_matches
from workforce.projects.models import (
    Assignment,
    AssignmentState,
    EntryEndReason,
    EntrySource,
    MembershipOrigin,
    MembershipState,
    Project,
    ProjectMember,
    ProjectRate,
    ProjectRequirement,
    ProjectState,
    Sensitivity,
    TimeEntry,
    Timesheet,
)

MARKET = "/api/v1/marketplace/projects"
MINE = "/api/v1/me/memberships"


@pytest.fixture
def manager() -> User:
    return StaffFactory(role=Role.VENDOR_MANAGER)


def require(session: Session, project: Project, qualification: object, *,
            min_score: int = 0, locale: str | None = None) -> None:
    session.add(ProjectRequirement(project_id=project.id, qualification_id=qualification.id,
                                   min_score_percent=min_score, locale=locale))
    session.commit()
    session.refresh(project, ["requirements"])


def gated_project(session: Session, manager: User, **kwargs: object) -> tuple[Project, object]:
    """An active project that needs one qualification at 70% and HK Cantonese."""
    project = ProjectFactory(manager=manager, **kwargs)
    qualification = QualificationFactory(organisation=manager.organisation)
    require(session, project, qualification, min_score=70, locale="yue-HK")
    return project, qualification


def qualified(qualification: object, **kwargs: object) -> User:
    trainer = UserFactory(**kwargs)
    grant(trainer, qualification, score="85")
    return trainer


def market_ids(client: ApiClient, trainer: User, **query: object) -> list[str]:
    response = client.get(MARKET, as_user=trainer, query_string=query)
    assert response.status_code == 200, response.get_json()
    return [p["id"] for p in response.get_json()["items"]]


def membership(session: Session, project: Project, trainer: User) -> ProjectMember:
    return session.scalars(
        select(ProjectMember).where(ProjectMember.project_id == project.id,
                                    ProjectMember.trainer_id == trainer.id)
        .order_by(ProjectMember.created_at.desc())
    ).first()


def notices(session: Session, user: User) -> list[Notification]:
    return list(session.scalars(
        select(Notification).where(Notification.user_id == user.id)
        .order_by(Notification.created_at, Notification.id)
    ))


def member_audit(session: Session) -> list[str]:
    return list(session.scalars(
        select(AuditEvent.action).where(AuditEvent.object_type == "project_member")
        .order_by(AuditEvent.created_at, AuditEvent.id)
    ))


# --- locales -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("required", "spoken", "match"),
    [
        ("yue-HK", "yue-HK", True),
        ("yue-HK", "yue-Hant-HK", True),
        ("yue-HK", "zh-yue-HK", True),
        ("yue-HK", "yue", False),
        ("yue-HK", "yue-CN", False),
        ("yue-HK", "zh-HK", False),
        ("yue", "yue-CN", True),
        ("zh-Hant", "zh-TW", True),
        ("zh-Hant", "zh-Hant-HK", True),
        ("zh-Hant", "zh-CN", False),
        ("en", "en-GB", True),
        ("en-GB", "en", False),
        ("en-GB", "en-Latn-GB", True),
    ],
)
def test_locale_rule(required: str, spoken: str, match: bool) -> None:
    assert locale_matches(required, spoken) is match


@given(
    language=st.sampled_from(["en", "yue", "zh", "fr", "de", "es", "pt"]),
    territory=st.sampled_from(["", "HK", "GB", "US", "CN", "TW", "BR", "FR"]),
)
def test_a_tag_meets_itself_and_its_bare_language(language: str, territory: str) -> None:
    tag = f"{language}-{territory}" if territory else language
    assert locale_matches(tag, tag)
    assert locale_matches(language, tag)


# --- the marketplace -----------------------------------------------------------------


def test_the_marketplace_shows_what_a_trainer_needs_to_decide(
    client: ApiClient, session: Session, manager: User
) -> None:
    project = ProjectFactory(
        manager=manager, capacity=4, sensitivity=Sensitivity.GRAPHIC,
        content_categories=["violence"], auto_approve_days=5, review_sample_percent=20,
    )
    staff(project, UserFactory())
    hourly = ProjectFactory(manager=manager, pay_model="hourly", estimated_task_seconds=None,
                            daily_cap_minutes=240, weekly_cap_minutes=900, rate=2200)
    trainer = UserFactory()

    items = {p["id"]: p for p in client.get(MARKET, as_user=trainer).get_json()["items"]}
    shown = items[str(project.id)]
    assert shown["pay_model"] == "per_task"
    assert shown["current_rate"]["amount"] == 200 and shown["current_rate"]["currency"] == "USD"
    assert shown["estimated_hourly_rate"] == {"amount": 2400, "currency": "USD"}
    assert shown["content_warning"] == {"sensitivity": "graphic",
                                        "content_categories": ["violence"]}
    assert shown["review_policy"] == {"auto_approve_days": 5, "review_sample_percent": 20}
    assert shown["guidelines"]["number"] == 1 and shown["guidelines"]["changed_at"]
    assert (shown["capacity"], shown["places_left"]) == (4, 3)
    # Not yet: the graphic content needs the age attestation and consent first.
    assert shown["membership"] is None and shown["eligible"] is False
    assert [(u["code"], u["categories"]) for u in shown["unmet"]] == [
        ("age-attestation", []), ("consent", ["violence"])]
    assert shown["organisation"]["id"] == str(manager.organisation_id)
    assert "gold_answer" not in str(shown)

    hourly_shown = items[str(hourly.id)]
    assert hourly_shown["estimated_hourly_rate"] is None
    assert (hourly_shown["daily_cap_minutes"], hourly_shown["weekly_cap_minutes"]) == (240, 900)
    assert hourly_shown["current_rate"]["amount"] == 2200

    detail = client.get(f"{MARKET}/{project.id}", as_user=trainer).get_json()
    assert detail == shown


def test_eligibility_decides_what_a_trainer_sees(
    client: ApiClient, session: Session, manager: User
) -> None:
    project, qualification = gated_project(session, manager)
    open_to_all = ProjectFactory(manager=manager)
    cases = {
        "good": (UserFactory(), dict(score="85")),
        "manual-no-score": (UserFactory(), dict(score=None)),
        "hant": (UserFactory(languages=["yue-Hant-HK"]), dict(score="70")),
        "low-score": (UserFactory(), dict(score="69.99")),
        "expired": (UserFactory(), dict(expires_at=clock.now() - timedelta(minutes=1))),
        "revoked": (UserFactory(), dict(status=QualificationStatus.REVOKED)),
        "failed": (UserFactory(), dict(status=QualificationStatus.FAILED, score="40")),
        "guangzhou": (UserFactory(languages=["yue-CN", "en-GB"]), dict()),
        "unqualified": (UserFactory(), None),
    }
    for trainer, how in cases.values():
        if how is not None:
            grant(trainer, qualification, **how)
    for label, (trainer, _) in cases.items():
        visible = str(project.id) in market_ids(client, trainer)
        eligible = label in {"good", "manual-no-score", "hant"}
        assert visible is eligible, label
        assert str(open_to_all.id) in market_ids(client, trainer), label
        detail = client.get(f"{MARKET}/{project.id}", as_user=trainer)
        assert detail.status_code == (200 if eligible else 404), label

    # A qualification that expires later is still good now.
    later = UserFactory()
    grant(later, qualification, expires_at=clock.now() + timedelta(days=1))
    assert str(project.id) in market_ids(client, later)


def test_drafts_and_stopped_projects_are_hidden_unless_one_was_a_member(
    client: ApiClient, session: Session, manager: User
) -> None:
    trainer = UserFactory()
    draft = ProjectFactory(manager=manager, state=ProjectState.DRAFT)
    paused = ProjectFactory(manager=manager, state=ProjectState.PAUSED, pause_reason="No data")
    suspended = ProjectFactory(manager=manager, state=ProjectState.SUSPENDED)
    former = ProjectFactory(manager=manager, state=ProjectState.PAUSED, pause_reason="No data")
    MemberFactory(project=former, trainer=trainer, state=MembershipState.LEFT)
    member_of_draft = ProjectFactory(manager=manager, state=ProjectState.DRAFT)
    MemberFactory(project=member_of_draft, trainer=trainer, state=MembershipState.LEFT)
    # An application declined never made the trainer a member.
    declined = ProjectFactory(manager=manager, state=ProjectState.PAUSED, pause_reason="x")
    MemberFactory(project=declined, trainer=trainer, state=MembershipState.DECLINED,
                  joined_at=None)

    assert market_ids(client, trainer) == []
    for hidden in (draft, paused, suspended, member_of_draft, declined):
        assert_problem(client.get(f"{MARKET}/{hidden.id}", as_user=trainer), 404)
        assert_problem(client.post(f"{MARKET}/{hidden.id}/applications", as_user=trainer,
                                   json={}), 404)
    shown = client.get(f"{MARKET}/{former.id}", as_user=trainer)
    assert shown.status_code == 200
    assert shown.get_json()["membership"]["state"] == "left"
    assert shown.get_json()["pause_reason"] == "No data"
    # ... but a paused project takes no applications.
    assert_problem(client.post(f"{MARKET}/{former.id}/applications", as_user=trainer, json={}),
                   409, code="project-paused")
    assert_problem(client.get(f"{MARKET}/{uuid.uuid4()}", as_user=trainer), 404)


def test_a_former_member_sees_why_they_are_no_longer_eligible(
    client: ApiClient, session: Session, manager: User
) -> None:
    project, qualification = gated_project(session, manager)
    trainer = UserFactory()
    grant(trainer, qualification, score="50")
    MemberFactory(project=project, trainer=trainer, state=MembershipState.LEFT)
    shown = client.get(f"{MARKET}/{project.id}", as_user=trainer).get_json()
    assert shown["eligible"] is False
    assert [u["code"] for u in shown["unmet"]] == ["score-below"]
    problem = assert_problem(
        client.post(f"{MARKET}/{project.id}/applications", as_user=trainer, json={}), 409,
        code="not-eligible",
    )
    assert problem["reasons"][0]["code"] == "score-below"


def test_the_qualifications_own_locale_applies_when_the_requirement_names_none(
    client: ApiClient, session: Session, manager: User
) -> None:
    """A yue-CN speaker granted the yue-HK qualification by hand is not eligible where a
    project requires the qualification without repeating its locale."""
    project = ProjectFactory(manager=manager)
    qualification = QualificationFactory(organisation=manager.organisation, locale="yue-HK")
    require(session, project, qualification)  # no locale of its own
    mainland = UserFactory(languages=["yue-CN", "cmn-CN"])
    grant(mainland, qualification, score=None)
    local = UserFactory(languages=["yue-Hant-HK"])
    grant(local, qualification, score=None)

    assert str(project.id) not in market_ids(client, mainland)
    assert str(project.id) in market_ids(client, local)
    problem = assert_problem(
        client.post(f"{MARKET}/{project.id}/applications", as_user=mainland, json={}), 404)
    assert problem["type"].endswith("not-found")
    ranked = client.get(f"/api/v1/projects/{project.id}/candidates",
                        as_user=manager).get_json()["items"]
    assert str(mainland.id) not in {c["trainer"]["id"] for c in ranked}
    assert str(local.id) in {c["trainer"]["id"] for c in ranked}
    body = client.post(f"/api/v1/projects/{project.id}/invitations", as_user=manager,
                       json={"trainer_ids": [str(mainland.id)]}).get_json()
    [result] = body["results"]
    assert (result["outcome"], result["reason"]) == ("skipped", "not-eligible")
    assert result["unmet"] == [{
        "qualification_id": str(qualification.id), "code": "locale",
        "message": f"Requires the language yue-HK (the qualification {qualification.name} "
                   "names it) among your languages.",
    }]


def test_the_marketplace_pages_over_eligible_projects_only(
    client: ApiClient, session: Session, manager: User
) -> None:
    trainer = UserFactory(languages=["en-GB"])
    shown = []
    for i in range(7):
        project = ProjectFactory(manager=manager)
        if i % 2:
            qualification = QualificationFactory(organisation=manager.organisation)
            grant(trainer, qualification)
            require(session, project, qualification, locale="yue-HK")  # not spoken
        else:
            shown.append(str(project.id))
    pages, cursor = [], None
    while True:
        query = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        body = client.get(MARKET, as_user=trainer, query_string=query).get_json()
        pages.append([p["id"] for p in body["items"]])
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert [p for page in pages for p in page] == list(reversed(shown))
    assert all(len(page) == 2 for page in pages[:-1])


# --- applications --------------------------------------------------------------------


def test_apply_and_be_accepted(client: ApiClient, session: Session, manager: User) -> None:
    project, qualification = gated_project(session, manager)
    trainer = qualified(qualification)
    response = client.post(f"{MARKET}/{project.id}/applications", as_user=trainer,
                           json={"message": "I grew up in Mong Kok."})
    assert response.status_code == 201, response.get_json()
    applied = response.get_json()
    assert (applied["state"], applied["origin"]) == ("applied", "application")
    assert applied["project_name"] == project.name

    assert_problem(client.post(f"{MARKET}/{project.id}/applications", as_user=trainer, json={}),
                   409, code="membership-open")
    shown = client.get(f"{MARKET}/{project.id}", as_user=trainer).get_json()
    assert shown["membership"]["state"] == "applied"

    members = client.get(f"/api/v1/projects/{project.id}/members", as_user=manager,
                         query_string={"state": "applied"}).get_json()["items"]
    assert [(m["id"], m["message"]) for m in members] == [(applied["id"],
                                                           "I grew up in Mong Kok.")]
    assert members[0]["trainer"]["display_name"] == trainer.display_name
    assert "email" not in members[0]["trainer"]

    url = f"/api/v1/projects/{project.id}/members/{applied['id']}/accept"
    response = client.post(url, as_user=manager)
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["state"] == "active"
    assert response.get_json()["joined_at"] is not None
    notice, = notices(session, trainer)
    assert notice.kind == "project.application_accepted" and project.name in notice.title
    assert member_audit(session) == ["project_member.applied", "project_member.accepted"]

    mine = client.get(MINE, as_user=trainer, query_string={"state": "active"}).get_json()
    assert [m["id"] for m in mine["items"]] == [applied["id"]]
    problem = assert_problem(client.post(url, as_user=manager), 409, code="illegal-transition")
    assert problem["current_state"] == "active"


def test_a_declined_application_shows_the_reason(
    client: ApiClient, session: Session, manager: User
) -> None:
    project = ProjectFactory(manager=manager)
    trainer = UserFactory()
    applied = client.post(f"{MARKET}/{project.id}/applications", as_user=trainer,
                          json={}).get_json()
    url = f"/api/v1/projects/{project.id}/members/{applied['id']}/decline"
    problem = assert_problem(client.post(url, as_user=manager, json={}), 422)
    assert "reason" in problem["errors"]

    response = client.post(url, as_user=manager, json={"reason": "We need native speakers."})
    assert response.status_code == 200
    notice, = notices(session, trainer)
    assert notice.kind == "project.application_declined"
    assert "We need native speakers." in notice.body
    mine = client.get(MINE, as_user=trainer).get_json()["items"]
    assert (mine[0]["state"], mine[0]["reason"]) == ("declined", "We need native speakers.")
    event = session.scalars(
        select(AuditEvent).where(AuditEvent.action == "project_member.declined")
    ).one()
    assert event.before == {"state": "applied"} and event.after["reason"] == (
        "We need native speakers.")

    # A new application is a new row.
    again = client.post(f"{MARKET}/{project.id}/applications", as_user=trainer, json={})
    assert again.status_code == 201 and again.get_json()["id"] != applied["id"]


def test_withdraw_an_application(client: ApiClient, session: Session, manager: User) -> None:
    project = ProjectFactory(manager=manager)
    trainer = UserFactory()
    applied = client.post(f"{MARKET}/{project.id}/applications", as_user=trainer,
                          json={}).get_json()
    # A trainer cannot accept their own application.
    problem = assert_problem(client.post(f"{MINE}/{applied['id']}/accept", as_user=trainer),
                             409, code="illegal-transition")
    assert problem["current_state"] == "applied"
    response = client.post(f"{MINE}/{applied['id']}/withdraw", as_user=trainer)
    assert response.status_code == 200 and response.get_json()["state"] == "withdrawn"
    assert_problem(client.post(f"{MINE}/{applied['id']}/withdraw", as_user=trainer), 409,
                   code="illegal-transition")
    # Someone else's membership does not exist for this trainer.
    other = UserFactory()
    assert_problem(client.post(f"{MINE}/{applied['id']}/withdraw", as_user=other), 404)
    assert notices(session, trainer) == []


def test_acceptance_rechecks_eligibility(
    client: ApiClient, session: Session, manager: User
) -> None:
    project, qualification = gated_project(session, manager)
    trainer = UserFactory()
    record = grant(trainer, qualification, expires_at=clock.now() + timedelta(days=1))
    applied = client.post(f"{MARKET}/{project.id}/applications", as_user=trainer,
                          json={}).get_json()
    record.expires_at = clock.now() - timedelta(seconds=1)
    session.commit()
    problem = assert_problem(
        client.post(f"/api/v1/projects/{project.id}/members/{applied['id']}/accept",
                    as_user=manager), 409, code="not-eligible",
    )
    assert problem["reasons"][0]["code"] == "expired"
    assert membership(session, project, trainer).state is MembershipState.APPLIED


# --- capacity ------------------------------------------------------------------------


def test_a_full_project_accepts_nobody(
    client: ApiClient, session: Session, manager: User
) -> None:
    project = ProjectFactory(manager=manager, capacity=1)
    first, second = UserFactory(), UserFactory()
    ids = [client.post(f"{MARKET}/{project.id}/applications", as_user=t, json={}).get_json()["id"]
           for t in (first, second)]
    base = f"/api/v1/projects/{project.id}/members"
    assert client.post(f"{base}/{ids[0]}/accept", as_user=manager).status_code == 200
    problem = assert_problem(client.post(f"{base}/{ids[1]}/accept", as_user=manager), 409,
                             code="capacity-reached")
    assert (problem["capacity"], problem["active_members"]) == (1, 1)
    assert membership(session, project, second).state is MembershipState.APPLIED
    assert notices(session, second) == []

    # An invitation may be sent (capacity is checked at acceptance), but not accepted.
    third = UserFactory()
    body = client.post(f"/api/v1/projects/{project.id}/invitations", as_user=manager,
                       json={"trainer_ids": [str(third.id)]}).get_json()
    invitation = body["results"][0]["membership_id"]
    assert_problem(client.post(f"{MINE}/{invitation}/accept", as_user=third), 409,
                   code="capacity-reached")
    # A place frees up when someone leaves.
    member = membership(session, project, first)
    assert client.post(f"{MINE}/{member.id}/leave", as_user=first, json={}).status_code == 200
    assert client.post(f"{MINE}/{invitation}/accept", as_user=third).status_code == 200
    shown = client.get(f"/api/v1/projects/{project.id}", as_user=manager).get_json()
    assert (shown["active_members"], shown["places_left"]) == (1, 0)


# --- invitations ---------------------------------------------------------------------


def test_invite_several_trainers_at_once(
    client: ApiClient, session: Session, manager: User
) -> None:
    project, qualification = gated_project(session, manager)
    good, other_good = qualified(qualification), qualified(qualification)
    unqualified = UserFactory()
    applicant = qualified(qualification)
    MemberFactory(project=project, trainer=applicant, state=MembershipState.APPLIED)
    colleague = StaffFactory(role=Role.REVIEWER, organisation=manager.organisation)
    inactive = qualified(qualification, is_active=False)
    ghost = uuid.uuid4()
    ids = [good.id, unqualified.id, applicant.id, colleague.id, ghost, other_good.id,
           inactive.id, good.id]

    response = client.post(f"/api/v1/projects/{project.id}/invitations", as_user=manager,
                           json={"trainer_ids": [str(i) for i in ids],
                                 "message": "Your ear is what we need."})
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert (body["invited"], body["skipped"]) == (2, 5)
    outcome = {r["trainer_id"]: (r["outcome"], r["reason"]) for r in body["results"]}
    assert outcome == {
        str(good.id): ("invited", None),
        str(other_good.id): ("invited", None),
        str(unqualified.id): ("skipped", "not-eligible"),
        str(applicant.id): ("skipped", "membership-open"),
        str(colleague.id): ("skipped", "not-a-trainer"),
        str(ghost): ("skipped", "not-a-trainer"),
        str(inactive.id): ("skipped", "not-a-trainer"),
    }
    unmet = next(r for r in body["results"] if r["trainer_id"] == str(unqualified.id))["unmet"]
    assert unmet[0]["code"] == "missing"

    notice, = notices(session, good)
    assert notice.kind == "project.invited" and "Your ear is what we need." in notice.body
    assert notices(session, unqualified) == []
    assert member_audit(session).count("project_member.invited") == 2

    invited = membership(session, project, good)
    assert (invited.state, invited.origin) == (MembershipState.INVITED,
                                               MembershipOrigin.INVITATION)
    response = client.post(f"{MINE}/{invited.id}/accept", as_user=good)
    assert response.status_code == 200 and response.get_json()["state"] == "active"
    declined = membership(session, project, other_good)
    response = client.post(f"{MINE}/{declined.id}/decline", as_user=other_good,
                           json={"reason": "Too busy this month."})
    assert response.status_code == 200
    assert response.get_json()["reason"] == "Too busy this month."
    assert member_audit(session)[-2:] == ["project_member.accepted", "project_member.declined"]


@pytest.mark.parametrize("body", [{"trainer_ids": []}, {"trainer_ids": ["x"]},
                                  {"trainer_ids": [str(uuid.uuid4())] * 101}, {}])
def test_bad_invitations(client: ApiClient, session: Session, manager: User, body: dict) -> None:
    project = ProjectFactory(manager=manager)
    problem = assert_problem(
        client.post(f"/api/v1/projects/{project.id}/invitations", as_user=manager, json=body), 422
    )
    assert "trainer_ids" in str(problem["errors"])


@pytest.mark.parametrize("state", [ProjectState.DRAFT, ProjectState.SUSPENDED,
                                   ProjectState.CLOSED])
def test_invitations_need_an_active_or_paused_project(
    client: ApiClient, session: Session, manager: User, state: ProjectState
) -> None:
    project = ProjectFactory(manager=manager, state=state)
    trainer = UserFactory()
    problem = assert_problem(
        client.post(f"/api/v1/projects/{project.id}/invitations", as_user=manager,
                    json={"trainer_ids": [str(trainer.id)]}), 409, code=f"project-{state.value}",
    )
    assert problem["current_state"] == state.value
    assert session.scalar(select(func.count()).select_from(ProjectMember)) == 0


def test_a_paused_project_may_invite_and_accept(
    client: ApiClient, session: Session, manager: User
) -> None:
    project = ProjectFactory(manager=manager, state=ProjectState.PAUSED, pause_reason="Data")
    trainer = UserFactory()
    body = client.post(f"/api/v1/projects/{project.id}/invitations", as_user=manager,
                       json={"trainer_ids": [str(trainer.id)]}).get_json()
    invitation = body["results"][0]["membership_id"]
    assert client.post(f"{MINE}/{invitation}/accept", as_user=trainer).status_code == 200


def test_a_manager_withdraws_an_invitation(
    client: ApiClient, session: Session, manager: User
) -> None:
    project = ProjectFactory(manager=manager)
    trainer = UserFactory()
    body = client.post(f"/api/v1/projects/{project.id}/invitations", as_user=manager,
                       json={"trainer_ids": [str(trainer.id)]}).get_json()
    invitation = body["results"][0]["membership_id"]
    url = f"/api/v1/projects/{project.id}/members/{invitation}"
    # A manager cannot accept an invitation on the trainer's behalf.
    assert_problem(client.post(f"{url}/accept", as_user=manager), 409,
                   code="illegal-transition")
    response = client.post(f"{url}/withdraw", as_user=manager, json={"reason": "Filled."})
    assert response.status_code == 200 and response.get_json()["state"] == "withdrawn"
    assert [n.kind for n in notices(session, trainer)] == [
        "project.invited", "project.invitation_withdrawn"]
    assert_problem(client.post(f"{MINE}/{invitation}/accept", as_user=trainer), 409,
                   code="illegal-transition")


# --- removal and leaving -------------------------------------------------------------


def work_in_flight(session: Session, project: Project, trainer: User) -> dict[str, object]:
    """A live lease, a submitted answer and a running work session of the trainer's."""
    now = clock.now()
    leased_task = TaskFactory(project=project, open_slots=0)
    done_task = TaskFactory(project=project, open_slots=0)
    rate = session.scalars(select(ProjectRate).where(ProjectRate.project_id == project.id)).first()
    leased = Assignment(task_id=leased_task.id, project_id=project.id, trainer_id=trainer.id,
                        state=AssignmentState.LEASED, claimed_at=now,
                        lease_expires_at=now + timedelta(hours=1))
    submitted = Assignment(task_id=done_task.id, project_id=project.id, trainer_id=trainer.id,
                           state=AssignmentState.SUBMITTED, claimed_at=now - timedelta(hours=1),
                           revealed_at=now - timedelta(hours=1), lease_expires_at=now,
                           submitted_at=now - timedelta(minutes=5),
                           answer={"label": "hk"}, active_seconds=300, rate_id=rate.id)
    sheet = Timesheet(project_id=project.id, trainer_id=trainer.id,
                      week_start=(now - timedelta(days=now.weekday())).date(),
                      currency=project.currency)
    session.add_all([leased, submitted, sheet])
    session.flush()
    entry = TimeEntry(project_id=project.id, trainer_id=trainer.id, timesheet_id=sheet.id,
                      source=EntrySource.SESSION, started_at=now - timedelta(minutes=30),
                      last_heartbeat_at=now, rate_id=rate.id)
    session.add(entry)
    session.commit()
    return {"leased": leased, "submitted": submitted, "entry": entry, "task": leased_task}


def test_removal_needs_a_reason_the_trainer_sees_and_winds_down_their_work(
    client: ApiClient, session: Session, manager: User
) -> None:
    project = ProjectFactory(manager=manager)
    trainer = UserFactory()
    member, = staff(project, trainer)
    work = work_in_flight(session, project, trainer)
    url = f"/api/v1/projects/{project.id}/members/{member.id}/remove"
    assert_problem(client.post(url, as_user=manager, json={}), 422)
    assert_problem(client.post(url, as_user=manager, json={"reason": "no"}), 422)

    response = client.post(url, as_user=manager,
                           json={"reason": "Repeatedly ignored the guidelines."})
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["state"] == "removed"
    session.refresh(work["leased"])
    session.refresh(work["submitted"])
    session.refresh(work["entry"])
    session.refresh(work["task"])
    assert work["leased"].state is AssignmentState.RELEASED
    assert work["task"].open_slots == 1
    assert work["submitted"].state is AssignmentState.SUBMITTED  # still reviewed and paid
    assert work["entry"].ended_at is not None
    assert work["entry"].end_reason is EntryEndReason.LEFT

    notice, = notices(session, trainer)
    assert notice.kind == "project.member_removed"
    assert "Repeatedly ignored the guidelines." in notice.body
    mine = client.get(MINE, as_user=trainer).get_json()["items"][0]
    assert (mine["state"], mine["reason"]) == ("removed", "Repeatedly ignored the guidelines.")
    event = session.scalars(
        select(AuditEvent).where(AuditEvent.action == "project_member.removed")).one()
    assert event.actor_id == manager.id and event.organisation_id == manager.organisation_id
    assert event.before == {"state": "active"}
    # Removed once.
    assert_problem(client.post(url, as_user=manager, json={"reason": "again, twice"}), 409,
                   code="illegal-transition")


def test_a_trainer_may_leave_at_any_time(
    client: ApiClient, session: Session, manager: User
) -> None:
    project = ProjectFactory(manager=manager, state=ProjectState.SUSPENDED)
    trainer = UserFactory()
    member, = staff(project, trainer)
    work = work_in_flight(session, project, trainer)
    response = client.post(f"{MINE}/{member.id}/leave", as_user=trainer,
                           json={"reason": "Found other work."})
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["state"] == "left"
    assert response.get_json()["ended_at"] is not None
    session.refresh(work["leased"])
    session.refresh(work["entry"])
    assert work["leased"].state is AssignmentState.RELEASED
    assert work["entry"].end_reason is EntryEndReason.LEFT
    assert member_audit(session) == ["project_member.left"]
    assert notices(session, trainer) == []


def test_leave_without_a_body(client: ApiClient, session: Session, manager: User) -> None:
    project = ProjectFactory(manager=manager)
    trainer = UserFactory()
    member, = staff(project, trainer)
    response = client.post(f"{MINE}/{member.id}/leave", as_user=trainer)
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["reason"] is None


# --- isolation -----------------------------------------------------------------------


def test_another_organisations_manager_gets_404s(
    client: ApiClient, session: Session, manager: User
) -> None:
    project = ProjectFactory(manager=manager)
    trainer = UserFactory()
    member = MemberFactory(project=project, trainer=trainer, state=MembershipState.APPLIED)
    stranger = StaffFactory(role=Role.ADMIN)
    base = f"/api/v1/projects/{project.id}"
    for response in (
        client.get(f"{base}/members", as_user=stranger),
        client.post(f"{base}/members/{member.id}/accept", as_user=stranger),
        client.post(f"{base}/members/{member.id}/decline", as_user=stranger,
                    json={"reason": "Not yours."}),
        client.post(f"{base}/members/{member.id}/remove", as_user=stranger,
                    json={"reason": "Not yours."}),
        client.post(f"{base}/invitations", as_user=stranger,
                    json={"trainer_ids": [str(trainer.id)]}),
        client.get(f"{base}/candidates", as_user=stranger),
    ):
        assert_problem(response, 404, code="not-found")
    # A membership of another project is not found under this one.
    other = ProjectFactory(manager=manager)
    assert_problem(client.post(f"/api/v1/projects/{other.id}/members/{member.id}/accept",
                               as_user=manager), 404)
    session.refresh(member)
    assert member.state is MembershipState.APPLIED
    assert member_audit(session) == []


# --- candidates ----------------------------------------------------------------------


def reviewed(session: Session, project: Project, trainer: User, approved: int,
             rejected: int) -> None:
    now = clock.now()
    for i in range(approved + rejected):
        task = TaskFactory(project=project, open_slots=0)
        session.add(Assignment(
            task_id=task.id, project_id=project.id, trainer_id=trainer.id,
            state=AssignmentState.APPROVED if i < approved else AssignmentState.REJECTED,
            claimed_at=now, revealed_at=now, lease_expires_at=now, submitted_at=now,
        ))
    session.commit()


def test_candidates_are_ranked_with_their_components(
    client: ApiClient, session: Session, manager: User
) -> None:
    project, qualification = gated_project(session, manager)
    history = ProjectFactory(manager=manager)
    elsewhere = ProjectFactory()  # another organisation's: its reviews do not count

    star = UserFactory(languages=["yue-HK"])
    grant(star, qualification, score="95")
    reviewed(session, history, star, approved=18, rejected=2)
    newcomer = UserFactory()
    grant(newcomer, qualification, score="95")
    sloppy = UserFactory()
    grant(sloppy, qualification, score="95")
    reviewed(session, history, sloppy, approved=2, rejected=8)
    reviewed(session, elsewhere, sloppy, approved=50, rejected=0)
    vouched = UserFactory()
    grant(vouched, qualification, score=None)
    member = qualified(qualification)
    staff(project, member)
    too_low = UserFactory()
    grant(too_low, qualification, score="60")
    wrong_locale = UserFactory(languages=["yue-CN"])
    grant(wrong_locale, qualification, score="99")

    response = client.get(f"/api/v1/projects/{project.id}/candidates", as_user=manager)
    assert response.status_code == 200, response.get_json()
    ranked = response.get_json()["items"]
    assert response.get_json()["next_cursor"] is None
    assert [c["trainer"]["id"] for c in ranked] == [
        str(star.id), str(newcomer.id), str(sloppy.id), str(vouched.id)]
    assert [c["rank"] for c in ranked] == [1, 2, 3, 4]
    first = ranked[0]
    assert first["qualification_score"] == "95.00"
    assert (first["approved"], first["rejected"], first["approval_rate"]) == (18, 2, "0.9000")
    assert first["locale_match"] == "1.0000"
    # 0.5 x 0.95 + 0.3 x 19/22 + 0.2 x 1
    assert first["rank_score"] == "0.9341"
    assert ranked[1]["approval_rate"] is None
    assert (ranked[2]["approved"], ranked[2]["rejected"]) == (2, 8)
    assert ranked[3]["qualification_score"] is None

    # Pages of one keep the ranks of the whole pool.
    url = f"/api/v1/projects/{project.id}/candidates"
    assert client.every_item(url, as_user=manager, limit=1) == ranked
    assert_problem(client.get(f"/api/v1/projects/{project.id}/candidates", as_user=manager,
                              query_string={"limit": 0}), 422)
    tampered = encode_cursor("-0.9", 18, "yesterday", str(star.id))
    problem = assert_problem(client.get(f"/api/v1/projects/{project.id}/candidates",
                                        as_user=manager, query_string={"cursor": tampered}), 422)
    assert list(problem["errors"]) == ["cursor"]


def test_a_project_without_requirements_ranks_every_trainer(
    client: ApiClient, session: Session, manager: User
) -> None:
    project = ProjectFactory(manager=manager)
    trainers = [UserFactory() for _ in range(3)]
    StaffFactory(role=Role.VENDOR_MANAGER, organisation=manager.organisation)
    ranked = client.get(f"/api/v1/projects/{project.id}/candidates",
                        as_user=manager).get_json()["items"]
    assert {c["trainer"]["id"] for c in ranked} >= {str(t.id) for t in trainers}
    assert all(c["locale_match"] is None and c["qualification_score"] is None for c in ranked)
