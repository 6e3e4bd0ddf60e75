"""The project's date formats per language (settings.FORMAT_MODULE_PATH).

Only what differs from Django's own locale formats is set here; templates
use the named formats (`date:"MONTH_DAY_FORMAT"`), never a hard-coded
Chinese pattern, so English pages show English dates.
"""
