"""Moved to audit/collect/spool.py (the spool is collection's: it only ingests); kept while imports move."""

from audit.collect.spool import *  # noqa: F403
from audit.collect.spool import SpoolWorker, encode_recipients, process_spool, writing

__all__ = ["SpoolWorker", "encode_recipients", "process_spool", "writing"]
