"""Paging of the bot lists (the owner's bots page and the admin bots page) for owners with many bots."""

EN = {
    "bots_page_first": "First page",
    "bots_page_prev": "Previous page",
    "bots_page_next": "Next page",
    "bots_page_count": "{n} bots connected",
}

RU = {
    "bots_page_first": "Первая страница",
    "bots_page_prev": "Предыдущая страница",
    "bots_page_next": "Следующая страница",
    "bots_page_count": "Подключено ботов: {n}",
}
