"""Aggregating final answers (issue 16): hand-computed cases for each method, the job
that recomputes only changed projects, dynamic overlap, and the API that asks for it."""

from __future__ import annotations

import gc
import warnings
from datetime import timedelta

import pytest
from flask import Flask
from sqlalchemy import delete, select, text
from sqlalchemy.orm import Session

from tests.aggregation_helpers import (
    ACCENT,
    MOS,
    NOTE,
    VERDICT,
    answered_task,
    approve,
    templated_project,
    trainers,
)
from tests.client import ApiClient, assert_problem
from tests.task_helpers import API, answered
from workforce import clock
from workforce.accounts.models import AuditEvent, User
from workforce.db import Database
from workforce.projects.models import AssignmentState, Task
from workforce.results import aggregation
from workforce.results.aggregates import (
    ProjectAggregation,
    TaskAggregate,
    TaskResult,
    for_tasks,
)
from workforce.results.jobs import aggregate_changed
from workforce.results.models import TemplateVersion


@pytest.fixture
def run(app: Flask, session: Session):
    from workforce.cli import main

    runner = app.test_cli_runner()

    def invoke(*args: str):
        result = runner.invoke(main, list(args), catch_exceptions=False)
        session.expire_all()
        return result

    return invoke


def _settings(session: Session, project, **values) -> None:
    row = aggregation.settings_row(session, project.id)
    for key, value in values.items():
        setattr(row, key, value)
    session.commit()


def _aggregate(database: Database, session: Session) -> int:
    done = aggregate_changed(database)
    session.expire_all()
    return done


def test_three_workers_majority(database: Database, session: Session) -> None:
    project = templated_project(session, ACCENT, NOTE)
    _settings(session, project, methods={"accent": "majority_vote"})
    a, b, c = trainers(3)
    task = answered_task(session, project, [(a, {"accent": "yue-HK", "note": "x"}),
                                            (b, {"accent": "yue-HK"}),
                                            (c, {"accent": "yue-CN"})])

    assert gc.isenabled()
    assert _aggregate(database, session) == 1
    assert gc.isenabled()  # paused while the project was computed, and back on

    found = for_tasks(session, [task.id])[task.id]
    assert set(found) == {"accent"}  # text is not aggregated
    accent = found["accent"]
    assert (accent.value, accent.method, accent.answers_count) == ("yue-HK", "majority_vote", 3)
    assert accent.confidence == pytest.approx(2 / 3)



@pytest.mark.parametrize("method", ["majority_vote", "dawid_skene", "glad", "mace"])
def test_a_project_whose_answers_all_agree_gets_that_label_sure_and_quietly(
    database: Database, session: Session, method: str
) -> None:
    """Every answer the same label (no other label in play): each method concludes it
    with confidence 1, and none prints a warning to the scheduler's log (GLAD takes the
    logarithm of zero there)."""
    project = templated_project(session, ACCENT)
    _settings(session, project, methods={"accent": method})
    a, b, c = trainers(3)
    tasks = [answered_task(session, project, [(w, {"accent": "yue-HK"}) for w in (a, b, c)])
             for _ in range(3)]

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert _aggregate(database, session) == 1

    found = for_tasks(session, [task.id for task in tasks])
    assert [(f["accent"].value, f["accent"].confidence) for f in found.values()] == \
        [("yue-HK", pytest.approx(1.0))] * 3
    assert [str(w.message) for w in caught] == []


def test_dawid_skene_trusts_a_reliable_minority(database: Database, session: Session) -> None:
    """Two reliable trainers always agree with the truth across 30 tasks; three careless
    ones answer at random (each wrong on a different bit pattern). On the last task one
    reliable trainer says yes and two careless ones no: the majority says no, Dawid-Skene
    yes, with a posterior near 1."""
    project = templated_project(session, {**ACCENT, "settings": {
        "options": [{"value": "yes", "label": "Yes"}, {"value": "no", "label": "No"}],
        "none_of_these": False}})
    r1, r2, c1, c2, c3 = trainers(5)
    flip = {"yes": "no", "no": "yes"}
    for i in range(30):
        truth = "yes" if i % 3 else "no"
        careless = [(c, {"accent": flip[truth] if (i >> k) & 1 else truth})
                    for k, c in enumerate((c1, c2, c3))]
        answered_task(session, project, [(r1, {"accent": truth}), (r2, {"accent": truth}),
                                         *careless])
    contested = answered_task(session, project, [(r1, {"accent": "yes"}),
                                                 (c1, {"accent": "no"}),
                                                 (c2, {"accent": "no"})])

    _aggregate(database, session)

    verdict = for_tasks(session, [contested.id])[contested.id]["accent"]
    assert (verdict.method, verdict.value) == ("dawid_skene", "yes")
    assert verdict.confidence > 0.99
    # The majority would have said no.
    _settings(session, project, methods={"accent": "majority_vote"}, requested_at=None)
    aggregation.request(session, session.get(User, project.created_by_id), project.id)
    session.commit()
    _aggregate(database, session)
    assert for_tasks(session, [contested.id])[contested.id]["accent"].value == "no"


@pytest.mark.parametrize("method", ["glad", "mace"])
def test_glad_and_mace_give_a_label_with_its_posterior(
    database: Database, session: Session, method: str
) -> None:
    project = templated_project(session, ACCENT)
    _settings(session, project, methods={"accent": method})
    a, b, c = trainers(3)
    tasks = [answered_task(session, project, [(a, {"accent": "yue-HK"}),
                                              (b, {"accent": "yue-HK"}),
                                              (c, {"accent": label})])
             for label in ("yue-HK", "yue-CN", "yue-HK")]

    _aggregate(database, session)

    found = for_tasks(session, [t.id for t in tasks])
    for task in tasks:
        aggregate = found[task.id]["accent"]
        assert (aggregate.method, aggregate.value) == (method, "yue-HK")
        assert 0.5 < aggregate.confidence <= 1


def test_rating_mean_with_its_t_interval(database: Database, session: Session) -> None:
    """3, 4, 5: mean 4, s = 1, t(0.975, 2) = 4.302653, half-width 4.302653 / sqrt 3;
    the interval kept within the 1 to 5 scale (4 + 2.48 is past its top)."""
    project = templated_project(session, MOS)
    a, b, c = trainers(3)
    task = answered_task(session, project, [(a, {"naturalness": 3}), (b, {"naturalness": 4}),
                                            (c, {"naturalness": 5})])
    lone = answered_task(session, project, [(a, {"naturalness": 2})])

    _aggregate(database, session)

    found = for_tasks(session, [task.id, lone.id])
    mos = found[task.id]["naturalness"]
    assert mos.method == "mean_ci" and mos.confidence is None
    assert mos.value["value"] == mos.value["mean"] == pytest.approx(4)
    assert mos.value["median"] == 4 and mos.value["n"] == 3
    half = 4.302653 / 3 ** 0.5
    assert mos.value["ci_low"] == pytest.approx(4 - half, abs=1e-5)
    assert 4 + half > 5 and mos.value["ci_high"] == 5
    single = found[lone.id]["naturalness"].value
    assert (single["mean"], single["ci_low"], single["ci_high"]) == (2, None, None)


def test_bradley_terry_ranks_the_compared_responses(
    database: Database, session: Session
) -> None:
    """a beats b (2 to 1), b beats c (3 to 0), a beats c (3 to 0): a > b > c, and each
    task prefers the higher-scored side."""
    project = templated_project(session, VERDICT)
    x, y, z = trainers(3)

    def compare(left: str, right: str, choices: list[str]) -> Task:
        payload = {"prompt": "?", "responses": [{"id": left, "text": left},
                                                {"id": right, "text": right}]}
        return answered_task(session, project, [(w, {"verdict": {"choice": choice}})
                                                for w, choice in zip((x, y, z), choices,
                                                                     strict=True)],
                             payload=payload)

    ab = compare("model-a", "model-b", ["A", "A", "B"])
    bc = compare("model-b", "model-c", ["A", "A", "A"])
    ca = compare("model-c", "model-a", ["B", "B", "tie"])

    _aggregate(database, session)

    found = for_tasks(session, [ab.id, bc.id, ca.id])
    scores = session.get(ProjectAggregation, project.id).summary["fields"]["verdict"]["scores"]
    assert scores["model-a"] > scores["model-b"] > scores["model-c"]
    for task, side in ((ab, "A"), (bc, "A"), (ca, "B")):
        verdict = found[task.id]["verdict"]
        assert verdict.method == "bradley_terry"
        assert verdict.value["preferred"] == side
        assert verdict.confidence == pytest.approx(verdict.value["probability"])
        assert verdict.confidence > 0.5



def test_responses_without_ids_are_each_tasks_own(database: Database, session: Session) -> None:
    """Tasks whose payload names no response ids compare their own two sides: one
    judged A and one judged B are not fit as one "A against B" (which made every such
    task's verdict the same)."""
    project = templated_project(session, VERDICT)
    x, y = trainers(2)
    left, right = (answered_task(session, project, [(w, {"verdict": {"choice": side}})
                                                    for w in (x, y)])
                   for side in ("A", "B"))

    _aggregate(database, session)

    found = for_tasks(session, [left.id, right.id])
    assert found[left.id]["verdict"].value["preferred"] == "A"
    assert found[right.id]["verdict"].value["preferred"] == "B"


def test_only_final_tasks_are_aggregated(database: Database, session: Session) -> None:
    project = templated_project(session, ACCENT)
    a, b = trainers(2)
    waiting = answered_task(session, project, [(a, {"accent": "yue-HK"})], redundancy=2,
                            open_slots=1)
    pending = answered_task(session, project, [(a, {"accent": "yue-HK"})], redundancy=2)
    approve(session, pending, b, {"accent": "yue-CN"}, state=AssignmentState.SUBMITTED)
    done = answered_task(session, project, [(b, {"accent": "yue-CN"})])

    _aggregate(database, session)

    assert set(for_tasks(session, [waiting.id, pending.id, done.id])) == {done.id}


def test_the_job_recomputes_only_projects_with_new_final_answers(
    database: Database, session: Session, run
) -> None:
    first, second = (templated_project(session, ACCENT) for _ in range(2))
    _settings(session, second, methods={"accent": "majority_vote"})
    a, b = trainers(2)
    answered_task(session, first, [(a, {"accent": "yue-HK"})])
    answered_task(session, second, [(a, {"accent": "yue-CN"})])

    assert run("jobs", "run", "results.aggregate").output.strip() == \
        "results.aggregate: projects aggregated: 2"
    assert run("jobs", "run", "results.aggregate").output.strip() == \
        "results.aggregate: nothing to do"

    task = answered_task(session, second, [(b, {"accent": "yue-HK"})])
    before = session.get(ProjectAggregation, first.id).computed_at
    assert run("jobs", "run", "results.aggregate").output.strip() == \
        "results.aggregate: projects aggregated: 1"
    assert session.get(ProjectAggregation, first.id).computed_at == before
    assert for_tasks(session, [task.id])[task.id]["accent"].value == "yue-HK"



def test_a_project_whose_run_fails_is_left_as_it_was_and_the_projects_after_it_computed(
    client: ApiClient, database: Database, session: Session, run,
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture,
) -> None:
    """One project's failure (here crowd-kit failing on its answers) neither stops the
    projects after it nor leaves anything of its own run behind: it is logged, its
    watermark stays, the job says which project failed and exits non-zero, its managers
    see when the attempt failed, and the next run computes it."""
    broken, fine = (templated_project(session, ACCENT) for _ in range(2))
    _settings(session, broken, requested_at=clock.now())  # a request: run first
    (a,) = trainers(1)
    bad = answered_task(session, broken, [(a, {"accent": "yue-HK"})])
    good = answered_task(session, fine, [(a, {"accent": "yue-CN"})])
    real = aggregation.methods.categorical

    def categorical(method, tasks, workers, labels):  # type: ignore[no-untyped-def]
        if bad.id.hex in {str(task).replace("-", "") for task in tasks}:
            raise ValueError("the model did not converge")
        return real(method, tasks, workers, labels)

    monkeypatch.setattr(aggregation.methods, "categorical", categorical)
    failed = run("jobs", "run", "results.aggregate")

    assert failed.exit_code == 1
    assert f"projects aggregated: 1; failed (logged): 1, {broken.id}" in failed.output
    assert any(record.exc_info and str(broken.id) in record.getMessage()
               for record in caplog.records)
    assert set(for_tasks(session, [bad.id, good.id])) == {good.id}
    assert session.get(ProjectAggregation, broken.id).answers_seen_at is None
    assert broken.id in aggregation.changed_projects(session)
    manager = session.get(User, broken.created_by_id)
    url = f"{API}/projects/{broken.id}/aggregation"
    state = answered(client.get(url, as_user=manager))
    assert state["failed_at"] is not None and state["computed_at"] is None
    assert state["pending"] is True
    assert answered(client.get(f"{API}/projects/{fine.id}/aggregation",
                               as_user=session.get(User, fine.created_by_id))
                    )["failed_at"] is None

    monkeypatch.undo()
    assert run("jobs", "run", "results.aggregate").output.strip() == \
        "results.aggregate: projects aggregated: 1"
    assert for_tasks(session, [bad.id])[bad.id]["accent"].value == "yue-HK"
    state = answered(client.get(url, as_user=manager))
    assert state["failed_at"] is None and state["pending"] is False


def test_a_run_stamps_every_task_it_wrote_with_one_later_stamp(
    database: Database, session: Session
) -> None:
    project = templated_project(session, ACCENT)
    _settings(session, project, methods={"accent": "majority_vote"})
    a, b = trainers(2)
    tasks = [answered_task(session, project, [(a, {"accent": "yue-HK"}),
                                              (b, {"accent": "yue-HK"})]) for _ in range(3)]
    approved = {r.task_id: r.stamp for r in session.scalars(select(TaskResult))}
    assert set(approved) == {t.id for t in tasks}  # each approval stamped its task
    # A task whose results were never stamped (as before the stamps existed) gets a row.
    session.execute(delete(TaskResult).where(TaskResult.task_id == tasks[0].id))
    session.commit()

    assert _aggregate(database, session) == 1
    stamps = {r.task_id: r.stamp for r in session.scalars(select(TaskResult))}
    assert set(stamps) == {t.id for t in tasks}
    assert len(set(stamps.values())) == 1  # one stamp for the run
    run_stamp = stamps[tasks[0].id]
    assert run_stamp > max(approved.values())
    assert run_stamp == session.get(ProjectAggregation, project.id).changed_at


def test_a_later_run_stamps_only_the_tasks_whose_aggregate_changed(
    database: Database, session: Session
) -> None:
    project = templated_project(session, ACCENT)
    _settings(session, project, methods={"accent": "majority_vote"})
    a, b, c = trainers(3)
    same, turned = (answered_task(session, project, [(a, {"accent": "yue-HK"}),
                                                     (b, {"accent": "yue-HK"})])
                    for _ in range(2))
    _aggregate(database, session)
    first = {r.task_id: r.stamp for r in session.scalars(select(TaskResult))}
    written = for_tasks(session, [same.id])[same.id]["accent"].computed_at

    added = answered_task(session, project, [(c, {"accent": "yue-CN"})])
    session.execute(delete(TaskAggregate).where(TaskAggregate.task_id == turned.id))
    session.commit()
    _aggregate(database, session)

    session.expire_all()
    stamps = {r.task_id: r.stamp for r in session.scalars(select(TaskResult))}
    assert stamps[same.id] == first[same.id]  # found the same: neither written nor stamped
    assert for_tasks(session, [same.id])[same.id]["accent"].computed_at == written
    assert stamps[turned.id] == stamps[added.id] > first[turned.id]
    assert stamps[added.id] == session.get(ProjectAggregation, project.id).changed_at
    assert for_tasks(session, [added.id])[added.id]["accent"].value == "yue-CN"
    assert for_tasks(session, [turned.id])[turned.id]["accent"].value == "yue-HK"



def _new_version(session: Session, project, *fields) -> None:
    """A template version taking effect now: the answers given before keep theirs."""
    last = session.scalars(select(TemplateVersion).where(
        TemplateVersion.project_id == project.id).order_by(TemplateVersion.number.desc())
    ).first()
    session.add(TemplateVersion(project_id=project.id, number=last.number + 1,
                                fields=list(fields), created_by_id=project.created_by_id,
                                created_at=clock.now()))
    session.commit()


def test_aggregates_no_longer_backed_by_the_template_are_removed_and_their_tasks_stamped(
    database: Database, session: Session
) -> None:
    """A field that changed kind (the accent, a choice, made a rating) no longer has
    answers of its kind: the old label is removed, not left under a rating field in
    the results; a field taken out of the template loses its aggregates too. Each
    task whose results changed takes a stamp, so a client's sync sees the change."""
    project = templated_project(session, ACCENT, MOS)
    a, b = trainers(2)
    task = answered_task(session, project, [(a, {"accent": "yue-HK", "naturalness": 4}),
                                            (b, {"accent": "yue-HK", "naturalness": 5})])
    _aggregate(database, session)
    assert set(for_tasks(session, [task.id])[task.id]) == {"accent", "naturalness"}
    before = session.get(TaskResult, task.id).stamp

    _new_version(session, project, {**MOS, "name": "accent"}, MOS)
    _settings(session, project, requested_at=clock.now())
    assert _aggregate(database, session) == 1

    assert set(for_tasks(session, [task.id])[task.id]) == {"naturalness"}
    summary = session.get(ProjectAggregation, project.id).summary
    assert summary["removed"] == 1 and summary["fields"]["accent"]["tasks"] == 0
    stamped = session.get(TaskResult, task.id).stamp
    assert stamped > before

    _new_version(session, project, NOTE)  # nothing left to aggregate
    _settings(session, project, requested_at=clock.now())
    assert _aggregate(database, session) == 1

    assert for_tasks(session, [task.id]) == {}
    assert session.get(ProjectAggregation, project.id).summary["removed"] == 1
    assert session.get(TaskResult, task.id).stamp > stamped


def test_dynamic_overlap_adds_one_slot_and_stops_at_the_maximum(
    database: Database, session: Session
) -> None:
    project = templated_project(session, ACCENT)
    _settings(session, project, methods={"accent": "majority_vote"}, confidence_target=0.9,
              max_redundancy=4)
    a, b, c, d = trainers(4)
    task = answered_task(session, project, [(a, {"accent": "yue-HK"}),
                                            (b, {"accent": "yue-HK"}),
                                            (c, {"accent": "yue-CN"})])
    sure = answered_task(session, project, [(a, {"accent": "yue-CN"}),
                                            (b, {"accent": "yue-CN"}),
                                            (c, {"accent": "yue-CN"})])

    _aggregate(database, session)
    assert (session.get(Task, task.id).redundancy, session.get(Task, task.id).open_slots) \
        == (4, 1)
    assert session.get(Task, sure.id).open_slots == 0
    # Another run before anyone answers adds nothing (the task is not final).
    aggregation.request(session, session.get(User, project.created_by_id), project.id)
    session.commit()
    _aggregate(database, session)
    assert session.get(Task, task.id).redundancy == 4

    session.get(Task, task.id).open_slots = 0
    approve(session, session.get(Task, task.id), d, {"accent": "yue-CN"})
    _aggregate(database, session)

    stored = session.get(Task, task.id)
    assert (stored.redundancy, stored.open_slots) == (4, 0)  # 2-2 is unsure, but at max
    assert for_tasks(session, [task.id])[task.id]["accent"].answers_count == 4
    assert session.get(ProjectAggregation, project.id).extra_slots == 1
    cost = aggregation.extra_slots_cost(session, project.id)
    assert (cost.amount, cost.currency) == (200, "USD")  # one slot at the factory's rate
    assert session.scalars(select(AuditEvent).where(
        AuditEvent.action == "project.slots_added",
        AuditEvent.object_id == str(project.id))).one()


# --- the API -------------------------------------------------------------------------


def test_managers_ask_and_read_the_aggregation(
    client: ApiClient, database: Database, session: Session
) -> None:
    project = templated_project(session, ACCENT, MOS, NOTE)
    manager = session.get(User, project.created_by_id)
    a, b = trainers(2)
    answered_task(session, project, [(a, {"accent": "yue-HK", "naturalness": 4}),
                                     (b, {"accent": "yue-HK", "naturalness": 5})])
    url = f"{API}/projects/{project.id}/aggregation"

    state = answered(client.get(url, as_user=manager))
    assert state["computed_at"] is None and state["pending"] is False
    assert state["fields"] == [
        {"field": "accent", "kind": "single_choice", "method": "dawid_skene"},
        {"field": "naturalness", "kind": "rating", "method": "mean_ci"}]

    asked = answered(client.post(url, as_user=manager), 202)
    assert asked["pending"] is True and asked["aggregates"] == 0  # the job does it
    _aggregate(database, session)

    done = answered(client.get(url, as_user=manager))
    assert done["pending"] is False and done["computed_at"] is not None
    assert (done["tasks_aggregated"], done["aggregates"]) == (1, 2)
    assert done["summary"]["fields"]["accent"]["tasks"] == 1


def test_settings_are_checked_against_the_template(
    client: ApiClient, session: Session
) -> None:
    project = templated_project(session, ACCENT, MOS, NOTE)
    manager = session.get(User, project.created_by_id)
    url = f"{API}/projects/{project.id}/aggregation/settings"

    bad = client.request("PUT", url, as_user=manager, json={
        "methods": {"accent": "mean_ci", "naturalness": "median_ci", "note": "mace",
                    "missing": "mace"},
        "confidence_target": 0.8})
    errors = assert_problem(bad, 422)["errors"]
    assert set(errors) == {"/methods/accent", "/methods/note", "/methods/missing",
                           "/max_redundancy"}
    assert session.get(ProjectAggregation, project.id) is None

    good = answered(client.request("PUT", url, as_user=manager, json={
        "methods": {"accent": "glad"}, "confidence_target": 0.8, "max_redundancy": 5}))
    assert good["fields"][0] == {"field": "accent", "kind": "single_choice",
                                 "method": "glad"}
    assert (good["confidence_target"], good["max_redundancy"]) == (0.8, 5)
    assert session.scalars(select(AuditEvent).where(
        AuditEvent.action == "project.aggregation_settings_changed")).one()
    # Changed settings are put to work on the job's next run.
    assert good["pending"] is True and good["requested_at"] is not None


def test_changed_settings_recompute_the_aggregates_on_the_next_run(
    client: ApiClient, database: Database, session: Session
) -> None:
    """Majority vote then Dawid-Skene: the manager changes the method and the next run
    (no request needed) writes the aggregates with it; the same settings sent again ask
    for nothing."""
    project = templated_project(session, ACCENT)
    manager = session.get(User, project.created_by_id)
    _settings(session, project, methods={"accent": "majority_vote"})
    a, b = trainers(2)
    task = answered_task(session, project, [(a, {"accent": "yue-HK"}),
                                            (b, {"accent": "yue-HK"})])
    assert _aggregate(database, session) == 1
    url = f"{API}/projects/{project.id}/aggregation/settings"

    changed = answered(client.request("PUT", url, as_user=manager, json={
        "methods": {"accent": "dawid_skene"}}))
    assert changed["pending"] is True
    assert _aggregate(database, session) == 1
    assert for_tasks(session, [task.id])[task.id]["accent"].method == "dawid_skene"

    again = answered(client.request("PUT", url, as_user=manager, json={
        "methods": {"accent": "dawid_skene"}}))
    assert again["pending"] is False
    assert _aggregate(database, session) == 0


def test_another_organisations_project_is_not_found(
    client: ApiClient, session: Session
) -> None:
    project = templated_project(session, ACCENT)
    stranger = session.get(User, templated_project(session, ACCENT).created_by_id)
    for method in ("GET", "POST"):
        response = client.request(method, f"{API}/projects/{project.id}/aggregation",
                                  as_user=stranger)
        assert_problem(response, 404)


def test_labels_with_backslashes_quotes_and_tabs_are_stored_as_answered(
    database: Database, session: Session
) -> None:
    """PostgreSQL writes new aggregates with COPY's text format: what needs escaping
    there comes back whole."""
    odd = 'say "hi"\\there\t粵'
    project = templated_project(session, {**ACCENT, "settings": {
        "options": [{"value": odd, "label": "Odd"}, {"value": "plain", "label": "Plain"}],
        "none_of_these": False}})
    _settings(session, project, methods={"accent": "majority_vote"})
    a, b = trainers(2)
    task = answered_task(session, project, [(a, {"accent": odd}), (b, {"accent": odd})])

    _aggregate(database, session)

    assert for_tasks(session, [task.id])[task.id]["accent"].value == odd


def test_each_answer_counts_under_the_template_version_it_was_claimed_under(
    database: Database, session: Session
) -> None:
    """Version 2 turns the accent question into a 1-5 rating: the two answers claimed
    under version 1 (labels) are left out of the rating's mean, the one claimed under
    version 2 is all it has."""
    project = templated_project(session, ACCENT)
    session.add(TemplateVersion(project_id=project.id, number=2,
                                created_by_id=project.created_by_id,
                                fields=[{**MOS, "name": "accent"}],
                                created_at=clock.now() - timedelta(minutes=30)))
    session.commit()
    a, b, c = trainers(3)
    task = answered_task(session, project, [(a, {"accent": "yue-HK"}),
                                            (b, {"accent": "yue-HK"})], redundancy=3)
    approve(session, task, c, {"accent": 4}, claimed_at=clock.now() - timedelta(minutes=10))

    _aggregate(database, session)

    accent = for_tasks(session, [task.id])[task.id]["accent"]
    assert (accent.kind, accent.method, accent.value["mean"]) == ("rating", "mean_ci", 4)
    assert accent.answers_count == 1
    assert session.scalar(select(TaskAggregate.template_version)
                          .where(TaskAggregate.task_id == task.id)) == 2


def test_a_project_another_process_is_aggregating_is_skipped_and_requests_do_not_wait(
    live_database: Database, live_session: Session
) -> None:
    """PostgreSQL: a run holds the project's advisory lock, not its row: a second run
    skips the project (and finds it again next time), and a manager's request updates
    the row at once."""
    project = templated_project(live_session, ACCENT)
    a, b = trainers(2)
    task = answered_task(live_session, project, [(a, {"accent": "yue-HK"}),
                                                 (b, {"accent": "yue-HK"})])
    manager = live_session.get(User, project.created_by_id)
    with live_database.engine.connect() as running:
        key = int.from_bytes(project.id.bytes[:8], "big", signed=True)
        running.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": key})

        assert aggregate_changed(live_database) == 0
        live_database.run(aggregation.request, manager, project.id)  # does not wait
        running.rollback()

    assert aggregate_changed(live_database) == 1
    live_session.expire_all()
    assert for_tasks(live_session, [task.id])[task.id]["accent"].value == "yue-HK"
