"""Which end-user messages ask for a person: a table of true and false positives in both languages."""

from __future__ import annotations

import pytest

from chatai.services.handoff import is_handoff_request

EN_ASKS = [
    "talk to a human",
    "agent please",
    "I want to talk to a human",
    "Can I speak to a real person?",
    "connect me to an operator",
    "Let me talk to a manager",
    "human please",
    "operator!",
    "I need a human",
    "Please transfer me to a live agent",
    "I'd like to speak with a representative",
    "Get me a real person",
    "Is there a human I can talk to?",
    "real person please",
    "I want an agent",
    "speak to someone real",
    "Can I chat with a human agent?",
    "Put me through to customer support",
    "I need to speak to a manager now",
    "Transfer to an operator",
    "Can you connect me with a live person please?",
    "How do I contact a human?",
    "Stop the bot, I want a real human.",
    "I don't want to talk to a bot.",
    "I want to talk to a person, not a bot",
    "Could you get a human on the line?",
    "Human agent",
    "Live agent please",
    "Escalate to a human",
    "I need a real person to help me",
    "Please let me speak with your support team",
    "Representative",
    "i need a human agent asap",
    "Customer service please",
    "HUMAN!!!",
    "Can I talk to someone?",
]
EN_DOES_NOT_ASK = [
    "can a person pick it up at the store?",
    "How many people work at your company?",
    "Is your manager available to approve discounts?",
    "My personal account is blocked",
    "The agent at the pickup point was rude",
    "I talked to a manager yesterday about my refund",
    "Does the operator charge a fee for delivery?",
    "Which mobile operator do you support?",
    "Can I transfer my order to another person?",
    "Do I need a person at home to receive the parcel?",
    "What is the human-readable order number?",
    "Help me choose a coffee machine",
    "I need help with my order",
    "Who is the support agent in this photo?",
    "How do humans rate this product?",
    "Please connect the printer to wifi",
    "Talk about the price please",
    "Can you speak Spanish?",
    "Is this product safe for people with allergies?",
    "Is the manager's discount still valid?",
    "I don't need an operator, just tell me the price.",
    "No need for an agent, the bot answered everything.",
    "Don't transfer me to anyone, I just want the tracking number.",
    "Do you ship to a person's office address?",
    "My account manager changed the password",
    "Call center hours?",
    "Can I get a human-sized costume?",
    "How do I become a sales representative for your brand?",
    "What does a customer support agent do all day?",
    "I want a gift for a person who likes coffee",
    "I need a person to sign for the delivery?",
    "Can someone pick up my order for me?",
    "I want to talk about my subscription",
    "I spoke with an agent earlier and it's solved, thanks",
    "Our team needs more people, are you hiring?",
    "I want to become an agent",
    "Do your employees speak English?",
    "Tell the manager thanks for the quick delivery",
    "How do I contact support by email?",
]
RU_ASKS = [
    "позовите оператора",
    "хочу поговорить с человеком",
    "живой человек",
    "позови человека",
    "оператора пожалуйста",
    "соедините с оператором",
    "Можно поговорить с живым человеком?",
    "Переключите на менеджера",
    "Хочу живого человека",
    "Мне нужен оператор",
    "Дайте человека",
    "Свяжите меня с сотрудником поддержки",
    "Как связаться с оператором?",
    "Позовите, пожалуйста, менеджера",
    "Нужен человек",
    "Переведите на специалиста",
    "Я хочу пообщаться с консультантом",
    "Хочу к оператору",
    "С человеком можно поговорить?",
    "Оператора позовите!",
    "Я не хочу общаться с ботом",
    "Бот не помогает, нужен живой человек",
    "Подключите оператора",
    "Позовите кого-нибудь живого",
    "Хватит, позовите человека",
    "Человека!",
    "Можно оператора?",
    "Свяжите с поддержкой",
    "Пригласите администратора",
    "Хотелось бы поговорить с настоящим человеком",
    "Позовите ЖИВОГО ЧЕЛОВЕКА!!!",
    "Прошу соединить с менеджером",
    "Дайте поговорить с оператором",
    "Хочу живого человека, а не бота",
    "Соедините с живым оператором",
    "Оператор",
]
RU_DOES_NOT_ASK = [
    "помогите выбрать кофе",
    "Человек может забрать заказ в магазине?",
    "Сколько человек работает в вашей компании?",
    "Оператор сказал, что доставка завтра",
    "Я уже поговорил с менеджером, всё решено",
    "Можно ли передать заказ другому человеку?",
    "Нужен ли человек для получения посылки?",
    "Какой мобильный оператор у вас работает?",
    "Хочу купить подарок для человека, который любит кофе",
    "Соединение с оператором связи прервалось, заказ не оплатился",
    "Менеджер перезвонит мне?",
    "Не нужно оператора, просто скажите цену",
    "Не зовите человека, я сам разберусь",
    "Помогите, пожалуйста, с заказом",
    "Подключите уведомления о доставке",
    "Переведите деньги на карту",
    "Как поговорить о возврате?",
    "Сколько стоит доставка для юридических лиц?",
    "Люди часто спрашивают о гарантии?",
    "Ваш сотрудник был очень вежлив, спасибо",
    "Специалисты рекомендуют этот фильтр?",
    "Можно заказать подарок для пожилого человека?",
    "Как переключить язык на английский?",
    "Сотрудники магазина помогут с примеркой?",
    "Где находится офис поддержки?",
    "Я живу в Москве, доставите?",
    "Человеческий фактор — причина ошибки?",
    "Администратор сайта не отвечает на письма",
    "Дайте скидку постоянному клиенту",
    "Хочу узнать, как работает поддержка",
    "Мне нужна консультация по размеру",
    "Позвоните мне, когда заказ приедет",
    "У вас есть живые консультанты в магазине?",
    "Ваши операторы говорят по-английски?",
    "Нужен человек для получения посылки",
]


def test_tables_are_big_enough():
    for table in (EN_ASKS, EN_DOES_NOT_ASK, RU_ASKS, RU_DOES_NOT_ASK):
        assert len(table) >= 30 and len(set(table)) == len(table)


@pytest.mark.parametrize("text", EN_ASKS + RU_ASKS)
def test_request_for_a_person_is_recognised(text):
    assert is_handoff_request(text)


@pytest.mark.parametrize("text", EN_DOES_NOT_ASK + RU_DOES_NOT_ASK)
def test_ordinary_sentence_is_not_a_request(text):
    assert not is_handoff_request(text)


def test_spelling_variants_are_normalised():
    assert is_handoff_request("позовите опЕратора, пожалуйста!!")
    assert is_handoff_request("Позовите живого человёка")  # ё written where it does not belong
    assert is_handoff_request("I’d like to speak with a human")  # typographic apostrophe


def test_empty_and_huge_texts_are_not_requests():
    assert not is_handoff_request("")
    assert not is_handoff_request("talk to a human " * 200)  # a pasted document, not a request
