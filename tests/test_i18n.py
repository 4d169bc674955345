"""Languages: the locale of a request and of a person, Content-Language, translated
problems, and money and dates formatted per locale (issue 19)."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy.orm import Session

from tests.client import ApiClient, assert_problem
from tests.factories import UserFactory
from tests.test_auth import SIGNUP, signup_body
from workforce import i18n
from workforce.accounts.models import User

ME = "/api/v1/me"
NOWHERE = "/api/v1/no-such-thing"


@pytest.mark.parametrize(("accepted", "locale"), [
    ("zh-HK", "zh-Hant-HK"), ("zh-TW", "zh-Hant-HK"), ("yue", "zh-Hant-HK"),
    ("zh-MO", "zh-Hant-HK"), ("zh-Hant", "zh-Hant-HK"), ("zh", "zh-Hans-CN"),
    ("zh-CN", "zh-Hans-CN"), ("zh-SG", "zh-Hans-CN"), ("zh-Hans", "zh-Hans-CN"),
    ("en-GB", "en"), ("fr-FR, zh-HK;q=0.5", "zh-Hant-HK"), ("fr, de", "en"),
    ("en;q=0.2, zh-CN;q=0.9", "zh-Hans-CN"), ("*", "en"), ("", "en"), ("!!", "en"),
])
def test_accept_language_chooses_the_locale_and_the_answer_says_it(
    client: ApiClient, accepted: str, locale: str
) -> None:
    response = client.get(NOWHERE, headers={"Accept-Language": accepted})
    assert_problem(response, 404, code="not-found")
    assert response.headers["Content-Language"] == locale


def test_a_problem_in_each_language(client: ApiClient) -> None:
    texts = {}
    for accepted in ("en", "zh-HK", "zh-CN"):
        body = assert_problem(client.get(NOWHERE, headers={"Accept-Language": accepted}), 404)
        texts[accepted] = (body["title"], body["detail"])
    assert texts["en"] == ("Not Found", "There is nothing at this address.")
    assert texts["zh-HK"] == ("找不到", "此地址沒有任何內容。")
    assert texts["zh-CN"] == ("未找到", "此地址没有任何内容。")


def test_a_domain_error_is_translated_and_its_slug_is_not(client: ApiClient) -> None:
    for accepted, title in (("en", "Authentication required"), ("zh-HK", "需要登入"),
                            ("zh-CN", "需要登录")):
        response = client.get(ME, headers={"Accept-Language": accepted})
        body = assert_problem(response, 401, code="missing-token")
        assert body["title"] == title
        assert response.headers["Content-Language"] == i18n.supported_tag(accepted)


def test_the_saved_preference_wins_over_accept_language(
    client: ApiClient, session: Session
) -> None:
    user = UserFactory(locale="zh-Hans-CN")
    response = client.get(ME, as_user=user, headers={"Accept-Language": "zh-HK"})
    assert response.status_code == 200
    assert response.headers["Content-Language"] == "zh-Hans-CN"
    assert response.get_json()["locale"] == "zh-Hans-CN"


def test_a_user_sets_and_clears_their_locale(client: ApiClient, session: Session) -> None:
    user = UserFactory()
    response = client.patch(ME, as_user=user, json={"locale": "zh-Hant-HK"})
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["locale"] == "zh-Hant-HK"
    # From the next request on, the service speaks their language whatever they accept.
    refused = client.patch(ME, as_user=user, json={"display_name": ""},
                           headers={"Accept-Language": "en"})
    body = assert_problem(refused, 422, code="validation-error")
    assert refused.headers["Content-Language"] == "zh-Hant-HK"
    assert body["title"] == "無法處理的內容"
    assert body["detail"] == "請求中有無效的欄位：display_name。"
    assert client.patch(ME, as_user=user, json={"locale": None}).get_json()["locale"] is None
    session.refresh(user)
    assert user.locale is None


@pytest.mark.parametrize("tag", ["fr", "zh", "zh-TW", "en-US", "", "zh-Hant-HK-x"])
def test_an_unsupported_locale_is_refused(client: ApiClient, session: Session, tag: str) -> None:
    user = UserFactory()
    body = assert_problem(client.patch(ME, as_user=user, json={"locale": tag}), 422,
                          code="validation-error")
    assert "locale" in body["errors"]
    session.refresh(user)
    assert user.locale is None


def test_sign_up_keeps_the_locale_given_or_else_the_negotiated_one(
    client: ApiClient, session: Session
) -> None:
    given_one = client.post(SIGNUP, json=signup_body(email="a@example.org", locale="zh-Hans-CN"),
                            headers={"Accept-Language": "zh-HK"})
    assert given_one.status_code == 201, given_one.get_json()
    negotiated = client.post(SIGNUP, json=signup_body(email="b@example.org"),
                             headers={"Accept-Language": "yue-HK, en;q=0.5"})
    assert negotiated.status_code == 201, negotiated.get_json()
    assert given_one.get_json()["locale"] == "zh-Hans-CN"
    assert negotiated.get_json()["locale"] == "zh-Hant-HK"


def test_locale_of_a_person_not_asking_is_their_preference_else_english(
    session: Session,
) -> None:
    assert i18n.locale_of(UserFactory(locale="zh-Hant-HK")) == "zh-Hant-HK"
    assert i18n.locale_of(UserFactory()) == "en"
    assert i18n.locale_of(None) == "en"


def test_force_locale_renders_texts_for_someone_not_asking() -> None:
    assert i18n.gettext("Not found") == "Not found"  # no request: English
    with i18n.force_locale("zh-Hans-CN"):
        assert i18n.gettext("Not found") == "未找到"
        with i18n.force_locale("zh-Hant-HK"):
            assert i18n._("Not found") == "找不到"
            assert i18n.current_locale() == "zh-Hant-HK"
        assert i18n.current_locale() == "zh-Hans-CN"
        lazy = i18n.lazy_gettext("Validation failed")
    assert str(lazy) == "Validation failed"  # rendered where it is used
    with i18n.force_locale("zh-Hans-CN"):
        assert str(lazy) == "验证失败"
        assert i18n.gettext("The request has invalid fields: %(fields)s.",
                            fields="email") == "请求中有无效的字段：email。"
    with pytest.raises(ValueError, match="shipped"):
        i18n.force_locale("fr").__enter__()


def plain(text: str) -> str:
    """CLDR's spacing (no-break and thin spaces, which differ between its versions) as
    plain spaces."""
    return "".join(" " if character.isspace() else character for character in text)


@pytest.mark.parametrize(("amount", "currency", "locale", "text"), [
    (123456, "HKD", "en", "HK$1,234.56"),
    (123456, "HKD", "zh-Hant-HK", "HK$1,234.56"),
    (123456, "HKD", "zh-Hans-CN", "HK$1,234.56"),
    (123456, "CNY", "zh-Hans-CN", "¥1,234.56"),
    (123456, "CNY", "en", "CN¥1,234.56"),
    (123456, "USD", "zh-Hant-HK", "US$1,234.56"),
    (-5000, "JPY", "en", "-¥5,000"),
    (10**17 + 1, "USD", "en", "$1,000,000,000,000,000.01"),
])
def test_money_is_formatted_per_locale_from_minor_units(
    amount: int, currency: str, locale: str, text: str
) -> None:
    assert plain(i18n.format_money(amount, currency, locale=locale)) == text


@given(st.integers(min_value=-(10**15), max_value=10**15),
       st.sampled_from(["USD", "HKD", "CNY", "JPY", "BHD"]), st.sampled_from(list(i18n.LOCALES)))
def test_formatted_money_reads_back_as_the_exact_amount(amount: int, currency: str,
                                                        locale: str) -> None:
    text = i18n.format_money(amount, currency, locale=locale)
    digits = "".join(c for c in text if c.isdigit())
    assert int(digits) == abs(amount)
    assert text.startswith("-") == (amount < 0)


def test_money_has_the_currencys_own_minor_units() -> None:
    assert i18n.format_money(1, "BHD", locale="en").endswith("0.001")
    assert i18n.format_money(1, "JPY", locale="en").endswith("1")
    assert i18n.format_money(1, "USD", locale="zh-Hans-CN").endswith("0.01")


def test_money_refuses_a_float() -> None:
    with pytest.raises(TypeError):
        i18n.format_money(12.5, "USD")  # type: ignore[arg-type]


def test_dates_are_formatted_per_locale_in_a_time_zone() -> None:
    moment = datetime(2026, 3, 1, 20, 30, tzinfo=UTC)  # 04:30 the next day in Hong Kong
    assert i18n.format_date(moment, "Asia/Hong_Kong", locale="en") == "Mar 2, 2026"
    assert i18n.format_date(moment, "Asia/Hong_Kong", locale="zh-Hant-HK") == "2026年3月2日"
    assert i18n.format_date(moment, "America/New_York", locale="zh-Hans-CN") == "2026年3月1日"
    assert i18n.format_date(date(2026, 3, 1), locale="zh-Hans-CN", format="long") == "2026年3月1日"
    assert plain(i18n.format_datetime(moment, "Asia/Hong_Kong", locale="zh-Hant-HK",
                                      format="short")) == "2/3/2026 上午4:30"
    assert plain(i18n.format_datetime(moment, "Asia/Shanghai", locale="zh-Hans-CN",
                                      format="short")) == "2026/3/2 04:30"
    assert plain(i18n.format_datetime(moment, "UTC", locale="en",
                                      format="short")) == "3/1/26, 8:30 PM"
    with pytest.raises(ValueError, match="aware"):
        i18n.format_datetime(datetime(2026, 3, 1), "UTC")  # noqa: DTZ001


def test_the_user_model_keeps_a_shipped_locale(session: Session) -> None:
    user = UserFactory(locale="zh-Hant-HK")
    session.expire_all()
    assert session.get(User, user.id).locale == "zh-Hant-HK"
