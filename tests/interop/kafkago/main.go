// Command kafkago reads and writes records with segmentio/kafka-go, the Go client, for the
// interop tests (tests/interop). Keys, values and header values travel as base64, so what
// the tests compare is the exact bytes the client handed over.
//
//	kafkago read -brokers HOST:PORT -topic T [-topic T2 ...]
//	    every record of every partition of each topic, from its first offset to the end it
//	    had when the read started, as JSON lines {topic, partition, offset, key, value,
//	    headers: [[name, value], ...]}; the first error the reader reports ends the run
//	    (exit 1) instead of the retries a kafka.Reader would make forever.
//	kafkago write -brokers HOST:PORT -topic T -compression zstd < records.jsonl
//	    each JSON line {key, value, headers} as one record, all in one WriteMessages call,
//	    acks=all, keys partitioned with murmur2 as Kafka's Java client partitions them.
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/segmentio/kafka-go/compress"
)

type record struct {
	Topic     string      `json:"topic,omitempty"`
	Partition int         `json:"partition"`
	Offset    int64       `json:"offset"`
	Key       []byte      `json:"key"`
	Value     []byte      `json:"value"`
	Headers   [][2][]byte `json:"headers"`
}

type topics []string

func (t *topics) String() string     { return strings.Join(*t, ",") }
func (t *topics) Set(v string) error { *t = append(*t, v); return nil }

func main() {
	if len(os.Args) < 2 {
		fail(errors.New("usage: kafkago read|write -brokers HOST:PORT -topic T"))
	}
	flags := flag.NewFlagSet(os.Args[1], flag.ExitOnError)
	brokers := flags.String("brokers", "127.0.0.1:9092", "bootstrap servers, comma separated")
	codec := flags.String("compression", "none", "none, gzip, snappy, lz4 or zstd (write)")
	timeout := flags.Duration("timeout", 30*time.Second, "the whole run")
	var names topics
	flags.Var(&names, "topic", "a topic (repeat to read several)")
	_ = flags.Parse(os.Args[2:])
	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()
	var err error
	switch os.Args[1] {
	case "read":
		err = read(ctx, strings.Split(*brokers, ","), names)
	case "write":
		err = write(ctx, strings.Split(*brokers, ","), names, *codec)
	default:
		err = fmt.Errorf("unknown command %q", os.Args[1])
	}
	if err != nil {
		fail(err)
	}
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "kafkago:", err)
	os.Exit(1)
}

func read(ctx context.Context, brokers []string, names []string) error {
	out := json.NewEncoder(os.Stdout)
	for _, topic := range names {
		partitions, err := partitionsOf(ctx, brokers[0], topic)
		if err != nil {
			return err
		}
		for _, partition := range partitions {
			if err := readPartition(ctx, brokers, topic, partition, out); err != nil {
				return fmt.Errorf("%s partition %d: %w", topic, partition, err)
			}
		}
	}
	return nil
}

func partitionsOf(ctx context.Context, broker, topic string) ([]int, error) {
	conn, err := kafka.DialContext(ctx, "tcp", broker)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	found, err := conn.ReadPartitions(topic)
	if err != nil {
		return nil, err
	}
	ids := make([]int, 0, len(found))
	for _, p := range found {
		ids = append(ids, p.ID)
	}
	return ids, nil
}

func readPartition(ctx context.Context, brokers []string, topic string, partition int,
	out *json.Encoder) error {
	leader, err := kafka.DialLeader(ctx, "tcp", brokers[0], topic, partition)
	if err != nil {
		return err
	}
	first, last, err := leader.ReadOffsets()
	leader.Close()
	if err != nil || first >= last {
		return err
	}
	ctx, stop := context.WithCancelCause(ctx)
	defer stop(nil)
	reader := kafka.NewReader(kafka.ReaderConfig{
		Brokers: brokers, Topic: topic, Partition: partition, MinBytes: 1, MaxBytes: 10 << 20,
		MaxWait: 100 * time.Millisecond, IsolationLevel: kafka.ReadCommitted,
		// A batch it cannot decode is reported only when this expires (10 s by default).
		ReadBatchTimeout: 3 * time.Second,
		// kafka.Reader logs what stops it and tries again, forever: the first one ends the run.
		ErrorLogger: kafka.LoggerFunc(func(format string, args ...interface{}) {
			stop(fmt.Errorf(format, args...))
		}),
	})
	// Closed only after a full read: Close waits for the fetch in flight, and after an
	// error the process exits anyway.
	if err := reader.SetOffset(first); err != nil {
		return err
	}
	for offset := first; offset < last; {
		message, err := reader.ReadMessage(ctx)
		if err != nil {
			if cause := context.Cause(ctx); cause != nil {
				return cause
			}
			return err
		}
		headers := make([][2][]byte, 0, len(message.Headers))
		for _, h := range message.Headers {
			headers = append(headers, [2][]byte{[]byte(h.Key), h.Value})
		}
		if err := out.Encode(record{Topic: topic, Partition: partition, Offset: message.Offset,
			Key: message.Key, Value: message.Value, Headers: headers}); err != nil {
			return err
		}
		offset = message.Offset + 1
	}
	return reader.Close()
}

var codecs = map[string]compress.Compression{
	"none": 0, "gzip": kafka.Gzip, "snappy": kafka.Snappy, "lz4": kafka.Lz4, "zstd": kafka.Zstd,
}

func write(ctx context.Context, brokers []string, names []string, codec string) error {
	compression, known := codecs[codec]
	if !known || len(names) != 1 {
		return fmt.Errorf("write needs one -topic and a known -compression, not %q", codec)
	}
	var messages []kafka.Message
	lines := bufio.NewScanner(os.Stdin)
	lines.Buffer(make([]byte, 1<<20), 16<<20)
	for lines.Scan() {
		var r record
		if err := json.Unmarshal(lines.Bytes(), &r); err != nil {
			return err
		}
		message := kafka.Message{Key: r.Key, Value: r.Value}
		for _, h := range r.Headers {
			message.Headers = append(message.Headers, kafka.Header{Key: string(h[0]), Value: h[1]})
		}
		messages = append(messages, message)
	}
	if err := lines.Err(); err != nil {
		return err
	}
	writer := &kafka.Writer{
		Addr: kafka.TCP(brokers...), Topic: names[0], Balancer: &kafka.Murmur2Balancer{},
		RequiredAcks: kafka.RequireAll, Compression: compression,
		BatchSize: len(messages) + 1, BatchTimeout: 10 * time.Millisecond,
	}
	defer writer.Close()
	return writer.WriteMessages(ctx, messages...)
}
