"""flafka devstack: the real Apache servers (Kafka, ZooKeeper, HDFS, ...) on loopback, for tests and demos.

Run from the repository root::

    python -m devstack up [kafka] [zookeeper] [hdfs]   # fetch jars once, start, wait until they answer
    eval "$(python -m devstack env)"            # FLAFKA_KAFKA_BOOTSTRAP, FLAFKA_HDFS_URL, HADOOP_CONF_DIR, ...
    python -m devstack status
    python -m devstack restart kafka            # same port and data, e.g. for broker-restart tests
    python -m devstack restart namenode         # likewise: namenode, datanode, hdfs (both)
    python -m devstack hadoop fs -text PATH     # Hadoop's own tools against the devstack HDFS
    python -m devstack down

Standard library only: it has to work before the project's own dependencies are installed.
"""
