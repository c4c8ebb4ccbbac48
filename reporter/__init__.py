"""reporter: scheduled PDF and HTML reports of push-notification campaigns."""

__version__ = "0.1.0"
