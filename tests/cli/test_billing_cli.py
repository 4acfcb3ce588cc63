"""`python -m chatai billing ...` as its own process against the test database."""

import json
import subprocess
import sys

import sqlalchemy as sa

from chatai.settings import PROJECT_ROOT


def cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "chatai", *args], cwd=PROJECT_ROOT, capture_output=True,
                          text=True, timeout=120)


def test_balance_adjust_and_check(db):
    assert cli("users", "create", "--email", "shop@example.com", "--password", "long password").returncode == 0
    shown = cli("billing", "balance", "--email", "shop@example.com", "--json")
    assert shown.returncode == 0, shown.stderr
    data = json.loads(shown.stdout)
    assert data["email"] == "shop@example.com" and data["currency"] == "RUB"
    assert data["balance"] == "250.00" and data["reserved"] == "0.00"  # the welcome credit

    adjusted = cli("billing", "adjust", "--email", "shop@example.com", "--amount", "-50.5", "--reason", "refund test")
    assert adjusted.returncode == 0, adjusted.stderr
    assert json.loads(cli("billing", "balance", "--email", "shop@example.com", "--json").stdout)["balance"] == "199.50"
    audit = db.exec(sa.text("SELECT action, details->>'reason' FROM audit_log WHERE action = 'billing.adjust'")).all()
    assert audit == [("billing.adjust", "refund test")]

    checked = cli("billing", "check")
    assert checked.returncode == 0 and "1 accounts checked, 0 disagree" in checked.stdout


def test_expected_errors_are_one_line_and_non_zero(db):
    assert cli("users", "create", "--email", "shop@example.com", "--password", "long password").returncode == 0
    for args, message in [
        (("balance", "--email", "nobody@example.com"), "no account with email"),
        (("adjust", "--email", "shop@example.com", "--amount", "1.234", "--reason", "x"), "at most two decimals"),
        (("adjust", "--email", "shop@example.com", "--amount", "10", "--reason", " "), "--reason must not be empty"),
        (("adjust", "--email", "shop@example.com", "--amount", "-9999", "--reason", "x"), "larger than the available"),
    ]:
        result = cli("billing", *args)
        assert result.returncode == 1 and message in result.stderr
        assert result.stderr.strip().count("\n") == 0 and "Traceback" not in result.stderr


def test_check_names_each_account_that_disagrees(db):
    assert cli("users", "create", "--email", "shop@example.com", "--password", "long password").returncode == 0
    db.exec(sa.text("UPDATE billing_accounts SET balance_micros = balance_micros + 1"))  # money from nowhere
    db.commit()
    result = cli("billing", "check")
    assert result.returncode == 1 and "MISMATCH shop@example.com: balance 250.00 != ledger 250.00" in result.stdout
