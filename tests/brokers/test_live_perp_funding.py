"""FundingLedger: one payment counts once, whichever road (stream, income history) comes first."""

from __future__ import annotations

from quantkit.brokers.live_perp_funding import MATCH_WINDOW_MS, BookedFunding, FundingLedger

BTC, ETH = "BTC/USDT:USDT", "ETH/USDT:USDT"
T = 1_700_000_000_000


def test_a_push_then_its_income_entry_is_one_payment() -> None:
    ledger = FundingLedger()
    assert ledger.streamed(BTC, -0.41, T) is False  # new: the caller books it
    assert ledger.listed("9001", BTC, -0.41, T + 3) is True  # the same payment: confirmed
    assert ledger.known("9001") and len(ledger.booked) == 1
    assert ledger.booked[0].funding_id == "9001"


def test_an_income_entry_then_its_push_is_one_payment() -> None:
    ledger = FundingLedger()
    assert ledger.listed("9001", BTC, 0.82, T) is False
    assert ledger.streamed(BTC, 0.82, T + MATCH_WINDOW_MS) is True
    assert ledger.streamed(BTC, 0.82, T) is True  # pushed twice: still once
    assert len(ledger.booked) == 1 and ledger.pushes == 2


def test_other_symbols_amounts_and_times_are_other_payments() -> None:
    ledger = FundingLedger()
    ledger.streamed(BTC, -0.41, T)
    assert ledger.listed("1", ETH, -0.41, T) is False  # another symbol
    assert ledger.listed("2", BTC, -0.42, T) is False  # another amount (8 decimals apart)
    assert ledger.listed("3", BTC, -0.41, T + MATCH_WINDOW_MS + 1) is False  # too far apart
    assert ledger.listed("4", BTC, -0.41, T + 5) is True
    assert [e.funding_id for e in ledger.booked] == ["4", "1", "2", "3"]


def test_a_restored_push_is_confirmed_by_the_income_entry_after_a_restart() -> None:
    ledger = FundingLedger()
    ledger.restore(BookedFunding(BTC, -0.4, T, "", streamed=True))
    ledger.restore(BookedFunding(BTC, -0.8, T + 28_800_000, "77"))
    assert ledger.known("77") and ledger.latest_ms == T + 28_800_000
    assert ledger.listed("76", BTC, -0.4, T) is True
    assert ledger.streamed(BTC, -0.8, T + 28_800_000) is True
