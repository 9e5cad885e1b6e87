"""The attack suite: hostile input run for real (issue 11); see README.md, "Security"."""
