"""The local Binance USD-M futures exchange: public data and the private trading side.

The private side (`FuturesAccounts`, its REST endpoints and user-data stream) models Binance
USD-M's documented account rules on its own, so that it can check quantkit's perpetual rules.
"""
