"""Fill a migrated, empty PostgreSQL database with a marketplace of a given ``Size``.

Everything is made by ``INSERT ... SELECT generate_series(...)`` inside PostgreSQL, so
10 million rows take minutes, not hours. Bulk rows get ordered UUIDs (a per-table prefix
and a sequence number) so that their primary keys are appended to, not scattered over,
the B-trees while loading; ids made by workforce itself stay random (uuid4).

The layout (``bench.meta`` and the ``bench.*`` tables record it for the runner):

- organisations 1..N; each has a vendor manager and a finance user (with API tokens);
- trainers 1..T (time zone UTC, country US); trainers 1..128 are active members of the
  two claim projects (1: workforce's, 2: the floor's), each with ``claim_tasks`` open
  tasks; the other tasks are spread over projects 3..P;
- the ledger of organisation 1: a payable account per trainer and an expense account;
  one journal entry per earning (two postings: expense debit, payable credit), 2% of
  them still in a hold period. Trainer 200 has ``small_trainer_postings`` entries and
  trainer 201 ``large_trainer_postings``; the rest are spread over the others. Stored
  balances equal the postings, as ``ledger.check_balances`` demands;
- organisation 2 owes the first tenth of the trainers one earning each (the payout
  build's memory is compared between organisations 2 and 1);
- organisation 3 owes the last ``send_items`` trainers one earning each, and organisation
  4 the last fifth of those (the run sent by a single sender, as before); they are paid
  through Stripe (accounts at the stand-in are attached by the sending benchmark); every
  other trainer has bank details for the manual method, except 5% with no payout
  account and 5% whose Stripe onboarding is not finished (they become exclusions);
- a weekly payout schedule per organisation, minimum 10.00 USD.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import psycopg

from bench.sizes import Size

CLAIM_TRAINERS = 128
SMALL_TRAINER = 200
LARGE_TRAINER = 201
TOKEN_PREFIX = "wf_bench_"


def seq_uuid(prefix: str, expr: str) -> str:
    """SQL for an ordered UUID: 8 hex digits of ``prefix`` then the number ``expr``."""
    return (f"('{prefix}' || '-0000-4000-8000-' || lpad(to_hex({expr}), 12, '0'))::uuid")


def trainer_id(n: int) -> str:
    return f"7a000000-0000-4000-8000-{n:012x}"


def token(kind: str, n: int) -> str:
    """The raw bearer token the generator stores (hashed) for a trainer or staff user."""
    return f"{TOKEN_PREFIX}{kind}_{n}"


def generate(url: str, size: Size, log: Callable[[str], None] = print, *,
             resume_at: str | None = None) -> dict[str, float]:
    """Load ``size`` into the database at ``url`` (psycopg URL); returns seconds per step.
    ``resume_at`` names the step to start from (the earlier ones were committed)."""
    if size.trainers < 300:
        raise ValueError("at least 300 trainers (128 claimers, trainers 200 and 201)")
    if size.projects < 3 or size.organisations < 4:
        raise ValueError("at least 3 projects and 4 organisations")
    timings: dict[str, float] = {}
    with psycopg.connect(url, autocommit=False) as conn:
        conn.execute("SET synchronous_commit = off")
        conn.execute("SET maintenance_work_mem = '256MB'")
        conn.execute("SET work_mem = '64MB'")
        # The rows are consistent by construction: skip the per-row foreign-key triggers
        # (superuser only; the benchmark server's postgres user is one).
        conn.execute("SET session_replication_role = replica")
        steps = _steps(size)
        if resume_at is not None:
            steps = steps[[name for name, _ in steps].index(resume_at):]
        for name, step in steps:
            started = time.perf_counter()
            for statement in step:
                conn.execute(statement)
            conn.commit()
            timings[name] = time.perf_counter() - started
            log(f"  {name}: {timings[name]:.1f} s")
    # As autovacuum leaves a table in service: statistics, and the visibility map set
    # (index-only scans, such as the held credits', read no table pages).
    started = time.perf_counter()
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("VACUUM (ANALYZE)")
    timings["vacuum"] = time.perf_counter() - started
    log(f"  vacuum: {timings['vacuum']:.1f} s")
    return timings


def sequential_items(size: Size) -> int:
    """Trainers organisation 4 owes: the sending benchmark's run with one sender."""
    return max(50, size.send_items // 5)


def _steps(size: Size) -> list[tuple[str, list[str]]]:
    T, P, N_ORGS = size.trainers, size.projects, size.organisations
    entries = size.postings // 2
    tenth = max(1, T // 10)
    sequential = sequential_items(size)
    spread = entries - size.small_trainer_postings - size.large_trainer_postings \
        - tenth - size.send_items - sequential
    if spread < T:
        raise ValueError("too few postings for this many trainers")
    spread_tasks = size.tasks - 2 * size.claim_tasks
    if spread_tasks < 0:
        raise ValueError("fewer tasks than the claim projects need")
    # Projects 1 and 2 (the claim projects) belong to organisation 1; the others go
    # round the organisations, each created by its organisation's vendor manager.
    project_org = f"CASE WHEN n <= 2 THEN 1 ELSE (n - 1) % {N_ORGS} + 1 END"
    project_manager = f"CASE WHEN n <= 2 THEN 1 ELSE ((n - 1) % {N_ORGS}) * 2 + 1 END"
    org = seq_uuid("0a000000", "n")
    staff = seq_uuid("5a000000", "n")
    trainer = seq_uuid("7a000000", "n")
    project = seq_uuid("9a000000", "n")
    return [
        ("bookkeeping", [
            "CREATE SCHEMA IF NOT EXISTS bench",
            "CREATE TABLE bench.meta (key text PRIMARY KEY, value text NOT NULL)",
            f"""INSERT INTO bench.meta VALUES ('size', '{size.name}'),
                ('trainers', '{T}'), ('projects', '{P}'), ('organisations', '{N_ORGS}'),
                ('tasks', '{size.tasks}'), ('postings', '{size.postings}')""",
        ]),
        ("organisations and staff", [
            f"""INSERT INTO organisations (id, name, slug, created_at, updated_at)
                SELECT {org}, 'Bench org ' || n, 'bench-org-' || n, now(), now()
                FROM generate_series(1, {N_ORGS}) n""",
            # Staff n (odd: vendor manager, even: finance) of organisation (n+1)/2.
            f"""INSERT INTO users (id, email, password_hash, display_name, role,
                    organisation_id, country, timezone, languages, is_active,
                    email_verified_at, created_at, updated_at)
                SELECT {staff}, 'staff' || n || '@bench.example', 'no-login',
                       'Staff ' || n,
                       CASE WHEN n % 2 = 1 THEN 'vendor_manager' ELSE 'finance' END,
                       {seq_uuid('0a000000', '(n + 1) / 2')}, 'US', 'UTC', '["en"]',
                       true, now(), now(), now()
                FROM generate_series(1, {2 * N_ORGS}) n""",
            f"""INSERT INTO api_tokens (id, user_id, token_hash, label, created_at, expires_at)
                SELECT gen_random_uuid(), {staff},
                       encode(sha256(convert_to('{TOKEN_PREFIX}staff_' || n, 'UTF8')), 'hex'),
                       'bench', now(), now() + interval '30 days'
                FROM generate_series(1, {2 * N_ORGS}) n""",
        ]),
        ("trainers", [
            f"""INSERT INTO users (id, email, password_hash, display_name, role,
                    organisation_id, country, timezone, languages, is_active,
                    email_verified_at, created_at, updated_at)
                SELECT {trainer}, 'trainer' || n || '@bench.example', 'no-login',
                       'Trainer ' || n, 'trainer', NULL, 'US', 'UTC', '["en"]', true,
                       now(), now(), now()
                FROM generate_series(1, {T}) n""",
            f"""INSERT INTO api_tokens (id, user_id, token_hash, label, created_at, expires_at)
                SELECT gen_random_uuid(), {trainer},
                       encode(sha256(convert_to('{TOKEN_PREFIX}trainer_' || n, 'UTF8')),
                              'hex'),
                       'bench', now(), now() + interval '30 days'
                FROM generate_series(1, 300) n""",
        ]),
        ("projects", [
            # Projects 1 and 2 (the claim projects) belong to organisation 1.
            f"""INSERT INTO projects (id, organisation_id, name, description, state, capacity,
                    sensitivity, content_categories, auto_approve_days,
                    review_sample_percent, lease_seconds, pay_model, currency,
                    estimated_task_seconds, idle_timeout_seconds, created_by_id,
                    activated_at, created_at, updated_at)
                SELECT {project}, {seq_uuid('0a000000', project_org)},
                       'Bench project ' || n, '', 'active', 1000000, 'none', '[]', 7, 100,
                       3600, 'per_task', 'USD', 60, 900,
                       {seq_uuid('5a000000', project_manager)},
                       now() - interval '60 days', now() - interval '60 days', now()
                FROM generate_series(1, {P}) n""",
            """INSERT INTO project_rates (id, project_id, number, amount, currency,
                    effective_from, reason, created_by_id, created_at)
                SELECT gen_random_uuid(), p.id, 1, 40, 'USD', now() - interval '60 days', '',
                       p.created_by_id, now() - interval '60 days'
                FROM projects p WHERE p.name LIKE 'Bench project %'""",
            """INSERT INTO project_guidelines (id, project_id, number, body, change_note,
                    created_by_id, created_at)
                SELECT gen_random_uuid(), p.id, 1, 'Label the clip as you hear it.', '',
                       p.created_by_id, now() - interval '60 days'
                FROM projects p WHERE p.name LIKE 'Bench project %'""",
            f"""INSERT INTO project_members (id, project_id, trainer_id, state, origin,
                    message, joined_at, created_at, updated_at)
                SELECT gen_random_uuid(), {seq_uuid('9a000000', 'p')}, {trainer}, 'active',
                       'application', '', now(), now(), now()
                FROM generate_series(1, {CLAIM_TRAINERS}) n, generate_series(1, 2) p""",
        ]),
        ("tasks", [
            *_task_chunks(size.claim_tasks, spread_tasks, P),
        ]),
        ("ledger accounts", [
            # a: 1..T payable of org 1, T+1 expense of org 1, T+2..T+1+tenth payable of
            # org 2, then org 2's expense, then org 3's payables and expense.
            f"""INSERT INTO ledger_accounts (id, organisation_id, owner_type, owner_id, kind,
                    currency, balance, created_at)
                SELECT {seq_uuid('1a000000', 'n')}, {seq_uuid('0a000000', '1')}, 'trainer',
                       {trainer}, 'payable', 'USD', 0, now() - interval '400 days'
                FROM generate_series(1, {T}) n
                UNION ALL
                SELECT {seq_uuid('1b000000', '1')}, {seq_uuid('0a000000', '1')},
                       'organisation', {seq_uuid('0a000000', '1')}, 'expense', 'USD', 0,
                       now() - interval '400 days'
                UNION ALL
                SELECT {seq_uuid('2a000000', 'n')}, {seq_uuid('0a000000', '2')}, 'trainer',
                       {trainer}, 'payable', 'USD', 0, now() - interval '400 days'
                FROM generate_series(1, {tenth}) n
                UNION ALL
                SELECT {seq_uuid('2b000000', '1')}, {seq_uuid('0a000000', '2')},
                       'organisation', {seq_uuid('0a000000', '2')}, 'expense', 'USD', 0,
                       now() - interval '400 days'
                UNION ALL
                SELECT {seq_uuid('3a000000', 'n')}, {seq_uuid('0a000000', '3')}, 'trainer',
                       {trainer}, 'payable', 'USD', 0, now() - interval '400 days'
                FROM generate_series({T - size.send_items + 1}, {T}) n
                UNION ALL
                SELECT {seq_uuid('3b000000', '1')}, {seq_uuid('0a000000', '3')},
                       'organisation', {seq_uuid('0a000000', '3')}, 'expense', 'USD', 0,
                       now() - interval '400 days'
                UNION ALL
                SELECT {seq_uuid('c4000000', 'n')}, {seq_uuid('0a000000', '4')}, 'trainer',
                       {trainer}, 'payable', 'USD', 0, now() - interval '400 days'
                FROM generate_series({T - sequential + 1}, {T}) n
                UNION ALL
                SELECT {seq_uuid('c4b00000', '1')}, {seq_uuid('0a000000', '4')},
                       'organisation', {seq_uuid('0a000000', '4')}, 'expense', 'USD', 0,
                       now() - interval '400 days'""",
            # Who earned entry k: (org, account prefix, trainer n).
            f"""CREATE UNLOGGED TABLE bench.entries AS
                SELECT k, 1 AS org, {SMALL_TRAINER} AS n
                FROM generate_series(1, {size.small_trainer_postings}) k
                UNION ALL
                SELECT {size.small_trainer_postings} + k, 1, {LARGE_TRAINER}
                FROM generate_series(1, {size.large_trainer_postings}) k
                UNION ALL
                SELECT {size.small_trainer_postings + size.large_trainer_postings} + k, 1,
                       CASE WHEN (k - 1) % {T - 2} + 1 >= {SMALL_TRAINER}
                            THEN (k - 1) % {T - 2} + 3 ELSE (k - 1) % {T - 2} + 1 END
                FROM generate_series(1, {spread}) k
                UNION ALL
                SELECT {entries - tenth - size.send_items - sequential} + k, 2, k
                FROM generate_series(1, {tenth}) k
                UNION ALL
                SELECT {entries - size.send_items - sequential} + k, 3,
                       {T - size.send_items} + k
                FROM generate_series(1, {size.send_items}) k
                UNION ALL
                SELECT {entries - sequential} + k, 4, {T - sequential} + k
                FROM generate_series(1, {sequential}) k""",
        ]),
        ("journal entries", [
            f"""INSERT INTO journal_entries (id, source_type, source_id, reason,
                    organisation_id, trainer_id, project_id, occurred_at, created_at)
                SELECT {seq_uuid('4a000000', 'k')}, 'task_approval', {seq_uuid('4b000000', 'k')},
                       'Task approved', {seq_uuid('0a000000', 'org')}, {trainer},
                       {seq_uuid('9a000000', f'(k % {P}) + 1')},
                       now() - interval '1 second' * ((k::bigint * 7919) % 31536000),
                       now() - interval '1 second' * ((k::bigint * 7919) % 31536000)
                FROM bench.entries""",
        ]),
        ("postings", [
            # The trainer's credit (2% still on hold for up to 7 days), then the debit.
            f"""INSERT INTO postings (id, entry_id, account_id, amount, currency, available_at,
                    created_at)
                SELECT {seq_uuid('6a000000', 'k')}, {seq_uuid('4a000000', 'k')},
                       CASE org WHEN 1 THEN {seq_uuid('1a000000', 'n')}
                                WHEN 2 THEN {seq_uuid('2a000000', 'n')}
                                WHEN 3 THEN {seq_uuid('3a000000', 'n')}
                                ELSE {seq_uuid('c4000000', 'n')} END,
                       -(900 + k % 400), 'USD',
                       CASE WHEN k % 50 = 0 THEN now() + interval '1 minute' * (k % 10000)
                            END,
                       now() - interval '1 second' * ((k::bigint * 7919) % 31536000)
                FROM bench.entries""",
            f"""INSERT INTO postings (id, entry_id, account_id, amount, currency, available_at,
                    created_at)
                SELECT {seq_uuid('6b000000', 'k')}, {seq_uuid('4a000000', 'k')},
                       CASE org WHEN 1 THEN {seq_uuid('1b000000', '1')}
                                WHEN 2 THEN {seq_uuid('2b000000', '1')}
                                WHEN 3 THEN {seq_uuid('3b000000', '1')}
                                ELSE {seq_uuid('c4b00000', '1')} END,
                       900 + k % 400, 'USD', NULL,
                       now() - interval '1 second' * ((k::bigint * 7919) % 31536000)
                FROM bench.entries""",
            """UPDATE ledger_accounts a SET balance = s.total
               FROM (SELECT account_id, sum(amount) AS total FROM postings GROUP BY account_id) s
               WHERE a.id = s.account_id""",
            "DROP TABLE bench.entries",
        ]),
        ("earning days", [
            # As migration 0009 fills them: every generated entry is an earning.
            """INSERT INTO ledger_earning_days (account_id, day, amount)
               SELECT p.account_id, (e.occurred_at AT TIME ZONE 'UTC')::date, sum(p.amount)
               FROM postings p JOIN journal_entries e ON e.id = p.entry_id
               JOIN ledger_accounts a ON a.id = p.account_id
               WHERE a.kind = 'payable'
               GROUP BY 1, 2""",
        ]),
        ("payout accounts and schedules", [
            f"""INSERT INTO payout_accounts (id, trainer_id, method, stripe_account_id,
                    payouts_enabled, requirements, bank_details, created_at, updated_at)
                SELECT gen_random_uuid(), {trainer},
                       CASE WHEN n > {T - size.send_items} OR n % 20 = 1 THEN 'stripe'
                            ELSE 'manual' END,
                       CASE WHEN n % 20 = 1 AND n <= {T - size.send_items}
                            THEN 'acct_bench_pending_' || n END,
                       false, '{{}}',
                       CASE WHEN n > {T - size.send_items} OR n % 20 = 1 THEN '{{}}'
                            ELSE jsonb_build_object('holder', 'Trainer ' || n,
                                 'iban', 'DE89370400440532013000') END,
                       now() - interval '100 days', now() - interval '100 days'
                FROM generate_series(1, {T}) n WHERE n % 20 <> 2""",
            f"""INSERT INTO payout_schedules (id, organisation_id, name, weekday, hour, minute,
                    timezone, minimums, auto_approve, active, created_at, updated_at)
                SELECT gen_random_uuid(), {org}, 'Weekly', 0, 2, 0, 'UTC', '{{"USD": 1000}}',
                       false, true, now(), now()
                FROM generate_series(1, {N_ORGS}) n""",
        ]),
    ]


def _task_chunks(claim_tasks: int, spread: int, projects: int, chunk: int = 1_000_000
                 ) -> list[str]:
    """Tasks in statements of at most ``chunk`` rows: the claim projects' first."""
    task = seq_uuid("8a000000", "k")
    statements = [
        f"""INSERT INTO tasks (id, project_id, external_id, payload, redundancy, priority,
                gold_answer, open_slots, created_at, updated_at)
            SELECT {task}, {seq_uuid('9a000000', f'(k - 1) / {claim_tasks} + 1')},
                   'claim-' || k,
                   jsonb_build_object('prompt', 'Which accent is this? #' || k,
                                      'media_urls', jsonb_build_array(
                                          'https://media.example.com/clips/' || k || '.ogg'),
                                      'instructions', ''),
                   1, 0, 'null', 1,
                   now() - interval '30 days' + interval '1 millisecond' * k, now()
            FROM generate_series(1, {2 * claim_tasks}) k"""
    ]
    first = 2 * claim_tasks + 1
    last = 2 * claim_tasks + spread
    spread_projects = max(projects - 2, 1)
    for start in range(first, last + 1, chunk):
        end = min(start + chunk - 1, last)
        statements.append(
            f"""INSERT INTO tasks (id, project_id, external_id, payload, redundancy, priority,
                    gold_answer, open_slots, created_at, updated_at)
                SELECT {task}, {seq_uuid('9a000000', f'(k % {spread_projects}) + 3')},
                       'task-' || k,
                       jsonb_build_object('prompt', 'Label item #' || k,
                                          'media_urls', '[]'::jsonb, 'instructions', ''),
                       1 + k % 3, k % 5, 'null', 1 + k % 3,
                       now() - interval '30 days' + interval '1 millisecond' * k, now()
                FROM generate_series({start}, {end}) k""")
    return statements


def seq_project(n: int) -> str:
    return f"9a000000-0000-4000-8000-{n:012x}"
