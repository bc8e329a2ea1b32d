"""What was used: the reports' queries and the local dashboard."""
