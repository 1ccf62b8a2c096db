"""Messages in the leaders' language: the catalogue, and numbers and dates for the locale.

English is the source language: every message is written in English and marked with `_()`
(or `ngettext`, or `N_` where it is only named, e.g. in a table, and translated when shown), so
`pybabel extract -o coherence.pot bot pulses` finds it. The translations live in
`pulses/locale/<locale>/LC_MESSAGES/coherence.po`, compiled in memory the first time a locale is
asked for, so the repository and the wheel carry the .po only. An unknown locale speaks English.

The domain writes words too (a flag's message and evidence, a rule's "too few answers"), so the
catalogue lives here and the Slack surface (`bot.i18n`) speaks through it. Text made for a group
is made inside `speaking(group.language)`; the helpers below read the language set there, so the
parts a message shares need no locale argument. Outside, it is English.
"""

from __future__ import annotations

import functools
import gettext as gettext_module
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from functools import cache
from io import BytesIO
from pathlib import Path
from typing import Final, Literal
from zoneinfo import ZoneInfo

from babel.dates import format_date, format_datetime, get_day_names
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.numbers import format_decimal, format_percent

DOMAIN: Final = "coherence"
SOURCE_LOCALE: Final = "en"
CATALOGUES: Final = Path(__file__).resolve().parent / "locale"
MISSING: Final = "–"
# The languages a group's messages can be written in, by their own names.
LANGUAGES: Final[dict[str, str]] = {"en": "English", "de": "Deutsch"}

DateStyle = Literal["moment", "day", "weekday", "date", "month"]
# Babel patterns per locale; the English ones write what strftime's "%a %-d %b, %H:%M" and the
# like always wrote, so English messages are unchanged.
_PATTERNS: Final[dict[str, dict[DateStyle, str]]] = {
    "en": {
        "moment": "EEE d MMM, HH:mm",
        "day": "EEE d MMM y",
        "weekday": "EEE d MMM",
        "date": "d MMM",
        "month": "MMM",
    },
    "de": {
        "moment": "EEE, d. MMM, HH:mm",
        "day": "EEE, d. MMM y",
        "weekday": "EEE, d. MMM",
        "date": "d. MMM",
        "month": "MMM",
    },
}


@cache
def _catalogue(locale: str) -> gettext_module.NullTranslations:
    po = CATALOGUES / locale / "LC_MESSAGES" / f"{DOMAIN}.po"
    if locale == SOURCE_LOCALE or not po.is_file():
        return gettext_module.NullTranslations()
    with po.open("rb") as source:
        catalog = read_po(source, locale=locale, domain=DOMAIN)
    compiled = BytesIO()
    write_mo(compiled, catalog)
    compiled.seek(0)
    return gettext_module.GNUTranslations(compiled)


def known_locale(locale: str | None) -> str:
    """The locale if Coherence speaks it, else English."""
    return locale if locale in LANGUAGES else SOURCE_LOCALE


def shared_language(languages: Iterable[str]) -> str:
    """The language every one of these groups speaks, else English: what a view made for
    several groups at once (the App Home, the organisation digest) speaks."""
    distinct = set(languages)
    return known_locale(distinct.pop()) if len(distinct) == 1 else SOURCE_LOCALE


@dataclass(frozen=True)
class Translator:
    """One locale's messages, numbers and dates."""

    locale: str
    gettext: Callable[[str], str]
    ngettext: Callable[[str, str, int], str]

    def number(self, value: float | None, digits: int = 2) -> str:
        """`3.50` / `3,50`: rounded as Python rounds, written with the locale's signs."""
        if value is None:
            return MISSING
        return _decimal(f"{value:.{digits}f}", digits, self.locale)

    def amount(self, value: float) -> str:
        """`1.5` / `1,5`: as many decimals as needed, up to six, as `{:g}` writes them."""
        return format_decimal(value, format="0.######", locale=self.locale)

    def percent(self, share: float | None) -> str:
        """`46%` / `46 %` of a share 0–1, in whole percent."""
        if share is None:
            return MISSING
        return _percent(f"{share * 100:.0f}", self.locale)

    def moment(self, moment: datetime, timezone: str) -> str:
        """`Wed 27 Nov, 09:00 CET` / `Mi., 27. Nov., 09:00 MEZ` in the given zone."""
        local = moment.astimezone(ZoneInfo(timezone))
        text = format_datetime(local, _PATTERNS[self.locale]["moment"], locale=self.locale)
        return f"{text} {self._zone_name(local)}"

    def day(self, day: date, style: DateStyle = "day") -> str:
        """A calendar day: `Wed 27 Nov 2026` (day), `27 Nov` (date), `Nov` (month)."""
        return format_date(day, _PATTERNS[self.locale][style], locale=self.locale)

    def weekday(self, index: int) -> str:
        """A weekday's short name, Monday being 0: `Mon` / `Mo.`."""
        return str(get_day_names("abbreviated", locale=self.locale)[index])

    def _zone_name(self, local: datetime) -> str:
        name = local.tzname() or ""
        if self.locale == SOURCE_LOCALE:
            return name
        # Babel names the zones the locale has words for (MEZ); others it gives as an offset,
        # where the zone's own abbreviation (JST) reads better.
        localised = format_datetime(local, "z", locale=self.locale)
        return localised if localised.isalpha() else name


@cache
def translator(locale: str | None) -> Translator:
    """The gettext functions and formats of a locale; English for one Coherence lacks."""
    chosen = known_locale(locale)
    catalogue = _catalogue(chosen)
    return Translator(locale=chosen, gettext=catalogue.gettext, ngettext=catalogue.ngettext)


_spoken: ContextVar[str] = ContextVar("coherence_language", default=SOURCE_LOCALE)


@contextmanager
def speaking(locale: str | None) -> Iterator[Translator]:
    """Render the views called inside in this locale's language."""
    token = _spoken.set(known_locale(locale))
    try:
        yield current()
    finally:
        _spoken.reset(token)


def current() -> Translator:
    """The language being spoken (English outside `speaking`)."""
    return translator(_spoken.get())


def _(message: str) -> str:
    """The message in the language being spoken."""
    return current().gettext(message)


def ngettext(singular: str, plural: str, n: int) -> str:
    return current().ngettext(singular, plural, n)


# Babel's formatting takes tens of microseconds a number, and a digest writes dozens of them,
# most of them the same few rounded values: each is formatted once per locale.
@functools.lru_cache(maxsize=4096)
def _decimal(rounded: str, digits: int, locale: str) -> str:
    pattern = "0." + "0" * digits if digits else "0"
    return str(format_decimal(Decimal(rounded), format=pattern, locale=locale))


@functools.lru_cache(maxsize=512)
def _percent(whole: str, locale: str) -> str:
    return str(format_percent(Decimal(whole) / 100, locale=locale))


def N_(message: str) -> str:  # noqa: N802 - gettext's name for "marked, translated later"
    return message


def number(value: float | None, digits: int = 2) -> str:
    return current().number(value, digits)


def amount(value: float) -> str:
    return current().amount(value)


def percent(share: float | None) -> str:
    return current().percent(share)


def moment(when: datetime, timezone: str) -> str:
    return current().moment(when, timezone)


def day(when: date, style: DateStyle = "day") -> str:
    return current().day(when, style)


def weekday(index: int) -> str:
    return current().weekday(index)
