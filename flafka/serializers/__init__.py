"""Event serializers: how file_roll and HDFS sinks turn events into bytes."""
