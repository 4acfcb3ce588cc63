# ruff: noqa: E501, RUF001 - one passage or question per line reads best for a data table; Russian text
"""Answer-precision sets (issue 20): businesses whose knowledge is files AND Q&A pairs, and questions written
the way customers write, each with what a right answer is.

A `Case` names the fact (or Q&A pair) the answer must carry (`expect`; None = the answer is not in the
documents at all, so only "don't know" is right) and the facts that make an answer wrong even when the right
one is quoted too (`wrong`: the holiday closures quoted for "when do you close?", the e-bike price for "a
regular bike"). Cases with a `name` are the failures quoted in the issue.

The three businesses of russian_businesses.py come along (their questions all have an answer); the new ones
add hours and "when do you close", deposits and holds, "the cheapest", thresholds ("from what amount is
delivery free"), yes/no questions, questions sharing a word with an unrelated Q&A pair, and questions with no
answer in the documents. Russian mostly, English too. Tune / held-out halves: alternate cases of each
business (`split`), so every business and both languages are in both halves.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from bench.russian_businesses import BUSINESSES, Business, Fact, Section, SourceFile, row


@dataclass(frozen=True)
class Case:
    question: str
    expect: str | None  # fact or Q&A key the answer must carry; None: not in the documents
    wrong: tuple[str, ...] = ()  # keys whose presence makes the answer wrong
    name: str = ""  # the failures quoted in the issue


@dataclass(frozen=True)
class AnswerSet:
    business: Business
    language: str
    cases: list[Case]
    qa_pairs: list[tuple[str, str, str]] = field(default_factory=list)  # (key, question, answer)


COFFEE_SHOP = Business(name="coffee shop (ru)", files=[
    SourceFile("menu.csv", "Меню", header=("Позиция", "Цена", "Объём"), sections=[Section("", [
        row("espresso", "Эспрессо", "150 руб.", "30 мл"),
        row("cappuccino", "Капучино", "230 руб.", "300 мл"),
        row("latte", "Латте на овсяном молоке", "290 руб.", "350 мл"),
        row("filter", "Фильтр-кофе дня", "180 руб.", "250 мл"),
        row("croissant", "Круассан с миндалём", "210 руб.", "1 шт."),
        row("beans", "Зерно собственной обжарки", "950 руб.", "250 г"),
    ])]),
    SourceFile("about.md", "Кофейня «Бодрое утро»", sections=[
        Section("Адрес и часы", [
            Fact("address", "Мы находимся на Литейном проспекте, 30, вход со двора через арку."),
            Fact("hours", "Открыты по будням с 7:30 до 21:00, по выходным с 9:00 до 20:00."),
            Fact("holidays", "1 и 2 января, а также 9 мая кофейня закрыта."),
        ]),
        Section("В кофейне", [
            Fact("wifi", "Wi-Fi бесплатный, пароль написан на чеке; розетки есть у каждого столика у окна."),
            Fact("dogs", "С собаками пускаем, для них у входа стоит миска с водой."),
            Fact("loyalty", "Каждый шестой напиток бесплатно по электронной карте гостя в приложении."),
        ]),
        Section("Зерно домой", [
            Fact("return", "Нераспечатанную пачку зерна можно вернуть в течение 14 дней с чеком, вскрытую — нет."),
        ]),
    ]),
], questions=[])

COFFEE_SHOP_SET = AnswerSet(COFFEE_SHOP, "ru", qa_pairs=[
    ("qa_wholesale", "Вы работаете с оптовыми покупателями?", "Да, для кафе и офисов есть оптовый прайс на зерно от 5 кг в месяц."),
    ("qa_grinding", "Можете смолоть купленный кофе?", "Да, смелем бесплатно под любой способ заваривания."),
    ("qa_card", "Можно оплатить картой?", "Да."),
], cases=[
    Case("Какие часы работы?", "hours", ("qa_wholesale",), name="Какие часы работы?"),
    Case("До скольки вы сегодня работаете?", "hours", ("qa_wholesale",)),
    Case("Во сколько открываетесь в субботу?", "hours"),
    Case("можно отдать нераспечатанный кофе обратно?", "return", ("qa_grinding",), name="можно отдать нераспечатанный кофе обратно?"),
    Case("Вы работаете 1 января?", "holidays"),
    Case("Сколько стоит капучино?", "cappuccino", ("latte",)),
    Case("Какой самый дешёвый кофе у вас?", "espresso"),
    Case("Сколько стоит пачка зёрен домой?", "beans"),
    Case("Есть латте на растительном молоке?", "latte"),
    Case("Где вы находитесь?", "address"),
    Case("Можно прийти с собакой?", "dogs"),
    Case("Есть вайфай?", "wifi"),
    Case("Есть ли у вас бонусная программа?", "loyalty"),
    Case("Поставляете зерно в офис оптом?", "qa_wholesale"),
    Case("Смелете зерно, если я куплю пачку?", "qa_grinding"),
    Case("Можно расплатиться банковской картой?", "qa_card"),
    Case("Есть ли у вас безглютеновая выпечка?", None),
    Case("Вы работаете через Яндекс Еду?", None, ("qa_wholesale",)),
    Case("Можно заказать торт на день рождения?", None),
    Case("Сколько стоит аренда зала под мероприятие?", None),
    Case("Работаете ли вы круглосуточно?", "hours", ("qa_wholesale",)),
    Case("Есть ли парковка рядом?", None),
])

BIKES = Business(name="bike rental (en)", files=[
    SourceFile("prices.csv", "Prices", header=("Bike", "1 hour", "1 day"), sections=[Section("", [
        row("city_bike", "City bike", "5 EUR", "20 EUR"),
        row("ebike", "E-bike", "12 EUR", "45 EUR"),
        row("tandem", "Tandem", "10 EUR", "38 EUR"),
        row("kids_bike", "Kids bike", "3 EUR", "12 EUR"),
        row("child_seat", "Child seat add-on", "2 EUR", "6 EUR"),
    ])]),
    SourceFile("info.md", "Riverside Bikes", sections=[
        Section("Opening hours", [
            Fact("hours", "We are open every day from 9 am to 7 pm, and until 9 pm from June to August."),
            Fact("closures", "The shop is closed on 25 December, 1 January and Easter Sunday."),
        ]),
        Section("Deposit", [
            Fact("deposit", "Each rental needs a deposit of 100 EUR per bike, or 300 EUR for an e-bike, held on your card and released when the bike comes back."),
            Fact("id", "Please bring a passport or a national ID card; we do not keep it, we only check it."),
        ]),
        Section("Rules", [
            Fact("late", "Late returns cost 5 EUR per started hour, and a bike kept overnight is charged a full extra day."),
            Fact("damage", "Punctures are on us; other damage is repaired at cost, up to the deposit."),
            Fact("helmets", "Helmets and locks are included with every bike at no extra cost."),
        ]),
        Section("Where to ride", [
            Fact("route", "The river path to the old harbour is flat, 14 km each way, and suits children."),
        ]),
    ]),
], questions=[])

BIKES_SET = AnswerSet(BIKES, "en", qa_pairs=[
    ("qa_child_seat", "Do you have child seats?", "Yes."),
    ("qa_card", "Can I pay by card?", "Yes, all cards except American Express."),
    ("qa_booking", "Do I need to book in advance?", "Not on weekdays; on summer weekends we recommend booking a day ahead."),
], cases=[
    Case("What time do you close?", "hours", ("closures",), name="What time do you close?"),
    Case("How late are you open in July?", "hours"),
    Case("Are you open on Christmas day?", "closures"),
    Case("How much for a regular bike for one day?", "city_bike", ("ebike", "tandem"), name="a regular bike for one day"),
    Case("How much is an electric bike per hour?", "ebike", ("city_bike",)),
    Case("What's the cheapest bike you rent?", "kids_bike"),
    Case("How much is the deposit?", "deposit"),
    Case("Do you block money on my card?", "deposit"),
    Case("Do you keep my passport?", "id"),
    Case("What happens if I bring the bike back two hours late?", "late"),
    Case("Who pays if I get a flat tyre?", "damage"),
    Case("Are helmets extra?", "helmets"),
    Case("Is there a nice route for kids?", "route"),
    Case("Can I put my toddler on the bike?", "qa_child_seat"),
    Case("Do you take credit cards?", "qa_card"),
    Case("Should I reserve a bike before Saturday?", "qa_booking"),
    Case("Do you organise guided rides?", None, ("qa_child_seat", "qa_card"), name="Do you organise guided rides?"),
    Case("Do you sell used bikes?", None),
    Case("Can I rent a scooter?", None),
    Case("Do you deliver bikes to my hotel?", None),
    Case("Do you have a discount for students?", None),
    Case("Can I return the bike at the train station?", None),
])

FLOWERS = Business(name="flower shop (ru)", files=[
    SourceFile("bouquets.html", "Букеты «Флора»", sections=[
        Section("Букеты", [
            Fact("mono", "Монобукет из 15 тюльпанов — 1900 руб., самый недорогой букет в каталоге."),
            Fact("roses", "Букет из 25 красных роз 60 см — 5500 руб., из 51 розы — 10500 руб."),
            Fact("author", "Авторский букет на выбор флориста собираем от 3500 руб. по вашему бюджету."),
            Fact("box", "Цветы в шляпной коробке с макарунами — 4200 руб."),
        ]),
    ]),
    SourceFile("delivery.md", "Доставка и оплата", sections=[
        Section("Доставка", [
            Fact("delivery_price", "Доставка по городу стоит 400 руб., за город — от 800 руб. в зависимости от расстояния."),
            Fact("free_delivery", "При заказе от 5000 руб. доставка по городу бесплатная."),
            Fact("delivery_time", "Доставляем с 8:00 до 23:00; заказ, оформленный до 18:00, привезём в тот же день."),
            Fact("photo", "Перед отправкой присылаем фото букета в мессенджер."),
            Fact("anonymous", "Можем доставить анонимно: курьер не назовёт отправителя."),
        ]),
        Section("Оплата и возврат", [
            Fact("payment", "Оплатить можно картой на сайте, по СБП или наличными курьеру."),
            Fact("refund", "Если цветы завяли в течение трёх дней, пришлите фото — заменим букет бесплатно."),
        ]),
        Section("Магазин", [
            Fact("shop_hours", "Магазин на Невском, 80 работает ежедневно с 9:00 до 22:00."),
        ]),
    ]),
], questions=[])

FLOWERS_SET = AnswerSet(FLOWERS, "ru", qa_pairs=[
    ("qa_card_note", "Можно добавить открытку?", "Да, открытка с вашим текстом бесплатно."),
    ("qa_vase", "Продаёте вазы?", "Да, стеклянные вазы от 700 руб."),
], cases=[
    Case("От какой суммы доставка бесплатная?", "free_delivery"),
    Case("Сколько стоит доставка по городу?", "delivery_price"),
    Case("Какой букет самый дешёвый?", "mono"),
    Case("Сколько стоят 25 роз?", "roses"),
    Case("Сколько стоят 51 роза?", "roses"),
    Case("Если закажу в обед, привезёте сегодня?", "delivery_time"),
    Case("До скольки работает курьер?", "delivery_time", ("shop_hours",)),
    Case("Во сколько закрывается магазин?", "shop_hours", ("delivery_time",)),
    Case("Можно отправить цветы, не раскрывая, от кого?", "anonymous"),
    Case("Покажете букет перед доставкой?", "photo"),
    Case("Можно оплатить курьеру наличными?", "payment"),
    Case("Цветы завяли на второй день, что делать?", "refund"),
    Case("Соберёте букет на 4000 рублей?", "author"),
    Case("Есть цветы в коробке?", "box"),
    Case("Можно вложить записку с поздравлением?", "qa_card_note"),
    Case("Есть ли у вас вазы?", "qa_vase"),
    Case("Есть ли у вас комнатные растения в горшках?", None),
    Case("Доставляете в другие страны?", None),
    Case("Оформляете свадьбы?", None),
    Case("Сколько стоит 101 роза?", None, ("roses",)),
    Case("Можно оплатить криптовалютой?", None, ("payment",)),
])

HOSTEL = Business(name="mini-hotel (ru)", files=[
    SourceFile("rooms.docx", "Номера и цены", header=("Номер", "Цена за ночь", "Гостей"), sections=[Section("Номера", [
        row("bed", "Место в 6-местном номере", "1200 руб.", "1"),
        row("double", "Двухместный номер с общим душем", "3500 руб.", "2"),
        row("deluxe", "Номер с собственной ванной и видом на канал", "6200 руб.", "2"),
        row("family", "Семейный номер", "7500 руб.", "4"),
    ])]),
    SourceFile("rules.md", "Правила проживания", sections=[
        Section("Заезд и выезд", [
            Fact("checkin", "Заезд с 14:00, выезд до 12:00."),
            Fact("early", "Ранний заезд с 8:00 стоит 50% цены за ночь, если номер свободен."),
            Fact("reception", "Ресепшен работает круглосуточно."),
        ]),
        Section("Залог и оплата", [
            Fact("deposit", "При заселении берём залог 2000 руб. наличными или блокируем эту сумму на карте; вернём при выезде, если номер в порядке."),
            Fact("prepay", "Бронь подтверждается предоплатой за первую ночь."),
            Fact("cancel", "Бесплатная отмена брони — не позднее чем за 48 часов до заезда; позже предоплата не возвращается."),
        ]),
        Section("Правила", [
            Fact("pets", "С животными не заселяем."),
            Fact("smoking", "Курение в номерах запрещено, штраф 5000 руб."),
            Fact("kids", "Дети до 7 лет живут бесплатно без отдельного места."),
        ]),
        Section("Удобства", [
            Fact("breakfast", "Завтрак не входит в стоимость: 450 руб. с человека, с 8 до 11 утра."),
            Fact("luggage", "Багаж можно бесплатно оставить в камере хранения в день выезда до 22:00."),
        ]),
    ]),
], questions=[])

HOSTEL_SET = AnswerSet(HOSTEL, "ru", qa_pairs=[
    ("qa_parking", "Есть ли парковка?", "Нет, но в 200 м есть городская платная парковка."),
    ("qa_towels", "Полотенца выдаёте?", "Да."),
], cases=[
    Case("Какой залог при заселении?", "deposit"),
    Case("Вы блокируете деньги на карте?", "deposit"),
    Case("Во сколько заезд?", "checkin"),
    Case("До скольки нужно освободить номер?", "checkin"),
    Case("Можно заселиться в 9 утра?", "early"),
    Case("Если приеду ночью, меня встретят?", "reception"),
    Case("Сколько стоит самый дешёвый вариант?", "bed"),
    Case("Сколько стоит номер с ванной?", "deluxe", ("double",)),
    Case("Сколько за ночь для семьи из четырёх?", "family"),
    Case("Нужна ли предоплата?", "prepay"),
    Case("Можно отменить бронь за день до заезда?", "cancel"),
    Case("Можно с кошкой?", "pets"),
    Case("Можно курить в номере?", "smoking"),
    Case("Ребёнку 5 лет, за него платить?", "kids"),
    Case("Завтрак включён?", "breakfast"),
    Case("Где оставить чемодан после выезда?", "luggage"),
    Case("Где поставить машину?", "qa_parking"),
    Case("Дадите полотенце?", "qa_towels"),
    Case("Есть ли у вас сауна?", None),
    Case("Делаете трансфер из аэропорта?", None),
    Case("Есть ли номер для некурящих с балконом?", None),
    Case("Какой пароль от вайфая?", None),
])

COWORKING = Business(name="coworking (en)", files=[
    SourceFile("plans.md", "Dockside Coworking", sections=[
        Section("Plans", [
            Fact("day_pass", "A day pass costs 15 GBP and is our cheapest option; it includes coffee and tea."),
            Fact("flex", "The flex membership is 140 GBP a month for any desk, weekdays only."),
            Fact("fixed", "A fixed desk with a lockable drawer is 220 GBP a month, with 24/7 access."),
            Fact("meeting", "Meeting rooms cost 20 GBP per hour; members get 4 free hours a month."),
        ]),
        Section("Access and hours", [
            Fact("hours", "Staffed hours are 8 am to 6 pm on weekdays; the building closes at 10 pm for day passes."),
            Fact("keycard", "Members get a key card against a refundable 25 GBP deposit."),
        ]),
        Section("Billing", [
            Fact("invoice", "We send VAT invoices on the first of each month; payment is by card or bank transfer."),
            Fact("discount", "Paying 12 months upfront gives 10% off any membership."),
            Fact("notice", "Memberships can be cancelled with 30 days' notice."),
        ]),
        Section("Facilities", [
            Fact("printing", "Printing is 10p per page in black and white and 30p in colour."),
            Fact("phone", "Two phone booths can be used free of charge for up to 30 minutes."),
        ]),
    ]),
], questions=[])

COWORKING_SET = AnswerSet(COWORKING, "en", qa_pairs=[
    ("qa_dogs", "Can I bring my dog?", "Yes, well-behaved dogs are welcome on Fridays."),
    ("qa_mail", "Can I use the address for my company?", "Yes, a business address is included with the fixed desk."),
], cases=[
    Case("What's the cheapest way to work there?", "day_pass"),
    Case("How much is a fixed desk?", "fixed", ("flex",)),
    Case("Can I get in at night?", "fixed"),
    Case("What time do you close?", "hours"),
    Case("Is there a deposit for the key card?", "keycard"),
    Case("How much do meeting rooms cost?", "meeting"),
    Case("Do I get a VAT invoice?", "invoice"),
    Case("Is there a discount if I pay for the whole year?", "discount"),
    Case("How do I cancel my membership?", "notice"),
    Case("How much is colour printing?", "printing"),
    Case("Is there somewhere to take calls?", "phone"),
    Case("Can I come with my dog?", "qa_dogs"),
    Case("Can I register my company at your address?", "qa_mail"),
    Case("Do you have showers?", None),
    Case("Is there parking for bikes?", None),
    Case("Do you offer private offices?", None),
    Case("Can I host an event for 50 people?", None),
    Case("Is the flex membership valid at weekends?", "flex"),
])

NEW_SETS = [COFFEE_SHOP_SET, BIKES_SET, FLOWERS_SET, HOSTEL_SET, COWORKING_SET]
# The businesses of russian_businesses.py: every question has its answer in the files.
RETRIEVAL_SETS = [AnswerSet(b, "ru", [Case(q, key) for q, key in b.questions]) for b in BUSINESSES]
ALL_SETS = RETRIEVAL_SETS + NEW_SETS


def half_of(position: int) -> str:
    """tune = even positions of a business's cases, held-out = odd positions."""
    return "tune" if position % 2 == 0 else "held-out"
