"""Kenyan shillings as integer cents, so that sums are exact."""

from decimal import Decimal, InvalidOperation

__all__ = ["format_kes", "kes_to_cents"]


def kes_to_cents(amount: str | int | Decimal) -> int:
    """'20' -> 2000, '20.5' -> 2050; ValueError for anything that is not whole cents."""
    try:
        value = Decimal(str(amount).strip())
    except InvalidOperation:
        raise ValueError(f"not an amount of shillings: {amount!r}") from None
    if not value.is_finite():
        raise ValueError(f"not an amount of shillings: {amount!r}")
    cents = value * 100
    if cents != cents.to_integral_value():
        raise ValueError(f"KES amounts have at most two decimals, got {amount!r}")
    return int(cents)


def format_kes(cents: int) -> str:
    """2050 -> '20.50'."""
    sign = "-" if cents < 0 else ""
    whole, part = divmod(abs(cents), 100)
    return f"{sign}{whole}.{part:02d}"
