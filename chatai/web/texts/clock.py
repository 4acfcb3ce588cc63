"""The business's time zone (settings card) and the browser a session runs in (sessions list)."""

EN = {
    "clock_title": "Time zone",
    "clock_subtitle": "Every time on the dashboard, in exports and in mails is shown on this clock.",
    "clock_field": "Time zone (like Europe/Moscow)",
    "clock_now": "Times are shown in {zone}.",
    "clock_saved": "Time zone saved: times are now shown in {zone}.",
    "err_time_zone": "Choose a time zone from the list, like Europe/Moscow or America/New_York.",
    "device_browser_on_system": "{browser} on {system}",
    "device_unknown": "Unknown browser",
}
RU = {
    "clock_title": "Часовой пояс",
    "clock_subtitle": "Всё время в кабинете, в выгрузках и в письмах показывается по этому поясу.",
    "clock_field": "Часовой пояс (например, Europe/Moscow)",
    "clock_now": "Время показано по поясу {zone}.",
    "clock_saved": "Часовой пояс сохранён: время теперь показано по поясу {zone}.",
    "err_time_zone": "Выберите часовой пояс из списка, например Europe/Moscow или Asia/Yekaterinburg.",
    "device_browser_on_system": "{browser}, {system}",
    "device_unknown": "Неизвестный браузер",
}
