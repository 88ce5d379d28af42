"""The Flafka post's credit-card fraud demo, rebuilt on flafka (``reference/flafka-example.md``).

Transactions arrive on Kafka topic ``flume.txn``; the ``enrich`` agent's
:class:`~flafka.examples.fraud.interceptor.FraudEventInterceptor` looks up the customer and the store in
HBase (batched, cached), scores how fast the card holder would have travelled since their previous
transaction, updates the customer (idempotently) and sends the 16-field decision to ``flume.auths``; the
``ingest`` agent lands the raw transactions in HDFS. ``python -m flafka.examples.fraud`` (``make demo``) runs
it all; ``conf/fraud/`` holds the agents' configurations.
"""
