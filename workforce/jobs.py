"""The scheduler (APScheduler 3): which service runs when.

Jobs only open a unit of work and call a service; every rule lives in the service.
They must be safe to run in two processes at once: they rely on database locks
and unique keys, never on there being one scheduler.
"""

from __future__ import annotations

from apscheduler.schedulers.base import BaseScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from workforce.accounts import jobs as accounts_jobs
from workforce.app import Services
from workforce.assessments import jobs as assessments_jobs
from workforce.billing import jobs as billing_jobs
from workforce.notifications import jobs as notifications_jobs
from workforce.projects import jobs as projects_jobs
from workforce.wellbeing import jobs as wellbeing_jobs

JOB_DEFAULTS = {"coalesce": True, "max_instances": 1, "misfire_grace_time": 300}


def register_jobs(scheduler: BaseScheduler, services: Services) -> None:
    scheduler.add_job(
        notifications_jobs.deliver_outbox, IntervalTrigger(minutes=1),
        args=[services.outbox], id="notifications.deliver_outbox", replace_existing=True,
    )
    scheduler.add_job(
        accounts_jobs.purge_expired_credentials, CronTrigger(hour=3, minute=17, timezone="UTC"),
        args=[services.database], id="accounts.purge_expired_credentials",
        replace_existing=True,
    )
    scheduler.add_job(
        assessments_jobs.close_expired_attempts, IntervalTrigger(minutes=1),
        args=[services.database], id="assessments.close_expired_attempts",
        replace_existing=True,
    )
    _projects(scheduler, services)
    _billing(scheduler, services)
    scheduler.add_job(
        wellbeing_jobs.close_sessions_at_limits, IntervalTrigger(minutes=1),
        args=[services.database], id="wellbeing.close_sessions_at_limits",
        replace_existing=True,
    )
    scheduler.add_job(
        wellbeing_jobs.prompt_due_check_ins, IntervalTrigger(minutes=5),
        args=[services.database], id="wellbeing.prompt_due_check_ins", replace_existing=True,
    )


# The projects' jobs and how often they run: leases, idle sessions and suspensions
# keep close to the clock; auto-approval is measured in days.
PROJECT_JOBS = (
    ("expire_leases", IntervalTrigger(minutes=1)),
    ("close_idle_sessions", IntervalTrigger(minutes=1)),
    ("apply_due_suspensions", IntervalTrigger(minutes=1)),
    ("auto_approve_submissions", IntervalTrigger(minutes=15)),
    ("auto_approve_timesheets", IntervalTrigger(minutes=15)),
)


def _projects(scheduler: BaseScheduler, services: Services) -> None:
    for name, trigger in PROJECT_JOBS:
        scheduler.add_job(
            getattr(projects_jobs, name), trigger, args=[services.database],
            id=f"projects.{name}", replace_existing=True,
        )


def _billing(scheduler: BaseScheduler, services: Services) -> None:
    """Payout runs are found from the schedules in the database, not from this trigger:
    each pass creates the run of every due period that has none, so a scheduler that
    was down across a payout moment creates the missed run, once, on its next pass."""
    scheduler.add_job(
        billing_jobs.create_due_runs, IntervalTrigger(minutes=5), args=[services.database],
        id="billing.create_due_runs", replace_existing=True,
    )
    scheduler.add_job(
        billing_jobs.process_approved_runs, IntervalTrigger(minutes=1),
        args=[services.database, services.settings], id="billing.process_approved_runs",
        replace_existing=True,
    )
    scheduler.add_job(
        billing_jobs.reconcile, CronTrigger(hour=4, minute=41, timezone="UTC"),
        args=[services.database, services.settings], id="billing.reconcile",
        replace_existing=True,
    )
    # Fair pay: weeks settle days after they end, so once a day is enough; the
    # counselling allowance follows exposure within the hour.
    scheduler.add_job(
        billing_jobs.settle_fair_pay, CronTrigger(hour=5, minute=23, timezone="UTC"),
        args=[services.database], id="billing.settle_fair_pay", replace_existing=True,
    )
    scheduler.add_job(
        billing_jobs.grant_counselling_allowances, IntervalTrigger(hours=1),
        args=[services.database], id="billing.grant_counselling_allowances",
        replace_existing=True,
    )


def build_scheduler(scheduler_cls: type[BaseScheduler], services: Services) -> BaseScheduler:
    scheduler = scheduler_cls(timezone="UTC", job_defaults=JOB_DEFAULTS)
    register_jobs(scheduler, services)
    return scheduler
