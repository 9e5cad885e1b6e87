"""The browser layer: find a contact form, fill it with a persona, submit it at most once, keep evidence.

`probes` never imports `audit`; the runner passes everything in as `probes.types` values and a
`before_submit` callback, and gets a `ProbeResult` back.
"""

from probes.browser import find_chromium, launch_browser
from probes.errors import BrowserUnavailable, NavigationFailed, ProbeError, TargetRefused
from probes.probe import run_probe
from probes.safety import check_target_url, safe_goto
from probes.types import (
    OUTCOME_OF_DETAIL,
    BeforeSubmit,
    Detail,
    FieldFill,
    FormSpec,
    Inquiry,
    Outcome,
    Persona,
    ProbeResult,
    ProbeTarget,
    Slot,
    Step,
)

__all__ = [
    "OUTCOME_OF_DETAIL",
    "BeforeSubmit",
    "BrowserUnavailable",
    "Detail",
    "FieldFill",
    "FormSpec",
    "Inquiry",
    "NavigationFailed",
    "Outcome",
    "Persona",
    "ProbeError",
    "ProbeResult",
    "ProbeTarget",
    "Slot",
    "Step",
    "TargetRefused",
    "check_target_url",
    "find_chromium",
    "launch_browser",
    "run_probe",
    "safe_goto",
]
