"""The local demo: fake company contact pages (the fixture-site farm) that `audit demo` and tests probe."""
