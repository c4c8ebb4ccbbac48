"""Every setting of the config model is documented in the README."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel

from reporter.settings import Settings

README = (Path(__file__).parent.parent / "README.md").read_text(encoding="utf-8")


def keys(model: type[BaseModel], prefix: str = "") -> list[str]:
    out = []
    for name, field in model.model_fields.items():
        key = f"{prefix}{field.alias or name}"
        annotation = field.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            out += keys(annotation, f"{key}.")
        else:
            out.append(key)
    return out


def test_every_setting_is_documented() -> None:
    missing = [k for k in keys(Settings) if f"| `{k}` |" not in README]
    assert missing == []


def test_the_shipped_config_validates() -> None:
    from reporter.settings import load_settings

    settings = load_settings(Path(__file__).parent.parent / "config" / "reporter.yaml")
    assert settings.branding.company == "Acme Inc."
