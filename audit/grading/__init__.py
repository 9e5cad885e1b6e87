"""The grader (audit/grading/wave.py: `grade_wave` and its helpers), its types and its store, under one name.

grades = grade_wave(session, config, wave_id, as_of=deadline)   # then session.commit()
"""

from __future__ import annotations

from audit.grading.calendar import BusinessCalendar as BusinessCalendar
from audit.grading.rubric import RUBRIC as RUBRIC
from audit.grading.rubric import find_staff_names as find_staff_names
from audit.grading.rubric import mask_staff_names as mask_staff_names
from audit.grading.store import set_override as set_override
from audit.grading.store import stored_wave_grades as stored_wave_grades
from audit.grading.tiers import format_duration as format_duration
from audit.grading.types import CompanyResult as CompanyResult
from audit.grading.types import CriterionScore as CriterionScore
from audit.grading.types import Evidence as Evidence
from audit.grading.types import ProbeResult as ProbeResult
from audit.grading.types import ReplyPromise as ReplyPromise
from audit.grading.types import SubmitTimeClass as SubmitTimeClass
from audit.grading.types import Tier as Tier
from audit.grading.types import WaveGrades as WaveGrades
from audit.grading.wave import grade_wave as grade_wave
from audit.grading.wave import previous_wave_id as previous_wave_id
from audit.grading.wave import wave_deadline as wave_deadline
from audit.grading.wave import wave_to_grade as wave_to_grade

__all__ = [
    "RUBRIC",
    "BusinessCalendar",
    "CompanyResult",
    "CriterionScore",
    "Evidence",
    "ProbeResult",
    "ReplyPromise",
    "SubmitTimeClass",
    "Tier",
    "WaveGrades",
    "find_staff_names",
    "format_duration",
    "grade_wave",
    "mask_staff_names",
    "previous_wave_id",
    "set_override",
    "stored_wave_grades",
    "wave_deadline",
    "wave_to_grade",
]
