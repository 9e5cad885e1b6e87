"""The report's and the web UI's templates and stylesheets (see README.md in this folder).

A package only so that they ship in the wheel as package data: audit/reporting/render.py and audit/web/views.py
load them through `importlib.resources` and Jinja's `PackageLoader`, never by a path relative to a source
file, so an installed copy finds them as a checkout does.
"""
