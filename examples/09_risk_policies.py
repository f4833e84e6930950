"""Put a risk chain between the strategy and the broker: a sizer, limits and breakers.

Usage: python examples/09_risk_policies.py [REPORT.html]   (default: reports/risk_policies.html)

The strategy is example 08's momentum rotation, unchanged: it still decides *what* to hold.
The risk chain decides *how much* and *whether at all*. Every order the strategy places goes
through the chain's policies in order before it reaches the broker:

1. ``SaneOrder`` refuses malformed or absurd orders (NaN amounts, dust, fat fingers);
2. ``VolatilityTarget`` (a sizer: put it first among the sizing policies) resizes every
   entry so that the position's expected yearly volatility is 30 % of equity, whatever
   amount the strategy asked for;
3. ``MaxConcentration`` and ``MaxOrderNotional`` cut entries down to account-level limits;
4. ``DailyLossLimit`` and ``MaxDrawdownBreaker`` watch the equity on every bar; when a loss
   limit is crossed they halt new entries (optionally closing every position), and their
   reset rule lets trading resume;
5. ``OrderRateLimit`` (last, so that refused orders do not use up its slots) caps how many
   orders go out per day.

Orders that only reduce a position always pass, so a halted strategy can still get out. Every
decision lands in ``result.risk_events``; the script counts them by policy and action, then
builds the same kind of chain from a YAML text with ``quantkit.risk.config.build_risk``, the
way a configuration file would. The sample bars are SYNTHETIC (a seeded random walk): the
figures say nothing about a real market; the point is the workflow.
"""

import runpy
import sys
from pathlib import Path

import yaml

import quantkit as qk
from quantkit.risk.breakers import DailyLossLimit, MaxDrawdownBreaker
from quantkit.risk.config import build_risk
from quantkit.risk.exposure import MaxConcentration
from quantkit.risk.order_limits import MaxOrderNotional, OrderRateLimit
from quantkit.risk.sizing import VolatilityTarget
from quantkit.risk.validation import SaneOrder

# Example 08's strategy, loaded from its file (a module name cannot start with a digit).
MomentumRotation = runpy.run_path(str(Path(__file__).with_name("08_multi_symbol.py")))[
    "MomentumRotation"
]
SYMBOLS = ["BTC/USDT", "ETH/USDT"]

RISK_YAML = """
policies:
  - type: max_position_size
    max_notional: 40000      # never hold more than 40,000 USDT of one symbol
"""


def build_chain() -> qk.RiskChain:
    """The risk chain in Python: each policy is an object, applied in list order."""
    return qk.RiskChain(
        [
            SaneOrder(max_amount=1_000),
            VolatilityTarget(0.3, annualize=True, window=48, max_fraction=0.95, symbols=SYMBOLS),
            MaxConcentration(max_fraction=0.8),
            MaxOrderNotional(max_notional=40_000),
            DailyLossLimit(0.04, flatten=True),  # -4 % on the day: flat until the next day
            MaxDrawdownBreaker(0.2, flatten=True, cooldown=24 * 14),  # -20 %: two weeks out
            OrderRateLimit(max_orders=6, per_seconds=86_400),
        ]
    )


def run(risk: qk.RiskPolicy | None) -> qk.Result:
    feed = qk.sample_feed(SYMBOLS)
    return qk.Engine(feed=feed, strategy=MomentumRotation(), risk=risk).run()


def main(report_path: str = "reports/risk_policies.html") -> None:
    chain = build_chain()
    result = run(chain)
    print(result)

    print("\nRisk decisions by policy and action:")
    events = result.risk_events
    counts = events.groupby(["policy", "action"]).size().unstack(fill_value=0)
    print(counts.to_string())

    print("\nHalts and resumes:")
    halts = events[events["action"].isin(["halt", "resume"])]
    print(halts[["time", "policy", "action", "reason"]].head(6).to_string(index=False))

    unchecked = run(None)
    print("\nWithout the chain / with it:")
    for stat in ("Total return [%]", "Max drawdown [%]", "Sharpe ratio", "Trades"):
        print(f"  {stat:<18} {unchecked.stats[stat]:>10.2f} / {result.stats[stat]:>10.2f}")

    # The same kind of chain as configuration: a YAML (or JSON) text, validated by pydantic.
    from_yaml = build_risk(yaml.safe_load(RISK_YAML))
    print(f"\nFrom YAML: {from_yaml.policies}")
    capped = run(from_yaml)
    actions = capped.risk_events.groupby(["policy", "action"]).size()
    print(actions.to_string())

    written = result.report(report_path)
    print(f"\nReport written to {written}")


if __name__ == "__main__":
    main(*sys.argv[1:2])
