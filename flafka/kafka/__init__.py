"""What the Kafka source, sink and channel share: client properties, the AvroFlumeEvent codec,
broker discovery and offset migration through ZooKeeper."""
