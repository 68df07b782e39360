"""The Textual front end: the dashboard of every pod and its screens."""
