"""Parent orders (execution algorithms): iceberg, TWAP and participation.

A parent order is broker-side state that places ordinary child orders over time. One
implementation (`AlgoBook`) drives every mode: the engine hands it each closed bar, it places
children through the run's risk policy and broker, and it reads their fills from their handles.
"""

from quantkit.algos.book import AlgoBook as AlgoBook
from quantkit.algos.parent import ParentOrder as ParentOrder
from quantkit.algos.parent import ParentStatus as ParentStatus
from quantkit.algos.specs import IcebergSpec as IcebergSpec
from quantkit.algos.specs import ParticipationSpec as ParticipationSpec
from quantkit.algos.specs import TwapSpec as TwapSpec

__all__ = [
    "AlgoBook",
    "IcebergSpec",
    "ParentOrder",
    "ParentStatus",
    "ParticipationSpec",
    "TwapSpec",
]
