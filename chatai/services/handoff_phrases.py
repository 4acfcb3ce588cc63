"""Is this message a request for a person? The rules behind `handoff.is_handoff_request`.

Not a keyword match: "помогите выбрать кофе" or "can a person pick it up at the store?" contain such words
and ask nothing of the kind. Words are normalized (lower case, ё -> е) and tagged by concept, Russian
nouns and adjectives by stem (any case ending), verbs by their request forms only (imperative, infinitive,
"хочу": "поговорил" or "talked" tell a story, they ask for nothing). A sentence is a request when:
  A. a request verb is followed by a person, with only small words between ("позовите оператора",
     "talk to a human", "connect me with a live agent"; "transfer my order to a person" is not);
  A'. the same in reverse order, as Russian allows ("оператора позовите", "с человеком можно поговорить?");
  B. want/need is followed by a person and nothing that changes the subject ("мне нужен оператор",
     "I need a real person to help me"; "I need a person to sign for the parcel" is not);
  C. the whole sentence is a person with small words ("живой человек", "agent please", "оператора!");
  D. the user refuses the bot ("не хочу общаться с ботом", "I don't want to talk to a bot").
A negated verb ("не зовите человека", "I don't need an operator") cancels A and B.
"""

from __future__ import annotations

import re

_P, _PW, _ADJ, _C, _CS, _W, _NEG, _BOT, _F, _TAIL = (
    "person", "weak_person", "adjective", "request", "request_strong_only", "want", "negation", "bot", "filler",
    "tail")

_RU_PERSON_STEMS = ("человек", "оператор", "менеджер", "консультант", "специалист", "сотрудник",
                    "администратор", "админ")
_RU_WEAK_STEMS = ("поддержк", "техподдержк", "служб", "саппорт")
_RU_STEM_ENDING = 3  # "человек" + "ом"; "оператор" + "ами"; not "сотрудничество" or "человеческий"
_WORDS: dict[str, set[str]] = {}


def _add(tag: str, words: str) -> None:
    for word in words.split():
        _WORDS.setdefault(word, set()).add(tag)


_add(_P, "human humans person persons people operator operators agent agents representative representatives "
         "rep manager managers specialist specialists consultant consultants staff employee employees "
         "люди людей людьми людям")
_add(_PW, "someone somebody anyone anybody support service team кто-нибудь кого-нибудь кому-нибудь кто-то "
          "кого-то кому-то")
_add(_ADJ, "real live actual living human живой живого живому живым живая живую живые живых настоящий "
           "настоящего настоящему настоящим настоящая настоящую реальный реального реальному реальным "
           "реальная реальную нормальный нормального нормальным")
# Request verbs. call_strong_only: these also mean "contact support by email or phone", so they count only
# with a real person, never with "support" or "someone".
_add(_C, "talk speak chat connect transfer escalate put give "
         "позови позовите позвать зови зовите вызови вызовите вызвать пригласи пригласите пригласить "
         "соедини соедините соединить соединиться подключи подключите подключить переключи переключите "
         "переключить переведи переведите перевести свяжи свяжите связать связаться поговорить поговорю "
         "говорить пообщаться общаться побеседовать дай дайте давай давайте ответь ответьте")
_add(_CS, "get contact reach call")
_add(_W, "want wanna need like prefer request requesting "
         "хочу хотим хотел хотела хотелось нужен нужна нужно нужны надо требуется можно прошу жду")
_add(_NEG, "not don't dont won't doesn't no never не нет ни без")
_add(_BOT, "bot bots robot robots machine ai chatbot бот бота боту ботом роботом робот робота машиной "
           "нейросетью нейросеть ии чат-бот чат-ботом")
_add(_F, "please pls plz kindly a an the some to with me i i'd i'm id im you your our us on onto through "
         "now asap immediately urgently right away just customer here can could would may let hi hello "
         "hey ok okay do is there and or "
         "пожалуйста плиз срочно сейчас немедленно мне меня мной нам нас с со к на ко ну эй алло "
         "здравствуйте привет добрый день уже можете бы я мы вы ваш вашего вашим вашему "
         "какого-нибудь какой-нибудь хоть а и или")
# What may follow the person in pattern B without changing the subject ("who can help me", "to talk").
_add(_TAIL, "who that which will help helps answer explain sort out it this for "
            "который которая кто может сможет поможет помочь ответит ответить разобраться объяснит")

_TOKEN = re.compile(r"[a-zа-я0-9]+(?:[-'][a-zа-я0-9]+)*")
_SENTENCE = re.compile(r"[.!?;\n]+")
_CYRILLIC = re.compile(r"[а-я]")
_GAP = 4  # small words allowed between a verb and its person


def _tags(word: str) -> set[str]:
    tags = set(_WORDS.get(word, ()))
    if any(word.startswith(s) and len(word) - len(s) <= _RU_STEM_ENDING for s in _RU_PERSON_STEMS):
        tags.add(_P)
    if any(word.startswith(s) and len(word) - len(s) <= _RU_STEM_ENDING for s in _RU_WEAK_STEMS):
        tags.add(_PW)
    return tags


def _strong_people(words: list[str], tags: list[set[str]]) -> list[bool]:
    """A person; or someone/support made one by a word beside it: "someone real", "кого-нибудь живого",
    "a real one", "customer service"."""
    strong = []
    for i, (word, t) in enumerate(zip(words, tags, strict=True)):
        near = [tags[j] for j in (i - 1, i + 1) if 0 <= j < len(tags)]
        weak = _PW in t or word == "one"
        strong.append(_P in t or (weak and any(_ADJ in n for n in near))
                      or (_PW in t and i > 0 and words[i - 1] == "customer"))
    return strong


def _negated(tags: list[set[str]], i: int) -> bool:
    """A negation before position i, reached over want/request verbs and small words only: "I don't want to
    talk", "не надо звать"; not "бот не помогает нужен человек" (another verb stands between)."""
    for j in range(i - 1, -1, -1):
        if _NEG in tags[j]:
            return True
        if not tags[j] & {_W, _C, _CS, _F}:
            return False
    return False


def _scan(tags: list[set[str]], start: int, allowed: set[str]) -> list[int]:
    """Positions from `start` on while words carry one of the `allowed` tags (at most _GAP of them), plus
    the first word outside them, so the caller sees what stopped the scan."""
    seen = []
    for j in range(start, min(len(tags), start + _GAP + 1)):
        seen.append(j)
        if not tags[j] & allowed:
            break
    return seen


def _clause_asks_for_person(words: list[str]) -> bool:
    tags = [_tags(w) for w in words]
    strong = _strong_people(words, tags)
    for i, t in enumerate(tags):
        if t & {_C, _CS}:  # A, and D: a request verb, then its person (or the bot it refuses)
            negated = _negated(tags, i)
            for j in _scan(tags, i + 1, {_F, _ADJ, _W, _C, _CS, _PW}):
                if negated and _BOT in tags[j]:
                    return True
                if not negated and (strong[j] or (_PW in tags[j] and _C in t)):
                    return True
        if strong[i]:  # A': the person first, then the request verb (Russian word order, "a human I can talk to")
            gap = _scan(tags, i + 1, {_F, _ADJ, _W, _PW})
            verb = gap[-1] if gap else None
            if (verb is not None and tags[verb] & {_C, _CS} and not _negated(tags, verb)
                    and (_CYRILLIC.search(words[verb]) or "i" in words[i + 1:verb])):
                return True
        if _W in t:
            if not _negated(tags, i):  # B: want/need a person, and nothing that changes the subject
                for j in _scan(tags, i + 1, {_F, _ADJ}):
                    if strong[j]:
                        tail = {_F, _ADJ, _C, _CS, _TAIL, _P, _PW, _NEG, _BOT}
                        if all(x & tail for x in tags[j + 1:]):
                            return True
                        break
            elif any(_BOT in x for x in tags[i + 1:i + 4]):
                return True  # D: "не хочу бота"
    # C: nothing but a person and small words ("живой человек", "agent please", "оператора!").
    return any(strong) and all(t & {_F, _ADJ, _P, _PW} for t in tags)


def normalize_words(text: str) -> list[list[str]]:
    """Sentences of lower-cased words (ё -> е, typographic apostrophes straightened)."""
    text = text.lower().replace("ё", "е").replace("’", "'").replace("`", "'")
    return [words for part in _SENTENCE.split(text) if (words := _TOKEN.findall(part))]


def is_handoff_request(text: str) -> bool:
    """Does the end user ask to talk to a person (Russian or English)?"""
    if not text or len(text) > 1000:  # a long message is a question that happens to mention people
        return False
    return any(_clause_asks_for_person(words) for words in normalize_words(text))
