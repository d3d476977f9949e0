"""Orders after they landed: lookups, the status machine and its history.

`pipelines.orders.status.change_status` is the one way any door changes an order's status.
(Nothing is imported here, so `pipelines.callbacks` can use the order errors without a cycle.)
"""
