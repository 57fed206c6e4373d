"""What every target builds: the options, the inputs it reads and the package it returns."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path

import numpy as np

from territory_opt._errors import Issue
from territory_opt.data.problem import Problem
from territory_opt.export.book import AccountInfo, Book
from territory_opt.export.files import LoadFile


class Target(StrEnum):
    """CRM targets of ``territory-opt export --to``."""

    generic = "generic"
    salesforce = "salesforce"
    salesforce_owner = "salesforce-owner"
    hubspot = "hubspot"
    dynamics = "dynamics"


@dataclass(frozen=True)
class ExportOptions:
    """Settings of an export; each target reads the ones that concern it.

    Attributes
    ----------
    model
        DeveloperName of the Salesforce Territory2Model the territories go in.
    model_label
        Its Name (label); default: ``model``.
    quota_start
        First day of the first quota period. ForecastingQuota rows are written
        only when it is given and the plan has quotas per period.
    baseline_quota_start
        First day of the baseline's quota periods when the baseline's quotas are
        already in the CRM for the same periods (a re-plan within the year).
        Default None: the plan's quotas are new records.
    forecasting_type
        DeveloperName of the Salesforce ForecastingType of the quotas.
    currency
        ISO code for ``CurrencyIsoCode``; empty leaves the loading user's currency.
    user_role
        ``RoleInTerritory2`` of a rep in their territory.
    account_access, opportunity_access, case_access
        Access levels of new Salesforce territories.
    owners_file
        HubSpot owners (``id``, ``email``; e.g. ``GET /crm/v3/owners``) used to
        map reps' emails to owner ids.
    territory_property
        HubSpot company property that receives the territory id; None leaves it out.
    """

    model: str = "Territory_Plan"
    model_label: str | None = None
    quota_start: dt.date | None = None
    baseline_quota_start: dt.date | None = None
    forecasting_type: str = "OpportunityRevenue"
    currency: str = ""
    user_role: str = "Owner"
    account_access: str = "Read/Write"
    opportunity_access: str = "Read Only"
    case_access: str = "Read Only"
    owners_file: Path | None = None
    territory_property: str | None = None

    def as_dict(self) -> dict[str, object]:
        """JSON-ready options for the manifest (paths as file names only)."""
        out: dict[str, object] = {}
        for key, value in sorted(self.__dict__.items()):
            if isinstance(value, dt.date):
                value = value.isoformat()
            elif isinstance(value, Path):
                value = value.name
            out[key] = value
        return out


@dataclass(frozen=True)
class Context:
    """Everything a target reads.

    Attributes
    ----------
    plan, baseline
        The two books.
    accounts
        The plan's accounts with their CRM ids.
    problem
        The plan's problem (geometry for the generic target).
    full
        Export everything instead of the changes.
    options
        Target settings.
    """

    plan: Book
    baseline: Book
    accounts: AccountInfo
    problem: Problem
    full: bool
    options: ExportOptions

    def moved(self) -> np.ndarray:
        """Positions of the accounts to write: owner changed, or every account with ``full``."""
        new = self.plan.owners.to_numpy(dtype=object)
        if self.full:
            return np.arange(len(new))
        old = self.baseline.owners.to_numpy(dtype=object)
        return np.flatnonzero(new != old)


@dataclass(frozen=True)
class Package:
    """A target's output before it is written.

    Attributes
    ----------
    load
        Files in load order.
    rollback
        Files that restore the baseline, in their load order.
    limits
        Per object: maximum length per column [characters] and ``rows`` per file.
    issues
        Problems that stop the export (missing or malformed ids...).
    warnings
        Things the person loading should know; they do not stop the export.
    notes
        Extra paragraphs for the runbook.
    """

    load: tuple[LoadFile, ...]
    rollback: tuple[LoadFile, ...]
    limits: Mapping[str, Mapping[str, int]] = field(default_factory=dict)
    issues: tuple[Issue, ...] = ()
    warnings: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()
