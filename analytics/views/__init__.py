"""Analytics pages: the operators dashboard, reports, report jobs."""
