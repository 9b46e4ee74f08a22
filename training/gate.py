"""The promotion gate: may a newly trained model (the challenger) replace the served one?

A pure decision, metrics in and a typed decision out; ``run.py`` applies it before anything
is published. Two kinds of check, all on the challenger's hold-out rows:

- floors, always: ROC-AUC at least ``min_roc_auc``; sensitivity at the chosen threshold at
  least the target sensitivity minus ``max_sensitivity_shortfall``; specificity at least
  ``min_specificity``;
- the champion (the model ``LATEST`` names in the destination), when there is one that can
  be compared: scored on the same rows at its own threshold, the challenger's ROC-AUC and
  sensitivity may each be below the champion's by at most a tolerance.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

GATE_METRICS = ("roc_auc", "sensitivity", "specificity")
# Metrics compared with the champion (specificity is held by its floor only: the threshold
# trades it for sensitivity on purpose).
CHAMPION_METRICS = ("roc_auc", "sensitivity")
# Differences this small are rounding, not a worse model.
SLACK = 1e-9


@dataclass(frozen=True)
class GatePolicy:
    """Floors and tolerances (the command line's defaults are these)."""

    min_roc_auc: float = 0.95
    max_sensitivity_shortfall: float = 0.10
    min_specificity: float = 0.50
    champion_roc_auc_tolerance: float = 0.02
    champion_sensitivity_tolerance: float = 0.05

    def floors(self, target_sensitivity: float) -> dict[str, float]:
        return {
            "roc_auc": self.min_roc_auc,
            "sensitivity": max(target_sensitivity - self.max_sensitivity_shortfall, 0.0),
            "specificity": self.min_specificity,
        }

    def tolerance(self, metric: str) -> float:
        return {
            "roc_auc": self.champion_roc_auc_tolerance,
            "sensitivity": self.champion_sensitivity_tolerance,
        }[metric]


@dataclass(frozen=True)
class Scores:
    """A model's gate metrics on the challenger's hold-out rows."""

    roc_auc: float
    sensitivity: float
    specificity: float

    @classmethod
    def from_metrics(cls, metrics: dict) -> Scores:
        return cls(**{name: float(metrics[name]) for name in GATE_METRICS})


@dataclass(frozen=True)
class Champion:
    """The model ``LATEST`` names: its scores, or why it cannot be compared."""

    version: str
    scores: Scores | None = None
    not_comparable: str | None = None


@dataclass(frozen=True)
class Check:
    """One comparison: the challenger's value against the least value that passes."""

    metric: str
    against: str  # "floor" or "champion"
    challenger: float
    required: float
    reference: float  # the floor itself, or the champion's value
    passed: bool

    def sentence(self, champion_version: str | None = None) -> str:
        verdict = "is at least" if self.passed else "is below"
        if self.against == "floor":
            return f"{self.metric} {self.challenger:.4f} {verdict} the floor {self.required:.4f}"
        tolerance = self.reference - self.required
        return (
            f"{self.metric} {self.challenger:.4f} {verdict} the champion {champion_version}'s "
            f"{self.reference:.4f} minus the tolerance {tolerance:.4f}"
        )


@dataclass(frozen=True)
class PromotionDecision:
    """Every check, the champion compared with (if any) and whether the gate was skipped."""

    challenger: Scores
    checks: tuple[Check, ...]
    champion: Champion | None
    policy: GatePolicy
    target_sensitivity: float
    skipped: bool = False
    failed: tuple[Check, ...] = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "failed", tuple(c for c in self.checks if not c.passed))

    @property
    def passed(self) -> bool:
        return not self.failed

    @property
    def promoted(self) -> bool:
        return self.passed or self.skipped

    @property
    def champion_version(self) -> str | None:
        return self.champion.version if self.champion else None

    def reasons(self) -> str:
        """The failed checks in one line (what a refusal says), or that all passed."""
        if self.passed:
            return "every check passed"
        return "; ".join(check.sentence(self.champion_version) for check in self.failed)

    def champion_note(self) -> str:
        if self.champion is None:
            return "no champion (nothing promoted yet): judged by the floors"
        if self.champion.scores is None:
            return (
                f"champion {self.champion.version} cannot be compared "
                f"({self.champion.not_comparable}): judged by the floors"
            )
        return f"compared with champion {self.champion.version} on the same hold-out rows"

    def to_json(self) -> dict:
        """What ``promotion.json`` records."""
        champion = None
        if self.champion is not None:
            champion = {
                "version": self.champion.version,
                "comparable": self.champion.scores is not None,
                "scores": asdict(self.champion.scores) if self.champion.scores else None,
                "not_comparable": self.champion.not_comparable,
            }
        return {
            "promoted": self.promoted,
            "passed": self.passed,
            "gate_skipped": self.skipped,
            "reasons": self.reasons(),
            "challenger": asdict(self.challenger),
            "champion": champion,
            "checks": [asdict(check) for check in self.checks],
            "policy": asdict(self.policy),
            "target_sensitivity": self.target_sensitivity,
        }


def decide(
    challenger: Scores,
    champion: Champion | None,
    policy: GatePolicy,
    target_sensitivity: float,
    skip: bool = False,
) -> PromotionDecision:
    """Judge the challenger against the floors and, when comparable, the champion.

    Args:
        challenger: The new model's hold-out scores.
        champion: The served model scored on the same rows, one that cannot be compared, or
            None when nothing was promoted before.
        policy: Floors and tolerances.
        target_sensitivity: The sensitivity the threshold was chosen for.
        skip: ``--skip-promotion-gate``: the checks are still run and recorded, and the
            challenger is promoted whatever they say.

    Returns:
        The decision; ``promoted`` says whether to publish.
    """
    checks = [
        _check(metric, "floor", getattr(challenger, metric), floor, floor)
        for metric, floor in policy.floors(target_sensitivity).items()
    ]
    if champion is not None and champion.scores is not None:
        for metric in CHAMPION_METRICS:
            theirs = getattr(champion.scores, metric)
            required = theirs - policy.tolerance(metric)
            checks.append(_check(metric, "champion", getattr(challenger, metric), required, theirs))
    return PromotionDecision(
        challenger=challenger,
        checks=tuple(checks),
        champion=champion,
        policy=policy,
        target_sensitivity=target_sensitivity,
        skipped=skip,
    )


def _check(metric: str, against: str, value: float, required: float, reference: float) -> Check:
    return Check(metric, against, value, required, reference, value >= required - SLACK)
