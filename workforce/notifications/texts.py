"""Every notice the service sends a person: its kind, what it is about and its words.

A notice is stored as its kind and its parameters and put into words when it is read
(in-app) or queued (e-mail), in the reader's language. The words live in the gettext
domain ``notices`` (``workforce/translations/<locale>/LC_MESSAGES/notices.po``);
``T()`` only marks a text for extraction (``make i18n``), the translation happens when
the notice is rendered (``workforce.notifications.render``).

Parameters are plain JSON values; ``money()``, ``moment()`` and ``day()`` wrap the ones
that are formatted for the reader's locale (and, for moments, time zone).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum
from typing import Any

from workforce.money import Money


def T(text: str) -> str:
    """Marks ``text`` as a msgid of the ``notices`` domain; returns it unchanged."""
    return text


class Topic(StrEnum):
    """What a notice is about. E-mails about money or access cannot be turned off."""

    MONEY = "money"
    ACCESS = "access"
    WORK = "work"
    SECURITY = "security"  # one-time links and the account's safety: never optional


REQUIRED_TOPICS = frozenset({Topic.MONEY, Topic.ACCESS, Topic.SECURITY})


@dataclass(frozen=True)
class Part:
    """A sentence of a body, said when its condition holds: ``"name"`` when that
    parameter is truthy, ``"!name"`` when it is not, ``None`` always."""

    text: str
    when: str | None = None

    def applies(self, params: dict[str, Any]) -> bool:
        if self.when is None:
            return True
        if self.when.startswith("!"):
            return not params.get(self.when[1:])
        return bool(params.get(self.when))


@dataclass(frozen=True)
class Notice:
    kind: str
    topic: Topic
    title: tuple[Part, ...]
    body: tuple[Part, ...]
    in_app: bool = True  # False: an e-mail only (a one-time link)
    email: bool = True  # False: in the inbox only (every task review would flood e-mail)

    @property
    def email_required(self) -> bool:
        return self.topic in REQUIRED_TOPICS


def _notice(kind: str, topic: Topic, title: str | tuple[Part, ...], *body: str | Part,
            in_app: bool = True, email: bool = True) -> Notice:
    heading = (Part(title),) if isinstance(title, str) else title
    parts = tuple(p if isinstance(p, Part) else Part(p) for p in body)
    return Notice(kind, topic, heading, parts, in_app=in_app, email=email)


# --- parameters formatted per locale ----------------------------------------------------


def money(value: Money | None) -> dict[str, Any] | None:
    return None if value is None else {"$money": [value.amount, value.currency]}


def amounts(values: list[Money]) -> list[dict[str, Any] | None]:
    """Amounts said together, as the reader's language lists them."""
    return [money(value) for value in values]


def moment(value: datetime | None) -> dict[str, Any] | None:
    return None if value is None else {"$moment": value.isoformat()}


def day(value: date | datetime | None) -> dict[str, Any] | None:
    """A day; given a moment, the day it falls on in the reader's time zone."""
    return None if value is None else {"$day": value.isoformat()}


def month(value: date | None) -> dict[str, Any] | None:
    """The month ``value`` falls in (``March 2025``, ``2025年3月``)."""
    return None if value is None else {"$month": value.isoformat()}


# What a refused change of e-mail preferences says (a problem's detail and errors).
EMAIL_REQUIRED = T("E-mails about money and access cannot be turned off.")
TOPIC_REQUIRED = {
    Topic.MONEY: T("E-mails about money cannot be turned off."),
    Topic.ACCESS: T("E-mails about your access to work cannot be turned off."),
    Topic.SECURITY: T("E-mails about your account's safety cannot be turned off."),
}
NO_SUCH_KIND = T("No such kind of e-mailed notice.")

RESTRICTED = T("While restricted you may finish work you hold, but not claim tasks, apply, "
               "join projects or start sessions in this organisation.")
DEACTIVATED = T("While deactivated you cannot work in this organisation: tasks you hold are "
                "released and running sessions closed; work you submitted is still reviewed "
                "and paid.")
# Why a quality rule restricted a trainer (``results.restrictions.figure_params``).
FIGURES = (
    Part(T("Why: %(hits)s of your last %(samples)s submissions were submitted in under "
           "%(min_seconds)s seconds, more than the rule's %(max_fast)s."), "fast"),
    Part(T("Why: gold accuracy %(hits)s/%(compared)s = %(percent)s%% over your last "
           "%(samples)s gold tasks, below the rule's %(min_percent)s%%."), "gold"),
    Part(T("Why: agreement with the aggregated answers %(hits)s/%(compared)s = "
           "%(percent)s%% over %(compared)s fields of your last %(samples)s approved tasks, "
           "below the rule's %(min_percent)s%%."), "agreement"),
)
ONLY_FORWARD = T("Work you already submitted stays as it is: nothing is rejected, reversed "
                 "or taken back, and approved work is paid. A task you hold may still be "
                 "submitted.")
BUDGET_USED = T("%(project)s has used %(percent)s%% of its budget: %(used)s of %(amount)s "
                "spent or committed.")
UNREVERSE = T("If it should not, take it back with a negative adjustment.")
NOTICES: dict[str, Notice] = {n.kind: n for n in (
    # --- a project's state: access ----------------------------------------------------
    _notice(
        "project.suspension_announced", Topic.ACCESS, T("%(project)s will be suspended"),
        T("%(project)s will be suspended from %(effective_at)s. Reason: %(reason)s"),
        Part(T("The notice given is %(days_missed)s of %(notice_days)s days short, so you "
               "are owed a kill fee of %(kill_fee)s."), "kill_fee"),
    ),
    _notice(
        "project.suspension_cancelled", Topic.ACCESS, T("%(project)s will not be suspended"),
        T("The suspension of %(project)s announced for %(effective_at)s is cancelled."),
    ),
    _notice(
        "project.suspended", Topic.ACCESS, T("%(project)s is suspended"),
        T("%(project)s is suspended. Reason: %(reason)s"),
        T("Tasks you held are released; work already submitted is still reviewed and paid."),
    ),
    _notice(
        "project.paused", Topic.ACCESS, T("%(project)s is paused"),
        T("Work on %(project)s is paused. Reason: %(reason)s"),
        Part(T("It is expected to resume on %(expected_resume_on)s."), "expected_resume_on"),
        T("Tasks you already hold may still be submitted."),
    ),
    _notice(
        "project.closed", Topic.ACCESS, T("%(project)s is closed"),
        T("%(project)s is closed. Work already submitted is still reviewed and paid."),
    ),
    _notice(
        "project.resumed", Topic.ACCESS, T("%(project)s has resumed"),
        T("Work on %(project)s is open again."),
        Part(T("The announced suspension is cancelled."), "suspension_cancelled"),
    ),
    _notice(
        "project.content_warning_raised", Topic.WORK, T("Content warning raised: %(project)s"),
        T("The project %(project)s now carries a %(level)s content warning (%(categories)s). "
          "You may leave at any time."),
        email=False,
    ),
    _notice(
        "project.guidelines_changed", Topic.WORK, T("Guidelines changed: %(project)s"),
        T("The guidelines of %(project)s are now at version %(version)s."),
        Part(T("What changed: %(change_note)s"), "change_note"),
        email=False,
    ),
    _notice(
        "project.template_changed", Topic.WORK, T("Task template changed: %(project)s"),
        T("The task template of %(project)s is now at version %(version)s; work you claimed "
          "before keeps the version it was claimed with."),
        Part(T("What changed: %(change_note)s"), "change_note"),
        email=False,
    ),
    # --- a project's budget: money, to its managers -----------------------------------
    _notice(
        "project.budget_warning", Topic.MONEY, T("Budget %(percent)s%% used: %(project)s"),
        BUDGET_USED,
        T("New claims stop when it is all used."),
    ),
    _notice(
        "project.budget_spent", Topic.MONEY, T("Budget used up: %(project)s"),
        BUDGET_USED,
        T("What is left does not pay for another task: trainers can claim no new tasks "
          "until the budget is raised."),
    ),
    # --- membership -----------------------------------------------------------------------
    _notice(
        "project.member_removed", Topic.ACCESS, T("Removed from project: %(project)s"),
        T("You were removed from %(project)s. Work you submitted is still reviewed and paid."),
        Part(T("Reason: %(reason)s"), "reason"),
    ),
    _notice(
        "project.application_accepted", Topic.ACCESS, T("Application accepted: %(project)s"),
        T("Your application to %(project)s was accepted. You can start work now."),
    ),
    _notice(
        "project.invited", Topic.WORK, T("Invitation: %(project)s"),
        T("You are invited to join %(project)s. Accept or decline it in your memberships."),
        Part(T("Message: %(message)s"), "message"),
    ),
    _notice(
        "project.application_declined", Topic.WORK, T("Application declined: %(project)s"),
        T("Your application to %(project)s was declined."),
        Part(T("Reason: %(reason)s"), "reason"),
    ),
    _notice(
        "project.invitation_withdrawn", Topic.WORK, T("Invitation withdrawn: %(project)s"),
        T("Your invitation to %(project)s was withdrawn."),
        Part(T("Reason: %(reason)s"), "reason"),
    ),
    _notice(
        "project.declared_use_changed", Topic.WORK,
        T("%(project)s: what the work is for has changed"),
        T("%(project)s changed what your work is used for."),
        T("Before: %(before)s"),
        T("Now: %(after)s"),
        T("You may leave the project without penalty (your memberships, leave); work you "
          "submitted is still reviewed and paid. A departure before %(leave_until)s is "
          "recorded as caused by this change."),
    ),
    # --- assessments and qualifications ---------------------------------------------------------
    _notice(
        "attempt.awaiting_grading", Topic.WORK, T("Attempt received: %(assessment)s"),
        Part(T("Your attempt was submitted."), "submitted"),
        Part(T("Your attempt was closed at its time limit."), "!submitted"),
        T("Your written answers are being graded; you will be told your result."),
        email=False,
    ),
    _notice(
        "attempt.graded", Topic.WORK, T("Your result: %(assessment)s"),
        T("You scored %(score)s (%(points)s of %(max_points)s points; pass mark "
          "%(pass_mark)s)."),
        Part(T("You passed."), "passed"),
        Part(T("You did not reach the pass mark this time."), "!passed"),
        email=False,
    ),
    _notice(
        "qualification.granted", Topic.WORK, T("Qualification granted: %(qualification)s"),
        Part(T("You passed %(assessment)s and hold the qualification %(qualification)s."),
             "assessment"),
        Part(T("Your qualification %(qualification)s was granted. Reason: %(reason)s"),
             "!assessment"),
        Part(T("It is valid until %(expires_on)s."), "expires_on"),
        email=False,
    ),
    _notice(
        "qualification.revoked", Topic.ACCESS, T("Qualification revoked: %(qualification)s"),
        T("Your qualification %(qualification)s was revoked. Reason: %(reason)s"),
    ),
    # --- reviews: in the inbox only -----------------------------------------------------------
    _notice(
        "task.approved", Topic.WORK, T("Task approved"),
        Part(T("Your answer to task %(task)s on %(project)s was approved."), "!auto"),
        Part(T("Your answer to task %(task)s on %(project)s was approved automatically: "
               "nobody reviewed it within %(days)s days."), "auto"),
        Part(T("You earned %(earned)s."), "earned"),
        Part(T("Feedback: %(feedback)s"), "feedback"),
        email=False,
    ),
    _notice(
        "task.rejected", Topic.WORK, T("Task rejected"),
        T("Your answer to task %(task)s on %(project)s was rejected (%(category)s): "
          "%(message)s"),
        T("You may appeal once."),
        email=False,
    ),
    _notice(
        "task.revision_requested", Topic.WORK, T("Revision requested"),
        T("Please revise your answer to task %(task)s on %(project)s: %(message)s"),
        T("Resubmit within %(days)s days."),
        email=False,
    ),
    _notice(
        "task.revision_expired", Topic.WORK, T("Revision expired"),
        T("The revision asked for on task %(task)s on %(project)s was not sent within "
          "%(days)s days; the task went back to the pool."),
        email=False,
    ),
    _notice(
        "task.appeal_overturned", Topic.WORK, T("Appeal accepted"),
        T("Your appeal on task %(task)s on %(project)s was accepted: %(note)s"),
        Part(T("You earned %(earned)s."), "earned"),
        email=False,
    ),
    _notice(
        "task.appeal_upheld", Topic.WORK, T("Appeal declined"),
        T("The rejection of your answer to task %(task)s on %(project)s stands: %(note)s"),
        email=False,
    ),
    # --- time and sessions: in the inbox only ----------------------------------------------
    _notice(
        "timesheet.approved", Topic.MONEY,
        (Part(T("Timesheet approved"), "!adjusted"),
         Part(T("Timesheet adjusted and approved"), "adjusted")),
        T("Your timesheet for the week of %(week_start)s on %(project)s was approved: "
          "%(approved)s, %(amount)s."),
        Part(T("%(logged)s were logged; the reason for the adjustment: %(reason)s"),
             "adjusted"),
        email=False,
    ),
    _notice(
        "session.closed", Topic.WORK, T("Work session closed"),
        Part(T("Your work session on %(project)s was closed at %(ended_at)s: the %(cap)s cap "
               "was reached."), "cap"),
        Part(T("Your work session on %(project)s was closed at %(ended_at)s: an exposure "
               "limit was reached (%(limit)s)."), "limit"),
        Part(T("Your work session on %(project)s was closed at %(ended_at)s: no heartbeat "
               "came for %(minutes)s minutes."), "idle"),
        T("It counts up to that moment."),
        email=False,
    ),
    _notice(
        "session.exposure_limit", Topic.WORK, T("Work session stopped"),
        T("Your work session on %(project)s was stopped at %(ended_at)s: %(limit)s"),
        T("It counts, and is paid, up to that moment. It is open again from %(resets_at)s."),
        email=False,
    ),
    # --- money ------------------------------------------------------------------------------
    _notice(
        "project.rate_changed", Topic.MONEY, T("Pay rate changed: %(project)s"),
        Part(T("From %(effective_from)s, %(project)s pays %(rate)s an hour."), "hourly"),
        Part(T("From %(effective_from)s, %(project)s pays %(rate)s a task."), "!hourly"),
        Part(T("It paid %(previous_rate)s before."), "previous_rate"),
        T("Reason: %(reason)s"),
        T("Work done before then is paid at the rate in force when it was done."),
    ),
    _notice(
        "earnings.stipend", Topic.MONEY, T("A stipend of %(amount)s"),
        T("You earned a stipend of %(amount)s for attempt %(attempt)s at %(assessment)s."),
    ),
    _notice(
        "earnings.adjustment", Topic.MONEY, T("An adjustment of %(amount)s"),
        T("%(organisation)s adjusted your earnings by %(amount)s. Reason: %(reason)s"),
    ),
    _notice(
        "earnings.reversal", Topic.MONEY, T("An entry was reversed"),
        T("This entry of your earnings was reversed: %(entry)s. Reason: %(reason)s"),
    ),
    _notice(
        "earnings.stipend_withheld", Topic.MONEY, T("No stipend: %(assessment)s"),
        T("Attempt %(attempt)s at %(assessment)s closed with %(answered)s questions "
          "answered; the stipend of %(amount)s needs at least %(needed)s, so nothing was "
          "paid for it."),
    ),
    _notice(
        "earnings.bonus", Topic.MONEY, T("A bonus of %(amount)s"),
        T("%(organisation)s granted you a bonus of %(amount)s. Reason: %(reason)s"),
    ),
    _notice(
        "pay.top_up", Topic.MONEY, T("Top-up of %(amount)s on %(project)s"),
        T("In the week of %(week_start)s, your %(hours)s hours of active time on %(project)s "
          "paid %(paid)s, under the floor of %(floor)s an hour."),
        T("%(amount)s was added to your earnings so that the week pays at least the floor."),
        Part(T("This adds to the earlier top-up for the week: work approved since then "
               "lowered the rate."), "again"),
    ),
    _notice(
        "pay.top_up_posted", Topic.MONEY, T("Top-up paid on %(project)s"),
        Part(T("A wage-floor top-up was posted on %(project)s at the organisation's cost. "
               "Fewer than %(min_group_size)s trainers worked on the project that week, so "
               "its week, hours, rates and amount are not shown, to protect their privacy."),
             "suppressed"),
        Part(T("A trainer's work on %(project)s in the week of %(week_start)s paid "
               "%(measured)s an hour over %(hours)s h, under their wage floor of %(floor)s an "
               "hour; a top-up of %(amount)s was posted at the organisation's cost."),
             "!suppressed"),
        Part(T("The project is under-priced: the median task takes %(median_seconds)s "
               "seconds, and at the floor a task should pay at least %(suggested)s."),
             "underpriced"),
        Part(T("It pays %(current)s a task now."), "current"),
        Part(T("Set a new rate to clear the mark."), "underpriced"),
        email=False,
    ),
    _notice(
        "payout.paid", Topic.MONEY, T("Payout of %(amount)s sent"),
        Part(T("We sent %(amount)s to your Stripe account. Stripe pays it out to your bank "
               "on your Stripe payout schedule."), "stripe"),
        Part(T("We sent %(amount)s to your bank account. Reference: %(reference)s."),
             "!stripe"),
    ),
    _notice(
        "payout.left_out", Topic.MONEY, T("Not paid in %(organisation)s's payout run"),
        T("%(organisation)s's payout run for the period ending %(period_end)s did not pay "
          "you:"),
        Part(T("%(no_payout_account)s: you have no payout account. Set one up (Stripe, or "
               "bank details) in your payout settings."), "no_payout_account"),
        Part(T("%(stripe_not_ready)s: your Stripe account cannot receive payouts yet. Open "
               "your payout settings to finish Stripe's onboarding."), "stripe_not_ready"),
        Part(T("%(bank_details_missing)s: your bank details are missing. Add them in your "
               "payout settings."), "bank_details_missing"),
        Part(T("%(details_changed)s: your payouts are held until %(hold_until)s because "
               "your payout details changed. If you did not change them, contact support "
               "now."), "details_changed"),
        Part(T("%(in_hold_period)s: it is still in %(organisation)s's hold period; it goes "
               "out with the first run after the hold ends."), "in_hold_period"),
        Part(T("%(after_period)s: it became payable after this run's period ended; it goes "
               "out with the next run."), "after_period"),
        Part(T("%(below_minimum)s: it is below %(organisation)s's payout minimum "
               "(%(minimum)s); it carries over until what you are owed reaches the minimum."),
             "below_minimum"),
        T("The money stays owed to you. The next payout run is on %(next_run_at)s."),
    ),
    _notice(
        "payout.failed", Topic.MONEY, T("Payout of %(amount)s failed"),
        T("Your payout of %(amount)s could not be sent: %(reason)s"),
        T("The money is back in your payable balance and goes out with the next payout "
          "once the problem is fixed."),
    ),
    _notice(
        "payout.reversed", Topic.MONEY, T("Payout of %(amount)s reversed"),
        Part(T("Stripe reversed %(part)s of your payout of %(amount)s."), "part"),
        Part(T("Stripe reversed the whole of your payout of %(amount)s."), "!part"),
        T("That money is back in your payable balance and goes out with the next payout."),
    ),
    _notice(
        "payout.arrived", Topic.MONEY, T("Payout paid to your bank"),
        Part(T("Stripe paid your payout of %(amount)s out to your bank account."), "amount"),
        Part(T("Stripe paid your payout out to your bank account."), "!amount"),
    ),
    _notice(
        "payout.bank_failed", Topic.MONEY, T("Stripe could not pay your bank"),
        Part(T("Stripe could not pay your payout of %(amount)s to your bank: %(reason)s"),
             "amount"),
        Part(T("Stripe could not pay your payout to your bank: %(reason)s"), "!amount"),
        T("Update your bank details in Stripe; the money stays in your Stripe balance "
          "meanwhile."),
    ),
    # --- finance staff: their organisation's payouts --------------------------------------
    _notice(
        "payout_run.ready", Topic.MONEY, T("Payout run for %(schedule)s is ready for approval"),
        T("%(items)s payouts wait for approval; %(exclusions)s trainers are left out (see the "
          "run's preview)."),
    ),
    _notice(
        "payout_run.approved", Topic.MONEY, T("A payout run was approved"),
        Part(T("%(who)s approved the payout run for the period ending %(period_end)s: "
               "%(approved)s payouts go out."), "who"),
        Part(T("The schedule approved the payout run for the period ending %(period_end)s "
               "automatically: %(approved)s payouts go out."), "!who"),
        Part(T("%(cancelled)s no longer covered were left for the next run."), "cancelled"),
        email=False,
    ),
    _notice(
        "payout_run.cancelled", Topic.MONEY, T("A payout run was cancelled"),
        T("%(who)s cancelled the payout run for the period ending %(period_end)s; the money "
          "stays payable for the next run."),
        email=False,
    ),
    _notice(
        "payout_run.halted", Topic.MONEY, T("Payouts stopped: balance too low"),
        T("Stripe refused a transfer: %(message)s"),
        T("The payout run stopped; nothing more is sent until you top up the platform "
          "balance and process the run again."),
    ),
    _notice(
        "payout_item.reversed", Topic.MONEY, T("A payout was reversed"),
        T("Transfer %(transfer)s (%(amount)s) was reversed at Stripe (the whole payout); "
          "that money is payable to the trainer again and goes out with the next run."),
        UNREVERSE,
    ),
    _notice(
        "payout_item.partially_reversed", Topic.MONEY, T("A payout was partly reversed"),
        T("Transfer %(transfer)s (%(amount)s) was reversed at Stripe (%(part)s of it); that "
          "money is payable to the trainer again and goes out with the next run."),
        UNREVERSE,
    ),
    _notice(
        "payout.reconciliation", Topic.MONEY,
        T("Reconciliation with Stripe: %(differences)s differences"),
        T("Payouts from %(period_from)s to %(period_to)s differ from Stripe's transfers "
          "(%(kinds)s). See GET /api/v1/payout-reconciliations for the details."),
    ),
    # --- wellbeing --------------------------------------------------------------------------
    _notice(
        "wellbeing.check_in_due", Topic.WORK, T("Time for a check-in"),
        T("You have spent %(hours)s hours on sensitive work since your last check-in. How "
          "are you doing? A check-in takes a moment, and you can ask for support."),
        email=False,
    ),
    _notice(
        "wellbeing.consent_withdrawn", Topic.WORK, T("Consent withdrawn"),
        T("You withdrew your consent to %(category)s content."),
        Part(T("You left %(left)s."), "left"),
        Part(T("Applications withdrawn: %(applications)s."), "applications"),
        Part(T("Invitations declined: %(invitations)s."), "invitations"),
        Part(T("Tasks you held and gave back: %(tasks)s."), "tasks"),
        Part(T("Nothing you were working on needed it."), "nothing"),
        T("Work you submitted is still reviewed and paid, time you logged counts up to now, "
          "and nothing about your standing changes."),
        email=False,
    ),
    # --- content flags and support cases ----------------------------------------------------
    _notice(
        "content_flag.high", Topic.WORK, T("Task hidden: %(project)s"),
        T("Task %(task)s was flagged as high-severity %(category)s content and is hidden "
          "from trainers until it is triaged."),
        email=False,
    ),
    _notice(
        "content_flag.task_you_hold", Topic.WORK, T("Content warning: %(project)s"),
        T("Task %(task)s, which you hold, was flagged as high-severity %(category)s content. "
          "You may give it back with a flag of your own, and the time you spent is paid."),
        email=False,
    ),
    _notice(
        "task.content_warning_raised", Topic.WORK, T("Content warning: %(project)s"),
        T("Task %(task)s, which you hold, now carries a %(level)s content warning "
          "(%(categories)s). You may give it back."),
        email=False,
    ),
    _notice(
        "content_flag.confirmed", Topic.WORK, T("Your flag was confirmed: %(project)s"),
        T("Thank you: your flag on task %(task)s was confirmed."),
        Part(T("The task's content warning was raised."), "task_raised"),
        Part(T("The project's content warning was raised."), "project_raised"),
        Part(T("Note: %(note)s"), "note"),
        email=False,
    ),
    _notice(
        "content_flag.dismissed", Topic.WORK, T("Your flag was reviewed: %(project)s"),
        T("Your flag on task %(task)s was reviewed and dismissed: %(reason)s"),
        T("Your pay and standing are not affected."),
        email=False,
    ),
    _notice(
        "content_flag.escalated", Topic.WORK, T("A content flag was escalated"),
        T("A %(severity)s-severity flag (%(category)s) on task %(task)s of %(project)s was "
          "escalated to you: %(note)s"),
    ),
    _notice(
        "support_case.opened", Topic.WORK,
        (Part(T("A trainer asked for support"), "requested"),
         Part(T("A trainer may need support"), "!requested")),
        Part(T("A trainer asked for support (%(reason)s)."), "requested"),
        Part(T("A trainer may need support (%(reason)s)."), "!requested"),
        T("Please reach out soon: support case %(case)s is waiting for you in workforce."),
    ),
    _notice(
        "support_case.note", Topic.WORK, T("A trainer wrote on a support case"),
        T("The trainer added a note to support case %(case)s; read it in workforce."),
    ),
    _notice(
        "support_case.passed_on", Topic.WORK, T("Your wellbeing contact has been told"),
        Part(T("We passed your request for support on; someone will be in touch soon."),
             "requested"),
        Part(T("Your check-in suggested a hard time, so we let the organisation's wellbeing "
               "contact know; they may reach out. Your note stays private."), "!requested"),
        Part(T("In an emergency, or any time: %(support_line)s."), "support_line"),
        email=False,
    ),
    _notice(
        "support_case.acknowledged", Topic.WORK, T("Your support request was picked up"),
        T("The organisation's wellbeing contact has your request and will be in touch."),
        Part(T("Their note: %(note)s"), "note"),
        email=False,
    ),
    _notice(
        "support_case.closed", Topic.WORK, T("Your support case was closed"),
        T("Your support case was closed. You can ask for support again at any time, from a "
          "flag or a check-in."),
        Part(T("Their note: %(note)s"), "note"),
        email=False,
    ),
    _notice(
        "support_case.note_shared", Topic.WORK, T("A note on your support case"),
        T("Their note: %(note)s"),
        email=False,
    ),
    _notice(
        "wellbeing.counselling_allowance", Topic.MONEY, T("Counselling allowance: %(amount)s"),
        T("%(organisation)s added %(amount)s to your earnings for %(month)s, in which you "
          "did more than %(hours)s hours of sensitive work for it: towards counselling or "
          "whatever support helps you."),
        T("Reviewing disturbing material affects everyone; you can also reach the "
          "organisation's support resources from any flag."),
    ),
    _notice(
        "payout_account.changed", Topic.MONEY, T("Your payout details changed"),
        T("Your payout details were changed on %(changed_at)s. For your safety, payouts "
          "are held until %(hold_until)s."),
        T("If you did not make this change, contact support and change your password now."),
    ),
    _notice(
        "payout_account.readiness", Topic.MONEY,
        (Part(T("Your payout account is ready"), "ready"),
         Part(T("Your payout account needs attention"), "!ready")),
        Part(T("Stripe has verified your payout account; you will be paid in the next run."),
             "ready"),
        Part(T("Stripe needs more details before you can be paid: %(due)s. Open your payout "
               "settings."), "due"),
        Part(T("Stripe needs more details before you can be paid. Open your payout "
               "settings."), "unsaid"),
        email=False,
    ),
    # --- the trainer's standing: access -------------------------------------------------
    _notice(
        "quality.restricted", Topic.ACCESS, T("Restricted on %(project)s"),
        Part(T("You may not claim new tasks on %(project)s until %(ends_at)s."), "ends_at"),
        Part(T("You may not claim new tasks on %(project)s until a manager decides."),
             "!ends_at"),
        *FIGURES,
        ONLY_FORWARD,
        T("You may ask for a review once, in writing (%(appeal_path)s)."),
    ),
    _notice(
        "quality.appealed", Topic.ACCESS, T("Review asked for: %(project)s"),
        T("Your request for a review of your restriction on %(project)s is with the "
          "project's managers, who will confirm, shorten or lift it and tell you why."),
    ),
    _notice(
        "quality.appeal_received", Topic.WORK, T("A quality restriction to review: %(project)s"),
        T("A trainer asks for a review of a quality restriction on %(project)s, with a "
          "written statement. Confirm, shorten or lift it, with a reason "
          "(%(decision_path)s)."),
    ),
    _notice(
        "quality.decided", Topic.ACCESS, T("A decision on your restriction: %(project)s"),
        Part(T("Your restriction on %(project)s stands until %(ends_at)s."), "confirmed"),
        Part(T("Your restriction on %(project)s stands until a manager lifts it."),
             "confirmed_open"),
        Part(T("Your restriction on %(project)s is shortened: it ends at %(ends_at)s."),
             "shortened"),
        Part(T("Your restriction on %(project)s is lifted: you may claim tasks on the "
               "project again."), "lifted"),
        T("Reason: %(reason)s"),
    ),
    _notice(
        "account_action.announced", Topic.ACCESS,
        (Part(T("%(organisation)s: your account is to be restricted"), "restrict"),
         Part(T("%(organisation)s: your account is to be deactivated"), "!restrict")),
        Part(T("%(organisation)s restricts your account with it, at once, because of "
               "%(reason)s."), "restrict_now"),
        Part(T("%(organisation)s restricts your account with it on %(effective_at)s, "
               "after the notice period."), "restrict_later"),
        Part(T("%(organisation)s deactivates your account with it, at once, because of "
               "%(reason)s."), "deactivate_now"),
        Part(T("%(organisation)s deactivates your account with it on %(effective_at)s, "
               "after the notice period."), "deactivate_later"),
        T("Reason: %(reason)s. %(explanation)s"),
        Part(RESTRICTED, "restrict"),
        Part(DEACTIVATED, "!restrict"),
        T("You may respond once, in writing, until %(respond_by)s (%(response_path)s). "
          "Money you earned is always paid out."),
    ),
    _notice(
        "account_action.responded", Topic.ACCESS, T("Your response was received"),
        T("Your response is with the organisation's staff, who will decide it."),
        Part(T("It does not take effect before a decision on your response."), "held"),
    ),
    _notice(
        "account_action.appealed", Topic.ACCESS, T("Your appeal was received"),
        T("Your appeal will be decided by a staff member other than the one who decided "
          "your response."),
    ),
    _notice(
        "account_action.decided", Topic.ACCESS, T("A decision on your response"),
        Part(T("The action stands: in effect from %(effective_at)s. %(note)s"), "upheld"),
        Part(T("You may appeal once (%(appeal_path)s); another staff member decides it."),
             "upheld"),
        Part(T("The action is withdrawn and has no effect. %(note)s"), "!upheld"),
    ),
    _notice(
        "account_action.appeal_decided", Topic.ACCESS, T("A decision on your appeal"),
        Part(T("Your appeal is dismissed; the action stands. %(note)s"), "upheld"),
        Part(T("Your appeal succeeded: the action ends now. %(note)s"), "!upheld"),
    ),
    _notice(
        "account_action.in_effect", Topic.ACCESS,
        (Part(T("Your account is restricted with this organisation"), "restrict"),
         Part(T("Your account is deactivated with this organisation"), "!restrict")),
        T("The action is in effect since %(effective_at)s."),
        Part(RESTRICTED, "restrict"),
        Part(DEACTIVATED, "!restrict"),
        T("Money you earned is always paid out."),
    ),
    _notice(
        "account.access_changed", Topic.ACCESS, T("Your access changed"),
        Part(T("Your role is now %(role)s."), "!deactivated"),
        Part(T("Your role is now %(role)s and your account is deactivated."), "deactivated"),
    ),
    _notice(
        "account.welcome", Topic.SECURITY, T("Welcome to workforce"),
        T("Verify your e-mail address (we sent you a token), then take an onboarding "
          "assessment to qualify for your first project."),
        email=False,
    ),
    _notice(
        "account.email_verified", Topic.SECURITY, T("E-mail address verified"),
        T("You can now apply to projects."),
        email=False,
    ),
    _notice(
        "account.password_changed", Topic.SECURITY, T("Your password was changed"),
        T("If this was not you, reset your password now and tell your administrator."),
        email=False,
    ),
    _notice(
        "account.mfa_enrolled", Topic.SECURITY, T("Second factor enrolled"),
        T("Your account now asks for a code from your authenticator app at login. Keep "
          "your recovery codes somewhere safe."),
        email=False,
    ),
    _notice(
        "account.recovery_code_used", Topic.SECURITY, T("A recovery code was used"),
        T("Someone signed in to your account with a recovery code; %(left)s are left. If "
          "it was not you, tell your administrator at once."),
        email=False,
    ),
    _notice(
        "invitation.accepted", Topic.WORK, T("Invitation accepted"),
        T("%(name)s joined as %(role)s."),
        email=False,
    ),
    _notice(
        "account.mfa_removed", Topic.ACCESS, T("Second factor removed"),
        T("%(admin)s removed your authenticator; enrol one again at your next login."),
    ),
    # --- the account's data: its erasure and export --------------------------------------
    _notice(
        "account.erasure_requested", Topic.SECURITY, T("Your workforce account will be erased"),
        T("Your account and personal data will be erased from %(effective_at)s. Until then "
          "you can cancel (DELETE /api/v1/me/erasure). Money you are owed is paid out first."),
    ),
    _notice(
        "account.erasure_cancelled", Topic.SECURITY, T("Erasure cancelled"),
        T("Your account will not be erased."),
        email=False,
    ),
    _notice(
        "data_export.ready", Topic.SECURITY, T("Your data export is ready"),
        T("Download it before %(expires_at)s; after that it is deleted."),
        email=False,
    ),
    # --- staff alerts -----------------------------------------------------------------------
    _notice(
        "webhook_endpoint.disabled", Topic.WORK, T("A webhook endpoint was disabled"),
        T("The webhook endpoint %(url)s has failed every delivery since %(since)s and was "
          "disabled. Its undelivered events wait: fix the receiver, then enable the endpoint "
          "again (PATCH /api/v1/webhook-endpoints/%(endpoint_id)s with enabled: true), or "
          "re-send events by hand."),
    ),
    # --- one-time links: e-mail only, to an address ----------------------------------------
    _notice(
        "email.verification", Topic.SECURITY, T("Verify your e-mail address for workforce"),
        T("Hello %(name)s,"),
        T("To apply to projects on workforce, show that this address is yours."),
        T("Verification token: %(secret)s"),
        T("Send it to POST %(url)s before %(expires_at)s."),
        T("If you did not sign up, ignore this message."),
        in_app=False,
    ),
    _notice(
        "email.password_reset", Topic.SECURITY, T("Reset your workforce password"),
        T("Someone asked to reset the password of your workforce account."),
        T("Reset token: %(secret)s"),
        T("Send it with a new password to POST %(url)s"),
        T("It works once, until %(expires_at)s. If it was not you, ignore this message."),
        in_app=False,
    ),
    _notice(
        "email.invitation", Topic.SECURITY, T("You are invited to %(organisation)s on workforce"),
        T("%(admin)s invited you to join %(organisation)s as %(role)s."),
        T("Invitation token: %(secret)s"),
        T("Accept it with POST %(url)s before %(expires_at)s."),
        in_app=False,
    ),
)}
