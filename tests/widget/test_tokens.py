"""Signed visitor tokens: a token opens only its own assistant, for 90 days, and cannot be altered."""

import base64
import json
import uuid

from chatai.widget.tokens import TOKEN_DAYS, issue_token, read_token

ASSISTANT = uuid.uuid4()
VISITOR = uuid.uuid4()


def test_a_token_reads_back_its_visitor_and_site():
    visitor = read_token(issue_token(assistant_id=ASSISTANT, visitor_id=VISITOR, site="shop.example.com"),
                         assistant_id=ASSISTANT)
    assert visitor is not None
    assert (visitor.visitor_id, visitor.site) == (VISITOR, "shop.example.com")


def test_another_assistants_token_is_refused():
    token = issue_token(assistant_id=ASSISTANT, visitor_id=VISITOR, site="shop.example.com")
    assert read_token(token, assistant_id=uuid.uuid4()) is None


def test_a_token_lives_at_least_30_days_and_expires_after_its_ttl():
    token = issue_token(assistant_id=ASSISTANT, visitor_id=VISITOR, site="a.com", now=1_000_000)
    assert read_token(token, assistant_id=ASSISTANT, now=1_000_000 + 31 * 86400) is not None
    assert read_token(token, assistant_id=ASSISTANT, now=1_000_000 + (TOKEN_DAYS + 1) * 86400) is None


def test_an_altered_token_is_refused():
    token = issue_token(assistant_id=ASSISTANT, visitor_id=VISITOR, site="a.com")
    payload, signature = token.split(".")
    body = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    body["s"] = "evil.com"
    forged = base64.urlsafe_b64encode(json.dumps(body).encode()).rstrip(b"=").decode()
    assert read_token(f"{forged}.{signature}", assistant_id=ASSISTANT) is None
    assert read_token("garbage", assistant_id=ASSISTANT) is None
    assert read_token("", assistant_id=ASSISTANT) is None
