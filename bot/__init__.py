"""blandbot: a Slack operations console for Bland AI phone calls."""

__version__ = "0.1.0"
