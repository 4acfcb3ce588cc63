"""The assistant setting "How sure before answering" (rag/confidence.py): careful / balanced / bold."""

EN: dict[str, str] = {
    "certainty_label": "How sure before answering",
    "certainty_careful": "Careful: answer only when the documents clearly say it; more questions go to a person",
    "certainty_balanced": "Balanced (recommended): answer when the documents answer the question, otherwise "
                          "hand over to a person",
    "certainty_bold": "Bold: answer more often; now and then an answer may miss the point",
    "certainty_help": "When the assistant is not sure enough, it says it does not know and passes the conversation "
                      "to a person (when handoff is on). Such replies are never charged.",
    "certainty_name_careful": "Careful",
    "certainty_name_balanced": "Balanced",
    "certainty_name_bold": "Bold",
}

RU: dict[str, str] = {
    "certainty_label": "Насколько уверенно отвечать",
    "certainty_careful": "Осторожно: отвечать, только когда в документах это сказано прямо; больше вопросов "
                         "перейдёт сотруднику",
    "certainty_balanced": "Сбалансированно (рекомендуем): отвечать, когда в документах есть ответ, иначе "
                          "передавать сотруднику",
    "certainty_bold": "Смело: отвечать чаще; иногда ответ может оказаться не по делу",
    "certainty_help": "Если помощник не уверен в ответе, он говорит, что не знает, и передаёт разговор сотруднику "
                      "(когда передача включена). Такие ответы никогда не оплачиваются.",
    "certainty_name_careful": "Осторожно",
    "certainty_name_balanced": "Сбалансированно",
    "certainty_name_bold": "Смело",
}
