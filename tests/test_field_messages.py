"""marshmallow's field messages are answered in the caller's language (issue 19)."""

from __future__ import annotations

import inspect

import pytest
from marshmallow import Schema, fields, validate

from tests.client import ApiClient, assert_problem
from tests.factories import UserFactory
from workforce import i18n
from workforce.api import field_messages

ME = "/api/v1/me"


def marshmallows_messages() -> set[str]:
    found = set(Schema._default_error_messages.values())
    for _name, cls in inspect.getmembers(fields, inspect.isclass):
        found |= set(getattr(cls, "default_error_messages", {}).values())
    for _name, cls in inspect.getmembers(validate, inspect.isclass):
        for attribute in vars(cls):
            value = getattr(cls, attribute)
            if (attribute.startswith("message") or attribute == "default_message") \
                    and isinstance(value, str):
                found.add(value)
    return found


def test_every_message_of_marshmallow_is_read() -> None:
    known = {*field_messages.TEMPLATES, *field_messages.OPERATORS, *field_messages.DUMP_ONLY}
    assert marshmallows_messages() - known == set()


@pytest.mark.parametrize(("english", "hong_kong", "mainland"), [
    ("Longer than maximum length 100.", "長度超過上限 100。", "长度超过上限 100。"),
    ("Missing data for required field.", "缺少必填欄位的資料。", "缺少必填字段的数据。"),
    ("Must be greater than or equal to 1 and less than or equal to 60.",
     "必須大於或等於 1 且小於或等於 60。", "必须大于或等于 1 且小于或等于 60。"),
    ("Must be one of: en, zh-Hant-HK, zh-Hans-CN.",
     "必須是以下其中之一：en, zh-Hant-HK, zh-Hans-CN。",
     "必须是以下之一：en, zh-Hant-HK, zh-Hans-CN。"),
    ("A message of ours, translated where it is raised.",
     "A message of ours, translated where it is raised.",
     "A message of ours, translated where it is raised."),
])
def test_a_message_is_read_back_and_written_in_the_locale(english: str, hong_kong: str,
                                                          mainland: str) -> None:
    assert field_messages.translate(english) == english
    with i18n.force_locale("zh-Hant-HK"):
        assert field_messages.translate(english) == hong_kong
    with i18n.force_locale("zh-Hans-CN"):
        assert field_messages.translate(english) == mainland


def test_a_field_error_answers_in_the_callers_language(client: ApiClient, session) -> None:
    user = UserFactory()
    body = {"display_name": "x" * 101, "locale": "fr", "timezone": "Mars/Olympus"}
    english = assert_problem(client.patch(ME, as_user=user, json=body), 422)
    chinese = assert_problem(client.patch(ME, as_user=user, json=body,
                                          headers={"Accept-Language": "zh-HK"}), 422)
    assert english["errors"]["display_name"] == ["Length must be between 1 and 100."]
    assert chinese["errors"]["display_name"] == ["長度必須介乎 1 至 100。"]
    assert chinese["errors"]["locale"] == ["必須是以下其中之一：en, zh-Hant-HK, zh-Hans-CN。"]
    assert chinese["errors"]["timezone"] == [
        "'Mars/Olympus' 不是 IANA 時區，例如 'Asia/Hong_Kong'。"]
    assert chinese["detail"] == "請求中有無效的欄位：display_name, locale, timezone。"
