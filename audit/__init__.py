"""contact-audit: a mystery shopper for website contact forms."""

__version__ = "0.1.0"
