"""Language codes lightning-v3.1 accepts, and the probe sentence spoken in each.

Owns the allow-list of docs/api-contract.md, §languages (the 12 trained languages plus the 8 routed
through English/Hindi voices) and one short, neutral sentence per language, so a
probe speaks to a clone in the clone's own language.
"""

from __future__ import annotations

V31_LANGUAGES: tuple[str, ...] = (
    "en", "hi", "ta", "es", "kn", "mr", "te", "or", "pa", "ml", "gu", "bn",
    "fr", "de", "it", "nl", "sv", "pt", "pl", "ru",
)  # fmt: skip

PROBE_TEXTS: dict[str, str] = {
    "en": "Hello, this is a short check of this voice.",
    "hi": "नमस्ते, यह इस आवाज़ की एक छोटी जाँच है।",
    "ta": "வணக்கம், இது இந்தக் குரலின் ஒரு சிறிய சோதனை.",
    "es": "Hola, esta es una breve prueba de esta voz.",
    "kn": "ನಮಸ್ಕಾರ, ಇದು ಈ ಧ್ವನಿಯ ಒಂದು ಸಣ್ಣ ಪರೀಕ್ಷೆ.",
    "mr": "नमस्कार, ही या आवाजाची एक छोटी चाचणी आहे.",
    "te": "నమస్కారం, ఇది ఈ స్వరానికి ఒక చిన్న పరీక్ష.",
    "or": "ନମସ୍କାର, ଏହା ଏହି ସ୍ୱରର ଏକ ଛୋଟ ପରୀକ୍ଷା।",
    "pa": "ਸਤ ਸ੍ਰੀ ਅਕਾਲ, ਇਹ ਇਸ ਆਵਾਜ਼ ਦੀ ਇੱਕ ਛੋਟੀ ਜਾਂਚ ਹੈ।",
    "ml": "നമസ്കാരം, ഇത് ഈ ശബ്ദത്തിന്റെ ഒരു ചെറിയ പരിശോധനയാണ്.",
    "gu": "નમસ્તે, આ આ અવાજની એક નાની તપાસ છે.",
    "bn": "নমস্কার, এটি এই কণ্ঠের একটি ছোট পরীক্ষা।",
    "fr": "Bonjour, ceci est un court essai de cette voix.",
    "de": "Hallo, dies ist ein kurzer Test dieser Stimme.",
    "it": "Ciao, questa è una breve prova di questa voce.",
    "nl": "Hallo, dit is een korte test van deze stem.",
    "sv": "Hej, det här är ett kort test av den här rösten.",
    "pt": "Olá, este é um breve teste desta voz.",
    "pl": "Cześć, to jest krótki test tego głosu.",
    "ru": "Здравствуйте, это короткая проверка этого голоса.",
}

assert set(PROBE_TEXTS) == set(V31_LANGUAGES)
