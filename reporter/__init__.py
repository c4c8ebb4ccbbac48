"""reporter: scheduled PDF and HTML reports of push-notification campaigns."""

__version__ = "0.1.0"

# The project's home, and the guide to every figure that the reports' footer links to
# (`docs_url` in the config points elsewhere, e.g. to a copy on an intranet).
REPOSITORY_URL = "https://github.com/reporter-dev/reporter"
DOCS_URL = f"{REPOSITORY_URL}/blob/main/docs/figures.md"
