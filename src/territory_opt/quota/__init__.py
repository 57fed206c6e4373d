"""Quota setting: targets per rep from a plan's territories.

Methods (top-down, history, blend, bottom-up capacity, or any weighted mix) make
a proposal; caps (growth vs last year, floor, ceiling, ramp of new hires) bound
each rep; a two-stage HiGHS LP evens out quota per unit of potential and stays
close to the proposal; largest-remainder rounding makes every quota a multiple
of the rounding unit with the total exact. A seeded Monte Carlo gives expected
attainment, and a seasonality profile splits quotas into quarters or months.

Examples
--------
>>> from territory_opt.quota import QuotaSettings
>>> QuotaSettings(target=5e6, method="blend", history_weight=0.25).weights()
{'history': 0.25, 'top_down': 0.75}
"""

from territory_opt.quota.attainment import DEFAULT_SIGMA, Attainment
from territory_opt.quota.calendar import Calendar
from territory_opt.quota.core import set_quotas
from territory_opt.quota.fairness import FairLP, FairnessStats, fair_quotas
from territory_opt.quota.ramp import DEFAULT_RAMP
from territory_opt.quota.result import QuotaResult, quota_table, rollups, write_quotas
from territory_opt.quota.settings import QuotaSettings

__all__ = [
    "DEFAULT_RAMP",
    "DEFAULT_SIGMA",
    "Attainment",
    "Calendar",
    "FairLP",
    "FairnessStats",
    "QuotaResult",
    "QuotaSettings",
    "fair_quotas",
    "quota_table",
    "rollups",
    "set_quotas",
    "write_quotas",
]
