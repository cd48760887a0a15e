"""Valid secrets made to order, with the standard library only: the fuzz suite, the privacy
properties and the redaction benchmark (which runs without pytest or hypothesis) plant them."""

from __future__ import annotations


def luhn_complete(body: str) -> str:
    """`body` and the check digit that makes it pass the Luhn check (a valid card number)."""
    total = 0
    for i, ch in enumerate(reversed(body)):
        d = int(ch) * (2 if i % 2 == 0 else 1)
        total += d - 9 if d > 9 else d
    return body + str(-total % 10)


def iban_for(country: str, bban: str) -> str:
    """The IBAN of a country and a basic bank account number, with its mod-97 check digits."""
    number = int("".join(str(int(c, 36)) for c in bban + country + "00"))
    return f"{country}{98 - number % 97:02d}{bban}"
