"""Server-rendered pages: the demo site and the dashboard."""
