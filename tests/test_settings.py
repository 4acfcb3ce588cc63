from chatai.settings import PROJECT_ROOT, Settings


def test_env_example_documents_every_setting():
    documented = {line.split("=", 1)[0] for line in (PROJECT_ROOT / ".env.example").read_text().splitlines()
                  if line and not line.startswith("#")}
    names = {(field.validation_alias or name).upper() for name, field in Settings.model_fields.items()}
    assert names - documented == set()
    assert documented - names == set()
