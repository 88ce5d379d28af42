// Hadoop's own writers and readers, driven by tests/integration/test_hadoop_formats.py to check what
// flafka.hadoop writes. Run in Java's source-file mode (`java HadoopFormats.java ...`) with Hadoop's jars
// (hadoop-common, hadoop-mapreduce-client-core) on the class path.
//
//   write RECORDS BATCHES (seq OUT TYPE CODEC VALUE | stream OUT CODEC)...
//       Write files as Flume 1.11 does: per batch, append every record, then SequenceFile.Writer.sync()
//       (HDFSSequenceFile) or CompressionOutputStream.finish() (HDFSCompressedDataStream, text
//       serializer: body + "\n"). RECORDS: records as 8-byte key, 4-byte length, body (big-endian);
//       BATCHES: comma-separated batch sizes. TYPE NONE|RECORD|BLOCK, CODEC a codec class or "-",
//       VALUE Writable|Text.
//   read-splits MAX_SPLIT_BYTES (seq IN OUT | text IN OUT)...
//       Read IN as a MapReduce job would (SequenceFileInputFormat or TextInputFormat, splits of at most
//       MAX_SPLIT_BYTES); write to OUT one line per record: key TAB value for SequenceFiles, the line
//       for text; a Text's bytes as they are, any other value as its toString().

import java.io.BufferedOutputStream;
import java.io.DataInputStream;
import java.io.FileInputStream;
import java.io.FileOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FSDataOutputStream;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;
import org.apache.hadoop.io.BytesWritable;
import org.apache.hadoop.io.LongWritable;
import org.apache.hadoop.io.SequenceFile;
import org.apache.hadoop.io.Text;
import org.apache.hadoop.io.Writable;
import org.apache.hadoop.io.compress.CodecPool;
import org.apache.hadoop.io.compress.CompressionCodec;
import org.apache.hadoop.io.compress.CompressionOutputStream;
import org.apache.hadoop.io.compress.Compressor;
import org.apache.hadoop.mapreduce.InputSplit;
import org.apache.hadoop.mapreduce.JobID;
import org.apache.hadoop.mapreduce.RecordReader;
import org.apache.hadoop.mapreduce.TaskAttemptContext;
import org.apache.hadoop.mapreduce.TaskAttemptID;
import org.apache.hadoop.mapreduce.lib.input.FileInputFormat;
import org.apache.hadoop.mapreduce.lib.input.SequenceFileInputFormat;
import org.apache.hadoop.mapreduce.lib.input.TextInputFormat;
import org.apache.hadoop.mapreduce.task.JobContextImpl;
import org.apache.hadoop.mapreduce.task.TaskAttemptContextImpl;
import org.apache.hadoop.util.ReflectionUtils;

public class HadoopFormats {
  public static void main(String[] args) throws Exception {
    Configuration conf = new Configuration();
    if (args[0].equals("write")) {
      write(conf, args);
    } else if (args[0].equals("read-splits")) {
      readSplits(conf, args);
    } else {
      throw new IllegalArgumentException("unknown command " + args[0]);
    }
  }

  static void write(Configuration conf, String[] args) throws Exception {
    List<Long> keys = new ArrayList<>();
    List<byte[]> bodies = new ArrayList<>();
    try (DataInputStream in = new DataInputStream(new FileInputStream(args[1]))) {
      while (in.available() > 0) {
        keys.add(in.readLong());
        byte[] body = new byte[in.readInt()];
        in.readFully(body);
        bodies.add(body);
      }
    }
    List<Integer> batches = new ArrayList<>();
    for (String size : args[2].split(",")) {
      batches.add(Integer.parseInt(size));
    }
    FileSystem fs = FileSystem.getLocal(conf).getRaw();
    int i = 3;
    while (i < args.length) {
      if (args[i].equals("seq")) {
        writeSequenceFile(conf, fs, new Path(args[i + 1]), SequenceFile.CompressionType.valueOf(args[i + 2]),
            codec(conf, args[i + 3]), args[i + 4].equals("Text"), keys, bodies, batches);
        i += 5;
      } else {
        writeStream(conf, fs, new Path(args[i + 1]), codec(conf, args[i + 2]), bodies, batches);
        i += 3;
      }
    }
  }

  static CompressionCodec codec(Configuration conf, String name) throws ClassNotFoundException {
    return name.equals("-") ? null : (CompressionCodec) ReflectionUtils.newInstance(Class.forName(name), conf);
  }

  static void writeSequenceFile(Configuration conf, FileSystem fs, Path path, SequenceFile.CompressionType type,
      CompressionCodec codec, boolean text, List<Long> keys, List<byte[]> bodies, List<Integer> batches)
      throws IOException {
    try (FSDataOutputStream out = fs.create(path)) {
      SequenceFile.Writer writer = SequenceFile.createWriter(conf, SequenceFile.Writer.stream(out),
          SequenceFile.Writer.keyClass(LongWritable.class),
          SequenceFile.Writer.valueClass(text ? Text.class : BytesWritable.class),
          SequenceFile.Writer.compression(type, codec));
      int record = 0;
      for (int size : batches) {
        for (int end = record + size; record < end; record++) {
          Writable value = text ? new Text(bodies.get(record)) : new BytesWritable(bodies.get(record));
          writer.append(new LongWritable(keys.get(record)), value);
        }
        writer.sync();
      }
      writer.close();
    }
  }

  static void writeStream(Configuration conf, FileSystem fs, Path path, CompressionCodec codec,
      List<byte[]> bodies, List<Integer> batches) throws IOException {
    try (FSDataOutputStream file = fs.create(path)) {
      Compressor compressor = CodecPool.getCompressor(codec, conf);
      CompressionOutputStream out = codec.createOutputStream(file, compressor);
      int record = 0;
      for (int size : batches) {
        if (record > 0) {
          out.resetState();
        }
        for (int end = record + size; record < end; record++) {
          out.write(bodies.get(record));
          out.write('\n');
        }
        out.finish();
      }
      CodecPool.returnCompressor(compressor);
    }
  }

  static void readSplits(Configuration conf, String[] args) throws Exception {
    conf.setLong("mapreduce.input.fileinputformat.split.maxsize", Long.parseLong(args[1]));
    for (int i = 2; i < args.length; i += 3) {
      boolean seq = args[i].equals("seq");
      conf.set("mapreduce.input.fileinputformat.inputdir", args[i + 1]);
      FileInputFormat<?, ?> format = seq ? new SequenceFileInputFormat<Object, Object>() : new TextInputFormat();
      List<InputSplit> splits = format.getSplits(new JobContextImpl(conf, new JobID()));
      try (OutputStream out = new BufferedOutputStream(new FileOutputStream(args[i + 2]))) {
        for (InputSplit split : splits) {
          TaskAttemptContext context = new TaskAttemptContextImpl(conf, new TaskAttemptID());
          try (RecordReader<?, ?> reader = format.createRecordReader(split, context)) {
            reader.initialize(split, context);
            while (reader.nextKeyValue()) {
              if (seq) {
                print(out, reader.getCurrentKey());
                out.write('\t');
              }
              print(out, reader.getCurrentValue());
              out.write('\n');
            }
          }
        }
      }
      System.err.println(args[i + 1] + ": " + splits.size() + " splits");
    }
  }

  static void print(OutputStream out, Object value) throws IOException {
    if (value instanceof Text) {
      Text text = (Text) value;
      out.write(text.getBytes(), 0, text.getLength());
    } else {
      out.write(value.toString().getBytes(StandardCharsets.UTF_8));
    }
  }
}
