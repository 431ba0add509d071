"""ReportFormat: the formats `clone-audit report` renders a run in (a light module the parser reads)."""

from __future__ import annotations

import enum


class ReportFormat(enum.StrEnum):
    HTML = "html"
    JSON = "json"
    MARKDOWN = "markdown"
    CSV = "csv"
    JUNIT = "junit"  # a scan's voices as JUnit XML test cases (audit.report.junit)
