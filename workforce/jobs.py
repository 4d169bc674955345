"""The scheduler (APScheduler 3): which service runs when, and running one by hand.

Jobs only open a unit of work and call a service; every rule lives in the service.
They must be safe to run in two processes at once: they rely on database locks
and unique keys, never on there being one scheduler. That is also why
``workforce jobs run NAME`` may run one beside a running scheduler: it calls the same
``run_job`` the scheduler calls.

Each job's function returns how much it did; ``run_job`` turns that into a short summary
("task leases expired: 3", or "nothing to do"), logs it for every run and returns it.
A job whose items fail one by one (``results.aggregate``) does the rest, then raises
``JobFailed`` naming what failed, each failure logged with its error.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from apscheduler.schedulers.base import BaseScheduler
from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from workforce.accounts import jobs as accounts_jobs
from workforce.app import Services
from workforce.assessments import jobs as assessments_jobs
from workforce.billing import jobs as billing_jobs
from workforce.errors import JobFailed
from workforce.integrations import jobs as integrations_jobs
from workforce.notifications import jobs as notifications_jobs
from workforce.privacy import jobs as privacy_jobs
from workforce.privacy.storage import ExportStore
from workforce.projects import jobs as projects_jobs
from workforce.results import jobs as results_jobs
from workforce.standing import jobs as standing_jobs
from workforce.storage import FileStore
from workforce.uploads import jobs as uploads_jobs
from workforce.wellbeing import jobs as wellbeing_jobs

log = logging.getLogger(__name__)

JOB_DEFAULTS = {"coalesce": True, "max_instances": 1, "misfire_grace_time": 300}
NOTHING_TO_DO = "nothing to do"


@dataclass(frozen=True)
class Job:
    name: str
    # A fresh trigger each time: an interval trigger starts counting when it is made.
    trigger: Callable[[], BaseTrigger]
    # Runs the job's function with what it needs from the services; how much it did.
    call: Callable[[Services], int | None]
    # What the count is of, for the summary.
    done: str

    def summary(self, count: int) -> str:
        return f"{self.done}: {count}" if count else NOTHING_TO_DO


def _every(minutes: int = 0, hours: int = 0) -> Callable[[], BaseTrigger]:
    return lambda: IntervalTrigger(minutes=minutes, hours=hours)


def _daily(hour: int, minute: int) -> Callable[[], BaseTrigger]:
    return lambda: CronTrigger(hour=hour, minute=minute, timezone="UTC")


def _store(services: Services) -> ExportStore:
    assert services.export_store is not None  # create_app builds it
    return services.export_store


def _files(services: Services) -> FileStore:
    assert services.files is not None  # create_app builds it
    return services.files.store


def _on_database(function: Callable[..., int | None]) -> Callable[[Services], int | None]:
    return lambda services: function(services.database)


# Leases, idle sessions, suspensions and the outbox keep close to the clock; payout runs
# are found from the schedules in the database, not from a trigger: each pass creates
# the run of every due period that has none, so a scheduler that was down across a
# payout moment creates the missed run, once, on its next pass. Auto-approval is
# measured in days; fair pay settles weeks days after they end.
JOBS: tuple[Job, ...] = (
    Job("notifications.deliver_outbox", _every(minutes=1),
        lambda services: notifications_jobs.deliver_outbox(services.outbox), "e-mails sent"),
    Job("integrations.deliver_webhooks", _every(minutes=1),
        lambda services: integrations_jobs.deliver_webhooks(
            services.database, services.webhooks), "webhook delivery attempts"),
    Job("integrations.purge_old_webhook_events", _daily(2, 47),
        lambda services: integrations_jobs.purge_old_events(
            services.database, services.settings), "old webhook events deleted"),
    Job("accounts.purge_expired_credentials", _daily(3, 17),
        _on_database(accounts_jobs.purge_expired_credentials), "expired credentials removed"),
    Job("assessments.close_expired_attempts", _every(minutes=1),
        _on_database(assessments_jobs.close_expired_attempts), "attempts closed"),
    Job("projects.expire_leases", _every(minutes=1),
        _on_database(projects_jobs.expire_leases), "task leases expired"),
    Job("projects.close_idle_sessions", _every(minutes=1),
        _on_database(projects_jobs.close_idle_sessions), "idle sessions closed"),
    Job("projects.apply_due_suspensions", _every(minutes=1),
        _on_database(projects_jobs.apply_due_suspensions), "suspensions applied"),
    Job("projects.refresh_budgets", _every(minutes=1),
        _on_database(projects_jobs.refresh_budgets), "budget marks changed"),
    Job("standing.follow_up_account_actions", _every(minutes=1),
        _on_database(standing_jobs.follow_up_account_actions), "account actions followed up"),
    Job("projects.auto_approve_submissions", _every(minutes=15),
        _on_database(projects_jobs.auto_approve_submissions), "submissions approved"),
    # Aggregation reads a project's answers whole: every 10 minutes, and only projects
    # with approvals since their last run (or a manager's request).
    Job("results.aggregate", _every(minutes=10),
        _on_database(results_jobs.aggregate_changed), "projects aggregated"),
    Job("projects.auto_approve_timesheets", _every(minutes=15),
        _on_database(projects_jobs.auto_approve_timesheets), "timesheets approved"),
    Job("billing.create_due_runs", _every(minutes=5),
        _on_database(billing_jobs.create_due_runs), "payout runs created"),
    Job("billing.process_approved_runs", _every(minutes=1),
        lambda services: billing_jobs.process_approved_runs(
            services.database, services.gateway, services.settings), "payout items handled"),
    Job("billing.reconcile", _daily(4, 41),
        lambda services: billing_jobs.reconcile(services.database, services.gateway),
        "reconciliation differences"),
    Job("billing.settle_fair_pay", _daily(5, 23),
        _on_database(billing_jobs.settle_fair_pay), "wage-floor top-ups posted"),
    Job("billing.grant_counselling_allowances", _every(hours=1),
        _on_database(billing_jobs.grant_counselling_allowances),
        "counselling allowances posted"),
    Job("wellbeing.close_sessions_at_limits", _every(minutes=1),
        _on_database(wellbeing_jobs.close_sessions_at_limits), "sessions stopped at a limit"),
    Job("wellbeing.prompt_due_check_ins", _every(minutes=5),
        _on_database(wellbeing_jobs.prompt_due_check_ins), "check-ins asked for"),
    Job("privacy.prepare_data_exports", _every(minutes=1),
        lambda services: privacy_jobs.prepare_data_exports(
            services.database, _store(services), services.settings, _files(services)),
        "data exports prepared"),
    Job("privacy.delete_expired_exports", _every(minutes=15),
        lambda services: privacy_jobs.delete_expired_exports(services.database,
                                                             _store(services)),
        "expired data exports deleted"),
    Job("privacy.carry_out_erasures", _every(minutes=15),
        lambda services: privacy_jobs.carry_out_erasures(
            services.database, _store(services), _files(services)), "accounts erased"),
    Job("uploads.delete_expired_files", _every(hours=1),
        lambda services: uploads_jobs.delete_expired_files(services.database,
                                                           _files(services)),
        "uploaded files deleted"),
)
BY_NAME = {job.name: job for job in JOBS}


def run_job(name: str, services: Services) -> str:
    """Run the job called ``name`` once, as the scheduler does; log and return what it
    did."""
    job = BY_NAME[name]
    try:
        count = job.call(services) or 0
    except JobFailed as failure:  # some items failed, each logged; the rest was done
        log.error("job %s failed: %s", name, failure,
                  extra={"job": name, "summary": str(failure)})
        raise
    summary = job.summary(count)
    log.info("job %s: %s", name, summary,
             extra={"job": name, "handled": count, "summary": summary})
    return summary


def schedule_of(job: Job) -> str:
    """When the job runs, in words."""
    trigger = job.trigger()
    if isinstance(trigger, IntervalTrigger):
        minutes = int(trigger.interval.total_seconds() // 60)
        return f"every {minutes} min" if minutes < 60 else f"every {minutes // 60} h"
    fields = {field.name: str(field) for field in trigger.fields}  # type: ignore[attr-defined]
    return f"daily at {int(fields['hour']):02d}:{int(fields['minute']):02d} UTC"


def register_jobs(scheduler: BaseScheduler, services: Services) -> None:
    for job in JOBS:
        scheduler.add_job(run_job, job.trigger(), args=[job.name, services], id=job.name,
                          replace_existing=True)


def build_scheduler(scheduler_cls: type[BaseScheduler], services: Services) -> BaseScheduler:
    scheduler = scheduler_cls(timezone="UTC", job_defaults=JOB_DEFAULTS)
    register_jobs(scheduler, services)
    return scheduler
