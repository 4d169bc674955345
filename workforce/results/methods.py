"""The aggregation methods: crowd-kit's models (and scipy's t-interval) over plain
columns of answers, answering plain Python values.

Nothing here reads the database. Each function takes parallel lists (task, worker,
answer value) and returns what each task concluded and, where the model estimates one,
each worker's skill. crowd-kit and pandas are imported on first use: they take seconds
and about 200 MB to import, which the web processes never pay (aggregation runs in the
scheduler or from the command line only).
"""

from __future__ import annotations

import importlib
import math
import statistics
import sys
import threading
import warnings
from collections.abc import Hashable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

CATEGORICAL = ("majority_vote", "dawid_skene", "glad", "mace")
NUMERIC = ("mean_ci", "median_ci")
PAIRWISE = ("bradley_terry", "noisy_bt")
# What each kind of field may use, the first being its default; text, rubric and span
# answers are not aggregated (the approved answers are the result).
BY_KIND: dict[str, tuple[str, ...]] = {
    "single_choice": ("dawid_skene", "majority_vote", "glad", "mace"),
    "multi_choice": ("dawid_skene", "majority_vote", "glad", "mace"),
    "rating": ("mean_ci", "median_ci"),
    "number": ("mean_ci", "median_ci"),
    "pairwise": ("bradley_terry", "noisy_bt"),
}
# What a worker's skill means, per method (shown to trainers with their figure).
SKILL_MEANING = {
    "majority_vote": "share of answers equal to the majority label",
    "dawid_skene": "estimated probability of answering the true label (Dawid-Skene "
                   "confusion matrix, weighted by the labels' prior)",
    "glad": "GLAD expertise (alpha): 0 is guessing, higher is better",
    "mace": "MACE probability of answering truthfully rather than at random",
    "noisy_bt": "noisy Bradley-Terry probability of comparing in earnest",
}
CONFIDENCE_LEVEL = 0.95
BT_ITERATIONS = 100


@dataclass
class Outcome:
    """What one method concluded: per task (value, confidence), per worker a skill, and
    for pairwise fields a score per compared item."""

    tasks: dict[Hashable, tuple[Any, float | None]] = field(default_factory=dict)
    skills: dict[Hashable, float] = field(default_factory=dict)
    scores: dict[str, float] = field(default_factory=dict)


@contextmanager
def _quiet() -> Iterator[None]:
    """crowd-kit 1.4 calls pandas methods that pandas 3 deprecates (``inplace=``):
    warnings about the library's own code, not ours. Its GLAD takes the logarithm of
    zero when every answer has the same label (no other label to share the rest): a
    numpy warning, and the right answer (that label, confidence 1)."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=DeprecationWarning)
        warnings.filterwarnings("ignore", category=FutureWarning)
        warnings.filterwarnings("ignore", message=".*inplace keyword.*")
        warnings.filterwarnings("ignore", category=RuntimeWarning, module="crowdkit")
        yield


def warm_up() -> None:
    """Import crowd-kit's aggregation classes (with pandas, numpy and scipy) now, in this
    thread. The scheduler's process starts the same import in a thread when it starts
    (``workforce scheduler``: :func:`import_in_background`), so that its aggregation
    runs never wait 2 to 4 s for it; never in a web process, which must not load them."""
    importlib.import_module("crowdkit.aggregation")


def import_in_background() -> None:
    """Start importing crowd-kit (and pandas, scipy) in a thread, so that the seconds it
    takes pass while the caller waits on the database; the first use then waits for it
    (Python's import lock) rather than importing again."""
    if "crowdkit.aggregation" not in sys.modules:
        threading.Thread(target=importlib.import_module, args=("crowdkit.aggregation",),
                         name="import crowd-kit", daemon=True).start()


def _frame(columns: dict[str, Sequence[Any]]) -> Any:
    import pandas as pd

    return pd.DataFrame(columns)


def _model(method: str) -> Any:
    from crowdkit.aggregation import GLAD, MACE, DawidSkene, MajorityVote

    return {"majority_vote": lambda: MajorityVote(),
            "dawid_skene": lambda: DawidSkene(n_iter=100),
            "glad": lambda: GLAD(n_iter=100),
            "mace": lambda: MACE(n_restarts=3, n_iter=50, random_state=0)}[method]()


def categorical(method: str, tasks: Sequence[Hashable], workers: Sequence[Hashable],
                labels: Sequence[str]) -> Outcome:
    """The label of each task with its posterior probability, by ``method``."""
    outcome = Outcome()
    if not tasks:
        return outcome
    model = _model(method)
    # crowd-kit hashes ids in every iteration: whole numbers are several times faster
    # than UUID objects, so tasks and workers go in as their index in a list.
    task_ids, task_codes = _codes(tasks)
    worker_ids, worker_codes = _codes(workers)
    data = _frame({"task": task_codes, "worker": worker_codes, "label": labels})
    with _quiet():
        probas = model.fit_predict_proba(data)
    outcome.tasks = _best(probas, task_ids)
    outcome.skills = {worker_ids[code]: skill
                      for code, skill in _skills(method, model, data).items()}
    return outcome


def _best(probas: Any, task_ids: Any) -> dict[Hashable, tuple[Any, float | None]]:
    """{task: (its most probable label, that probability)}, from a frame of posteriors
    (a row per task code, a column per label), by whole columns rather than per row."""
    import numpy as np

    values = probas.to_numpy()
    best = values.argmax(axis=1)
    labels = np.asarray(probas.columns, dtype=object)[best].tolist()
    confidences = np.clip(values[np.arange(len(best)), best], 0.0, 1.0).tolist()
    tasks = task_ids[probas.index.to_numpy()].tolist()
    return dict(zip(tasks, zip(labels, confidences, strict=True), strict=True))


def _codes(ids: Sequence[Hashable]) -> tuple[Any, Any]:
    """The distinct ids in order of appearance (an array), and each id's index among
    them: pandas' factorize, in C rather than a Python loop over every answer."""
    import pandas as pd

    codes, uniques = pd.Series(ids, dtype=object).factorize()
    return uniques.to_numpy(dtype=object), codes


def _skills(method: str, model: Any, data: Any) -> dict[Hashable, float]:
    if method == "majority_vote":
        return {w: float(s) for w, s in model.skills_.items()}
    if method == "glad":
        return {w: float(s) for w, s in model.alphas_.items()}
    if method == "mace":
        import pandas as pd

        _, names = pd.factorize(data["worker"])
        return {w: float(model.spamming_[i, 1]) for i, w in enumerate(names)}
    return _dawid_skene_skills(model)


def _dawid_skene_skills(model: Any) -> dict[Hashable, float]:
    errors, priors = model.errors_, model.priors_
    diagonal = {}
    for (worker, observed), row in zip(errors.index, errors.to_numpy(), strict=True):
        if observed in priors.index:
            column = errors.columns.get_loc(observed)
            diagonal[worker] = diagonal.get(worker, 0.0) + float(priors[observed]
                                                                 * row[column])
    return diagonal


def numeric(method: str, tasks: Sequence[Hashable], values: Sequence[float],
            scale: tuple[float | None, float | None] = (None, None)) -> Outcome:
    """Each task's mean and median with the mean's 95% t-interval (none for one
    answer), kept within the field's ``scale`` (its min and max, where it has them: a
    MOS of 4 and 5 from two listeners is not "up to 6.5"); the value is the mean
    (``mean_ci``) or the median (``median_ci``)."""
    from scipy import stats

    grouped: dict[Hashable, list[float]] = {}
    for task, value in zip(tasks, values, strict=True):
        grouped.setdefault(task, []).append(float(value))
    outcome = Outcome()
    for task, answers in grouped.items():
        n, mean = len(answers), statistics.fmean(answers)
        low = high = None
        if n > 1:
            spread = statistics.stdev(answers) / math.sqrt(n)
            half = float(stats.t.ppf(0.5 + CONFIDENCE_LEVEL / 2, n - 1)) * spread
            low, high = _within(mean - half, scale), _within(mean + half, scale)
        median = statistics.median(answers)
        outcome.tasks[task] = ({"value": mean if method == "mean_ci" else median,
                                "mean": mean, "median": median, "ci_low": low,
                                "ci_high": high, "level": CONFIDENCE_LEVEL, "n": n}, None)
    return outcome


def _within(value: float, scale: tuple[float | None, float | None]) -> float:
    low, high = scale
    if low is not None and value < low:
        return float(low)
    return float(high) if high is not None and value > high else value


def pairwise(method: str, tasks: Sequence[Hashable], workers: Sequence[Hashable],
             sides: Sequence[tuple[str, str]], choices: Sequence[str]) -> Outcome:
    """Bradley-Terry (or noisy BT) scores of every compared item across the project,
    and per task the preferred side (A, B, or tie when the scores are equal) with the
    model's probability that it wins. ``sides`` holds each answer's (A item, B item);
    ties answered are left out of the fit (the models know wins only)."""
    from crowdkit.aggregation import BradleyTerry, NoisyBradleyTerry

    rows = [(w, a, b, a if c == "A" else b)
            for w, (a, b), c in zip(workers, sides, choices, strict=True) if c in "AB"]
    outcome = Outcome()
    if not rows:
        return outcome
    data = _frame({"worker": [r[0] for r in rows], "left": [r[1] for r in rows],
                   "right": [r[2] for r in rows], "label": [r[3] for r in rows]})
    model = (BradleyTerry(n_iter=BT_ITERATIONS) if method == "bradley_terry"
             else NoisyBradleyTerry(n_iter=BT_ITERATIONS))
    with _quiet():
        model.fit(data)
    scores = {str(k): float(v) for k, v in model.scores_.items()}
    outcome.scores = scores
    if method == "noisy_bt":
        outcome.skills = {w: float(s) for w, s in model.skills_.items()}
    for task, (a, b) in dict(zip(tasks, sides, strict=True)).items():
        outcome.tasks[task] = _verdict(method, scores.get(a), scores.get(b), a, b)
    return outcome


def _verdict(method: str, a: float | None, b: float | None, a_id: str,
             b_id: str) -> tuple[dict[str, Any], float]:
    if a is None or b is None:
        return {"preferred": "tie", "probability": 0.5, "scores": {}}, 0.5
    if method == "bradley_terry":
        p_a = a / (a + b) if a + b > 0 else 0.5
    else:  # noisy BT scores are sigmoids of the latent strength
        p_a = 1 / (1 + math.exp(-(_logit(a) - _logit(b))))
    preferred = "A" if p_a > 0.5 else "B" if p_a < 0.5 else "tie"
    probability = max(p_a, 1 - p_a)
    return ({"preferred": preferred, "probability": probability,
             "scores": {a_id: a, b_id: b}}, probability)


def _logit(p: float) -> float:
    p = min(max(p, 1e-12), 1 - 1e-12)
    return math.log(p / (1 - p))
