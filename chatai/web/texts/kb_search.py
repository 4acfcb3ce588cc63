"""Test-search console (knowledge base page): plain words for owners."""

from __future__ import annotations

EN: dict[str, str] = {
    "kb_search_relevance": "Relevance",
    "kb_search_matched_words": "matched words",
    "kb_search_similar_meaning": "similar meaning",
    "kb_search_qa": "Q&A pair",
    "kb_search_below_threshold": "below the relevance threshold: not used in answers",
    "kb_search_details": "Details",
    "kb_search_reembedding": ("Re-indexing for the new language model: {percent}% done. Until it finishes, search "
                              "finds matching words only."),
    "kb_search_hint": "Results are listed in the order the assistant would use them.",
    "kb_search_verdict_answer": ("The assistant would answer this from the first result: sure {sure}%, and your "
                                 "setting “{setting}” answers from {needed}%."),
    "kb_search_verdict_dont_know": ("The assistant would not answer this: sure only {sure}%, and your setting "
                                    "“{setting}” needs {needed}%. It says it does not know and passes the "
                                    "conversation to a person (when handoff is on)."),
    "kb_search_verdict_nothing": ("Nothing in the knowledge base is relevant enough: the assistant says it does not "
                                  "know and passes the conversation to a person (when handoff is on)."),
}

RU: dict[str, str] = {
    "kb_search_relevance": "Релевантность",
    "kb_search_matched_words": "совпали слова",
    "kb_search_similar_meaning": "близкий смысл",
    "kb_search_qa": "Вопрос-ответ",
    "kb_search_below_threshold": "ниже порога релевантности: в ответах не используется",
    "kb_search_details": "Подробности",
    "kb_search_reembedding": ("Переиндексация для новой языковой модели: готово {percent}%. Пока она идёт, поиск "
                              "находит только совпадения слов."),
    "kb_search_hint": "Результаты показаны в том порядке, в котором их использует ассистент.",
    "kb_search_verdict_answer": ("Помощник ответит на это по первому результату: уверенность {sure}%, а настройка "
                                 "«{setting}» отвечает от {needed}%."),
    "kb_search_verdict_dont_know": ("Помощник не станет отвечать: уверенность всего {sure}%, а настройке "
                                    "«{setting}» нужно {needed}%. Он скажет, что не знает, и передаст разговор "
                                    "сотруднику (когда передача включена)."),
    "kb_search_verdict_nothing": ("В базе знаний нет ничего достаточно близкого: помощник скажет, что не знает, и "
                                  "передаст разговор сотруднику (когда передача включена)."),
}
