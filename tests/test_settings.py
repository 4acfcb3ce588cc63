from pydantic import AliasChoices

from chatai.settings import PROJECT_ROOT, Settings


def _env_name(name: str, field) -> str:
    """The documented name of a setting: its alias (the first one when it has several) or its own name."""
    alias = field.validation_alias
    if isinstance(alias, AliasChoices):
        alias = alias.choices[0]
    return str(alias or name).upper()


def test_env_example_documents_every_setting():
    documented = {line.split("=", 1)[0] for line in (PROJECT_ROOT / ".env.example").read_text().splitlines()
                  if line and not line.startswith("#")}
    names = {_env_name(name, field) for name, field in Settings.model_fields.items()}
    assert names - documented == set()
    assert documented - names == set()
