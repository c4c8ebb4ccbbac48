"""The archive web app: managers browse and download reports, operators run jobs."""
